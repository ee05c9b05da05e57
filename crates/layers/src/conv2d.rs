//! A 2-D convolution layer over channels-last images: `activation(conv(x, kernel) + bias)`.

use crate::dense::MAX_WEIGHTS;
use crate::image::{image_shape, positive_pair, window_output};
use crate::kernel_bias;
use crate::{Activation, Ctx, Error, Initializer, Layer, LayerConfig, Regularizer, Result};
use keel_autograd::ops::conv2d::Conv2d;
use keel_autograd::ops::dense::Pointwise;
use keel_autograd::ops::window::{Padding, Window2d};
use keel_autograd::{Param, Tape, Var};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// The configuration of a [`Conv2D`] layer (what a model file stores), with Keras's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv2DConfig {
    /// Output channels.
    pub filters: usize,
    /// `(height, width)` of the kernel.
    pub kernel_size: (usize, usize),
    /// Steps between windows. Defaults to `(1, 1)`.
    pub strides: (usize, usize),
    /// Defaults to [`Padding::Valid`].
    pub padding: Padding,
    /// Spacing between kernel taps. Defaults to `(1, 1)`.
    pub dilation_rate: (usize, usize),
    /// Applied to the affine output. Defaults to [`Activation::Linear`].
    pub activation: Activation,
    /// Whether a bias is added. Defaults to `true`.
    pub use_bias: bool,
    /// Defaults to [`Initializer::GlorotUniform`] (fans `kh·kw·in` and `kh·kw·out`).
    pub kernel_initializer: Initializer,
    /// Defaults to [`Initializer::Zeros`].
    pub bias_initializer: Initializer,
    /// A penalty on the kernel added to the training loss. Defaults to none.
    pub kernel_regularizer: Option<Regularizer>,
    /// A penalty on the bias added to the training loss. Defaults to none.
    pub bias_regularizer: Option<Regularizer>,
}

/// 2-D convolution over channels-last images, as Keras's `Conv2D(filters, kernel_size)`.
///
/// Input `[batch, height, width, in]`, output `[batch, out_h, out_w, filters]`. The kernel
/// is stored in Keras's layout `(kh, kw, in, out)` (PyTorch's is `(out, in, kh, kw)`), so
/// weights move to and from Keras unchanged; the bias is `[filters]`.
///
/// ```
/// use keel_layers::{Activation, Conv2D, Layer, Padding};
/// use rand::SeedableRng;
/// let mut conv = Conv2D::new(32, (3, 3)).activation(Activation::Relu);
/// let out = conv.build(&[28, 28, 1], &mut rand::rngs::StdRng::seed_from_u64(0))?;
/// assert_eq!(out, vec![26, 26, 32]);
/// assert_eq!(conv.params()[0].1.value().shape(), &[3, 3, 1, 32]);
///
/// let mut same = Conv2D::new(8, (3, 3)).strides((2, 2)).padding(Padding::Same);
/// assert_eq!(same.build(&[28, 28, 1], &mut rand::rngs::StdRng::seed_from_u64(0))?, vec![14, 14, 8]);
/// assert!(Conv2D::new(8, (5, 5)).build(&[3, 3, 1], &mut rand::rngs::StdRng::seed_from_u64(0)).is_err());
/// # Ok::<(), keel_layers::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conv2D {
    config: Conv2DConfig,
    kernel: Option<Param>,
    bias: Option<Param>,
    trainable: bool,
}

const NAME: &str = "conv2d";

impl Conv2D {
    /// An unbuilt layer of `filters` output channels and a `kernel_size` kernel, with
    /// Keras's defaults: unit strides and dilation, `valid` padding, linear activation,
    /// Glorot-uniform kernel and zero bias.
    pub fn new(filters: usize, kernel_size: (usize, usize)) -> Self {
        Conv2D::from_config(Conv2DConfig {
            filters,
            kernel_size,
            strides: (1, 1),
            padding: Padding::Valid,
            dilation_rate: (1, 1),
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            bias_regularizer: None,
        })
    }

    /// An unbuilt layer from its configuration.
    pub fn from_config(config: Conv2DConfig) -> Self {
        Conv2D {
            config,
            kernel: None,
            bias: None,
            trainable: true,
        }
    }

    /// Creates the layer frozen (`false`), as Keras's `trainable=False`.
    ///
    /// ```
    /// use keel_layers::{Conv2D, Layer};
    /// assert!(!Conv2D::new(4, (3, 3)).trainable(false).initially_trainable());
    /// ```
    pub fn trainable(mut self, trainable: bool) -> Self {
        self.trainable = trainable;
        self
    }

    /// Sets the strides `(rows, columns)`.
    pub fn strides(mut self, strides: (usize, usize)) -> Self {
        self.config.strides = strides;
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, padding: Padding) -> Self {
        self.config.padding = padding;
        self
    }

    /// Sets the dilation rate `(rows, columns)`.
    pub fn dilation_rate(mut self, dilation_rate: (usize, usize)) -> Self {
        self.config.dilation_rate = dilation_rate;
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

    /// Adds `regularizer`'s penalty on the kernel to the training loss.
    ///
    /// ```
    /// use keel_layers::{Conv2D, Regularizer};
    /// let conv = Conv2D::new(16, (3, 3)).kernel_regularizer(Regularizer::L2(1e-4));
    /// # let _ = conv;
    /// ```
    pub fn kernel_regularizer(mut self, regularizer: Regularizer) -> Self {
        self.config.kernel_regularizer = Some(regularizer);
        self
    }

    /// Adds `regularizer`'s penalty on the bias to the training loss; ignored without a bias.
    pub fn bias_regularizer(mut self, regularizer: Regularizer) -> Self {
        self.config.bias_regularizer = Some(regularizer);
        self
    }

    fn window(&self) -> Window2d {
        Window2d {
            size: self.config.kernel_size,
            strides: self.config.strides,
            dilation: self.config.dilation_rate,
            padding: self.config.padding,
        }
    }

    /// Checks every hyper-parameter and the input; returns the input channels and the
    /// output shape.
    fn check(&self, input_shape: &[usize]) -> Result<(usize, Vec<usize>)> {
        let c = &self.config;
        if c.filters == 0 {
            return Err(Error::InvalidArgument {
                layer: NAME.into(),
                parameter: "filters",
                expected: "at least 1",
                found: "0".into(),
            });
        }
        positive_pair(NAME, "kernel_size", c.kernel_size)?;
        positive_pair(NAME, "strides", c.strides)?;
        positive_pair(NAME, "dilation_rate", c.dilation_rate)?;
        let (_, _, channels) = image_shape(NAME, input_shape)?;
        let (oh, ow) = window_output(NAME, "kernel", &self.window(), input_shape)?;
        Ok((channels, vec![oh, ow, c.filters]))
    }
}

impl Layer for Conv2D {
    fn kind(&self) -> &'static str {
        NAME
    }

    fn initially_trainable(&self) -> bool {
        self.trainable
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        let (channels, output) = self.check(input_shape)?;
        let c = &self.config;
        if self
            .count_params(input_shape)
            .is_none_or(|n| n > MAX_WEIGHTS)
        {
            return Err(Error::InvalidArgument {
                layer: NAME.into(),
                parameter: "filters",
                expected: "a kernel [kh, kw, in, filters] whose size in bytes fits in isize",
                found: format!(
                    "filters {} with kernel {:?} on {channels} channels",
                    c.filters, c.kernel_size
                ),
            });
        }
        c.kernel_initializer.validate(NAME, "kernel_initializer")?;
        c.bias_initializer.validate(NAME, "bias_initializer")?;
        if let Some(r) = c.kernel_regularizer {
            r.validate(NAME, "kernel_regularizer")?;
        }
        if let Some(r) = c.bias_regularizer {
            r.validate(NAME, "bias_regularizer")?;
        }
        let (kh, kw) = c.kernel_size;
        let shape = [kh, kw, channels, c.filters];
        self.kernel = Some(Param::new(c.kernel_initializer.sample(&shape, rng)));
        self.bias = c
            .use_bias
            .then(|| Param::new(c.bias_initializer.sample(&[c.filters], rng)));
        Ok(output)
    }

    fn count_params(&self, input_shape: &[usize]) -> Option<usize> {
        let (channels, _) = self.check(input_shape).ok()?;
        let c = &self.config;
        let bias = if c.use_bias { c.filters } else { 0 };
        c.kernel_size
            .0
            .checked_mul(c.kernel_size.1)?
            .checked_mul(channels)?
            .checked_mul(c.filters)?
            .checked_add(bias)
    }

    fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        let tape = x.tape();
        let kernel = self.kernel.as_ref().expect("conv2d: forward before build");
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        // Relu is applied in the convolution's own pass; others after it.
        let (fused, after) = match self.config.activation {
            Activation::Relu => (Pointwise::Relu, Activation::Linear),
            other => (Pointwise::Identity, other),
        };
        let conv = Conv2d {
            strides: self.config.strides,
            padding: self.config.padding,
            dilation: self.config.dilation_rate,
            activation: fused,
        };
        after.apply(x.conv2d(tape.param(kernel), bias, conv))
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
        Some(LayerConfig::Conv2D(self.config.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_layer, rng};

    #[test]
    fn conv2d_passes_the_layer_harness() {
        check_layer(
            Conv2D::new(4, (3, 3)).activation(Activation::Relu),
            &[6, 5, 2],
            &[4, 3, 4],
            3 * 3 * 2 * 4 + 4,
        );
        check_layer(
            Conv2D::new(3, (2, 3))
                .strides((2, 1))
                .padding(Padding::Same)
                .dilation_rate((1, 2))
                .use_bias(false)
                .activation(Activation::Tanh),
            &[5, 6, 2],
            &[3, 6, 3],
            2 * 3 * 2 * 3,
        );
        check_layer(
            Conv2D::new(2, (3, 3))
                .kernel_regularizer(Regularizer::L2(0.1))
                .bias_regularizer(Regularizer::L1(0.1))
                .activation(Activation::Softmax),
            &[4, 4, 1],
            &[2, 2, 2],
            3 * 3 * 2 + 2,
        );
    }

    #[test]
    fn w4_layers_have_keras_parameter_counts() {
        assert_eq!(
            Conv2D::new(32, (3, 3)).count_params(&[28, 28, 1]),
            Some(320)
        );
        assert_eq!(
            Conv2D::new(64, (3, 3)).count_params(&[13, 13, 32]),
            Some(18_496)
        );
    }

    #[test]
    fn bad_shapes_and_arguments_are_errors_naming_the_layer() {
        let cases: [(Conv2D, &[usize], &str); 6] = [
            (Conv2D::new(4, (5, 5)), &[3, 8, 1], "kernel (5, 5)"),
            (
                Conv2D::new(4, (3, 3)).dilation_rate((3, 3)),
                &[6, 8, 1],
                "kernel (7, 7)",
            ),
            (
                Conv2D::new(4, (3, 3)).strides((0, 1)),
                &[8, 8, 1],
                "strides",
            ),
            (Conv2D::new(0, (3, 3)), &[8, 8, 1], "filters"),
            (
                Conv2D::new(4, (3, 3)),
                &[28, 28],
                "[height, width, channels]",
            ),
            (Conv2D::new(4, (0, 3)), &[8, 8, 1], "kernel_size"),
        ];
        for (mut layer, shape, needle) in cases {
            assert_eq!(layer.count_params(shape), None);
            let msg = layer.build(shape, &mut rng()).unwrap_err().to_string();
            assert!(msg.starts_with("conv2d: ") && msg.contains(needle), "{msg}");
        }
        // `same` padding takes an input smaller than the kernel.
        assert!(Conv2D::new(4, (5, 5))
            .padding(Padding::Same)
            .build(&[3, 3, 1], &mut rng())
            .is_ok());
    }
}
