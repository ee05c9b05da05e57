//! The in-memory last-good state a rollback returns to.

use crate::fit::FitRng;
use crate::metrics::MetricTracker;
use crate::{Error, Result, Sequential};
use keel_autograd::Tensor;
use keel_optim::OptimizerSnapshot;

/// Everything a rollback restores: the weights, the optimizer's state (moments, step counter,
/// clipping state, learning rate), the run's RNG, the epoch's running metrics, and where in
/// the epoch training was.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    weights: Vec<Tensor>,
    optimizer: OptimizerSnapshot,
    rng: FitRng,
    means: MetricTracker,
    /// The 0-based batch of the epoch that training resumes from.
    pub(crate) batch: usize,
}

impl Snapshot {
    /// Copies the state of `model` and the loop; `reuse` lends the buffers of an older
    /// snapshot of the same model, so a steady run allocates no weight copies.
    pub(crate) fn take(
        model: &Sequential,
        rng: &FitRng,
        means: &MetricTracker,
        batch: usize,
        reuse: Option<Snapshot>,
    ) -> Result<Snapshot> {
        let compiled = model
            .compiled
            .as_ref()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        let params = model.named_params();
        let mut weights = reuse.map(|s| s.weights).unwrap_or_default();
        let fits = weights.len() == params.len()
            && weights
                .iter()
                .zip(&params)
                .all(|(w, (_, p))| w.shape() == p.value().shape());
        if fits {
            for (w, (_, p)) in weights.iter_mut().zip(&params) {
                w.assign(p.value());
            }
        } else {
            weights = params.iter().map(|(_, p)| p.value().clone()).collect();
        }
        Ok(Snapshot {
            weights,
            optimizer: compiled.optimizer.snapshot(),
            rng: rng.clone(),
            means: means.clone(),
            batch,
        })
    }

    /// Puts `model`, `rng` and `means` back as they were when the snapshot was taken. The
    /// weights are copied into the parameters' own buffers, bit for bit.
    pub(crate) fn restore(
        &self,
        model: &mut Sequential,
        rng: &mut FitRng,
        means: &mut MetricTracker,
    ) -> Result<()> {
        let compiled = model
            .compiled
            .as_mut()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        compiled.optimizer.restore(&self.optimizer)?;
        for (w, (_, p)) in self.weights.iter().zip(model.named_params_mut()) {
            p.value_mut().assign(w);
        }
        rng.clone_from(&self.rng);
        means.set_counts_from(&self.means);
        Ok(())
    }

    /// The optimizer's step counter at the snapshot.
    #[cfg(test)]
    pub(crate) fn iterations(&self) -> u64 {
        self.optimizer.iterations()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FitOptions, Loss};
    use keel_data::{Dataset, Targets};
    use keel_layers::{Activation, Dense};
    use keel_optim::Adam;
    use rand::{Rng, SeedableRng};

    fn bits(model: &Sequential) -> Vec<Vec<u32>> {
        let params = model.named_params();
        params
            .iter()
            .map(|(_, p)| p.value().iter().map(|v| v.to_bits()).collect())
            .collect()
    }

    #[test]
    fn restore_gives_back_the_weights_optimizer_rng_and_metrics_bit_for_bit() {
        let x = ndarray::Array2::from_shape_fn((32, 3), |(i, j)| ((i * 5 + j) % 7) as f32 - 3.0);
        let y = (0..32).map(|i| (i % 3) as u32).collect();
        let data = Dataset::from_f32(x.into_dyn(), Targets::Classes(y)).unwrap();
        let mut model = Sequential::new([3])
            .add(Dense::new(4).activation(Activation::Relu))
            .add(Dense::new(3).activation(Activation::Softmax));
        model
            .compile(Adam::new(0.01), Loss::SparseCategoricalCrossentropy, &[])
            .unwrap();
        let options = || FitOptions::new().batch_size(8).verbose(0);
        model.fit(&data, options()).unwrap();
        let mut rng = FitRng::seed_from_u64(9);
        let mut means = model.metric_tracker(&data).unwrap();
        means.add_loss(0.5, 8);
        let snapshot = Snapshot::take(&model, &rng, &means, 2, None).unwrap();
        let (weights, optimizer) = (bits(&model), model.optimizer().unwrap().snapshot());

        model.fit(&data, options()).unwrap();
        let _: u64 = rng.random();
        means.add_loss(3.0, 8);
        assert_ne!(bits(&model), weights);

        snapshot.restore(&mut model, &mut rng, &mut means).unwrap();
        assert_eq!(bits(&model), weights);
        assert_eq!(model.optimizer().unwrap().snapshot(), optimizer);
        assert_eq!(snapshot.iterations(), 4);
        assert_eq!(means.loss(), 0.5);
        let mut expected_rng = FitRng::seed_from_u64(9);
        assert_eq!(rng.random::<u64>(), expected_rng.random::<u64>());
        // A second snapshot reuses the first one's buffers.
        let again = Snapshot::take(&model, &rng, &means, 0, Some(snapshot)).unwrap();
        assert_eq!(again.batch, 0);
    }
}
