//! What a forward pass needs besides its input: the mode and a random source.

use keel_autograd::{ParamId, Tensor};
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
    updates: Vec<(ParamId, Tensor)>,
    frozen: bool,
    first_row: usize,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("mode", &self.mode)
            .field("updates", &self.updates.len())
            .field("frozen", &self.frozen)
            .field("first_row", &self.first_row)
            .finish_non_exhaustive()
    }
}

impl<'r> Ctx<'r> {
    /// A context in `mode` that draws randomness from `rng` (any generator: `fit` passes
    /// its serializable ChaCha12 generator, tests often a `StdRng`).
    pub fn new(mode: Mode, rng: &'r mut dyn RngCore) -> Self {
        Ctx {
            mode,
            rng,
            updates: Vec::new(),
            frozen: false,
            first_row: 0,
        }
    }

    /// Whether the layer running now is frozen (its model set it non-trainable). A model
    /// sets this before each layer's forward pass; a layer whose training behaviour is
    /// about its own state runs as in inference when frozen, as Keras's
    /// `BatchNormalization(trainable=False)` does.
    pub fn layer_is_frozen(&self) -> bool {
        self.frozen
    }

    /// Says whether the next layer to run is frozen (see
    /// [`layer_is_frozen`](Ctx::layer_is_frozen)); set by the model.
    pub fn set_layer_frozen(&mut self, frozen: bool) {
        self.frozen = frozen;
    }

    /// Records a new value for a non-trainable parameter (a batch normalization's moving
    /// mean), to be assigned once the pass is over: a layer's `forward` reads its weights
    /// and cannot write them. The model applies the updates of a training step it keeps
    /// (`fit` drops those of a step the guard refuses).
    pub fn record_update(&mut self, param: ParamId, value: Tensor) {
        self.updates.push((param, value));
    }

    /// The updates recorded so far, leaving none.
    pub fn take_updates(&mut self) -> Vec<(ParamId, Tensor)> {
        std::mem::take(&mut self.updates)
    }

    /// The mode of this pass.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Where this pass's batch starts in the batch it is a share of: data-parallel training
    /// gives each process rows `first_row..` of one global batch, and a stochastic layer
    /// draws for them what it would draw for those rows of the whole batch (0, the whole
    /// batch, unless set).
    pub fn first_row(&self) -> usize {
        self.first_row
    }

    /// Says that this pass's batch is rows `first_row..` of a larger batch (see
    /// [`first_row`](Ctx::first_row)); set by data-parallel `fit`.
    pub fn set_first_row(&mut self, first_row: usize) {
        self.first_row = first_row;
    }

    /// The random source for stochastic layers.
    pub fn rng(&mut self) -> &mut dyn RngCore {
        self.rng
    }
}
