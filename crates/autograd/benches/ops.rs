//! The hot ops at MNIST sizes: matmul, the fused dense op forward and backward, and the
//! fused sparse softmax cross-entropy. `cargo bench -p keel-autograd`.
// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keel_autograd::ops::dense::Pointwise;
use keel_autograd::{Param, Tape, Tensor};
use ndarray::Dimension;
use std::hint::black_box;

fn filled(shape: &[usize]) -> Tensor {
    Tensor::from_shape_fn(shape, |i| {
        ((i.as_array_view().sum() * 7919) % 97) as f32 / 97.0 - 0.5
    })
}

/// (name, batch, inputs, units) at the W1 and W2 layer sizes.
const SIZES: [(&str, usize, usize, usize); 3] = [
    ("w1_784x32_b32", 32, 784, 32),
    ("w2_784x512_b128", 128, 784, 512),
    ("w2_512x512_b128", 128, 512, 512),
];

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_forward");
    for (name, batch, inputs, units) in SIZES {
        let (x, w) = (filled(&[batch, inputs]), filled(&[inputs, units]));
        group.throughput(Throughput::Elements((2 * batch * inputs * units) as u64)); // FLOPs
        group.bench_function(name, |b| {
            b.iter(|| {
                let tape = Tape::new();
                black_box(
                    tape.constant(x.clone())
                        .matmul(tape.constant(w.clone()))
                        .value(),
                );
            })
        });
    }
    group.finish();
}

fn dense_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("dense_forward_backward");
    for (name, batch, inputs, units) in SIZES {
        let x = filled(&[batch, inputs]);
        let (w, bias) = (
            Param::new(filled(&[inputs, units])),
            Param::new(filled(&[units])),
        );
        // Forward, kernel gradient, and the input gradient a hidden layer needs: 3 products.
        group.throughput(Throughput::Elements((6 * batch * inputs * units) as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let tape = Tape::new();
                let input = tape.var(x.clone());
                let y = input.dense(tape.param(&w), Some(tape.param(&bias)), Pointwise::Relu);
                black_box(y.sum().backward());
            })
        });
    }
    group.finish();
}

fn cross_entropy(c: &mut Criterion) {
    let mut group = c.benchmark_group("sparse_softmax_cross_entropy");
    for batch in [32usize, 128] {
        let logits = filled(&[batch, 10]);
        let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
        group.bench_function(format!("b{batch}x10"), |b| {
            b.iter(|| {
                let tape = Tape::new();
                let loss = tape
                    .var(logits.clone())
                    .sparse_softmax_cross_entropy(&labels)
                    .mean();
                black_box(loss.backward());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, matmul, dense_step, cross_entropy);
criterion_main!(benches);
