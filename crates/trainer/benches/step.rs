//! Whole training steps through the public API: one epoch of 100 steps of W1 (batch 32)
//! and of 20 steps of W2 (batch 128) on MNIST images; and a whole W1 epoch (54,000 samples
//! and validation on 6,000) with stability tooling off, then with global-norm clipping, the
//! recommended guard and per-epoch telemetry on, to measure what leaving them on costs.
//! `cargo bench -p keel-trainer` (or `-- stability_overhead` for the last group only).
// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keel_layers::{Activation, Dense, Dropout, Flatten};
use keel_optim::{Adam, Clipping};
use keel_trainer::{FitOptions, Guard, Loss, Metric, Sequential, Telemetry};

fn model(hidden: &[usize]) -> Sequential {
    model_with(hidden, Adam::new(1e-3))
}

fn model_with(hidden: &[usize], adam: Adam) -> Sequential {
    let mut model = Sequential::new([28, 28]).add(Flatten::new());
    for &units in hidden {
        model = model
            .add(Dense::new(units).activation(Activation::Relu))
            .add(Dropout::new(0.2));
    }
    let mut model = model.add(Dense::new(10).activation(Activation::Softmax));
    model
        .compile(
            adam,
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .expect("compile");
    model
}

fn steps(c: &mut Criterion) {
    let mnist = keel_data::mnist::load_default().expect("bundled MNIST");
    let mut group = c.benchmark_group("train_steps");
    group.sample_size(10);
    for (name, hidden, batch, steps) in [
        ("w1_100_steps", &[32][..], 32, 100),
        ("w2_20_steps", &[512, 512][..], 128, 20),
    ] {
        let data = mnist.train.slice(0..batch * steps).expect("subset");
        let mut m = model(hidden);
        group.throughput(Throughput::Elements((batch * steps) as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                m.fit(&data, FitOptions::new().batch_size(batch).verbose(0))
                    .expect("fit");
            })
        });
    }
    group.finish();
}

/// One W1 epoch with the stability tooling off and on: the ratio of the two is its cost.
fn stability_overhead(c: &mut Criterion) {
    let mnist = keel_data::mnist::load_default().expect("bundled MNIST");
    let mut group = c.benchmark_group("stability_overhead");
    group.sample_size(10);
    group.throughput(Throughput::Elements(54_000));
    let epoch = || {
        FitOptions::new()
            .batch_size(32)
            .validation_split(0.1)
            .verbose(0)
    };
    let mut off = model(&[32]);
    group.bench_function("w1_epoch_off", |b| {
        b.iter(|| off.fit(&mnist.train, epoch()).expect("fit"))
    });
    let mut on = model_with(&[32], Adam::new(1e-3).global_clipnorm(1.0));
    group.bench_function("w1_epoch_clip_guard_telemetry", |b| {
        b.iter(|| {
            let options = epoch()
                .guard(Guard::recommended())
                .telemetry(Telemetry::Epochs);
            on.fit(&mnist.train, options).expect("fit")
        })
    });
    group.finish();
}

criterion_group!(benches, steps, stability_overhead);
criterion_main!(benches);
