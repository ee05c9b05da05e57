//! Training on runtimes: two fits at once, fits inside a rayon pool and from several
//! threads, and the thread-count options.

mod common;
use common::{dropout_mlp, mnist_subset, seed_model};
use keel_runtime::Runtime;
use keel_trainer::{Error, FitOptions, Sequential};
use std::thread;

/// A model with products large enough to be shared between threads.
fn wide_model(seed: u64) -> Sequential {
    dropout_mlp(&[256], seed)
}

/// Trains `model` for one epoch (batch 64) and returns its file's bytes.
fn train(mut model: Sequential, runtime: Option<Runtime>) -> Vec<u8> {
    let mut options = FitOptions::new().batch_size(64).seed(9).verbose(0);
    if let Some(runtime) = runtime {
        options = options.runtime(runtime);
    }
    model.fit(&mnist_subset(768), options).expect("fit");
    model.to_bytes().expect("to_bytes")
}

#[test]
fn two_fits_at_once_each_match_the_same_model_trained_alone() {
    let alone = (train(wide_model(1), None), train(seed_model(2), None));
    // On the default runtime, shared by both.
    let shared = thread::scope(|s| {
        let a = s.spawn(|| train(wide_model(1), None));
        let b = s.spawn(|| train(seed_model(2), None));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(alone == shared, "a fit beside another changed its result");
    // On a runtime each.
    let own = thread::scope(|s| {
        let a = s.spawn(|| {
            train(
                wide_model(1),
                Some(Runtime::builder().threads(2).build().unwrap()),
            )
        });
        let b = s.spawn(|| {
            train(
                seed_model(2),
                Some(Runtime::builder().threads(2).build().unwrap()),
            )
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(alone == own, "a fit on its own runtime changed its result");
}

#[test]
fn fit_and_predict_inside_a_rayon_pool_and_from_several_threads_complete() {
    let data = mnist_subset(256);
    let expected = train(wide_model(3), None);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let inside = pool.install(|| train(wide_model(3), None));
    assert!(
        inside == expected,
        "a fit inside a rayon pool changed its result"
    );
    let reference = Sequential::from_bytes(&expected)
        .unwrap()
        .predict(&data)
        .unwrap();
    pool.install(|| {
        rayon::scope(|s| {
            for _ in 0..4 {
                s.spawn(|_| {
                    let model = Sequential::from_bytes(&expected).unwrap();
                    assert_eq!(model.predict(&data).unwrap(), reference);
                });
            }
        })
    });
    thread::scope(|s| {
        for threads in 1..=4 {
            let (data, expected, reference) = (&data, &expected, &reference);
            s.spawn(move || {
                let mut model = Sequential::from_bytes(expected).unwrap();
                model.set_runtime(Runtime::builder().threads(threads).build().unwrap());
                assert_eq!(&model.predict(data).unwrap(), reference);
            });
        }
    });
}

#[test]
fn a_set_thread_count_is_used_and_zero_is_an_error() {
    let mut model = seed_model(4);
    let err = model
        .fit(&mnist_subset(64), FitOptions::new().threads(0).verbose(0))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                option: "threads",
                ..
            }
        ),
        "{err}"
    );
    let with_three = train(
        seed_model(4),
        Some(Runtime::builder().threads(3).build().unwrap()),
    );
    let mut model = seed_model(4);
    let options = FitOptions::new()
        .batch_size(64)
        .seed(9)
        .verbose(0)
        .threads(1);
    model.fit(&mnist_subset(768), options).unwrap();
    assert!(model.to_bytes().unwrap() == with_three);
}

#[test]
fn one_model_serves_predict_from_several_threads_at_once() {
    let model = wide_model(5);
    let x = mnist_subset(128).x_f32();
    let reference = model.predict_samples(x.clone()).unwrap();
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert_eq!(model.predict_samples(x.clone()).unwrap(), reference));
        }
    });
    let classes = keel_trainer::argmax_rows(&reference).unwrap();
    assert_eq!(classes.len(), 128);
    assert!(classes.iter().all(|&c| c < 10));
}

#[test]
fn a_model_is_send_and_sync_and_argmax_names_a_bad_shape() {
    fn shared_between_threads<T: Send + Sync>() {}
    shared_between_threads::<Sequential>();
    let err = keel_trainer::argmax_rows(&ndarray::Array1::<f32>::zeros(3).into_dyn()).unwrap_err();
    assert!(
        err.to_string().contains("[n, classes]") && err.to_string().contains("[3]"),
        "{err}"
    );
    let tie_and_nan = ndarray::array![[0.5f32, 0.5], [f32::NAN, 1.0]].into_dyn();
    assert_eq!(keel_trainer::argmax_rows(&tie_and_nan).unwrap(), vec![0, 0]);
}
