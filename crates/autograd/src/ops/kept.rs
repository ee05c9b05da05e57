//! `Kept`: a buffer an op's forward pass keeps for its backward pass.

use std::cell::RefCell;

/// A buffer an op's forward pass fills for its backward pass to take (a convolution's
/// patches, a max pooling's winning taps). A tape dropped before its backward pass gives
/// the buffer back to the arena.
#[derive(Default)]
pub(crate) struct Kept(RefCell<Option<Vec<f32>>>);

impl Kept {
    /// Keeps `buffer` for the backward pass (a forward pass run again replaces the last
    /// one's, which goes back to the arena).
    pub(crate) fn put(&self, buffer: Vec<f32>) {
        if let Some(old) = self.0.replace(Some(buffer)) {
            crate::pool::recycle_vec(old);
        }
    }

    /// The buffer, taken (a second backward pass over the same tape finds none and
    /// computes without it).
    pub(crate) fn take(&self) -> Option<Vec<f32>> {
        self.0.borrow_mut().take()
    }
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kept: {:?}", self.0.borrow().as_ref().map(Vec::len))
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Some(buffer) = self.0.get_mut().take() {
            crate::pool::recycle_vec(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Kept;

    #[test]
    fn a_replaced_or_unused_buffer_goes_back_to_the_arena() {
        // The tape-level tests drop their tapes without looking at the arena; this one does.
        crate::on_threads(1, || {
            let runtime = keel_runtime::Runtime::current();
            let len = 4096;
            let kept = Kept::default();
            kept.put(crate::pool::take(len));
            kept.put(crate::pool::take(len));
            assert_eq!(runtime.arena_bytes(), len * 4, "the replaced one");
            drop(kept);
            assert_eq!(runtime.arena_bytes(), 2 * len * 4, "the unused one");
        })
    }
}
