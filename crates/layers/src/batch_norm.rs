//! Batch normalization over the last (channel) axis.

use crate::{Ctx, Error, Layer, LayerConfig, Mode, Result};
use keel_autograd::{Param, Tensor, Var};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// The configuration of a [`BatchNormalization`] layer, with Keras's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchNormConfig {
    /// Weight of the old value in each moving-statistics update (Keras: 0.99).
    pub momentum: f32,
    /// Added to the variance before its square root (Keras: 1e-3).
    pub epsilon: f32,
    /// Whether a learned offset `beta` is added (Keras: true).
    pub center: bool,
    /// Whether a learned scale `gamma` multiplies (Keras: true).
    pub scale: bool,
}

/// Normalizes each channel (the last axis, Keras's `axis=-1`) to zero mean and unit
/// variance, then scales by `gamma` and shifts by `beta`, as Keras's
/// `BatchNormalization`: in training with the batch's statistics (over every axis but the
/// last), in inference with moving statistics that training updates as
/// `moving = moving · momentum + batch · (1 − momentum)` (the batch variance biased, as
/// Keras's).
///
/// The moving mean and variance are non-trainable weights: counted apart in `summary()`,
/// saved in every file, restored by the guard's rollback; a step the guard refuses does
/// not update them. A frozen layer (`Sequential::set_trainable(name, false)`) runs in
/// inference mode even while the model trains, as Keras's does.
///
/// ```
/// use keel_layers::{BatchNormalization, Layer};
/// use rand::SeedableRng;
/// let mut bn = BatchNormalization::new();
/// assert_eq!(bn.build(&[4, 4, 8], &mut rand::rngs::StdRng::seed_from_u64(0))?, vec![4, 4, 8]);
/// assert_eq!(bn.count_params(&[4, 4, 8]), Some(4 * 8));
/// assert_eq!(bn.params().len() + bn.non_trainable_params().len(), 4);
/// # Ok::<(), keel_layers::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchNormalization {
    config: BatchNormConfig,
    gamma: Option<Param>,
    beta: Option<Param>,
    moving: Option<[Param; 2]>,
}

impl Default for BatchNormalization {
    fn default() -> Self {
        BatchNormalization::new()
    }
}

impl BatchNormalization {
    /// Keras's defaults: momentum 0.99, epsilon 1e-3, center and scale.
    pub fn new() -> Self {
        BatchNormalization::from_config(BatchNormConfig {
            momentum: 0.99,
            epsilon: 1e-3,
            center: true,
            scale: true,
        })
    }

    /// An unbuilt layer of `config`.
    pub fn from_config(config: BatchNormConfig) -> Self {
        BatchNormalization {
            config,
            gamma: None,
            beta: None,
            moving: None,
        }
    }

    /// Sets the momentum of the moving statistics, in `[0, 1]`.
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.config.momentum = momentum;
        self
    }

    /// Sets epsilon, finite and `> 0`.
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.config.epsilon = epsilon;
        self
    }

    /// Whether to add a learned offset `beta`.
    pub fn center(mut self, center: bool) -> Self {
        self.config.center = center;
        self
    }

    /// Whether to multiply by a learned scale `gamma`.
    pub fn scale(mut self, scale: bool) -> Self {
        self.config.scale = scale;
        self
    }

    fn invalid(parameter: &'static str, expected: &'static str, found: f32) -> Error {
        Error::InvalidArgument {
            layer: "batch_normalization".into(),
            parameter,
            expected,
            found: found.to_string(),
        }
    }

    /// `x · inv + (beta − mean · inv)` with `inv = gamma · (var + ε)^(−1/2)`, on rows
    /// `[m, c]`: Keras's `ops.batch_normalization` arithmetic.
    fn normalize<'t>(&self, rows: Var<'t>, mean: Var<'t>, var: Var<'t>) -> Var<'t> {
        let tape = rows.tape();
        let c = mean.shape()[1];
        let mut inv = (var + self.config.epsilon).powf(-0.5);
        if let Some(gamma) = &self.gamma {
            inv = inv * tape.param(gamma).reshape(&[1, c]);
        }
        let shift = match &self.beta {
            Some(beta) => tape.param(beta).reshape(&[1, c]) - mean * inv,
            None => -(mean * inv),
        };
        rows * inv + shift
    }
}

impl Layer for BatchNormalization {
    fn kind(&self) -> &'static str {
        "batch_normalization"
    }

    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        let BatchNormConfig {
            momentum, epsilon, ..
        } = self.config;
        if !(0.0..=1.0).contains(&momentum) {
            return Err(Self::invalid("momentum", "in [0, 1]", momentum));
        }
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(Self::invalid("epsilon", "a finite number > 0", epsilon));
        }
        let Some(&channels) = input_shape.last().filter(|&&c| c > 0) else {
            return Err(Error::IncompatibleInput {
                layer: "batch_normalization".into(),
                expected: "[..., channels] with at least one channel".into(),
                found: input_shape.to_vec(),
            });
        };
        let filled = |v: f32| Param::new(Tensor::from_elem(IxDyn(&[channels]), v));
        self.gamma = self.config.scale.then(|| filled(1.0));
        self.beta = self.config.center.then(|| filled(0.0));
        self.moving = Some([filled(0.0), filled(1.0)]);
        Ok(input_shape.to_vec())
    }

    fn forward<'t>(&self, x: Var<'t>, ctx: &mut Ctx<'_>) -> Var<'t> {
        let tape = x.tape();
        let [moving_mean, moving_var] = self
            .moving
            .as_ref()
            .expect("batch_normalization: forward before build");
        let shape = x.shape();
        let c = *shape.last().expect("built for a rank of at least 1");
        let rows = x.reshape(&[x.value().len() / c, c]);
        // Frozen, it normalizes with its moving statistics and leaves them alone, as Keras's
        // does since 2.1 (fine-tuning a pretrained model must not shift them).
        let mode = match ctx.layer_is_frozen() {
            true => Mode::Eval,
            false => ctx.mode(),
        };
        let y = match mode {
            Mode::Eval => {
                let mean = tape.param_constant(moving_mean).reshape(&[1, c]);
                let var = tape.param_constant(moving_var).reshape(&[1, c]);
                self.normalize(rows, mean, var)
            }
            Mode::Train => {
                let mean = rows.mean_axis(0, true);
                let centered = rows - mean;
                let var = (centered * centered).mean_axis(0, true);
                let m = self.config.momentum;
                let update = |moving: &Param, batch: Var<'_>| {
                    let batch = batch.value();
                    let flat = batch.iter().copied();
                    let new: Vec<f32> = moving
                        .value()
                        .iter()
                        .zip(flat)
                        .map(|(&old, b)| old * m + b * (1.0 - m))
                        .collect();
                    Tensor::from_shape_vec(IxDyn(&[c]), new).expect("one value per channel")
                };
                ctx.record_update(moving_mean.id(), update(moving_mean, mean));
                ctx.record_update(moving_var.id(), update(moving_var, var));
                self.normalize(rows, mean, var)
            }
        };
        y.reshape(&shape)
    }

    fn count_params(&self, input_shape: &[usize]) -> Option<usize> {
        let channels = *input_shape.last()?;
        let learned = usize::from(self.config.center) + usize::from(self.config.scale);
        channels.checked_mul(2 + learned)
    }

    fn params(&self) -> Vec<(&'static str, &Param)> {
        let gamma = self.gamma.iter().map(|p| ("gamma", p));
        gamma.chain(self.beta.iter().map(|p| ("beta", p))).collect()
    }

    fn params_mut(&mut self) -> Vec<(&'static str, &mut Param)> {
        let gamma = self.gamma.iter_mut().map(|p| ("gamma", p));
        gamma
            .chain(self.beta.iter_mut().map(|p| ("beta", p)))
            .collect()
    }

    fn non_trainable_params(&self) -> Vec<(&'static str, &Param)> {
        match &self.moving {
            Some([mean, var]) => vec![("moving_mean", mean), ("moving_variance", var)],
            None => Vec::new(),
        }
    }

    fn weights_mut(&mut self) -> Vec<(&'static str, &mut Param)> {
        let mut all = Vec::with_capacity(4);
        all.extend(self.gamma.iter_mut().map(|p| ("gamma", p)));
        all.extend(self.beta.iter_mut().map(|p| ("beta", p)));
        if let Some([mean, var]) = &mut self.moving {
            all.push(("moving_mean", mean));
            all.push(("moving_variance", var));
        }
        all
    }

    fn config(&self) -> Option<LayerConfig> {
        Some(LayerConfig::BatchNormalization(self.config.clone()))
    }
}
