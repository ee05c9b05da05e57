//! The guard inside `fit`, on scripted failures: a batch whose forward pass (or gradient)
//! turns NaN. Each policy is checked against a run that never saw the batch: skipping or
//! rolling back must give bit-identical weights to training without it.

mod guard_support;
use guard_support::{bits, data, model};
use keel_trainer::{
    Error, FitOptions, Guard, GuardAction, Location, Pass, Policy, Rollback, StepAction, Telemetry,
    TerminateOnNaN, Trigger,
};

/// 64 samples, batches of 8 (8 steps an epoch), no shuffling, silent.
fn options<'a>() -> FitOptions<'a> {
    FitOptions::new()
        .batch_size(8)
        .shuffle(false)
        .verbose(0)
        .telemetry(Telemetry::Steps)
}

#[test]
fn the_default_guard_stops_naming_the_layer_and_op_with_the_weights_of_the_last_step() {
    let mut m = model(0.1, true, false);
    let err = m.fit(&data(64, 8, &[3], &[]), options()).unwrap_err();
    match &err {
        Error::NonFiniteLoss {
            epoch: 1,
            step: 4,
            location:
                Some(Location::Layer {
                    index: 0,
                    op: Some("poison"),
                    pass: Pass::Forward,
                    ..
                }),
            ..
        } => {}
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(
            "at epoch 1, step 4; first non-finite value in layer 0 (detect), op poison (forward)"
        ),
        "{msg}"
    );
    // The NaN update was never applied: the weights are those after the 3 steps before.
    let mut reference = model(0.1, true, false);
    reference
        .fit(&data(64, 8, &[], &[]), options().steps_per_epoch(3))
        .unwrap();
    assert_eq!(bits(&m), bits(&reference));
    assert_eq!(m.optimizer().unwrap().iterations(), 3);
}

#[test]
fn terminate_on_nan_makes_the_stop_graceful() {
    let mut m = model(0.1, true, false);
    let history = m
        .fit(
            &data(64, 8, &[3], &[]),
            options().epochs(2).callback(TerminateOnNaN::new()),
        )
        .unwrap();
    assert!(
        history.epochs().is_empty(),
        "the interrupted epoch is not recorded"
    );
    let actions: Vec<_> = history.steps().iter().map(|s| s.action).collect();
    assert_eq!(
        actions,
        [
            StepAction::Applied,
            StepAction::Applied,
            StepAction::Applied,
            StepAction::Stopped
        ]
    );
    assert!(history.steps()[3].loss.is_nan());
    assert_eq!(history.events().len(), 1);
}

#[test]
fn a_skipped_step_leaves_weights_and_optimizer_as_if_the_batch_did_not_exist() {
    let mut m = model(0.1, true, false);
    let guard = Guard::new().on_nonfinite(Policy::Skip);
    let history = m
        .fit(
            &data(64, 8, &[3], &[]),
            options().guard(guard).telemetry(Telemetry::Steps),
        )
        .unwrap();
    let mut reference = model(0.1, true, false);
    reference.fit(&data(64, 8, &[], &[3]), options()).unwrap();
    assert_eq!(bits(&m), bits(&reference));
    assert_eq!(m.optimizer().unwrap().iterations(), 7);
    assert_eq!(history.get("skipped_steps"), Some(&[1.0][..]));
    assert_eq!(history.steps()[3].action, StepAction::Skipped);
    let event = &history.events()[0];
    assert_eq!((event.epoch, event.batch), (0, 3));
    assert!(matches!(event.trigger, Trigger::NonFiniteLoss { value } if value.is_nan()));
    assert_eq!(event.action, GuardAction::Skipped);
}

#[test]
fn a_rollback_replays_from_the_snapshot_without_the_batch_at_a_lower_rate() {
    let mut m = model(0.1, true, false);
    let rollback = Rollback::new()
        .every(1000)
        .lr_factor(0.5)
        .cooldown_steps(1000);
    let guard = Guard::new().on_nonfinite(Policy::Rollback(rollback));
    let history = m
        .fit(&data(64, 8, &[3], &[]), options().guard(guard))
        .unwrap();
    // The only snapshot is the epoch's start, so the run equals SGD(0.1 x 0.5) from the
    // initial weights on the data without batch 3.
    let mut reference = model(0.05, true, false);
    reference.fit(&data(64, 8, &[], &[3]), options()).unwrap();
    assert_eq!(bits(&m), bits(&reference));
    assert_eq!(m.optimizer().unwrap().iterations(), 7);
    assert_eq!(
        m.optimizer().unwrap().lr_multiplier(),
        1.0,
        "reset when fit ends"
    );
    let actions: Vec<_> = history
        .steps()
        .iter()
        .map(|s| (s.batch, s.action))
        .collect();
    use StepAction::*;
    let expected = [
        (0, Applied),
        (1, Applied),
        (2, Applied),
        (3, RolledBack),
        (0, Applied),
        (1, Applied),
        (2, Applied),
        (3, Skipped),
        (4, Applied),
        (5, Applied),
        (6, Applied),
        (7, Applied),
    ];
    assert_eq!(actions, expected);
    assert_eq!(history.steps()[4].learning_rate, 0.05);
    assert_eq!(history.get("rollbacks"), Some(&[1.0][..]));
    assert_eq!(
        history.events()[0].action,
        GuardAction::RolledBack {
            to_batch: 0,
            lr_multiplier: 0.5
        }
    );
}

#[test]
fn the_rate_comes_back_one_level_per_cooldown() {
    let mut m = model(0.1, true, false);
    let rollback = Rollback::new().every(1000).lr_factor(0.5).cooldown_steps(2);
    let guard = Guard::new().on_nonfinite(Policy::Rollback(rollback));
    let history = m
        .fit(&data(64, 8, &[3], &[]), options().guard(guard))
        .unwrap();
    let rates: Vec<f32> = history.steps()[4..]
        .iter()
        .filter(|s| s.action == StepAction::Applied)
        .map(|s| s.learning_rate)
        .collect();
    // Replayed batches 0 and 1 at 0.05, then the cooldown of 2 steps ends: 0.1 again
    // (batch 3 is skipped).
    assert_eq!(rates, [0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1]);
}

#[test]
fn running_out_of_rollbacks_restores_the_snapshot_and_stops() {
    let mut m = model(0.1, true, false);
    let initial = bits(&m);
    let rollback = Rollback::new().max_rollbacks(2);
    let guard = Guard::new().on_nonfinite(Policy::Rollback(rollback));
    let err = m
        .fit(
            &data(64, 8, &[0, 1, 2, 3, 4, 5, 6, 7], &[]),
            options().guard(guard),
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::GuardExhausted {
                limit: "max_rollbacks",
                count: 2,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("epoch 1, step 3") && msg.contains("restored to the last good snapshot"),
        "{msg}"
    );
    assert_eq!(bits(&m), initial, "back to the epoch's start");
    assert_eq!(m.optimizer().unwrap().iterations(), 0);
}

#[test]
fn too_many_skips_in_a_row_stop_training() {
    let mut m = model(0.1, true, false);
    let guard = Guard::new()
        .on_nonfinite(Policy::Skip)
        .max_consecutive_skips(3);
    let err = m
        .fit(&data(64, 8, &[2, 3, 4, 5, 6], &[]), options().guard(guard))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::GuardExhausted {
                limit: "max_consecutive_skips",
                count: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("epoch 1, step 6"), "{err}");
    assert_eq!(m.optimizer().unwrap().iterations(), 2);
}

#[test]
fn a_non_finite_gradient_is_placed_at_the_last_parameter_it_reached() {
    let mut m = model(0.1, false, true);
    let err = m.fit(&data(64, 8, &[2], &[]), options()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::NonFiniteGradient {
                epoch: 1,
                step: 3,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("first non-finite value in layer 1 (dense), op dense (backward), gradient of dense/bias"),
        "{msg}"
    );
    assert!(bits(&m)
        .iter()
        .flatten()
        .all(|&b| f32::from_bits(b).is_finite()));
}

#[test]
fn a_gradient_norm_spike_is_skipped() {
    use keel_trainer::Spike;
    // Batch 6 has features 1000 times larger than the rest: its gradient norm jumps.
    let base = data(64, 8, &[], &[]);
    let all = base.gather(&(0..64).collect::<Vec<_>>());
    let mut x = all.x;
    x.slice_mut(ndarray::s![48..56, ..])
        .mapv_inplace(|v| v * 1000.0);
    let spiky = keel_data::Dataset::from_f32(x, all.y).unwrap();
    let mut m = model(0.01, false, false);
    let guard = Guard::new().spike(Spike::zscore(6.0).window(50).min_samples(4));
    let history = m.fit(&spiky, options().guard(guard)).unwrap();
    assert_eq!(history.events().len(), 1, "{:?}", history.events());
    let event = &history.events()[0];
    assert_eq!(event.batch, 6);
    assert!(matches!(event.trigger, Trigger::Spike { zscore, .. } if zscore > 6.0));
    assert_eq!(m.optimizer().unwrap().iterations(), 7);
}

#[test]
fn bad_guard_settings_are_errors_before_training() {
    let mut m = model(0.1, false, false);
    let guard = Guard::new().on_nonfinite(Policy::Rollback(Rollback::new().lr_factor(2.0)));
    let msg = m
        .fit(&data(64, 8, &[], &[]), options().guard(guard))
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "rollback lr_factor must be in (0, 1], found 2");
    assert_eq!(m.optimizer().unwrap().iterations(), 0);
}
