//! The executor through the public API: every piece once, panics, nesting, concurrent
//! callers, targeted wakes and which end each thread takes.

use keel_runtime::{for_each_piece, Runtime};
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

fn runtime(threads: usize) -> Runtime {
    Runtime::builder().threads(threads).build().unwrap()
}

#[test]
fn every_piece_runs_exactly_once() {
    for threads in [1, 2, 4] {
        let rt = runtime(threads);
        for n in [0, 1, 2, 3, 63, 64, 65, 200] {
            let counts: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
            rt.install(|| {
                for_each_piece(0..n, |i| {
                    counts[i].fetch_add(1, Ordering::Relaxed);
                })
            });
            assert!(
                counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                "{n} pieces on {threads} threads"
            );
        }
    }
}

#[test]
fn pieces_write_disjoint_parts_of_a_buffer() {
    let mut data = vec![0u32; 1000];
    runtime(2).install(|| {
        for_each_piece(data.chunks_mut(7).enumerate(), |(i, chunk)| {
            chunk.iter_mut().for_each(|x| *x = i as u32)
        })
    });
    assert!(data.iter().enumerate().all(|(j, &x)| x == (j / 7) as u32));
}

#[test]
fn a_panicking_task_panics_the_caller_and_leaves_the_runtime_usable() {
    let rt = runtime(2);
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        rt.install(|| for_each_piece(0..20, |i| assert!(i != 5, "piece five fails")))
    }));
    let message = *caught.unwrap_err().downcast::<&str>().unwrap();
    assert_eq!(message, "piece five fails");
    let ran = AtomicU32::new(0);
    rt.install(|| {
        for_each_piece(0..10, |_| {
            ran.fetch_add(1, Ordering::Relaxed);
        })
    });
    assert_eq!(ran.load(Ordering::Relaxed), 10);
}

#[test]
fn nested_and_concurrent_calls_on_one_runtime_complete() {
    let rt = runtime(3);
    let total = AtomicU32::new(0);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                rt.install(|| {
                    for_each_piece(0..8, |_| {
                        for_each_piece(0..8, |_| {
                            total.fetch_add(1, Ordering::Relaxed);
                        })
                    })
                })
            });
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), 4 * 8 * 8);
}

#[test]
fn calls_from_inside_a_rayon_pool_complete() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let rt = runtime(2);
    let total = AtomicU32::new(0);
    pool.install(|| {
        rayon::scope(|s| {
            for _ in 0..4 {
                s.spawn(|_| {
                    rt.install(|| {
                        for_each_piece(0..16, |_| {
                            total.fetch_add(1, Ordering::Relaxed);
                        })
                    })
                });
            }
        })
    });
    assert_eq!(total.load(Ordering::Relaxed), 4 * 16);
}

#[test]
fn a_job_starts_only_the_helpers_it_has_pieces_for() {
    let rt = runtime(8);
    rt.install(|| for_each_piece(0..1, |_| ()));
    assert_eq!(rt.helpers_started(), 0, "one piece needs no helper");
    rt.install(|| for_each_piece(0..2, |_| ()));
    assert_eq!(rt.helpers_started(), 1, "two pieces need one helper");
    rt.install(|| for_each_piece(0..5, |_| ()));
    assert_eq!(rt.helpers_started(), 4);
    rt.install(|| for_each_piece(0..64, |_| ()));
    assert_eq!(rt.helpers_started(), 7, "never more than threads - 1");
}

#[test]
fn one_thread_runs_everything_on_the_caller() {
    let rt = runtime(1);
    let ids = Mutex::new(HashSet::new());
    rt.install(|| {
        for_each_piece(0..16, |_| {
            ids.lock().unwrap().insert(thread::current().id());
        })
    });
    assert_eq!(
        ids.into_inner().unwrap(),
        HashSet::from([thread::current().id()])
    );
    assert_eq!((rt.helpers_started(), rt.pieces_run_by_helpers()), (0, 0));
}

#[test]
fn a_helper_takes_pieces_from_the_back() {
    if keel_runtime::available_cpus() < 2 {
        eprintln!("skipped: this process may use one CPU only");
        return;
    }
    let rt = runtime(2);
    // Each piece waits (up to 0.2 s) for a piece to start on another thread; a helper that
    // is not scheduled in time leaves the pieces to the caller, so a few attempts are allowed.
    let ran = Mutex::new(Vec::new());
    for _attempt in 0..50 {
        ran.lock().unwrap().clear();
        let deadline = Instant::now() + Duration::from_millis(200);
        rt.install(|| {
            for_each_piece(0..3, |i| {
                ran.lock().unwrap().push((i, thread::current().id()));
                while ran.lock().unwrap().len() < 2 && Instant::now() < deadline {
                    std::hint::spin_loop();
                }
            })
        });
        let ran = ran.lock().unwrap();
        let threads: HashSet<_> = ran.iter().map(|&(_, id)| id).collect();
        if threads.len() == 2 {
            let caller = thread::current().id();
            assert!(ran.contains(&(0, caller)), "{ran:?}");
            assert!(ran.iter().any(|&(i, id)| i == 2 && id != caller), "{ran:?}");
            assert!(rt.pieces_run_by_helpers() > 0);
            return;
        }
    }
    panic!("no helper took a piece in 50 attempts");
}

#[test]
fn a_runtime_can_be_dropped_while_its_helpers_idle() {
    for _ in 0..20 {
        let rt = runtime(3);
        rt.install(|| for_each_piece(0..8, |_| ()));
        drop(rt);
    }
}

#[test]
fn invalid_thread_counts_are_errors_naming_what_was_found() {
    let err = Runtime::builder().threads(0).build().unwrap_err();
    assert!(err.to_string().contains("at least 1") && err.to_string().contains("found 0"));
}
