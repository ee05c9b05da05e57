//! Property tests of shape algebra over random shapes.

use keel_autograd::{check_gradients, tensor, GradCheck, Tape};
use ndarray::Axis;
use proptest::prelude::*;

/// A shape of rank 1 to 4 with sizes 1 to 4, and row-major data of that size.
fn shape_and_data(range: f32) -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
    prop::collection::vec(1usize..5, 1..5).prop_flat_map(move |shape| {
        let n: usize = shape.iter().product();
        (Just(shape), prop::collection::vec(-range..range, n))
    })
}

proptest! {
    /// Every lane along the softmax axis is a distribution, even for logits of +-80
    /// whose `e^x` alone would overflow f32.
    #[test]
    fn softmax_lanes_sum_to_one((shape, data) in shape_and_data(80.0), pick in 0usize..4) {
        let axis = pick % shape.len();
        let tape = Tape::new();
        let y = tape.constant(tensor(&shape, data)).softmax(axis).value();
        for lane in y.lanes(Axis(axis)) {
            prop_assert!(lane.iter().all(|&p| (0.0..=1.0).contains(&p)));
            let total: f64 = lane.iter().map(|&p| p as f64).sum();
            prop_assert!((total - 1.0).abs() < 1e-5, "lane {lane} sums to {total}");
        }
    }

    /// Reshaping to a permutation of the sizes and back gives the input again, and
    /// flattening reads the elements in row-major order.
    #[test]
    fn reshape_round_trips(
        (shape, other) in prop::collection::vec(1usize..5, 1..5)
            .prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle())),
    ) {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let tape = Tape::new();
        let x = tape.var(tensor(&shape, data.clone()));
        let back = x.reshape(&other).reshape(&shape);
        prop_assert_eq!(&*back.value(), &*x.value());
        let flat = x.reshape(&[n]).value();
        prop_assert_eq!(flat.as_slice().unwrap(), &data[..]);
        let grads = back.backward();
        prop_assert_eq!(grads.get(x).unwrap(), &tensor(&shape, vec![1.0; n]));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Softmax and log-softmax pass the gradient check on random shapes and axes.
    #[test]
    fn softmax_gradients_hold_for_random_shapes((shape, data) in shape_and_data(2.0), pick in 0usize..4) {
        let axis = pick % shape.len();
        let x = tensor(&shape, data);
        let cfg = GradCheck::default();
        let r = check_gradients(|_, v| v[0].softmax(axis), std::slice::from_ref(&x), cfg);
        prop_assert!(r.is_ok(), "softmax({axis}) of {shape:?}: {}", r.unwrap_err());
        let r = check_gradients(|_, v| v[0].log_softmax(axis), &[x], cfg);
        prop_assert!(r.is_ok(), "log_softmax({axis}) of {shape:?}: {}", r.unwrap_err());
    }
}

proptest! {
    /// A scaled backward is the plain backward times the scale, through a chain of ops
    /// (and exactly so for a power of two, as data-parallel shares of 1/2 and 1/4 are).
    #[test]
    fn backward_scaled_scales_every_gradient(
        (shape, data) in shape_and_data(3.0),
        pick in 0usize..4,
        scale in prop::sample::select(vec![0.5f32, 0.25, 0.3, 0.0]),
    ) {
        let axis = pick % shape.len();
        let gradient = |scale: Option<f32>| {
            let tape = Tape::new();
            let x = tape.var(tensor(&shape, data.clone()));
            let y = ((x * x).softmax(axis) * x).sum();
            let grads = match scale {
                Some(s) => y.backward_scaled(s),
                None => y.backward(),
            };
            grads.get(x).unwrap().clone()
        };
        let (plain, scaled) = (gradient(None), gradient(Some(scale)));
        for (p, s) in plain.iter().zip(&scaled) {
            if scale == 0.5 || scale == 0.25 || scale == 0.0 {
                prop_assert_eq!(p * scale, *s);
            } else {
                prop_assert!((p * scale - s).abs() <= 1e-5 * (1.0 + p.abs()), "{p} x {scale} vs {s}");
            }
        }
    }
}
