//! After the first step, a training step allocates nothing of weight or activation size:
//! a counting global allocator sees the same large allocations whether an epoch runs 4
//! steps or 12. The GEMM library's own packing workspace (allocated inside some of its
//! calls, never a tensor) is counted apart, through `keel_autograd::inside_gemm` (the
//! `alloc-audit` feature).

mod common;
use keel_layers::{Activation, Dense, Dropout, Flatten};
use keel_optim::{Adam, Clipping};
use keel_trainer::{FitOptions, Loss, Metric, Sequential};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The smallest allocation counted: 16 KiB, below the W1 input batch (32 × 784 × 4 bytes),
/// its first kernel and that kernel's gradient, and every W2 activation.
const LARGE: usize = 16 * 1024;

struct CountingAllocator;

// Process-wide, since pieces of a step run on helper threads; the tests take `SERIAL` so they
// never count each other's allocations.
static KEEL_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static GEMM_WORKSPACES: AtomicUsize = AtomicUsize::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

fn count(size: usize) {
    if size >= LARGE {
        // A const-initialised thread-local Cell, set by the thread inside GEMM: reading it
        // does not allocate.
        let counter = if keel_autograd::inside_gemm() {
            &GEMM_WORKSPACES
        } else {
            &KEEL_ALLOCATIONS
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards its arguments unchanged to the system allocator, which
// upholds the GlobalAlloc contract; the only addition is an atomic counter increment,
// which neither allocates nor panics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `layout` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout: every allocation here does.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Keel's large allocations and the GEMM library's workspaces during one epoch.
fn large_allocations_of_one_epoch(
    model: &mut Sequential,
    data: &keel_data::Dataset,
    batch: usize,
) -> (usize, usize) {
    let before = (
        KEEL_ALLOCATIONS.load(Ordering::Relaxed),
        GEMM_WORKSPACES.load(Ordering::Relaxed),
    );
    let options = FitOptions::new()
        .batch_size(batch)
        .shuffle(false)
        .verbose(0);
    model.fit(data, options).expect("fit");
    (
        KEEL_ALLOCATIONS.load(Ordering::Relaxed) - before.0,
        GEMM_WORKSPACES.load(Ordering::Relaxed) - before.1,
    )
}

fn check(hidden: &[usize], batch: usize) {
    let mut model = Sequential::new([28, 28]).add(Flatten::new());
    for &units in hidden {
        model = model
            .add(Dense::new(units).activation(Activation::Relu))
            .add(Dropout::new(0.2));
    }
    check_model(
        model.add(Dense::new(10).activation(Activation::Softmax)),
        batch,
    );
}

fn check_model(mut model: Sequential, batch: usize) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mnist = keel_data::mnist::load_default().expect("bundled MNIST");
    model
        .compile(
            Adam::new(1e-3).global_clipnorm(1.0),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .expect("compile");
    let short = mnist.train.slice(0..4 * batch).expect("subset");
    let long = mnist.train.slice(0..12 * batch).expect("subset");
    large_allocations_of_one_epoch(&mut model, &long, batch); // warm-up: optimizer state, pool
    let (keel_short, gemm_short) = large_allocations_of_one_epoch(&mut model, &short, batch);
    let (keel_long, gemm_long) = large_allocations_of_one_epoch(&mut model, &long, batch);
    println!(
        "GEMM packing workspaces per step: {}",
        // As floats: under load a GEMM call may pack differently, so the long epoch can count
        // fewer workspaces than the short one.
        (gemm_long as f64 - gemm_short as f64) / 8.0
    );
    assert_eq!(
        keel_long,
        keel_short,
        "8 more steps made {} more large allocations outside GEMM",
        keel_long as isize - keel_short as isize
    );
}

#[test]
fn the_seed_model_steady_state_allocates_nothing_large() {
    check(&[32], 32);
}

#[test]
fn the_throughput_mlp_steady_state_allocates_nothing_large() {
    check(&[512, 512], 128);
}

#[test]
fn the_convnet_steady_state_allocates_nothing_large() {
    // W4's model (patches, pooling, the transposed first-layer kernel gradient) at batch 32.
    let model = common::w4_convnet();
    check_model(model, 32);
}
