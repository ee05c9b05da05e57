//! Trainable parameters, which live outside the tape.

use crate::Tensor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A process-unique identity of a [`Param`], used to find its gradient after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

impl ParamId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        ParamId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A trainable tensor (a kernel or a bias).
///
/// The value sits in an [`Arc`] so that [`Tape::param`](crate::Tape::param) can record it
/// without copying the weights; once the tape is dropped the optimizer updates it in place.
///
/// ```
/// use keel_autograd::{tensor, Param};
/// let mut p = Param::new(tensor(&[2], vec![1.0, 2.0]));
/// p.value_mut()[0] = 5.0;
/// assert_eq!(p.value()[0], 5.0);
/// ```
#[derive(Debug)]
pub struct Param {
    id: ParamId,
    value: Arc<Tensor>,
}

impl Param {
    /// Wraps an initial value as a new parameter with a fresh id.
    pub fn new(value: Tensor) -> Self {
        Param {
            id: ParamId::fresh(),
            value: Arc::new(value),
        }
    }

    /// This parameter's identity.
    pub fn id(&self) -> ParamId {
        self.id
    }

    /// The current value.
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    /// The shared handle the tape records.
    pub(crate) fn shared(&self) -> Arc<Tensor> {
        Arc::clone(&self.value)
    }

    /// Mutable access for in-place updates. Copies only if a tape still holds the value.
    pub fn value_mut(&mut self) -> &mut Tensor {
        Arc::make_mut(&mut self.value)
    }

    /// Replaces the value (for example when loading weights).
    pub fn set_value(&mut self, value: Tensor) {
        self.value = Arc::new(value);
    }

    /// The number of scalars in this parameter.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// True for a parameter with no elements.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

impl Clone for Param {
    /// A copy of the value under a fresh id, so gradients of the two never mix.
    fn clone(&self) -> Self {
        Param {
            id: ParamId::fresh(),
            value: Arc::clone(&self.value),
        }
    }
}
