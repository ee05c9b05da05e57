//! 2-D max and average pooling layers over channels-last images.

use crate::image::{image_shape, positive_pair, window_output};
use crate::{Ctx, Layer, LayerConfig, Result};
use keel_autograd::ops::window::{Padding, Window2d};
use keel_autograd::Var;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// The configuration of a [`MaxPooling2D`] or [`AveragePooling2D`] layer, with Keras's
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pooling2DConfig {
    /// `(height, width)` of the window. Defaults to `(2, 2)`.
    pub pool_size: (usize, usize),
    /// Steps between windows; `None` (the default) steps by `pool_size`.
    pub strides: Option<(usize, usize)>,
    /// Defaults to [`Padding::Valid`].
    pub padding: Padding,
}

impl Default for Pooling2DConfig {
    fn default() -> Self {
        Pooling2DConfig {
            pool_size: (2, 2),
            strides: None,
            padding: Padding::Valid,
        }
    }
}

impl Pooling2DConfig {
    fn window(&self) -> Window2d {
        Window2d {
            size: self.pool_size,
            strides: self.strides.unwrap_or(self.pool_size),
            dilation: (1, 1),
            padding: self.padding,
        }
    }

    /// The output shape for `input_shape`, or an error naming `layer`.
    fn output(&self, layer: &str, input_shape: &[usize]) -> Result<Vec<usize>> {
        positive_pair(layer, "pool_size", self.pool_size)?;
        if let Some(strides) = self.strides {
            positive_pair(layer, "strides", strides)?;
        }
        let (_, _, channels) = image_shape(layer, input_shape)?;
        let (oh, ow) = window_output(layer, "pool", &self.window(), input_shape)?;
        Ok(vec![oh, ow, channels])
    }
}

/// Implements the builder, `Layer` and the tests' shared checks for a pooling layer.
macro_rules! pooling_layer {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $op:ident, $variant:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            config: Pooling2DConfig,
        }

        impl $name {
            /// A layer with windows of `pool_size`, stepping by `pool_size`, `valid` padding.
            pub fn new(pool_size: (usize, usize)) -> Self {
                Self::from_config(Pooling2DConfig {
                    pool_size,
                    ..Pooling2DConfig::default()
                })
            }

            /// A layer from its configuration.
            pub fn from_config(config: Pooling2DConfig) -> Self {
                $name { config }
            }

            /// Sets the strides `(rows, columns)` (by default, the pool size).
            pub fn strides(mut self, strides: (usize, usize)) -> Self {
                self.config.strides = Some(strides);
                self
            }

            /// Sets the padding.
            pub fn padding(mut self, padding: Padding) -> Self {
                self.config.padding = padding;
                self
            }
        }

        impl Layer for $name {
            fn kind(&self) -> &'static str {
                $kind
            }

            fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
                self.config.output($kind, input_shape)
            }

            fn count_params(&self, input_shape: &[usize]) -> Option<usize> {
                self.config.output($kind, input_shape).ok().map(|_| 0)
            }

            fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
                x.$op(self.config.window())
            }

            fn config(&self) -> Option<LayerConfig> {
                Some(LayerConfig::$variant(self.config))
            }
        }
    };
}

pooling_layer!(
    /// Max pooling over channels-last images, as Keras's `MaxPooling2D(pool_size=(2, 2),
    /// strides=None, padding="valid")`: the largest value of each window, per channel
    /// (taps in `same` padding are ignored).
    ///
    /// ```
    /// use keel_layers::{Layer, MaxPooling2D, Padding};
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// assert_eq!(MaxPooling2D::default().build(&[26, 26, 32], &mut rng)?, vec![13, 13, 32]);
    /// let mut same = MaxPooling2D::new((3, 3)).strides((2, 2)).padding(Padding::Same);
    /// assert_eq!(same.build(&[5, 5, 1], &mut rng)?, vec![3, 3, 1]);
    /// assert!(MaxPooling2D::new((4, 4)).build(&[3, 8, 1], &mut rng).is_err());
    /// # Ok::<(), keel_layers::Error>(())
    /// ```
    MaxPooling2D,
    "max_pooling2d",
    max_pool2d,
    MaxPooling2D
);

pooling_layer!(
    /// Average pooling over channels-last images, as Keras's `AveragePooling2D(pool_size=(2,
    /// 2), strides=None, padding="valid")`: the mean of each window, per channel; with
    /// `same` padding, windows at the border average only the inputs inside the image.
    ///
    /// ```
    /// use keel_layers::{AveragePooling2D, Layer};
    /// use rand::SeedableRng;
    /// let mut pool = AveragePooling2D::new((2, 2)).strides((1, 1));
    /// assert_eq!(pool.build(&[4, 4, 3], &mut rand::rngs::StdRng::seed_from_u64(0))?, vec![3, 3, 3]);
    /// # Ok::<(), keel_layers::Error>(())
    /// ```
    AveragePooling2D,
    "average_pooling2d",
    avg_pool2d,
    AveragePooling2D
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_layer, rng};

    #[test]
    fn pooling_layers_pass_the_layer_harness() {
        check_layer(MaxPooling2D::default(), &[6, 5, 2], &[3, 2, 2], 0);
        check_layer(
            MaxPooling2D::new((3, 3))
                .strides((2, 2))
                .padding(Padding::Same),
            &[5, 6, 2],
            &[3, 3, 2],
            0,
        );
        check_layer(AveragePooling2D::new((2, 2)), &[4, 4, 3], &[2, 2, 3], 0);
        check_layer(
            AveragePooling2D::new((2, 3))
                .strides((1, 1))
                .padding(Padding::Same),
            &[4, 4, 3],
            &[4, 4, 3],
            0,
        );
    }

    #[test]
    fn bad_shapes_and_arguments_are_errors_naming_the_layer() {
        let too_large = MaxPooling2D::new((3, 3)).build(&[2, 8, 1], &mut rng());
        let msg = too_large.unwrap_err().to_string();
        assert!(
            msg.starts_with("max_pooling2d: ") && msg.contains("pool (3, 3)"),
            "{msg}"
        );
        let zero = AveragePooling2D::new((2, 2)).strides((1, 0));
        let msg = zero
            .clone()
            .build(&[4, 4, 1], &mut rng())
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("average_pooling2d: ") && msg.contains("strides"),
            "{msg}"
        );
        assert_eq!(zero.count_params(&[4, 4, 1]), None);
        let msg = AveragePooling2D::new((0, 2))
            .build(&[4, 4, 1], &mut rng())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("pool_size"), "{msg}");
        let msg = MaxPooling2D::default()
            .build(&[16], &mut rng())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("[height, width, channels]") && msg.contains("[16]"),
            "{msg}"
        );
    }
}
