//! `Optimizer::step` checks, in-place updates and bookkeeping.

use crate::testing::grads_of;
use crate::{Adam, Error, Optimizer, Sgd};
use keel_autograd::{tensor, Param, Tape};

#[test]
fn optimizer_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Optimizer>();
}

#[test]
fn step_updates_in_place_once_the_tape_is_dropped() {
    let mut opt = Optimizer::try_from(Adam::new(0.1)).unwrap();
    let mut w = Param::new(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    let before = w.value().as_ptr();
    for _ in 0..3 {
        let tape = Tape::new();
        let x = tape.param(&w);
        let mut grads = (x * x).backward();
        drop(tape);
        opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
    }
    assert_eq!(w.value().as_ptr(), before, "the weights were reallocated");
    assert!(w.value()[[0, 0]] < 1.0);
}

#[test]
fn a_tape_still_holding_the_value_keeps_its_copy() {
    let mut opt = Optimizer::try_from(Sgd::new(0.5)).unwrap();
    let mut w = Param::new(tensor(&[1], vec![2.0]));
    let tape = Tape::new();
    let x = tape.param(&w);
    let mut grads = (x * x).backward(); // 2w = 4
    opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
    assert_eq!(w.value()[0], 0.0); // 2 - 0.5 * 4
    assert_eq!(x.value()[0], 2.0); // the tape's value is untouched (copy on write)
}

#[test]
fn missing_gradient_is_an_error_and_changes_nothing() {
    let mut opt = Optimizer::try_from(Sgd::new(0.1)).unwrap();
    let mut a = Param::new(tensor(&[2], vec![1.0, 2.0]));
    let mut b = Param::new(tensor(&[1], vec![3.0]));
    let mut grads = grads_of(&[(&a, &[1.0, 1.0])]);
    let params = [("a".to_string(), &mut a), ("b".to_string(), &mut b)];
    let err = opt.step(params, &mut grads).unwrap_err();
    assert_eq!(err, Error::MissingGradient { name: "b".into() });
    assert_eq!(
        err.to_string(),
        "parameter `b` has no gradient: expected one from the backward pass, found none \
         (is it used in the loss?)"
    );
    assert_eq!(opt.iterations(), 0);
    assert_eq!(a.value(), &tensor(&[2], vec![1.0, 2.0]));
}

#[test]
fn gradient_of_another_shape_is_an_error() {
    let mut opt = Optimizer::try_from(Sgd::new(0.1)).unwrap();
    let mut w = Param::new(tensor(&[2, 1], vec![1.0, 2.0]));
    let mut grads = grads_of(&[(&w, &[1.0, 1.0])]); // shape [2]
    let err = opt
        .step([("w".to_string(), &mut w)], &mut grads)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gradient of parameter `w` has shape [2]: expected the parameter's shape [2, 1]"
    );
}

#[test]
fn duplicate_names_are_an_error() {
    let mut opt = Optimizer::try_from(Sgd::new(0.1)).unwrap();
    let mut a = Param::new(tensor(&[1], vec![1.0]));
    let mut b = Param::new(tensor(&[1], vec![1.0]));
    let mut grads = grads_of(&[(&a, &[1.0]), (&b, &[1.0])]);
    let params = [("w".to_string(), &mut a), ("w".to_string(), &mut b)];
    let err = opt.step(params, &mut grads).unwrap_err();
    assert_eq!(err, Error::DuplicateParameter { name: "w".into() });
}

#[test]
fn state_of_another_shape_under_the_same_name_is_an_error() {
    let mut opt = Optimizer::try_from(Adam::default()).unwrap();
    let mut small = Param::new(tensor(&[2], vec![1.0, 2.0]));
    let mut grads = grads_of(&[(&small, &[1.0, 1.0])]);
    opt.step([("w".to_string(), &mut small)], &mut grads)
        .unwrap();
    let mut big = Param::new(tensor(&[3], vec![1.0; 3]));
    let mut grads = grads_of(&[(&big, &[1.0; 3])]);
    let err = opt
        .step([("w".to_string(), &mut big)], &mut grads)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "optimizer state of parameter `w` has shape [2]: expected the parameter's shape [3]"
    );
    assert_eq!(opt.iterations(), 1);
}

#[test]
fn learning_rate_changes_apply_to_the_next_step() {
    let mut opt = Optimizer::try_from(Sgd::new(0.1)).unwrap();
    let mut w = Param::new(tensor(&[1], vec![1.0]));
    opt.set_learning_rate(0.5).unwrap();
    assert_eq!(
        opt.set_learning_rate(f32::INFINITY),
        Err(Error::InvalidLearningRate {
            found: f32::INFINITY
        })
    );
    let mut grads = grads_of(&[(&w, &[1.0])]);
    let stats = opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
    assert_eq!(stats.learning_rate, 0.5);
    assert_eq!(w.value()[0], 0.5);
}

#[test]
fn an_empty_step_counts_and_reports_zero_norm() {
    let mut opt = Optimizer::try_from(Adam::default()).unwrap();
    let mut grads = keel_autograd::Gradients::default();
    let stats = opt.step(Vec::new(), &mut grads).unwrap();
    assert_eq!((stats.grad_norm, opt.iterations()), (0.0, 1));
}

#[test]
fn config_names_the_rule_and_its_hyper_parameters() {
    let opt = Optimizer::try_from(Adam::default()).unwrap();
    assert_eq!(opt.name(), "adam");
    assert_eq!(
        opt.config().to_string(),
        "adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=0.0000001)"
    );
    let sgd = Optimizer::try_from(Sgd::default().momentum(0.9).nesterov(true)).unwrap();
    assert_eq!(
        sgd.config().to_string(),
        "sgd(learning_rate=0.01, momentum=0.9, nesterov=true)"
    );
}
