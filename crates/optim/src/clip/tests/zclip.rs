//! ZClip against hand-computed numbers.
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#![allow(clippy::excessive_precision)]

use super::norm_step;
use crate::testing::assert_close;
use crate::{ClipState, Clipping, Optimizer, Sgd, ZClip};

// alpha 0.5, z_thresh 2, warm-up 3, eps 1e-6; global norms 1, 2, 3, 2.5, 10, NaN, 3.
// The reference's algorithm (bluorion-com/ZClip zclip.py) transcribed to python3 (clips.py):
//   buf, mean, var = [], None, None
//   for n in [1.0, 2.0, 3.0, 2.5, 10.0, float("nan"), 3.0]:
//       if not math.isfinite(n): continue
//       if mean is None:
//           buf.append(n)
//           if len(buf) >= 3:
//               mean = sum(buf) / len(buf); var = sum((x - mean) ** 2 for x in buf) / len(buf)
//           continue
//       std = var ** 0.5; z = (n - mean) / (std + 1e-6)
//       clip = mean + 2.0 * std / (z / 2.0) if z > 2.0 else None
//       x = clip if clip is not None else n
//       mean = 0.5 * mean + 0.5 * x
//       var = 0.5 * var + 0.5 * (x - mean) ** 2
//       print(n, z, clip, n * clip / (n + 1e-6) if clip else n, mean, var)
// Output:
//   (1, 2, 3: warm-up, no clipping; then mean 2, var 0.6666666666666666)
//   2.5  z 0.6123716856967131  no clip                                 mean 2.25  var 0.3645833333333333
//   10.0 z 12.835198146660135  threshold 2.4381723546532634
//        scaled to 2.4381721108360526  mean 2.3440861773266315  var 0.18671777104863588
//   (NaN: neither recorded nor clipped; the averages stay)
//   3.0  z 1.5179342176960005  no clip   mean 2.6720430886633157  var 0.14713675337106683
fn zclip() -> Optimizer {
    let z = ZClip::new().alpha(0.5).z_thresh(2.0).warmup_steps(3);
    Optimizer::try_from(Sgd::new(0.0).clip(z)).unwrap()
}

fn averages(opt: &Optimizer) -> (f64, f64) {
    let ClipState::ZClip(state) = opt.state().clip_state() else {
        panic!("zclip keeps averages")
    };
    (state.mean().unwrap(), state.std().unwrap().powi(2))
}

#[test]
fn zclip_warms_up_then_clips_spikes_to_the_reciprocal_threshold() {
    let mut opt = zclip();
    for norm in [1.0, 2.0, 3.0] {
        let (stats, _) = norm_step(&mut opt, norm);
        assert!(!stats.clipped, "no clipping during the warm-up");
    }
    let (mean, var) = averages(&opt);
    assert_close(&[mean as f32, var as f32], &[2.0, 0.6666667], 1e-7);
    let (stats, _) = norm_step(&mut opt, 2.5);
    assert!(!stats.clipped);
    let (mean, var) = averages(&opt);
    assert_close(&[mean as f32, var as f32], &[2.25, 0.36458333], 1e-7);
    let (stats, g) = norm_step(&mut opt, 10.0);
    assert!(stats.clipped);
    assert_close(&[g[0], stats.clipped_norm], &[2.4381721, 2.4381721], 1e-6);
    let (mean, var) = averages(&opt);
    assert_close(&[mean as f32, var as f32], &[2.3440862, 0.18671777], 1e-6);
    // A NaN norm leaves the gradients and the averages as they were.
    let (stats, g) = norm_step(&mut opt, f32::NAN);
    assert!(g[0].is_nan() && g[1] == 0.0 && !stats.clipped);
    assert_close(&[averages(&opt).0 as f32], &[2.3440862], 1e-6);
    let (stats, _) = norm_step(&mut opt, 3.0);
    assert!(!stats.clipped);
    let (mean, var) = averages(&opt);
    assert_close(&[mean as f32, var as f32], &[2.6720431, 0.14713675], 1e-6);
}

#[test]
fn max_grad_norm_also_clips_during_the_warm_up() {
    let z = ZClip::new().warmup_steps(3).max_grad_norm(1.5);
    let mut opt = Optimizer::try_from(Sgd::new(0.0).clip(z)).unwrap();
    let (stats, g) = norm_step(&mut opt, 3.0);
    assert!(stats.clipped);
    assert_close(&[g[0]], &[1.4999995], 1e-6); // 3 * 1.5 / (3 + 1e-6)
    let (stats, _) = norm_step(&mut opt, 1.0);
    assert!(!stats.clipped);
}

#[test]
fn invalid_parameters_are_errors() {
    let build = |z: ZClip| Optimizer::try_from(Sgd::new(0.1).clip(z));
    assert_eq!(
        build(ZClip::new().alpha(1.0)).unwrap_err().to_string(),
        "invalid zclip parameter `alpha`: expected a number in (0, 1), found 1"
    );
    assert!(build(ZClip::new().z_thresh(0.0)).is_err());
    assert!(build(ZClip::new().warmup_steps(0)).is_err());
    assert!(build(ZClip::new().max_grad_norm(f32::INFINITY)).is_err());
}
