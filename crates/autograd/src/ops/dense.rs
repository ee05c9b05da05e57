//! The fused dense op: `activation(x @ kernel + bias)` as one tape node.
//!
//! One node instead of three saves the intermediate tensors and two passes over them;
//! backward multiplies by the activation's derivative (taken from the saved output), then
//! gives the kernel gradient `xᵀ G`, the bias gradient `Σ_rows G`, and `G kernelᵀ` for the
//! input only when the input needs one (never for the batch itself).

use super::matmul::{as_2d, product};
use super::sigmoid::sigmoid;
use crate::elementwise::{for_rows, zip3};
use crate::{Op, Tensor, Var};
use multiversion::multiversion;
use ndarray::Axis;

/// An element-wise activation the dense op applies in its own pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointwise {
    /// `x`.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
}

impl Pointwise {
    fn apply(self, z: f32) -> f32 {
        match self {
            Pointwise::Identity => z,
            Pointwise::Relu => z.max(0.0),
            Pointwise::Sigmoid => sigmoid(z),
            Pointwise::Tanh => z.tanh(),
        }
    }

    /// The derivative at the pre-activation, from the activation's output `y`.
    fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            Pointwise::Identity => 1.0,
            Pointwise::Relu => (y > 0.0) as u8 as f32,
            Pointwise::Sigmoid => y * (1.0 - y),
            Pointwise::Tanh => 1.0 - y * y,
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
        let mut out = product(input, kernel);
        let act = self.activation;
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
        let all = vec![true; x.len()];
        self.backward_needed(x, y, g, &all)
            .into_iter()
            .map(|g| g.expect("every gradient was requested"))
            .collect()
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

impl<'t> Var<'t> {
    /// `activation(self @ kernel + bias)` as one fused op: `[batch, in] -> [batch, out]`.
    ///
    /// # Panics
    /// If the input is not `[batch, in]`, the kernel not `[in, out]`, or the bias not `[out]`.
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

    #[test]
    fn value_equals_the_unfused_composition() {
        for act in [
            Pointwise::Identity,
            Pointwise::Relu,
            Pointwise::Sigmoid,
            Pointwise::Tanh,
        ] {
            let tape = Tape::new();
            let v: Vec<_> = operands().into_iter().map(|t| tape.constant(t)).collect();
            let fused = v[0].dense(v[1], Some(v[2]), act).value();
            let z = v[0].matmul(v[1]) + v[2];
            let unfused = match act {
                Pointwise::Identity => z,
                Pointwise::Relu => z.relu(),
                Pointwise::Sigmoid => z.sigmoid(),
                Pointwise::Tanh => z.tanh(),
            };
            let diff = (&*fused - &*unfused.value())
                .mapv(f32::abs)
                .fold(0.0f32, |a, &b| a.max(b));
            assert!(diff < 1e-6, "{act:?}: {diff}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        for act in [
            Pointwise::Identity,
            Pointwise::Relu,
            Pointwise::Sigmoid,
            Pointwise::Tanh,
        ] {
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
