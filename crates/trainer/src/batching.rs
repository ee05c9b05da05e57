//! Batches whose feature buffers come from the runtime's buffer arena.

use keel_data::{Batch, BatchTargets, Dataset};
use keel_runtime::buffers as pool;

/// The samples at `indices`, gathered into a pooled buffer: the tape returns it to the pool
/// when the step's tape is dropped, so the next batch of the same size reuses it.
///
/// Gathering a batch starts a step of the arena (training, evaluation and prediction all
/// gather here): lengths the last step did not use go back to the allocator.
pub(crate) fn gather_pooled(data: &Dataset, indices: &[usize]) -> Batch {
    pool::end_step();
    let mut batch = Batch {
        x: pool::tensor_for_overwrite(&[indices.len() * data.sample_size()]),
        y: BatchTargets::Classes(Vec::new()),
    };
    data.gather_into(indices, &mut batch);
    batch
}
