//! User-defined losses.

use keel_autograd::Var;
use keel_data::BatchTargets;
use std::fmt;
use std::sync::Arc;

/// The function of a [`CustomLoss`]: per-sample losses `[batch]` from the model's output (its
/// final activation applied) and the batch's targets.
pub type LossFn = dyn for<'t> Fn(Var<'t>, &BatchTargets) -> Var<'t> + Send + Sync;

/// A loss written by the user, as a Keras function passed to `compile(loss=fn)`: it
/// receives the model's output (probabilities for a softmax model) and the targets, and
/// returns one loss per sample, shape `[batch]`; `fit` takes their (weighted) mean.
///
/// Files record a custom loss by its name: a checkpoint resumes only into a model compiled
/// with a custom loss of the same name.
///
/// ```
/// use keel_trainer::{CustomLoss, Loss};
/// use keel_data::BatchTargets;
/// let cubic = CustomLoss::new("mean_cubic_error", |y_pred, y_true| {
///     let t = y_pred.tape().constant(y_true.to_dense());
///     let e = (y_pred - t).abs();
///     (e * e * e).mean_axis(1, false)
/// });
/// let loss = Loss::Custom(cubic);
/// assert_eq!(loss.name(), "mean_cubic_error");
/// ```
#[derive(Clone)]
pub struct CustomLoss {
    name: String,
    function: Option<Arc<LossFn>>,
}

impl CustomLoss {
    /// A loss named `name` (its name in messages and files) computed by `function`.
    pub fn new(
        name: impl Into<String>,
        function: impl for<'t> Fn(Var<'t>, &BatchTargets) -> Var<'t> + Send + Sync + 'static,
    ) -> Self {
        CustomLoss {
            name: name.into(),
            function: Some(Arc::new(function)),
        }
    }

    /// A loss read back from a file: its name only, with nothing to compute.
    pub(crate) fn named(name: String) -> Self {
        CustomLoss {
            name,
            function: None,
        }
    }

    /// The name given to [`new`](CustomLoss::new).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The function, or `None` for a loss read back from a file.
    pub(crate) fn function(&self) -> Option<&LossFn> {
        self.function.as_deref()
    }
}

impl fmt::Debug for CustomLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomLoss({:?})", self.name)
    }
}

impl PartialEq for CustomLoss {
    /// Two custom losses are the same loss when they have the same name (a file keeps no
    /// more of them).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl serde::Serialize for CustomLoss {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> serde::Deserialize<'de> for CustomLoss {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(CustomLoss::named)
    }
}
