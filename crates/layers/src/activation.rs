//! Activation functions, by Keras name.

use keel_autograd::Var;
use serde::{Deserialize, Serialize};

/// An element-wise (or, for softmax, last-axis) activation function.
///
/// Parameterized activations take the defaults of Keras's function of the same name, which
/// is what `activation="leaky_relu"` or `"elu"` means in Keras: see
/// [`LEAKY_RELU_NEGATIVE_SLOPE`](Activation::LEAKY_RELU_NEGATIVE_SLOPE) and
/// [`ELU_ALPHA`](Activation::ELU_ALPHA).
///
/// New variants go at the end: model files store a variant by its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Activation {
    /// The identity. The default of [`Dense`](crate::Dense).
    #[default]
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Softmax over the last axis.
    Softmax,
    /// Gaussian error linear unit `x · Φ(x)`, exact (erf) form: Keras's `gelu` with its
    /// default `approximate=False`. Applied after [`Dense`](crate::Dense)'s affine op, not
    /// fused into it (its derivative does not follow from its output).
    Gelu,
    /// `x` for `x > 0`, else `0.2 · x`: Keras's `leaky_relu` activation, whose default
    /// `negative_slope` is [`0.2`](Activation::LEAKY_RELU_NEGATIVE_SLOPE). (Keras's
    /// `LeakyReLU` *layer* defaults to `0.3` instead.)
    LeakyRelu,
    /// `x` for `x > 0`, else `e^x - 1`: Keras's `elu` with its default
    /// [`alpha`](Activation::ELU_ALPHA) of `1.0`.
    Elu,
    /// `x · sigmoid(x)`: Keras's `silu`, also named `swish` (see
    /// [`from_name`](Activation::from_name)). Applied after [`Dense`](crate::Dense)'s affine
    /// op, not fused into it.
    Silu,
    /// `log(1 + e^x)`, computed as `max(x, 0) + log1p(e^-|x|)`.
    Softplus,
}

impl Activation {
    /// The slope of [`LeakyRelu`](Activation::LeakyRelu) for negative inputs: the default
    /// `negative_slope` of `keras.activations.leaky_relu` (Keras 3.15), used for
    /// `activation="leaky_relu"`.
    ///
    /// ```
    /// assert_eq!(keel_layers::Activation::LEAKY_RELU_NEGATIVE_SLOPE, 0.2);
    /// ```
    pub const LEAKY_RELU_NEGATIVE_SLOPE: f32 = 0.2;

    /// The `alpha` of [`Elu`](Activation::Elu): the default of `keras.activations.elu`.
    ///
    /// ```
    /// assert_eq!(keel_layers::Activation::ELU_ALPHA, 1.0);
    /// ```
    pub const ELU_ALPHA: f32 = 1.0;

    /// Every activation, in declaration (and file-index) order.
    ///
    /// ```
    /// use keel_layers::Activation;
    /// assert!(Activation::ALL.contains(&Activation::Gelu));
    /// ```
    pub const ALL: [Activation; 10] = [
        Activation::Linear,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::Gelu,
        Activation::LeakyRelu,
        Activation::Elu,
        Activation::Silu,
        Activation::Softplus,
    ];

    /// Applies the activation to `x`.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// use keel_layers::Activation;
    /// let tape = Tape::new();
    /// let y = Activation::Relu.apply(tape.constant(tensor(&[2], vec![-1.0, 2.0])));
    /// assert_eq!(y.value().as_slice().unwrap(), &[0.0, 2.0]);
    /// ```
    pub fn apply<'t>(self, x: Var<'t>) -> Var<'t> {
        match self {
            Activation::Linear => x,
            Activation::Relu => x.relu(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::Softmax => {
                let last = x.value().ndim().saturating_sub(1);
                x.softmax(last)
            }
            Activation::Gelu => x.gelu(),
            Activation::LeakyRelu => x.leaky_relu(Activation::LEAKY_RELU_NEGATIVE_SLOPE),
            Activation::Elu => x.elu(Activation::ELU_ALPHA),
            Activation::Silu => x.silu(),
            Activation::Softplus => x.softplus(),
        }
    }

    /// The Keras name ("relu", "softmax", ...); `Silu` is "silu", as Keras serializes it.
    ///
    /// ```
    /// use keel_layers::Activation;
    /// assert_eq!(Activation::LeakyRelu.name(), "leaky_relu");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::Gelu => "gelu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Elu => "elu",
            Activation::Silu => "silu",
            Activation::Softplus => "softplus",
        }
    }

    /// The activation Keras calls `name` (as in `Dense(8, activation="swish")`), or `None`
    /// for a name Keel does not have. Every [`name`](Activation::name) round-trips, and
    /// `"swish"` is [`Silu`](Activation::Silu), as in Keras.
    ///
    /// ```
    /// use keel_layers::Activation;
    /// assert_eq!(Activation::from_name("swish"), Some(Activation::Silu));
    /// assert_eq!(Activation::from_name("gelu"), Some(Activation::Gelu));
    /// assert_eq!(Activation::from_name("selu"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Activation> {
        match name {
            "swish" => Some(Activation::Silu),
            _ => Activation::ALL.into_iter().find(|a| a.name() == name),
        }
    }

    /// This activation if a loss can fuse it (softmax, sigmoid), else `Linear`: the trainer
    /// then differentiates the stable log-space form instead of `log(softmax(x))`.
    pub fn fusable(self) -> Activation {
        match self {
            Activation::Softmax | Activation::Sigmoid => self,
            _ => Activation::Linear,
        }
    }

    /// What remains to apply once [`fusable`](Activation::fusable) is split off.
    pub fn unfused(self) -> Activation {
        match self {
            Activation::Softmax | Activation::Sigmoid => Activation::Linear,
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Activation;

    #[test]
    fn every_name_is_distinct_and_round_trips() {
        let names: std::collections::BTreeSet<_> = Activation::ALL.map(Activation::name).into();
        assert_eq!(names.len(), Activation::ALL.len());
        for act in Activation::ALL {
            assert_eq!(Activation::from_name(act.name()), Some(act));
        }
        assert_eq!(Activation::from_name("swish"), Some(Activation::Silu));
        assert_eq!(Activation::from_name("Gelu"), None);
    }

    #[test]
    fn only_softmax_and_sigmoid_are_left_to_the_loss() {
        for act in Activation::ALL {
            let fused = matches!(act, Activation::Softmax | Activation::Sigmoid);
            assert_eq!(act.fusable() != Activation::Linear, fused, "{act:?}");
            assert_eq!(
                act.unfused() == Activation::Linear,
                fused || act == Activation::Linear
            );
        }
    }
}
