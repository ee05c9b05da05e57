//! The one tensor type Keel computes with, and the shape algebra of broadcasting.

use ndarray::{ArrayD, Axis, IxDyn};

/// A dense, dynamically ranked `f32` array. Keel computes in `f32` only, as Keras does by default.
pub type Tensor = ArrayD<f32>;

/// Builds a tensor from a shape and row-major data.
///
/// # Panics
/// If `data.len()` is not the product of `shape` (an internal bug: callers own both).
///
/// ```
/// let t = keel_autograd::tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(t[[1, 0]], 3.0);
/// ```
pub fn tensor(shape: &[usize], data: Vec<f32>) -> Tensor {
    let len = data.len();
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .unwrap_or_else(|_| panic!("tensor: shape {shape:?} does not hold {len} values"))
}

/// The numpy broadcast of two shapes, or `None` when they are incompatible.
///
/// ```
/// use keel_autograd::broadcast_shape;
/// assert_eq!(broadcast_shape(&[32, 10], &[10]), Some(vec![32, 10]));
/// assert_eq!(broadcast_shape(&[3, 1], &[1, 4]), Some(vec![3, 4]));
/// assert_eq!(broadcast_shape(&[3], &[4]), None);
/// ```
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        let pad = rank - s.len();
        if i < pad {
            1
        } else {
            s[i - pad]
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Sums a broadcast gradient back down to `shape`: the reverse of numpy broadcasting.
///
/// Leading axes that broadcasting added are summed away, and axes where `shape` has
/// size 1 are summed with the axis kept. This is the one place where backward passes
/// undo broadcasting.
///
/// # Panics
/// If `grad`'s shape is not a broadcast of `shape`.
///
/// ```
/// use keel_autograd::{sum_to_shape, tensor};
/// let g = tensor(&[2, 3], vec![1.0; 6]);
/// assert_eq!(sum_to_shape(g, &[3]), tensor(&[3], vec![2.0; 3]));
/// ```
pub fn sum_to_shape(grad: Tensor, shape: &[usize]) -> Tensor {
    if grad.shape() == shape {
        return grad;
    }
    assert!(
        grad.ndim() >= shape.len(),
        "sum_to_shape: gradient {:?} has lower rank than target {:?}",
        grad.shape(),
        shape
    );
    let from = grad.shape().to_vec();
    let mut g = grad;
    while g.ndim() > shape.len() {
        g = g.sum_axis(Axis(0));
    }
    for (axis, &size) in shape.iter().enumerate() {
        if size == 1 && g.shape()[axis] != 1 {
            g = g.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        }
    }
    assert_eq!(
        g.shape(),
        shape,
        "sum_to_shape: gradient {from:?} is not a broadcast of the target shape {shape:?}"
    );
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Broadcasting x over k leading rows then reducing gives x times k.
        #[test]
        fn sum_to_shape_undoes_broadcast(k in 1usize..5, n in 1usize..6, m in 1usize..4) {
            let x = Tensor::from_shape_fn(IxDyn(&[n, 1]), |i| i[0] as f32 + 0.5);
            let wide = x.broadcast(IxDyn(&[k, n, m])).unwrap().to_owned();
            let back = sum_to_shape(wide, &[n, 1]);
            prop_assert_eq!(back, x.mapv(|v| v * (k * m) as f32));
        }
    }
}
