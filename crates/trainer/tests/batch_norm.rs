//! Batch normalization in `fit`: moving statistics follow applied steps only, and every
//! file keeps them.

use keel_data::{Dataset, Targets};
use keel_layers::{Activation, BatchNormalization, Dense, Flatten};
use keel_optim::Adam;
use keel_trainer::{FitOptions, Guard, Loss, Policy, Sequential, StepGradients};
use rand::SeedableRng;

fn data() -> Dataset {
    let x = ndarray::Array3::from_shape_fn((40, 2, 2), |(i, j, k)| {
        ((i * 5 + j * 3 + k) % 7) as f32 * 0.4 + 1.0
    });
    let y = (0..40).map(|i| (i % 2) as u32).collect();
    Dataset::from_f32(x.into_dyn(), Targets::Classes(y)).unwrap()
}

fn model() -> Sequential {
    let mut model = Sequential::new([2, 2])
        .add(BatchNormalization::new())
        .add(Flatten::new())
        .add(Dense::new(2).activation(Activation::Softmax));
    model
        .compile(Adam::new(0.01), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    model
}

fn moving(model: &Sequential) -> Vec<Vec<f32>> {
    model
        .get_layer("batch_normalization")
        .unwrap()
        .get_weights()[2..]
        .iter()
        .map(|t| t.iter().copied().collect())
        .collect()
}

#[test]
fn applied_steps_update_the_moving_statistics_and_files_keep_them() {
    let mut model = model();
    let before = moving(&model);
    model
        .fit(
            &data(),
            FitOptions::new().epochs(2).batch_size(8).verbose(0),
        )
        .unwrap();
    let after = moving(&model);
    assert_ne!(after, before);
    // The data's channels have means near 2.2: the moving mean heads there from 0.
    assert!(after[0].iter().all(|&m| m > 0.05), "{after:?}");
    let restored = Sequential::from_bytes(&model.to_bytes().unwrap()).unwrap();
    assert_eq!(moving(&restored), after);
    let mut weights_only = self::model();
    weights_only
        .load_weights_from_bytes(&model.weights_to_bytes().unwrap())
        .unwrap();
    assert_eq!(moving(&weights_only), after);
    assert_eq!(
        restored.predict(&data()).unwrap(),
        model.predict(&data()).unwrap()
    );
    assert!(model
        .summary_string()
        .contains(" Non-trainable params: 4 (16.00 B)\n"));
}

#[test]
fn a_refused_step_leaves_the_moving_statistics_alone() {
    let mut model = model();
    let before = moving(&model);
    let poison = |grads: &mut StepGradients| {
        grads.for_each_mut(|_, g| g.fill(f32::NAN));
        Ok(())
    };
    let options = FitOptions::new()
        .epochs(1)
        .batch_size(8)
        .verbose(0)
        .guard(
            Guard::new()
                .on_nonfinite(Policy::Skip)
                .max_consecutive_skips(100),
        )
        .gradient_hook(poison);
    model.fit(&data(), options).unwrap();
    assert_eq!(moving(&model), before, "every step was skipped");
}

#[test]
fn a_frozen_batch_normalization_runs_in_inference_mode() {
    let mut model = model();
    model.set_trainable("batch_normalization", false).unwrap();
    let before = model
        .get_layer("batch_normalization")
        .unwrap()
        .get_weights();
    model
        .fit(
            &data(),
            FitOptions::new().epochs(2).batch_size(8).verbose(0),
        )
        .unwrap();
    assert_eq!(
        model
            .get_layer("batch_normalization")
            .unwrap()
            .get_weights(),
        before,
        "neither gamma/beta nor the moving statistics move"
    );
    // In training mode too, a frozen layer normalizes with its moving statistics, so a
    // forward pass in training gives the inference outputs (no dropout in this model).
    let x = ndarray::ArrayD::from_elem(vec![3, 2, 2], 2.0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let tape = keel_autograd::Tape::no_grad();
    let train = model
        .forward(
            &tape,
            x.clone(),
            &mut keel_layers::Ctx::new(keel_layers::Mode::Train, &mut rng),
        )
        .unwrap();
    assert_eq!(*train.value(), model.predict_samples(x).unwrap());
}
