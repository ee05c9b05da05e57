//! Batches whose feature buffers come from the autograd buffer pool.

use crate::Sequential;
use keel_autograd::pool;
use keel_data::{Batch, BatchTargets, Dataset};

/// The samples at `indices`, gathered into a pooled buffer: the tape returns it to the pool
/// when the step's tape is dropped, so the next batch of the same size reuses it.
pub(crate) fn gather_pooled(data: &Dataset, indices: &[usize]) -> Batch {
    let mut batch = Batch {
        x: pool::tensor_for_overwrite(&[indices.len() * data.sample_size()]),
        y: BatchTargets::Classes(Vec::new()),
    };
    data.gather_into(indices, &mut batch);
    batch
}

/// Runs `f` on a rayon worker thread when `pooled`. A training step's large products
/// split in two halves under `rayon::join`; from a worker, the first half runs inline and
/// only the second is handed over, where from the caller's own thread every product would
/// wake two workers and park the caller. One hand-off per step then replaces two per
/// product; for a model with no product large enough to split the hand-off is pure cost.
pub(crate) fn on_pool_worker<R: Send>(pooled: bool, f: impl FnOnce() -> R + Send) -> R {
    if pooled && rayon::current_thread_index().is_none() {
        rayon::join(f, || ()).0
    } else {
        f()
    }
}

/// Whether a training step of `model` at `batch_size` has a product that
/// `keel_autograd::matmul_into` splits across threads (a kernel `[k, n]` times a batch).
pub(crate) fn steps_split_products(model: &Sequential, batch_size: usize) -> bool {
    model
        .named_params()
        .iter()
        .any(|(_, p)| match p.value().shape() {
            &[k, n] => keel_autograd::splits_across_threads(batch_size, k, n),
            _ => false,
        })
}
