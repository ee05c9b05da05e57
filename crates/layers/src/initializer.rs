//! Weight initializers, with Keras's names and formulas.

use keel_autograd::Tensor;
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// How a weight tensor is filled when its layer is built.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum Initializer {
    /// Uniform in `[-l, l]` with `l = sqrt(6 / (fan_in + fan_out))` (Glorot & Bengio, 2010).
    /// The default kernel initializer, as in Keras.
    #[default]
    GlorotUniform,
    /// Uniform in `[-l, l]` with `l = sqrt(6 / fan_in)` (He et al., 2015).
    HeUniform,
    /// Normal with the given mean and standard deviation.
    RandomNormal {
        /// The mean.
        mean: f32,
        /// The standard deviation.
        stddev: f32,
    },
    /// All zeros. The default bias initializer.
    Zeros,
    /// All ones.
    Ones,
}

impl Initializer {
    /// A tensor of `shape` filled by this initializer. For a kernel `[fan_in, fan_out]`.
    ///
    /// ```
    /// use keel_layers::Initializer;
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let w = Initializer::GlorotUniform.sample(&[784, 32], &mut rng);
    /// let limit = (6.0f32 / (784.0 + 32.0)).sqrt();
    /// assert!(w.iter().all(|v| v.abs() <= limit));
    /// ```
    pub fn sample(self, shape: &[usize], rng: &mut StdRng) -> Tensor {
        let fan_in = if shape.len() >= 2 {
            shape[0]
        } else {
            shape.iter().product()
        };
        let fan_out = shape.last().copied().unwrap_or(1);
        let uniform = |limit: f32, rng: &mut StdRng| {
            Tensor::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-limit..=limit))
        };
        match self {
            Initializer::GlorotUniform => uniform((6.0 / (fan_in + fan_out) as f32).sqrt(), rng),
            Initializer::HeUniform => uniform((6.0 / fan_in as f32).sqrt(), rng),
            Initializer::RandomNormal { mean, stddev } => {
                let normal = Normal::new(mean, stddev.abs()).unwrap_or_else(|_| {
                    Normal::new(0.0, 0.0).expect("a zero-width normal is always valid")
                });
                Tensor::from_shape_simple_fn(IxDyn(shape), || normal.sample(rng))
            }
            Initializer::Zeros => Tensor::zeros(IxDyn(shape)),
            Initializer::Ones => Tensor::ones(IxDyn(shape)),
        }
    }
}
