//! The one check of weights given to `set_weights`, for a layer and for a whole model.

use keel_autograd::{Param, Tensor};
use std::fmt::Display;

/// What is wrong with `weights` as new values for `params` (in order): a different count, a
/// different shape, or a NaN or infinite value, as `(expected, found)` in words; `None`
/// when they fit. Parameters are named by `N` (a weight name, or a model's parameter path).
///
/// ```
/// use keel_autograd::{tensor, Param};
/// let bias = Param::new(tensor(&[2], vec![0.0, 0.0]));
/// assert_eq!(keel_layers::weights_mismatch(&[("bias", &bias)], &[tensor(&[2], vec![1.0, 2.0])]), None);
/// let (expected, found) = keel_layers::weights_mismatch(&[("bias", &bias)], &[tensor(&[3], vec![0.0; 3])]).unwrap();
/// assert_eq!((expected.as_str(), found.as_str()), ("bias of shape [2]", "shape [3]"));
/// ```
pub fn weights_mismatch<N: Display>(
    params: &[(N, &Param)],
    weights: &[Tensor],
) -> Option<(String, String)> {
    if weights.len() != params.len() {
        return Some((
            format!("{} weights", params.len()),
            format!("{} weights", weights.len()),
        ));
    }
    for ((name, p), w) in params.iter().zip(weights) {
        if p.value().shape() != w.shape() {
            return Some((
                format!("{name} of shape {:?}", p.value().shape()),
                format!("shape {:?}", w.shape()),
            ));
        }
        if let Some(v) = w.iter().find(|v| !v.is_finite()) {
            return Some((format!("finite values in {name}"), v.to_string()));
        }
    }
    None
}
