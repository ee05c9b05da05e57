//! Idle means idle: once `fit` returns, Keel's threads stop using the CPU.
//!
//! Alone in its test binary, so that no other test's work is counted.

mod common;
use common::{mnist_subset, seed_model};
use keel_trainer::FitOptions;
use std::time::Duration;

/// CPU time used so far by every thread of this process, from the scheduler's per-thread
/// counters (nanoseconds), if this is Linux.
fn process_cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

#[test]
fn the_process_uses_under_5_ms_of_cpu_in_the_second_after_fit() {
    let Some(_) = process_cpu_time() else {
        eprintln!("skipped: no per-thread CPU counters here (not Linux)");
        return;
    };
    let runtime = keel_runtime::Runtime::builder().threads(2).build().unwrap();
    let mut model = seed_model(1);
    let options = FitOptions::new()
        .batch_size(32)
        .verbose(0)
        .runtime(runtime.clone());
    model.fit(&mnist_subset(2048), options).expect("fit");
    assert!(runtime.helpers_started() > 0, "the fit shared its products");
    let before = process_cpu_time().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let used = process_cpu_time().unwrap() - before;
    assert!(
        used < Duration::from_millis(5),
        "{used:?} of CPU while idle"
    );
}
