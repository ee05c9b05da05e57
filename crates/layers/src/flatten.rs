//! Flattens each sample to one axis.

use crate::{Ctx, Error, Layer, LayerConfig, Result};
use keel_autograd::Var;
use rand::rngs::StdRng;

/// Reshapes `[batch, d1, d2, ...]` to `[batch, d1 * d2 * ...]` (Keras `Flatten`).
///
/// ```
/// use keel_layers::{Flatten, Layer};
/// use rand::SeedableRng;
/// let out = Flatten::new().build(&[28, 28], &mut rand::rngs::StdRng::seed_from_u64(0))?;
/// assert_eq!(out, vec![784]);
/// # Ok::<(), keel_layers::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Flatten;

impl Flatten {
    /// A flatten layer.
    pub fn new() -> Self {
        Flatten
    }
}

impl Layer for Flatten {
    fn kind(&self) -> &'static str {
        "flatten"
    }

    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        match input_shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
        {
            Some(size) => Ok(vec![size]),
            None => Err(Error::IncompatibleInput {
                layer: "flatten".into(),
                expected: "a shape whose size (the product of its dimensions) fits in usize".into(),
                found: input_shape.to_vec(),
            }),
        }
    }

    fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        let shape = x.shape();
        if shape.len() == 2 {
            return x;
        }
        let batch = shape.first().copied().unwrap_or(1);
        x.reshape(&[batch, shape.iter().skip(1).product()])
    }

    fn config(&self) -> Option<LayerConfig> {
        Some(LayerConfig::Flatten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_layer;

    #[test]
    fn flatten_passes_the_layer_harness() {
        check_layer(Flatten::new(), &[2, 3, 2], &[12], 0);
        check_layer(Flatten::new(), &[5], &[5], 0);
    }

    #[test]
    fn a_size_that_overflows_is_an_error_not_a_panic() {
        let err = Flatten::new()
            .build(&[usize::MAX, 2], &mut crate::testing::rng())
            .unwrap_err();
        assert!(err.to_string().contains("flatten"), "{err}");
    }
}
