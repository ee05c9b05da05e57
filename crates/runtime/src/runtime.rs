//! [`Runtime`]: a thread count, the helper threads and the buffer arena, owned by whoever
//! builds it and installed around the work that should use it.

use crate::arena::{Arena, DEFAULT_BUDGET};
use crate::executor::{self, Executor};
use crate::plan::MAX_PIECES;
use crate::{Error, Result};
use std::cell::{Cell, RefCell};
use std::sync::{Arc, OnceLock};

/// The environment variable that sets the default runtime's thread count.
pub const THREADS_ENV: &str = "KEEL_NUM_THREADS";

/// Where Keel runs its work: how many threads share it, the helper threads themselves
/// (started when first needed, parked when idle) and an arena of reused buffers with a byte
/// budget.
///
/// A runtime is a cheap handle (clones share one runtime). Work runs on the runtime
/// [installed](Runtime::install) on the calling thread, else on the default runtime
/// ([`Runtime::global`]), whose thread count comes from `KEEL_NUM_THREADS` or else from the
/// CPUs this process may use. Two models can train at once on two runtimes, or share one;
/// the thread count never changes a result, only the time.
///
/// ```
/// use keel_runtime::Runtime;
/// # fn main() -> keel_runtime::Result<()> {
/// let runtime = Runtime::builder().threads(2).arena_budget(64 << 20).build()?;
/// let sum = runtime.install(|| {
///     let mut data = vec![1.0f32; 100_000];
///     keel_runtime::for_each_piece(data.chunks_mut(10_000), |c| c.iter_mut().for_each(|x| *x *= 2.0));
///     data.iter().sum::<f32>()
/// });
/// assert_eq!(sum, 200_000.0);
/// assert_eq!(runtime.threads(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    threads: usize,
    adaptive: bool,
    executor: Executor,
    arena: Arena,
}

/// Two handles are equal when they share one runtime.
impl PartialEq for Runtime {
    fn eq(&self, other: &Runtime) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Runtime {}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("threads", &self.inner.threads)
            .field("adaptive", &self.inner.adaptive)
            .field("arena_budget", &self.inner.arena.budget())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Runtime`]: `Runtime::builder().threads(4).build()`.
#[derive(Debug, Clone, Default)]
pub struct RuntimeBuilder {
    threads: Option<usize>,
    arena_budget: Option<usize>,
}

impl RuntimeBuilder {
    /// A builder with the defaults: as many threads as the CPUs this process may use
    /// (adapting down when sharing measures slower), and a 256 MiB arena.
    pub fn new() -> Self {
        Self::default()
    }

    /// Exactly `threads` threads (the caller and `threads - 1` helpers), never changed by
    /// Keel. Zero is an error at [`build`](Self::build).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// The most bytes of free buffers the arena keeps (default 256 MiB).
    pub fn arena_budget(mut self, bytes: usize) -> Self {
        self.arena_budget = Some(bytes);
        self
    }

    /// The thread count from `KEEL_NUM_THREADS` if it is set (an error if it is not a
    /// positive whole number), on top of this builder.
    ///
    /// ```
    /// # fn main() -> keel_runtime::Result<()> {
    /// let runtime = keel_runtime::RuntimeBuilder::new().from_env()?.build()?;
    /// assert!(runtime.threads() >= 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env(mut self) -> Result<Self> {
        match std::env::var(THREADS_ENV) {
            Ok(value) => {
                let threads = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| Error::InvalidThreadsEnv {
                        found: value.clone(),
                    })?;
                self.threads = Some(threads);
                Ok(self)
            }
            Err(std::env::VarError::NotPresent) => Ok(self),
            Err(std::env::VarError::NotUnicode(raw)) => Err(Error::InvalidThreadsEnv {
                found: raw.to_string_lossy().into_owned(),
            }),
        }
    }

    /// The runtime. Its helper threads start when a job first needs them.
    pub fn build(self) -> Result<Runtime> {
        let (threads, adaptive) = match self.threads {
            Some(0) => return Err(Error::ZeroThreads),
            Some(n) => (n, false),
            None => (available_cpus(), true),
        };
        Ok(Runtime {
            inner: Arc::new(Inner {
                threads,
                adaptive,
                executor: Executor::new(threads - 1, available_cpus()),
                arena: Arena::new(self.arena_budget.unwrap_or(DEFAULT_BUDGET)),
            }),
        })
    }

    /// Builds the runtime and makes it the default one, used wherever no runtime is
    /// installed. An error if the default runtime already exists (it is made on first use).
    pub fn build_global(self) -> Result<Runtime> {
        let runtime = self.build()?;
        let mut fresh = false;
        let global = GLOBAL.get_or_init(|| {
            fresh = true;
            runtime.clone()
        });
        if fresh {
            Ok(global.clone())
        } else {
            Err(Error::GlobalExists {
                threads: global.threads(),
            })
        }
    }
}

/// The CPUs this process may use: its affinity mask and cgroup CPU quota, as the standard
/// library reads them; 1 if they cannot be read.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

static GLOBAL: OnceLock<Runtime> = OnceLock::new();

/// The default runtime, made from `KEEL_NUM_THREADS` on first use.
fn try_global_ref() -> Result<&'static Runtime> {
    if let Some(global) = GLOBAL.get() {
        return Ok(global);
    }
    let runtime = RuntimeBuilder::new().from_env()?.build()?;
    Ok(GLOBAL.get_or_init(|| runtime))
}

fn global_ref() -> &'static Runtime {
    try_global_ref().unwrap_or_else(|error| {
        eprintln!("keel: {error}; using the CPU count instead");
        GLOBAL.get_or_init(|| RuntimeBuilder::new().build().expect("the default builds"))
    })
}

thread_local! {
    /// The runtimes installed on this thread, innermost last.
    static INSTALLED: RefCell<Vec<Runtime>> = const { RefCell::new(Vec::new()) };
    /// This thread's cap on the threads its jobs use; 0 for none.
    static CAP: Cell<usize> = const { Cell::new(0) };
}

impl Runtime {
    /// A builder: `Runtime::builder().threads(4).build()`.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::new()
    }

    /// The default runtime: `KEEL_NUM_THREADS` threads if set, else the CPUs this process
    /// may use; or the one made by [`RuntimeBuilder::build_global`]. An error if
    /// `KEEL_NUM_THREADS` is not a positive whole number.
    pub fn try_global() -> Result<Runtime> {
        try_global_ref().cloned()
    }

    /// [`try_global`](Self::try_global), falling back to the CPU count (with a warning on
    /// standard error) when `KEEL_NUM_THREADS` is invalid; `fit`, `evaluate` and `predict`
    /// return that error before they start.
    pub fn global() -> Runtime {
        global_ref().clone()
    }

    /// The runtime installed on this thread, else the default one.
    pub fn current() -> Runtime {
        Self::with_current(Runtime::clone)
    }

    /// Calls `f` with the current runtime (see [`current`](Self::current)), without
    /// cloning the handle.
    pub fn with_current<R>(f: impl FnOnce(&Runtime) -> R) -> R {
        let installed = INSTALLED.with(|stack| stack.borrow().last().cloned());
        match installed {
            Some(runtime) => f(&runtime),
            None => f(global_ref()),
        }
    }

    /// Runs `f` with this runtime installed on the calling thread: every Keel operation
    /// that `f` runs on this thread uses its threads and buffers. Installs nest.
    pub fn install<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Uninstall;
        impl Drop for Uninstall {
            fn drop(&mut self) {
                INSTALLED.with(|stack| stack.borrow_mut().pop());
            }
        }
        INSTALLED.with(|stack| stack.borrow_mut().push(self.clone()));
        let _uninstall = Uninstall;
        f()
    }

    /// The threads this runtime's jobs are shared between (the caller counts as one).
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    /// True when the thread count is the default (not set by the user): `fit` then runs
    /// steps on one thread while it measures that sharing them is slower, as on a machine
    /// busy with other work. A count the user set is always used as it is.
    pub fn adapts(&self) -> bool {
        self.inner.adaptive
    }

    /// Gives the arena's free buffers back to the allocator.
    pub fn trim(&self) {
        self.inner.arena.trim();
    }

    /// Bytes of free buffers the arena holds now.
    pub fn arena_bytes(&self) -> usize {
        self.inner.arena.bytes()
    }

    /// The arena's byte budget.
    pub fn arena_budget(&self) -> usize {
        self.inner.arena.budget()
    }

    /// Pieces of work the helper threads (not the calling threads) have run so far: a
    /// diagnostic that shows the work was actually shared.
    pub fn pieces_run_by_helpers(&self) -> u64 {
        self.inner.executor.helper_pieces()
    }

    /// Helper threads started so far (they start when a job first needs them).
    pub fn helpers_started(&self) -> usize {
        self.inner.executor.started()
    }

    /// The threads a job started on this thread may use now.
    fn allowed_threads(&self) -> usize {
        match CAP.with(Cell::get) {
            0 => self.inner.threads,
            cap => self.inner.threads.min(cap),
        }
    }

    pub(crate) fn for_each_piece<P: Send>(
        &self,
        pieces: impl IntoIterator<Item = P>,
        task: impl Fn(P) + Sync,
    ) {
        let mut pieces = pieces.into_iter().peekable();
        let threads = if executor::in_task() {
            1
        } else {
            self.allowed_threads()
        };
        while pieces.peek().is_some() {
            let mut round: arrayvec::ArrayVec<Option<P>, MAX_PIECES> =
                pieces.by_ref().take(MAX_PIECES).map(Some).collect();
            let helpers = threads.min(round.len()).saturating_sub(1);
            let base = ItemsPtr(round.as_mut_ptr());
            let run = |i: usize| {
                // SAFETY: `i < round.len()` (the job's count), and the executor hands every
                // index to exactly one thread, once, so this `&mut` is the only reference to
                // item `i` while it lives. `round` is borrowed mutably for the whole call,
                // which returns only after every task has finished, so the item outlives it.
                // `P: Send` makes handing it to another thread sound.
                let item = unsafe { &mut *base.at(i) };
                task(item.take().expect("each piece is claimed once"))
            };
            self.inner.executor.run(round.len(), helpers, &run);
        }
    }

    pub(crate) fn arena(&self) -> &Arena {
        &self.inner.arena
    }
}

/// The items' base pointer, shared with the helpers for the duration of one call.
struct ItemsPtr<T>(*mut T);

impl<T> ItemsPtr<T> {
    fn at(&self, i: usize) -> *mut T {
        self.0.wrapping_add(i)
    }
}

// SAFETY: the pointer is only used to reach items of a mutably borrowed `[Option<P>]` with
// `P: Send`, each from one thread at a time (see `Runtime::for_each_piece`).
unsafe impl<T: Send> Sync for ItemsPtr<T> {}

/// Caps the threads that jobs started from this thread use (`None` lifts the cap).
pub(crate) fn set_thread_cap(cap: Option<usize>) {
    CAP.with(|c| c.set(cap.unwrap_or(0)));
}

/// This thread's cap, if any.
pub(crate) fn thread_cap() -> Option<usize> {
    Some(CAP.with(Cell::get)).filter(|&c| c > 0)
}
