//! The serializable description of a built-in layer: the one registry of layer kinds.

use crate::{
    Activation, ActivationLayer, BatchNormConfig, BatchNormalization, Dense, DenseConfig, Dropout,
    Flatten, Layer, Softmax,
};
use serde::{Deserialize, Serialize};

/// A built-in layer's configuration, as a checkpoint stores it (Keras `get_config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LayerConfig {
    /// [`Dense`].
    Dense(DenseConfig),
    /// [`Dropout`].
    Dropout {
        /// The drop probability.
        rate: f32,
    },
    /// [`Flatten`].
    Flatten,
    /// [`Softmax`].
    Softmax,
    /// [`ActivationLayer`].
    Activation {
        /// The activation applied.
        activation: Activation,
    },
    /// [`BatchNormalization`].
    BatchNormalization(BatchNormConfig),
}

impl LayerConfig {
    /// An unbuilt layer of this configuration. This is the only `match` over layer kinds.
    ///
    /// ```
    /// use keel_layers::{Layer, LayerConfig};
    /// assert_eq!(LayerConfig::Flatten.build().kind(), "flatten");
    /// ```
    pub fn build(&self) -> Box<dyn Layer> {
        match self {
            LayerConfig::Dense(config) => Box::new(Dense::from_config(config.clone())),
            LayerConfig::Dropout { rate } => Box::new(Dropout::new(*rate)),
            LayerConfig::Flatten => Box::new(Flatten::new()),
            LayerConfig::Softmax => Box::new(Softmax::new()),
            LayerConfig::Activation { activation } => Box::new(ActivationLayer::new(*activation)),
            LayerConfig::BatchNormalization(config) => {
                Box::new(BatchNormalization::from_config(config.clone()))
            }
        }
    }
}
