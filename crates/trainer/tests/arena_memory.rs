//! Bounded memory: prediction at 1,000 different batch sizes peaks within twice the
//! resident memory of prediction at one (the largest) batch size.
//!
//! Alone in its test binary: peak resident memory is the whole process's.

use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Dense, Flatten};
use keel_trainer::Sequential;

/// The peak resident set size of this process so far (`VmHWM`), in KiB, if readable.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn predict_over_1000_batch_sizes_peaks_within_twice_one_batch_size() {
    if peak_rss_kib().is_none() {
        eprintln!("skipped: no /proc/self/status here (not Linux)");
        return;
    }
    const SAMPLES: usize = 2000;
    let x = ndarray::Array3::from_shape_fn((SAMPLES, 28, 28), |(i, j, k)| {
        ((i * 31 + j * 7 + k) % 13) as f32 / 13.0
    });
    let data = Dataset::from_f32(x.into_dyn(), Targets::Classes(vec![0; SAMPLES])).unwrap();
    let model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dense::new(10).activation(Activation::Softmax));
    // The largest batch size alone.
    for _ in 0..3 {
        model.predict_batched(&data, 1000).unwrap();
    }
    let one_size = peak_rss_kib().unwrap();
    // Every batch size up to it: ~15,000 batches of 1,000 different lengths. Kept per
    // length, as a pool without a bound would, their buffers would take ~1.6 GB.
    for batch_size in 1..=1000 {
        model.predict_batched(&data, batch_size).unwrap();
    }
    let many_sizes = peak_rss_kib().unwrap();
    let arena = keel_runtime::Runtime::global().arena_bytes();
    eprintln!(
        "peak RSS: one batch size {one_size} KiB, 1000 sizes {many_sizes} KiB; \
         the arena holds {arena} B"
    );
    assert!(
        many_sizes <= 2 * one_size,
        "1000 batch sizes peaked at {many_sizes} KiB, one at {one_size} KiB"
    );
}
