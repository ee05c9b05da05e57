//! Helpers shared by this crate's unit tests.

use crate::Optimizer;
use keel_autograd::{tensor, Gradients, Param};

/// Gradients holding `values` (1-D) for each parameter.
pub(crate) fn grads_of(entries: &[(&Param, &[f32])]) -> Gradients {
    let mut grads = Gradients::default();
    for (param, values) in entries {
        grads.insert(param.id(), tensor(&[values.len()], values.to_vec()));
    }
    grads
}

/// Runs one step per entry of `grads` on a 1-D parameter starting at `init`, and returns
/// the parameter's values after each step.
pub(crate) fn run_steps(mut opt: Optimizer, init: &[f32], grads: &[&[f32]]) -> Vec<Vec<f32>> {
    let mut w = Param::new(tensor(&[init.len()], init.to_vec()));
    grads
        .iter()
        .map(|g| {
            let mut grads = grads_of(&[(&w, g)]);
            opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
            w.value().iter().copied().collect()
        })
        .collect()
}

/// Asserts element-wise `|actual - expected| <= tol`, naming the first bad index.
pub(crate) fn assert_close(actual: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol,
            "index {i}: got {a}, expected {e} (tolerance {tol}); all: {actual:?}"
        );
    }
}
