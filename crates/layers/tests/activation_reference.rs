//! Every activation against Keras 3.15.1 (on JAX): values and gradients at fixed inputs,
//! from `data/activation_reference.txt`, which `data/activation_reference.py` prints.
//!
//! Each activation is looked up by its Keras name (`"swish"` included), as
//! `activation="..."` would be. Where Keel deviates from Keras on JAX, the test says so:
//! the gradient of `leaky_relu` at exactly `0` is Keel's (and PyTorch's, and Keras on
//! TensorFlow's) left slope `0.2`, where Keras on JAX takes `1`; `elu`'s gradient for very
//! negative inputs is `e^x`, which JAX rounds to `0` (at `x = -30`); GELU's far negative
//! tail (`x ≤ -6`), where Keras's erfc keeps about 5 digits and Keel's about 7.

use keel_autograd::{tensor, Tape};
use keel_layers::Activation;
use std::collections::BTreeMap;

const REFERENCE: &str = include_str!("data/activation_reference.txt");

/// Relative tolerance on values and gradients.
const RTOL: f32 = 1e-6;

/// `(label → numbers)` for every non-comment line of the reference file.
fn reference() -> BTreeMap<String, Vec<f32>> {
    let mut rows = BTreeMap::new();
    for line in REFERENCE.lines().filter(|l| !l.starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let label_len = if matches!(words[0], "input" | "weights") {
            1
        } else {
            2
        };
        let numbers = words[label_len..]
            .iter()
            .map(|w| w.parse::<f32>().unwrap_or_else(|e| panic!("{w}: {e}")))
            .collect();
        rows.insert(words[..label_len].join(" "), numbers);
    }
    rows
}

/// Values and the gradient of `Σ weights · f(x)` for Keel's activation of Keras name `name`.
fn keel(name: &str, input: &[f32], weights: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let act = Activation::from_name(name).unwrap_or_else(|| panic!("no activation {name:?}"));
    let n = input.len();
    let tape = Tape::new();
    let x = tape.var(tensor(&[n], input.to_vec()));
    let y = act.apply(x);
    let grads = (y * tape.constant(tensor(&[n], weights.to_vec())))
        .sum()
        .backward();
    let value = y.value().iter().copied().collect();
    (value, grads.get(x).unwrap().iter().copied().collect())
}

/// The entries of `got` farther from `want` than `tolerance(x)` allows, a relative and an
/// absolute bound of which either suffices.
fn mismatches(
    what: &str,
    (got, want): (&[f32], &[f32]),
    input: &[f32],
    tolerance: impl Fn(f32) -> (f32, f32),
) -> Vec<String> {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let far = |g: f32, w: f32, x: f32| {
        let (rtol, atol) = tolerance(x);
        (g - w).abs() > rtol * w.abs() && (g - w).abs() > atol
    };
    (got.iter().zip(want).zip(input))
        .filter(|((&g, &w), &x)| far(g, w, x))
        .map(|((g, w), x)| format!("{what} at x = {x}: Keel {g:e}, Keras {w:e}"))
        .collect()
}

#[test]
fn every_activation_matches_keras() {
    let rows = reference();
    let (input, weights) = (&rows["input"], &rows["weights"]);
    let names: Vec<&str> = rows
        .keys()
        .filter_map(|k| k.strip_suffix(" value"))
        .collect();
    // The file covers every activation Keel has, by name, and swish.
    for act in Activation::ALL {
        assert!(
            names.contains(&act.name()),
            "{} not in the reference",
            act.name()
        );
    }
    assert!(names.contains(&"swish"));
    let max_weight = weights.iter().fold(0.0f32, |m, &w| m.max(w));
    let mut failures = Vec::new();
    for name in names {
        let (value, mut gradient) = keel(name, input, weights);
        // Keras's erfc (XLA's) loses digits in gelu's far negative tail, where Keel's stay
        // within 2e-7 of double precision (see keel-autograd's gelu tests).
        let tail = |x: f32| name == "gelu" && x <= -6.0;
        let want = &rows[&format!("{name} value")];
        let value_tolerance = |x| (if tail(x) { 1e-5 } else { RTOL }, 0.0);
        failures.extend(mismatches(name, (&value, want), input, value_tolerance));
        let want = &rows[&format!("{name} gradient")];
        if name == "leaky_relu" {
            let zero = input.iter().position(|&x| x == 0.0).unwrap();
            let slope = Activation::LEAKY_RELU_NEGATIVE_SLOPE;
            assert_eq!(gradient[zero], slope * weights[zero]);
            assert_eq!(want[zero], weights[zero], "Keras on JAX takes slope 1 at 0");
            gradient[zero] = want[zero];
        }
        let atol = match name {
            // Softmax's gradient cancels to (near) zero where a weight equals the weighted
            // mean: compared absolutely there, relative to its largest entry.
            "softmax" => 1e-6 * want.iter().fold(0.0f32, |m, w| m.max(w.abs())),
            // Both take tanh's derivative as 1 - y², which cancels to a few ulps of 1 as
            // |y| → 1. JAX differentiates elu's expm1(x) as expm1(x) + 1, which cancels the
            // same way (to 0 at x = -30), where Keel's alpha · e^x keeps every digit.
            "tanh" | "elu" => 4.0 * f32::EPSILON * max_weight,
            _ => 0.0,
        };
        let what = format!("{name} gradient");
        let gradient_tolerance = |x| (if tail(x) { 1e-5 } else { RTOL }, atol);
        failures.extend(mismatches(
            &what,
            (&gradient, want),
            input,
            gradient_tolerance,
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
