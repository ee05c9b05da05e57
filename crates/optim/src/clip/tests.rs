//! Each clipping mode against hand-computed numbers, through `Optimizer::step`.

use crate::testing::{assert_close, grads_of};
use crate::{Clip, Clipping, Optimizer, Sgd, StepStats};
use keel_autograd::{tensor, Gradients, Param};

// Two gradients a = [3, 4] (norm 5) and b = [12] (norm 12); global norm sqrt(9+16+144) = 13.
// The numbers below were worked by hand and checked with this python3 script (plain floats):
//
//   import math
//   a, b = [3.0, 4.0], [12.0]
//   norm = lambda *ts: math.sqrt(sum(x*x for t in ts for x in t))
//   print("global norm", norm(a, b))
//   ca, cb = [min(max(x, -2.5), 2.5) for x in a], [min(max(x, -2.5), 2.5) for x in b]
//   print("value", ca, cb, norm(ca, cb))
//   def cn(t, mx):
//       s = mx / (norm(t) + 1e-6)
//       return [x * s for x in t] if s < 1 else t
//   ca, cb = cn(a, 10.0), cn(b, 10.0)
//   print("norm", ca, cb, norm(ca, cb))
//   s = 6.5 / (norm(a, b) + 1e-6)
//   ca, cb = [x*s for x in a], [x*s for x in b]
//   print("global", s, ca, cb, norm(ca, cb))
//
// Output:
//   global norm 13.0
//   value [2.5, 2.5] [2.5] 4.330127018922194
//   norm [3.0, 4.0] [9.999999166666736] 11.180339142143024
//   global 0.49999996153846454 [1.4999998846153937, 1.9999998461538582] [5.999999538461575] 6.4999995000000395

/// One SGD step with lr 1 from zero parameters, so each parameter ends at minus its
/// clipped gradient. Returns the stats, the gradients after the step and the parameters.
fn clip_step(clip: Option<Clip>, a: &[f32], b: &[f32]) -> (StepStats, Gradients, Param, Param) {
    let sgd = Sgd::new(1.0);
    let sgd = match clip {
        Some(c) => sgd.clip(c),
        None => sgd,
    };
    let mut opt = Optimizer::try_from(sgd).unwrap();
    let mut pa = Param::new(tensor(&[a.len()], vec![0.0; a.len()]));
    let mut pb = Param::new(tensor(&[b.len()], vec![0.0; b.len()]));
    let mut grads = grads_of(&[(&pa, a), (&pb, b)]);
    let params = [("a".to_string(), &mut pa), ("b".to_string(), &mut pb)];
    let stats = opt.step(params, &mut grads).unwrap();
    (stats, grads, pa, pb)
}

fn values(t: &keel_autograd::Tensor) -> Vec<f32> {
    t.iter().copied().collect()
}

#[test]
fn no_clip_reports_the_global_norm_twice() {
    let (stats, grads, pa, _) = clip_step(None, &[3.0, 4.0], &[12.0]);
    assert_eq!((stats.grad_norm, stats.clipped_norm), (13.0, 13.0));
    assert_eq!(values(grads.param(&pa).unwrap()), [3.0, 4.0]);
    assert_eq!(values(pa.value()), [-3.0, -4.0]);
}

#[test]
fn clipvalue_clamps_each_element() {
    let (stats, grads, pa, pb) = clip_step(Some(Clip::Value(2.5)), &[3.0, 4.0], &[12.0]);
    assert_eq!(values(grads.param(&pa).unwrap()), [2.5, 2.5]);
    assert_eq!(values(grads.param(&pb).unwrap()), [2.5]);
    assert_eq!(values(pb.value()), [-2.5]);
    assert_eq!(stats.grad_norm, 13.0);
    assert_close(&[stats.clipped_norm], &[4.330127], 1e-6);
}

#[test]
fn clipnorm_rescales_each_tensor_above_the_threshold() {
    let (stats, grads, pa, pb) = clip_step(Some(Clip::Norm(10.0)), &[3.0, 4.0], &[12.0]);
    // a has norm 5 <= 10: untouched. b has norm 12: scaled by 10 / (12 + 1e-6).
    assert_eq!(values(grads.param(&pa).unwrap()), [3.0, 4.0]);
    assert_close(&values(grads.param(&pb).unwrap()), &[9.999999], 1e-6);
    assert_close(&values(pb.value()), &[-9.999999], 1e-6);
    assert_close(&[stats.clipped_norm], &[11.180339], 1e-5);
}

#[test]
fn global_clipnorm_rescales_all_tensors_together() {
    let (stats, grads, pa, pb) = clip_step(Some(Clip::GlobalNorm(6.5)), &[3.0, 4.0], &[12.0]);
    // scale = 6.5 / (13 + 1e-6) = 0.49999996
    assert_close(
        &values(grads.param(&pa).unwrap()),
        &[1.4999999, 1.9999998],
        1e-6,
    );
    assert_close(&values(grads.param(&pb).unwrap()), &[5.9999995], 1e-6);
    assert_close(&values(pa.value()), &[-1.4999999, -1.9999998], 1e-6);
    assert_eq!(stats.grad_norm, 13.0);
    assert_close(&[stats.clipped_norm], &[6.4999995], 1e-5);
}

#[test]
fn global_clipnorm_below_threshold_leaves_gradients_bit_identical() {
    let (stats, grads, pa, _) = clip_step(Some(Clip::GlobalNorm(13.5)), &[3.0, 4.0], &[12.0]);
    assert_eq!(values(grads.param(&pa).unwrap()), [3.0, 4.0]);
    assert_eq!(stats.clipped_norm, 13.0);
}

#[test]
fn nan_global_norm_skips_scaling_and_keeps_finite_gradients_finite() {
    let (stats, grads, pa, pb) = clip_step(Some(Clip::GlobalNorm(1.0)), &[1.0, f32::NAN], &[3.0]);
    assert!(stats.grad_norm.is_nan() && stats.clipped_norm.is_nan());
    assert_eq!(values(grads.param(&pb).unwrap()), [3.0]);
    assert_eq!(values(pb.value()), [-3.0]);
    assert_eq!(grads.param(&pa).unwrap()[0], 1.0);
}

#[test]
fn infinite_global_norm_does_not_zero_finite_gradients() {
    // PyTorch would scale by 1 / inf = 0, turning b into 0 and inf into NaN.
    let (stats, grads, pa, pb) =
        clip_step(Some(Clip::GlobalNorm(1.0)), &[f32::INFINITY, 0.0], &[3.0]);
    assert_eq!(stats.grad_norm, f32::INFINITY);
    assert_eq!(values(grads.param(&pb).unwrap()), [3.0]);
    assert_eq!(values(grads.param(&pa).unwrap()), [f32::INFINITY, 0.0]);
}

#[test]
fn per_tensor_clipnorm_skips_only_the_non_finite_tensor() {
    let (stats, grads, pa, pb) = clip_step(Some(Clip::Norm(6.0)), &[f32::NAN, 1.0], &[12.0]);
    assert!(stats.grad_norm.is_nan());
    assert_eq!(grads.param(&pa).unwrap()[1], 1.0);
    assert_close(&values(grads.param(&pb).unwrap()), &[5.9999995], 1e-6);
}

#[test]
fn clipvalue_leaves_nan_elements_nan_and_clamps_infinities() {
    let (_, grads, pa, _) = clip_step(Some(Clip::Value(2.0)), &[f32::NAN, f32::INFINITY], &[-9.0]);
    let g = grads.param(&pa).unwrap();
    assert!(g[0].is_nan());
    assert_eq!(g[1], 2.0);
}

#[test]
fn every_builder_shares_the_clipping_methods_and_the_last_call_wins() {
    let opt = Optimizer::try_from(Sgd::new(0.1).clipvalue(0.5).clipnorm(2.0)).unwrap();
    assert_eq!(opt.clip(), Some(Clip::Norm(2.0)));
    let opt = Optimizer::try_from(crate::Adam::new(1e-3).global_clipnorm(1.0)).unwrap();
    assert_eq!(opt.clip(), Some(Clip::GlobalNorm(1.0)));
}

#[test]
fn invalid_thresholds_are_errors() {
    for clip in [
        Clip::Value(0.0),
        Clip::Norm(-1.0),
        Clip::GlobalNorm(f32::NAN),
    ] {
        let err = Optimizer::try_from(Sgd::new(0.1).clip(clip)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "invalid {}: expected a finite number > 0, found {}",
                clip.keras_name(),
                clip.threshold().unwrap()
            )
        );
    }
}

#[test]
fn sum_squares_matches_the_closed_form_for_any_layout() {
    use crate::clip::sum_squares;
    // 0² + 1² + … + (n-1)² = (n-1) n (2n-1) / 6, exact in f64 for these integers.
    let n = 1003usize;
    let t = tensor(&[n], (0..n).map(|k| k as f32).collect());
    let closed = |n: f64| (n - 1.0) * n * (2.0 * n - 1.0) / 6.0;
    assert_eq!(sum_squares(&t), closed(n as f64));
    // A strided (non-contiguous) tensor takes the element-by-element path.
    let mut strided = tensor(&[4, 2], vec![1.0, 9.0, 2.0, 9.0, 3.0, 9.0, 4.0, 9.0]);
    strided.slice_collapse(ndarray::s![.., ..1]);
    assert_eq!(sum_squares(&strided), 1.0 + 4.0 + 9.0 + 16.0);
}

#[test]
fn no_mode_turns_a_non_finite_norm_into_nan_or_zero_elsewhere() {
    use crate::{Agc, AgcExclude, AutoClip, ZClip};
    let modes: [Clip; 6] = [
        Clip::Value(1.0),
        Clip::Norm(1.0),
        Clip::GlobalNorm(1.0),
        Agc::new(0.01).exclude(AgcExclude::Nothing).into(),
        AutoClip::new(10.0).into(),
        ZClip::new().warmup_steps(1).max_grad_norm(1.0).into(),
    ];
    for clip in modes {
        for bad in [f32::NAN, f32::INFINITY] {
            let (stats, grads, pa, pb) = clip_step(Some(clip), &[bad, 0.5], &[3.0]);
            let a = values(grads.param(&pa).unwrap());
            let b = values(grads.param(&pb).unwrap());
            assert!(a[1].is_finite() && a[1] != 0.0, "{clip}: {a:?}");
            assert!(b[0].is_finite() && b[0] != 0.0, "{clip}: {b:?}");
            assert!(
                pb.value()[0].is_finite(),
                "{clip}: the finite parameter stays finite"
            );
            assert!(!stats.grad_norm.is_finite());
        }
    }
}

mod agc;
mod autoclip;
mod zclip;

/// One step of SGD with learning rate 0 on one parameter `w` (1-D) whose gradient is
/// `[norm, 0]`, so its global norm is `norm`. Returns the stats and the clipped gradient.
fn norm_step(opt: &mut Optimizer, norm: f32) -> (StepStats, Vec<f32>) {
    let mut w = Param::new(tensor(&[2], vec![0.0; 2]));
    let mut grads = grads_of(&[(&w, &[norm, 0.0])]);
    let stats = opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
    (stats, values(grads.param(&w).unwrap()))
}
