//! BatchNormalization against Keras 3.15's numbers (tests/data/batch_norm_reference.py),
//! its gradients by finite differences, and its build errors.
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#![allow(clippy::excessive_precision)]

use keel_autograd::{check_gradients, tensor, GradCheck, Tape, Tensor};
use keel_layers::testing::{check_layer, rng};
use keel_layers::{BatchNormalization, Ctx, Layer, Mode};

const X: [f32; 18] = [
    0.5, -1.0, 2.0, 1.5, 0.0, -2.0, -0.5, 3.0, 1.0, 2.5, -1.0, 0.5, 0.0, 1.0, -1.5, 1.0, 2.0, 0.25,
];

fn built() -> BatchNormalization {
    let mut bn = BatchNormalization::new().momentum(0.9);
    bn.build(&[2, 3], &mut rng()).unwrap();
    bn.set_weights(vec![
        tensor(&[3], vec![1.5, 0.5, -1.0]),
        tensor(&[3], vec![0.1, -0.2, 0.3]),
        tensor(&[3], vec![0.0, 0.0, 0.0]),
        tensor(&[3], vec![1.0, 1.0, 1.0]),
    ])
    .unwrap();
    bn
}

fn close(found: &[f32], expected: &[f32]) {
    for (i, (f, e)) in found.iter().zip(expected).enumerate() {
        assert!(
            (f - e).abs() <= 2e-6 * (1.0 + e.abs()),
            "{i}: {f} vs Keras {e}"
        );
    }
}

#[test]
fn training_then_inference_match_keras() {
    let mut bn = built();
    let x = tensor(&[3, 2, 3], X.to_vec());
    let mut r = rng();
    let mut ctx = Ctx::new(Mode::Train, &mut r);
    let tape = Tape::new();
    let y = bn.forward(tape.constant(x.clone()), &mut ctx);
    #[rustfmt::skip]
    close(y.value().as_slice().unwrap(), &[
        -0.4068319797515869, -0.7588912844657898, -1.110974907875061, 1.113663911819458,
        -0.42355650663375854, 1.7710164785385132, -1.9273278713226318, 0.5824478268623352,
        -0.39047709107398987, 2.634159803390503, -0.7588912844657898, -0.03022816777229309,
        -1.1670799255371094, -0.0882217288017273, 1.4107675552368164, 0.35341596603393555,
        0.24711304903030396, 0.1498962938785553,
    ]);
    // The layer records the moving statistics; the model assigns them.
    let updates = ctx.take_updates();
    assert_eq!(updates.len(), 2);
    drop(tape);
    for ((_, param), (id, value)) in bn.weights_mut().into_iter().skip(2).zip(updates) {
        assert_eq!(param.id(), id);
        param.set_value(value);
    }
    let moving = bn.get_weights();
    close(
        moving[2].as_slice().unwrap(),
        &[
            0.0833333358168602,
            0.06666667014360428,
            0.004166666883975267,
        ],
    );
    close(
        moving[3].as_slice().unwrap(),
        &[0.9972221851348877, 1.1222221851348877, 1.0925346612930298],
    );
    let tape = Tape::no_grad();
    let y = bn.forward(tape.constant(x), &mut Ctx::new(Mode::Eval, &mut r));
    #[rustfmt::skip]
    close(y.value().as_slice().unwrap(), &[
        0.7255563139915466, -0.7032293081283569, -1.6085695028305054, 2.22689151763916,
        -0.2314518392086029, 2.216538429260254, -0.7757788300514221, 1.1838804483413696,
        -0.6522924900054932, 3.728226661682129, -0.7032293081283569, -0.17415401339530945,
        -0.02511126548051834, 0.24032559990882874, 1.7384001016616821, 1.4762238264083862,
        0.712103009223938, 0.0649152398109436,
    ]);
}

#[test]
fn gradients_of_the_training_pass_match_finite_differences() {
    let bn = built();
    let x = tensor(&[3, 2, 3], X.to_vec());
    // A weighted sum, so the gradient is not the zero a plain sum of normalized values has.
    let weights: Tensor = Tensor::from_shape_fn(ndarray::IxDyn(&[3, 2, 3]), |i| {
        (i[0] * 6 + i[1] * 3 + i[2]) as f32 * 0.1 - 0.7
    });
    check_gradients(
        |tape, v| {
            let y = bn.forward(v[0], &mut Ctx::new(Mode::Train, &mut rng()));
            (y * tape.constant(weights.clone())).sum()
        },
        &[x],
        GradCheck::default(),
    )
    .unwrap();
}

#[test]
fn the_layer_passes_the_harness_and_refuses_bad_arguments() {
    check_layer(BatchNormalization::new(), &[4, 4, 8], &[4, 4, 8], 4 * 8);
    check_layer(
        BatchNormalization::new().center(false).scale(false),
        &[5],
        &[5],
        2 * 5,
    );
    for (bn, shape) in [
        (BatchNormalization::new().momentum(1.5), vec![3]),
        (BatchNormalization::new().epsilon(0.0), vec![3]),
        (BatchNormalization::new(), vec![0]),
        (BatchNormalization::new(), vec![]),
    ] {
        let mut bn = bn;
        let err = bn.build(&shape, &mut rng()).unwrap_err().to_string();
        assert!(err.starts_with("batch_normalization"), "{err}");
    }
}
