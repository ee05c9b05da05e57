//! Layers for Keel: [`Dense`], [`Dropout`], [`Flatten`], [`Reshape`], [`Softmax`],
//! [`ActivationLayer`], the image layers [`Conv2D`], [`MaxPooling2D`],
//! [`AveragePooling2D`], [`GlobalAveragePooling2D`] and [`GlobalMaxPooling2D`] (channels
//! last), and the weight [`Regularizer`]s a `Dense` or `Conv2D` layer adds to the loss.
//!
//! Layers are created unbuilt, as in Keras, and [`Layer::build`] propagates shapes when a
//! layer is added to a model, so a layer that cannot take its input is an `Err` at build
//! time rather than a panic at the first batch.
//!
//! ```
//! use keel_autograd::{tensor, Tape};
//! use keel_layers::{Activation, Ctx, Dense, Layer, Mode};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let mut dense = Dense::new(3).activation(Activation::Relu);
//! dense.build(&[2], &mut rng)?;
//! let tape = Tape::new();
//! let y = dense.forward(tape.constant(tensor(&[1, 2], vec![1.0, -1.0])), &mut Ctx::new(Mode::Eval, &mut rng));
//! assert_eq!(y.shape(), vec![1, 3]);
//! # Ok::<(), keel_layers::Error>(())
//! ```

mod activation;
mod activation_layer;
mod batch_norm;
mod config;
mod conv2d;
mod ctx;
mod dense;
mod dropout;
mod error;
mod flatten;
mod global_pooling2d;
mod image;
mod initializer;
mod kernel_bias;
mod layer;
mod pooling2d;
mod regularizer;
mod reshape;
pub mod testing;
mod weights;

pub use activation::Activation;
pub use activation_layer::{ActivationLayer, Softmax};
pub use batch_norm::{BatchNormConfig, BatchNormalization};
pub use config::LayerConfig;
pub use conv2d::{Conv2D, Conv2DConfig};
pub use ctx::{Ctx, Mode};
pub use dense::{Dense, DenseConfig};
pub use dropout::Dropout;
pub use error::{Error, Result};
pub use flatten::Flatten;
pub use global_pooling2d::{GlobalAveragePooling2D, GlobalMaxPooling2D};
pub use initializer::Initializer;
pub use keel_autograd::ops::window::Padding;
pub use layer::Layer;
pub use pooling2d::{AveragePooling2D, MaxPooling2D, Pooling2DConfig};
pub use regularizer::{Penalty, Regularizer};
pub use reshape::{Reshape, TargetShape};
pub use weights::weights_mismatch;
