//! A densely connected layer: `activation(x @ kernel + bias)`.

use crate::kernel_bias;
use crate::{Activation, Ctx, Error, Initializer, Layer, LayerConfig, Regularizer, Result};
use keel_autograd::ops::dense::Pointwise;
use keel_autograd::{Param, Tape, Var};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// The configuration of a [`Dense`] layer (what a checkpoint stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Output features.
    pub units: usize,
    /// Applied to the affine output. Defaults to [`Activation::Linear`].
    pub activation: Activation,
    /// Whether a bias is added. Defaults to `true`.
    pub use_bias: bool,
    /// Defaults to [`Initializer::GlorotUniform`].
    pub kernel_initializer: Initializer,
    /// Defaults to [`Initializer::Zeros`].
    pub bias_initializer: Initializer,
    /// A penalty on the kernel added to the training loss. Defaults to none.
    pub kernel_regularizer: Option<Regularizer>,
    /// A penalty on the bias added to the training loss. Defaults to none.
    pub bias_regularizer: Option<Regularizer>,
}

/// Densely connected layer, as Keras's `Dense(units, activation)`.
///
/// Input `[batch, features]`, output `[batch, units]`; kernel `[features, units]`.
///
/// ```
/// use keel_layers::{Activation, Dense, Layer};
/// use rand::SeedableRng;
/// let mut dense = Dense::new(32).activation(Activation::Relu);
/// let out = dense.build(&[784], &mut rand::rngs::StdRng::seed_from_u64(0))?;
/// assert_eq!(out, vec![32]);
/// assert_eq!(dense.params().len(), 2);
/// # Ok::<(), keel_layers::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dense {
    config: DenseConfig,
    kernel: Option<Param>,
    bias: Option<Param>,
    trainable: bool,
}

impl Dense {
    /// An unbuilt layer with `units` outputs, linear activation, Glorot-uniform kernel and zero bias.
    pub fn new(units: usize) -> Self {
        Dense::from_config(DenseConfig {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
        })
    }

    /// An unbuilt layer from its configuration.
    pub fn from_config(config: DenseConfig) -> Self {
        Dense {
            config,
            kernel: None,
            bias: None,
            trainable: true,
        }
    }

    /// Creates the layer frozen (`false`), as Keras's `Dense(10, trainable=False)`: a model
    /// leaves its weights out of the optimizer's updates. A built model changes it with
    /// `Sequential::set_trainable`.
    ///
    /// ```
    /// use keel_layers::{Dense, Layer};
    /// let frozen = Dense::new(3).trainable(false);
    /// assert!(!frozen.initially_trainable());
    /// ```
    pub fn trainable(mut self, trainable: bool) -> Self {
        self.trainable = trainable;
        self
    }

    /// Sets the activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.config.activation = activation;
        self
    }

    /// Sets whether a bias is used.
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.config.use_bias = use_bias;
        self
    }

    /// Sets the kernel initializer.
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.config.kernel_initializer = init;
        self
    }

    /// Sets the bias initializer.
    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.config.bias_initializer = init;
        self
    }

    /// Adds `regularizer`'s penalty on the kernel to the training loss (Keras's
    /// `kernel_regularizer`).
    ///
    /// ```
    /// use keel_layers::{Activation, Dense, Regularizer};
    /// let dense = Dense::new(32)
    ///     .activation(Activation::Relu)
    ///     .kernel_regularizer(Regularizer::L2(1e-4))
    ///     .bias_regularizer(Regularizer::L1(1e-5));
    /// # let _ = dense;
    /// ```
    pub fn kernel_regularizer(mut self, regularizer: Regularizer) -> Self {
        self.config.kernel_regularizer = Some(regularizer);
        self
    }

    /// Adds `regularizer`'s penalty on the bias to the training loss (Keras's
    /// `bias_regularizer`); ignored without a bias.
    pub fn bias_regularizer(mut self, regularizer: Regularizer) -> Self {
        self.config.bias_regularizer = Some(regularizer);
        self
    }

    /// The fused `activation(x @ kernel + bias)` for an activation whose derivative follows
    /// from its output; softmax, GELU and SiLU are applied after it as ops of their own
    /// (softmax may instead be fused into the loss by the trainer).
    fn fused<'t>(&self, x: Var<'t>, activation: Activation) -> Var<'t> {
        let tape = x.tape();
        let kernel = self.kernel.as_ref().expect("dense: forward before build");
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        let (pointwise, after) = match activation {
            Activation::Relu => (Pointwise::Relu, Activation::Linear),
            Activation::Sigmoid => (Pointwise::Sigmoid, Activation::Linear),
            Activation::Tanh => (Pointwise::Tanh, Activation::Linear),
            Activation::LeakyRelu => {
                let alpha = Activation::LEAKY_RELU_NEGATIVE_SLOPE;
                (Pointwise::LeakyRelu { alpha }, Activation::Linear)
            }
            Activation::Elu => {
                let alpha = Activation::ELU_ALPHA;
                (Pointwise::Elu { alpha }, Activation::Linear)
            }
            Activation::Softplus => (Pointwise::Softplus, Activation::Linear),
            Activation::Linear | Activation::Softmax | Activation::Gelu | Activation::Silu => {
                (Pointwise::Identity, activation)
            }
        };
        after.apply(x.dense(tape.param(kernel), bias, pointwise))
    }
}

/// The most weights one layer may have: an `f32` buffer of them stays within
/// `isize::MAX` bytes, the most one allocation can hold.
pub(crate) const MAX_WEIGHTS: usize = isize::MAX as usize / std::mem::size_of::<f32>();

impl Layer for Dense {
    fn kind(&self) -> &'static str {
        "dense"
    }

    fn initially_trainable(&self) -> bool {
        self.trainable
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        let &[features] = input_shape else {
            return Err(Error::IncompatibleInput {
                layer: "dense".into(),
                expected: "[features] (rank 1; add a Flatten layer first)".into(),
                found: input_shape.to_vec(),
            });
        };
        if self
            .count_params(input_shape)
            .is_none_or(|n| n > MAX_WEIGHTS)
        {
            return Err(Error::InvalidArgument {
                layer: "dense".into(),
                parameter: "units",
                expected: "a kernel [features, units] whose size in bytes fits in isize",
                found: format!("units {} on {features} input features", self.config.units),
            });
        }
        if self.config.units == 0 || features == 0 {
            return Err(Error::InvalidArgument {
                layer: "dense".into(),
                parameter: "units",
                expected: "at least 1, with at least 1 input feature",
                found: format!("units {} on {features} input features", self.config.units),
            });
        }
        let (kernel_init, bias_init) =
            (self.config.kernel_initializer, self.config.bias_initializer);
        kernel_init.validate("dense", "kernel_initializer")?;
        bias_init.validate("dense", "bias_initializer")?;
        if let Some(r) = self.config.kernel_regularizer {
            r.validate("dense", "kernel_regularizer")?;
        }
        if let Some(r) = self.config.bias_regularizer {
            r.validate("dense", "bias_regularizer")?;
        }
        let units = self.config.units;
        self.kernel = Some(Param::new(
            self.config
                .kernel_initializer
                .sample(&[features, units], rng),
        ));
        self.bias = self
            .config
            .use_bias
            .then(|| Param::new(self.config.bias_initializer.sample(&[units], rng)));
        Ok(vec![units])
    }

    fn count_params(&self, input_shape: &[usize]) -> Option<usize> {
        let &[features] = input_shape else {
            return None;
        };
        let units = self.config.units;
        let bias = if self.config.use_bias { units } else { 0 };
        features.checked_mul(units)?.checked_add(bias)
    }

    fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        self.fused(x, self.config.activation)
    }

    fn final_activation(&self) -> Activation {
        self.config.activation.fusable()
    }

    fn forward_logits<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        self.fused(x, self.config.activation.unfused())
    }

    fn params(&self) -> Vec<(&'static str, &Param)> {
        kernel_bias::params(&self.kernel, &self.bias)
    }

    fn params_mut(&mut self) -> Vec<(&'static str, &mut Param)> {
        kernel_bias::params_mut(&mut self.kernel, &mut self.bias)
    }

    fn regularization_loss<'t>(&self, tape: &'t Tape) -> Option<Var<'t>> {
        kernel_bias::penalty(
            tape,
            (self.config.kernel_regularizer, &self.kernel),
            (self.config.bias_regularizer, &self.bias),
        )
    }

    fn config(&self) -> Option<LayerConfig> {
        Some(LayerConfig::Dense(self.config.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_layer;

    #[test]
    fn dense_passes_the_layer_harness() {
        check_layer(
            Dense::new(4).activation(Activation::Tanh),
            &[3],
            &[4],
            3 * 4 + 4,
        );
        check_layer(Dense::new(2).use_bias(false), &[5], &[2], 10);
    }

    #[test]
    fn every_activation_equals_the_affine_output_then_the_activation() {
        use crate::Mode;
        use keel_autograd::tensor;
        let input = tensor(&[2, 3], vec![0.9, -1.4, 0.3, -0.6, 2.1, -1.7]);
        for act in Activation::ALL {
            let mut dense = Dense::new(4).activation(act);
            dense.build(&[3], &mut crate::testing::rng()).unwrap();
            let tape = Tape::new();
            let x = tape.var(input.clone());
            let y = dense.forward(x, &mut Ctx::new(Mode::Train, &mut crate::testing::rng()));
            let params = dense.params();
            let z = x.matmul(tape.param(params[0].1)) + tape.param(params[1].1);
            let pre = z.value();
            assert!(pre.iter().any(|&v| v < -0.1) && pre.iter().any(|&v| v > 0.1));
            let want = act.apply(z);
            let (y_value, want_value) = (y.value(), want.value());
            let diff = (&*y_value - &*want_value)
                .mapv(f32::abs)
                .fold(0.0f32, |m, &d| m.max(d));
            assert!(diff < 1e-6, "{act:?}: value differs by {diff}");
            let weights = tape.constant(tensor(&[4], vec![1.0, -0.5, 2.0, 0.25]));
            let (got, want) = (
                (y * weights).sum().backward(),
                (want * weights).sum().backward(),
            );
            let diff = (got.get(x).unwrap() - want.get(x).unwrap())
                .mapv(f32::abs)
                .fold(0.0f32, |m, &d| m.max(d));
            assert!(diff < 1e-5, "{act:?}: input gradient differs by {diff}");
        }
    }

    #[test]
    fn rank_two_input_is_an_error_naming_both_shapes() {
        let err = Dense::new(4)
            .build(&[28, 28], &mut crate::testing::rng())
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("dense") && msg.contains("[28, 28]") && msg.contains("[features]"),
            "{msg}"
        );
    }

    #[test]
    fn a_kernel_too_large_to_allocate_is_an_error_not_a_panic() {
        let err = Dense::new(usize::MAX / 2)
            .build(&[3], &mut crate::testing::rng())
            .unwrap_err();
        assert!(err.to_string().contains("units"), "{err}");
        assert_eq!(Dense::new(usize::MAX / 2).count_params(&[3]), None);
    }

    #[test]
    fn regularized_dense_passes_the_layer_harness() {
        check_layer(
            Dense::new(3)
                .kernel_regularizer(Regularizer::L2(0.1))
                .bias_regularizer(Regularizer::L1L2 { l1: 0.1, l2: 0.2 }),
            &[2],
            &[3],
            2 * 3 + 3,
        );
    }

    #[test]
    fn zero_units_is_an_error() {
        assert!(Dense::new(0)
            .build(&[3], &mut crate::testing::rng())
            .is_err());
    }
}
