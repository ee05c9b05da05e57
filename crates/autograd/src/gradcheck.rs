//! The one finite-difference gradient checker every op's test goes through.

use crate::{Tape, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Tolerances of [`check_gradients`].
#[derive(Debug, Clone, Copy)]
pub struct GradCheck {
    /// Central-difference step. Defaults to `1e-2`.
    pub eps: f32,
    /// Relative tolerance. Defaults to `1e-2`.
    pub rtol: f32,
    /// Absolute tolerance. Defaults to `1e-3`.
    pub atol: f32,
    /// Check at most this many elements of each input, spread evenly over it (every
    /// element when `None`, the default): for shapes large enough that perturbing every
    /// element one by one would take minutes.
    pub max_elements: Option<usize>,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            eps: 1e-2,
            rtol: 1e-2,
            atol: 1e-3,
            max_elements: None,
        }
    }
}

/// The worst disagreement found by [`check_gradients`].
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheckFailure {
    /// Which input.
    pub input: usize,
    /// Flat index of the element inside that input.
    pub index: usize,
    /// The tape's gradient.
    pub analytic: f64,
    /// The central-difference estimate.
    pub numeric: f64,
}

impl std::fmt::Display for GradCheckFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "input {} element {}: analytic {} vs numeric {}",
            self.input, self.index, self.analytic, self.numeric
        )
    }
}

/// Compares the tape's gradients of `f` with central finite differences.
///
/// `f` may return any shape: the checker differentiates `sum(f(inputs) * r)` for a fixed
/// random `r`, so every output element and its position matter. The projection is
/// accumulated in `f64` to keep the difference quotient meaningful in `f32`.
///
/// # Errors
/// The element with the largest violation of `|a - n| <= atol + rtol * |n|`; a
/// non-finite analytic or numeric gradient always fails.
///
/// ```
/// use keel_autograd::{check_gradients, tensor, GradCheck};
/// let x = tensor(&[3], vec![0.5, -1.0, 2.0]);
/// check_gradients(|_, v| v[0] * v[0], &[x], GradCheck::default()).unwrap();
/// ```
pub fn check_gradients<F>(f: F, inputs: &[Tensor], cfg: GradCheck) -> Result<(), GradCheckFailure>
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    let projection = {
        let tape = Tape::new();
        let vars: Vec<Var> = inputs.iter().map(|x| tape.constant(x.clone())).collect();
        let shape = f(&tape, &vars).shape();
        let mut rng = StdRng::seed_from_u64(7);
        Tensor::from_shape_fn(shape, |_| rng.random_range(0.5..1.5))
    };
    let project = |out: &Tensor| -> f64 {
        out.iter()
            .zip(projection.iter())
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum()
    };
    let analytic: Vec<Tensor> = {
        let tape = Tape::new();
        let vars: Vec<Var> = inputs.iter().map(|x| tape.var(x.clone())).collect();
        let out = f(&tape, &vars);
        let weighted = out * tape.constant(projection.clone());
        let grads = weighted.backward();
        vars.iter()
            .map(|&v| match grads.get(v) {
                Some(g) => g.as_standard_layout().into_owned(),
                None => Tensor::zeros(v.value().raw_dim()),
            })
            .collect()
    };
    let eval = |perturbed: &[Tensor]| -> f64 {
        let tape = Tape::new();
        let vars: Vec<Var> = perturbed.iter().map(|x| tape.constant(x.clone())).collect();
        project(&f(&tape, &vars).value())
    };
    let mut worst: Option<(f64, GradCheckFailure)> = None;
    let mut work: Vec<Tensor> = inputs
        .iter()
        .map(|x| x.as_standard_layout().into_owned())
        .collect();
    for (input, grad) in analytic.iter().enumerate() {
        let len = inputs[input].len();
        let stride = cfg
            .max_elements
            .map_or(1, |n| len.div_ceil(n.max(1)).max(1));
        for index in (0..len).step_by(stride) {
            let original = work[input].as_slice().expect("standard layout")[index];
            let mut at = |delta: f32| {
                work[input].as_slice_mut().expect("standard layout")[index] = original + delta;
                eval(&work)
            };
            // Divide by the step actually taken: `original ± eps` rounds in f32.
            let step = (original + cfg.eps) as f64 - (original - cfg.eps) as f64;
            let numeric = (at(cfg.eps) - at(-cfg.eps)) / step;
            work[input].as_slice_mut().expect("standard layout")[index] = original;
            let a = grad.as_slice().expect("standard layout")[index] as f64;
            let excess = (a - numeric).abs() - (cfg.atol as f64 + cfg.rtol as f64 * numeric.abs());
            // A NaN or infinite gradient on either side is the worst failure, never a pass
            // (`NaN > 0.0` is false, so it would otherwise slip through).
            let excess = if excess.is_nan() || !a.is_finite() || !numeric.is_finite() {
                f64::INFINITY
            } else {
                excess
            };
            if excess > 0.0 && worst.as_ref().is_none_or(|(w, _)| excess > *w) {
                let failure = GradCheckFailure {
                    input,
                    index,
                    analytic: a,
                    numeric,
                };
                worst = Some((excess, failure));
            }
        }
    }
    match worst {
        None => Ok(()),
        Some((_, failure)) => Err(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{tensor, Op};

    /// `2x` forward with a deliberately wrong backward of `3g`.
    #[derive(Debug)]
    struct WrongDouble;
    impl Op for WrongDouble {
        fn name(&self) -> &'static str {
            "wrong_double"
        }
        fn forward(&self, x: &[&Tensor]) -> Tensor {
            x[0] * 2.0
        }
        fn backward(&self, _x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
            vec![g * 3.0]
        }
    }

    #[test]
    fn a_wrong_backward_is_reported() {
        let x = tensor(&[2], vec![0.5, -1.0]);
        let cfg = GradCheck::default();
        let failure = check_gradients(|t, v| t.apply(WrongDouble, &[v[0]]), &[x], cfg).unwrap_err();
        assert_eq!(failure.input, 0);
        let ratio = failure.analytic / failure.numeric;
        assert!((ratio - 1.5).abs() < 1e-3, "{failure}");
    }

    #[test]
    fn a_nan_gradient_fails_instead_of_passing() {
        let x = tensor(&[1], vec![-1.0]); // √-1 = NaN, and so is its gradient
        assert!(check_gradients(|_, v| v[0].sqrt(), &[x], GradCheck::default()).is_err());
    }
}
