//! Adam and AMSGrad against Keras 3's formulas, run by a python3 script.
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#![allow(clippy::excessive_precision)]

use crate::testing::{assert_close, run_steps};
use crate::{Adam, Error, Optimizer};
use keel_autograd::{tensor, Gradients, Param};

// Expected values from this Python script (plain floats, Keras's update_step), run with
// python3; output pasted below. The torch_eps=True branch is torch.optim.Adam's formula.
//
//   import math
//   def adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-7, torch_eps=False):
//       m = [0.0]*len(p); v = [0.0]*len(p)
//       for t, g in enumerate(grads, start=1):
//           for i in range(len(p)):
//               m[i] += (g[i] - m[i]) * (1 - b1)
//               v[i] += (g[i]*g[i] - v[i]) * (1 - b2)
//               if torch_eps:
//                   p[i] -= lr / (1 - b1**t) * m[i] / (math.sqrt(v[i]) / math.sqrt(1 - b2**t) + eps)
//               else:
//                   alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
//                   p[i] -= alpha * m[i] / (math.sqrt(v[i]) + eps)
//           print(t, [round(x, 9) for x in p])
//   G = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.1, 0.2]]
//   adam([1.0, -2.0, 0.5], G, 0.01)
//   adam([1.0, -2.0, 0.5], G, 0.01, eps=0.1)
//   adam([1.0, -2.0, 0.5], G, 0.01, eps=0.1, torch_eps=True)
//
// keras eps=1e-7
//   1 [0.990000316, -1.990000158, 0.490000105]
//   2 [0.980678784, -1.993661167, 0.48599796]
//   3 [0.984150984, -1.997817651, 0.479967146]
// keras eps=0.1
//   1 [0.999693466, -1.999405165, 0.499133518]
//   2 [0.999375268, -1.999858725, 0.498769832]
//   3 [0.999694455, -2.00038456, 0.498132137]
// torch eps=0.1
//   1 [0.995, -1.993333333, 0.4925]
//   2 [0.9908846, -1.996114894, 0.489734729]
//   3 [0.993138141, -1.999131249, 0.485612449]
const GRADS: [&[f32]; 3] = [&[0.1, -0.2, 0.3], &[0.05, 0.4, -0.1], &[-0.3, 0.1, 0.2]];

#[test]
fn three_steps_match_keras_with_bias_correction() {
    let opt = Optimizer::try_from(Adam::new(0.01)).unwrap();
    let got = run_steps(opt, &[1.0, -2.0, 0.5], &GRADS);
    assert_close(&got[0], &[0.990000316, -1.990000158, 0.490000105], 1e-6);
    assert_close(&got[1], &[0.980678784, -1.993661167, 0.48599796], 1e-6);
    assert_close(&got[2], &[0.984150984, -1.997817651, 0.479967146], 1e-6);
}

#[test]
fn epsilon_is_added_to_raw_sqrt_v_as_in_keras() {
    // A large epsilon separates Keras's placement from PyTorch's (see the script above).
    let opt = Optimizer::try_from(Adam::new(0.01).epsilon(0.1)).unwrap();
    let got = run_steps(opt, &[1.0, -2.0, 0.5], &GRADS);
    assert_close(&got[0], &[0.999693466, -1.999405165, 0.499133518], 1e-6);
    assert_close(&got[1], &[0.999375268, -1.999858725, 0.498769832], 1e-6);
    assert_close(&got[2], &[0.999694455, -2.00038456, 0.498132137], 1e-6);
}

#[test]
fn state_holds_two_moments_per_parameter() {
    let mut opt = Optimizer::try_from(Adam::default()).unwrap();
    let mut w = Param::new(tensor(&[2], vec![0.0; 2]));
    let mut grads = Gradients::default();
    grads.insert(w.id(), tensor(&[2], vec![1.0, -2.0]));
    opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
    let slots = &opt.state().slots()["w"];
    // m = (1 - 0.9) * g, v = (1 - 0.999) * g².
    assert_close(slots.tensors()[0].as_slice().unwrap(), &[0.1, -0.2], 1e-7);
    assert_close(
        slots.tensors()[1].as_slice().unwrap(),
        &[0.001, 0.004],
        1e-7,
    );
}

#[test]
fn moments_that_decay_below_the_normal_range_are_stored_as_zero() {
    // A gradient of 1e-30 once, then zeros: m = 1e-31 decays by 0.9 a step and v = 1e-63
    // underflows at once; after ~200 zero steps m would be subnormal (< 1.2e-38).
    let mut opt = Optimizer::try_from(Adam::new(0.01)).unwrap();
    let mut w = Param::new(tensor(&[2], vec![0.5, 0.25]));
    for step in 0..300 {
        let g = if step == 0 { 1e-30 } else { 0.0 };
        let mut grads = Gradients::default();
        grads.insert(w.id(), tensor(&[2], vec![g, 0.0]));
        opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
        let slots = &opt.state().slots()["w"];
        for moment in slots.tensors() {
            assert!(
                moment.iter().all(|&x| x == 0.0 || x.is_normal()),
                "step {step}: {moment}"
            );
        }
    }
    assert_eq!(opt.state().slots()["w"].tensors()[0][[0]], 0.0);
    // The weights moved by what the normal moments gave and nothing else.
    assert_eq!(w.value()[[1]], 0.25);
    assert!((w.value()[[0]] - 0.5).abs() < 0.011, "{}", w.value());
}

#[test]
fn invalid_hyper_parameters_are_errors() {
    let err = |a: Adam| Optimizer::try_from(a).unwrap_err();
    assert!(matches!(
        err(Adam::new(1e-3).beta_1(1.0)),
        Error::InvalidHyperParameter { name: "beta_1", .. }
    ));
    assert!(matches!(
        err(Adam::new(1e-3).beta_2(-0.1)),
        Error::InvalidHyperParameter { name: "beta_2", .. }
    ));
    assert!(matches!(
        err(Adam::new(1e-3).epsilon(0.0)),
        Error::InvalidHyperParameter {
            name: "epsilon",
            ..
        }
    ));
    assert!(matches!(
        err(Adam::new(f32::NAN)),
        Error::InvalidLearningRate { .. }
    ));
    assert_eq!(
        err(Adam::new(1e-3).beta_1(1.5)).to_string(),
        "invalid adam hyper-parameter `beta_1`: expected a number in [0, 1), found 1.5"
    );
}

// AMSGrad only differs once v decreases, so beta_2 = 0.5 and shrinking gradients. python3:
//   def adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
//       m = [0.0]*len(p); v = [0.0]*len(p); vh = [0.0]*len(p)
//       for t, g in enumerate(grads, start=1):
//           alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
//           for i in range(len(p)):
//               m[i] += (g[i] - m[i]) * (1 - b1)
//               v[i] += (g[i]*g[i] - v[i]) * (1 - b2)
//               vh[i] = max(vh[i], v[i])
//               p[i] -= alpha * m[i] / (math.sqrt(vh[i] if amsgrad else v[i]) + eps)
//           print(t, [round(x, 9) for x in p])
//   H = [[1.0, -1.0, 0.5], [0.1, -0.1, 0.05], [0.1, 0.1, 0.05]]
//   adam([1.0, -2.0, 0.5], H, 0.01, b2=0.5, amsgrad=True)
//   adam([1.0, -2.0, 0.5], H, 0.01, b2=0.5)
// Output:
//   1 [0.990000001, -1.990000001, 0.490000003]
//   2 [0.983553977, -1.983553977, 0.483553979]
//   3 [0.978672517, -1.979648809, 0.47867252]
//
//   1 [0.990000001, -1.990000001, 0.490000003]
//   2 [0.980973762, -1.980973762, 0.480973765]
//   3 [0.971491178, -1.973387695, 0.471491184]
const SHRINKING: [&[f32]; 3] = [&[1.0, -1.0, 0.5], &[0.1, -0.1, 0.05], &[0.1, 0.1, 0.05]];

#[test]
fn amsgrad_divides_by_the_running_maximum_of_v() {
    let opt = Optimizer::try_from(Adam::new(0.01).beta_2(0.5).amsgrad(true)).unwrap();
    let got = run_steps(opt, &[1.0, -2.0, 0.5], &SHRINKING);
    assert_close(&got[0], &[0.990000001, -1.990000001, 0.490000003], 1e-6);
    assert_close(&got[1], &[0.983553977, -1.983553977, 0.483553979], 1e-6);
    assert_close(&got[2], &[0.978672517, -1.979648809, 0.47867252], 1e-6);
    // Plain Adam on the same gradients takes larger steps once v shrinks.
    let opt = Optimizer::try_from(Adam::new(0.01).beta_2(0.5)).unwrap();
    let got = run_steps(opt, &[1.0, -2.0, 0.5], &SHRINKING);
    assert_close(&got[1], &[0.980973762, -1.980973762, 0.480973765], 1e-6);
    assert_close(&got[2], &[0.971491178, -1.973387695, 0.471491184], 1e-6);
}

#[test]
fn amsgrad_equals_adam_while_v_grows_and_keeps_three_slots() {
    // With beta_2 = 0.999, v grows on GRADS, so AMSGrad matches the Keras numbers above.
    let opt = Optimizer::try_from(Adam::new(0.01).amsgrad(true)).unwrap();
    let got = run_steps(opt, &[1.0, -2.0, 0.5], &GRADS);
    assert_close(&got[2], &[0.984150984, -1.997817651, 0.479967146], 1e-6);
    let mut opt = Optimizer::try_from(Adam::default().amsgrad(true)).unwrap();
    let mut w = Param::new(tensor(&[2], vec![0.0; 2]));
    let mut grads = Gradients::default();
    grads.insert(w.id(), tensor(&[2], vec![1.0, -2.0]));
    opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
    assert_eq!(opt.state().slots()["w"].len(), 3);
}
