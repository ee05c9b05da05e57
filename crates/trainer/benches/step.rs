//! Whole training steps through the public API: one epoch of 100 steps of W1 (batch 32)
//! and of 20 steps of W2 (batch 128) on MNIST images. `cargo bench -p keel-trainer`.
// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keel_layers::{Activation, Dense, Dropout, Flatten};
use keel_optim::Adam;
use keel_trainer::{FitOptions, Loss, Metric, Sequential};

fn model(hidden: &[usize]) -> Sequential {
    let mut model = Sequential::new([28, 28]).add(Flatten::new());
    for &units in hidden {
        model = model
            .add(Dense::new(units).activation(Activation::Relu))
            .add(Dropout::new(0.2));
    }
    let mut model = model.add(Dense::new(10).activation(Activation::Softmax));
    model
        .compile(
            Adam::new(1e-3),
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

criterion_group!(benches, steps);
criterion_main!(benches);
