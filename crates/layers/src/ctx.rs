//! What a forward pass needs besides its input: the mode and a random source.

use rand::RngCore;

/// Whether a forward pass trains (dropout active) or evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Training: stochastic layers such as dropout are active.
    Train,
    /// Inference: every layer is deterministic.
    Eval,
}

/// The context of one forward pass.
pub struct Ctx<'r> {
    mode: Mode,
    rng: &'r mut dyn RngCore,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl<'r> Ctx<'r> {
    /// A context in `mode` that draws randomness from `rng` (any generator: `fit` passes
    /// its serializable ChaCha12 generator, tests often a `StdRng`).
    pub fn new(mode: Mode, rng: &'r mut dyn RngCore) -> Self {
        Ctx { mode, rng }
    }

    /// The mode of this pass.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The random source for stochastic layers.
    pub fn rng(&mut self) -> &mut dyn RngCore {
        self.rng
    }
}
