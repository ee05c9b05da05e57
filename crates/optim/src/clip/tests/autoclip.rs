//! AutoClip against hand-computed numbers.
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#![allow(clippy::excessive_precision)]

use super::norm_step;
use crate::testing::assert_close;
use crate::{ClipState, Clipping, Optimizer, Sgd};

// percentile 50 (numpy's linear interpolation), global norms 4, 2, 10, 1, inf, 6.
// python3 (clips.py):
//   def pct(xs, p):
//       s = sorted(xs); r = p / 100 * (len(s) - 1); lo = math.floor(r); hi = math.ceil(r)
//       return s[lo] + (s[hi] - s[lo]) * (r - lo)
//   hist = []
//   for n in [4.0, 2.0, 10.0, 1.0, float("inf"), 6.0]:
//       if not math.isfinite(n): continue
//       hist.append(n); t = pct(hist, 50)
//       print(n, t, n * t / (n + 1e-6) if n > t else n)
// Output:
//   4.0 4.0 4.0                   history [4]: the threshold is the norm itself, no clip
//   2.0 3.0 2.0                   [2, 4]: median 3
//   10.0 4.0 3.99999960000004     [2, 4, 10]: median 4, clipped
//   1.0 3.0 1.0                   [1, 2, 4, 10]: 2 + (4 - 2) * 0.5
//   (inf: neither recorded nor clipped)
//   6.0 4.0 3.9999993333334443    [1, 2, 4, 6, 10]: median 4, clipped
#[test]
fn autoclip_clips_to_the_percentile_of_the_history_including_the_current_norm() {
    let mut opt = Optimizer::try_from(Sgd::new(0.0).autoclip(50.0)).unwrap();
    let expected = [
        (4.0, 4.0, false),
        (2.0, 2.0, false),
        (10.0, 3.9999996, true),
        (1.0, 1.0, false),
    ];
    for (norm, after, clipped) in expected {
        let (stats, g) = norm_step(&mut opt, norm);
        assert_eq!(
            (stats.grad_norm, stats.clipped),
            (norm, clipped),
            "norm {norm}"
        );
        assert_close(&[g[0], stats.clipped_norm], &[after, after], 1e-6);
    }
    let (stats, g) = norm_step(&mut opt, f32::INFINITY);
    assert_eq!((g[0], g[1], stats.clipped), (f32::INFINITY, 0.0, false));
    let (stats, g) = norm_step(&mut opt, 6.0);
    assert!(stats.clipped);
    assert_close(&[g[0]], &[3.9999993], 1e-6);
    let ClipState::AutoClip(history) = opt.state().clip_state() else {
        panic!("autoclip keeps a history")
    };
    assert_eq!(
        history.norms().collect::<Vec<_>>(),
        [4.0, 2.0, 10.0, 1.0, 6.0]
    );
}
