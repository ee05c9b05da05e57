//! Fork-join for the short, frequent pieces of a training step: the calling thread and a
//! runtime's helper threads.
//!
//! A step of a small model is a chain of 5–15 µs pieces. Waking a parked thread for each
//! costs more than the piece, so a helper that finished a job spins for a short while
//! before it parks, and the caller never waits for a helper to wake: it runs every piece
//! nobody else claimed. Invariants:
//!
//! - A job is offered to at most `pieces - 1` helpers, and the caller wakes only as many
//!   parked helpers as the spinning ones do not cover: small jobs touch no idle helper.
//! - At most one helper spins per core the process may use beyond the caller's: on an
//!   oversubscribed runtime the rest park at once, and on one CPU none spins.
//! - A spinning helper yields after [`SPIN`] and parks after [`YIELD_UNTIL`]: nothing spins
//!   once jobs stop coming, and nothing holds a core a busy neighbour needs for long.
//! - A caller waiting for a helper's last piece spins, then yields, then parks until the
//!   helper leaving last wakes it.

use crate::sync::{
    hint, store_load_fence, thread, Arc, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Mutex,
    OnceLock, Ordering,
};
use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::PoisonError;
use std::time::{Duration, Instant};

/// How long an idle helper spins before it starts yielding: long enough to bridge the gaps
/// between the pieces of one step (a few to tens of µs), about what a park and wake costs.
const SPIN: Duration = Duration::from_micros(50);
/// How long an idle helper keeps yielding its core before it parks.
const YIELD_UNTIL: Duration = Duration::from_micros(200);
/// Spins of a waiting caller before it yields, and yields before it parks.
#[cfg(not(loom))]
const CALLER_SPINS: u32 = 1 << 12;
#[cfg(not(loom))]
const CALLER_YIELDS: u32 = 16;
/// Under loom the caller parks at once (and helpers never spin, see `help`): a spin is one
/// more interleaving point per try and proves nothing the park path does not.
#[cfg(loom)]
const CALLER_SPINS: u32 = 0;
#[cfg(loom)]
const CALLER_YIELDS: u32 = 0;

/// The helper threads of one runtime, started when a job first wants them.
pub(crate) struct Executor {
    shared: Arc<Shared>,
    /// Serializes starting helpers.
    starting: Mutex<()>,
    /// Under loom every thread must end before the model does: the helpers, joined on drop.
    #[cfg(loom)]
    handles: std::sync::Mutex<Vec<thread::JoinHandle<()>>>,
}

/// What the caller and the helpers share.
#[repr(align(128))]
struct Shared {
    /// The state word, see [`word`].
    state: AtomicU64,
    /// The open job, type-erased; written only by the caller holding `busy`, before it opens
    /// the state word.
    job: AtomicPtr<()>,
    /// One caller at a time: a second caller (another thread, or a task) runs serially.
    busy: AtomicBool,
    /// Helpers idle and not parked.
    spinning: AtomicUsize,
    /// Helpers allowed to spin at once.
    max_spinning: usize,
    /// One slot per helper that may be started; `started` of them are.
    slots: Vec<Slot>,
    started: AtomicUsize,
    /// Set when the runtime is dropped: helpers leave.
    shutdown: AtomicBool,
    /// The caller parked waiting for the last helper to leave its job.
    caller_waiting: AtomicBool,
    caller: Mutex<Option<thread::Thread>>,
    /// Pieces helpers ran, for tests and diagnostics.
    helper_pieces: AtomicU64,
}

/// One helper's parking place.
struct Slot {
    /// True while the helper is parked or about to park; a caller that swaps it to false
    /// owns the wake.
    parked: AtomicBool,
    thread: OnceLock<thread::Thread>,
}

impl Executor {
    /// An executor that may start up to `helpers` threads; `cores` is how many CPUs the
    /// process may use, which bounds how many of them spin.
    pub(crate) fn new(helpers: usize, cores: usize) -> Self {
        let helpers = helpers.min(word::MAX_HELPERS);
        Executor {
            shared: Arc::new(Shared {
                state: AtomicU64::new(0),
                job: AtomicPtr::new(std::ptr::null_mut()),
                busy: AtomicBool::new(false),
                spinning: AtomicUsize::new(0),
                max_spinning: cores.saturating_sub(1),
                slots: (0..helpers)
                    .map(|_| Slot {
                        parked: AtomicBool::new(false),
                        thread: OnceLock::new(),
                    })
                    .collect(),
                started: AtomicUsize::new(0),
                shutdown: AtomicBool::new(false),
                caller_waiting: AtomicBool::new(false),
                caller: Mutex::new(None),
                helper_pieces: AtomicU64::new(0),
            }),
            starting: Mutex::new(()),
            #[cfg(loom)]
            handles: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Pieces run by helpers since the executor was made.
    pub(crate) fn helper_pieces(&self) -> u64 {
        self.shared.helper_pieces.load(Ordering::Relaxed)
    }

    /// Helper threads started so far.
    pub(crate) fn started(&self) -> usize {
        self.shared.started.load(Ordering::Acquire)
    }

    /// Runs `run(i)` for every `i < count`, on the calling thread and up to `helpers`
    /// helpers; returns once all have run, re-raising the first panic. Runs everything on
    /// the calling thread if another call holds the executor.
    pub(crate) fn run(&self, count: usize, helpers: usize, run: &(dyn Fn(usize) + Sync)) {
        let helpers = helpers.min(self.shared.slots.len());
        if helpers == 0 || !self.shared.try_begin() {
            return (0..count).for_each(run);
        }
        self.start_helpers(helpers);
        let limit = helpers.min(self.started());
        if limit == 0 {
            self.shared.busy.store(false, Ordering::Release);
            return (0..count).for_each(run);
        }
        self.shared.run(count, limit, run);
    }

    /// Starts helpers until `wanted` are running (or no more can be started).
    fn start_helpers(&self, wanted: usize) {
        if self.started() >= wanted {
            return;
        }
        let _one_at_a_time = self.starting.lock().unwrap_or_else(PoisonError::into_inner);
        while self.started() < wanted {
            let index = self.started();
            let shared = Arc::clone(&self.shared);
            let spawned = thread::Builder::new()
                .name(format!("keel-helper-{}", index + 1))
                .spawn(move || shared.help(index));
            let Ok(handle) = spawned else { break };
            // Set before `started` counts it, so a caller that sees the helper can wake it.
            let _ = self.shared.slots[index].thread.set(handle.thread().clone());
            self.shared.started.store(index + 1, Ordering::Release);
            #[cfg(loom)]
            self.handles
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(handle);
        }
    }
}

impl Drop for Executor {
    /// Tells the helpers to leave; they hold their own reference to the shared state.
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for slot in &self.shared.slots {
            if let Some(t) = slot.thread.get() {
                t.unpark();
            }
        }
        #[cfg(loom)]
        for handle in self
            .handles
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            if handle.join().is_err() && !thread::panicking() {
                panic!("a helper thread panicked");
            }
        }
    }
}

impl Shared {
    fn try_begin(&self) -> bool {
        self.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Publishes `count` tasks to at most `limit` helpers, works on them, and returns once
    /// every task has finished; then re-raises the first panic. Releases `busy`.
    fn run(&self, count: usize, limit: usize, run: &(dyn Fn(usize) + Sync)) {
        let job = Job::new(run, count);
        let epoch = word::epoch(self.state.load(Ordering::Relaxed)).wrapping_add(1);
        self.job.store(
            (&job as *const Job<'_>).cast_mut().cast(),
            Ordering::Relaxed,
        );
        // SeqCst pairs with the helpers' check before they park (see `park`): either a
        // helper about to park sees this job, or this thread sees its `parked` flag.
        self.state.store(word::new(epoch, limit), Ordering::SeqCst);
        store_load_fence();
        self.wake(limit.saturating_sub(self.spinning.load(Ordering::SeqCst)));
        job.work(true);
        self.state.fetch_and(!word::OPEN, Ordering::SeqCst);
        self.wait_for_helpers();
        self.busy.store(false, Ordering::Release);
        if let Some(payload) = job
            .panic
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            panic::resume_unwind(payload);
        }
    }

    /// Wakes up to `count` parked helpers, lowest index first (their caches are warmest).
    fn wake(&self, mut count: usize) {
        let started = self.started.load(Ordering::Acquire);
        for slot in &self.slots[..started] {
            if count == 0 {
                return;
            }
            let claimed = slot
                .parked
                .compare_exchange(true, false, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok();
            if claimed {
                if let Some(t) = slot.thread.get() {
                    t.unpark();
                }
                count -= 1;
            }
        }
    }

    /// Returns once no helper is inside the closed job: spins, yields, then parks until the
    /// last helper out wakes this thread.
    // Under loom both bounds are 0: the caller parks at the first wait.
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))]
    fn wait_for_helpers(&self) {
        let mut tries = 0u32;
        while word::joined(self.state.load(Ordering::Acquire)) != 0 {
            tries += 1;
            if tries < CALLER_SPINS {
                hint::spin_loop();
            } else if tries < CALLER_SPINS + CALLER_YIELDS {
                thread::yield_now();
            } else {
                *self.caller.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(thread::current());
                // SeqCst pairs with the helper's leave in `help`: either this load sees
                // the last helper gone, or that helper sees `caller_waiting` and unparks.
                self.caller_waiting.store(true, Ordering::SeqCst);
                store_load_fence();
                if word::joined(self.state.load(Ordering::SeqCst)) != 0 {
                    thread::park();
                }
                self.caller_waiting.store(false, Ordering::SeqCst);
            }
        }
    }

    /// A helper's life: join each new job, spin a while when jobs stop, then park.
    fn help(&self, index: usize) {
        IN_TASK.with(|t| t.set(true));
        let slot = &self.slots[index];
        let mut last_epoch = 0;
        'idle: loop {
            // Under loom a helper never spins (the timing would make the exploration
            // non-deterministic): it checks for a job once and parks. The window between
            // counting itself in `spinning` and parking is still explored.
            let may_spin =
                self.spinning.fetch_add(1, Ordering::SeqCst) < self.max_spinning && !cfg!(loom);
            let idle_since = Instant::now();
            let mut tries = 0u32;
            loop {
                if self.shutdown.load(Ordering::Relaxed) {
                    self.spinning.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
                let w = self.state.load(Ordering::Acquire);
                if word::epoch(w) != last_epoch && word::joinable(w) {
                    if self
                        .state
                        .compare_exchange_weak(w, w + 1, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        self.spinning.fetch_sub(1, Ordering::SeqCst);
                        last_epoch = word::epoch(w);
                        self.work_on_joined_job();
                        continue 'idle;
                    }
                    continue;
                }
                tries = tries.wrapping_add(1);
                let idle = if may_spin && tries % 64 != 0 {
                    Duration::ZERO
                } else {
                    idle_since.elapsed()
                };
                if may_spin && idle < SPIN {
                    hint::spin_loop();
                } else if may_spin && idle < YIELD_UNTIL {
                    thread::yield_now();
                } else {
                    self.spinning.fetch_sub(1, Ordering::SeqCst);
                    self.park(slot, last_epoch);
                    continue 'idle;
                }
            }
        }
    }

    /// Runs the pieces of the job this helper just joined, then leaves it.
    fn work_on_joined_job(&self) {
        // SAFETY: joining succeeded on the open word of this job, so the caller has not
        // closed it yet and does not return before `joined` drops back (the `fetch_sub`
        // below): until then the job on its stack is alive. The pointer was stored before
        // the word was opened (SeqCst store, read here after the Acquire exchange), so it is
        // this job's.
        let job = unsafe { &*self.job.load(Ordering::Relaxed).cast::<Job<'_>>() };
        let ran = job.work(false);
        self.helper_pieces.fetch_add(ran, Ordering::Relaxed);
        // From here on the job may be gone: touch only `self`.
        let before = self.state.fetch_sub(1, Ordering::SeqCst);
        store_load_fence();
        if word::joined(before) == 1
            && !word::is_open(before)
            && self.caller_waiting.load(Ordering::SeqCst)
        {
            if let Some(caller) = self
                .caller
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
            {
                caller.unpark();
            }
        }
    }

    /// Parks until a caller claims this helper's wake (or the runtime shuts down). Returns
    /// early if a job this helper has not joined is already open.
    fn park(&self, slot: &Slot, last_epoch: u32) {
        slot.parked.store(true, Ordering::SeqCst);
        store_load_fence();
        let w = self.state.load(Ordering::SeqCst);
        if word::epoch(w) != last_epoch && word::joinable(w) {
            // Take the wake back; if a caller already took it, its unpark is harmless.
            slot.parked.store(false, Ordering::SeqCst);
            return;
        }
        while slot.parked.load(Ordering::SeqCst) && !self.shutdown.load(Ordering::SeqCst) {
            thread::park();
        }
    }
}

#[cfg(not(loom))]
thread_local! {
    /// True on helper threads and on a caller while it runs a job's pieces: a nested call
    /// then runs its pieces on its own thread.
    static IN_TASK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
// Loom's threads share one OS thread, so they need loom's thread-locals (whose macro takes
// no `const` initializer).
#[cfg(loom)]
loom::thread_local! {
    static IN_TASK: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

/// Whether this thread is running a piece of a job (nested calls run serially).
pub(crate) fn in_task() -> bool {
    IN_TASK.with(std::cell::Cell::get)
}

/// Runs `f` marked as inside a task, restoring the mark after (also on panic).
pub(crate) fn as_task<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_TASK.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(IN_TASK.with(|t| t.replace(true)));
    f()
}

/// One published job: its tasks, the unclaimed indices and the first panic.
struct Job<'a> {
    run: &'a (dyn Fn(usize) + Sync),
    /// The unclaimed indices `front..back`, packed as `front << 32 | back`. The caller takes
    /// them from the front and helpers from the back, so with two threads each core gets the
    /// same end of every job, step after step, and the data it wrote stays in its cache;
    /// when one core runs slow, the other still takes more pieces from its end.
    unclaimed: AtomicU64,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Job<'_> {
    fn new(run: &(dyn Fn(usize) + Sync), count: usize) -> Job<'_> {
        let count = u32::try_from(count).expect("at most MAX_PIECES pieces a round");
        Job {
            run,
            unclaimed: AtomicU64::new(u64::from(count)),
            panic: Mutex::new(None),
        }
    }

    /// The next index from the front or the back, if any is left.
    fn claim(&self, from_front: bool) -> Option<usize> {
        let mut ends = self.unclaimed.load(Ordering::Relaxed);
        loop {
            let (front, back) = (ends >> 32, ends & u64::from(u32::MAX));
            if front >= back {
                return None;
            }
            let (taken, rest) = if from_front {
                (front, ((front + 1) << 32) | back)
            } else {
                (back - 1, (front << 32) | (back - 1))
            };
            match self.unclaimed.compare_exchange_weak(
                ends,
                rest,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(taken as usize),
                Err(now) => ends = now,
            }
        }
    }

    /// Claims and runs indices from one end until none is left; returns how many ran. A
    /// panic is kept for the caller, and no index is handed out after it.
    fn work(&self, from_front: bool) -> u64 {
        let mut ran = 0;
        let claimed = panic::catch_unwind(AssertUnwindSafe(|| {
            as_task(|| {
                while let Some(i) = self.claim(from_front) {
                    (self.run)(i);
                    ran += 1;
                }
            })
        }));
        if let Err(payload) = claimed {
            self.unclaimed.store(0, Ordering::Relaxed);
            self.panic
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(payload);
        }
        ran
    }
}

/// The state word: `epoch` (32 bits) · `open` (1) · `limit` (15) · `joined` (16).
/// A helper may join a job only by raising `joined` on a word that is open, below its limit
/// and of an epoch it has not joined; the caller closes the word before it waits for
/// `joined` to fall back to zero, so no helper can touch a job that has returned.
mod word {
    /// At most this many helpers join one job (the `limit` field is 15 bits wide).
    pub const MAX_HELPERS: usize = (1 << 15) - 1;
    pub const OPEN: u64 = 1 << 31;
    const LIMIT_SHIFT: u32 = 16;
    const JOINED: u64 = (1 << LIMIT_SHIFT) - 1;

    pub fn new(epoch: u32, limit: usize) -> u64 {
        (u64::from(epoch) << 32) | OPEN | ((limit as u64) << LIMIT_SHIFT)
    }
    pub fn epoch(w: u64) -> u32 {
        (w >> 32) as u32
    }
    pub fn is_open(w: u64) -> bool {
        w & OPEN != 0
    }
    pub fn joinable(w: u64) -> bool {
        is_open(w) && joined(w) < (w >> LIMIT_SHIFT) & 0x7FFF
    }
    pub fn joined(w: u64) -> u64 {
        w & JOINED
    }
}

/// Model tests of the protocol under loom, every interleaving within the preemption bound:
/// `RUSTFLAGS="--cfg loom" cargo test -p keel-runtime --release --target-dir target/loom --lib loom_`.
/// Loom fails a test on a deadlock (every thread blocked, e.g. a lost wake-up), a data race on
/// a piece's output, a failed assert or a leak; helpers are joined when the executor drops,
/// so one that never leaves shows up as a deadlock too.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::Executor;
    use loom::cell::UnsafeCell;
    use loom::model::Builder;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};

    /// The outputs of a job's pieces: a run count per piece (Relaxed, so the caller sees it
    /// only through the executor's own happens-before) and a plain cell each piece writes, as
    /// real pieces write disjoint parts of a buffer: loom reports a race if two threads wrote
    /// it or if the caller reads it without happens-before from the writer.
    struct Pieces {
        runs: Vec<AtomicUsize>,
        out: Vec<UnsafeCell<usize>>,
    }

    // SAFETY: each `out` cell is written by the one thread that claimed its piece and read
    // by the caller after `run` returned; loom checks exactly this.
    unsafe impl Sync for Pieces {}
    unsafe impl Send for Pieces {}

    impl Pieces {
        fn new(count: usize) -> Self {
            Pieces {
                runs: (0..count).map(|_| AtomicUsize::new(0)).collect(),
                out: (0..count).map(|_| UnsafeCell::new(0)).collect(),
            }
        }

        /// Runs the job on `executor` with up to `helpers` helpers, then checks every piece.
        fn run_on(&self, executor: &Executor, helpers: usize) {
            executor.run(self.runs.len(), helpers, &|i| {
                self.runs[i].fetch_add(1, Ordering::Relaxed);
                // SAFETY: see `impl Sync`.
                self.out[i].with_mut(|out| unsafe { *out += 1 });
            });
            for (i, (runs, out)) in self.runs.iter().zip(&self.out).enumerate() {
                assert_eq!(runs.load(Ordering::Relaxed), 1, "piece {i} ran once");
                // SAFETY: see `impl Sync`.
                assert_eq!(out.with(|out| unsafe { *out }), 1, "piece {i} output");
            }
        }
    }

    /// Counts over all explored executions (plain std atomics, outside the model), to check
    /// the exploration reached the executions a test is about, not only those where the
    /// caller ran every piece itself.
    #[derive(Default)]
    struct Seen {
        executions: StdAtomicUsize,
        /// Executions in which a helper ran pieces of the first, the second job.
        helped: [StdAtomicUsize; 2],
    }

    impl Seen {
        fn helped(&self, job: usize) {
            self.helped[job].fetch_add(1, StdOrdering::Relaxed);
        }
    }

    /// Explores `f` under loom: every interleaving with at most `preemptions` preemptions
    /// (`LOOM_MAX_PREEMPTIONS` overrides it). Prints what the executions did, and returns in
    /// how many a helper ran pieces of the first and of the second job.
    fn model(
        test: &str,
        preemptions: usize,
        f: impl Fn(&Seen) + Sync + Send + 'static,
    ) -> [usize; 2] {
        let mut builder = Builder::new();
        builder.preemption_bound.get_or_insert(preemptions);
        let seen = std::sync::Arc::new(Seen::default());
        let in_model = std::sync::Arc::clone(&seen);
        builder.check(move || {
            in_model.executions.fetch_add(1, StdOrdering::Relaxed);
            f(&in_model);
        });
        let [executions, first, second] = [&seen.executions, &seen.helped[0], &seen.helped[1]]
            .map(|n| n.load(StdOrdering::Relaxed));
        eprintln!(
            "{test}: {executions} executions (preemption bound {:?}); a helper ran pieces of \
             job 1 in {first}, of job 2 in {second}",
            builder.preemption_bound
        );
        [first, second]
    }

    /// One caller and `helpers` helpers, a job of three pieces: each piece runs once, and
    /// `run` returns only after all have (their writes are visible to the caller).
    fn one_job(test: &str, preemptions: usize, helpers: usize) {
        let helped = model(test, preemptions, move |seen| {
            let executor = Executor::new(helpers, helpers + 1);
            Pieces::new(3).run_on(&executor, helpers);
            if executor.helper_pieces() > 0 {
                seen.helped(0);
            }
        });
        assert!(helped[0] > 0);
    }

    /// One caller and one helper. Preemption bound 4.
    #[test]
    fn loom_one_job() {
        one_job("loom_one_job", 4, 1);
    }

    /// One caller and two helpers: they join and leave in every order, and the one leaving
    /// last wakes the caller if it parked. Preemption bound 3.
    #[test]
    fn loom_two_helpers() {
        one_job("loom_two_helpers", 3, 2);
    }

    /// Two jobs in a row on one executor: between them the helper may still be inside the
    /// first, checking for work, parking or parked; the second job must not lose its wake-up
    /// nor wait for a helper that is not coming. Preemption bound 4.
    #[test]
    fn loom_two_jobs() {
        let helped = model("loom_two_jobs", 4, |seen| {
            let executor = Executor::new(1, 2);
            let mut before = 0;
            for job in 0..2 {
                Pieces::new(2).run_on(&executor, 1);
                let after = executor.helper_pieces();
                if after > before {
                    seen.helped(job);
                }
                before = after;
            }
        });
        assert!(helped[0] > 0 && helped[1] > 0);
    }

    /// Two callers on two threads at once: one holds `busy` and shares its job with the
    /// helper, the other runs its pieces serially (or gets the executor after the first).
    /// Preemption bound 3.
    #[test]
    fn loom_two_callers() {
        let helped = model("loom_two_callers", 3, |seen| {
            let executor = Arc::new(Executor::new(1, 2));
            let other = {
                let executor = Arc::clone(&executor);
                thread::spawn(move || Pieces::new(2).run_on(&executor, 1))
            };
            Pieces::new(2).run_on(&executor, 1);
            other.join().unwrap();
            if executor.helper_pieces() > 0 {
                seen.helped(0);
            }
        });
        assert!(helped[0] > 0);
    }
}
