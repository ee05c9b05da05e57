//! AGC against hand-computed numbers.
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#![allow(clippy::excessive_precision)]

use crate::testing::{assert_close, grads_of};
use crate::{Agc, AgcExclude, Clipping, Optimizer, Sgd, StepStats};
use keel_autograd::{tensor, Gradients, Param, ParamPath, Tensor};

// clip_factor 0.6, eps 1e-3; NFNets' unitwise_norm: columns of a [in, out] kernel, the whole
// tensor for a bias or a [2, 1] kernel (one dimension above 1).
//
// kernel "dense/kernel" W = [[3, 0], [4, 1]], G = [[6, 0.3], [8, 0.4]]
//   column 0: ‖W‖ = 5, max = 3,   ‖G‖ = 10  > 3:   G *= 3 / 10 → (1.8, 2.4)
//   column 1: ‖W‖ = 1, max = 0.6, ‖G‖ = 0.5 <= 0.6: unchanged
// bias "dense/bias" W = [0, 0], G = [0.003, 0.004]
//   ‖W‖ = 0 → max = 0.6 * 1e-3 = 6e-4, ‖G‖ = 0.005: G *= 0.12 → (0.00036, 0.00048)
// kernel "dense_1/kernel" W = [[1], [1]], G = [[10], [10]] (the last layer)
//   excluded by default; otherwise max = 0.6 * sqrt(2), ‖G‖ = 10 sqrt(2): G *= 0.06 → (0.6, 0.6)
// python3 (clips.py, the same rules) prints the clipped global norms:
//   norm = lambda xs: math.sqrt(sum(x*x for x in xs))
//   kern = [1.8, 0.3, 2.4, 0.4]; b = [0.00036, 0.00048]
//   print(norm(kern + b + [10.0, 10.0]), norm(kern + b + [0.6, 0.6]))
//   14.465476153932853 3.15753073777596
struct Model {
    kernel: Param,
    bias: Param,
    last: Param,
}

fn model() -> (Model, Gradients) {
    let m = Model {
        kernel: Param::new(tensor(&[2, 2], vec![3.0, 0.0, 4.0, 1.0])),
        bias: Param::new(tensor(&[2], vec![0.0, 0.0])),
        last: Param::new(tensor(&[2, 1], vec![1.0, 1.0])),
    };
    let mut grads = grads_of(&[(&m.bias, &[0.003, 0.004])]);
    grads.insert(m.kernel.id(), tensor(&[2, 2], vec![6.0, 0.3, 8.0, 0.4]));
    grads.insert(m.last.id(), tensor(&[2, 1], vec![10.0, 10.0]));
    (m, grads)
}

fn agc_step(agc: Agc) -> (StepStats, Model, Gradients) {
    let mut opt = Optimizer::try_from(Sgd::new(0.0).clip(agc)).unwrap();
    let (mut m, mut grads) = model();
    let params = [
        (ParamPath::new(0, "dense", "kernel"), &mut m.kernel),
        (ParamPath::new(0, "dense", "bias"), &mut m.bias),
        (ParamPath::new(1, "dense_1", "kernel"), &mut m.last),
    ];
    let stats = opt.step(params, &mut grads).unwrap();
    (stats, m, grads)
}

fn values(t: &Tensor) -> Vec<f32> {
    t.iter().copied().collect()
}

#[test]
fn agc_clips_each_output_unit_against_its_weights() {
    let (stats, m, grads) = agc_step(Agc::new(0.6));
    assert_close(
        &values(grads.param(&m.kernel).unwrap()),
        &[1.8, 0.3, 2.4, 0.4],
        1e-6,
    );
    assert_close(
        &values(grads.param(&m.bias).unwrap()),
        &[0.00036, 0.00048],
        1e-9,
    );
    // The last layer (the classifier) is left alone by default.
    assert_eq!(values(grads.param(&m.last).unwrap()), [10.0, 10.0]);
    assert!(stats.clipped);
    assert_close(
        &[stats.grad_norm],
        &[(100.0f32 + 0.25 + 2.5e-5 + 200.0).sqrt()],
        1e-5,
    );
    assert_close(&[stats.clipped_norm], &[14.465476], 1e-5);
}

#[test]
fn agc_can_clip_the_last_layer_too() {
    let (stats, m, grads) = agc_step(Agc::new(0.6).exclude(AgcExclude::Nothing));
    assert_close(&values(grads.param(&m.last).unwrap()), &[0.6, 0.6], 1e-6);
    assert_close(&[stats.clipped_norm], &[3.1575307], 1e-5);
}

#[test]
fn small_gradients_are_untouched_and_not_reported_as_clipped() {
    let (stats, m, grads) = agc_step(Agc::new(100.0).exclude(AgcExclude::Nothing));
    assert_eq!(
        values(grads.param(&m.kernel).unwrap()),
        [6.0, 0.3, 8.0, 0.4]
    );
    assert!(!stats.clipped);
    assert_eq!(stats.clipped_norm, stats.grad_norm);
}

#[test]
fn a_non_finite_unit_is_left_alone_and_the_others_are_clipped() {
    let mut opt = Optimizer::try_from(Sgd::new(0.0).agc(0.6)).unwrap();
    let mut kernel = Param::new(tensor(&[2, 2], vec![3.0, 0.0, 4.0, 1.0]));
    let mut last = Param::new(tensor(&[1], vec![1.0]));
    let mut grads = grads_of(&[(&last, &[1.0])]);
    grads.insert(kernel.id(), tensor(&[2, 2], vec![6.0, f32::NAN, 8.0, 0.4]));
    let params = [
        ("0.k".to_string(), &mut kernel),
        ("1.k".to_string(), &mut last),
    ];
    opt.step(params, &mut grads).unwrap();
    let g = values(grads.param(&kernel).unwrap());
    assert_close(&[g[0], g[2], g[3]], &[1.8, 2.4, 0.4], 1e-6);
    assert!(g[1].is_nan()); // NaN stays where it was, and spreads nowhere
}
