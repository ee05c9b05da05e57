//! A hand-written training loop (public forward, a loss called on its own, gradients from
//! the tape, `Optimizer::apply`) trains the seed model exactly as `fit` does.

use keel::prelude::*;
use keel::rand::{rngs::StdRng, SeedableRng};

const SEED: u64 = 3;
const BATCH: usize = 32;

fn model(dropout: bool) -> Sequential {
    let model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu));
    let model = if dropout {
        model.add(Dropout::new(0.2))
    } else {
        model
    };
    model
        .add(Dense::new(10).activation(Activation::Softmax))
        .seed(SEED)
}

fn by_hand(model: &mut Sequential, train: &Dataset, epochs: usize) -> keel::Result<()> {
    let loss_fn = Loss::SparseCategoricalCrossentropy;
    let mut optimizer = Optimizer::try_from(Adam::new(1e-3))?;
    let mut rng = StdRng::seed_from_u64(SEED);
    for _ in 0..epochs {
        let order = shuffled_indices(train.len(), &mut rng);
        for range in batch_ranges(train.len(), BATCH)? {
            let batch = train.gather(&order[range]);
            let mut grads = {
                let tape = Tape::new();
                let mut ctx = Ctx::new(Mode::Train, &mut rng);
                let y = model.forward(&tape, batch.x, &mut ctx)?;
                loss_fn.call(y, &batch.y)?.backward()
            };
            optimizer.apply(&mut grads, model.trainable_params_mut())?;
        }
    }
    Ok(())
}

fn by_fit(model: &mut Sequential, train: &Dataset, epochs: usize) -> keel::Result<()> {
    model.compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[])?;
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(BATCH)
        .seed(SEED)
        .verbose(0);
    model.fit(train, options)?;
    Ok(())
}

fn mnist_subset() -> (Dataset, Dataset) {
    let mnist = keel::data::mnist::load_default().expect("the bundled MNIST");
    (
        mnist.train.slice(..1200).unwrap(),
        mnist.test.slice(..500).unwrap(),
    )
}

#[test]
fn a_custom_loop_gives_fit_s_weights_with_and_without_dropout() {
    let (train, test) = mnist_subset();
    for dropout in [false, true] {
        let (mut hand, mut fit) = (model(dropout), model(dropout));
        by_hand(&mut hand, &train, 2).unwrap();
        by_fit(&mut fit, &train, 2).unwrap();
        assert!(
            hand.get_weights() == fit.get_weights(),
            "dropout {dropout}: the weights differ"
        );
        hand.compile(
            Adam::new(1e-3),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
        fit.compile(
            Adam::new(1e-3),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
        let accuracy = |m: &Sequential| m.evaluate(&test).unwrap().get("accuracy").unwrap();
        assert!((accuracy(&hand) - accuracy(&fit)).abs() <= 0.005);
        assert!(accuracy(&hand) > 0.5, "the loop learns");
    }
}

#[test]
fn the_loop_changes_only_trainable_layers() {
    let (train, _) = mnist_subset();
    let mut model = model(false);
    model.set_trainable("dense", false).unwrap();
    let frozen = model.get_layer("dense").unwrap().get_weights();
    let head = model.get_layer("dense_1").unwrap().get_weights();
    by_hand(&mut model, &train.slice(..64).unwrap(), 1).unwrap();
    assert_eq!(model.get_layer("dense").unwrap().get_weights(), frozen);
    assert_ne!(model.get_layer("dense_1").unwrap().get_weights(), head);
}

#[test]
fn inference_records_no_graph_and_matches_predict() {
    let (_, test) = mnist_subset();
    let mut model = model(true);
    let x = test
        .slice(..8)
        .unwrap()
        .gather(&(0..8).collect::<Vec<_>>())
        .x;
    let tape = Tape::no_grad();
    let mut rng = StdRng::seed_from_u64(0);
    let y = model
        .forward(&tape, x.clone(), &mut Ctx::new(Mode::Eval, &mut rng))
        .unwrap();
    assert_eq!(y.backward().num_params(), 0, "a no-grad tape has no graph");
    let predicted = model.predict_samples(x).unwrap();
    assert_eq!(*y.value(), predicted);
}
