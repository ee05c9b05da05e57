//! The serializable description of a built-in layer: the one registry of layer kinds.

use crate::{
    Activation, ActivationLayer, AveragePooling2D, BatchNormConfig, BatchNormalization, Conv2D,
    Conv2DConfig, Dense, DenseConfig, Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D,
    Layer, MaxPooling2D, Pooling2DConfig, Reshape, Softmax,
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
    /// [`Conv2D`].
    Conv2D(Conv2DConfig),
    /// [`MaxPooling2D`].
    MaxPooling2D(Pooling2DConfig),
    /// [`AveragePooling2D`].
    AveragePooling2D(Pooling2DConfig),
    /// [`GlobalAveragePooling2D`].
    GlobalAveragePooling2D,
    /// [`GlobalMaxPooling2D`].
    GlobalMaxPooling2D,
    /// [`Reshape`].
    Reshape {
        /// The per-sample output shape.
        target_shape: Vec<usize>,
    },
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
            LayerConfig::Conv2D(config) => Box::new(Conv2D::from_config(config.clone())),
            LayerConfig::MaxPooling2D(config) => Box::new(MaxPooling2D::from_config(*config)),
            LayerConfig::AveragePooling2D(config) => {
                Box::new(AveragePooling2D::from_config(*config))
            }
            LayerConfig::GlobalAveragePooling2D => Box::new(GlobalAveragePooling2D::new()),
            LayerConfig::GlobalMaxPooling2D => Box::new(GlobalMaxPooling2D::new()),
            LayerConfig::Reshape { target_shape } => Box::new(Reshape::new(target_shape.clone())),
        }
    }
}
