//! One training step, as named stages: batch → forward and loss → backward → gradient hooks
//! → gradient transforms and guard → optimizer → metrics. `fit` supplies the batch and runs
//! the callbacks around it.

use crate::fit::FitRng;
use crate::guard::{GuardRun, Trigger};
use crate::hook::{GradientHook, StepGradients};
use crate::metrics::MetricTracker;
use crate::sequential::params_of;
use crate::telemetry::EpochTelemetry;
use crate::{Error, Result, Sequential};
use keel_autograd::{Gradients, ParamPath, Tape, Tensor};
use keel_data::Batch;
use keel_layers::{Ctx, Mode};
use keel_optim::{Decision, StepStats};
use std::ops::ControlFlow;

/// A data-parallel member's part of a step: rows `first_row..first_row + rows` of a batch
/// of `global` rows.
pub(crate) struct Share<'p, 'a> {
    pub(crate) group: &'p mut crate::distributed::DataParallel<'a>,
    pub(crate) first_row: usize,
    /// 0 for a member with no rows, whose batch is a stand-in that counts nothing.
    pub(crate) rows: usize,
    pub(crate) global: usize,
}

/// What one training step did.
#[derive(Debug)]
pub(crate) struct StepResult {
    /// The batch's loss, regularization included.
    pub(crate) loss: f32,
    /// The optimizer's norms and learning rate.
    pub(crate) stats: StepStats,
    /// Why the guard refused the step, if it did.
    pub(crate) trigger: Option<Trigger>,
    /// Each parameter's gradient norm, kept only for a non-finite step (to locate it).
    pub(crate) param_norms: Option<Vec<(ParamPath, f32)>>,
}

/// What the optimizer stage reports: its stats, the guard's trigger, and the per-parameter
/// norms of a non-finite step.
type Update = (StepStats, Option<Trigger>, Option<Vec<(ParamPath, f32)>>);

/// What a step's stages before the update produce.
struct Backward {
    loss: f32,
    /// What the forward pass recorded for non-trainable state (moving statistics), applied
    /// only with the step.
    updates: Vec<(keel_autograd::ParamId, Tensor)>,
    grads: Gradients,
    output: std::sync::Arc<Tensor>,
}

impl Sequential {
    /// The sum of every layer's regularization penalty on `tape`, if any layer has one.
    pub(crate) fn regularization_loss<'t>(&self, tape: &'t Tape) -> Option<keel_autograd::Var<'t>> {
        self.layers
            .iter()
            .filter_map(|l| l.regularization_loss(tape))
            .reduce(|a, b| a + b)
    }

    /// One step on `batch`, its per-sample losses scaled by `weights` if given. `hooks` see
    /// the gradients first; the optimizer then reports the gradient norms, `guard` judges
    /// them (with the loss), and the update is applied only if it finds nothing wrong. An
    /// applied step adds the batch's outputs to `metrics`; the caller adds its loss.
    ///
    /// A data-parallel member (`share`) sums the group's gradients, loss and moving-
    /// statistics updates before the hooks, so every later stage sees the whole batch's.
    #[allow(clippy::too_many_arguments)] // the stages' state, each borrowed apart from `fit`'s run
    pub(crate) fn train_step(
        &mut self,
        batch: Batch,
        weights: Option<Vec<f32>>,
        rng: &mut FitRng,
        hooks: &mut [Box<dyn GradientHook + '_>],
        metrics: &mut MetricTracker,
        guard: &mut GuardRun,
        telemetry: &mut EpochTelemetry,
        share: Option<Share<'_, '_>>,
    ) -> Result<StepResult> {
        let first_row = share.as_ref().map_or(0, |s| s.first_row);
        // A member's gradients count by its share of the batch: the chain rule starts there.
        let seed = share
            .as_ref()
            .map_or(1.0, |s| s.rows as f32 / s.global as f32);
        let mut pass = self.forward_backward(batch.x, &batch.y, weights, rng, first_row, seed)?;
        let counts = share.as_ref().is_none_or(|s| s.rows > 0);
        if let Some(s) = share {
            let params = self.trainable_params();
            s.group.sum_step(
                &params,
                &mut pass.grads,
                &mut pass.loss,
                &mut pass.updates,
                s.rows,
                s.global,
            )?;
        }
        self.run_hooks(hooks, &mut pass)?;
        let (stats, trigger, param_norms) = self.update(&mut pass, guard, telemetry)?;
        if trigger.is_none() {
            if counts {
                metrics.update(&pass.output, &batch.y);
            }
            self.apply_updates(std::mem::take(&mut pass.updates));
        }
        Ok(StepResult {
            loss: pass.loss,
            stats,
            trigger,
            param_norms,
        })
    }

    /// Stages forward and loss, then backward; the tape is gone when this returns, so the
    /// update is in place. `x` is rows `first_row..` of the batch (see [`Ctx::first_row`]);
    /// the gradients are those of `seed` times the loss.
    fn forward_backward(
        &self,
        x: Tensor,
        y: &keel_data::BatchTargets,
        weights: Option<Vec<f32>>,
        rng: &mut FitRng,
        first_row: usize,
        seed: f32,
    ) -> Result<Backward> {
        let tape = Tape::new();
        let mut ctx = Ctx::new(Mode::Train, rng);
        ctx.set_first_row(first_row);
        let pass = self
            .forward_loss(&tape, x, y, weights, &mut ctx, |_, _| {
                ControlFlow::Continue(())
            })?
            .expect("nothing stops the pass");
        Ok(Backward {
            updates: ctx.take_updates(),
            loss: pass.loss.scalar(),
            grads: pass.loss.backward_scaled(seed),
            output: pass.output.value(),
        })
    }

    /// Stage gradient hooks: each sees the trainable parameters' gradients, in order.
    fn run_hooks(
        &self,
        hooks: &mut [Box<dyn GradientHook + '_>],
        pass: &mut Backward,
    ) -> Result<()> {
        if hooks.is_empty() {
            return Ok(());
        }
        let mut gradients = StepGradients::new(self.trainable_params(), &mut pass.grads, pass.loss);
        hooks
            .iter_mut()
            .try_for_each(|h| h.on_gradients(&mut gradients))
    }

    /// Stages gradient transforms and guard, then the optimizer: the optimizer measures the
    /// gradients, the guard decides, and only an accepted step is clipped and applied.
    fn update(
        &mut self,
        pass: &mut Backward,
        guard: &mut GuardRun,
        telemetry: &mut EpochTelemetry,
    ) -> Result<Update> {
        let compiled = self
            .compiled
            .as_mut()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        let loss = pass.loss;
        let mut trigger = None;
        let mut param_norms = None;
        let params = params_of(&mut self.layers, &self.names, Some(&self.trainable));
        let stepped = compiled
            .optimizer
            .step_with(params, &mut pass.grads, |report| {
                telemetry.observe(report);
                trigger = guard.judge(loss, report);
                if matches!(
                    trigger,
                    Some(Trigger::NonFiniteLoss { .. } | Trigger::NonFiniteGradient)
                ) {
                    param_norms = Some(report.param_norms.clone());
                }
                match trigger {
                    Some(_) => Decision::Skip,
                    None => Decision::Apply,
                }
            });
        let (applied, stats) = match stepped {
            Ok(outcome) => (outcome.applied, outcome.stats),
            // Applied, but non-finite: the guard's policy decides (a rollback undoes it).
            Err(keel_optim::Error::NonFiniteUpdate {
                name, part, stats, ..
            }) => {
                trigger = Some(Trigger::NonFiniteUpdate { param: name, part });
                (true, stats)
            }
            Err(e) => return Err(e.into()),
        };
        telemetry.outcome(applied, &stats);
        Ok((stats, trigger, param_norms))
    }
}
