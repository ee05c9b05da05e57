//! Shared fixtures of the trainer's integration tests.
#![allow(dead_code)]

use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D, Reshape};
use keel_optim::Adam;
use keel_trainer::{Loss, Metric, Sequential};

/// The first `n` MNIST training images: a small subset of real data.
pub fn mnist_subset(n: usize) -> Dataset {
    let mnist = keel_data::mnist::load_default().expect("the bundled MNIST");
    mnist.train.slice(0..n).expect("subset")
}

/// The seed model, compiled.
pub fn seed_model(seed: u64) -> Sequential {
    dropout_mlp(&[32], seed)
}

/// Flatten → (Dense(units, relu) → Dropout(0.2)) per hidden width → Dense(10, softmax) on
/// 28 × 28 inputs, compiled with Adam(1e-3) and sparse categorical cross-entropy.
pub fn dropout_mlp(hidden: &[usize], seed: u64) -> Sequential {
    let mut model = Sequential::new([28, 28]).add(Flatten::new());
    for &units in hidden {
        model = model
            .add(Dense::new(units).activation(Activation::Relu))
            .add(Dropout::new(0.2));
    }
    let mut model = model
        .add(Dense::new(10).activation(Activation::Softmax))
        .seed(seed);
    model
        .compile(
            Adam::new(1e-3),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .expect("compile");
    model
}

/// Two Gaussian-free, linearly separable clusters in 2-D: label = (x0 + x1 > 0).
pub fn two_clusters(n: usize) -> (ndarray::ArrayD<f32>, Vec<u32>) {
    let x = ndarray::Array2::from_shape_fn((n, 2), |(i, j)| {
        let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
        sign * (0.5 + ((i * 37 + j * 11) % 17) as f32 / 17.0)
    });
    let y = (0..n).map(|i| (i % 2 == 0) as u32).collect();
    (x.into_dyn(), y)
}

/// [`two_clusters`] as a dataset with class labels.
pub fn two_cluster_classes(n: usize) -> Dataset {
    let (x, y) = two_clusters(n);
    Dataset::from_f32(x, Targets::Classes(y)).expect("dataset")
}

/// Keras's "simple MNIST convnet" (workload W4), uncompiled.
pub fn w4_convnet() -> Sequential {
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
