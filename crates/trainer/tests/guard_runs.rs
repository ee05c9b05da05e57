//! The guard on whole runs: it changes nothing while nothing goes wrong, its repairs are
//! deterministic, and each way of stopping says what happened.

mod common;
mod guard_support;
use common::{mnist_subset, seed_model};
use guard_support::{bits, data, model};
use keel_data::{Dataset, Targets};
use keel_layers::{Dense, Initializer};
use keel_optim::Sgd;
use keel_trainer::{
    Error, FitOptions, Guard, Location, Loss, Policy, Rollback, Sequential, Spike, Telemetry,
};

#[test]
fn the_recommended_guard_leaves_a_healthy_run_bit_identical() {
    let data = mnist_subset(640);
    let options = || {
        FitOptions::new()
            .epochs(2)
            .batch_size(32)
            .seed(3)
            .verbose(0)
    };
    let mut plain = seed_model(3);
    let plain_history = plain.fit(&data, options()).unwrap();
    let mut guarded = seed_model(3);
    let guard = Guard::recommended().on_nonfinite(Policy::Rollback(Rollback::new().every(7)));
    let history = guarded.fit(&data, options().guard(guard)).unwrap();
    assert!(history.events().is_empty(), "{:?}", history.events());
    assert_eq!(
        bits(&guarded),
        bits(&plain),
        "snapshots and checks change nothing"
    );
    assert_eq!(history, plain_history);
}

#[test]
fn a_repaired_run_is_deterministic() {
    let run = || {
        let mut m = model(0.1, true, false);
        let guard = Guard::new().on_nonfinite(Policy::Rollback(Rollback::new().every(2)));
        let options = FitOptions::new()
            .epochs(2)
            .batch_size(8)
            .seed(11)
            .verbose(0)
            .telemetry(Telemetry::Steps)
            .guard(guard);
        let history = m.fit(&data(64, 8, &[3, 6], &[]), options).unwrap();
        (history, bits(&m))
    };
    let (h1, w1) = run();
    let (h2, w2) = run();
    assert!(!h1.events().is_empty());
    assert_eq!(h1, h2);
    assert_eq!(w1, w2);
}

#[test]
fn a_spike_under_the_stop_policy_is_an_error_naming_the_step() {
    let base = data(64, 8, &[], &[]);
    let all = base.gather(&(0..64).collect::<Vec<_>>());
    let mut x = all.x;
    x.slice_mut(ndarray::s![48..56, ..])
        .mapv_inplace(|v| v * 1000.0);
    let spiky = Dataset::from_f32(x, all.y).unwrap();
    let mut m = model(0.01, false, false);
    let guard = Guard::new()
        .spike(Spike::zscore(6.0).window(50).min_samples(4))
        .on_spike(Policy::Stop);
    let options = FitOptions::new().batch_size(8).shuffle(false).verbose(0);
    let err = m.fit(&spiky, options.guard(guard)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::GradientSpike {
                epoch: 1,
                step: 7,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("the gradient norm spiked to"),
        "{err}"
    );
    assert_eq!(m.optimizer().unwrap().iterations(), 6);
}

#[test]
fn a_loss_that_overflows_from_finite_outputs_is_placed_in_the_loss() {
    // w = [1, 1], x = [1e19, 1e19]: the output 2e19 is finite, its square is not.
    let mut m = Sequential::new([2]).add(
        Dense::new(1)
            .use_bias(false)
            .kernel_initializer(Initializer::Ones),
    );
    m.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])
        .unwrap();
    let x = ndarray::Array2::from_elem((1, 2), 1e19f32).into_dyn();
    let y = ndarray::Array2::from_elem((1, 1), 0.0f32);
    let data = Dataset::from_f32(x, Targets::Dense(y)).unwrap();
    let err = m.fit(&data, FitOptions::new().verbose(0)).unwrap_err();
    match &err {
        Error::NonFiniteLoss {
            location: Some(Location::Loss { .. }),
            ..
        } => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("first non-finite value in the loss, op"),
        "{err}"
    );
}
