//! Inputs on which the fuzz target `model_from_bytes` (in `fuzz/`) once failed, replayed
//! through the same harness. Each file in `tests/data/fuzz/` is named after its target and
//! the bug; the first input byte picks the mode exactly as in
//! `fuzz/fuzz_targets/model_from_bytes.rs`.
//!
//! - `model_from_bytes-oom-string-length.bin`: a parameter name claiming a length of about
//!   4 GB made bincode allocate it before reading; the decoder now has a limit on string
//!   bytes.

use keel_layers::{Activation, Dense, Dropout, Flatten};
use keel_trainer::{Sequential, FORMAT_VERSION, MAGIC, WEIGHTS_FORMAT_VERSION, WEIGHTS_MAGIC};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The largest single allocation allowed while loading a regression input.
const MAX_ALLOCATION: usize = 64 << 20;

/// Records the largest allocation requested since the last reset.
struct PeakAllocator;

static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards its arguments unchanged to the system allocator, which
// upholds the GlobalAlloc contract; the only addition is an atomic maximum, which neither
// allocates nor panics.
unsafe impl GlobalAlloc for PeakAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        PEAK.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `layout` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        PEAK.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        PEAK.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakAllocator = PeakAllocator;

fn seal(magic: &[u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_vec();
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// The fuzz harness: must return without panicking.
fn replay(input: &[u8]) {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let sealed = mode & 1 == 1;
    if mode & 2 == 0 {
        let bytes = if sealed {
            seal(MAGIC, FORMAT_VERSION, rest)
        } else {
            rest.to_vec()
        };
        if let Ok(model) = Sequential::from_bytes(&bytes) {
            let again = model.to_bytes().expect("a loaded model saves");
            let reloaded = Sequential::from_bytes(&again).expect("a saved model loads");
            assert!(reloaded.to_bytes().expect("saves again") == again);
        }
    } else {
        let bytes = if sealed {
            seal(WEIGHTS_MAGIC, WEIGHTS_FORMAT_VERSION, rest)
        } else {
            rest.to_vec()
        };
        let mut model = Sequential::new([2, 2])
            .add(Flatten::new())
            .add(Dense::new(3).activation(Activation::Relu))
            .add(Dropout::new(0.25))
            .add(Dense::new(2).activation(Activation::Softmax));
        let before = model.weights_to_bytes().expect("fresh weights save");
        if model.load_weights_from_bytes(&bytes).is_err() {
            assert!(model.weights_to_bytes().expect("weights save") == before);
        }
    }
}

#[test]
fn fuzz_crash_inputs_load_as_errors_without_large_allocations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data/fuzz")
        .map(|entry| entry.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty());
    for path in inputs {
        let input = std::fs::read(&path).expect("input");
        PEAK.store(0, Ordering::Relaxed);
        replay(&input);
        let peak = PEAK.load(Ordering::Relaxed);
        assert!(
            peak <= MAX_ALLOCATION,
            "{}: allocated {peak} bytes at once",
            path.display()
        );
    }
}
