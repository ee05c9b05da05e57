//! Gradient hooks: code that sees, and may change, each step's gradients before clipping
//! and the guard.

use crate::Result;
use keel_autograd::{Gradients, Param, ParamPath, Tensor};

/// The gradients of one training step, handed to each [`GradientHook`] in model order.
#[derive(Debug)]
pub struct StepGradients<'a> {
    params: Vec<(ParamPath, &'a Param)>,
    grads: &'a mut Gradients,
    loss: f32,
}

impl<'a> StepGradients<'a> {
    /// The gradients `grads` of `params` (the trainable parameters) for a step whose loss
    /// was `loss`. Public so hooks can be tested, and called from custom loops.
    pub fn new(params: Vec<(ParamPath, &'a Param)>, grads: &'a mut Gradients, loss: f32) -> Self {
        StepGradients {
            params,
            grads,
            loss,
        }
    }

    /// The step's loss (regularization included).
    pub fn loss(&self) -> f32 {
        self.loss
    }

    /// Each trainable parameter's path and gradient, in model order.
    pub fn iter(&self) -> impl Iterator<Item = (&ParamPath, &Tensor)> {
        self.params
            .iter()
            .filter_map(|(path, p)| Some((path, self.grads.by_id(p.id())?)))
    }

    /// Each trainable parameter's path and gradient, mutable, in model order: scale,
    /// average across processes, add noise, zero a layer's.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&ParamPath, &mut Tensor)) {
        for (path, p) in &self.params {
            if let Some(g) = self.grads.by_id_mut(p.id()) {
                f(path, g);
            }
        }
    }

    /// The gradient of the parameter whose path displays as `path` (`"dense_1/kernel"`).
    pub fn get(&self, path: &str) -> Option<&Tensor> {
        self.iter()
            .find(|(p, _)| p.to_string() == path)
            .map(|(_, g)| g)
    }
}

/// Sees and may change the gradients of every training step, after the backward pass and
/// before the optimizer's gradient transforms (clipping) and the non-finite guard, so a
/// change a hook makes is what clipping, the guard and the update see. This is where data-
/// parallel training averages gradients across processes. Register hooks with
/// [`FitOptions::gradient_hook`](crate::FitOptions::gradient_hook); they run in that order.
///
/// A closure `FnMut(&mut StepGradients) -> keel_trainer::Result<()>` is a hook:
///
/// ```
/// use keel_data::{Dataset, Targets};
/// use keel_layers::Dense;
/// use keel_optim::Sgd;
/// use keel_trainer::{FitOptions, Loss, Sequential, StepGradients};
/// # fn main() -> keel_trainer::Result<()> {
/// let x = ndarray::array![[1.0f32, 0.0], [0.0, 1.0]].into_dyn();
/// let data = Dataset::from_f32(x, Targets::Classes(vec![0, 1]))?;
/// let mut model = Sequential::new([2]).add(Dense::new(2));
/// model.compile(Sgd::new(0.1), Loss::SparseCategoricalCrossentropy, &[])?;
/// let before = model.get_weights();
/// let mut steps = 0;
/// let freeze_everything = |grads: &mut StepGradients| {
///     steps += 1;
///     grads.for_each_mut(|_, g| g.fill(0.0));
///     Ok(())
/// };
/// model.fit(&data, FitOptions::new().epochs(2).verbose(0).gradient_hook(freeze_everything))?;
/// assert_eq!(model.get_weights(), before);
/// assert_eq!(steps, 2);
/// # Ok(()) }
/// ```
pub trait GradientHook {
    /// Called once per step with its gradients.
    ///
    /// # Errors
    /// An error ends `fit` with it.
    fn on_gradients(&mut self, gradients: &mut StepGradients<'_>) -> Result<()>;
}

impl<F> GradientHook for F
where
    F: FnMut(&mut StepGradients<'_>) -> Result<()>,
{
    fn on_gradients(&mut self, gradients: &mut StepGradients<'_>) -> Result<()> {
        self(gradients)
    }
}
