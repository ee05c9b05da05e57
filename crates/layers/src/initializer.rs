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

/// Keras's `compute_fans`: `(fan_in, fan_out)` of a kernel, the last two axes scaled by the
/// receptive field (the product of the axes before them); both the size of a vector.
fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [field @ .., fan_in, fan_out] => {
            let field: usize = field.iter().product();
            (fan_in * field, fan_out * field)
        }
    }
}

impl Initializer {
    /// Checks the initializer's arguments for layer `layer`'s argument `parameter`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a `RandomNormal` with a
    /// non-finite mean or a negative or non-finite stddev.
    ///
    /// ```
    /// use keel_layers::Initializer;
    /// assert!(Initializer::GlorotUniform.validate("conv2d", "kernel_initializer").is_ok());
    /// let bad = Initializer::RandomNormal { mean: 0.0, stddev: -1.0 };
    /// assert!(bad.validate("conv2d", "kernel_initializer").is_err());
    /// ```
    pub fn validate(self, layer: &str, parameter: &'static str) -> crate::Result<()> {
        if let Initializer::RandomNormal { mean, stddev } = self {
            if !(mean.is_finite() && stddev.is_finite() && stddev >= 0.0) {
                return Err(crate::Error::InvalidArgument {
                    layer: layer.into(),
                    parameter,
                    expected: "RandomNormal with a finite mean and a finite stddev >= 0",
                    found: format!("mean {mean}, stddev {stddev}"),
                });
            }
        }
        Ok(())
    }

    /// A tensor of `shape` filled by this initializer. For a kernel `[fan_in, fan_out]`; a
    /// convolution kernel `[kh, kw, in, out]` has Keras's fans `kh * kw * in` and
    /// `kh * kw * out`.
    ///
    /// ```
    /// use keel_layers::Initializer;
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let w = Initializer::GlorotUniform.sample(&[784, 32], &mut rng);
    /// let limit = (6.0f32 / (784.0 + 32.0)).sqrt();
    /// assert!(w.iter().all(|v| v.abs() <= limit));
    /// let conv = Initializer::GlorotUniform.sample(&[3, 3, 1, 32], &mut rng);
    /// let limit = (6.0f32 / (9.0 + 9.0 * 32.0)).sqrt();
    /// assert!(conv.iter().all(|v| v.abs() <= limit));
    /// assert!(conv.iter().any(|v| v.abs() > 0.9 * limit));
    /// ```
    pub fn sample(self, shape: &[usize], rng: &mut StdRng) -> Tensor {
        let (fan_in, fan_out) = fans(shape);
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
