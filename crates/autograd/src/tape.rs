//! The tape: an arena of nodes recorded in creation order, walked once in reverse.

use crate::{pool, sum_to_shape, Gradients, Op, Param, ParamId, Tensor, Var};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

struct Node {
    value: Arc<Tensor>,
    /// The op's name and axis, kept when the op itself is not (on a no-grad tape).
    name: Option<&'static str>,
    axis: Option<usize>,
    op: Option<Box<dyn Op>>,
    inputs: Vec<usize>,
    param: Option<ParamId>,
    requires_grad: bool,
}

/// Records eager computations so that [`Var::backward`] can differentiate them.
///
/// Every op computes its value immediately and appends a node; because nodes are appended
/// in creation order, walking ids in reverse is a valid reverse-topological order.
///
/// ```
/// use keel_autograd::{tensor, Tape};
/// let tape = Tape::new();
/// let x = tape.var(tensor(&[2], vec![1.0, 2.0]));
/// let y = (x * x).sum();
/// let grads = y.backward();
/// assert_eq!(grads.get(x).unwrap(), &tensor(&[2], vec![2.0, 4.0]));
/// ```
///
/// A [`Tape::no_grad`] tape computes the same values but records no graph: ops keep
/// nothing for a backward pass (no saved inputs, masks or closures), as PyTorch's
/// `torch.no_grad()`. Inference (`predict`, `evaluate`) runs on one.
#[derive(Default)]
pub struct Tape {
    nodes: RefCell<Vec<Node>>,
    no_grad: bool,
    /// Parameters recorded as constants (frozen layers): no gradient flows to them.
    frozen: RefCell<HashSet<ParamId>>,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tape({} nodes)", self.nodes.borrow().len())
    }
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Self {
        Tape::default()
    }

    /// A tape that records values but no graph: nothing on it requires a gradient, ops are
    /// dropped once they have computed their value, and [`Var::backward`] returns empty
    /// [`Gradients`].
    ///
    /// ```
    /// use keel_autograd::{tensor, Param, Tape};
    /// let w = Param::new(tensor(&[2], vec![1.0, 2.0]));
    /// let tape = Tape::no_grad();
    /// let y = (tape.param(&w) * tape.param(&w)).sum();
    /// assert_eq!(y.scalar(), 5.0);
    /// assert_eq!(y.backward().num_params(), 0);
    /// assert!(!tape.records_graph());
    /// ```
    pub fn no_grad() -> Self {
        Tape {
            nodes: RefCell::default(),
            no_grad: true,
            frozen: RefCell::default(),
        }
    }

    /// False for a [`no_grad`](Tape::no_grad) tape.
    pub fn records_graph(&self) -> bool {
        !self.no_grad
    }

    /// The number of recorded nodes.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.borrow().is_empty()
    }

    fn push(&self, node: Node) -> Var<'_> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(node);
        Var::new(nodes.len() - 1, self)
    }

    /// A leaf that is not differentiated (an input batch, a target).
    pub fn constant(&self, value: Tensor) -> Var<'_> {
        self.leaf(Arc::new(value), None, false)
    }

    /// A differentiable leaf whose gradient [`Gradients::get`] returns.
    pub fn var(&self, value: Tensor) -> Var<'_> {
        self.leaf(Arc::new(value), None, true)
    }

    /// A differentiable leaf holding a parameter's value, shared without a copy.
    pub fn param(&self, param: &Param) -> Var<'_> {
        if self.frozen.borrow().contains(&param.id()) {
            return self.param_constant(param);
        }
        self.leaf(param.shared(), Some(param.id()), true)
    }

    /// A parameter's value as a constant, shared without a copy: state that is read but not
    /// differentiated (a batch normalization's moving statistics in inference).
    ///
    /// ```
    /// use keel_autograd::{tensor, Param, Tape};
    /// let w = Param::new(tensor(&[1], vec![3.0]));
    /// let tape = Tape::new();
    /// let grads = (tape.param_constant(&w) * tape.param(&w)).sum().backward();
    /// assert_eq!(grads.param(&w).unwrap()[0], 3.0); // only the differentiated use counts
    /// ```
    pub fn param_constant(&self, param: &Param) -> Var<'_> {
        self.leaf(param.shared(), None, false)
    }

    /// Records `params` as constants from now on (a frozen layer's weights): the backward
    /// pass computes no gradient for them, nor for anything only they need.
    ///
    /// ```
    /// use keel_autograd::{tensor, Param, Tape};
    /// let (w, b) = (Param::new(tensor(&[1], vec![2.0])), Param::new(tensor(&[1], vec![1.0])));
    /// let tape = Tape::new();
    /// tape.freeze([w.id()]);
    /// let grads = (tape.param(&w) * tape.param(&b)).sum().backward();
    /// assert!(grads.param(&w).is_none());
    /// assert_eq!(grads.param(&b).unwrap()[0], 2.0);
    /// ```
    pub fn freeze(&self, params: impl IntoIterator<Item = ParamId>) {
        self.frozen.borrow_mut().extend(params);
    }

    fn leaf(&self, value: Arc<Tensor>, param: Option<ParamId>, requires_grad: bool) -> Var<'_> {
        self.push(Node {
            value,
            name: None,
            axis: None,
            op: None,
            inputs: Vec::new(),
            param: param.filter(|_| !self.no_grad),
            requires_grad: requires_grad && !self.no_grad,
        })
    }

    /// Runs `op` forward on `inputs` and records it.
    ///
    /// # Panics
    /// If an input lives on another tape, or if `op.forward` panics (a shape bug).
    pub fn apply<'t>(&'t self, op: impl Op + 'static, inputs: &[Var<'t>]) -> Var<'t> {
        assert!(
            inputs.iter().all(|v| std::ptr::eq(v.tape(), self)),
            "{}: an input lives on a different tape",
            op.name()
        );
        let (values, requires_grad) = {
            let nodes = self.nodes.borrow();
            let values: Vec<Arc<Tensor>> = inputs
                .iter()
                .map(|v| Arc::clone(&nodes[v.id()].value))
                .collect();
            let requires_grad = inputs.iter().any(|v| nodes[v.id()].requires_grad);
            (values, requires_grad)
        };
        let refs: Vec<&Tensor> = values.iter().map(|v| v.as_ref()).collect();
        let value = op.forward(&refs);
        let (name, axis) = (Some(op.name()), op.axis());
        self.push(Node {
            value: Arc::new(value),
            name,
            axis,
            op: (!self.no_grad).then(|| Box::new(op) as Box<dyn Op>),
            inputs: inputs.iter().map(|v| v.id()).collect(),
            param: None,
            requires_grad,
        })
    }

    /// The value of node `id`.
    pub(crate) fn value(&self, id: usize) -> Arc<Tensor> {
        Arc::clone(&self.nodes.borrow()[id].value)
    }

    /// Whether node `id` needs a gradient (false on a [`no_grad`](Tape::no_grad) tape, for
    /// constants, frozen parameters and what only they feed).
    pub(crate) fn requires_grad(&self, id: usize) -> bool {
        self.nodes.borrow()[id].requires_grad
    }

    /// The name of the op that produced node `id`, or `None` for a leaf.
    pub fn op_name(&self, id: usize) -> Option<&'static str> {
        self.nodes.borrow()[id].name
    }

    /// The axis of the op that produced node `id`, if it has one.
    pub(crate) fn op_axis(&self, id: usize) -> Option<usize> {
        self.nodes.borrow()[id].axis
    }

    /// The ids of the inputs of node `id` (none for a leaf).
    pub(crate) fn inputs(&self, id: usize) -> Vec<usize> {
        self.nodes.borrow()[id].inputs.clone()
    }

    /// Differentiates node `root` with respect to every differentiable leaf.
    ///
    /// The seed gradient is `seed` everywhere in the root's shape, so a non-scalar root
    /// behaves as its sum (times `seed`). Gradients of a value used twice accumulate.
    pub(crate) fn backward(&self, root: usize, seed: f32) -> Gradients {
        let nodes = self.nodes.borrow();
        let mut grads: Vec<Option<Tensor>> = Vec::new();
        grads.resize_with(root + 1, || None);
        grads[root] = Some(Tensor::from_elem(nodes[root].value.raw_dim(), seed));
        let mut leaves = HashMap::new();
        let mut params = HashMap::new();
        for id in (0..=root).rev() {
            let Some(grad) = grads[id].take() else {
                continue;
            };
            let node = &nodes[id];
            let Some(op) = &node.op else {
                if let Some(pid) = node.param {
                    accumulate(params.entry(pid).or_insert(None), grad);
                } else if node.requires_grad {
                    leaves.insert(id, grad);
                }
                continue;
            };
            if !node.requires_grad {
                continue;
            }
            let inputs: Vec<&Tensor> = node
                .inputs
                .iter()
                .map(|&i| nodes[i].value.as_ref())
                .collect();
            let needed: Vec<bool> = node
                .inputs
                .iter()
                .map(|&i| nodes[i].requires_grad)
                .collect();
            let input_grads = op.backward_owned(&inputs, &node.value, grad, &needed);
            debug_assert_eq!(
                input_grads.len(),
                inputs.len(),
                "{}: one gradient per input",
                op.name()
            );
            for ((&input, g), needed) in node.inputs.iter().zip(input_grads).zip(needed) {
                if let (Some(g), true) = (g, needed) {
                    let g = sum_to_shape(g, nodes[input].value.shape());
                    accumulate(&mut grads[input], g);
                }
            }
        }
        Gradients::new(
            leaves,
            params
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
        )
    }
}

fn accumulate(slot: &mut Option<Tensor>, grad: Tensor) {
    match slot {
        Some(sum) => {
            *sum += &grad;
            pool::recycle(grad);
        }
        None => *slot = Some(grad),
    }
}

impl Drop for Tape {
    /// Returns the values only this tape holds (not parameters, nor values a caller still
    /// shares through [`Var::value`]) to the buffer [`pool`].
    fn drop(&mut self) {
        for node in self.nodes.get_mut().drain(..) {
            if let Ok(value) = Arc::try_unwrap(node.value) {
                pool::recycle(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{ops::exp::Exp, tensor, Tape};

    #[test]
    #[should_panic(expected = "exp: an input lives on a different tape")]
    fn inputs_from_another_tape_are_rejected() {
        let (a, b) = (Tape::new(), Tape::new());
        let _ = a.constant(tensor(&[1], vec![0.0]));
        let x = b.constant(tensor(&[1], vec![0.0]));
        let _ = a.apply(Exp, &[x]);
    }

    #[test]
    fn a_param_recorded_twice_gets_the_summed_gradient() {
        let w = crate::Param::new(tensor(&[2], vec![1.0, 2.0]));
        let tape = Tape::new();
        let (p, q) = (tape.param(&w), tape.param(&w));
        let grads = (p * q).sum().backward(); // d(w·w)/dw = 2w
        assert_eq!(grads.param(&w).unwrap(), &tensor(&[2], vec![2.0, 4.0]));
    }
}
