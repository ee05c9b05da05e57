//! `fit`'s Keras options beyond the basics: `initial_epoch`, `validation_freq`,
//! `steps_per_epoch`, `class_weight`, `sample_weight`; and `predict_batched`.

mod callback_support;
use callback_support::{clusters, tiny_model, weights};
use keel_data::{Dataset, Targets, TargetsView};
use keel_layers::{Activation, Dense};
use keel_optim::Sgd;
use keel_trainer::{FitOptions, History, LambdaCallback, Loss, Sequential};

fn quiet() -> FitOptions<'static> {
    FitOptions::new().verbose(0)
}

fn labels(data: &Dataset) -> Vec<u32> {
    match data.targets() {
        TargetsView::Classes(y) => y.to_vec(),
        TargetsView::Dense(_) => unreachable!("class labels"),
    }
}

#[test]
fn initial_epoch_numbers_the_history_from_there() {
    let mut model = tiny_model(0.1);
    let history = model
        .fit(&clusters(32), quiet().epochs(5).initial_epoch(2))
        .unwrap();
    assert_eq!(history.epochs(), &[2, 3, 4]);
}

#[test]
fn validation_freq_validates_every_nth_epoch() {
    let mut model = tiny_model(0.1);
    let history = model
        .fit(
            &clusters(32),
            quiet().epochs(4).validation_split(0.25).validation_freq(2),
        )
        .unwrap();
    let val: Vec<bool> = history
        .get("val_loss")
        .unwrap()
        .iter()
        .map(|v| v.is_finite())
        .collect();
    assert_eq!(val, [false, true, false, true]); // (epoch + 1) % 2 == 0
}

#[test]
fn steps_per_epoch_caps_the_batches() {
    for (steps, expected) in [(2, 6), (100, 24)] {
        let mut model = tiny_model(0.1);
        let mut batches = 0;
        let counter = LambdaCallback::new().on_train_batch_end(|_, _| batches += 1);
        let options = quiet()
            .epochs(3)
            .batch_size(4)
            .steps_per_epoch(steps)
            .callback(counter);
        model.fit(&clusters(32), options).unwrap();
        assert_eq!(
            batches, expected,
            "steps_per_epoch {steps}: 8 batches available"
        );
    }
}

fn first_loss(options: FitOptions<'_>) -> f64 {
    let mut model = tiny_model(0.1);
    let history = model
        .fit(
            &clusters(32),
            options.epochs(1).batch_size(32).shuffle(false),
        )
        .unwrap();
    history.get("loss").unwrap()[0]
}

#[test]
fn weighted_losses_are_divided_by_the_batch_size_not_the_weight_sum() {
    // Keras 3's "sum_over_batch_size": sum(w_i * l_i) / n. With every weight 2 the loss of
    // the single batch (computed before its update) doubles exactly; dividing by the sum of
    // the weights instead would leave it unchanged.
    let plain = first_loss(quiet());
    assert_eq!(
        first_loss(quiet().class_weight([(0, 2.0), (1, 2.0)])),
        2.0 * plain
    );
    assert_eq!(
        first_loss(quiet().sample_weight(vec![2.0; 32])),
        2.0 * plain
    );
    assert_eq!(
        first_loss(quiet().class_weight([(1, 1.0)])),
        plain,
        "missing classes weigh 1"
    );
}

fn run(options: FitOptions<'_>, data: &Dataset) -> (History, Vec<(String, keel_autograd::Tensor)>) {
    let mut model = tiny_model(0.1);
    let history = model
        .fit(data, options.epochs(3).batch_size(8).seed(5))
        .unwrap();
    (history, weights(&model))
}

#[test]
fn class_weight_is_the_sample_weight_of_each_sample_class() {
    let data = clusters(32);
    let per_sample: Vec<f32> = labels(&data)
        .iter()
        .map(|&c| if c == 1 { 3.0 } else { 1.0 })
        .collect();
    let by_class = run(quiet().class_weight([(0, 1.0), (1, 3.0)]), &data);
    let by_sample = run(quiet().sample_weight(per_sample), &data);
    assert_eq!(by_class, by_sample);
    assert_ne!(by_class, run(quiet(), &data));
}

#[test]
fn class_weight_reads_one_hot_rows_by_argmax() {
    let data = clusters(32);
    let y = labels(&data);
    let onehot =
        ndarray::Array2::from_shape_fn((32, 2), |(i, j)| (y[i] as usize == j) as u8 as f32);
    let x = data.gather(&(0..32).collect::<Vec<_>>()).x;
    let dense = Dataset::from_f32(x, Targets::Dense(onehot)).unwrap();
    let fit = |options: FitOptions<'_>| {
        let mut model = Sequential::new([2])
            .add(Dense::new(2).activation(Activation::Softmax))
            .seed(1);
        model
            .compile(Sgd::new(0.1), Loss::CategoricalCrossentropy, &[])
            .unwrap();
        model.fit(&dense, options.epochs(2).batch_size(8)).unwrap()
    };
    let per_sample: Vec<f32> = y.iter().map(|&c| if c == 1 { 0.5 } else { 2.0 }).collect();
    assert_eq!(
        fit(quiet().class_weight([(0, 2.0), (1, 0.5)])),
        fit(quiet().sample_weight(per_sample))
    );
}

#[test]
fn the_validation_part_of_sample_weight_is_unused_and_zero_weights_do_not_train() {
    let data = clusters(32); // validation_split 0.25: samples 24.. are held out
    let mut tail_heavy = vec![1.0; 32];
    tail_heavy[24..].fill(1e6);
    let split = |w: Vec<f32>| quiet().validation_split(0.25).sample_weight(w);
    assert_eq!(
        run(split(tail_heavy), &data),
        run(split(vec![1.0; 32]), &data)
    );
    let mut model = tiny_model(0.1);
    let before = weights(&model);
    let history = model
        .fit(&data, quiet().epochs(2).sample_weight(vec![0.0; 32]))
        .unwrap();
    assert_eq!(history.get("loss"), Some(&[0.0, 0.0][..]));
    assert_eq!(weights(&model), before);
}

#[test]
fn bad_fit_options_are_errors_saying_expected_and_found() {
    let data = clusters(16);
    let mut model = tiny_model(0.1);
    let cases = [
        (
            quiet().sample_weight(vec![1.0; 3]),
            "sample_weight must hold one weight per sample of the data: expected 16, found 3",
        ),
        (
            quiet().sample_weight(vec![-1.0; 16]),
            "sample_weight must be finite weights >= 0, found -1 for sample 0",
        ),
        (
            quiet().class_weight([(1, f32::NAN)]),
            "class_weight must be finite weights >= 0, found NaN for class 1",
        ),
        (
            quiet().class_weight([(2, 1.0)]),
            "class_weight must be keys that are classes of the model's output, found class 2 \
             (the output has 2 classes)",
        ),
        (
            quiet()
                .class_weight([(0, 1.0)])
                .sample_weight(vec![1.0; 16]),
            "class_weight must be unset when sample_weight is given (Keras cannot use both), \
             found weights for 1 classes",
        ),
        (
            quiet().validation_freq(0),
            "validation_freq must be at least 1, found 0",
        ),
        (
            quiet().steps_per_epoch(0),
            "steps_per_epoch must be at least 1, found 0",
        ),
        (
            quiet().epochs(3).initial_epoch(3),
            "initial_epoch must be less than epochs, found 3 with epochs = 3",
        ),
    ];
    for (options, expected) in cases {
        let err = model.fit(&data, options).expect_err(expected);
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn predict_in_batches_gives_the_same_outputs() {
    let data = clusters(37);
    let model = tiny_model(0.1);
    let all = model.predict(&data).unwrap();
    for batch_size in [1, 4, 36, 1000] {
        let batched = model.predict_batched(&data, batch_size).unwrap();
        assert_eq!(batched.shape(), all.shape());
        let worst = (&batched - &all).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(worst < 1e-6, "batch_size {batch_size}: {worst}");
    }
    let err = model.predict_batched(&data, 0).unwrap_err();
    assert_eq!(err.to_string(), "batch_size must be at least 1, found 0");
}
