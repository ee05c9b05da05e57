//! One harness every layer's test goes through.

use crate::{Ctx, Layer, Mode};
use keel_autograd::{Tape, Tensor};
use ndarray::{Dimension, IxDyn};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A fixed-seed random source for tests.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(42)
}

/// Checks a layer end to end: the built output shape, the weight count, trainable or not (and that
/// [`Layer::count_params`], when it gives one, predicts it), that a forward
/// pass gives that shape, that backward gives finite gradients for every parameter, that
/// evaluation is deterministic, that a regularization penalty (if any) is finite with finite
/// gradients, and that its configuration rebuilds an equivalent layer.
///
/// # Panics
/// On any failed check (this is a test helper).
pub fn check_layer(
    mut layer: impl Layer,
    input_shape: &[usize],
    output_shape: &[usize],
    param_count: usize,
) {
    let mut r = rng();
    let predicted = layer.count_params(input_shape);
    let built = layer.build(input_shape, &mut r).expect("build");
    assert_eq!(built, output_shape, "{}: built output shape", layer.kind());
    let count: usize = layer.weights().iter().map(|(_, p)| p.len()).sum();
    assert_eq!(count, param_count, "{}: parameter count", layer.kind());
    if let Some(predicted) = predicted {
        assert_eq!(
            predicted,
            count,
            "{}: count_params before build",
            layer.kind()
        );
    }

    let batch = 3;
    let mut full = vec![batch];
    full.extend_from_slice(input_shape);
    let x = Tensor::from_shape_fn(IxDyn(&full), |i| {
        0.1 + (i.slice().iter().sum::<usize>() % 7) as f32 * 0.3
    });
    let tape = Tape::new();
    let y = layer.forward(tape.var(x.clone()), &mut Ctx::new(Mode::Train, &mut r));
    assert_eq!(
        &y.shape()[1..],
        output_shape,
        "{}: forward output shape",
        layer.kind()
    );
    let grads = y.backward();
    for (name, p) in layer.params() {
        let g = grads
            .param(p)
            .unwrap_or_else(|| panic!("{}: no gradient for {name}", layer.kind()));
        assert!(
            g.iter().all(|v| v.is_finite()),
            "{}: non-finite gradient for {name}",
            layer.kind()
        );
    }

    if let Some(penalty) = layer.regularization_loss(&tape) {
        assert!(penalty.scalar().is_finite(), "{}: penalty", layer.kind());
        let grads = penalty.backward();
        for (name, p) in layer.params() {
            if let Some(g) = grads.param(p) {
                assert!(
                    g.iter().all(|v| v.is_finite()),
                    "{}: non-finite penalty gradient for {name}",
                    layer.kind()
                );
            }
        }
    }

    let eval = |l: &dyn Layer| {
        let tape = Tape::new();
        let mut r = rng();
        l.forward(tape.constant(x.clone()), &mut Ctx::new(Mode::Eval, &mut r))
            .value()
            .as_ref()
            .clone()
    };
    assert_eq!(
        eval(&layer),
        eval(&layer),
        "{}: evaluation is deterministic",
        layer.kind()
    );

    let config = layer.config().expect("built-in layers have a config");
    let mut rebuilt = config.build();
    assert_eq!(
        rebuilt.build(input_shape, &mut rng()).expect("rebuild"),
        output_shape
    );
    assert_eq!(
        rebuilt.config(),
        Some(config),
        "{}: config round trip",
        layer.kind()
    );
}
