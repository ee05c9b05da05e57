//! User-defined metrics.

use keel_autograd::Tensor;
use keel_data::BatchTargets;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The function of a [`CustomMetric`]: the mean value over a batch, from the model's output
/// (its final activation applied: probabilities for a softmax model) and the targets.
pub type MetricFn = dyn Fn(&Tensor, &BatchTargets) -> f32 + Send + Sync;

/// A metric written by the user, as a Keras function passed to `compile(metrics=[fn])`
/// (Keras wraps it in `MeanMetricWrapper`): each batch gives its mean, and the epoch's value
/// is the mean over samples (batch means weighted by batch size). It is logged under its
/// name (`"val_"`-prefixed for validation) in [`History`](crate::History), the progress bar,
/// [`CSVLogger`](crate::CSVLogger) and [`Scores`](crate::Scores), and callbacks can monitor
/// it; [`MonitorMode::Auto`](crate::MonitorMode::Auto) takes a name holding "acc" or "auc"
/// as higher-is-better, so set a callback's mode for other names.
///
/// Files record a custom metric by its name: a checkpoint resumes only into a model
/// compiled with a metric of the same name.
///
/// ```
/// use keel_data::{Dataset, Targets};
/// use keel_layers::{Activation, Dense};
/// use keel_optim::Adam;
/// use keel_trainer::{CustomMetric, Loss, Metric, Sequential};
/// # fn main() -> keel_trainer::Result<()> {
/// // The mean probability the model gives the true class.
/// let confidence = CustomMetric::new("true_class_probability", |y_pred, y_true| {
///     let Targets::Classes(labels) = y_true else { return f32::NAN };
///     let total: f32 = labels.iter().enumerate().map(|(i, &c)| y_pred[[i, c as usize]]).sum();
///     total / labels.len() as f32
/// });
/// let x = ndarray::array![[1.0f32, 0.0], [0.0, 1.0]].into_dyn();
/// let data = Dataset::from_f32(x, Targets::Classes(vec![0, 1]))?;
/// let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
/// model.compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[Metric::Custom(confidence)])?;
/// let p = model.evaluate_verbose(&data, 0)?.get("true_class_probability").unwrap();
/// assert!(p > 0.0 && p < 1.0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CustomMetric {
    name: String,
    function: Option<Arc<MetricFn>>,
}

impl CustomMetric {
    /// A metric named `name` (its log name) computed by `function`.
    pub fn new(
        name: impl Into<String>,
        function: impl Fn(&Tensor, &BatchTargets) -> f32 + Send + Sync + 'static,
    ) -> Self {
        CustomMetric {
            name: name.into(),
            function: Some(Arc::new(function)),
        }
    }

    /// The name given to [`new`](CustomMetric::new).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The function, or `None` for a metric read back from a file.
    pub(crate) fn function(&self) -> Option<&MetricFn> {
        self.function.as_deref()
    }
}

impl fmt::Debug for CustomMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomMetric({:?})", self.name)
    }
}

impl PartialEq for CustomMetric {
    /// The same metric when the names agree (a file keeps no more of it).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for CustomMetric {}

impl Hash for CustomMetric {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl serde::Serialize for CustomMetric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> serde::Deserialize<'de> for CustomMetric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|name| CustomMetric {
            name,
            function: None,
        })
    }
}
