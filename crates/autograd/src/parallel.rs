//! Fork-join for the short, frequent pieces of work in a training step: the calling thread
//! and helper threads that keep spinning between jobs.
//!
//! A step of a small model is a chain of 5–15 µs pieces (a product, an optimizer pass).
//! Rayon's workers fall asleep between them, and a `rayon::join` from the training thread
//! then cost 20–45 µs more than the work itself here (a sleeping virtual core is woken
//! through the hypervisor). These helpers spin for 0.5 ms after each job, so a job reaches
//! them in well under a microsecond while training runs, and they park when it stops. The
//! calling thread always works too and never waits for a helper to wake: pieces nobody
//! else claimed, it runs itself.
//!
//! How many threads share a job follows rayon ([`rayon::current_num_threads`]): set
//! `RAYON_NUM_THREADS`, or call from inside a rayon pool's `install`, and both agree.
//! Which thread runs a piece never changes what it computes, so results do not depend on
//! the thread count as long as callers cut the work by its size alone.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Pieces handed out per round by [`for_each_piece`]; pieces beyond it wait for the next.
pub const MAX_PIECES: usize = 64;

/// How long an idle helper spins before it parks. Long enough to bridge the gaps inside a
/// training step (tens of µs), short enough to give the core back soon after training.
const SPIN_BEFORE_PARK: Duration = Duration::from_micros(500);

/// Runs `task` on every piece, spread over the calling thread and up to
/// [`threads`]` - 1` helpers. The calling thread takes pieces from the front and helpers
/// from the back, each as soon as it is free, so a slow core takes fewer while each core
/// keeps to its end of the work from one call to the next; each piece runs exactly once,
/// and the call returns when all have. Called from inside a task, it runs the pieces on
/// the calling thread. A panic in a task stops the handing out of pieces and is raised
/// again here once no task is running.
///
/// The pieces are typically disjoint parts of buffers, cut by their size alone:
///
/// ```
/// let mut data = vec![1.0f32; 10_000];
/// keel_autograd::parallel::for_each_piece(data.chunks_mut(1024), |chunk| {
///     chunk.iter_mut().for_each(|x| *x *= 2.0)
/// });
/// assert!(data.iter().all(|&x| x == 2.0));
/// ```
pub fn for_each_piece<P: Send>(pieces: impl IntoIterator<Item = P>, task: impl Fn(P) + Sync) {
    let mut pieces = pieces.into_iter().peekable();
    while pieces.peek().is_some() {
        let mut round: arrayvec::ArrayVec<Option<P>, MAX_PIECES> =
            pieces.by_ref().take(MAX_PIECES).map(Some).collect();
        for_each_mut(&mut round, |piece| {
            task(piece.take().expect("each piece is claimed once"))
        });
    }
}

/// How many threads [`for_each_piece`] may use from the calling thread: rayon's count,
/// lowered by [`set_thread_cap`].
pub fn threads() -> usize {
    let rayon = rayon::current_num_threads();
    match CAP.with(Cell::get) {
        0 => rayon,
        cap => rayon.min(cap),
    }
}

/// Caps the threads that [`for_each_piece`] calls made from this thread use (`None` lifts
/// the cap). Pieces stay the same, so capping changes the speed, never a result: the
/// trainer runs steps on one thread when it measures that sharing them is slower (`fit`
/// sets the training thread's cap while it runs and lifts it when it returns).
///
/// ```
/// use keel_autograd::parallel::{set_thread_cap, threads};
/// set_thread_cap(Some(1));
/// assert_eq!(threads(), 1);
/// set_thread_cap(None);
/// assert!(threads() >= 1);
/// ```
pub fn set_thread_cap(cap: Option<usize>) {
    CAP.with(|c| c.set(cap.unwrap_or(0)));
}

thread_local! {
    /// This thread's cap; 0 for none.
    static CAP: Cell<usize> = const { Cell::new(0) };
}

/// Calls `task` once on each item, on as many threads as are allowed and awake.
fn for_each_mut<T: Send>(items: &mut [T], task: impl Fn(&mut T) + Sync) {
    let helpers = threads()
        .saturating_sub(1)
        .min(items.len().saturating_sub(1));
    let pool = if helpers == 0 { None } else { Pool::get() };
    let Some(pool) = pool.filter(|p| p.try_begin()) else {
        return items.iter_mut().for_each(task);
    };
    let base = ItemsPtr(items.as_mut_ptr());
    let run = |i: usize| {
        // SAFETY: `i < items.len()` (the job's `count`), and `Job::claim` hands every index
        // to exactly one thread, once, so this `&mut` is the only reference to item `i`
        // while it lives. `items` is borrowed mutably for the whole call, which returns only
        // after every task has finished (see `Pool::run`), so the item outlives it. `T: Send`
        // makes handing it to another thread sound.
        let item = unsafe { &mut *base.at(i) };
        task(item)
    };
    pool.run(items.len(), helpers.min(MAX_HELPERS), &run);
}

/// The items' base pointer, shared with the helpers for the duration of one call.
struct ItemsPtr<T>(*mut T);

impl<T> ItemsPtr<T> {
    fn at(&self, i: usize) -> *mut T {
        self.0.wrapping_add(i)
    }
}

// SAFETY: the pointer is only used to reach items of a `&mut [T]` with `T: Send`, each from
// one thread at a time (see `for_each_mut`).
unsafe impl<T: Send> Sync for ItemsPtr<T> {}

/// One published job: its tasks, the unclaimed indices and the first panic.
struct Job<'a> {
    run: &'a (dyn Fn(usize) + Sync),
    /// The unclaimed indices `front..back`, packed as `front << 32 | back`. The caller takes
    /// them from the front and helpers from the back, so with two threads each core gets
    /// the same end of every job, step after step: the first half of a layer's rows on one
    /// core, the second on the other, and the data each core wrote stays in its cache. When
    /// one core runs slow, the other still takes more pieces from its end.
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

    /// Claims and runs indices from one end until none is left. A panic is kept for the
    /// caller, and no index is handed out after it.
    fn work(&self, from_front: bool) {
        let claimed = panic::catch_unwind(AssertUnwindSafe(|| {
            while let Some(i) = self.claim(from_front) {
                (self.run)(i);
            }
        }));
        if let Err(payload) = claimed {
            self.unclaimed.store(0, Ordering::Relaxed);
            self.panic
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(payload);
        }
    }
}

/// At most this many helpers join one job (the state word's field is 15 bits wide).
const MAX_HELPERS: usize = (1 << 15) - 1;

/// The state word: `epoch` (32 bits) · `open` (1) · `limit` (15) · `joined` (16).
/// A helper may join a job only by raising `joined` on a word that is open, below its limit
/// and of an epoch it has not joined; the caller closes the word before it waits for
/// `joined` to fall back to zero, so no helper can touch a job that has returned.
mod word {
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

/// The helpers' shared state; one process-wide instance, alone on its cache lines.
#[repr(align(128))]
struct Pool {
    state: AtomicU64,
    /// The open job, type-erased; written only by the caller holding `busy`, before it opens
    /// the state word.
    job: AtomicPtr<()>,
    /// One caller at a time: a second caller (another thread, or a task) runs serially.
    busy: AtomicBool,
    sleepers: AtomicUsize,
    helpers: OnceLock<Vec<Thread>>,
}

static POOL: Pool = Pool {
    state: AtomicU64::new(0),
    job: AtomicPtr::new(std::ptr::null_mut()),
    busy: AtomicBool::new(false),
    sleepers: AtomicUsize::new(0),
    helpers: OnceLock::new(),
};

impl Pool {
    /// The pool, its helpers started on first use (one fewer than the machine's cores).
    /// `None` if the machine has one core or no helper could be started.
    fn get() -> Option<&'static Pool> {
        let helpers = POOL.helpers.get_or_init(|| {
            let cores = thread::available_parallelism().map_or(1, usize::from);
            (1..cores)
                .map_while(|i| {
                    thread::Builder::new()
                        .name(format!("keel-helper-{i}"))
                        .spawn(|| POOL.help())
                        .ok()
                        .map(|handle| handle.thread().clone())
                })
                .collect()
        });
        (!helpers.is_empty()).then_some(&POOL)
    }

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
        // SeqCst pairs with the sleepers' check in `help`: either a helper about to park sees
        // this job, or this thread sees it counted as a sleeper and wakes it.
        self.state.store(word::new(epoch, limit), Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.helpers
                .get()
                .into_iter()
                .flatten()
                .for_each(Thread::unpark);
        }
        job.work(true);
        self.state.fetch_and(!word::OPEN, Ordering::AcqRel);
        while word::joined(self.state.load(Ordering::Acquire)) != 0 {
            std::hint::spin_loop();
        }
        self.busy.store(false, Ordering::Release);
        if let Some(payload) = job
            .panic
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            panic::resume_unwind(payload);
        }
    }

    /// A helper's life: join each new job, spin while jobs keep coming, park when they stop.
    fn help(&self) {
        let mut last_epoch = 0;
        let mut idle_since = Instant::now();
        let mut spins = 0u32;
        loop {
            let w = self.state.load(Ordering::Acquire);
            if word::epoch(w) != last_epoch && word::joinable(w) {
                if self
                    .state
                    .compare_exchange_weak(w, w + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    last_epoch = word::epoch(w);
                    // SAFETY: joining succeeded on the open word of this job, so the caller
                    // has not closed it yet and will not return before `joined` drops back
                    // (the `fetch_sub` below): until then the job on its stack is alive. The
                    // pointer was stored before the word was opened (Release/SeqCst store,
                    // read here after the Acquire exchange), so it is this job's.
                    let job = unsafe { &*self.job.load(Ordering::Relaxed).cast::<Job<'_>>() };
                    job.work(false);
                    self.state.fetch_sub(1, Ordering::Release);
                    idle_since = Instant::now();
                }
                continue;
            }
            spins = spins.wrapping_add(1);
            if spins % 64 != 0 || idle_since.elapsed() < SPIN_BEFORE_PARK {
                std::hint::spin_loop();
                continue;
            }
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            let w = self.state.load(Ordering::SeqCst);
            if !(word::epoch(w) != last_epoch && word::joinable(w)) {
                thread::park();
            }
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            idle_since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::AtomicU32;

    fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    #[test]
    fn every_piece_runs_exactly_once() {
        for threads in [1, 2, 4] {
            for n in [0, 1, 2, 3, 63, 64, 65, 200] {
                let counts: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
                with_threads(threads, || {
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
        with_threads(2, || {
            for_each_piece(data.chunks_mut(7).enumerate(), |(i, chunk)| {
                chunk.iter_mut().for_each(|x| *x = i as u32)
            })
        });
        assert!(data.iter().enumerate().all(|(j, &x)| x == (j / 7) as u32));
    }

    #[test]
    fn a_panicking_task_panics_the_caller_and_leaves_the_pool_usable() {
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            with_threads(2, || {
                for_each_piece(0..20, |i| assert!(i != 5, "piece five fails"))
            })
        }));
        let message = *caught.unwrap_err().downcast::<&str>().unwrap();
        assert_eq!(message, "piece five fails");
        let ran = AtomicU32::new(0);
        for_each_piece(0..10, |_| {
            ran.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn nested_and_concurrent_calls_complete() {
        let total = AtomicU32::new(0);
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for_each_piece(0..8, |_| {
                        for_each_piece(0..8, |_| {
                            total.fetch_add(1, Ordering::Relaxed);
                        })
                    })
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 8 * 8);
    }

    #[test]
    fn a_helper_takes_pieces_from_the_back_when_two_threads_are_allowed() {
        if thread::available_parallelism().map_or(1, usize::from) < 2 {
            return;
        }
        // Each piece waits (up to 0.2 s) for a piece to start on another thread. A call that
        // found the pool busy with another test runs serially, so a few attempts are allowed.
        let ran = Mutex::new(Vec::new());
        for _attempt in 0..50 {
            ran.lock().unwrap().clear();
            let deadline = Instant::now() + Duration::from_millis(200);
            let caller = with_threads(2, || {
                for_each_piece(0..3, |i| {
                    ran.lock().unwrap().push((i, thread::current().id()));
                    while ran.lock().unwrap().len() < 2 && Instant::now() < deadline {
                        std::hint::spin_loop();
                    }
                });
                thread::current().id()
            });
            let ran = ran.lock().unwrap();
            let threads: HashSet<_> = ran.iter().map(|&(_, id)| id).collect();
            if threads.len() == 2 {
                // The caller started at the front, the helper at the back.
                assert!(ran.contains(&(0, caller)), "{ran:?}");
                assert!(ran.iter().any(|&(i, id)| i == 2 && id != caller), "{ran:?}");
                return;
            }
        }
        panic!("no helper took a piece in 50 attempts");
    }

    #[test]
    fn one_thread_runs_everything_on_the_caller() {
        let caller = thread::current().id();
        let ids = Mutex::new(HashSet::new());
        // install runs on the one-thread pool's worker; compare with that thread.
        let worker = with_threads(1, || {
            for_each_piece(0..16, |_| {
                ids.lock().unwrap().insert(thread::current().id());
            });
            thread::current().id()
        });
        assert_ne!(worker, caller);
        assert_eq!(ids.into_inner().unwrap(), HashSet::from([worker]));
    }
}
