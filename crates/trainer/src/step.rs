//! One training step: forward, loss (with regularization), backward, and the optimizer's
//! guarded update.

use crate::fit::FitRng;
use crate::guard::{GuardRun, Trigger};
use crate::metrics::MetricTracker;
use crate::sequential::params_of;
use crate::telemetry::EpochTelemetry;
use crate::{Error, Result, Sequential};
use keel_autograd::{tensor, Tape, Var};
use keel_data::Batch;
use keel_layers::{Ctx, Mode};
use keel_optim::{Decision, StepStats};

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
    pub(crate) param_norms: Option<Vec<(String, f32)>>,
}

impl Sequential {
    /// The sum of every layer's regularization penalty on `tape`, if any layer has one.
    pub(crate) fn regularization_loss<'t>(&self, tape: &'t Tape) -> Option<Var<'t>> {
        self.layers
            .iter()
            .filter_map(|l| l.regularization_loss(tape))
            .reduce(|a, b| a + b)
    }

    /// One forward, backward and guarded update on `batch`, its per-sample losses scaled by
    /// `weights` if given. The optimizer reports the gradient norms; `guard` judges them
    /// (with the loss) and the update is applied only if it finds nothing wrong. An applied
    /// step adds the batch's outputs to `metrics`; the caller adds its loss.
    pub(crate) fn train_step(
        &mut self,
        batch: Batch,
        weights: Option<Vec<f32>>,
        rng: &mut FitRng,
        metrics: &mut MetricTracker,
        guard: &mut GuardRun,
        telemetry: &mut EpochTelemetry,
    ) -> Result<StepResult> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        let (loss, mut grads, output) = {
            let tape = Tape::new();
            let mut ctx = Ctx::new(Mode::Train, rng);
            let (output, activation) = self.forward_split(self.input_var(&tape, batch.x), &mut ctx);
            let per_sample = compiled.loss.per_sample(output, activation, &batch.y);
            let mut loss = match weights {
                // sum(w_i * l_i) / batch_size: Keras 3's "sum_over_batch_size" (weights.rs).
                Some(w) => (per_sample * tape.constant(tensor(&[w.len()], w))).mean(),
                None => per_sample.mean(),
            };
            if let Some(penalty) = self.regularization_loss(&tape) {
                loss = loss + penalty;
            }
            (loss.scalar(), loss.backward(), output.value())
        };
        let compiled = self
            .compiled
            .as_mut()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        let mut trigger = None;
        let mut param_norms = None;
        let stepped =
            compiled
                .optimizer
                .step_with(params_of(&mut self.layers), &mut grads, |report| {
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
        if applied && trigger.is_none() {
            metrics.update(&output, &batch.y);
        }
        Ok(StepResult {
            loss,
            stats,
            trigger,
            param_norms,
        })
    }
}
