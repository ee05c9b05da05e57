//! Where a parameter sits in a model: its layer (position and name) and its weight name.

use std::fmt;

/// The structured name of a parameter: the layer it belongs to (its position in the model
/// and the name `summary()` shows) and the weight's name in that layer. Its `Display` is
/// Keras's weight path, `"dense_1/kernel"`.
///
/// Optimizers key their state by the display form; gradient clipping groups parameters by
/// [`layer_index`](ParamPath::layer_index), and telemetry and the non-finite guard read the
/// layer from here, so no code parses names.
///
/// A plain string converts to a path with no layer, for code that trains loose parameters:
///
/// ```
/// use keel_autograd::ParamPath;
/// let path = ParamPath::new(1, "dense_1", "kernel");
/// assert_eq!(path.to_string(), "dense_1/kernel");
/// assert_eq!((path.layer_index(), path.layer(), path.weight()), (Some(1), "dense_1", "kernel"));
/// let loose = ParamPath::from("w");
/// assert_eq!((loose.to_string().as_str(), loose.layer_index()), ("w", None));
/// ```
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ParamPath {
    layer_index: Option<usize>,
    layer: String,
    weight: String,
}

impl ParamPath {
    /// The path of weight `weight` of layer `layer` (named as `summary()` names it), at
    /// position `layer_index` in the model.
    pub fn new(layer_index: usize, layer: impl Into<String>, weight: impl Into<String>) -> Self {
        ParamPath {
            layer_index: Some(layer_index),
            layer: layer.into(),
            weight: weight.into(),
        }
    }

    /// The layer's position in the model; `None` for a parameter outside any model.
    pub fn layer_index(&self) -> Option<usize> {
        self.layer_index
    }

    /// The layer's name (`"dense_1"`); empty for a parameter outside any model.
    pub fn layer(&self) -> &str {
        &self.layer
    }

    /// The weight's name within its layer (`"kernel"`), or the whole name of a parameter
    /// outside any model.
    pub fn weight(&self) -> &str {
        &self.weight
    }

    /// True when `self` and `other` belong to the same layer; two loose parameters belong
    /// to the same "layer" only when they share a name.
    pub fn same_layer(&self, other: &ParamPath) -> bool {
        match (self.layer_index, other.layer_index) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.weight == other.weight,
            _ => false,
        }
    }
}

impl fmt::Display for ParamPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer_index {
            Some(_) => write!(f, "{}/{}", self.layer, self.weight),
            None => f.write_str(&self.weight),
        }
    }
}

impl From<&str> for ParamPath {
    fn from(name: &str) -> Self {
        ParamPath::from(name.to_string())
    }
}

impl From<String> for ParamPath {
    fn from(name: String) -> Self {
        ParamPath {
            layer_index: None,
            layer: String::new(),
            weight: name,
        }
    }
}

impl From<&ParamPath> for ParamPath {
    fn from(path: &ParamPath) -> Self {
        path.clone()
    }
}
