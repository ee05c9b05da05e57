//! `Optimizer::step` checks, in-place updates and bookkeeping.

use crate::testing::{assert_close, grads_of, run_steps};
use crate::{
    Adam, Clipping, CosineDecay, Decision, Error, ExponentialDecay, Optimizer, Sgd, WeightDecay,
};
use keel_autograd::{tensor, Param, ParamPath, Tape};

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
    let stats = opt
        .step(Vec::<(String, &mut Param)>::new(), &mut grads)
        .unwrap();
    assert_eq!((stats.grad_norm, opt.iterations()), (0.0, 1));
}

#[test]
fn config_names_the_rule_and_its_hyper_parameters() {
    let opt = Optimizer::try_from(Adam::default()).unwrap();
    assert_eq!(opt.name(), "adam");
    assert_eq!(
        opt.config().to_string(),
        "adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=0.0000001, amsgrad=false)"
    );
    let sgd = Optimizer::try_from(Sgd::default().momentum(0.9).nesterov(true)).unwrap();
    assert_eq!(
        sgd.config().to_string(),
        "sgd(learning_rate=0.01, momentum=0.9, nesterov=true)"
    );
}

#[test]
fn step_with_reports_every_norm_from_one_pass() {
    let mut opt = Optimizer::try_from(Sgd::new(1.0)).unwrap();
    let mut a = Param::new(tensor(&[2], vec![0.0; 2]));
    let mut b = Param::new(tensor(&[1], vec![0.0]));
    let mut grads = grads_of(&[(&a, &[3.0, 4.0]), (&b, &[12.0])]);
    let params = [
        (ParamPath::new(0, "dense", "kernel"), &mut a),
        (ParamPath::new(0, "dense", "bias"), &mut b),
    ];
    let mut seen = None;
    let outcome = opt
        .step_with(params, &mut grads, |report| {
            seen = Some(report.clone());
            Decision::Apply
        })
        .unwrap();
    let report = seen.unwrap();
    assert_eq!(report.global_norm, 13.0);
    assert_eq!(
        report.param_norms,
        [
            (ParamPath::new(0, "dense", "kernel"), 5.0),
            (ParamPath::new(0, "dense", "bias"), 12.0)
        ]
    );
    assert!(report.finite);
    assert!(outcome.applied);
    assert_eq!(outcome.stats.grad_norm, 13.0);
    assert!(!outcome.stats.clipped);
    assert_eq!(a.value(), &tensor(&[2], vec![-3.0, -4.0]));
}

#[test]
fn a_skipped_step_changes_nothing_at_all() {
    let mut opt = Optimizer::try_from(Adam::new(0.1).autoclip(50.0).weight_decay(0.1)).unwrap();
    let mut w = Param::new(tensor(&[2], vec![1.0, 2.0]));
    let mut grads = grads_of(&[(&w, &[0.5, 0.5])]);
    opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
    let (state, weights) = (opt.state().clone(), w.value().clone());
    let mut grads = grads_of(&[(&w, &[f32::INFINITY, 1.0])]);
    let outcome = opt
        .step_with([("w".to_string(), &mut w)], &mut grads, |r| {
            assert!(!r.finite && r.global_norm == f32::INFINITY);
            Decision::Skip
        })
        .unwrap();
    assert!(!outcome.applied);
    assert_eq!(outcome.stats.learning_rate, 0.1);
    assert_eq!(opt.state(), &state); // iterations, moments and AutoClip history
    assert_eq!(w.value(), &weights);
    assert_eq!(
        grads.param(&w).unwrap(),
        &tensor(&[2], vec![f32::INFINITY, 1.0])
    );
}

#[test]
fn errors_come_before_the_decision() {
    let mut opt = Optimizer::try_from(Sgd::new(0.1)).unwrap();
    let mut w = Param::new(tensor(&[1], vec![1.0]));
    let mut grads = keel_autograd::Gradients::default();
    let result = opt.step_with([("w".to_string(), &mut w)], &mut grads, |_| {
        panic!("decide must not run on an invalid step")
    });
    assert_eq!(
        result.unwrap_err(),
        Error::MissingGradient { name: "w".into() }
    );
}

#[test]
fn a_schedule_is_evaluated_at_the_step_count_before_the_step() {
    // lr(step) = 0.1 * 0.5^step: the first update uses 0.1, the second 0.05, the third 0.025.
    let opt = Optimizer::try_from(Sgd::new(ExponentialDecay::new(0.1, 1, 0.5))).unwrap();
    assert_eq!(opt.learning_rate(), 0.1);
    let got = run_steps(opt, &[0.0], &[&[1.0], &[1.0], &[1.0]]);
    assert_close(&got.concat(), &[-0.1, -0.15, -0.175], 1e-7);
}

#[test]
fn a_scheduled_rate_cannot_be_set_but_can_be_scaled() {
    let mut opt = Optimizer::try_from(Sgd::new(CosineDecay::new(0.1, 10))).unwrap();
    let err = opt.set_learning_rate(0.01).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot set the learning rate: expected a constant learning rate, found the schedule \
         `cosine_decay` driving it (use set_lr_multiplier to scale a scheduled rate)"
    );
    opt.set_lr_multiplier(0.5).unwrap();
    assert_eq!(opt.learning_rate(), 0.05);
    let mut w = Param::new(tensor(&[1], vec![0.0]));
    let mut grads = grads_of(&[(&w, &[1.0])]);
    let stats = opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
    assert_eq!(stats.learning_rate, 0.05);
    assert_eq!(w.value()[0], -0.05);
}

#[test]
fn set_learning_rate_sets_the_effective_rate_under_a_multiplier() {
    let mut opt = Optimizer::try_from(Sgd::new(0.1)).unwrap();
    opt.set_lr_multiplier(0.5).unwrap();
    assert_eq!(opt.learning_rate(), 0.05);
    // ReduceLROnPlateau reads 0.05 and halves it: the effective rate is 0.025 ...
    opt.set_learning_rate(0.025).unwrap();
    assert_eq!(opt.learning_rate(), 0.025);
    // ... and lifting the multiplier keeps the halving.
    opt.set_lr_multiplier(1.0).unwrap();
    assert_eq!(opt.learning_rate(), 0.05);
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(matches!(
            opt.set_lr_multiplier(bad),
            Err(Error::InvalidLrMultiplier { .. })
        ));
    }
    assert_eq!(opt.lr_multiplier(), 1.0);
}

#[test]
fn weight_decay_shrinks_before_the_rule_for_every_optimizer() {
    // SGD, lr 0.1, wd 0.5: p = p - p * 0.5 * 0.1 - 0.1 * g.
    // p0 = 2, g = 1: 2 - 0.1 - 0.1 = 1.8; then 1.8 - 0.09 - 0.1 = 1.61.
    let opt = Optimizer::try_from(Sgd::new(0.1).weight_decay(0.5)).unwrap();
    let got = run_steps(opt, &[2.0], &[&[1.0], &[1.0]]);
    assert_close(&got.concat(), &[1.8, 1.61], 1e-6);
    // A tensor long enough to be decayed in runs on several threads: same arithmetic.
    let n = 3 * keel_runtime::plan::ELEMENTWISE_MIN_LEN + 7;
    let opt = Optimizer::try_from(Sgd::new(0.1).weight_decay(0.5)).unwrap();
    let got = run_steps(opt, &vec![2.0; n], &[&vec![1.0; n]]);
    assert!(got[0].iter().all(|&p| (p - 1.8).abs() <= 1e-6));
    let err = Optimizer::try_from(Adam::new(0.1).weight_decay(f32::NAN)).unwrap_err();
    assert!(matches!(err, Error::InvalidWeightDecay { .. }));
    assert_eq!(
        Optimizer::try_from(Sgd::new(0.1).weight_decay(-0.1))
            .unwrap_err()
            .to_string(),
        "invalid weight_decay: expected a finite number >= 0, found -0.1"
    );
}

#[test]
fn invalid_schedules_are_errors_when_the_optimizer_is_built() {
    let err = Optimizer::try_from(Adam::new(ExponentialDecay::new(0.1, 0, 0.5))).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidSchedule {
            name: "decay_steps",
            ..
        }
    ));
}

#[test]
fn display_shows_schedule_hyper_parameters_weight_decay_and_clip() {
    let opt = Optimizer::try_from(
        Sgd::new(ExponentialDecay::new(0.1, 100, 0.9))
            .weight_decay(0.01)
            .global_clipnorm(1.0),
    )
    .unwrap();
    assert_eq!(
        opt.to_string(),
        "sgd(learning_rate=exponential_decay(initial_learning_rate=0.1, decay_steps=100, \
         decay_rate=0.9, staircase=false), momentum=0, nesterov=false, weight_decay=0.01, \
         global_clipnorm=1)"
    );
}
