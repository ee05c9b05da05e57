//! One finite-difference gradient check per op, all with `GradCheck::default()`.
//!
//! Inputs are drawn from fixed seeds and kept away from kinks and poles: signed inputs
//! have magnitude in `[0.5, 2]` (ReLU's kink is at 0, division's pole at 0), and inputs to
//! `log`, `sqrt` and `powf` are positive. Probabilities stay in `[0.2, 0.8]`, far from the
//! clipping of `binary_cross_entropy`.

use keel_autograd::ops::conv2d::Conv2d;
use keel_autograd::ops::dense::Pointwise;
use keel_autograd::ops::window::{Padding, Window2d};
use keel_autograd::{check_gradients, GradCheck, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Values with magnitude in `[0.5, 2]` and a random sign.
fn signed(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::from_shape_simple_fn(shape, || {
        let m = rng.random_range(0.5..2.0);
        if rng.random_bool(0.5) {
            m
        } else {
            -m
        }
    })
}

/// Values in `[lo, hi)`.
fn uniform(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::from_shape_simple_fn(shape, || rng.random_range(lo..hi))
}

/// Multiples of 0.05 in `[-5, 5)` in a shuffled order (`7919 i mod 200`): distinct in
/// tensors of up to 200 values, and in the 2x2 windows of the large test below, so no
/// pooling window has a tie within a central-difference step of its maximum.
fn distinct(shape: &[usize]) -> Tensor {
    let len: usize = shape.iter().product();
    let values = (0..len).map(|i| ((i * 7919) % 200) as f32 * 0.05 - 5.0);
    Tensor::from_shape_vec(shape, values.collect()).expect("len values")
}

fn positive(shape: &[usize], seed: u64) -> Tensor {
    uniform(shape, 0.5, 2.5, seed)
}

fn probabilities(shape: &[usize], seed: u64) -> Tensor {
    uniform(shape, 0.2, 0.8, seed)
}

/// One test per row: `name: inputs => |tape, vars| output`.
macro_rules! gradcheck {
    ($($name:ident: $inputs:expr => $f:expr;)*) => {$(
        #[test]
        fn $name() {
            check_gradients($f, &$inputs, GradCheck::default())
                .unwrap_or_else(|e| panic!("{}: {e}", stringify!($name)));
        }
    )*};
}

gradcheck! {
    // Binary operators, with and without broadcasting.
    add: [signed(&[2, 3], 1), signed(&[2, 3], 2)] => |_, v| v[0] + v[1];
    add_row_broadcast: [signed(&[2, 3], 1), signed(&[3], 2)] => |_, v| v[0] + v[1];
    add_outer_broadcast: [signed(&[2, 1], 1), signed(&[1, 3], 2)] => |_, v| v[0] + v[1];
    sub: [signed(&[2, 3], 1), signed(&[2, 3], 2)] => |_, v| v[0] - v[1];
    sub_row_broadcast: [signed(&[2, 3], 1), signed(&[3], 2)] => |_, v| v[0] - v[1];
    sub_outer_broadcast: [signed(&[2, 1], 1), signed(&[1, 3], 2)] => |_, v| v[0] - v[1];
    mul: [signed(&[2, 3], 1), signed(&[2, 3], 2)] => |_, v| v[0] * v[1];
    mul_row_broadcast: [signed(&[2, 3], 1), signed(&[3], 2)] => |_, v| v[0] * v[1];
    mul_outer_broadcast: [signed(&[2, 1], 1), signed(&[1, 3], 2)] => |_, v| v[0] * v[1];
    mul_scalar_broadcast: [signed(&[2, 3], 1), signed(&[], 2)] => |_, v| v[0] * v[1];
    div: [signed(&[2, 3], 1), signed(&[2, 3], 2)] => |_, v| v[0] / v[1];
    div_row_broadcast: [signed(&[2, 3], 1), signed(&[3], 2)] => |_, v| v[0] / v[1];
    div_outer_broadcast: [signed(&[2, 1], 1), signed(&[1, 3], 2)] => |_, v| v[0] / v[1];
    same_var_twice: [signed(&[2, 3], 1)] => |_, v| v[0] * v[0] + v[0];

    // Negation and operations with an f32 constant.
    neg: [signed(&[2, 3], 3)] => |_, v| -v[0];
    add_constant: [signed(&[2, 3], 3)] => |_, v| v[0] + 1.5;
    sub_constant: [signed(&[2, 3], 3)] => |_, v| v[0] - 1.5;
    mul_constant: [signed(&[2, 3], 3)] => |_, v| v[0] * -2.0;
    div_constant: [signed(&[2, 3], 3)] => |_, v| v[0] / 4.0;
    constant_sub: [signed(&[2, 3], 3)] => |_, v| 1.0 - v[0];

    matmul: [signed(&[2, 3], 4), signed(&[3, 4], 5)] => |_, v| v[0].matmul(v[1]);
    dense_linear: [signed(&[2, 3], 4), signed(&[3, 4], 5), signed(&[4], 6)] => |_, v| v[0].dense(v[1], Some(v[2]), Pointwise::Identity);
    dense_relu: [signed(&[2, 3], 4), signed(&[3, 4], 5), signed(&[4], 6)] => |_, v| v[0].dense(v[1], Some(v[2]), Pointwise::Relu);
    dense_sigmoid_no_bias: [signed(&[2, 3], 4), signed(&[3, 4], 5)] => |_, v| v[0].dense(v[1], None, Pointwise::Sigmoid);
    dense_tanh: [signed(&[2, 3], 4), signed(&[3, 4], 5), signed(&[4], 6)] => |_, v| v[0].dense(v[1], Some(v[2]), Pointwise::Tanh);
    dense_leaky_relu: [signed(&[2, 3], 4), signed(&[3, 4], 5), signed(&[4], 6)] => |_, v| v[0].dense(v[1], Some(v[2]), Pointwise::LeakyRelu { alpha: 0.2 });
    dense_elu: [signed(&[2, 3], 4), signed(&[3, 4], 5), signed(&[4], 6)] => |_, v| v[0].dense(v[1], Some(v[2]), Pointwise::Elu { alpha: 1.0 });
    dense_softplus: [signed(&[2, 3], 4), signed(&[3, 4], 5), signed(&[4], 6)] => |_, v| v[0].dense(v[1], Some(v[2]), Pointwise::Softplus);

    // Convolutions (channels last, kernels [kh, kw, in, out]) and pooling.
    conv2d_valid: [signed(&[2, 5, 6, 2], 25), signed(&[3, 2, 2, 3], 26), signed(&[3], 27)] => |_, v| v[0].conv2d(v[1], Some(v[2]), Conv2d::default());
    conv2d_same_strides_2_relu: [signed(&[2, 5, 6, 2], 25), signed(&[3, 3, 2, 3], 26), signed(&[3], 27)] => |_, v| {
        v[0].conv2d(v[1], Some(v[2]), Conv2d { strides: (2, 2), padding: Padding::Same, activation: Pointwise::Relu, ..Conv2d::default() })
    };
    conv2d_dilation_2_no_bias: [signed(&[2, 6, 6, 2], 25), signed(&[2, 2, 2, 3], 26)] => |_, v| {
        v[0].conv2d(v[1], None, Conv2d { dilation: (2, 2), ..Conv2d::default() })
    };
    max_pool2d_valid: [distinct(&[2, 4, 6, 3])] => |_, v| v[0].max_pool2d(Window2d { strides: (2, 2), ..Window2d::new((2, 2)) });
    max_pool2d_same: [distinct(&[2, 5, 5, 3])] => |_, v| {
        v[0].max_pool2d(Window2d { strides: (2, 2), padding: Padding::Same, ..Window2d::new((3, 3)) })
    };
    avg_pool2d_valid: [signed(&[2, 4, 6, 3], 28)] => |_, v| v[0].avg_pool2d(Window2d { strides: (2, 2), ..Window2d::new((2, 2)) });
    avg_pool2d_same: [signed(&[2, 5, 5, 3], 28)] => |_, v| {
        v[0].avg_pool2d(Window2d { strides: (2, 2), padding: Padding::Same, ..Window2d::new((3, 3)) })
    };
    global_avg_pool2d: [signed(&[2, 3, 4, 3], 29)] => |_, v| v[0].global_avg_pool2d();
    global_max_pool2d: [distinct(&[2, 3, 4, 3])] => |_, v| v[0].global_max_pool2d();

    // Element-wise functions.
    sigmoid: [signed(&[2, 3], 6)] => |_, v| v[0].sigmoid();
    exp: [signed(&[2, 3], 6)] => |_, v| v[0].exp();
    log: [positive(&[2, 3], 7)] => |_, v| v[0].log();
    sqrt: [positive(&[2, 3], 7)] => |_, v| v[0].sqrt();
    powf: [positive(&[2, 3], 7)] => |_, v| v[0].powf(2.5);
    powf_negative_exponent: [positive(&[2, 3], 7)] => |_, v| v[0].powf(-1.5);
    relu: [signed(&[2, 3], 8)] => |_, v| v[0].relu();
    leaky_relu: [signed(&[2, 3], 8)] => |_, v| v[0].leaky_relu(0.2);
    tanh: [signed(&[2, 3], 8)] => |_, v| v[0].tanh();
    elu: [signed(&[2, 3], 8)] => |_, v| v[0].elu(1.0);
    elu_small_alpha: [signed(&[2, 3], 8)] => |_, v| v[0].elu(0.3);
    gelu: [signed(&[2, 3], 8)] => |_, v| v[0].gelu();
    silu: [signed(&[2, 3], 8)] => |_, v| v[0].silu();
    softplus: [signed(&[2, 3], 8)] => |_, v| v[0].softplus();
    abs: [signed(&[2, 3], 8)] => |_, v| v[0].abs();
    // Values inside and outside the range, each far from a bound.
    clamp: [keel_autograd::tensor(&[2, 3], vec![-1.7, -0.4, 0.1, 0.6, 1.5, 2.2])] => |_, v| v[0].clamp(-1.0, 1.0);

    // Softmax family, along first, middle and last axes.
    softmax_last_axis: [signed(&[2, 4], 9)] => |_, v| v[0].softmax(1);
    softmax_first_axis: [signed(&[3, 2], 9)] => |_, v| v[0].softmax(0);
    softmax_middle_axis: [signed(&[2, 3, 2], 9)] => |_, v| v[0].softmax(1);
    log_softmax_last_axis: [signed(&[2, 4], 10)] => |_, v| v[0].log_softmax(1);
    log_softmax_middle_axis: [signed(&[2, 3, 2], 10)] => |_, v| v[0].log_softmax(1);

    // Reductions.
    sum: [signed(&[2, 3], 11)] => |_, v| v[0].sum();
    sum_axis: [signed(&[2, 3, 2], 11)] => |_, v| v[0].sum_axis(1, false);
    sum_axis_keep_dims: [signed(&[2, 3, 2], 11)] => |_, v| v[0].sum_axis(2, true);
    mean: [signed(&[2, 3], 12)] => |_, v| v[0].mean();
    mean_axis: [signed(&[2, 3, 2], 12)] => |_, v| v[0].mean_axis(0, false);
    mean_axis_keep_dims: [signed(&[2, 3, 2], 12)] => |_, v| v[0].mean_axis(1, true);

    // Shape operations.
    reshape: [signed(&[2, 3], 13)] => |_, v| v[0].reshape(&[3, 1, 2]);
    transpose: [signed(&[2, 3], 13)] => |_, v| v[0].transpose();
    permute: [signed(&[2, 3, 4], 13)] => |_, v| v[0].permute(&[2, 0, 1]);
    transpose_then_reshape: [signed(&[2, 3], 13)] => |_, v| v[0].transpose().reshape(&[6]);

    dropout_mask: [signed(&[2, 3], 14)] => |_, v| {
        v[0].dropout_mask(keel_autograd::tensor(&[2, 3], vec![2.0, 0.0, 2.0, 0.0, 2.0, 2.0]))
    };

    // Fused losses, each per sample.
    sparse_softmax_cross_entropy: [signed(&[3, 4], 15)] => |_, v| {
        v[0].sparse_softmax_cross_entropy(&[3, 0, 1])
    };
    softmax_cross_entropy: [signed(&[3, 4], 15)] => |_, v| {
        v[0].softmax_cross_entropy(probabilities(&[3, 4], 16))
    };
    sigmoid_binary_cross_entropy: [signed(&[3, 2], 17)] => |_, v| {
        v[0].sigmoid_binary_cross_entropy(uniform(&[3, 2], 0.0, 1.0, 18))
    };
    binary_cross_entropy: [probabilities(&[3, 2], 19)] => |_, v| {
        v[0].binary_cross_entropy(uniform(&[3, 2], 0.0, 1.0, 18))
    };
    mean_squared_error: [signed(&[3, 2], 20)] => |_, v| {
        v[0].mean_squared_error(signed(&[3, 2], 21))
    };

    // A dense layer, an activation and a loss, end to end: every kind of node at once.
    dense_relu_cross_entropy: [signed(&[4, 3], 22), signed(&[3, 2], 23), signed(&[2], 24)] => |_, v| {
        (v[0].matmul(v[1]) + v[2]).relu().sparse_softmax_cross_entropy(&[0, 1, 1, 0]).mean()
    };
}

/// Products, fused dense layers and their gradients at shapes that take every way the
/// runtime's plan cuts a product (column blocks, inner-dimension halves, row halves), on
/// two threads; the backward products are cut too. A sample of each input's elements is
/// perturbed (all of them would take minutes).
#[test]
fn products_at_shapes_that_take_every_split_path() {
    use keel_runtime::plan::{product, ProductCut};
    let runtime = keel_runtime::Runtime::builder().threads(2).build().unwrap();
    let cfg = GradCheck {
        max_elements: Some(24),
        ..GradCheck::default()
    };
    let shapes = [(64, 256, 260), (33, 784, 32), (301, 33, 32)];
    let cuts: Vec<ProductCut> = shapes.iter().map(|&(m, k, n)| product(m, k, n)).collect();
    assert!(matches!(cuts[0], ProductCut::Columns { .. }), "{cuts:?}");
    assert!(matches!(cuts[1], ProductCut::Inner { .. }), "{cuts:?}");
    assert!(matches!(cuts[2], ProductCut::Rows { .. }), "{cuts:?}");
    for (i, &(m, k, n)) in shapes.iter().enumerate() {
        let (a, b, bias) = (
            signed(&[m, k], 10 + i as u64),
            signed(&[k, n], 20 + i as u64),
            signed(&[n], 30 + i as u64),
        );
        runtime.install(|| {
            check_gradients(|_, v| v[0].matmul(v[1]), &[a.clone(), b.clone()], cfg)
                .unwrap_or_else(|e| panic!("matmul {m}x{k}x{n}: {e}"));
            check_gradients(
                |_, v| v[0].dense(v[1], Some(v[2]), Pointwise::Tanh),
                &[a.clone(), b.clone(), bias.clone()],
                cfg,
            )
            .unwrap_or_else(|e| panic!("dense {m}x{k}x{n}: {e}"));
        });
    }
    if keel_runtime::available_cpus() >= 2 {
        assert!(runtime.pieces_run_by_helpers() > 0, "no helper ran a piece");
    } else {
        eprintln!("skipped the helper check: this process may use one CPU");
    }
}

/// Convolution and pooling gradients at shapes large enough that their products are cut
/// by the runtime's plan (row halves forward, inner-dimension halves for the kernel
/// gradient) and their gathers, scatters and windows run in pieces, on two threads.
#[test]
fn convolutions_and_pools_at_shapes_that_take_the_parallel_paths() {
    use keel_runtime::plan::{product, ProductCut};
    let runtime = keel_runtime::Runtime::builder().threads(2).build().unwrap();
    let cfg = GradCheck {
        max_elements: Some(24),
        ..GradCheck::default()
    };
    // 8 images of 16x16x8, a 3x3x8x16 kernel: 1568 patch rows of 72.
    let (rows, patch, filters) = (8 * 14 * 14, 3 * 3 * 8, 16);
    assert!(matches!(
        product(rows, patch, filters),
        ProductCut::Rows { .. }
    ));
    assert!(matches!(
        product(patch, rows, filters),
        ProductCut::Inner { .. }
    ));
    assert!(rows * patch > keel_runtime::plan::ELEMENTWISE_MIN_LEN);
    let inputs = [
        signed(&[8, 16, 16, 8], 40),
        signed(&[3, 3, 8, 16], 41),
        signed(&[16], 42),
    ];
    let relu = Conv2d {
        activation: Pointwise::Relu,
        ..Conv2d::default()
    };
    let image = distinct(&[16, 32, 32, 4]);
    let pool = Window2d {
        strides: (2, 2),
        ..Window2d::new((2, 2))
    };
    runtime.install(|| {
        check_gradients(|_, v| v[0].conv2d(v[1], Some(v[2]), relu), &inputs, cfg)
            .unwrap_or_else(|e| panic!("conv2d: {e}"));
        check_gradients(
            |_, v| v[0].max_pool2d(pool),
            std::slice::from_ref(&image),
            cfg,
        )
        .unwrap_or_else(|e| panic!("max_pool2d: {e}"));
        check_gradients(
            |_, v| v[0].avg_pool2d(pool),
            &[signed(&[16, 32, 32, 4], 43)],
            cfg,
        )
        .unwrap_or_else(|e| panic!("avg_pool2d: {e}"));
    });
    if keel_runtime::available_cpus() >= 2 {
        assert!(runtime.pieces_run_by_helpers() > 0, "no helper ran a piece");
    } else {
        eprintln!("skipped the helper check: this process may use one CPU");
    }
}
