//! Reshapes each sample.

use crate::{Ctx, Error, Layer, LayerConfig, Result};
use keel_autograd::Var;
use rand::rngs::StdRng;

/// Gives each sample the shape `target_shape` (same elements, row-major order), as Keras's
/// `Reshape(target_shape)`; the batch axis is kept. One dimension may be `-1`: it is
/// inferred from the input when the layer is built, as in Keras.
///
/// ```
/// use keel_layers::{Layer, Reshape};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// assert_eq!(Reshape::new([28, 28, 1]).build(&[784], &mut rng)?, vec![28, 28, 1]);
/// assert_eq!(Reshape::new([-1, 28, 1]).build(&[784], &mut rng)?, vec![28, 28, 1]);
/// assert_eq!(Reshape::new([-1]).build(&[28, 28], &mut rng)?, vec![784]);
/// assert!(Reshape::new([28, 28, 2]).build(&[784], &mut rng).is_err());
/// assert!(Reshape::new([-1, 5]).build(&[784], &mut rng).is_err()); // 784 is not 5 k
/// assert!(Reshape::new([-1, -1]).build(&[784], &mut rng).is_err());
/// # Ok::<(), keel_layers::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reshape {
    /// The dimensions asked for, `-1` for the inferred one.
    requested: Vec<i64>,
    /// The per-sample output shape: `requested` resolved at build.
    target_shape: Vec<usize>,
}

/// A target shape for [`Reshape::new`]: dimensions as `usize` (`[28, 28, 1]`, a
/// `Vec<usize>`), or as `i32` where one may be `-1`, inferred (`[-1, 28, 1]`).
pub trait TargetShape {
    /// The dimensions, `-1` for an inferred one.
    fn dims(self) -> Vec<i64>;
}

fn widen<T: Copy + Into<i128>>(dims: &[T]) -> Vec<i64> {
    // A `usize` beyond `i64` (never a real dimension) saturates, so it still fails to fit.
    dims.iter()
        .map(|&d| i64::try_from(d.into()).unwrap_or(i64::MAX))
        .collect()
}

impl<const N: usize> TargetShape for [usize; N] {
    fn dims(self) -> Vec<i64> {
        widen(&self.map(|d| d as u64))
    }
}
impl TargetShape for Vec<usize> {
    fn dims(self) -> Vec<i64> {
        self.as_slice().dims()
    }
}
impl TargetShape for &[usize] {
    fn dims(self) -> Vec<i64> {
        widen(&self.iter().map(|&d| d as u64).collect::<Vec<_>>())
    }
}
impl<const N: usize> TargetShape for [i32; N] {
    fn dims(self) -> Vec<i64> {
        widen(&self)
    }
}
impl TargetShape for Vec<i32> {
    fn dims(self) -> Vec<i64> {
        widen(&self)
    }
}
impl TargetShape for &[i32] {
    fn dims(self) -> Vec<i64> {
        widen(self)
    }
}

impl Reshape {
    /// A layer reshaping each sample to `target_shape` (without the batch axis); one
    /// dimension may be `-1`, inferred at build from the input's size. More than one `-1`,
    /// another negative dimension, or an input whose size does not fit is an `Err` from
    /// [`build`](Layer::build).
    pub fn new(target_shape: impl TargetShape) -> Self {
        let requested = target_shape.dims();
        let target_shape = requested.iter().map(|&d| d.max(0) as usize).collect();
        Reshape {
            requested,
            target_shape,
        }
    }

    /// The per-sample output shape (before build, an inferred dimension shows as `0`).
    pub fn target_shape(&self) -> &[usize] {
        &self.target_shape
    }

    /// The output shape for an input of `input_shape`.
    fn resolve(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let inferred: Vec<usize> = (0..self.requested.len())
            .filter(|&i| self.requested[i] < 0)
            .collect();
        if inferred.len() > 1 || inferred.iter().any(|&i| self.requested[i] != -1) {
            return Err(Error::InvalidArgument {
                layer: "reshape".into(),
                parameter: "target_shape",
                expected: "dimensions of at least 0, and at most one -1 (inferred)",
                found: format!("{:?}", self.requested),
            });
        }
        let mismatch = || Error::IncompatibleInput {
            layer: "reshape".into(),
            expected: format!(
                "a shape of as many elements as the target shape {:?}",
                self.requested
            ),
            found: input_shape.to_vec(),
        };
        let mut shape: Vec<usize> = self
            .requested
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .collect();
        let input = size(input_shape).ok_or_else(mismatch)?;
        if let Some(&i) = inferred.first() {
            let known = size(&shape[..i])
                .zip(size(&shape[i + 1..]))
                .and_then(|(a, b)| a.checked_mul(b))
                .ok_or_else(mismatch)?;
            if known == 0 || input % known != 0 {
                return Err(mismatch());
            }
            shape[i] = input / known;
        }
        match size(&shape) {
            Some(n) if n == input => Ok(shape),
            _ => Err(mismatch()),
        }
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
        self.target_shape = self.resolve(input_shape)?;
        Ok(self.target_shape.clone())
    }

    fn count_params(&self, input_shape: &[usize]) -> Option<usize> {
        self.resolve(input_shape).ok().map(|_| 0)
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

    /// The resolved shape once built (a model file records the inferred dimension's value).
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

    #[test]
    fn one_dimension_may_be_inferred() {
        check_layer(Reshape::new([-1, 3, 1]), &[12], &[4, 3, 1], 0);
        check_layer(Reshape::new([2, -1]), &[2, 3], &[2, 3], 0);
        check_layer(Reshape::new([-1]), &[2, 3, 4], &[24], 0);
        assert_eq!(Reshape::new([-1, 4]).count_params(&[12]), Some(0));
        let mut layer = Reshape::new([-1, 4]);
        assert_eq!(layer.target_shape(), &[0, 4]);
        layer.build(&[12], &mut rng()).unwrap();
        assert_eq!(layer.target_shape(), &[3, 4]);
        assert_eq!(
            layer.config(),
            Some(LayerConfig::Reshape {
                target_shape: vec![3, 4]
            })
        );
    }

    #[test]
    fn a_bad_inferred_dimension_is_an_error() {
        let err = |r: Reshape, input: &[usize]| {
            r.clone().build(input, &mut rng()).unwrap_err().to_string()
        };
        let msg = err(Reshape::new([-1, 5]), &[12]);
        assert!(
            msg.starts_with("reshape: ") && msg.contains("[-1, 5]") && msg.contains("[12]"),
            "{msg}"
        );
        let msg = err(Reshape::new([-1, -1]), &[12]);
        assert!(
            msg.contains("at most one -1") && msg.contains("[-1, -1]"),
            "{msg}"
        );
        let msg = err(Reshape::new([-2, 6]), &[12]);
        assert!(msg.contains("[-2, 6]"), "{msg}");
        let msg = err(Reshape::new([-1, 0]), &[12]);
        assert!(msg.contains("[-1, 0]"), "{msg}");
        assert_eq!(Reshape::new([-1, -1]).count_params(&[12]), None);
    }
}
