//! Scripted failures for the guard's tests: layers that turn a chosen batch non-finite.
#![allow(dead_code)]

use keel_autograd::{Op, Tensor, Var};
use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Ctx, Dense, Layer, LayerConfig};
use keel_optim::Sgd;
use keel_trainer::{Loss, Sequential};
use rand::rngs::StdRng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The feature value that marks the sample of the batch to poison.
pub const MARKER: f32 = 1234.0;

/// Identity, or NaN everywhere in the forward pass (`nan_forward`) or in the gradient
/// (`nan_backward`).
#[derive(Debug)]
struct PoisonOp {
    name: &'static str,
    nan_forward: bool,
    nan_backward: bool,
}
impl Op for PoisonOp {
    fn name(&self) -> &'static str {
        self.name
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        if self.nan_forward {
            x[0].mapv(|_| f32::NAN)
        } else {
            x[0].clone()
        }
    }
    fn backward(&self, _x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        if self.nan_backward {
            vec![g.mapv(|_| f32::NAN)]
        } else {
            vec![g.clone()]
        }
    }
}

/// The first layer: notes in `flag` whether the batch holds [`MARKER`], and with
/// `nan_forward` turns such a batch into NaN (op `"poison"`).
#[derive(Debug)]
pub struct Detect {
    pub flag: Arc<AtomicBool>,
    pub nan_forward: bool,
}
impl Layer for Detect {
    fn kind(&self) -> &'static str {
        "detect"
    }
    fn build(&mut self, input: &[usize], _rng: &mut StdRng) -> keel_layers::Result<Vec<usize>> {
        Ok(input.to_vec())
    }
    fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        let hit = x.value().iter().any(|&v| v == MARKER);
        self.flag.store(hit, Ordering::SeqCst);
        let op = PoisonOp {
            name: "poison",
            nan_forward: hit && self.nan_forward,
            nan_backward: false,
        };
        x.tape().apply(op, &[x])
    }
    fn config(&self) -> Option<LayerConfig> {
        None
    }
}

/// A later layer whose gradient is NaN on a batch [`Detect`] flagged (op `"nan_gradient"`).
#[derive(Debug)]
pub struct NanGradient {
    pub flag: Arc<AtomicBool>,
}
impl Layer for NanGradient {
    fn kind(&self) -> &'static str {
        "nan_gradient"
    }
    fn build(&mut self, input: &[usize], _rng: &mut StdRng) -> keel_layers::Result<Vec<usize>> {
        Ok(input.to_vec())
    }
    fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        let op = PoisonOp {
            name: "nan_gradient",
            nan_forward: false,
            nan_backward: self.flag.load(Ordering::SeqCst),
        };
        x.tape().apply(op, &[x])
    }
    fn config(&self) -> Option<LayerConfig> {
        None
    }
}

/// `n` samples of 2 features in two classes; the samples of `poisoned` batches (of size
/// `batch`) carry the marker, and `dropped` batches are left out.
pub fn data(n: usize, batch: usize, poisoned: &[usize], dropped: &[usize]) -> Dataset {
    let keep: Vec<usize> = (0..n).filter(|i| !dropped.contains(&(i / batch))).collect();
    let x = ndarray::Array2::from_shape_fn((keep.len(), 2), |(r, j)| {
        let i = keep[r];
        if j == 0 && i % batch == 1 && poisoned.contains(&(i / batch)) {
            return MARKER;
        }
        let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
        sign * (0.5 + ((i * 37 + j * 11) % 17) as f32 / 17.0)
    });
    let y = keep.iter().map(|&i| (i % 2 == 0) as u32).collect();
    Dataset::from_f32(x.into_dyn(), Targets::Classes(y)).expect("dataset")
}

/// Detect → Dense(4, tanh) → [NanGradient] → Dense(2, softmax), SGD(`lr`), seed 5.
pub fn model(lr: f32, nan_forward: bool, nan_backward: bool) -> Sequential {
    let flag = Arc::new(AtomicBool::new(false));
    let mut model = Sequential::new([2])
        .add(Detect {
            flag: flag.clone(),
            nan_forward,
        })
        .add(Dense::new(4).activation(Activation::Tanh));
    if nan_backward {
        model = model.add(NanGradient { flag });
    }
    let mut model = model
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(5);
    model
        .compile(Sgd::new(lr), Loss::SparseCategoricalCrossentropy, &[])
        .expect("compile");
    model
}

/// Every weight, in model order.
pub fn weights(model: &Sequential) -> Vec<Tensor> {
    model
        .named_params()
        .into_iter()
        .map(|(_, p)| p.value().clone())
        .collect()
}

/// The bits of every weight, for exact comparisons.
pub fn bits(model: &Sequential) -> Vec<Vec<u32>> {
    weights(model)
        .iter()
        .map(|w| w.iter().map(|v| v.to_bits()).collect())
        .collect()
}
