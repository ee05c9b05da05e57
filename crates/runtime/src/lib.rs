//! Keel's execution runtime: the threads a training step is shared between, the buffers it
//! reuses, and the one plan for cutting work into pieces.
//!
//! - [`Runtime`] owns a thread count, helper threads (started when first needed, spinning
//!   briefly between the pieces of a step, parked when idle) and an arena of reused `f32`
//!   buffers with a byte budget. Build one with [`Runtime::builder`] and
//!   [`install`](Runtime::install) it around the work, or pass it to `fit` through
//!   `FitOptions::runtime`; elsewhere the default runtime is used, sized by
//!   `KEEL_NUM_THREADS` or else by the CPUs this process may use.
//! - [`plan`] says how every kind of work is cut: by its size alone, so results are
//!   bit-identical whatever the thread count.
//! - [`for_each_piece`] and [`buffers`] are the building blocks Keel's own crates run on.
//! - [`StepTuner`] lets a training loop run on one thread while sharing measures slower.
//!
//! Two models may train at once in one process, on one runtime or on two. A call made while
//! the runtime's helpers are busy with another caller's job runs on its own thread, and a
//! call made from inside a piece runs serially: nothing waits for anything but pieces
//! already running, so no combination of callers deadlocks.

mod arena;
pub mod buffers;
mod error;
mod executor;
pub mod plan;
mod runtime;
mod sync;
mod tuner;

pub use error::{Error, Result};
pub use runtime::{available_cpus, Runtime, RuntimeBuilder, THREADS_ENV};
pub use tuner::StepTuner;

/// Runs `task` on every piece, on the current runtime's threads (the calling thread always
/// works too). The calling thread takes pieces from the front and helpers from the back,
/// each as soon as it is free, so a slow core takes fewer while each core keeps to its end
/// of the work from one call to the next; each piece runs exactly once, and the call returns
/// when all have. Called from inside a piece, it runs the pieces on the calling thread. A
/// panic in a task stops the handing out of pieces and is raised again here once no task
/// is running.
///
/// Pieces are typically disjoint parts of buffers, cut by [`plan`]:
///
/// ```
/// let mut data = vec![1.0f32; 100_000];
/// let run = keel_runtime::plan::runs(data.len());
/// keel_runtime::for_each_piece(data.chunks_mut(run), |chunk| {
///     chunk.iter_mut().for_each(|x| *x *= 2.0)
/// });
/// assert!(data.iter().all(|&x| x == 2.0));
/// ```
pub fn for_each_piece<P: Send>(pieces: impl IntoIterator<Item = P>, task: impl Fn(P) + Sync) {
    Runtime::with_current(|runtime| runtime.for_each_piece(pieces, task));
}
