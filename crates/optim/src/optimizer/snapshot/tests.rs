//! Snapshots: restore, serde round trips and mismatches.

use crate::testing::grads_of;
use crate::{
    Adam, AutoClip, Clipping, CosineDecay, Error, Optimizer, OptimizerSnapshot, Sgd, ZClip,
};
use keel_autograd::{tensor, Param};

/// Runs `n` steps on `w` with gradients that change from step to step.
fn steps(opt: &mut Optimizer, w: &mut Param, n: usize) {
    for k in 0..n {
        let g = [0.5 + k as f32, -1.0 / (1.0 + k as f32)];
        let mut grads = grads_of(&[(w, &g)]);
        opt.step([("w".to_string(), &mut *w)], &mut grads).unwrap();
    }
}

#[test]
fn restore_replays_bit_for_bit_with_stateful_clipping() {
    for builder in [
        Adam::new(0.1).clip(AutoClip::new(50.0)),
        Adam::new(0.1).clip(ZClip::new().warmup_steps(2)),
        Adam::new(CosineDecay::new(0.1, 10)).amsgrad(true),
    ] {
        let mut opt = Optimizer::try_from(builder).unwrap();
        let mut w = Param::new(tensor(&[2], vec![1.0, 2.0]));
        steps(&mut opt, &mut w, 3);
        let (saved, weights) = (opt.snapshot(), w.value().clone());
        steps(&mut opt, &mut w, 3);
        let after = (opt.snapshot(), w.value().clone());
        opt.restore(&saved).unwrap();
        w.set_value(weights);
        steps(&mut opt, &mut w, 3);
        assert_eq!((opt.snapshot(), w.value().clone()), after);
    }
}

#[test]
fn snapshots_round_trip_through_bincode_and_json() {
    let mut opt = Optimizer::try_from(Adam::new(0.1).clip(ZClip::new().warmup_steps(2))).unwrap();
    let mut w = Param::new(tensor(&[2], vec![1.0, 2.0]));
    steps(&mut opt, &mut w, 3);
    opt.set_lr_multiplier(0.25).unwrap();
    let snapshot = opt.snapshot();
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&snapshot, config).unwrap();
    let (back, read): (OptimizerSnapshot, usize) =
        bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!((back.clone(), read), (snapshot.clone(), bytes.len()));
    let json = serde_json::to_string(&snapshot).unwrap();
    assert_eq!(
        serde_json::from_str::<OptimizerSnapshot>(&json).unwrap(),
        snapshot
    );
    let mut fresh = Optimizer::try_from(Adam::new(0.1).clip(ZClip::new().warmup_steps(2))).unwrap();
    fresh.restore(&back).unwrap();
    assert_eq!(fresh.iterations(), 3);
    assert_eq!(fresh.lr_multiplier(), 0.25);
    assert_eq!(fresh.state(), opt.state());
}

#[test]
fn restore_brings_back_a_changed_constant_rate() {
    let mut opt = Optimizer::try_from(Sgd::new(0.1)).unwrap();
    let saved = opt.snapshot();
    opt.set_learning_rate(0.01).unwrap();
    opt.restore(&saved).unwrap();
    assert_eq!(opt.learning_rate(), 0.1);
}

#[test]
fn a_snapshot_of_another_rule_is_an_error_and_changes_nothing() {
    let mut adam = Optimizer::try_from(Adam::new(0.1)).unwrap();
    let mut w = Param::new(tensor(&[2], vec![1.0, 2.0]));
    steps(&mut adam, &mut w, 1);
    let sgd = Optimizer::try_from(Sgd::new(0.1)).unwrap().snapshot();
    let err = adam.restore(&sgd).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot restore optimizer snapshot: expected the rule `adam`, found the rule `sgd`"
    );
    assert_eq!(adam.iterations(), 1);
}

#[test]
fn clip_state_and_learning_rate_kind_must_match() {
    let mut auto = Optimizer::try_from(Sgd::new(0.1).autoclip(10.0)).unwrap();
    let mut w = Param::new(tensor(&[2], vec![1.0, 2.0]));
    steps(&mut auto, &mut w, 2);
    let mut plain = Optimizer::try_from(Sgd::new(0.1)).unwrap();
    let err = plain.restore(&auto.snapshot()).unwrap_err();
    assert_eq!(
        err,
        Error::SnapshotMismatch {
            expected: "no clipping state".into(),
            found: "autoclip state".into()
        }
    );
    // A shorter history window than the snapshot holds.
    let mut short =
        Optimizer::try_from(Sgd::new(0.1).clip(AutoClip::new(10.0).history(1))).unwrap();
    assert!(short.restore(&auto.snapshot()).is_err());
    let mut scheduled = Optimizer::try_from(Sgd::new(CosineDecay::new(0.1, 10))).unwrap();
    let err = scheduled.restore(&plain.snapshot()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot restore optimizer snapshot: expected the schedule `cosine_decay`, found the \
         constant learning rate 0.1"
    );
    assert!(plain.restore(&scheduled.snapshot()).is_err());
}
