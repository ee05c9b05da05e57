//! Adam, AMSGrad, AdamW and RMSprop against Keras 3's update steps, recomputed here by hand.
//!
//! Keras holds `beta_1 = 0.9` as a Python double: `1 - beta_1` is computed in double and
//! rounded to `f32` once, while Adam's bias correction casts the betas to `f32` and runs in
//! `f32`. The reference does exactly that for the bias correction and keeps the moments and
//! parameters in `f64`, so Keel may differ from it only by `f32` rounding (below 1e-7 here);
//! computing `1 − β` in `f32` instead moves the parameters by about 3e-6 after these 5
//! steps at lr 0.1, which the tolerance rejects.

use keel_autograd::{tensor, Gradients, Param};
use keel_optim::{Adam, AdamW, Optimizer, RMSprop};

const P0: [f64; 4] = [0.5, -0.3, 0.01, 0.0];
const GRADS: [[f64; 4]; 5] = [
    [0.1, -0.2, 0.3, 1e-3],
    [0.05, 0.4, -0.1, 2e-3],
    [-0.3, 0.1, 0.2, -1e-3],
    [0.2, -0.05, 0.25, 5e-4],
    [0.15, 0.3, -0.2, 1e-3],
];
/// Twice the worst `f32` rounding seen (5e-8); f32 `1 − β` is off by 1.6e-7 to 2.7e-6.
const TOL: f64 = 1e-7;

/// Keras's `alpha = lr * sqrt(1 - beta_2_power) / (1 - beta_1_power)`, every operand cast
/// to `f32` and every operation rounded to `f32`.
fn keras_alpha(lr: f64, b1: f64, b2: f64, t: usize) -> f64 {
    let f32_pow = |b: f64| (f64::from(b as f32).powi(t as i32)) as f32;
    let (b1t, b2t) = (f32_pow(b1), f32_pow(b2));
    f64::from(lr as f32 * (1.0 - b2t).sqrt() / (1.0 - b1t))
}

/// Keras 3's `Adam.update_step` (with `amsgrad`), preceded by AdamW's decoupled decay
/// `p -= p * wd * lr` when `wd > 0`, in f64.
fn keras_adam(lr: f64, b1: f64, b2: f64, eps: f64, amsgrad: bool, wd: f64) -> Vec<[f64; 4]> {
    let (mut p, mut m, mut v, mut vh) = (P0, [0.0; 4], [0.0; 4], [0.0_f64; 4]);
    let mut out = Vec::new();
    for (t, g) in GRADS.iter().enumerate() {
        let alpha = keras_alpha(lr, b1, b2, t + 1);
        for i in 0..4 {
            p[i] -= p[i] * wd * lr;
            m[i] += (g[i] - m[i]) * (1.0 - b1);
            v[i] += (g[i] * g[i] - v[i]) * (1.0 - b2);
            vh[i] = vh[i].max(v[i]);
            let v = if amsgrad { vh[i] } else { v[i] };
            p[i] -= alpha * m[i] / (v.sqrt() + eps);
        }
        out.push(p);
    }
    out
}

/// Keras 3's `RMSprop.update_step` without momentum or centering, in f64.
fn keras_rmsprop(lr: f64, rho: f64, eps: f64) -> Vec<[f64; 4]> {
    let (mut p, mut v) = (P0, [0.0; 4]);
    let mut out = Vec::new();
    for g in &GRADS {
        for i in 0..4 {
            v[i] = rho * v[i] + (1.0 - rho) * g[i] * g[i];
            p[i] -= lr * g[i] / (v[i] + eps).sqrt();
        }
        out.push(p);
    }
    out
}

/// Runs `opt` over [`GRADS`] and asserts every step within [`TOL`] of `expected`, naming
/// the worst element.
fn assert_matches(mut opt: Optimizer, expected: &[[f64; 4]]) {
    let mut w = Param::new(tensor(&[4], P0.map(|x| x as f32).to_vec()));
    let mut worst = (0.0, String::new());
    for (step, (g, want)) in GRADS.iter().zip(expected).enumerate() {
        let mut grads = Gradients::default();
        grads.insert(w.id(), tensor(&[4], g.map(|x| x as f32).to_vec()));
        opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
        for (i, (&got, &want)) in w.value().iter().zip(want).enumerate() {
            let diff = (f64::from(got) - want).abs();
            if diff > worst.0 {
                let at = format!("step {} index {i}: got {got}, Keras {want}", step + 1);
                worst = (diff, at);
            }
        }
    }
    let (diff, at) = worst;
    assert!(diff <= TOL, "{}: {at} (off by {diff:e})", opt.name());
}

#[test]
fn adam_matches_keras_arithmetic() {
    let opt = Optimizer::try_from(Adam::new(0.1)).unwrap();
    assert_matches(opt, &keras_adam(0.1, 0.9, 0.999, 1e-7, false, 0.0));
}

#[test]
fn amsgrad_matches_keras_arithmetic() {
    let opt = Optimizer::try_from(Adam::new(0.1).amsgrad(true)).unwrap();
    assert_matches(opt, &keras_adam(0.1, 0.9, 0.999, 1e-7, true, 0.0));
}

#[test]
fn adamw_matches_keras_arithmetic() {
    let opt = Optimizer::try_from(AdamW::new(0.1)).unwrap();
    assert_matches(opt, &keras_adam(0.1, 0.9, 0.999, 1e-7, false, 0.004));
}

#[test]
fn adam_with_other_betas_matches_keras_arithmetic() {
    let opt = Optimizer::try_from(Adam::new(0.1).beta_1(0.8).beta_2(0.99)).unwrap();
    assert_matches(opt, &keras_adam(0.1, 0.8, 0.99, 1e-7, false, 0.0));
}

#[test]
fn rmsprop_matches_keras_arithmetic() {
    let opt = Optimizer::try_from(RMSprop::new(0.1)).unwrap();
    assert_matches(opt, &keras_rmsprop(0.1, 0.9, 1e-7));
    // With rho = 0.999, f32 `1 - rho` is off by a relative 1.3e-5, which shows.
    let opt = Optimizer::try_from(RMSprop::new(0.001).rho(0.999)).unwrap();
    assert_matches(opt, &keras_rmsprop(0.001, 0.999, 1e-7));
}
