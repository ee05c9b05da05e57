//! Global 2-D pooling layers: one value per channel of a channels-last image.

use crate::image::image_shape;
use crate::{Ctx, Layer, LayerConfig, Result};
use keel_autograd::Var;
use rand::rngs::StdRng;

/// Implements a global pooling layer: `[h, w, c]` to `[c]`.
macro_rules! global_pooling_layer {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $op:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name;

        impl $name {
            /// The layer (it has no arguments).
            pub fn new() -> Self {
                $name
            }
        }

        impl Layer for $name {
            fn kind(&self) -> &'static str {
                $kind
            }

            fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
                let (_, _, channels) = image_shape($kind, input_shape)?;
                Ok(vec![channels])
            }

            fn count_params(&self, input_shape: &[usize]) -> Option<usize> {
                image_shape($kind, input_shape).ok().map(|_| 0)
            }

            fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
                x.$op()
            }

            fn config(&self) -> Option<LayerConfig> {
                Some(LayerConfig::$name)
            }
        }
    };
}

global_pooling_layer!(
    /// The mean of each channel over the image, as Keras's `GlobalAveragePooling2D()`:
    /// `[batch, h, w, c]` to `[batch, c]`.
    ///
    /// ```
    /// use keel_layers::{GlobalAveragePooling2D, Layer};
    /// use rand::SeedableRng;
    /// let mut pool = GlobalAveragePooling2D::new();
    /// assert_eq!(pool.build(&[7, 7, 64], &mut rand::rngs::StdRng::seed_from_u64(0))?, vec![64]);
    /// # Ok::<(), keel_layers::Error>(())
    /// ```
    GlobalAveragePooling2D,
    "global_average_pooling2d",
    global_avg_pool2d
);

global_pooling_layer!(
    /// The largest value of each channel over the image, as Keras's `GlobalMaxPooling2D()`:
    /// `[batch, h, w, c]` to `[batch, c]`.
    ///
    /// ```
    /// use keel_layers::{GlobalMaxPooling2D, Layer};
    /// use rand::SeedableRng;
    /// let mut pool = GlobalMaxPooling2D::new();
    /// assert_eq!(pool.build(&[7, 7, 64], &mut rand::rngs::StdRng::seed_from_u64(0))?, vec![64]);
    /// assert!(pool.build(&[64], &mut rand::rngs::StdRng::seed_from_u64(0)).is_err());
    /// # Ok::<(), keel_layers::Error>(())
    /// ```
    GlobalMaxPooling2D,
    "global_max_pooling2d",
    global_max_pool2d
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_layer, rng};

    #[test]
    fn global_pooling_layers_pass_the_layer_harness() {
        check_layer(GlobalAveragePooling2D::new(), &[3, 4, 5], &[5], 0);
        check_layer(GlobalMaxPooling2D::new(), &[3, 4, 5], &[5], 0);
    }

    #[test]
    fn a_non_image_input_is_an_error_naming_the_layer() {
        let msg = GlobalAveragePooling2D::new()
            .build(&[4, 4], &mut rng())
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("global_average_pooling2d: "), "{msg}");
        let msg = GlobalMaxPooling2D::new()
            .build(&[0, 4, 2], &mut rng())
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("global_max_pooling2d: "), "{msg}");
    }
}
