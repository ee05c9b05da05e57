//! What a forward pass needs besides its input: the mode and a random source.

use rand::rngs::StdRng;

/// Whether a forward pass trains (dropout active) or evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Training: stochastic layers such as dropout are active.
    Train,
    /// Inference: every layer is deterministic.
    Eval,
}

/// The context of one forward pass.
#[derive(Debug)]
pub struct Ctx<'r> {
    mode: Mode,
    rng: &'r mut StdRng,
}

impl<'r> Ctx<'r> {
    /// A context in `mode` that draws randomness from `rng`.
    pub fn new(mode: Mode, rng: &'r mut StdRng) -> Self {
        Ctx { mode, rng }
    }

    /// The mode of this pass.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The random source for stochastic layers.
    pub fn rng(&mut self) -> &mut StdRng {
        self.rng
    }
}
