//! The state of the stateful clipping modes, kept with the optimizer's state.

use super::{AutoClipState, Clip, ZClipState};
use serde::{Deserialize, Serialize};

/// What a stateful clipping mode remembers between steps: AutoClip's history of global norms,
/// ZClip's warm-up norms and moving averages. Part of
/// [`OptimizerState`](crate::OptimizerState) and of every
/// [`OptimizerSnapshot`](crate::OptimizerSnapshot), so a rollback or a resumed run clips
/// exactly as the original would have.
///
/// ```
/// use keel_autograd::{tensor, Gradients, Param};
/// use keel_optim::{Clipping, ClipState, Optimizer, Sgd};
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::try_from(Sgd::new(0.1).autoclip(50.0))?;
/// let mut w = Param::new(tensor(&[2], vec![0.0; 2]));
/// let mut grads = Gradients::default();
/// grads.insert(w.id(), tensor(&[2], vec![3.0, 4.0]));
/// opt.step([("w".to_string(), &mut w)], &mut grads)?;
/// let ClipState::AutoClip(history) = opt.state().clip_state() else { panic!() };
/// assert_eq!(history.norms().collect::<Vec<_>>(), [5.0]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ClipState {
    /// No state: no clipping, or a mode that needs none.
    #[default]
    Stateless,
    /// See [`AutoClipState`].
    AutoClip(AutoClipState),
    /// See [`ZClipState`].
    ZClip(ZClipState),
}

impl ClipState {
    /// A short name of the kind of state, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            ClipState::Stateless => "no clipping state",
            ClipState::AutoClip(_) => "autoclip state",
            ClipState::ZClip(_) => "zclip state",
        }
    }

    /// Whether this state can belong to an optimizer clipping with `clip`.
    pub(crate) fn fits(&self, clip: Option<&Clip>) -> bool {
        match self {
            ClipState::Stateless => true,
            ClipState::AutoClip(_) => matches!(clip, Some(Clip::AutoClip(_))),
            ClipState::ZClip(_) => matches!(clip, Some(Clip::ZClip(_))),
        }
    }

    /// The AutoClip state, started empty if this is not one yet.
    pub(crate) fn autoclip(&mut self) -> &mut AutoClipState {
        if !matches!(self, ClipState::AutoClip(_)) {
            *self = ClipState::AutoClip(AutoClipState::default());
        }
        match self {
            ClipState::AutoClip(s) => s,
            _ => unreachable!("autoclip: just set"),
        }
    }

    /// The ZClip state, started empty if this is not one yet.
    pub(crate) fn zclip(&mut self) -> &mut ZClipState {
        if !matches!(self, ClipState::ZClip(_)) {
            *self = ClipState::ZClip(ZClipState::default());
        }
        match self {
            ClipState::ZClip(s) => s,
            _ => unreachable!("zclip: just set"),
        }
    }
}
