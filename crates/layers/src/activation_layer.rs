//! Layers that apply an activation: `ActivationLayer` and `Softmax`.

use crate::{Activation, Ctx, Layer, LayerConfig, Result};
use keel_autograd::Var;
use rand::rngs::StdRng;

/// Applies an [`Activation`] to its input (Keras `Activation`).
///
/// ```
/// use keel_layers::{Activation, ActivationLayer, Layer};
/// use rand::SeedableRng;
/// let out = ActivationLayer::new(Activation::Tanh).build(&[8], &mut rand::rngs::StdRng::seed_from_u64(0))?;
/// assert_eq!(out, vec![8]);
/// # Ok::<(), keel_layers::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ActivationLayer {
    activation: Activation,
}

impl ActivationLayer {
    /// A layer applying `activation`.
    pub fn new(activation: Activation) -> Self {
        ActivationLayer { activation }
    }
}

impl Layer for ActivationLayer {
    fn kind(&self) -> &'static str {
        "activation"
    }

    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        Ok(input_shape.to_vec())
    }

    fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        self.activation.apply(x)
    }

    fn final_activation(&self) -> Activation {
        self.activation.fusable()
    }

    fn forward_logits<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        self.activation.unfused().apply(x)
    }

    fn config(&self) -> Option<LayerConfig> {
        Some(LayerConfig::Activation {
            activation: self.activation,
        })
    }
}

/// Softmax over the last axis (Keras `Softmax`).
///
/// ```
/// use keel_layers::{Layer, Softmax};
/// use rand::SeedableRng;
/// assert_eq!(Softmax::new().build(&[10], &mut rand::rngs::StdRng::seed_from_u64(0))?, vec![10]);
/// # Ok::<(), keel_layers::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Softmax;

impl Softmax {
    /// A softmax layer.
    pub fn new() -> Self {
        Softmax
    }
}

impl Layer for Softmax {
    fn kind(&self) -> &'static str {
        "softmax"
    }

    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        Ok(input_shape.to_vec())
    }

    fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        Activation::Softmax.apply(x)
    }

    fn final_activation(&self) -> Activation {
        Activation::Softmax
    }

    fn forward_logits<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        x
    }

    fn config(&self) -> Option<LayerConfig> {
        Some(LayerConfig::Softmax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_layer;

    #[test]
    fn activation_layers_pass_the_layer_harness() {
        check_layer(ActivationLayer::new(Activation::Sigmoid), &[4], &[4], 0);
        check_layer(ActivationLayer::new(Activation::Relu), &[2, 3], &[2, 3], 0);
        check_layer(Softmax::new(), &[5], &[5], 0);
        for act in Activation::ALL {
            check_layer(ActivationLayer::new(act), &[3], &[3], 0);
        }
    }
}
