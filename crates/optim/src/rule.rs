//! The per-parameter update rule an [`Optimizer`](crate::Optimizer) delegates to, and its state.

use crate::Result;
use keel_autograd::Tensor;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The math of one optimizer: how a parameter moves given its (already clipped) gradient.
///
/// A rule holds only its hyper-parameters. Everything shared by all optimizers (the learning
/// rate, the step counter, gradient clipping, the per-parameter state) lives in
/// [`Optimizer`](crate::Optimizer), which calls [`update`](UpdateRule::update) once per
/// parameter per step. Implement this trait to add an optimizer, then wrap it with
/// [`Optimizer::new`](crate::Optimizer::new).
///
/// ```
/// use keel_autograd::{tensor, Param, Tensor, Tape};
/// use keel_optim::{HyperValue, Optimizer, Slots, UpdateRule};
///
/// /// Sign descent: `p -= lr * sign(g)`.
/// #[derive(Debug)]
/// struct SignSgd;
/// impl UpdateRule for SignSgd {
///     fn name(&self) -> &'static str { "sign_sgd" }
///     fn hyper_parameters(&self) -> Vec<(&'static str, HyperValue)> { Vec::new() }
///     fn update(&self, lr: f32, _t: u64, p: &mut Tensor, g: &Tensor, _s: &mut Slots) {
///         p.zip_mut_with(g, |p, &g| *p -= lr * g.signum());
///     }
/// }
///
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::new(SignSgd, 0.5, None)?;
/// let mut w = Param::new(tensor(&[2], vec![1.0, -1.0]));
/// let tape = Tape::new();
/// let x = tape.param(&w);
/// let mut grads = (x * x).backward(); // dL/dw = 2w
/// drop(tape);
/// opt.step([("w".to_string(), &mut w)], &mut grads)?;
/// assert_eq!(w.value(), &tensor(&[2], vec![0.5, -0.5]));
/// # Ok(())
/// # }
/// ```
pub trait UpdateRule: fmt::Debug + Send + Sync {
    /// A short lowercase name, such as `"adam"`, shown in summaries and saved configs.
    fn name(&self) -> &'static str;

    /// The rule's hyper-parameters by name, in a stable order (the learning rate and the
    /// clipping mode are the optimizer's, not the rule's).
    fn hyper_parameters(&self) -> Vec<(&'static str, HyperValue)>;

    /// Checks the hyper-parameters; called once when the [`Optimizer`](crate::Optimizer) is built.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) for a value out of
    /// range. The default accepts everything.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Updates `param` in place from its gradient.
    ///
    /// `lr` is the current learning rate, `t` the 1-based step number (already incremented
    /// for this step), and `slots` this parameter's state, empty on the first step.
    /// `param`, `grad` and every slot tensor have the same shape: the optimizer checks this
    /// before calling. Implementations should not allocate after the first step.
    fn update(&self, lr: f32, t: u64, param: &mut Tensor, grad: &Tensor, slots: &mut Slots);

    /// [`update`](UpdateRule::update), then whether every value it wrote (the parameter
    /// and its slots) is finite. The optimizer calls this for steps with finite gradients,
    /// so an update that overflows is caught. The default checks in a pass of its own after
    /// the update; Keel's rules test each value as they write it, in registers.
    fn update_checked(
        &self,
        lr: f32,
        t: u64,
        param: &mut Tensor,
        grad: &Tensor,
        slots: &mut Slots,
    ) -> bool {
        self.update(lr, t, param, grad, slots);
        let finite = |t: &Tensor| match t.as_slice_memory_order() {
            Some(xs) => crate::elementwise::all_finite(xs),
            None => t.iter().all(|x| x.is_finite()),
        };
        finite(param) && slots.tensors().iter().all(finite)
    }

    /// What each slot holds, in slot order, so messages can name a slot and
    /// [`Optimizer::restore`](crate::Optimizer::restore) can check restored values (a
    /// second moment must not be negative). The default says nothing: slots are then named
    /// by index and only checked to be finite.
    fn slot_specs(&self) -> Vec<SlotSpec> {
        Vec::new()
    }
}

/// The name of one slot of an [`UpdateRule`] and the values it may hold.
///
/// ```
/// use keel_optim::SlotSpec;
/// let v = SlotSpec::non_negative("v");
/// assert!(v.non_negative && !SlotSpec::signed("m").non_negative);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlotSpec {
    /// The slot's name in messages, such as `"v"` (Adam's second moment).
    pub name: &'static str,
    /// Whether the math needs every value `>= 0` (a second moment, an accumulator).
    pub non_negative: bool,
}

impl SlotSpec {
    /// A slot whose values may have either sign (a first moment, a velocity).
    pub fn signed(name: &'static str) -> Self {
        SlotSpec {
            name,
            non_negative: false,
        }
    }

    /// A slot whose values must be `>= 0` (a second moment, an accumulator).
    pub fn non_negative(name: &'static str) -> Self {
        SlotSpec {
            name,
            non_negative: true,
        }
    }
}

/// A hyper-parameter's value, for summaries and saved configs.
///
/// ```
/// use keel_optim::HyperValue;
/// assert_eq!(HyperValue::Float(0.9).to_string(), "0.9");
/// assert_eq!(HyperValue::Bool(true).to_string(), "true");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum HyperValue {
    /// A real number, such as `beta_1`.
    Float(f32),
    /// A switch, such as `nesterov`.
    Bool(bool),
}

impl fmt::Display for HyperValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HyperValue::Float(x) => write!(f, "{x}"),
            HyperValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The state an update rule keeps for one parameter: a few tensors shaped like it
/// (Adam's first and second moments, SGD's velocity).
///
/// Plain data, serializable (each tensor as its shape and a flat `Vec<f32>`), so checkpoints
/// can store it. Slots are created lazily, on the first step that needs them.
///
/// ```
/// use keel_autograd::tensor;
/// use keel_optim::Slots;
/// let w = tensor(&[2], vec![1.0, 2.0]);
/// let mut slots = Slots::new();
/// let [m, v] = slots.zeros_like::<2>(&w);
/// m[0] = 0.5;
/// v[1] = 0.25;
/// assert_eq!(slots.len(), 2);
/// assert_eq!(slots.tensors()[0], tensor(&[2], vec![0.5, 0.0]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Slots {
    #[serde(with = "crate::serde_tensor::vec")]
    tensors: Vec<Tensor>,
}

impl Slots {
    /// No state yet.
    pub fn new() -> Self {
        Slots::default()
    }

    /// State restored from saved tensors (for example from a checkpoint).
    pub fn from_tensors(tensors: Vec<Tensor>) -> Self {
        Slots { tensors }
    }

    /// The slot tensors, in the order the rule created them.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// Consumes the state, returning its tensors.
    pub fn into_tensors(self) -> Vec<Tensor> {
        self.tensors
    }

    /// The number of slot tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True before the rule has created any slot.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The first `N` slots, creating the missing ones as zeros shaped like `like`.
    ///
    /// Allocates only when slots are missing, that is on a parameter's first step.
    pub fn zeros_like<const N: usize>(&mut self, like: &Tensor) -> &mut [Tensor; N] {
        self.filled_like(like, 0.0)
    }

    /// The first `N` slots, creating the missing ones filled with `value` and shaped like
    /// `like` (Adagrad starts its accumulator at `initial_accumulator_value`).
    ///
    /// Allocates only when slots are missing, that is on a parameter's first step.
    ///
    /// ```
    /// use keel_autograd::tensor;
    /// use keel_optim::Slots;
    /// let mut slots = Slots::new();
    /// let [acc] = slots.filled_like::<1>(&tensor(&[2], vec![5.0, 6.0]), 0.1);
    /// assert_eq!(acc, &tensor(&[2], vec![0.1, 0.1]));
    /// ```
    pub fn filled_like<const N: usize>(&mut self, like: &Tensor, value: f32) -> &mut [Tensor; N] {
        while self.tensors.len() < N {
            self.tensors.push(Tensor::from_elem(like.raw_dim(), value));
        }
        (&mut self.tensors[..N])
            .try_into()
            .expect("filled_like: the slice has exactly N elements")
    }
}
