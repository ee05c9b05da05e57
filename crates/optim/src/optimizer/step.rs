//! One optimizer step: check, measure, decide, clip, decay, update.

use super::Optimizer;
use crate::clip::{sum_squares, Plan};
use crate::{Error, Result};
use keel_autograd::{Gradients, Param, ParamPath, Tensor};
use ndarray::Zip;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// What [`Optimizer::step_with`] measured before changing anything, handed to its `decide`
/// callback: the global and per-parameter gradient norms, and whether every gradient element
/// is finite. All come from one pass over the gradients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GradientReport {
    /// The global L2 norm of all gradients, before clipping (accumulated in `f64`).
    pub global_norm: f32,
    /// Each parameter's gradient L2 norm before clipping, in the order the parameters were
    /// given (model order).
    pub param_norms: Vec<(ParamPath, f32)>,
    /// True when every gradient element is finite (no NaN, no infinity).
    pub finite: bool,
}

impl GradientReport {
    /// A report built from per-parameter norms, as a step would make it: the global norm is
    /// the root of the sum of their squares (in `f64`), `finite` whether that sum is finite.
    /// For testing code that judges reports, such as a trainer's non-finite guard.
    ///
    /// ```
    /// use keel_optim::GradientReport;
    /// let report = GradientReport::from_param_norms([("a", 3.0), ("b", 4.0)]);
    /// assert_eq!(report.global_norm, 5.0);
    /// assert!(report.finite);
    /// let bad = GradientReport::from_param_norms([("a", f32::NAN)]);
    /// assert!(!bad.finite);
    /// ```
    pub fn from_param_norms<N: Into<ParamPath>>(
        param_norms: impl IntoIterator<Item = (N, f32)>,
    ) -> Self {
        let param_norms: Vec<(ParamPath, f32)> = param_norms
            .into_iter()
            .map(|(name, norm)| (name.into(), norm))
            .collect();
        let total: f64 = param_norms
            .iter()
            .map(|(_, n)| f64::from(*n) * f64::from(*n))
            .sum();
        GradientReport {
            global_norm: total.sqrt() as f32,
            param_norms,
            finite: total.is_finite(),
        }
    }
}

/// What [`Optimizer::step_with`] should do after seeing the [`GradientReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Clip, decay and update as [`Optimizer::step`] does.
    Apply,
    /// Change nothing: parameters, gradients, moments, iteration count and clipping state are
    /// left as they were.
    Skip,
}

/// What one [`Optimizer::step_with`] did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepOutcome {
    /// Whether the update was applied ([`Decision::Apply`]).
    pub applied: bool,
    /// The norms and learning rate of the step; for a skipped step, what it saw and the rate
    /// it would have used, with `clipped_norm == grad_norm`.
    pub stats: StepStats,
}

/// What one [`Optimizer::step`] saw, for telemetry and non-finite guards.
///
/// A NaN or infinite `grad_norm` means some gradient element is NaN or infinite; clipping
/// was then skipped (see [`Clip`](crate::Clip)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepStats {
    /// The global L2 norm of all gradients before clipping (accumulated in `f64`).
    pub grad_norm: f32,
    /// The global L2 norm of all gradients after clipping (equal to `grad_norm` without it).
    pub clipped_norm: f32,
    /// The learning rate used for this step (multiplier included).
    pub learning_rate: f32,
    /// Whether the clipper changed the gradients.
    pub clipped: bool,
}

impl Optimizer {
    /// Updates every parameter in place from its gradient, and returns what the step saw:
    /// [`step_with`](Optimizer::step_with) that always applies.
    ///
    /// Names key the optimizer state (Adam's moments), so keep them stable across steps. A
    /// model's parameters come with [`ParamPath`]s (`"dense_1/kernel"`), given in model order
    /// (AGC leaves the last layer unclipped); a plain string names a loose parameter.
    ///
    /// # Errors
    /// As [`step_with`](Optimizer::step_with).
    pub fn step<'a, N: Into<ParamPath>>(
        &mut self,
        params: impl IntoIterator<Item = (N, &'a mut Param)>,
        grads: &mut Gradients,
    ) -> Result<StepStats> {
        Ok(self.step_with(params, grads, |_| Decision::Apply)?.stats)
    }

    /// Keras's `optimizer.apply(grads, model.trainable_variables)`: [`step`](Optimizer::step)
    /// with the gradients first, for custom training loops.
    ///
    /// ```
    /// use keel_autograd::{tensor, Param, Tape};
    /// use keel_optim::{Optimizer, Sgd};
    /// # fn main() -> keel_optim::Result<()> {
    /// let mut opt = Optimizer::try_from(Sgd::new(0.5))?;
    /// let mut w = Param::new(tensor(&[1], vec![2.0]));
    /// let mut grads = {
    ///     let tape = Tape::new();
    ///     let x = tape.param(&w);
    ///     (x * x).sum().backward() // 2w = 4
    /// };
    /// opt.apply(&mut grads, [("w", &mut w)])?;
    /// assert_eq!(w.value()[0], 0.0);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`step_with`](Optimizer::step_with).
    pub fn apply<'a, N: Into<ParamPath>>(
        &mut self,
        grads: &mut Gradients,
        params: impl IntoIterator<Item = (N, &'a mut Param)>,
    ) -> Result<StepStats> {
        self.step(params, grads)
    }

    /// One step whose caller decides, from the gradient norms, whether to apply it.
    ///
    /// In order: checks every `(name, param)` against `grads`; computes every gradient's sum
    /// of squares once, giving each parameter's norm, the global norm and the finite check;
    /// calls `decide` with that [`GradientReport`]. On [`Decision::Skip`] it returns with
    /// nothing changed. On [`Decision::Apply`]: evaluates the learning rate at the current
    /// iteration count; clips `grads` in place (the one gradient-transform stage, which
    /// may update AutoClip's or ZClip's state); applies decoupled weight decay
    /// (`p -= p * weight_decay * lr`); calls the rule once per parameter with the 1-based
    /// step number; increments [`iterations`](Optimizer::iterations). Parameter values are
    /// updated through [`Param::value_mut`], so no copy is made unless a tape still shares
    /// the value.
    ///
    /// # Errors
    /// Before the update, nothing is changed (parameters, gradients, state) and `decide` is
    /// not called when an error is returned:
    /// - [`Error::MissingGradient`] if a parameter has no gradient in `grads`;
    /// - [`Error::ShapeMismatch`] if a gradient's shape differs from its parameter's;
    /// - [`Error::StateShapeMismatch`] if the state kept under a name has another shape;
    /// - [`Error::DuplicateParameter`] if a name appears twice.
    ///
    /// One error comes after the update: [`Error::NonFiniteUpdate`] when a step applied with
    /// finite gradients left a parameter or a slot NaN or infinite (every parameter was
    /// updated, the step counted); second moments saturate rather than overflow, so this
    /// takes a learning rate or weights near `f32::MAX`.
    /// Restore an [`OptimizerSnapshot`](crate::OptimizerSnapshot) and the weights to undo it.
    ///
    /// ```
    /// use keel_autograd::{tensor, Gradients, Param};
    /// use keel_optim::{Decision, Optimizer, Sgd};
    /// # fn main() -> keel_optim::Result<()> {
    /// let mut opt = Optimizer::try_from(Sgd::new(0.1))?;
    /// let mut w = Param::new(tensor(&[2], vec![1.0, 1.0]));
    /// let mut grads = Gradients::default();
    /// grads.insert(w.id(), tensor(&[2], vec![f32::NAN, 1.0]));
    /// let outcome = opt.step_with([("w".to_string(), &mut w)], &mut grads, |report| {
    ///     if report.finite { Decision::Apply } else { Decision::Skip }
    /// })?;
    /// assert!(!outcome.applied);
    /// assert_eq!(opt.iterations(), 0);
    /// assert_eq!(w.value(), &tensor(&[2], vec![1.0, 1.0]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn step_with<'a, N: Into<ParamPath>>(
        &mut self,
        params: impl IntoIterator<Item = (N, &'a mut Param)>,
        grads: &mut Gradients,
        decide: impl FnOnce(&GradientReport) -> Decision,
    ) -> Result<StepOutcome> {
        let mut params: Vec<(ParamPath, &'a mut Param)> = params
            .into_iter()
            .map(|(name, param)| (name.into(), param))
            .collect();
        self.check(&params, grads)?;
        let sums: Vec<f64> = params
            .iter()
            .map(|(_, p)| sum_squares(grads.by_id(p.id()).expect("step: checked")))
            .collect();
        let total: f64 = sums.iter().sum();
        let global_norm = total.sqrt();
        let report = GradientReport {
            global_norm: global_norm as f32,
            param_norms: params
                .iter()
                .zip(&sums)
                .map(|((name, _), s)| (name.clone(), s.sqrt() as f32))
                .collect(),
            // A sum of f32 squares in f64 cannot overflow: it is finite iff every element is.
            finite: total.is_finite(),
        };
        let lr = self.learning_rate();
        let mut stats = StepStats {
            grad_norm: report.global_norm,
            clipped_norm: report.global_norm,
            learning_rate: lr,
            clipped: false,
        };
        if decide(&report) == Decision::Skip {
            return Ok(StepOutcome {
                applied: false,
                stats,
            });
        }
        let (after, clipped) = self.transform_gradients(&params, grads, &sums, global_norm);
        stats.clipped_norm = after.sqrt() as f32;
        stats.clipped = clipped;
        self.apply_weight_decay(&mut params, lr);
        self.state.iterations += 1;
        let t = self.state.iterations;
        // Finite gradients must leave finite state; a caller who applies non-finite ones
        // (the guard never does) gets what it asked for, as from Keras.
        let check = report.finite;
        let mut finite = Ok(());
        for (path, param) in params {
            let name = path.to_string();
            let grad = grads.by_id(param.id()).expect("step: checked");
            if !self.state.slots.contains_key(&name) {
                self.state.slots.insert(name.clone(), Default::default());
            }
            let slots = self.state.slots.get_mut(&name).expect("inserted above");
            if !check {
                self.rule.update(lr, t, param.value_mut(), grad, slots);
                continue;
            }
            // The rule checks what it writes as it writes it; only a failure takes a second
            // look, to name the part. The first failure is reported once every parameter
            // has had this step's update.
            if !self
                .rule
                .update_checked(lr, t, param.value_mut(), grad, slots)
                && finite.is_ok()
            {
                let slots = &self.state.slots[&name];
                finite = self.check_updated(&name, param.value(), slots, stats);
            }
        }
        finite?;
        Ok(StepOutcome {
            applied: true,
            stats,
        })
    }

    /// Everything a step could reject, checked before anything changes.
    fn check(&self, params: &[(ParamPath, &mut Param)], grads: &Gradients) -> Result<()> {
        let mut seen = HashSet::with_capacity(params.len());
        for (path, param) in params {
            let name = path.to_string();
            if !seen.insert(name.clone()) {
                return Err(Error::DuplicateParameter { name });
            }
            let shape = param.value().shape();
            let grad = grads
                .by_id(param.id())
                .ok_or_else(|| Error::MissingGradient { name: name.clone() })?;
            if grad.shape() != shape {
                return Err(Error::ShapeMismatch {
                    name: name.clone(),
                    param: shape.to_vec(),
                    grad: grad.shape().to_vec(),
                });
            }
            let slots = self.state.slots.get(&name).map(|s| s.tensors());
            if let Some(slot) = slots
                .unwrap_or_default()
                .iter()
                .find(|s| s.shape() != shape)
            {
                return Err(Error::StateShapeMismatch {
                    name: name.clone(),
                    param: shape.to_vec(),
                    state: slot.shape().to_vec(),
                });
            }
        }
        Ok(())
    }

    /// The one place where gradients change before the update rule sees them. `sums` are the
    /// gradients' sums of squares, `global_norm` the root of their total. Returns the global
    /// sum of squares after clipping (no extra pass) and whether any gradient changed.
    fn transform_gradients(
        &mut self,
        params: &[(ParamPath, &mut Param)],
        grads: &mut Gradients,
        sums: &[f64],
        global_norm: f64,
    ) -> (f64, bool) {
        let Some(clip) = self.clip else {
            return (global_norm * global_norm, false);
        };
        let last = params.last().map(|(path, _)| path);
        let plan = clip.plan(&mut self.state.clip, global_norm, last);
        if let Plan::Keep = plan {
            return (global_norm * global_norm, false);
        }
        let (mut after, mut changed) = (0.0, false);
        for ((name, param), &sum) in params.iter().zip(sums) {
            let grad = grads.by_id_mut(param.id()).expect("step: checked");
            let (s, c) = plan.apply(name, param.value(), grad, sum);
            after += s;
            changed |= c;
        }
        (after, changed)
    }

    /// Keras 3's decoupled weight decay: `p -= p * weight_decay * lr` for every parameter.
    fn apply_weight_decay(&self, params: &mut [(ParamPath, &mut Param)], lr: f32) {
        let wd = self.weight_decay;
        if wd == 0.0 {
            return;
        }
        for (_, param) in params.iter_mut() {
            decay(param.value_mut(), wd, lr);
        }
    }
}

/// `p -= p * wd * lr` element-wise, in runs shared between threads for large tensors.
fn decay(p: &mut Tensor, wd: f32, lr: f32) {
    let shrink = |x: &mut f32| *x -= *x * wd * lr;
    match p.as_slice_memory_order_mut() {
        Some(data) => {
            let runs = data.chunks_mut(keel_runtime::plan::runs(data.len()));
            keel_runtime::for_each_piece(runs, |run| run.iter_mut().for_each(shrink));
        }
        None => Zip::from(p).for_each(shrink),
    }
}
