//! The peer workloads, exactly as `shared/peers/README.md` defines them.

use keel::prelude::*;

/// A named peer workload.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Workload {
    /// Flatten → Dense(32, relu) → Dropout(0.2) → Dense(10, softmax); batch 32, 10 epochs.
    W1,
    /// Flatten → Dense(512, relu) → Dropout(0.2) → Dense(512, relu) → Dropout(0.2) →
    /// Dense(10, softmax); batch 128, 3 epochs.
    W2,
}

/// What a workload trains.
pub struct Spec {
    /// Hidden layer widths, each followed by Dropout(0.2).
    pub hidden: Vec<usize>,
    /// Samples per step.
    pub batch_size: usize,
    /// Default epoch count.
    pub epochs: usize,
}

impl Workload {
    /// The peers' name for it.
    pub fn name(self) -> &'static str {
        match self {
            Workload::W1 => "w1",
            Workload::W2 => "w2",
        }
    }

    /// The workload's definition.
    pub fn spec(self) -> Spec {
        match self {
            Workload::W1 => Spec {
                hidden: vec![32],
                batch_size: 32,
                epochs: 10,
            },
            Workload::W2 => Spec {
                hidden: vec![512, 512],
                batch_size: 128,
                epochs: 3,
            },
        }
    }
}

impl Spec {
    /// The workload's model, built through the public API.
    pub fn model(&self, seed: u64) -> Sequential {
        let mut model = Sequential::new([28, 28]).add(Flatten::new());
        for &units in &self.hidden {
            model = model
                .add(Dense::new(units).activation(Activation::Relu))
                .add(Dropout::new(0.2));
        }
        model
            .add(Dense::new(10).activation(Activation::Softmax))
            .seed(seed)
    }
}
