//! Reshapes each sample.

use crate::{Ctx, Error, Layer, LayerConfig, Result};
use keel_autograd::Var;
use rand::rngs::StdRng;

/// Gives each sample the shape `target_shape` (same elements, row-major order), as Keras's
/// `Reshape(target_shape)`; the batch axis is kept.
///
/// ```
/// use keel_layers::{Layer, Reshape};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// assert_eq!(Reshape::new([28, 28, 1]).build(&[784], &mut rng)?, vec![28, 28, 1]);
/// assert!(Reshape::new([28, 28, 2]).build(&[784], &mut rng).is_err());
/// # Ok::<(), keel_layers::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reshape {
    target_shape: Vec<usize>,
}

impl Reshape {
    /// A layer reshaping each sample to `target_shape` (without the batch axis).
    pub fn new(target_shape: impl Into<Vec<usize>>) -> Self {
        Reshape {
            target_shape: target_shape.into(),
        }
    }

    /// The per-sample output shape.
    pub fn target_shape(&self) -> &[usize] {
        &self.target_shape
    }
}

/// The number of elements of `shape`, or `None` when it overflows.
fn size(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

impl Layer for Reshape {
    fn kind(&self) -> &'static str {
        "reshape"
    }

    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        match (size(input_shape), size(&self.target_shape)) {
            (Some(a), Some(b)) if a == b => Ok(self.target_shape.clone()),
            _ => Err(Error::IncompatibleInput {
                layer: "reshape".into(),
                expected: format!(
                    "a shape of as many elements as the target shape {:?}",
                    self.target_shape
                ),
                found: input_shape.to_vec(),
            }),
        }
    }

    fn count_params(&self, input_shape: &[usize]) -> Option<usize> {
        (size(input_shape)? == size(&self.target_shape)?).then_some(0)
    }

    fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        let shape = x.shape();
        if shape[1..] == self.target_shape[..] {
            return x;
        }
        let mut full = Vec::with_capacity(self.target_shape.len() + 1);
        full.push(shape[0]);
        full.extend_from_slice(&self.target_shape);
        x.reshape(&full)
    }

    fn config(&self) -> Option<LayerConfig> {
        Some(LayerConfig::Reshape {
            target_shape: self.target_shape.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_layer, rng};

    #[test]
    fn reshape_passes_the_layer_harness() {
        check_layer(Reshape::new([4, 3, 1]), &[12], &[4, 3, 1], 0);
        check_layer(Reshape::new([6]), &[2, 3], &[6], 0);
    }

    #[test]
    fn a_different_size_is_an_error_naming_both_shapes() {
        let msg = Reshape::new([5, 5])
            .build(&[24], &mut rng())
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("reshape: ") && msg.contains("[5, 5]") && msg.contains("[24]"),
            "{msg}"
        );
        assert_eq!(Reshape::new([usize::MAX, 2]).count_params(&[4]), None);
    }
}
