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
    /// Keras's simple MNIST convnet: Reshape(28, 28, 1) → Conv2D(32, 3×3, relu) →
    /// MaxPooling2D(2) → Conv2D(64, 3×3, relu) → MaxPooling2D(2) → Flatten → Dropout(0.5) →
    /// Dense(10, softmax); batch 128, 3 epochs.
    W4,
}

/// What a workload trains.
pub struct Spec {
    /// Hidden layer widths, each followed by Dropout(0.2) (for the MLPs).
    pub hidden: Vec<usize>,
    /// Whether this is the convnet W4 (which has no `hidden` widths).
    pub convnet: bool,
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
            Workload::W4 => "w4",
        }
    }

    /// The workload's definition.
    pub fn spec(self) -> Spec {
        match self {
            Workload::W1 => Spec {
                hidden: vec![32],
                convnet: false,
                batch_size: 32,
                epochs: 10,
            },
            Workload::W2 => Spec {
                hidden: vec![512, 512],
                convnet: false,
                batch_size: 128,
                epochs: 3,
            },
            Workload::W4 => Spec {
                hidden: Vec::new(),
                convnet: true,
                batch_size: 128,
                epochs: 3,
            },
        }
    }
}

impl Spec {
    /// The workload's model, built through the public API.
    pub fn model(&self, seed: u64) -> Sequential {
        if self.convnet {
            return convnet().seed(seed);
        }
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

/// W4, Keras's "simple MNIST convnet" (34,826 parameters).
pub fn convnet() -> Sequential {
    Sequential::new([28, 28])
        .add(Reshape::new([28, 28, 1]))
        .add(Conv2D::new(32, (3, 3)).activation(Activation::Relu))
        .add(MaxPooling2D::new((2, 2)))
        .add(Conv2D::new(64, (3, 3)).activation(Activation::Relu))
        .add(MaxPooling2D::new((2, 2)))
        .add(Flatten::new())
        .add(Dropout::new(0.5))
        .add(Dense::new(10).activation(Activation::Softmax))
}
