//! The forward pass: public (Keras's `model(x, training=...)`) and the one forward-and-loss
//! function that training, evaluation and the non-finite locator share.

use crate::{Error, Result, Sequential};
use keel_autograd::{tensor, Tape, Tensor, Var};
use keel_data::BatchTargets;
use keel_layers::Ctx;
use std::ops::ControlFlow;

/// One forward pass and its loss, on a tape.
pub(crate) struct LossPass<'t> {
    /// The model's output without its final softmax or sigmoid (see `activation`).
    pub(crate) output: Var<'t>,
    /// The per-sample losses, `[batch]`.
    pub(crate) per_sample: Var<'t>,
    /// Their (weighted) mean, without the regularization penalty.
    pub(crate) data_loss: Var<'t>,
    /// The training loss: `data_loss` plus every layer's penalty.
    pub(crate) loss: Var<'t>,
}

impl Sequential {
    /// The model's output for the batch `x` (shape `[batch, ..input_shape]`), recorded on
    /// `tape`: Keras's `model(x, training=...)`. `ctx` says whether this is training
    /// ([`Mode::Train`](keel_layers::Mode::Train): dropout active) or inference, and holds
    /// the random source. The output has the last layer's activation applied (softmax
    /// probabilities for the seed model); [`Loss::call`](crate::Loss::call) fuses it back to
    /// logits, as `fit` does.
    ///
    /// In training mode, layers with moving statistics (batch normalization) update them
    /// at the end of the call, as Keras's do; hence `&mut self`. Each call starts a step of
    /// the runtime's buffer arena (as each `fit` batch does), so a custom loop keeps the
    /// same memory footprint as `fit`. Record on a [`Tape::no_grad`] tape for inference
    /// (`predict` serves several threads from `&self`).
    ///
    /// ```
    /// use keel_autograd::Tape;
    /// use keel_layers::{Activation, Ctx, Dense, Mode};
    /// use keel_trainer::Sequential;
    /// use rand::SeedableRng;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let mut model = Sequential::new([2]).add(Dense::new(3).activation(Activation::Softmax));
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let tape = Tape::no_grad();
    /// let x = ndarray::array![[1.0f32, 0.0], [0.0, 1.0]].into_dyn();
    /// let y = model.forward(&tape, x, &mut Ctx::new(Mode::Eval, &mut rng))?;
    /// assert_eq!(y.shape(), [2, 3]);
    /// assert!(model.forward(&tape, ndarray::ArrayD::zeros(vec![2, 5]), &mut Ctx::new(Mode::Eval, &mut rng)).is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A layer that could not be built, or `x` not of shape `[batch, ..input_shape]`.
    pub fn forward<'t>(&mut self, tape: &'t Tape, x: Tensor, ctx: &mut Ctx<'_>) -> Result<Var<'t>> {
        self.check()?;
        if x.ndim() == 0 || x.shape()[1..] != *self.input_shape() {
            return Err(Error::InputShape {
                expected: self.input_shape().to_vec(),
                found: x.shape().get(1..).unwrap_or_default().to_vec(),
            });
        }
        keel_runtime::buffers::end_step();
        self.freeze_on(tape);
        let (logits, activation) = self.forward_split(self.input_var(tape, x), ctx);
        self.apply_updates(ctx.take_updates());
        Ok(activation.apply(logits))
    }

    /// Assigns the values layers recorded with [`Ctx::record_update`] to their
    /// non-trainable parameters (moving statistics).
    pub(crate) fn apply_updates(&mut self, updates: Vec<(keel_autograd::ParamId, Tensor)>) {
        if updates.is_empty() {
            return;
        }
        let mut updates = updates;
        for layer in &mut self.layers {
            for (_, param) in layer.weights_mut() {
                if let Some(i) = updates.iter().position(|(id, _)| *id == param.id()) {
                    param.set_value(updates.swap_remove(i).1);
                }
            }
        }
    }

    /// The forward pass and the loss of `x` against `y`, its per-sample losses scaled by
    /// `weights` if given: the one definition `fit`'s step, `evaluate` and the non-finite
    /// locator share. `inspect` sees each layer's output in order (the last one before its
    /// final activation) and may stop the pass, which then returns `None`.
    ///
    /// # Errors
    /// An uncompiled model, or what the loss returns (a custom loss of the wrong shape).
    pub(crate) fn forward_loss<'t>(
        &self,
        tape: &'t Tape,
        x: Tensor,
        y: &BatchTargets,
        weights: Option<Vec<f32>>,
        ctx: &mut Ctx<'_>,
        mut inspect: impl FnMut(usize, Var<'t>) -> ControlFlow<()>,
    ) -> Result<Option<LossPass<'t>>> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        self.freeze_on(tape);
        let mut h = self.input_var(tape, x);
        let last = self.layers.len().saturating_sub(1);
        for (index, layer) in self.layers.iter().enumerate() {
            ctx.set_layer_frozen(!self.layer_trainable(index));
            h = if index == last {
                layer.forward_logits(h, ctx)
            } else {
                layer.forward(h, ctx)
            };
            if inspect(index, h).is_break() {
                ctx.set_layer_frozen(false);
                return Ok(None);
            }
        }
        ctx.set_layer_frozen(false);
        let activation = self.output_activation();
        let per_sample = compiled.loss.per_sample(h, activation, y)?;
        let data_loss = match weights {
            // sum(w_i * l_i) / batch_size: Keras 3's "sum_over_batch_size" (weights.rs).
            Some(w) => (per_sample * tape.constant(tensor(&[w.len()], w))).mean(),
            None => per_sample.mean(),
        };
        let loss = match self.regularization_loss(tape) {
            Some(penalty) => data_loss + penalty,
            None => data_loss,
        };
        Ok(Some(LossPass {
            output: h,
            per_sample,
            data_loss,
            loss,
        }))
    }
}
