//! Optimizer state stays finite: second moments saturate instead of overflowing, an update
//! that leaves a non-finite value is reported, and restored slots are checked.

use keel_autograd::{tensor, Gradients, Param};
use keel_optim::{Adagrad, Adam, AdamW, Error, Optimizer, OptimizerSnapshot, RMSprop, Sgd};
use serde_json::Value;

/// One step of `opt` on the parameter `w` with gradient `g`.
fn step(opt: &mut Optimizer, w: &mut Param, g: &[f32]) -> keel_optim::Result<()> {
    let mut grads = Gradients::default();
    grads.insert(w.id(), tensor(&[g.len()], g.to_vec()));
    opt.step([("w".to_string(), w)], &mut grads).map(|_| ())
}

fn all_finite(opt: &Optimizer, w: &Param) -> bool {
    let slots = opt.state().slots().values().flat_map(|s| s.tensors());
    w.value().iter().all(|x| x.is_finite()) && slots.flatten().all(|x| x.is_finite())
}

#[test]
fn huge_finite_gradients_keep_every_second_moment_finite() {
    // 1e20² overflows f32: before saturation, v became inf and the next step wrote NaN.
    let builders: Vec<(&str, Optimizer)> = vec![
        ("adam", Optimizer::try_from(Adam::new(1e-3)).unwrap()),
        (
            "amsgrad",
            Optimizer::try_from(Adam::new(1e-3).amsgrad(true)).unwrap(),
        ),
        ("adamw", Optimizer::try_from(AdamW::new(1e-3)).unwrap()),
        (
            "rmsprop",
            Optimizer::try_from(RMSprop::new(1e-3).centered(true)).unwrap(),
        ),
        ("adagrad", Optimizer::try_from(Adagrad::new(1e-3)).unwrap()),
    ];
    for (name, mut opt) in builders {
        let mut w = Param::new(tensor(&[3], vec![0.5, -0.5, 1.0]));
        for g in [
            [1e20, -3e19, 1e-38],
            [2e19, 1e20, -1e-38],
            [-1e20, 1e20, 1e20],
        ] {
            step(&mut opt, &mut w, &g).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(all_finite(&opt, &w), "{name}: {:?}", opt.state());
    }
}

#[test]
fn an_update_that_overflows_the_weights_is_an_error_naming_the_parameter() {
    let mut opt = Optimizer::try_from(Sgd::new(1.0)).unwrap();
    let mut w = Param::new(tensor(&[2], vec![f32::MAX, 0.0]));
    let err = step(&mut opt, &mut w, &[-f32::MAX, 1.0]).unwrap_err();
    assert!(matches!(&err, Error::NonFiniteUpdate { name, part, .. }
        if name == "w" && part == "weights"));
    assert!(err.to_string().contains("lower the learning rate"), "{err}");
}

#[test]
fn an_update_that_overflows_a_slot_names_it() {
    // A first moment of -MAX and a gradient of MAX: g - m overflows.
    let mut opt = Optimizer::try_from(Adam::new(1e-3).beta_1(0.0)).unwrap();
    let mut w = Param::new(tensor(&[1], vec![0.0]));
    step(&mut opt, &mut w, &[-f32::MAX]).unwrap();
    let err = step(&mut opt, &mut w, &[f32::MAX]).unwrap_err();
    assert!(
        matches!(&err, Error::NonFiniteUpdate { part, .. } if part == "slot `m`"),
        "{err}"
    );
}

#[test]
fn a_custom_rule_is_checked_too() {
    // A rule of the user's own keeps the default `update_checked`: a pass after the update.
    #[derive(Debug)]
    struct Doubling;
    impl keel_optim::UpdateRule for Doubling {
        fn name(&self) -> &'static str {
            "doubling"
        }
        fn hyper_parameters(&self) -> Vec<(&'static str, keel_optim::HyperValue)> {
            Vec::new()
        }
        fn update(
            &self,
            _: f32,
            _: u64,
            p: &mut keel_autograd::Tensor,
            _: &keel_autograd::Tensor,
            _: &mut keel_optim::Slots,
        ) {
            p.mapv_inplace(|x| x * 2.0);
        }
    }
    let mut opt = Optimizer::new(Doubling, 0.1, None).unwrap();
    let mut w = Param::new(tensor(&[2], vec![1.0, f32::MAX]));
    let err = step(&mut opt, &mut w, &[0.0, 0.0]).unwrap_err();
    assert!(
        matches!(&err, Error::NonFiniteUpdate { part, .. } if part == "weights"),
        "{err}"
    );
}

/// A snapshot of Adam after one step on `w`, as JSON to corrupt.
fn adam_snapshot() -> (Optimizer, Value) {
    let mut opt = Optimizer::try_from(Adam::new(1e-3)).unwrap();
    let mut w = Param::new(tensor(&[2], vec![1.0, 2.0]));
    step(&mut opt, &mut w, &[0.5, -0.5]).unwrap();
    let json = serde_json::to_value(opt.snapshot()).unwrap();
    (opt, json)
}

fn corrupt(json: &Value, slot: usize, value: f64) -> OptimizerSnapshot {
    let mut json = json.clone();
    json["state"]["slots"]["w"]["tensors"][slot]["data"][1] = value.into();
    serde_json::from_value(json).unwrap()
}

#[test]
fn restore_refuses_a_negative_second_moment() {
    let (mut opt, json) = adam_snapshot();
    let before = opt.snapshot();
    let err = opt.restore(&corrupt(&json, 1, -0.25)).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidSlotValue {
            name: "w".into(),
            slot: "v".into(),
            index: 1,
            found: -0.25,
            expected: "a finite number >= 0",
        }
    );
    assert!(
        err.to_string().contains("slot `v` of parameter `w`"),
        "{err}"
    );
    assert_eq!(opt.snapshot(), before, "a refused restore changes nothing");
    // A negative first moment is fine: m has either sign.
    opt.restore(&corrupt(&json, 0, -0.25)).unwrap();
}

#[test]
fn restore_refuses_an_infinite_slot() {
    let (mut opt, json) = adam_snapshot();
    // 1e39 is finite in JSON and infinite as f32.
    let err = opt.restore(&corrupt(&json, 0, 1e39)).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSlotValue { slot, found, .. }
            if slot == "m" && found.is_infinite()),
        "{err}"
    );
}
