//! Fixtures of the callback and fit-option tests: a tiny model on tiny data, and a callback
//! that scripts a metric sequence into a real `fit`.
#![allow(dead_code)]

use keel_autograd::Tensor;
use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Dense};
use keel_optim::Sgd;
use keel_trainer::{Callback, CallbackContext, Control, Logs, Loss, Metric, Result, Sequential};

/// 32 samples of two separable clusters in 2-D, label = (x0 + x1 > 0).
pub fn clusters(n: usize) -> Dataset {
    let x = ndarray::Array2::from_shape_fn((n, 2), |(i, j)| {
        let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
        sign * (0.5 + ((i * 37 + j * 11) % 17) as f32 / 17.0)
    });
    let y = (0..n).map(|i| (i % 2 == 0) as u32).collect();
    Dataset::from_f32(x.into_dyn(), Targets::Classes(y)).expect("dataset")
}

/// [`clusters`] with labels that do not follow the clusters (i % 3 == 0): no model fits
/// them, so a huge learning rate drives the loss to NaN instead of to 0.
pub fn overlapping(n: usize) -> Dataset {
    let x = clusters(n).gather(&(0..n).collect::<Vec<_>>()).x;
    let y = (0..n).map(|i| (i % 3 == 0) as u32).collect();
    Dataset::from_f32(x, Targets::Classes(y)).expect("dataset")
}

/// A softmax classifier on 2 inputs, compiled with SGD at `lr`, tracking accuracy.
pub fn tiny_model(lr: f32) -> Sequential {
    let mut model = Sequential::new([2])
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(1);
    model
        .compile(
            Sgd::new(lr),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .expect("compile");
    model
}

/// Every weight of the model, by name.
pub fn weights(model: &Sequential) -> Vec<(String, Tensor)> {
    model
        .named_params()
        .into_iter()
        .map(|(name, p)| (name.to_string(), p.value().clone()))
        .collect()
}

/// Puts `values[epoch - first]` into the epoch logs as `name` (so a real `fit` sees a
/// hand-made metric sequence), and records the weights at every epoch's end.
pub struct Scripted {
    pub name: String,
    pub values: Vec<f64>,
    pub first: usize,
    pub weights: Vec<Vec<(String, Tensor)>>,
}

impl Scripted {
    pub fn new(name: &str, values: &[f64]) -> Self {
        Scripted {
            name: name.to_string(),
            values: values.to_vec(),
            first: 0,
            weights: Vec::new(),
        }
    }
}

impl Callback for Scripted {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        logs.insert(self.name.clone(), self.values[epoch - self.first]);
        self.weights.push(weights(ctx.model()));
        Ok(Control::Continue)
    }

    fn logs_added(&self) -> Vec<String> {
        vec![self.name.clone()]
    }
}

/// Runs `callback.on_epoch_end` over `values` of `name`, from epoch 0, after
/// `on_train_begin`, until the first `Stop` (as `fit` would); returns the decisions.
pub fn drive(
    callback: &mut dyn Callback,
    ctx: &mut CallbackContext<'_>,
    name: &str,
    values: &[f64],
) -> Result<Vec<Control>> {
    callback.on_train_begin(ctx)?;
    let mut decisions = Vec::new();
    for (epoch, &v) in values.iter().enumerate() {
        let decision = callback.on_epoch_end(epoch, &mut Logs::from([(name, v)]), ctx)?;
        decisions.push(decision);
        if decision == Control::Stop {
            break;
        }
    }
    Ok(decisions)
}

/// The epoch at which the first `Stop` came, if any.
pub fn stop_epoch(decisions: &[Control]) -> Option<usize> {
    decisions.iter().position(|&d| d == Control::Stop)
}

/// Records the weights at every epoch's end.
#[derive(Default)]
pub struct Snapshots(pub Vec<Vec<(String, Tensor)>>);

impl Callback for Snapshots {
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        _logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        self.0.push(weights(ctx.model()));
        Ok(Control::Continue)
    }
}
