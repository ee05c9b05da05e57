//! RMSprop against Keras 3's formulas, run by a python3 script.
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#![allow(clippy::excessive_precision)]

use crate::testing::{assert_close, run_steps};
use crate::{Error, Optimizer, RMSprop};

// python3 (Keras 3's RMSprop.update_step with plain floats):
//   import math
//   def rmsprop(p, grads, lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
//       v = [0.0]*len(p); a = [0.0]*len(p); s = [0.0]*len(p)
//       for t, g in enumerate(grads, start=1):
//           for i in range(len(p)):
//               v[i] = rho * v[i] + (1 - rho) * g[i] * g[i]
//               if centered:
//                   a[i] = rho * a[i] + (1 - rho) * g[i]
//                   d = v[i] - a[i] * a[i] + eps
//               else:
//                   d = v[i] + eps
//               inc = lr * g[i] / math.sqrt(d)
//               if momentum > 0:
//                   s[i] = momentum * s[i] + inc
//                   p[i] -= s[i]
//               else:
//                   p[i] -= inc
//           print(t, [round(x, 9) for x in p])
//   G = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.1, 0.2]]
//   P0 = [1.0, -2.0, 0.5]
//   rmsprop(P0, G, 0.01); rmsprop(P0, G, 0.01, momentum=0.9)
//   rmsprop(P0, G, 0.01, centered=True); rmsprop(P0, G, 0.01, momentum=0.5, centered=True)
// Output (below, one block per call).
const GRADS: [&[f32]; 3] = [&[0.1, -0.2, 0.3], &[0.05, 0.4, -0.1], &[-0.3, 0.1, 0.2]];
const P0: [f32; 3] = [1.0, -2.0, 0.5];

fn check(builder: RMSprop, expected: [[f32; 3]; 3]) {
    let got = run_steps(Optimizer::try_from(builder).unwrap(), &P0, &GRADS);
    for (step, (g, e)) in got.iter().zip(&expected).enumerate() {
        println!("step {}", step + 1);
        assert_close(g, e, 2e-6);
    }
}

#[test]
fn plain_rmsprop_matches_keras() {
    check(
        RMSprop::new(0.01),
        [
            [0.968378804, -1.968377619, 0.468377399],
            [0.95363525, -1.996948974, 0.47886019],
            [0.983582738, -2.004273439, 0.460745689],
        ],
    );
}

#[test]
fn momentum_accumulates_the_increments() {
    check(
        RMSprop::new(0.01).momentum(0.9),
        [
            [0.968378804, -1.968377619, 0.468377399],
            [0.925176174, -1.968488831, 0.450399849],
            [0.916241294, -1.975913387, 0.416105554],
        ],
    );
}

#[test]
fn centered_divides_by_the_variance() {
    check(
        RMSprop::new(0.01).centered(true),
        [
            [0.966668518, -1.96666713, 0.466666872],
            [0.950481269, -1.995597923, 0.477320192],
            [0.980891003, -2.003103354, 0.458202222],
        ],
    );
}

#[test]
fn centered_with_momentum_keeps_three_slots() {
    check(
        RMSprop::new(0.01).momentum(0.5).centered(true),
        [
            [0.966668518, -1.96666713, 0.466666872],
            [0.933815528, -1.978931488, 0.460653628],
            [0.947798767, -1.992569098, 0.438529036],
        ],
    );
}

#[test]
fn config_and_invalid_hyper_parameters() {
    let opt = Optimizer::try_from(RMSprop::default()).unwrap();
    assert_eq!(
        opt.config().to_string(),
        "rmsprop(learning_rate=0.001, rho=0.9, momentum=0, epsilon=0.0000001, centered=false)"
    );
    let err = Optimizer::try_from(RMSprop::new(0.01).rho(1.0)).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidHyperParameter { name: "rho", .. }
    ));
    assert!(Optimizer::try_from(RMSprop::new(0.01).momentum(-0.5)).is_err());
    assert!(Optimizer::try_from(RMSprop::new(0.01).epsilon(f32::NAN)).is_err());
}
