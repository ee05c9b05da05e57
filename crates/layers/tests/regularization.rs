//! Kernel and bias regularizers on `Dense`: the penalty, its gradients, and bad settings.

use keel_autograd::Tape;
use keel_layers::testing::rng;
use keel_layers::{Dense, Initializer, Layer, Regularizer};

#[test]
fn regularization_loss_sums_kernel_and_bias_penalties_with_gradients() {
    let mut dense = Dense::new(2)
        .kernel_regularizer(Regularizer::L2(0.5))
        .bias_regularizer(Regularizer::L1(2.0))
        .bias_initializer(Initializer::Ones);
    dense.build(&[2], &mut rng()).unwrap();
    let kernel = dense.params()[0].1.value().clone();
    let tape = Tape::new();
    let loss = dense.regularization_loss(&tape).unwrap();
    // 0.5 · Σw² + 2 · Σ|b| with b = [1, 1].
    let expected = 0.5 * kernel.iter().map(|w| w * w).sum::<f32>() + 4.0;
    assert!((loss.scalar() - expected).abs() < 1e-5);
    let grads = loss.backward();
    // d/dW = 2 · 0.5 · W = W; d/db = 2 · sign(b) = 2.
    assert_eq!(grads.param(dense.params()[0].1).unwrap(), &kernel);
    let bias_grad = grads.param(dense.params()[1].1).unwrap();
    assert_eq!(bias_grad.as_slice().unwrap(), &[2.0, 2.0]);
    assert!(Dense::new(2).regularization_loss(&tape).is_none());
}

#[test]
fn a_bias_regularizer_without_a_bias_adds_nothing() {
    let mut dense = Dense::new(2)
        .use_bias(false)
        .bias_regularizer(Regularizer::L2(1.0));
    dense.build(&[3], &mut rng()).unwrap();
    assert!(dense.regularization_loss(&Tape::new()).is_none());
}

#[test]
fn bad_regularizers_are_errors_at_build_time() {
    let err = Dense::new(2)
        .kernel_regularizer(Regularizer::L2(-1.0))
        .build(&[3], &mut rng())
        .unwrap_err();
    assert!(err.to_string().contains("kernel_regularizer"), "{err}");
    assert!(err.to_string().contains("L2(-1.0)"), "{err}");
}
