//! `Var`: a `Copy` handle to a node on a tape, the type user code computes with.

use crate::{Gradients, Tape, Tensor};
use std::sync::Arc;

/// A handle to a value recorded on a [`Tape`].
///
/// `Var` is `Copy`, so expressions such as `a + b * c` need no `&` or `.clone()`.
#[derive(Clone, Copy)]
pub struct Var<'t> {
    id: usize,
    tape: &'t Tape,
}

impl std::fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var#{}{:?}", self.id, self.value().shape())
    }
}

impl<'t> Var<'t> {
    pub(crate) fn new(id: usize, tape: &'t Tape) -> Self {
        Var { id, tape }
    }

    /// This node's index on its tape.
    pub fn id(self) -> usize {
        self.id
    }

    /// The tape this value lives on.
    pub fn tape(self) -> &'t Tape {
        self.tape
    }

    /// The computed value (a cheap shared handle, not a copy).
    pub fn value(self) -> Arc<Tensor> {
        self.tape.value(self.id)
    }

    /// The value's shape.
    pub fn shape(self) -> Vec<usize> {
        self.value().shape().to_vec()
    }

    /// The single element of a one-element value.
    ///
    /// # Panics
    /// If the value holds more or fewer than one element.
    pub fn scalar(self) -> f32 {
        let v = self.value();
        assert_eq!(
            v.len(),
            1,
            "scalar: value of shape {:?} is not a scalar",
            v.shape()
        );
        v.iter().next().copied().unwrap_or_default()
    }

    /// The name of the op that produced this value (`"softmax"`, `"dense"`, ...), or `None`
    /// for a leaf. Losses use it as Keras does: cross-entropy on the output of a softmax is
    /// computed from the softmax's input, in log space.
    pub fn op_name(self) -> Option<&'static str> {
        self.tape.op_name(self.id)
    }

    /// The axis of the op that produced this value, for ops that work along one (softmax).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::no_grad();
    /// let p = tape.constant(tensor(&[1, 2], vec![1.0, 2.0])).softmax(1);
    /// assert_eq!((p.op_name(), p.op_axis()), (Some("softmax"), Some(1)));
    /// ```
    pub fn op_axis(self) -> Option<usize> {
        self.tape.op_axis(self.id)
    }

    /// The values the op that produced this one took, in order (empty for a leaf).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let logits = tape.var(tensor(&[1, 2], vec![1.0, 2.0]));
    /// let p = logits.softmax(1);
    /// assert_eq!(p.op_name(), Some("softmax"));
    /// assert_eq!(p.inputs()[0].id(), logits.id());
    /// ```
    pub fn inputs(self) -> Vec<Var<'t>> {
        self.tape
            .inputs(self.id)
            .into_iter()
            .map(|id| Var::new(id, self.tape))
            .collect()
    }

    /// Differentiates this value with respect to every parameter and `Tape::var` leaf.
    ///
    /// A non-scalar value is treated as its sum.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.var(tensor(&[], vec![3.0]));
    /// let y = x * x + x; // dy/dx = 2x + 1 = 7
    /// assert_eq!(y.backward().get(x).unwrap()[[]], 7.0);
    /// ```
    pub fn backward(self) -> Gradients {
        self.tape.backward(self.id, 1.0)
    }

    /// [`backward`](Var::backward) of `scale` times this value: every gradient comes out
    /// multiplied by `scale`, at no extra cost (the seed of the chain rule is `scale`, not
    /// 1). Data-parallel training weights each process's gradients by its share of the
    /// batch this way.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.var(tensor(&[], vec![3.0]));
    /// let y = x * x; // dy/dx = 6
    /// assert_eq!(y.backward_scaled(0.5).get(x).unwrap()[[]], 3.0);
    /// ```
    pub fn backward_scaled(self, scale: f32) -> Gradients {
        self.tape.backward(self.id, scale)
    }
}
