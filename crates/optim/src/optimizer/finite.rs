//! The checks that keep optimizer state finite: after every update, and on restore.

use super::Optimizer;
use crate::{Error, OptimizerState, Result, SlotSpec, Slots, StepStats};
use keel_autograd::Tensor;

/// The first NaN or infinite element of `t`, with its flat (memory-order) index; the
/// common case, all finite, is the vectorised [`all_finite`](crate::elementwise::all_finite).
pub(super) fn first_nonfinite(t: &Tensor) -> Option<(usize, f32)> {
    let find = |xs: &[f32]| {
        if crate::elementwise::all_finite(xs) {
            return None;
        }
        xs.iter().copied().enumerate().find(|(_, x)| !x.is_finite())
    };
    match t.as_slice_memory_order() {
        Some(xs) => find(xs),
        None => t.iter().copied().enumerate().find(|(_, x)| !x.is_finite()),
    }
}

/// The message name of slot `index`: its spec's name, or its index.
fn slot_name(specs: &[SlotSpec], index: usize) -> String {
    specs
        .get(index)
        .map_or_else(|| index.to_string(), |s| s.name.to_string())
}

impl Optimizer {
    /// After `name`'s update: [`Error::NonFiniteUpdate`] if the parameter or a slot holds a
    /// NaN or an infinity. Reads what the update just wrote, while it is still in cache.
    pub(super) fn check_updated(
        &self,
        name: &str,
        param: &Tensor,
        slots: &Slots,
        stats: StepStats,
    ) -> Result<()> {
        let bad = |part: String, found: f32| Error::NonFiniteUpdate {
            name: name.to_string(),
            part,
            found,
            stats,
        };
        // Slots first: a non-finite slot is usually why the weights went non-finite.
        for (i, slot) in slots.tensors().iter().enumerate() {
            if let Some((_, found)) = first_nonfinite(slot) {
                let specs = self.rule.slot_specs();
                return Err(bad(format!("slot `{}`", slot_name(&specs, i)), found));
            }
        }
        match first_nonfinite(param) {
            Some((_, found)) => Err(bad("weights".into(), found)),
            None => Ok(()),
        }
    }

    /// [`Error::InvalidSlotValue`] unless every slot value of `state` is finite and, where
    /// the rule's [`SlotSpec`] says so, `>= 0`.
    pub(super) fn check_restorable(&self, state: &OptimizerState) -> Result<()> {
        let specs = self.rule.slot_specs();
        for (name, slots) in &state.slots {
            for (i, slot) in slots.tensors().iter().enumerate() {
                let non_negative = specs.get(i).is_some_and(|s| s.non_negative);
                let bad = |index, found, expected| Error::InvalidSlotValue {
                    name: name.clone(),
                    slot: slot_name(&specs, i),
                    index,
                    found,
                    expected,
                };
                if let Some((index, found)) = first_nonfinite(slot) {
                    let expected = if non_negative {
                        "a finite number >= 0"
                    } else {
                        "a finite number"
                    };
                    return Err(bad(index, found, expected));
                }
                if non_negative {
                    if let Some((index, &found)) = slot.iter().enumerate().find(|(_, &x)| x < 0.0) {
                        return Err(bad(index, found, "a finite number >= 0"));
                    }
                }
            }
        }
        Ok(())
    }
}
