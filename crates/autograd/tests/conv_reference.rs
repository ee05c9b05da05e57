//! Conv2D and pooling against Keras 3 (on JAX): outputs, and the gradients of
//! `sum(output * projection)`, for fixed inputs.
//!
//! The constants below are printed by `tests/data/conv_reference.py` (run it with Keras
//! 3.15 and JAX to regenerate them); the inputs are the same formulas in both files.
//! Channels last; kernels in Keras's `[kh, kw, in, out]` layout.

use keel_autograd::ops::conv2d::Conv2d;
use keel_autograd::ops::window::{Padding, Window2d};
use keel_autograd::{tensor, Tape, Tensor, Var};

/// `((i * mul + add) % modulus) / div - 1.5` for the flat index `i`, as the script computes.
fn pattern(shape: &[usize], mul: usize, add: usize, modulus: usize, div: f32) -> Tensor {
    let len = shape.iter().product();
    tensor(
        shape,
        (0..len)
            .map(|i| ((i * mul + add) % modulus) as f32 / div - 1.5)
            .collect(),
    )
}

fn image() -> Tensor {
    pattern(&[2, 5, 6, 2], 37, 0, 29, 9.0)
}

fn kernel() -> Tensor {
    pattern(&[3, 2, 2, 3], 11, 5, 23, 7.0)
}

fn bias() -> Tensor {
    tensor(&[3], vec![0.1, -0.2, 0.3])
}

/// Panics unless every element of `got` is within `1e-5 + 1e-5 |want|` of `want`.
fn assert_close(what: &str, got: &Tensor, want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 + 1e-5 * w.abs(),
            "{what}: element {i}: keel {g} vs keras {w}"
        );
    }
}

/// Checks `f`'s output against `want` and its input gradients against `grads` (one per
/// input), differentiating `sum(f(inputs) * projection)` as the script does.
fn check(
    what: &str,
    inputs: &[Tensor],
    f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>,
    want: &[f32],
    grads: &[&[f32]],
) {
    let tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|t| tape.var(t.clone())).collect();
    let y = f(&vars);
    assert_close(what, &y.value(), want);
    let projection = pattern(&y.shape(), 7, 3, 13, 5.0);
    let g = (y * tape.constant(projection)).sum().backward();
    for (i, want) in grads.iter().enumerate() {
        assert_close(
            &format!("{what} gradient {i}"),
            g.get(vars[i]).unwrap(),
            want,
        );
    }
}

fn conv(strides: usize, padding: Padding, dilation: usize) -> Conv2d {
    Conv2d {
        strides: (strides, strides),
        padding,
        dilation: (dilation, dilation),
        ..Conv2d::default()
    }
}

fn pool(size: usize, strides: usize, padding: Padding) -> Window2d {
    Window2d {
        strides: (strides, strides),
        padding,
        ..Window2d::new((size, size))
    }
}

macro_rules! conv_case {
    ($($test:ident: $conv:expr, $out:ident, $gx:ident, $gk:ident;)*) => {$(
        #[test]
        fn $test() {
            let c = $conv;
            check(
                stringify!($test),
                &[image(), kernel(), bias()],
                |v| v[0].conv2d(v[1], Some(v[2]), c),
                &$out,
                &[&$gx, &$gk],
            );
        }
    )*};
}

conv_case! {
    conv_valid: conv(1, Padding::Valid, 1), CONV_VALID, CONV_VALID_GRAD_X, CONV_VALID_GRAD_K;
    conv_same: conv(1, Padding::Same, 1), CONV_SAME, CONV_SAME_GRAD_X, CONV_SAME_GRAD_K;
    conv_strides_2_same: conv(2, Padding::Same, 1), CONV_STRIDES_2_SAME, CONV_STRIDES_2_SAME_GRAD_X, CONV_STRIDES_2_SAME_GRAD_K;
    conv_strides_2_valid: conv(2, Padding::Valid, 1), CONV_STRIDES_2_VALID, CONV_STRIDES_2_VALID_GRAD_X, CONV_STRIDES_2_VALID_GRAD_K;
    conv_dilation_2: conv(1, Padding::Valid, 2), CONV_DILATION_2, CONV_DILATION_2_GRAD_X, CONV_DILATION_2_GRAD_K;
    conv_dilation_2_same: conv(1, Padding::Same, 2), CONV_DILATION_2_SAME, CONV_DILATION_2_SAME_GRAD_X, CONV_DILATION_2_SAME_GRAD_K;
}

macro_rules! pool_case {
    ($($test:ident: $f:expr, $out:ident, $gx:ident;)*) => {$(
        #[test]
        fn $test() {
            check(stringify!($test), &[image()], $f, &$out, &[&$gx]);
        }
    )*};
}

pool_case! {
    max_pool_valid: |v| v[0].max_pool2d(pool(2, 2, Padding::Valid)), MAX_VALID, MAX_VALID_GRAD_X;
    max_pool_same_strides_2: |v| v[0].max_pool2d(pool(3, 2, Padding::Same)), MAX_SAME, MAX_SAME_GRAD_X;
    avg_pool_valid: |v| v[0].avg_pool2d(pool(2, 2, Padding::Valid)), AVG_VALID, AVG_VALID_GRAD_X;
    avg_pool_same_strides_2: |v| v[0].avg_pool2d(pool(3, 2, Padding::Same)), AVG_SAME, AVG_SAME_GRAD_X;
    avg_pool_same_strides_1: |v| v[0].avg_pool2d(pool(2, 1, Padding::Same)), AVG_SAME_STRIDE_1, AVG_SAME_STRIDE_1_GRAD_X;
    global_avg_pool: |v| v[0].global_avg_pool2d(), GLOBAL_AVG, GLOBAL_AVG_GRAD_X;
    global_max_pool: |v| v[0].global_max_pool2d(), GLOBAL_MAX, GLOBAL_MAX_GRAD_X;
}

include!("data/conv_reference_values.rs");
