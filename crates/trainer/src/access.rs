//! Layer access: `get_layer` by name or position, and the weights in Keras order.

use crate::{Error, Result, Sequential};
use keel_autograd::Tensor;
use keel_layers::{weights_mismatch, Layer};

impl Sequential {
    /// The layer named `name` (as `summary()` names it), as Keras's `model.get_layer(name)`.
    ///
    /// ```
    /// use keel_layers::{Dense, Flatten, Layer};
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let model = Sequential::new([2, 2]).add(Flatten::new()).add(Dense::new(3)).add(Dense::new(2));
    /// let dense_1 = model.get_layer("dense_1")?;
    /// assert_eq!(dense_1.get_weights()[0].shape(), &[3, 2]);
    /// assert!(model.get_layer("dense_9").is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownLayer`] naming the layers there are.
    pub fn get_layer(&self, name: &str) -> Result<&dyn Layer> {
        let index = self.layer_index(name)?;
        Ok(self.layers[index].as_ref())
    }

    /// Mutable access to the layer named `name`, for [`Layer::set_weights`]. A layer's
    /// weights keep their shapes ([`Layer::set_weights`] checks them), so the model's shapes
    /// stay valid.
    ///
    /// # Errors
    /// [`Error::UnknownLayer`] naming the layers there are.
    pub fn get_layer_mut(&mut self, name: &str) -> Result<&mut dyn Layer> {
        let index = self.layer_index(name)?;
        Ok(self.layers[index].as_mut())
    }

    /// The layer at position `index`, as Keras's `model.get_layer(index=i)` or `model.layers[i]`.
    ///
    /// # Errors
    /// [`Error::UnknownLayer`] when there is no layer at `index`.
    pub fn get_layer_at(&self, index: usize) -> Result<&dyn Layer> {
        self.layers
            .get(index)
            .map(|l| l.as_ref())
            .ok_or_else(|| Error::UnknownLayer {
                name: format!("#{index}"),
                known: self.layer_names().to_vec(),
            })
    }

    /// Copies of every weight, layer by layer in Keras order (kernel, then bias), as Keras's
    /// `model.get_weights()`.
    ///
    /// ```
    /// use keel_layers::Dense;
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let mut model = Sequential::new([3]).add(Dense::new(4)).add(Dense::new(2));
    /// let mut weights = model.get_weights();
    /// assert_eq!(weights.len(), 4);
    /// weights[3].fill(1.0); // the last bias
    /// model.set_weights(weights)?;
    /// assert!(model.get_layer("dense_1")?.get_weights()[1].iter().all(|&b| b == 1.0));
    /// # Ok(()) }
    /// ```
    pub fn get_weights(&self) -> Vec<Tensor> {
        self.layers.iter().flat_map(|l| l.get_weights()).collect()
    }

    /// Replaces every weight from `weights`, given in [`get_weights`](Sequential::get_weights)
    /// order, as Keras's `model.set_weights(weights)`.
    ///
    /// # Errors
    /// [`Error::WeightsMismatch`] when the count or a shape differs, or a value is NaN or
    /// infinite; nothing is changed then.
    pub fn set_weights(&mut self, weights: Vec<Tensor>) -> Result<()> {
        if let Some((expected, found)) = weights_mismatch(&self.named_params(), &weights) {
            return Err(Error::WeightsMismatch {
                target: "the model".into(),
                expected,
                found,
            });
        }
        for ((_, p), w) in self.named_params_mut().into_iter().zip(weights) {
            p.set_value(w);
        }
        Ok(())
    }
}
