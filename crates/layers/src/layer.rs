//! The `Layer` trait every layer implements.

use crate::{Activation, Ctx, LayerConfig, Result};
use keel_autograd::{Param, Tape, Tensor, Var};
use rand::rngs::StdRng;

/// A building block of a `Sequential` model (in `keel-trainer`).
///
/// A layer is created unbuilt (as in Keras); [`Layer::build`] receives the per-sample
/// input shape when the layer is added to a model, creates the weights, and returns the
/// per-sample output shape, or an `Err` when the layer cannot take that input. Shapes
/// never include the batch axis.
///
/// Layers are `Send + Sync`: one model can serve `predict` from several threads at once
/// (inference reads the weights and never writes them).
pub trait Layer: std::fmt::Debug + Send + Sync {
    /// The Keras-style kind name ("dense", "dropout", ...), used to name layers.
    fn kind(&self) -> &'static str;

    /// Whether a model this layer is added to starts it trainable (true by default). From
    /// then on the model holds the flag, the one training reads: `Sequential::is_trainable`
    /// and `set_trainable`, so a layer keeps no copy that could go stale.
    fn initially_trainable(&self) -> bool {
        true
    }

    /// Creates the weights for `input_shape` and returns the output shape.
    ///
    /// # Errors
    /// [`Error::IncompatibleInput`](crate::Error::IncompatibleInput) when the layer cannot
    /// take `input_shape`, and [`Error::InvalidArgument`](crate::Error::InvalidArgument) for
    /// a hyper-parameter out of range.
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>>;

    /// Computes the output for a batch `x` of shape `[batch, ..input_shape]`.
    fn forward<'t>(&self, x: Var<'t>, ctx: &mut Ctx<'_>) -> Var<'t>;

    /// The softmax or sigmoid this layer applies last, which a loss may fuse into a
    /// numerically stable form; [`Activation::Linear`] when there is none to fuse.
    fn final_activation(&self) -> Activation {
        Activation::Linear
    }

    /// Like [`forward`](Layer::forward), but without the [`final_activation`](Layer::final_activation).
    fn forward_logits<'t>(&self, x: Var<'t>, ctx: &mut Ctx<'_>) -> Var<'t> {
        self.forward(x, ctx)
    }

    /// The number of weights [`build`](Layer::build) would create for `input_shape`, worked
    /// out without creating them (Keras's `count_params`, before the layer is built).
    ///
    /// `None` when the layer cannot take `input_shape`, when the count overflows `usize`, or
    /// when the layer does not say (the default). A model loader sums these over a file's
    /// architecture and refuses one that needs more weights than the file holds *before*
    /// building it, so a corrupted layer size cannot make it allocate without bound: every
    /// built-in layer that creates weights overrides this.
    ///
    /// ```
    /// use keel_layers::{Dense, Layer};
    /// assert_eq!(Dense::new(10).count_params(&[784]), Some(784 * 10 + 10));
    /// assert_eq!(Dense::new(10).count_params(&[28, 28]), None); // needs a Flatten first
    /// ```
    fn count_params(&self, input_shape: &[usize]) -> Option<usize> {
        let _ = input_shape;
        None
    }

    /// The trainable parameters by local name ("kernel", "bias").
    fn params(&self) -> Vec<(&'static str, &Param)> {
        Vec::new()
    }

    /// Mutable access to the trainable parameters, in the same order as [`params`](Layer::params).
    fn params_mut(&mut self) -> Vec<(&'static str, &mut Param)> {
        Vec::new()
    }

    /// State the optimizer does not update (as Keras's `non_trainable_weights`, e.g. the
    /// moving statistics of a batch normalization), counted apart in `summary()`. None by
    /// default.
    fn non_trainable_params(&self) -> Vec<(&'static str, &Param)> {
        Vec::new()
    }

    /// Every weight: [`params`](Layer::params) then
    /// [`non_trainable_params`](Layer::non_trainable_params), as Keras's `layer.weights`.
    fn weights(&self) -> Vec<(&'static str, &Param)> {
        let mut all = self.params();
        all.extend(self.non_trainable_params());
        all
    }

    /// Mutable access to every weight, in [`weights`](Layer::weights) order (for loading
    /// files and applying a step's [`Ctx::record_update`](crate::Ctx::record_update)s).
    /// The default is [`params_mut`](Layer::params_mut): a layer with non-trainable state
    /// overrides this.
    fn weights_mut(&mut self) -> Vec<(&'static str, &mut Param)> {
        self.params_mut()
    }

    /// Copies of the weights in Keras order: [`params`](Layer::params) (kernel, then bias),
    /// then [`non_trainable_params`](Layer::non_trainable_params), as Keras's
    /// `layer.get_weights()`.
    ///
    /// ```
    /// use keel_layers::{Dense, Layer};
    /// use rand::SeedableRng;
    /// let mut dense = Dense::new(2);
    /// dense.build(&[3], &mut rand::rngs::StdRng::seed_from_u64(0))?;
    /// let mut weights = dense.get_weights();
    /// assert_eq!(weights[0].shape(), &[3, 2]);
    /// weights[1].fill(0.5);
    /// dense.set_weights(weights)?;
    /// assert!(dense.get_weights()[1].iter().all(|&b| b == 0.5));
    /// assert!(dense.set_weights(Vec::new()).is_err());
    /// # Ok::<(), keel_layers::Error>(())
    /// ```
    fn get_weights(&self) -> Vec<Tensor> {
        self.weights()
            .into_iter()
            .map(|(_, p)| p.value().clone())
            .collect()
    }

    /// Replaces the weights, given in [`get_weights`](Layer::get_weights) order, as Keras's
    /// `layer.set_weights(weights)`.
    ///
    /// # Errors
    /// [`Error::Weights`](crate::Error::Weights) when the count or a shape differs, or a
    /// value is NaN or infinite; nothing is changed then.
    fn set_weights(&mut self, weights: Vec<Tensor>) -> Result<()> {
        if let Some((expected, found)) = crate::weights_mismatch(&self.weights(), &weights) {
            return Err(crate::Error::Weights {
                layer: self.kind().to_string(),
                expected,
                found,
            });
        }
        for ((_, p), w) in self.weights_mut().into_iter().zip(weights) {
            p.set_value(w);
        }
        Ok(())
    }

    /// The penalty this layer adds to the training loss (Keras's `layer.losses`: kernel
    /// and bias [regularizers](crate::Regularizer)), recorded on `tape` with its gradients
    /// flowing to the parameters; `None` (the default) when it adds none.
    ///
    /// ```
    /// use keel_autograd::Tape;
    /// use keel_layers::{Dense, Layer, Regularizer};
    /// use rand::SeedableRng;
    /// let mut dense = Dense::new(2).kernel_regularizer(Regularizer::L2(0.5));
    /// dense.build(&[3], &mut rand::rngs::StdRng::seed_from_u64(0))?;
    /// let tape = Tape::new();
    /// let penalty = dense.regularization_loss(&tape).expect("a kernel regularizer");
    /// let kernel = dense.params()[0].1.value();
    /// assert!((penalty.scalar() - 0.5 * kernel.iter().map(|w| w * w).sum::<f32>()).abs() < 1e-6);
    /// # Ok::<(), keel_layers::Error>(())
    /// ```
    fn regularization_loss<'t>(&self, tape: &'t Tape) -> Option<Var<'t>> {
        let _ = tape;
        None
    }

    /// The serializable configuration, or `None` for a custom layer (weights-only saves).
    fn config(&self) -> Option<LayerConfig>;
}
