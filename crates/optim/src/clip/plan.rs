//! What the clipper does to each gradient in one step, decided once from the norms.

use super::{norm, value, Agc};
use keel_autograd::{ParamPath, Tensor};

/// The clipping of one step, applied to each gradient in turn by
/// [`Optimizer`](crate::Optimizer).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Plan<'n> {
    /// Leave every gradient as it is.
    Keep,
    /// Clamp elements to `[-c, c]`.
    Value(f32),
    /// Rescale each tensor to norm at most `c`.
    Norm(f32),
    /// Multiply every gradient by this factor (`< 1`), from a global-norm threshold.
    Scale(f64),
    /// Unit-wise adaptive clipping, except the parameters of layer `excluded`.
    Agc {
        agc: Agc,
        excluded: Option<&'n ParamPath>,
    },
}

impl Plan<'_> {
    /// Clips `grad` (of the parameter at `path` with value `weights`) in place, given its sum
    /// of squares `sum`. Returns the sum of squares after clipping, and whether `grad` changed.
    pub(crate) fn apply(
        &self,
        path: &ParamPath,
        weights: &Tensor,
        grad: &mut Tensor,
        sum: f64,
    ) -> (f64, bool) {
        match *self {
            Plan::Keep => (sum, false),
            Plan::Value(c) => value::clamp(grad, c),
            Plan::Norm(c) => norm::scale_down(grad, sum, sum.sqrt(), f64::from(c)),
            Plan::Scale(s) => {
                let factor = s as f32;
                grad.mapv_inplace(|x| x * factor);
                (sum * s * s, true)
            }
            Plan::Agc { agc, excluded } => {
                if excluded.is_some_and(|last| last.same_layer(path)) {
                    (sum, false)
                } else {
                    agc.apply(weights, grad, sum)
                }
            }
        }
    }
}
