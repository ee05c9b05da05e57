//! Activation functions, by Keras name.

use keel_autograd::Var;
use serde::{Deserialize, Serialize};

/// An element-wise (or, for softmax, last-axis) activation function.
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
}

impl Activation {
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
        }
    }

    /// The Keras name ("relu", "softmax", ...).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
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
