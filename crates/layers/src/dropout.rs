//! Inverted dropout.

use crate::{Ctx, Error, Layer, LayerConfig, Mode, Result};
use keel_autograd::Var;
use multiversion::multiversion;
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
        let mut mask = keel_runtime::buffers::tensor_for_overwrite(&x.shape());
        let values = mask.as_slice_mut().expect("a fresh tensor is contiguous");
        let row = x.shape().iter().skip(1).product::<usize>();
        let start = ctx.first_row() * row;
        fill_mask(values, self.rate, ctx.rng().random(), start);
        x.dropout_mask(mask)
    }

    fn config(&self) -> Option<LayerConfig> {
        Some(LayerConfig::Dropout { rate: self.rate })
    }
}

/// Elements per independently seeded run of the mask. Part of what the mask is (another
/// length draws other masks), not a thread split: the runs are shared between threads
/// only when [`keel_runtime::plan::runs`] cuts a pass this long.
const MASK_CHUNK: usize = 1 << 14;

/// Fills `mask` with `1 / (1 - rate)` for kept units and `0` for dropped ones; `mask[0]` is
/// element `start` of the whole mask (the rows before it belong to other processes' shares
/// of a data-parallel batch).
///
/// Each run of [`MASK_CHUNK`] elements of the whole mask draws from its own fast generator,
/// seeded with `seed + run index`: the runs can be filled on any thread in any order, and a
/// share of the mask is the same share of the whole one. A unit is kept when its 32 random
/// bits are below keep · 2³², which has probability `keep` up to 2⁻³². The bits are drawn
/// into the mask's own memory first and compared in a second, vectorized pass: comparing
/// them as they are drawn compiles to a branch that is mispredicted on every fifth element.
fn fill_mask(mask: &mut [f32], rate: f32, seed: u64, start: usize) {
    let keep = 1.0 - rate;
    let scale = 1.0 / keep;
    // keep < 1, so the threshold is below 2³² and fits a u32.
    let threshold = (f64::from(keep) * 4_294_967_296.0) as u32;
    let fill = |(first, values): (usize, &mut [f32])| {
        let bits: &mut [u32] = bytemuck::cast_slice_mut(values);
        let offset = first % MASK_CHUNK;
        let mut fast = SmallRng::seed_from_u64(seed.wrapping_add((first / MASK_CHUNK) as u64));
        // Each draw fills two elements, the low half first: skip the draws of the elements
        // before `first` in its run.
        for _ in 0..offset / 2 {
            fast.next_u64();
        }
        let odd_start = usize::from(offset % 2 == 1).min(bits.len());
        if odd_start == 1 {
            bits[0] = (fast.next_u64() >> 32) as u32; // the high half
        }
        let mut pairs = bits[odd_start..].chunks_exact_mut(2);
        for pair in &mut pairs {
            let draw = fast.next_u64();
            pair[0] = draw as u32; // the low half
            pair[1] = (draw >> 32) as u32;
        }
        if let [last] = pairs.into_remainder() {
            *last = fast.next_u64() as u32;
        }
        keep_or_drop(bits, threshold, scale.to_bits());
    };
    let parallel = keel_runtime::plan::runs(mask.len()) < mask.len();
    // The pieces follow the runs of the whole mask: a short one up to the first boundary.
    let head_len = (MASK_CHUNK - start % MASK_CHUNK).min(mask.len());
    let (head, tail) = mask.split_at_mut(head_len);
    let pieces = std::iter::once((start, head)).chain(
        tail.chunks_mut(MASK_CHUNK)
            .enumerate()
            .map(move |(i, run)| (start + head_len + i * MASK_CHUNK, run)),
    );
    if parallel {
        keel_runtime::for_each_piece(pieces, fill);
    } else {
        pieces.for_each(fill);
    }
}

/// Replaces each random word with the bits of `scale` (kept) or of `0.0` (dropped).
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn keep_or_drop(bits: &mut [u32], threshold: u32, scale: u32) {
    for b in bits {
        *b = if *b < threshold { scale } else { 0 };
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
    fn a_long_mask_is_the_same_on_one_thread_or_two() {
        let fill = |threads| {
            let runtime = keel_runtime::Runtime::builder()
                .threads(threads)
                .build()
                .unwrap();
            let mut mask = vec![0.0; 5 * MASK_CHUNK + 3];
            runtime.install(|| fill_mask(&mut mask, 0.2, 42, 0));
            mask
        };
        let (one, two) = (fill(1), fill(2));
        assert_eq!(one, two);
        let kept = one.iter().filter(|&&v| v == 1.25).count() as f64 / one.len() as f64;
        assert!((kept - 0.8).abs() < 0.01, "kept {kept}");
        assert!(one.iter().all(|&v| v == 0.0 || v == 1.25));
    }

    #[test]
    fn a_share_of_the_mask_is_that_share_of_the_whole_mask() {
        let mut whole = vec![0.0; 3 * MASK_CHUNK + 7];
        fill_mask(&mut whole, 0.3, 9, 0);
        for (start, end) in [
            (0, 5),
            (1, 2),
            (3, MASK_CHUNK + 4),
            (MASK_CHUNK - 1, 3 * MASK_CHUNK + 7),
        ] {
            let mut share = vec![0.0; end - start];
            fill_mask(&mut share, 0.3, 9, start);
            assert_eq!(share, whole[start..end], "elements {start}..{end}");
        }
    }

    #[test]
    fn a_pass_on_later_rows_draws_those_rows_of_the_whole_batch() {
        let tape = Tape::new();
        let ones = |rows| tape.constant(Tensor::ones(ndarray::IxDyn(&[rows, 7])));
        let pass = |rows, first_row| {
            let mut r = rng();
            let mut ctx = Ctx::new(Mode::Train, &mut r);
            ctx.set_first_row(first_row);
            Dropout::new(0.5).forward(ones(rows), &mut ctx).value()
        };
        let whole = pass(10, 0);
        let share = pass(4, 6);
        assert_eq!(share.as_slice().unwrap(), &whole.as_slice().unwrap()[42..]);
    }

    #[test]
    fn rate_out_of_range_is_an_error() {
        let err = Dropout::new(1.5).build(&[3], &mut rng()).unwrap_err();
        assert!(err.to_string().contains("[0, 1)") && err.to_string().contains("1.5"));
    }
}
