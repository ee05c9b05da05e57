//! The fused dense op: `activation(x @ kernel + bias)` as one tape node.
//!
//! One node instead of three saves the intermediate tensors and two passes over them;
//! backward multiplies by the activation's derivative (taken from the saved output), then
//! gives the kernel gradient `xᵀ G`, the bias gradient `Σ_rows G`, and `G kernelᵀ` for the
//! input only when the input needs one (never for the batch itself).

use super::elu::elu;
use super::matmul::{as_2d, product};
use super::sigmoid::sigmoid;
use super::softplus::softplus;
use crate::elementwise::{for_rows, zip3};
use crate::{Op, Tensor, Var};
use multiversion::multiversion;
use ndarray::Axis;

/// An element-wise activation the dense op applies in its own pass.
///
/// Only activations whose derivative follows from their output can be fused (backward keeps
/// the output, not the pre-activation): GELU and SiLU cannot, and are applied as ops of their
/// own after an `Identity` dense. Hence `alpha ≥ 0` for `LeakyRelu` and `Elu` (checked by
/// the op), which keeps the sign of the output that of the input.
///
/// Equality compares the `alpha`s bit for bit, so `Pointwise` is `Eq`.
#[derive(Debug, Clone, Copy)]
pub enum Pointwise {
    /// `x`.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `x` for `x > 0`, else `alpha · x` ([`Var::leaky_relu`]).
    LeakyRelu {
        /// The slope for negative inputs, `≥ 0`.
        alpha: f32,
    },
    /// `x` for `x > 0`, else `alpha · (e^x - 1)` ([`Var::elu`]).
    Elu {
        /// The limit of the output as `x → -∞` is `-alpha`; `≥ 0`.
        alpha: f32,
    },
    /// `log(1 + e^x)` ([`Var::softplus`]).
    Softplus,
}

impl PartialEq for Pointwise {
    fn eq(&self, other: &Self) -> bool {
        use Pointwise::*;
        match (*self, *other) {
            (LeakyRelu { alpha: a }, LeakyRelu { alpha: b })
            | (Elu { alpha: a }, Elu { alpha: b }) => a.to_bits() == b.to_bits(),
            (a, b) => std::mem::discriminant(&a) == std::mem::discriminant(&b),
        }
    }
}

impl Eq for Pointwise {}

impl Pointwise {
    fn apply(self, z: f32) -> f32 {
        match self {
            Pointwise::Identity => z,
            Pointwise::Relu => z.max(0.0),
            Pointwise::Sigmoid => sigmoid(z),
            Pointwise::Tanh => z.tanh(),
            Pointwise::LeakyRelu { alpha } => {
                if z > 0.0 {
                    z
                } else {
                    alpha * z
                }
            }
            Pointwise::Elu { alpha } => elu(z, alpha),
            Pointwise::Softplus => softplus(z),
        }
    }

    /// The derivative at the pre-activation, from the activation's output `y`.
    fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            Pointwise::Identity => 1.0,
            Pointwise::Relu => (y > 0.0) as u8 as f32,
            Pointwise::Sigmoid => y * (1.0 - y),
            Pointwise::Tanh => 1.0 - y * y,
            // With alpha ≥ 0, y > 0 exactly when x > 0 (at x = 0 the left slope, as the ops).
            Pointwise::LeakyRelu { alpha } => {
                if y > 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
            // alpha · e^x = y + alpha for x ≤ 0.
            Pointwise::Elu { alpha } => {
                if y > 0.0 {
                    1.0
                } else {
                    y + alpha
                }
            }
            // sigmoid(x) = 1 - e^-y, where y = log(1 + e^x).
            Pointwise::Softplus => -(-y).exp_m1(),
        }
    }

    /// Panics on a negative (or NaN) `alpha`, whose slope the output could not give back.
    fn check(self) {
        if let Pointwise::LeakyRelu { alpha } | Pointwise::Elu { alpha } = self {
            assert!(
                alpha >= 0.0,
                "dense: {self:?} needs alpha >= 0 to be fused; apply the op after the dense"
            );
        }
    }
}

/// `activation(x @ kernel + bias)` for `x: [batch, in]`, `kernel: [in, out]`, `bias: [out]`.
#[derive(Debug)]
pub struct Dense {
    /// Applied to the affine output.
    pub activation: Pointwise,
}

impl Op for Dense {
    fn name(&self) -> &'static str {
        "dense"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let (input, kernel) = (
            as_2d("dense", "input", x[0]),
            as_2d("dense", "kernel", x[1]),
        );
        assert_eq!(
            input.ncols(),
            kernel.nrows(),
            "dense: input {:?} is incompatible with kernel {:?}",
            input.shape(),
            kernel.shape()
        );
        let act = self.activation;
        act.check();
        let mut out = product(input, kernel);
        let units = kernel.ncols();
        let bias = x.get(2).map(|bias| {
            assert_eq!(
                bias.shape(),
                &[units],
                "dense: bias {:?} does not match kernel {:?}",
                bias.shape(),
                kernel.shape()
            );
            bias.as_standard_layout()
        });
        let bias = bias
            .as_ref()
            .map(|b| b.as_slice().expect("standard layout"));
        if bias.is_some() || act != Pointwise::Identity {
            let out = out.as_slice_mut().expect("a fresh product is contiguous");
            for_rows(out, units, |rows| bias_then_activation(rows, bias, act));
        }
        out.into_dyn()
    }
    fn backward(&self, x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        crate::op::every_gradient(self, x, y, g)
    }
    fn backward_needed(
        &self,
        x: &[&Tensor],
        y: &Tensor,
        g: &Tensor,
        needed: &[bool],
    ) -> Vec<Option<Tensor>> {
        let (input, kernel) = (
            as_2d("dense", "input", x[0]),
            as_2d("dense", "kernel", x[1]),
        );
        let act = self.activation;
        // G = dL/dz, the gradient at the pre-activation; a pooled buffer returned below.
        let pre = (act != Pointwise::Identity).then(|| {
            let mut buf = crate::pool::tensor_for_overwrite(g.shape());
            let (g, y) = (g.as_standard_layout(), y.as_standard_layout());
            zip3(
                buf.as_slice_mut().expect("a fresh tensor is contiguous"),
                g.as_slice().expect("standard layout"),
                y.as_slice().expect("standard layout"),
                |pre, g, y| times_derivative(pre, g, y, act),
            );
            buf
        });
        let pre2 = as_2d("dense", "gradient", pre.as_ref().unwrap_or(g));
        let mut grads = vec![
            needed[0].then(|| product(pre2, kernel.t()).into_dyn()),
            needed[1].then(|| product(input.t(), pre2).into_dyn()),
        ];
        if x.len() > 2 {
            grads.push(needed[2].then(|| pre2.sum_axis(Axis(0)).into_dyn()));
        }
        if let Some(buf) = pre {
            crate::pool::recycle(buf);
        }
        grads
    }
}

/// `row = activation(row + bias)` for each row of `rows` (rows of `bias.len()` elements, or
/// of any length when there is no bias).
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
pub(crate) fn bias_then_activation(rows: &mut [f32], bias: Option<&[f32]>, act: Pointwise) {
    if rows.is_empty() {
        return; // also a layer of zero units, whose rows `chunks_exact_mut` cannot cut
    }
    match (bias, act) {
        (Some(bias), Pointwise::Relu) => {
            for row in rows.chunks_exact_mut(bias.len()) {
                for (o, &b) in row.iter_mut().zip(bias) {
                    *o = (*o + b).max(0.0);
                }
            }
        }
        (Some(bias), _) => {
            for row in rows.chunks_exact_mut(bias.len()) {
                for (o, &b) in row.iter_mut().zip(bias) {
                    *o = act.apply(*o + b);
                }
            }
        }
        (None, _) => rows.iter_mut().for_each(|o| *o = act.apply(*o)),
    }
}

/// `pre = g · activation'(y)`, the derivative taken from the saved output `y`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
pub(crate) fn times_derivative(pre: &mut [f32], g: &[f32], y: &[f32], act: Pointwise) {
    let pairs = pre.iter_mut().zip(g).zip(y);
    match act {
        Pointwise::Relu => pairs.for_each(|((p, &g), &y)| *p = g * f32::from(u8::from(y > 0.0))),
        _ => pairs.for_each(|((p, &g), &y)| *p = g * act.derivative_from_output(y)),
    }
}

/// `g = g · activation'(y)` in place, nothing done for the identity: [`times_derivative`]
/// on a gradient the caller owns (the convolution's), inlined into its caller's loop.
#[inline(always)]
pub(crate) fn times_derivative_in_place(g: &mut [f32], y: &[f32], act: Pointwise) {
    let pairs = g.iter_mut().zip(y);
    match act {
        Pointwise::Identity => {}
        Pointwise::Relu => pairs.for_each(|(g, &y)| *g *= f32::from(u8::from(y > 0.0))),
        _ => pairs.for_each(|(g, &y)| *g *= act.derivative_from_output(y)),
    }
}

impl<'t> Var<'t> {
    /// `activation(self @ kernel + bias)` as one fused op: `[batch, in] -> [batch, out]`.
    ///
    /// # Panics
    /// If the input is not `[batch, in]`, the kernel not `[in, out]`, or the bias not `[out]`;
    /// if a [`Pointwise::LeakyRelu`] or [`Pointwise::Elu`] has a negative `alpha`.
    ///
    /// ```
    /// use keel_autograd::{ops::dense::Pointwise, tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[1, 2], vec![1.0, 2.0]));
    /// let w = tape.constant(tensor(&[2, 2], vec![1.0, -1.0, 1.0, -1.0]));
    /// let b = tape.constant(tensor(&[2], vec![0.5, 0.5]));
    /// let y = x.dense(w, Some(b), Pointwise::Relu);
    /// assert_eq!(y.value().as_slice().unwrap(), &[3.5, 0.0]); // relu([3.5, -2.5])
    /// ```
    pub fn dense(self, kernel: Var<'t>, bias: Option<Var<'t>>, activation: Pointwise) -> Var<'t> {
        let op = Dense { activation };
        match bias {
            Some(b) => self.tape().apply(op, &[self, kernel, b]),
            None => self.tape().apply(op, &[self, kernel]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pointwise;
    use crate::{check_gradients, tensor, GradCheck, Tape};

    fn operands() -> Vec<crate::Tensor> {
        vec![
            tensor(&[3, 2], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]),
            tensor(&[2, 4], vec![1.2, -0.8, 2.5, 0.1, -0.3, 0.7, 0.4, -1.1]),
            tensor(&[4], vec![0.1, -0.2, 0.3, 0.05]),
        ]
    }

    #[test]
    fn a_layer_of_zero_units_gives_empty_rows() {
        let tape = Tape::new();
        let x = tape.constant(tensor(&[3, 2], vec![1.0; 6]));
        let w = tape.constant(tensor(&[2, 0], vec![]));
        let b = tape.constant(tensor(&[0], vec![]));
        assert_eq!(
            x.dense(w, Some(b), Pointwise::Relu).value().shape(),
            &[3, 0]
        );
    }

    /// Every kind of fused activation.
    const ALL: [Pointwise; 7] = [
        Pointwise::Identity,
        Pointwise::Relu,
        Pointwise::Sigmoid,
        Pointwise::Tanh,
        Pointwise::LeakyRelu { alpha: 0.2 },
        Pointwise::Elu { alpha: 0.7 },
        Pointwise::Softplus,
    ];

    fn unfused(act: Pointwise, z: crate::Var<'_>) -> crate::Var<'_> {
        match act {
            Pointwise::Identity => z,
            Pointwise::Relu => z.relu(),
            Pointwise::Sigmoid => z.sigmoid(),
            Pointwise::Tanh => z.tanh(),
            Pointwise::LeakyRelu { alpha } => z.leaky_relu(alpha),
            Pointwise::Elu { alpha } => z.elu(alpha),
            Pointwise::Softplus => z.softplus(),
        }
    }

    fn max_abs_diff(a: &crate::Tensor, b: &crate::Tensor) -> f32 {
        (a - b).mapv(f32::abs).fold(0.0f32, |m, &d| m.max(d))
    }

    #[test]
    fn value_and_gradients_equal_the_unfused_composition() {
        for act in ALL {
            let tape = Tape::new();
            let v: Vec<_> = operands().into_iter().map(|t| tape.var(t)).collect();
            let fused = v[0].dense(v[1], Some(v[2]), act);
            let separate = unfused(act, v[0].matmul(v[1]) + v[2]);
            let diff = max_abs_diff(&fused.value(), &separate.value());
            assert!(diff < 1e-6, "{act:?}: {diff}");
            // Weighted sums, so each output's gradient differs.
            let weights = tape.constant(tensor(&[4], vec![1.0, -2.0, 0.5, 3.0]));
            let (gf, gs) = (
                (fused * weights).sum().backward(),
                (separate * weights).sum().backward(),
            );
            for (i, &x) in v.iter().enumerate() {
                let diff = max_abs_diff(gf.get(x).unwrap(), gs.get(x).unwrap());
                assert!(diff < 1e-5, "{act:?}, operand {i}: {diff}");
            }
        }
    }

    #[test]
    fn equality_compares_alpha() {
        let leaky = Pointwise::LeakyRelu { alpha: 0.2 };
        assert_eq!(leaky, Pointwise::LeakyRelu { alpha: 0.2 });
        assert_ne!(leaky, Pointwise::LeakyRelu { alpha: 0.3 });
        assert_ne!(leaky, Pointwise::Elu { alpha: 0.2 });
        assert_eq!(Pointwise::Softplus, Pointwise::Softplus);
        assert_ne!(Pointwise::Relu, Pointwise::Identity);
    }

    #[test]
    #[should_panic(expected = "needs alpha >= 0")]
    fn a_negative_alpha_is_not_fused() {
        let tape = Tape::new();
        let v: Vec<_> = operands().into_iter().map(|t| tape.constant(t)).collect();
        v[0].dense(v[1], Some(v[2]), Pointwise::Elu { alpha: -1.0 });
    }

    #[test]
    fn gradients_match_finite_differences() {
        for act in ALL {
            check_gradients(
                |_, v| v[0].dense(v[1], Some(v[2]), act),
                &operands(),
                GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("{act:?}: {e}"));
        }
        let no_bias = operands()[..2].to_vec();
        check_gradients(
            |_, v| v[0].dense(v[1], None, Pointwise::Tanh),
            &no_bias,
            GradCheck::default(),
        )
        .unwrap();
    }
}
