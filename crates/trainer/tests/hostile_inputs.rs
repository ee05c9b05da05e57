//! Hostile values through `fit` and the files it reads: huge and tiny finite features, every
//! option out of range, checkpoints corrupted behind a valid checksum. Each ends in a clear
//! `Err`, or `Ok` with every weight and optimizer slot finite; none panics, and no file saved
//! before is lost.

mod common;
use common::two_clusters;
use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Dense};
use keel_optim::{Adagrad, Adam, AdamW, Optimizer, RMSprop, Sgd};
use keel_trainer::{FitOptions, Guard, Loss, Sequential, TrainingState};

/// The two-cluster features times `scale`.
fn scaled_clusters(n: usize, scale: f32) -> Dataset {
    let (x, y) = two_clusters(n);
    Dataset::from_f32(x.mapv(|v| v * scale), Targets::Classes(y)).unwrap()
}

fn model(optimizer: impl TryInto<Optimizer, Error = keel_optim::Error>) -> Sequential {
    let mut model = Sequential::new([2])
        .add(Dense::new(8).activation(Activation::Relu))
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(3);
    let optimizer: Optimizer = optimizer.try_into().unwrap();
    model
        .compile(optimizer, Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    model
}

/// Every weight and every optimizer slot of `model` is finite.
fn all_finite(model: &Sequential) -> bool {
    let weights = model
        .named_params()
        .into_iter()
        .all(|(_, p)| p.value().iter().all(|x| x.is_finite()));
    let slots = model.optimizer().unwrap().state().slots().values();
    weights
        && slots
            .flat_map(|s| s.tensors())
            .all(|t| t.iter().all(|x| x.is_finite()))
}

fn options() -> FitOptions<'static> {
    FitOptions::new().epochs(3).batch_size(8).verbose(0)
}

/// `fit` either fails with a message or leaves every weight and slot finite.
fn assert_err_or_finite(
    mut model: Sequential,
    data: &Dataset,
    options: FitOptions<'_>,
    what: &str,
) {
    match model.fit(data, options) {
        Ok(_) => assert!(all_finite(&model), "{what}: Ok with non-finite state"),
        Err(e) => assert!(!e.to_string().is_empty(), "{what}"),
    }
}

#[test]
fn huge_finite_features_never_leave_a_non_finite_weight_or_slot() {
    // Features near 1e20: g² overflowed f32, v became inf and the next step wrote NaN
    // into the weights while fit returned Ok, with either guard.
    let data = scaled_clusters(32, 1e20);
    type Build = fn() -> Sequential;
    let builders: [(&str, Build); 6] = [
        ("adam", || model(Adam::new(1e-3))),
        ("amsgrad", || model(Adam::new(1e-3).amsgrad(true))),
        ("adamw", || model(AdamW::new(1e-3))),
        ("rmsprop", || model(RMSprop::new(1e-3))),
        ("adagrad", || model(Adagrad::new(1e-2))),
        ("sgd", || model(Sgd::new(1e-3))),
    ];
    for (name, build) in builders {
        assert_err_or_finite(build(), &data, options(), name);
        let guarded = options().guard(Guard::recommended());
        assert_err_or_finite(
            build(),
            &data,
            guarded,
            &format!("{name}, recommended guard"),
        );
    }
    // Adam in particular trains through it.
    let mut adam = model(Adam::new(1e-3));
    adam.fit(&data, options()).unwrap();
    assert!(all_finite(&adam));
}

#[test]
fn tiny_and_mixed_finite_features_train_to_finite_weights() {
    for scale in [1e-38, 1e-30, f32::MIN_POSITIVE / 16.0, 3e38 / 4.0] {
        let data = scaled_clusters(32, scale);
        assert_err_or_finite(
            model(Adam::new(1e-3)),
            &data,
            options(),
            &format!("{scale}"),
        );
    }
}

#[test]
fn every_option_out_of_range_is_an_error_naming_it() {
    let data = scaled_clusters(32, 1.0);
    let cases: Vec<(&str, FitOptions<'static>)> = vec![
        ("batch_size", options().batch_size(0)),
        ("validation_split", options().validation_split(f32::NAN)),
        ("validation_split", options().validation_split(1.0)),
        ("validation_split", options().validation_split(-0.1)),
        ("verbose", options().verbose(9)),
        ("validation_freq", options().validation_freq(0)),
        ("steps_per_epoch", options().steps_per_epoch(0)),
        ("class_weight", options().class_weight([(0, f32::NAN)])),
        ("class_weight", options().class_weight([(1, -1.0)])),
        ("class_weight", options().class_weight([(0, f32::INFINITY)])),
        ("sample_weight", options().sample_weight(vec![1.0; 3])),
        ("sample_weight", options().sample_weight(vec![f32::NAN; 32])),
        ("sample_weight", options().sample_weight(vec![-1.0; 32])),
        ("threads", options().threads(0)),
        ("initial_epoch", options().initial_epoch(7)),
    ];
    for (option, opts) in cases {
        let mut m = model(Adam::new(1e-3));
        let before = m.named_params()[0].1.value().clone();
        let err = m.fit(&data, opts).expect_err(option).to_string();
        assert!(err.contains(option), "{option}: {err}");
        assert_eq!(
            m.named_params()[0].1.value(),
            &before,
            "{option}: weights changed"
        );
    }
}

#[test]
fn validation_data_that_does_not_fit_is_an_error() {
    let data = scaled_clusters(32, 1.0);
    let wrong = Dataset::from_f32(
        ndarray::ArrayD::zeros(vec![4, 3]),
        Targets::Classes(vec![0; 4]),
    )
    .unwrap();
    let err = model(Adam::new(1e-3))
        .fit(&data, options().validation_data(wrong))
        .unwrap_err();
    assert!(err.to_string().contains("[2]"), "{err}");
}

/// A checkpoint of a 1-epoch run, and the model it came from.
fn checkpoint(dir: &std::path::Path) -> (std::path::PathBuf, Sequential) {
    let path = dir.join("state.keel");
    let mut m = model(Adam::new(1e-2));
    m.fit(
        &scaled_clusters(32, 1.0),
        options().epochs(1).checkpoint(&path),
    )
    .unwrap();
    (path, m)
}

/// `bytes` (a Keel file) with the first occurrence of `from` replaced by `to` and its
/// checksum recomputed, as a corruption that slips past the envelope would be.
fn forge(bytes: &[u8], from: f32, to: f32) -> Vec<u8> {
    const HEADER: usize = 24; // magic 8, version 4, length 8, CRC-32 4
    let mut out = bytes.to_vec();
    let needle = from.to_le_bytes();
    let at = out[HEADER..]
        .windows(4)
        .position(|w| w == needle)
        .expect("the value is in the payload")
        + HEADER;
    out[at..at + 4].copy_from_slice(&to.to_le_bytes());
    let crc = crc32fast::hash(&out[HEADER..]);
    out[20..24].copy_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn a_checkpoint_with_a_negative_second_moment_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let (path, trained) = checkpoint(dir.path());
    let slots = &trained.optimizer().unwrap().state().slots();
    let (name, s) = slots.iter().next().unwrap();
    let v = s.tensors()[1].iter().copied().find(|&v| v > 0.0).unwrap();
    let forged = forge(&std::fs::read(&path).unwrap(), v, -v);
    std::fs::write(&path, &forged).unwrap();
    let state = TrainingState::load(&path).expect("the checksum is valid");
    let mut m = model(Adam::new(1e-2));
    let err = m
        .fit(
            &scaled_clusters(32, 1.0),
            options().resume(state).checkpoint(&path),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("slot `v`") && err.contains(name.as_str()) && err.contains(">= 0"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        forged,
        "the file is left as it was"
    );
}

#[test]
fn a_checkpoint_with_a_huge_weight_resumes_to_an_error_or_finite_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (path, trained) = checkpoint(dir.path());
    let w = trained.named_params()[0].1.value()[[0, 0]];
    let forged = forge(&std::fs::read(&path).unwrap(), w, -1.8e38);
    let state = TrainingState::from_bytes(&forged).expect("the checksum is valid");
    let data = scaled_clusters(32, 1.0);
    for guard in [Guard::default(), Guard::recommended()] {
        let opts = options().resume(state.clone()).guard(guard);
        assert_err_or_finite(model(Adam::new(1e-2)), &data, opts, "huge weight");
    }
}

#[test]
fn a_failed_fit_keeps_the_model_saved_before() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("model.keel");
    let mut m = model(Adam::new(1e-3));
    m.fit(&scaled_clusters(32, 1.0), options().epochs(1))
        .unwrap();
    m.save(&saved).unwrap();
    let before = std::fs::read(&saved).unwrap();
    let weights = m.named_params()[0].1.value().clone();
    // A fit that fails at once, one on huge features, then a save that fails: the saved
    // model is still there, whole, and loads with the weights it was saved with.
    assert!(m
        .fit(&scaled_clusters(32, 1.0), options().batch_size(0))
        .is_err());
    assert_err_or_finite_in_place(&mut m, &scaled_clusters(32, 1e37));
    assert!(m.save(dir.path().join("no/such/dir/model.keel")).is_err());
    assert_eq!(std::fs::read(&saved).unwrap(), before);
    let restored = Sequential::load(&saved).unwrap();
    assert_eq!(restored.named_params()[0].1.value(), &weights);
}

fn assert_err_or_finite_in_place(model: &mut Sequential, data: &Dataset) {
    if model.fit(data, options()).is_ok() {
        assert!(all_finite(model));
    }
}

#[test]
fn an_update_that_overflows_the_weights_stops_fit_or_is_rolled_back() {
    // Finite loss and gradients, but lr = f32::MAX makes the first update overflow.
    let data = scaled_clusters(32, 100.0);
    let err = model(Sgd::new(f32::MAX))
        .fit(&data, options())
        .expect_err("the default guard stops");
    assert!(
        matches!(&err, keel_trainer::Error::NonFiniteUpdate { param, epoch: 1, step: 1, .. }
            if param.contains("kernel")),
        "{err}"
    );
    assert!(err.to_string().contains("lower the learning rate"), "{err}");
    // Skipping cannot undo an applied step: the skip policy stops too.
    let skip = Guard::new().on_nonfinite(keel_trainer::Policy::Skip);
    let err = model(Sgd::new(f32::MAX))
        .fit(&data, options().guard(skip))
        .unwrap_err();
    assert!(
        matches!(err, keel_trainer::Error::NonFiniteUpdate { .. }),
        "{err}"
    );
    // A rolling-back guard undoes it: Ok with finite weights, or out of rollbacks.
    let mut m = model(Sgd::new(f32::MAX));
    match m.fit(&data, options().guard(Guard::recommended())) {
        Ok(history) => {
            assert!(all_finite(&m));
            assert!(!history.events().is_empty());
        }
        Err(e) => assert!(
            matches!(e, keel_trainer::Error::GuardExhausted { .. }),
            "{e}"
        ),
    }
    assert!(all_finite(&m), "a rollback restores finite weights");
}

#[test]
fn a_checkpoint_with_a_nan_weight_or_slot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, trained) = checkpoint(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let w = trained.named_params()[0].1.value()[[0, 0]];
    let m0 = trained
        .optimizer()
        .unwrap()
        .state()
        .slots()
        .values()
        .next()
        .unwrap()
        .tensors()[0]
        .iter()
        .copied()
        .find(|&m| m != 0.0)
        .unwrap();
    for (what, from) in [("weight", w), ("slot", m0)] {
        let forged = forge(&bytes, from, f32::NAN);
        let resumed = TrainingState::from_bytes(&forged).and_then(|state| {
            model(Adam::new(1e-2)).fit(&scaled_clusters(32, 1.0), options().resume(state))
        });
        let err = resumed.expect_err(what).to_string();
        assert!(err.contains("NaN") && err.contains(what), "{what}: {err}");
    }
}
