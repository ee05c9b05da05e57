//! `DataParallel`: what one member of a group does in data-parallel `fit`.

use super::Collective;
use crate::metrics::MetricTracker;
use crate::{Error, Result, Sequential};
use keel_autograd::{Gradients, Param, ParamId, ParamPath, Tensor};
use std::time::{Duration, Instant};

/// The most values summed in one call: Open MPI's default allreduce allocates per call
/// above ~32 MiB, so a model's gradients go in buckets of at most 25 MiB.
const BUCKET_VALUES: usize = 25 * 1024 * 1024 / 4;

/// One member's side of data-parallel training: its share of each batch, and the sums
/// that keep every member's model identical.
pub(crate) struct DataParallel<'a> {
    group: &'a mut (dyn Collective + 'static),
    /// One receive buffer per gradient and moving-statistics update, shaped like it, kept
    /// between steps: a step's sums land here and are swapped with the step's tensors.
    received: Vec<Tensor>,
    /// The last step's time waiting for the slowest member, and in the sums.
    last_wait: Duration,
    last_sync: Duration,
}

impl std::fmt::Debug for DataParallel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataParallel")
            .field("rank", &self.group.rank())
            .field("size", &self.group.size())
            .finish_non_exhaustive()
    }
}

impl<'a> DataParallel<'a> {
    pub(crate) fn new(group: &'a mut (dyn Collective + 'static)) -> Self {
        DataParallel {
            group,
            received: Vec::new(),
            last_wait: Duration::ZERO,
            last_sync: Duration::ZERO,
        }
    }

    pub(crate) fn rank(&self) -> usize {
        self.group.rank()
    }

    /// Member 0, which writes progress, files and checkpoints.
    pub(crate) fn is_chief(&self) -> bool {
        self.group.rank() == 0
    }

    pub(crate) fn group(&mut self) -> &mut dyn Collective {
        &mut *self.group
    }

    /// The rows of a global batch of `len` that this member trains on.
    pub(crate) fn share(&self, len: usize) -> std::ops::Range<usize> {
        super::share(0, len, self.group.rank(), self.group.size())
    }

    /// Whether any member says `yes` (a stop decision every member must take together).
    pub(crate) fn any(&mut self, operation: &'static str, yes: bool) -> Result<bool> {
        super::any(&mut *self.group, operation, yes)
    }

    /// The last step's time in the gradient sum (preparing and swapping included), and
    /// waiting for the slowest member before it.
    pub(crate) fn last_sync(&self) -> (Duration, Duration) {
        (self.last_sync, self.last_wait)
    }

    /// Turns this member's step (means over its `local` rows of a `global`-row batch) into
    /// the whole batch's: the gradients of `params`, the loss and the recorded moving-
    /// statistics updates become the sums over the group of each times `local / global`.
    /// The gradients come scaled already (backward starts from `local / global`, see
    /// `Var::backward_scaled`); the loss and updates are scaled here. A member with no rows
    /// passes `local = 0` (its values, from a stand-in row, count nothing). Every member
    /// ends with the same bits.
    ///
    /// Each tensor is summed from where it lies into a kept receive buffer of its shape,
    /// and the two are swapped: no packing into one buffer and no copy back (for W2 they
    /// took 0.23 ms a step, half as long as the sum; `docs/performance.md`).
    pub(crate) fn sum_step(
        &mut self,
        params: &[(ParamPath, &Param)],
        grads: &mut Gradients,
        loss: &mut f32,
        updates: &mut [(ParamId, Tensor)],
        local: usize,
        global: usize,
    ) -> Result<()> {
        let started = Instant::now();
        let weight = local as f32 / global as f32;
        for (_, param) in params {
            match grads.by_id_mut(param.id()) {
                Some(g) => make_standard(g),
                // A parameter the loss does not reach on this member still takes part.
                None => grads.insert(param.id(), Tensor::zeros(param.value().shape())),
            }
        }
        for (_, value) in updates.iter_mut() {
            make_standard(value);
            value.mapv_inplace(|v| v * weight);
        }
        // The tensors summed, in the same order on every member: gradients, then updates.
        let grads_ref = &*grads;
        let sources = || {
            let gradients = params.iter().map(|(_, param)| {
                grads_ref
                    .by_id(param.id())
                    .expect("every parameter has a gradient now")
            });
            gradients.chain(updates.iter().map(|(_, u)| u))
        };
        let count = params.len() + updates.len();
        self.received.truncate(count);
        for (i, source) in sources().enumerate() {
            match self.received.get_mut(i) {
                Some(r) if r.shape() == source.shape() => {}
                Some(r) => *r = Tensor::zeros(source.shape()),
                None => self.received.push(Tensor::zeros(source.shape())),
            }
        }
        let loss_share = [*loss * weight];
        let mut loss_sum = [0.0f32];

        let arriving = Instant::now();
        self.group.arrive("wait for every process")?;
        self.last_wait = arriving.elapsed();
        let mut pairs: Vec<(&[f32], &mut [f32])> = Vec::with_capacity(count + 1);
        for (source, received) in sources().zip(self.received.iter_mut()) {
            let values = source.as_slice().expect("prepared in standard layout");
            let sums = received.as_slice_mut().expect("made in standard layout");
            pairs.extend(
                values
                    .chunks(BUCKET_VALUES)
                    .zip(sums.chunks_mut(BUCKET_VALUES)),
            );
        }
        pairs.push((&loss_share, &mut loss_sum));
        self.group.sum_f32_each("sum the gradients", &mut pairs)?;
        drop(pairs);

        let mut received = self.received.iter_mut();
        for (_, param) in params {
            let g = grads.by_id_mut(param.id()).expect("inserted above");
            std::mem::swap(g, received.next().expect("one per tensor"));
        }
        for (_, value) in updates.iter_mut() {
            std::mem::swap(value, received.next().expect("one per tensor"));
        }
        *loss = loss_sum[0];
        self.last_sync = started.elapsed() - self.last_wait;
        Ok(())
    }

    /// Member 0's checkpoint to resume from, on every member (`None` if it has none).
    pub(crate) fn broadcast_state(
        &mut self,
        state: Option<crate::TrainingState>,
    ) -> Result<Option<crate::TrainingState>> {
        let mut bytes = match (&state, self.is_chief()) {
            (Some(state), true) => state.to_bytes(),
            _ => Vec::new(),
        };
        self.group
            .broadcast("broadcast the checkpoint", &mut bytes)?;
        match bytes.is_empty() {
            true => Ok(None),
            false => crate::TrainingState::from_bytes(&bytes).map(Some),
        }
    }

    /// Makes every member's weights member 0's.
    pub(crate) fn broadcast_weights(&mut self, model: &mut Sequential) -> Result<()> {
        let mut weights = model.get_weights();
        let len: usize = weights.iter().map(Tensor::len).sum();
        let mut bytes = Vec::new();
        if self.is_chief() {
            for w in &weights {
                bytes.extend(w.iter().flat_map(|v| v.to_le_bytes()));
            }
        }
        self.group.broadcast("broadcast the weights", &mut bytes)?;
        if bytes.len() != 4 * len {
            return Err(Error::ReplicasDiverged {
                what: "model sizes",
                when: "before training".into(),
            });
        }
        let mut values = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        for w in &mut weights {
            w.iter_mut().zip(values.by_ref()).for_each(|(v, r)| *v = r);
        }
        model.set_weights(weights)
    }

    /// Checks that every member runs the same `fit`: the same numbers of samples, batch
    /// size, epochs and steps, shuffling and seed, and weights of the same sizes (members
    /// that disagree would call different collectives and wait for each other forever).
    ///
    /// # Errors
    /// [`Error::ReplicasDiverged`] when they differ.
    pub(crate) fn check_same_run(&mut self, numbers: &[u64]) -> Result<()> {
        let mut hasher = crc32fast::Hasher::new();
        for n in numbers {
            hasher.update(&n.to_le_bytes());
        }
        let (lo, hi) = self
            .group
            .min_max("compare the runs", u64::from(hasher.finalize()))?;
        match lo == hi {
            true => Ok(()),
            false => Err(Error::ReplicasDiverged {
                what: "data, fit options or models (numbers of training and validation \
                       samples, batch size, epochs, steps, shuffling, seed or weight sizes)",
                when: "before training: every process must run the same fit".into(),
            }),
        }
    }

    /// Checks that every member holds the same weights and random state, by checksum.
    ///
    /// # Errors
    /// [`Error::ReplicasDiverged`] when they differ (`when` says at which point).
    pub(crate) fn check_in_step(
        &mut self,
        model: &Sequential,
        rng: &crate::fit::FitRng,
        when: impl FnOnce() -> String,
    ) -> Result<()> {
        // Hashed in place, through a small buffer: no copy of the weights.
        let mut hasher = crc32fast::Hasher::new();
        let mut bytes = Vec::with_capacity(4096);
        for (_, param) in model.named_params() {
            for v in param.value() {
                bytes.extend_from_slice(&v.to_le_bytes());
                if bytes.len() == bytes.capacity() {
                    hasher.update(&bytes);
                    bytes.clear();
                }
            }
        }
        hasher.update(&bytes);
        let weights = u64::from(hasher.finalize());
        let rng_state = bincode::serde::encode_to_vec(rng, bincode::config::standard())
            .expect("a ChaCha state serializes");
        let rng_sum = u64::from(crc32fast::hash(&rng_state));
        let (lo, hi) = self
            .group
            .min_max("compare the weights", weights << 32 | rng_sum)?;
        if lo == hi {
            return Ok(());
        }
        let what = if lo >> 32 != hi >> 32 {
            "weights"
        } else {
            "random states"
        };
        Err(Error::ReplicasDiverged { what, when: when() })
    }

    /// The loss and metrics of `model` on `data`: every member evaluates its share of the
    /// samples and the group sums the counts, so every member gets the same numbers (those
    /// of the whole set, up to the order of the loss's sums).
    ///
    /// # Errors
    /// The evaluation or the sum failed.
    pub(crate) fn evaluate(
        &mut self,
        model: &Sequential,
        data: &keel_data::Dataset,
        batch_size: usize,
    ) -> Result<MetricTracker> {
        let mut tracker = model.metric_tracker(data)?;
        model.evaluate_into(data, self.share(data.len()), batch_size, &mut tracker)?;
        let mut counts = tracker.counts_with_loss();
        self.group
            .sum_f64("sum the validation metrics", &mut counts)?;
        tracker.set_counts_with_loss(&counts);
        Ok(tracker)
    }

    /// Replaces this member's metric counts (hits, samples, confusion) with the group's
    /// sums; the loss is the group's already.
    pub(crate) fn sum_metrics(&mut self, means: &mut MetricTracker) -> Result<()> {
        let mut counts = means.metric_counts();
        self.group.sum_f64("sum the metrics", &mut counts)?;
        means.set_metric_counts(&counts);
        Ok(())
    }
}

/// Puts `tensor` in standard layout, so it can be summed as one slice (a no-op for what
/// backward returns).
fn make_standard(tensor: &mut Tensor) {
    if tensor.as_slice().is_none() {
        *tensor = tensor.as_standard_layout().into_owned();
    }
}
