//! What `fit` does with a step the guard refused: skip it, stop, or roll back.

use super::Run;
use crate::fit::FitRng;
use crate::guard::{GuardAction, GuardEvent, Location, Policy, Resume, Trigger};
use crate::progress::EpochProgress;
use crate::step::StepResult;
use crate::telemetry::StepAction;
use crate::{Control, Error, History, Result, Sequential};

/// A refused step and what is needed to look into it.
pub(super) struct Incident<'s> {
    pub(super) epoch: usize,
    pub(super) batch: usize,
    /// The samples of the batch (to replay it when locating a non-finite value).
    pub(super) indices: &'s [usize],
    /// Where those samples start in the global batch (a data-parallel member's share), so
    /// the replay draws the step's dropout masks.
    pub(super) first_row: usize,
    pub(super) weights: Option<Vec<f32>>,
    /// The RNG as the step began (the same dropout masks on replay).
    pub(super) rng_before: FitRng,
    pub(super) step: &'s StepResult,
}

/// Where training goes after an incident.
pub(super) enum Next {
    /// On with this 0-based batch of the epoch.
    Batch(usize),
    /// Training ended, with this result (callbacks' `on_train_end` ran).
    End(Result<History>),
}

impl Run<'_> {
    /// Applies the guard's policy to a refused step.
    pub(super) fn handle(
        &mut self,
        model: &mut Sequential,
        incident: Incident<'_>,
        progress: &EpochProgress,
    ) -> Result<Next> {
        let step = incident.step;
        let trigger = step.trigger.clone().expect("an incident has a trigger");
        let location = step.param_norms.as_ref().and_then(|norms| {
            model.locate_nonfinite(
                crate::batching::gather_pooled(&self.train, incident.indices),
                incident.weights.clone(),
                incident.rng_before.clone(),
                incident.first_row,
                norms,
            )
        });
        let (epoch, batch) = (incident.epoch, incident.batch);
        let event = |action| GuardEvent {
            epoch,
            batch,
            trigger: trigger.clone(),
            location: location.clone(),
            action,
        };
        let stopped = event(GuardAction::Stopped { restored_to: None });
        let policy = match (self.guard.policy(&trigger).clone(), &trigger) {
            // An applied update cannot be skipped after the fact.
            (Policy::Skip, Trigger::NonFiniteUpdate { .. }) => Policy::Stop,
            (policy, _) => policy,
        };
        match policy {
            Policy::Skip => {
                self.telemetry.skipped();
                if self.guard.after_skip() {
                    let limit = self.guard.skip_limit();
                    return self.exhaust(
                        model,
                        step,
                        stopped,
                        "max_consecutive_skips",
                        limit,
                        progress,
                    );
                }
                self.note(
                    event(GuardAction::Skipped),
                    step,
                    StepAction::Skipped,
                    progress,
                );
                Ok(Next::Batch(batch + 1))
            }
            Policy::Stop => {
                self.note(stopped, step, StepAction::Stopped, progress);
                self.stop(model, epoch, batch, step, trigger, location)
            }
            Policy::Rollback(settings) => {
                let resume =
                    self.guard
                        .roll_back(settings, model, &mut self.rng, &mut self.means, batch)?;
                match resume {
                    Resume::At {
                        batch: to_batch,
                        lr_multiplier,
                    } => {
                        self.telemetry.rolled_back();
                        let action = GuardAction::RolledBack {
                            to_batch,
                            lr_multiplier,
                        };
                        self.note(event(action), step, StepAction::RolledBack, progress);
                        Ok(Next::Batch(to_batch))
                    }
                    Resume::Exhausted { restored_to } => {
                        let stopped = event(GuardAction::Stopped {
                            restored_to: Some(restored_to),
                        });
                        let count = self.guard.rollbacks();
                        self.exhaust(model, step, stopped, "max_rollbacks", count, progress)
                    }
                }
            }
        }
    }

    /// Records an event (and the step) in the History, and prints it unless silent.
    fn note(
        &mut self,
        event: GuardEvent,
        step: &StepResult,
        action: StepAction,
        progress: &EpochProgress,
    ) {
        progress.println(&format!("guard: {event}"));
        self.record(event.epoch, event.batch, Some(step), action);
        self.history.push_event(event);
    }

    /// Ends training on a step the policy stops on. A callback that stops on the batch (as
    /// `TerminateOnNaN` does on a non-finite loss or gradient norm) makes it a graceful end
    /// with the History so far; otherwise it is an error naming the step and location.
    fn stop(
        &mut self,
        model: &mut Sequential,
        epoch: usize,
        batch: usize,
        step: &StepResult,
        trigger: Trigger,
        location: Option<Location>,
    ) -> Result<Next> {
        let mut logs = self.batch_logs();
        match trigger {
            Trigger::NonFiniteLoss { value } => logs.insert("loss", f64::from(value)),
            Trigger::NonFiniteGradient => {
                logs.insert("grad_norm", f64::from(step.stats.grad_norm));
            }
            Trigger::Spike { .. } | Trigger::NonFiniteUpdate { .. } => {}
        }
        let mut ctx = Self::ctx(&self.info, model, epoch);
        let graceful = self.callbacks.batch_end(batch, &logs, &mut ctx)? == Control::Stop;
        let ended = self.callbacks.train_end(&self.last_logs, &mut ctx);
        if graceful {
            return Ok(Next::End(ended.map(|()| std::mem::take(&mut self.history))));
        }
        let (epoch, step_no) = (epoch + 1, batch + 1);
        let error = match trigger {
            Trigger::NonFiniteLoss { value } => Error::NonFiniteLoss {
                value,
                epoch,
                step: step_no,
                location,
            },
            Trigger::NonFiniteGradient => Error::NonFiniteGradient {
                epoch,
                step: step_no,
                loss: step.loss,
                location,
            },
            Trigger::Spike { norm, zscore } => Error::GradientSpike {
                norm,
                zscore,
                epoch,
                step: step_no,
            },
            Trigger::NonFiniteUpdate { param, part } => Error::NonFiniteUpdate {
                param,
                part,
                epoch,
                step: step_no,
            },
        };
        Ok(Next::End(Err(error)))
    }

    /// Ends training after the guard ran out of skips or rollbacks.
    fn exhaust(
        &mut self,
        model: &mut Sequential,
        step: &StepResult,
        event: GuardEvent,
        limit: &'static str,
        count: usize,
        progress: &EpochProgress,
    ) -> Result<Next> {
        self.note(event.clone(), step, StepAction::Stopped, progress);
        let mut ctx = Self::ctx(&self.info, model, event.epoch);
        // The guard's error is the one to report; a callback's own failure would hide it.
        let _ = self.callbacks.train_end(&self.last_logs, &mut ctx);
        Ok(Next::End(Err(Error::GuardExhausted {
            limit,
            count,
            event: Box::new(event),
        })))
    }
}
