//! The watchdog: ends the job when this process has waited in one collective operation
//! longer than the deadline (another process stalled or died silently), and when a thread
//! panics, instead of leaving the other processes waiting forever.

use mpi::topology::SimpleCommunicator;
use mpi::traits::Communicator;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

/// `MPI_Abort`'s exit code after a stall.
pub(crate) const STALL_EXIT: i32 = 3;
/// `MPI_Abort`'s exit code after a panic.
pub(crate) const PANIC_EXIT: i32 = 101;
/// `MPI_Abort`'s exit code after an error.
pub(crate) const ERROR_EXIT: i32 = 1;

/// Where this process is, shared with the watchdog thread and the panic hook.
#[derive(Debug)]
pub(crate) struct Watch {
    rank: usize,
    epoch: AtomicUsize,
    batch: AtomicUsize,
    deadline_ms: AtomicU64,
    /// The collective under way and when it began.
    current: Mutex<Option<(&'static str, Instant)>>,
    /// Set when the group is dropped: the watchdog ends.
    closing: Mutex<bool>,
    wake: Condvar,
}

/// The watch of the live group, for the panic hook (MPI allows one group per process).
static LIVE: Mutex<Option<Arc<Watch>>> = Mutex::new(None);
/// Whether MPI is initialized and not yet finalized: the only time `MPI_Abort` may run.
static MPI_LIVE: AtomicBool = AtomicBool::new(false);

impl Watch {
    pub(crate) fn new(rank: usize, deadline: Duration) -> Arc<Watch> {
        Arc::new(Watch {
            rank,
            epoch: AtomicUsize::new(usize::MAX),
            batch: AtomicUsize::new(usize::MAX),
            deadline_ms: AtomicU64::new(millis(deadline)),
            current: Mutex::new(None),
            closing: Mutex::new(false),
            wake: Condvar::new(),
        })
    }

    pub(crate) fn set_deadline(&self, deadline: Duration) {
        self.deadline_ms.store(millis(deadline), Ordering::Relaxed);
    }

    pub(crate) fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn set_position(&self, epoch: usize, batch: usize) {
        self.epoch.store(epoch, Ordering::Relaxed);
        self.batch.store(batch, Ordering::Relaxed);
    }

    /// Runs `f`, a collective operation, under the deadline.
    pub(crate) fn during<T>(&self, operation: &'static str, f: impl FnOnce() -> T) -> T {
        *lock(&self.current) = Some((operation, Instant::now()));
        let result = f();
        *lock(&self.current) = None;
        result
    }

    /// "rank 1, epoch 3, batch 17" (1-based epoch and batch, as the progress bar counts), or
    /// "rank 1, before training".
    pub(crate) fn position(&self) -> String {
        let (epoch, batch) = (
            self.epoch.load(Ordering::Relaxed),
            self.batch.load(Ordering::Relaxed),
        );
        match epoch {
            usize::MAX => format!("rank {}, before the first step", self.rank),
            _ => format!(
                "rank {}, epoch {}, batch {}",
                self.rank,
                epoch + 1,
                batch + 1
            ),
        }
    }

    /// Makes this watch the one the panic hook reports, and starts the watchdog thread.
    pub(crate) fn start(self: &Arc<Self>) -> std::thread::JoinHandle<()> {
        MPI_LIVE.store(true, Ordering::SeqCst);
        *lock(&LIVE) = Some(Arc::clone(self));
        install_panic_hook();
        let watch = Arc::clone(self);
        std::thread::Builder::new()
            .name("keel-mpi-watchdog".into())
            .spawn(move || watch.run())
            .expect("the watchdog thread starts")
    }

    /// Stops the watchdog (the group is being dropped; MPI is finalized after this).
    pub(crate) fn close(&self) {
        MPI_LIVE.store(false, Ordering::SeqCst);
        *lock(&LIVE) = None;
        *lock(&self.closing) = true;
        self.wake.notify_all();
    }

    fn run(&self) {
        let mut closing = lock(&self.closing);
        while !*closing {
            // Sleeps between checks (never spins): a stall is found within a quarter of
            // the deadline, at most 250 ms, after it passes.
            let period =
                (self.deadline() / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
            closing = self
                .wake
                .wait_timeout(closing, period)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
            if *closing {
                break;
            }
            let stalled = *lock(&self.current);
            if let Some((operation, since)) = stalled {
                let waited = since.elapsed();
                if waited > self.deadline() {
                    abort(
                        STALL_EXIT,
                        &format!(
                            "{}: waited {:.1} s in \"{operation}\", longer than the collective \
                             deadline of {:.1} s: another process stalled or died; ending the job",
                            self.position(),
                            waited.as_secs_f64(),
                            self.deadline().as_secs_f64()
                        ),
                    );
                }
            }
        }
    }
}

/// Prints `message` and ends every process of the job with `code`.
pub(crate) fn abort(code: i32, message: &str) -> ! {
    eprintln!("keel: {message}");
    if MPI_LIVE.load(Ordering::SeqCst) {
        SimpleCommunicator::world().abort(code);
    }
    std::process::exit(code);
}

/// Chains a hook after the current panic hook (which prints the panic) that ends the whole
/// job: a panic unwinding through the group would otherwise finalize MPI while the other
/// processes wait for this one.
fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            let watch = lock(&LIVE).clone();
            if let Some(watch) = watch {
                abort(
                    PANIC_EXIT,
                    &format!("{}: panicked; ending the job", watch.position()),
                );
            }
        }));
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
