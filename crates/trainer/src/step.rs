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
    ) -> Result<StepResult> {
        let mut pass = self.forward_backward(batch.x, &batch.y, weights, rng)?;
        self.run_hooks(hooks, &mut pass)?;
        let (stats, trigger, param_norms) = self.update(&mut pass, guard, telemetry)?;
        if trigger.is_none() {
            metrics.update(&pass.output, &batch.y);
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
    /// update is in place.
    fn forward_backward(
        &self,
        x: Tensor,
        y: &keel_data::BatchTargets,
        weights: Option<Vec<f32>>,
        rng: &mut FitRng,
    ) -> Result<Backward> {
        let tape = Tape::new();
        let mut ctx = Ctx::new(Mode::Train, rng);
        let pass = self
            .forward_loss(&tape, x, y, weights, &mut ctx, |_, _| {
                ControlFlow::Continue(())
            })?
            .expect("nothing stops the pass");
        Ok(Backward {
            updates: ctx.take_updates(),
            loss: pass.loss.scalar(),
            grads: pass.loss.backward(),
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
