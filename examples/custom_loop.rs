//! The seed MNIST model trained by a hand-written loop, as a Keras user writes one with
//! `tf.GradientTape` (or `jax.grad`): forward in training mode, the loss called on its own,
//! gradients from the tape, `optimizer.apply`. Then the same model trained by `fit`, to show
//! the two agree.
//!
//! ```sh
//! cargo run --release --example custom_loop            # 2 epochs each way
//! cargo run --release --example custom_loop -- 5       # 5 epochs each way
//! ```

use keel::prelude::*;
use keel::rand::{rngs::StdRng, SeedableRng};

const BATCH: usize = 32;
const SEED: u64 = 0;

/// The seed model, compiled (the custom loop uses its own optimizer; `evaluate` uses the
/// compiled loss and metrics).
fn seed_model() -> keel::Result<Sequential> {
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .seed(SEED);
    model.compile(
        Adam::new(1e-3),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    Ok(model)
}

fn test_accuracy(model: &Sequential, test: &Dataset) -> keel::Result<f64> {
    Ok(model
        .evaluate_verbose(test, 0)?
        .get("accuracy")
        .unwrap_or(f64::NAN))
}

/// Keras's custom loop: for each batch, forward with the tape, loss, gradients, apply.
fn train_by_hand(model: &mut Sequential, train: &Dataset, epochs: usize) -> keel::Result<()> {
    let loss_fn = Loss::SparseCategoricalCrossentropy;
    let mut optimizer = Optimizer::try_from(Adam::new(1e-3))?;
    // `fit` draws shuffling and dropout from one generator seeded with its seed; so does this.
    let mut rng = StdRng::seed_from_u64(SEED);
    for epoch in 1..=epochs {
        let order = shuffled_indices(train.len(), &mut rng);
        let (mut total, mut batches) = (0.0, 0);
        for range in batch_ranges(train.len(), BATCH)? {
            let batch = train.gather(&order[range]);
            let (loss, mut grads) = {
                let tape = Tape::new();
                let probabilities =
                    model.forward(&tape, batch.x, &mut Ctx::new(Mode::Train, &mut rng))?;
                let loss = loss_fn.call(probabilities, &batch.y)?;
                (loss.scalar(), loss.backward())
            }; // the tape is dropped here, so the update below is in place
            optimizer.apply(&mut grads, model.trainable_params_mut())?;
            total += loss;
            batches += 1;
        }
        println!(
            "epoch {epoch}/{epochs}: mean loss {:.4}",
            total / batches as f32
        );
    }
    Ok(())
}

fn main() -> keel::Result<()> {
    let epochs: usize = std::env::args()
        .nth(1)
        .map(|a| {
            a.parse().map_err(|_| keel::Error::InvalidOption {
                option: "epochs",
                expected: "a whole number",
                found: a,
            })
        })
        .transpose()?
        .unwrap_or(2);
    let mnist = keel::data::mnist::load_default()?;

    let mut by_hand = seed_model()?;
    train_by_hand(&mut by_hand, &mnist.train, epochs)?;
    let mut by_fit = seed_model()?;
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(BATCH)
        .seed(SEED)
        .verbose(0);
    by_fit.fit(&mnist.train, options)?;
    let (hand_accuracy, fit_accuracy) = (
        test_accuracy(&by_hand, &mnist.test)?,
        test_accuracy(&by_fit, &mnist.test)?,
    );

    println!("test accuracy, custom loop: {hand_accuracy:.4}");
    println!("test accuracy, fit:         {fit_accuracy:.4}");
    println!(
        "same weights: {}",
        by_hand.get_weights() == by_fit.get_weights()
    );
    Ok(())
}
