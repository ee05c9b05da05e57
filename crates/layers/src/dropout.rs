//! Inverted dropout.

use crate::{Ctx, Error, Layer, LayerConfig, Mode, Result};
use keel_autograd::Var;
use rand::rngs::SmallRng;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// Zeroes each input with probability `rate` during training and scales the survivors by
/// `1 / (1 - rate)`, so evaluation is the identity (Keras `Dropout`, Srivastava et al. 2014).
///
/// ```
/// use keel_layers::{Dropout, Layer};
/// use rand::SeedableRng;
/// let mut dropout = Dropout::new(0.2);
/// assert_eq!(dropout.build(&[32], &mut rand::rngs::StdRng::seed_from_u64(0))?, vec![32]);
/// # Ok::<(), keel_layers::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dropout {
    rate: f32,
}

impl Dropout {
    /// A dropout layer that drops a fraction `rate` in `[0, 1)` of its inputs.
    pub fn new(rate: f32) -> Self {
        Dropout { rate }
    }

    /// The drop probability.
    pub fn rate(&self) -> f32 {
        self.rate
    }
}

impl Layer for Dropout {
    fn kind(&self) -> &'static str {
        "dropout"
    }

    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        if !(0.0..1.0).contains(&self.rate) {
            return Err(Error::InvalidArgument {
                layer: "dropout".into(),
                parameter: "rate",
                expected: "in [0, 1)",
                found: self.rate.to_string(),
            });
        }
        Ok(input_shape.to_vec())
    }

    fn forward<'t>(&self, x: Var<'t>, ctx: &mut Ctx<'_>) -> Var<'t> {
        if ctx.mode() == Mode::Eval || self.rate == 0.0 {
            return x;
        }
        let keep = 1.0 - self.rate;
        let scale = 1.0 / keep;
        // A fast generator seeded from the run's RNG: one draw per element of a
        // [batch, units] mask is the cost here, and determinism only needs the seed.
        // Each 64-bit draw decides two elements: a unit is kept when its 32-bit half is
        // below keep · 2³², which has probability `keep` up to 2⁻³².
        let mut fast = SmallRng::seed_from_u64(ctx.rng().random());
        let threshold = (f64::from(keep) * 4_294_967_296.0) as u64;
        let mut mask = keel_autograd::pool::tensor_for_overwrite(&x.shape());
        let value = |bits: u64| if bits < threshold { scale } else { 0.0 };
        for pair in mask
            .as_slice_mut()
            .expect("a fresh tensor is contiguous")
            .chunks_mut(2)
        {
            let bits = fast.next_u64();
            pair[0] = value(bits & 0xFFFF_FFFF);
            if let Some(second) = pair.get_mut(1) {
                *second = value(bits >> 32);
            }
        }
        x.dropout_mask(mask)
    }

    fn config(&self) -> Option<LayerConfig> {
        Some(LayerConfig::Dropout { rate: self.rate })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_layer, rng};
    use keel_autograd::{Tape, Tensor};

    #[test]
    fn dropout_passes_the_layer_harness() {
        check_layer(Dropout::new(0.5), &[6], &[6], 0);
    }

    #[test]
    fn training_keeps_the_expected_fraction_scaled() {
        let tape = Tape::new();
        let x = tape.constant(Tensor::ones(ndarray::IxDyn(&[100, 100])));
        let mut r = rng();
        let y = Dropout::new(0.2)
            .forward(x, &mut Ctx::new(Mode::Train, &mut r))
            .value();
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f32 / 10_000.0;
        assert!((kept - 0.8).abs() < 0.02, "kept {kept}");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 1.25).abs() < 1e-6));
    }

    #[test]
    fn rate_out_of_range_is_an_error() {
        let err = Dropout::new(1.5).build(&[3], &mut rng()).unwrap_err();
        assert!(err.to_string().contains("[0, 1)") && err.to_string().contains("1.5"));
    }
}
