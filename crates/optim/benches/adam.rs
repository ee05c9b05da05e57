//! One Adam step over the W1 and W2 parameter sets. `cargo bench -p keel-optim`.
// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keel_autograd::{Gradients, Param, Tensor};
use keel_optim::{Adam, Clipping, Optimizer};

fn params(shapes: &[&[usize]]) -> Vec<Param> {
    shapes
        .iter()
        .map(|s| Param::new(Tensor::from_elem(*s, 0.1)))
        .collect()
}

fn adam(c: &mut Criterion) {
    let mut group = c.benchmark_group("adam_step");
    let w1: &[&[usize]] = &[&[784, 32], &[32], &[32, 10], &[10]];
    let w2: &[&[usize]] = &[&[784, 512], &[512], &[512, 512], &[512], &[512, 10], &[10]];
    for (name, shapes, clip) in [
        ("w1", w1, false),
        ("w2", w2, false),
        ("w2_global_clipnorm", w2, true),
    ] {
        let mut ps = params(shapes);
        let mut grads = Gradients::default();
        for p in &ps {
            grads.insert(p.id(), Tensor::from_elem(p.value().raw_dim(), 0.01));
        }
        let builder = if clip {
            Adam::new(1e-3).global_clipnorm(1.0)
        } else {
            Adam::new(1e-3)
        };
        let mut opt = Optimizer::try_from(builder).expect("valid");
        group.throughput(Throughput::Elements(
            ps.iter().map(Param::len).sum::<usize>() as u64,
        ));
        group.bench_function(name, |b| {
            b.iter(|| {
                let named = ps.iter_mut().enumerate().map(|(i, p)| (i.to_string(), p));
                opt.step(named, &mut grads).expect("step");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, adam);
criterion_main!(benches);
