//! The fused 2-D convolution: `activation(conv(x, kernel) + bias)` over channels-last
//! images as one tape node.
//!
//! Forward gathers every window into a row of patches (`im2col`) and multiplies the patches
//! `[batch * out_h * out_w, kh * kw * in]` by the kernel read as `[kh * kw * in, out]`.
//! Most convolutions run block by block (`blocked_forward`, `blocked_backward`): a few
//! whole samples at a time gather their patches into a scratch buffer that stays in the
//! cache, so the batch's patches (17.8 MB for W4's second layer at batch 128) are never
//! written to memory; backward gathers each block again for the kernel gradient
//! `patchesᵀ G` and computes `G kernelᵀ` in the same scratch, added back onto the image
//! (`col2im`) only when the input needs a gradient. A 3×3 kernel over one channel with 16
//! or 32 filters (a grayscale first layer, patch rows of 9 values) instead takes short
//! paths over all the patches at once, which the forward pass keeps for the kernel
//! gradient when the tape will need it ([`Var::conv2d`]). Backward first applies the
//! activation's derivative in place on the output gradient it owns (`G`), summing the bias
//! gradient `Σ_rows G` in the same pass. Every cut depends on the shapes alone, so results
//! do not depend on the thread count. Patches and the other scratch come from the
//! runtime's buffer arena.

use super::dense::{bias_then_activation, times_derivative_in_place, Pointwise};
use super::im2col::{col2im, col2im_samples, im2col, im2col_rows, Patches};
use super::kept::Kept;
use super::matmul::product;
use super::window::{Padding, Window2d};
use crate::elementwise::for_rows;
use crate::linalg::matmul_serial_into;
use crate::{matmul_into, Op, Tensor, Var};
use keel_runtime::plan;
use multiversion::multiversion;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Ix2};
use std::borrow::Cow;

/// `activation(conv2d(x, kernel) + bias)` for `x: [batch, h, w, in]`, `kernel: [kh, kw,
/// in, out]` (Keras's layout), `bias: [out]`; output `[batch, out_h, out_w, out]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2d {
    /// Steps between windows, `(rows, columns)`.
    pub strides: (usize, usize),
    /// The border rule.
    pub padding: Padding,
    /// Spacing between kernel taps, `(rows, columns)`.
    pub dilation: (usize, usize),
    /// Applied to the affine output.
    pub activation: Pointwise,
}

impl Default for Conv2d {
    /// Unit strides and dilation, `valid` padding, no activation (Keras's defaults).
    fn default() -> Self {
        Conv2d {
            strides: (1, 1),
            padding: Padding::Valid,
            dilation: (1, 1),
            activation: Pointwise::Identity,
        }
    }
}

impl Conv2d {
    /// The window of a kernel of shape `[kh, kw, ..]`.
    fn window(&self, kernel: &[usize]) -> Window2d {
        Window2d {
            size: (kernel[0], kernel[1]),
            strides: self.strides,
            dilation: self.dilation,
            padding: self.padding,
        }
    }

    /// Checks the operands; returns the window and the patch layout.
    fn layout<'w>(&self, x: &[&Tensor], window: &'w Window2d) -> Patches<'w> {
        let (image, kernel) = (x[0].shape(), x[1].shape());
        assert!(
            kernel.len() == 4 && image.len() == 4 && kernel[2] == image[3],
            "conv2d: input {image:?} [batch, h, w, in] is incompatible with kernel {kernel:?} \
             [kh, kw, in, out]"
        );
        if let Some(bias) = x.get(2) {
            assert_eq!(
                bias.shape(),
                &[kernel[3]],
                "conv2d: bias {:?} does not match kernel {kernel:?}",
                bias.shape()
            );
        }
        let geometry = window.expect_geometry("conv2d", image);
        Patches {
            image: [image[0], image[1], image[2], image[3]],
            window,
            geometry,
        }
    }
}

/// The kernel `[kh, kw, in, out]` as the matrix `[kh * kw * in, out]`.
fn kernel_matrix(kernel: &Tensor) -> ArrayView2<'_, f32> {
    let s = kernel.shape();
    kernel
        .view()
        .into_shape_with_order((s[0] * s[1] * s[2], s[3]))
        .expect("a standard-layout kernel")
}

/// The patches of `image` in a pooled buffer (give it back with `recycle_vec`).
fn gather(p: &Patches<'_>, image: &Tensor) -> Vec<f32> {
    let image = image.as_standard_layout();
    let mut patches = crate::pool::take(p.rows() * p.row_len());
    im2col(p, image.as_slice().expect("standard layout"), &mut patches);
    patches
}

/// A standard-layout view of `t` (borrowed when it already is one).
fn standard(t: &Tensor) -> Cow<'_, Tensor> {
    if t.is_standard_layout() {
        Cow::Borrowed(t)
    } else {
        Cow::Owned(t.as_standard_layout().into_owned())
    }
}

impl Conv2d {
    /// The forward pass; with `keep`, the patches are left there for the backward pass
    /// (the kernel gradient reads them) instead of going back to the arena.
    fn run_forward(&self, x: &[&Tensor], keep: Option<&Kept>) -> Tensor {
        let window = self.window(x[1].shape());
        let p = self.layout(x, &window);
        let filters = x[1].shape()[3];
        let kernel = standard(x[1]);
        let (oh, ow) = p.geometry.out;
        let mut out = crate::pool::tensor_for_overwrite(&[p.image[0], oh, ow, filters]);
        let bias = x.get(2).map(|b| standard(b));
        let bias = bias
            .as_ref()
            .map(|b| b.as_slice().expect("standard layout"));
        if blocked(&p, filters) {
            let image = x[0].as_standard_layout();
            blocked_forward(
                &p,
                image.as_slice().expect("standard layout"),
                kernel_matrix(&kernel),
                bias,
                self.activation,
                out.as_slice_mut().expect("a fresh tensor"),
            );
            return out;
        }
        let patches = gather(&p, x[0]);
        let short = (p.row_len(), filters) == (SHORT_ROW, 32);
        if short {
            short_forward(
                &patches,
                kernel.as_slice().expect("standard layout"),
                bias,
                self.activation,
                out.as_slice_mut().expect("a fresh tensor"),
            );
        } else {
            let out2 = ArrayViewMut2::from_shape(
                (p.rows(), filters),
                out.as_slice_mut().expect("a fresh tensor"),
            )
            .expect("rows x filters");
            let lhs =
                ArrayView2::from_shape((p.rows(), p.row_len()), &patches).expect("rows x row_len");
            matmul_into(lhs, kernel_matrix(&kernel), out2, false);
        }
        match keep {
            Some(kept) => kept.put(patches),
            None => crate::pool::recycle_vec(patches),
        }
        if !short && (bias.is_some() || self.activation != Pointwise::Identity) {
            let act = self.activation;
            let out = out.as_slice_mut().expect("a fresh tensor");
            for_rows(out, filters, |rows| bias_then_activation(rows, bias, act));
        }
        out
    }

    /// The backward pass from the output gradient `g`, whose storage it reuses for the
    /// gradient at the pre-activation; `saved` holds the forward's patches if it kept them.
    fn run_backward(
        &self,
        x: &[&Tensor],
        y: &Tensor,
        g: Tensor,
        needed: &[bool],
        saved: Option<Vec<f32>>,
    ) -> Vec<Option<Tensor>> {
        let window = self.window(x[1].shape());
        let p = self.layout(x, &window);
        let filters = x[1].shape()[3];
        let act = self.activation;
        // G = dL/dz, the gradient at the pre-activation, as a [rows, filters] matrix: the
        // activation's derivative applied in place, the bias gradient summed in the same pass.
        let mut g = if g.is_standard_layout() {
            g
        } else {
            let copy = g.as_standard_layout().into_owned();
            crate::pool::recycle(g);
            copy
        };
        let want_bias = x.len() > 2 && needed[2];
        let bias_grad = {
            let y = y.as_standard_layout();
            pre_activation_grad(
                g.as_slice_mut().expect("standard layout"),
                y.as_slice().expect("standard layout"),
                filters,
                act,
                want_bias,
            )
        };
        let kernel = standard(x[1]);
        let (input_grad, kernel_grad) = if blocked(&p, filters) {
            if let Some(patches) = saved {
                crate::pool::recycle_vec(patches);
            }
            let image = x[0].as_standard_layout();
            let mut image_grad = needed[0].then(|| crate::pool::tensor_for_overwrite(x[0].shape()));
            let kernel_grad = blocked_backward(
                &p,
                image.as_slice().expect("standard layout"),
                kernel_matrix(&kernel),
                g.as_slice().expect("standard layout"),
                needed[1],
                image_grad
                    .as_mut()
                    .map(|t| t.as_slice_mut().expect("a fresh tensor")),
            );
            (image_grad, kernel_grad)
        } else {
            let grad = g
                .view()
                .into_shape_with_order((p.rows(), filters))
                .expect("the output holds rows x filters")
                .into_dimensionality::<Ix2>()
                .expect("rank 2");
            // The kernel gradient first: its patches' buffer then serves the patch gradient.
            let kernel_grad = if needed[1] {
                let patches = saved.unwrap_or_else(|| gather(&p, x[0]));
                let lhs = ArrayView2::from_shape((p.rows(), p.row_len()), &patches)
                    .expect("rows x row_len");
                let kernel_grad = kernel_gradient(lhs, grad);
                crate::pool::recycle_vec(patches);
                Some(kernel_grad)
            } else {
                if let Some(patches) = saved {
                    crate::pool::recycle_vec(patches);
                }
                None
            };
            let input_grad = needed[0].then(|| {
                let mut patch_grad = crate::pool::take(p.rows() * p.row_len());
                let out = ArrayViewMut2::from_shape((p.rows(), p.row_len()), &mut patch_grad)
                    .expect("rows x row_len");
                matmul_into(grad, kernel_matrix(&kernel).t(), out, false);
                let mut image_grad = crate::pool::tensor_for_overwrite(x[0].shape());
                col2im(
                    &p,
                    &patch_grad,
                    image_grad.as_slice_mut().expect("a fresh tensor"),
                );
                crate::pool::recycle_vec(patch_grad);
                image_grad
            });
            (input_grad, kernel_grad)
        };
        crate::pool::recycle(g);
        let kernel_grad = kernel_grad.map(|k| {
            k.into_shape_with_order(x[1].shape())
                .expect("the kernel's size")
        });
        let mut grads = vec![input_grad, kernel_grad];
        if x.len() > 2 {
            grads.push(
                bias_grad.map(|b| Tensor::from_shape_vec(vec![filters], b).expect("[filters]")),
            );
        }
        grads
    }
}

/// Whether a convolution of this layout runs block by block ([`blocked_forward`],
/// [`blocked_backward`]): all but a 3×3 kernel over one channel with 16 or 32 filters,
/// which take the short paths over all the patches at once.
fn blocked(p: &Patches<'_>, filters: usize) -> bool {
    !(p.row_len() == SHORT_ROW && (filters == 16 || filters == 32))
}

/// The patches of a block hold about this many values (512 KiB, within a core's L2 cache
/// with the block's output and the GEMM library's packed kernel).
const BLOCK_VALUES: usize = 1 << 17;

/// Blocks of a backward pass summed into one partial kernel gradient.
const BLOCKS_PER_GROUP: usize = 4;

/// Whole samples per block: patches of about [`BLOCK_VALUES`] values, one sample at least.
fn samples_per_block(p: &Patches<'_>) -> usize {
    let per_sample = (p.rows() / p.image[0].max(1)) * p.row_len();
    (BLOCK_VALUES / per_sample.max(1)).max(1)
}

/// Runs `task` on the runtime's threads with the runtime installed (the helpers take and
/// give back their blocks' scratch in its arena).
fn for_each_block<P: Send>(pieces: impl IntoIterator<Item = P>, task: impl Fn(P) + Sync) {
    let runtime = keel_runtime::Runtime::current();
    keel_runtime::for_each_piece(pieces, |piece| runtime.install(|| task(piece)));
}

/// The forward pass block by block: each block of whole samples gathers its patches into
/// a scratch buffer that stays in the cache, multiplies them by the kernel on one thread,
/// and applies the bias and activation to its output rows while they are in the cache;
/// blocks run on the runtime's threads. The patches of the whole batch (17.8 MB for W4's
/// second layer at batch 128) are never written to memory. Blocks are cut from the shapes
/// alone and each value is computed within one block, so the bits do not depend on the
/// thread count.
fn blocked_forward(
    p: &Patches<'_>,
    image: &[f32],
    kernel: ArrayView2<'_, f32>,
    bias: Option<&[f32]>,
    act: Pointwise,
    out: &mut [f32],
) {
    let (row_len, filters) = (p.row_len(), kernel.ncols());
    let rows_per_sample = p.rows() / p.image[0].max(1);
    let block_rows = samples_per_block(p) * rows_per_sample;
    if out.is_empty() || filters == 0 {
        return;
    }
    let task = |(i, out): (usize, &mut [f32])| {
        let rows = out.len() / filters;
        let mut patches = crate::pool::take(rows * row_len);
        im2col_rows(p, image, i * block_rows, &mut patches);
        let lhs = ArrayView2::from_shape((rows, row_len), &patches).expect("rows x row_len");
        let o = ArrayViewMut2::from_shape((rows, filters), &mut *out).expect("rows x filters");
        matmul_serial_into(lhs, kernel, o, false);
        crate::pool::recycle_vec(patches);
        if bias.is_some() || act != Pointwise::Identity {
            bias_then_activation(out, bias, act);
        }
    };
    let pieces = out.chunks_mut(block_rows * filters).enumerate();
    if block_rows >= p.rows() {
        pieces.for_each(task);
    } else {
        for_each_block(pieces, task);
    }
}

/// The backward pass block by block, from `grad` (`G`, the gradient at the
/// pre-activation): each block gathers its patches again into a scratch buffer in the
/// cache, adds `patchesᵀ G_block` to its group's partial kernel gradient, then, when
/// `image_grad` is asked for, computes `G_block kernelᵀ` in the same scratch and adds it
/// back onto its samples' image gradient. Groups of [`BLOCKS_PER_GROUP`] blocks run on the
/// runtime's threads, each summing its blocks in order; the groups' sums are then added in
/// group order. Blocks and groups are cut from the shapes alone, so the bits do not
/// depend on the thread count. Returns the kernel gradient `[row_len, filters]` when
/// `want_kernel`.
fn blocked_backward(
    p: &Patches<'_>,
    image: &[f32],
    kernel: ArrayView2<'_, f32>,
    grad: &[f32],
    want_kernel: bool,
    image_grad: Option<&mut [f32]>,
) -> Option<Array2<f32>> {
    let (row_len, filters) = (p.row_len(), kernel.ncols());
    let samples = p.image[0];
    let rows_per_sample = p.rows() / samples.max(1);
    let sample_len = p.image[1] * p.image[2] * p.image[3];
    let per_block = samples_per_block(p);
    let block_rows = per_block * rows_per_sample;
    let blocks = samples.div_ceil(per_block).max(1);
    let groups = blocks.div_ceil(BLOCKS_PER_GROUP);
    let size = row_len * filters;
    if !want_kernel && image_grad.is_none() {
        return None;
    }
    if filters == 0 || rows_per_sample == 0 {
        if let Some(image_grad) = image_grad {
            image_grad.fill(0.0);
        }
        return want_kernel.then(|| Array2::zeros((row_len, filters)));
    }
    let mut partial = crate::pool::take(if want_kernel { groups * size } else { 0 });
    let group_rows = BLOCKS_PER_GROUP * block_rows;
    // Each group: its index, its rows of G, its samples' image gradient (if asked), its
    // partial sum (if asked).
    type Piece<'a> = (
        usize,
        &'a [f32],
        Option<&'a mut [f32]>,
        Option<&'a mut [f32]>,
    );
    let mut pieces: Vec<Piece<'_>> = Vec::with_capacity(groups);
    let mut images = image_grad.map(|ig| ig.chunks_mut(BLOCKS_PER_GROUP * per_block * sample_len));
    let mut sums = want_kernel.then(|| partial.chunks_mut(size));
    for (gi, g) in grad.chunks(group_rows * filters).enumerate() {
        let image = images.as_mut().and_then(Iterator::next);
        let sum = sums.as_mut().and_then(Iterator::next);
        pieces.push((gi, g, image, sum));
    }
    let task = |(gi, g, mut image_grad, mut sums): Piece<'_>| {
        let rows = g.len() / filters.max(1);
        let mut scratch = crate::pool::take(block_rows.min(rows) * row_len);
        for (bi, g) in g.chunks(block_rows * filters).enumerate() {
            let rows = g.len() / filters;
            let first_row = gi * group_rows + bi * block_rows;
            let gm = ArrayView2::from_shape((rows, filters), g).expect("rows x filters");
            let scratch = &mut scratch[..rows * row_len];
            if let Some(sums) = sums.as_deref_mut() {
                im2col_rows(p, image, first_row, scratch);
                let lhs =
                    ArrayView2::from_shape((rows, row_len), &*scratch).expect("rows x row_len");
                let out =
                    ArrayViewMut2::from_shape((row_len, filters), sums).expect("row_len x filters");
                matmul_serial_into(lhs.t(), gm, out, bi > 0);
            }
            if let Some(image_grad) = image_grad.as_deref_mut() {
                let out = ArrayViewMut2::from_shape((rows, row_len), &mut *scratch)
                    .expect("rows x row_len");
                matmul_serial_into(gm, kernel.t(), out, false);
                let first_sample = first_row / rows_per_sample;
                let len = rows / rows_per_sample * sample_len;
                let at = bi * per_block * sample_len;
                col2im_samples(p, scratch, first_sample, &mut image_grad[at..at + len]);
            }
        }
        crate::pool::recycle_vec(scratch);
    };
    if groups == 1 {
        pieces.into_iter().for_each(task);
    } else {
        for_each_block(pieces, task);
    }
    let kernel_grad = want_kernel.then(|| {
        // A pooled buffer: a kernel gradient is weight-sized, and made every step.
        let mut out = Array2::from_shape_vec((row_len, filters), crate::pool::take(size))
            .expect("row_len * filters elements");
        sum_runs(out.as_slice_mut().expect("a fresh array"), &partial);
        out
    });
    crate::pool::recycle_vec(partial);
    kernel_grad
}

/// `g = g · activation'(y)` in place (nothing for the identity), and, with `want_bias`,
/// the column sums of the result read as rows of `filters` values: the bias gradient.
/// Cut into runs of whole rows by the length alone ([`plan::row_runs`]); each run's sums
/// are added in run order, so the bits do not depend on the thread count.
fn pre_activation_grad(
    g: &mut [f32],
    y: &[f32],
    filters: usize,
    act: Pointwise,
    want_bias: bool,
) -> Option<Vec<f32>> {
    assert_eq!(
        g.len(),
        y.len(),
        "conv2d: output and its gradient differ in length"
    );
    if act == Pointwise::Identity && !want_bias {
        return None;
    }
    let run = plan::row_runs(g.len(), filters);
    let runs = g.len().div_ceil(run.max(1)).max(1);
    let mut partial = vec![0.0f32; runs * filters];
    let pieces = g
        .chunks_mut(run.max(1))
        .zip(y.chunks(run.max(1)))
        .zip(partial.chunks_mut(filters));
    let task = |((g, y), sums): ((&mut [f32], &[f32]), &mut [f32])| {
        derivative_and_sums(g, y, sums, act, want_bias)
    };
    if runs == 1 {
        pieces.for_each(task);
    } else {
        keel_runtime::for_each_piece(pieces, task);
    }
    want_bias.then(|| {
        let mut sums = vec![0.0f32; filters];
        sum_runs(&mut sums, &partial);
        sums
    })
}

/// One run of [`pre_activation_grad`]: `g = g · activation'(y)` row by row, `sums` += each
/// row when `want_bias`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn derivative_and_sums(
    g: &mut [f32],
    y: &[f32],
    sums: &mut [f32],
    act: Pointwise,
    want_bias: bool,
) {
    let filters = sums.len();
    for (g, y) in g.chunks_exact_mut(filters).zip(y.chunks_exact(filters)) {
        times_derivative_in_place(g, y, act);
        if want_bias {
            for (s, &g) in sums.iter_mut().zip(g.iter()) {
                *s += g;
            }
        }
    }
}

impl Op for Conv2d {
    fn name(&self) -> &'static str {
        "conv2d"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        self.run_forward(x, None)
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
        crate::op::needed_through_owned(self, x, y, g, needed)
    }
    fn backward_owned(
        &self,
        x: &[&Tensor],
        y: &Tensor,
        g: Tensor,
        needed: &[bool],
    ) -> Vec<Option<Tensor>> {
        self.run_backward(x, y, g, needed, None)
    }
}

/// A [`Conv2d`] on a tape that will differentiate its kernel: on the short paths (a 3×3
/// kernel over one channel, 16 or 32 filters), the forward pass keeps its patches (3.1 MB
/// for W4's first layer at batch 128) until the backward pass reads them for the kernel
/// gradient, instead of gathering them again. Blocked convolutions keep nothing.
#[derive(Debug)]
struct KeepingPatches {
    conv: Conv2d,
    patches: Kept,
}

impl Op for KeepingPatches {
    fn name(&self) -> &'static str {
        self.conv.name()
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        self.conv.run_forward(x, Some(&self.patches))
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
        crate::op::needed_through_owned(self, x, y, g, needed)
    }
    fn backward_owned(
        &self,
        x: &[&Tensor],
        y: &Tensor,
        g: Tensor,
        needed: &[bool],
    ) -> Vec<Option<Tensor>> {
        // Taken, not borrowed: a second backward pass over the same tape gathers again.
        let saved = self.patches.take();
        self.conv.run_backward(x, y, g, needed, saved)
    }
}

/// The kernel gradient `patchesᵀ G` (`[row_len, filters]`). A 3×3 kernel over one channel
/// (a grayscale image's first layer: patch rows of 9 values) with 16 or 32 filters takes
/// [`short_kernel_gradient`]. Otherwise, with few input channels the patch rows are short
/// and the product has too few rows for the plan to cut; then, if the plan can cut the
/// transposed product `Gᵀ patches` (`[filters, row_len]`, halves of its long inner
/// dimension), that one is computed on the runtime's threads, into the transposed view of
/// the result. The choice depends on the shapes alone, so the bits do not depend on the
/// thread count.
fn kernel_gradient(patches: ArrayView2<'_, f32>, grad: ArrayView2<'_, f32>) -> Array2<f32> {
    let ((rows, row_len), filters) = (patches.dim(), grad.ncols());
    if let (Some(p), Some(g), SHORT_ROW, 16 | 32) =
        (patches.as_slice(), grad.as_slice(), row_len, filters)
    {
        return short_kernel_gradient(p, g, filters);
    }
    let serial = |m, n| plan::product(m, rows, n) == plan::ProductCut::Serial;
    if serial(row_len, filters) && !serial(filters, row_len) {
        let mut out =
            Array2::from_shape_vec((row_len, filters), crate::pool::take(row_len * filters))
                .expect("row_len * filters elements");
        // Written through the transposed view: no copy, and the GEMM library, which reads
        // and writes through strides, sees the same problem as for `patchesᵀ G`.
        matmul_into(grad.t(), patches, out.view_mut().reversed_axes(), false);
        out
    } else {
        product(patches.t(), grad)
    }
}

/// The patch row length [`short_kernel_gradient`] takes: a 3×3 kernel over one channel.
const SHORT_ROW: usize = 9;

/// `patchesᵀ G` for patch rows of [`SHORT_ROW`] values and 16 or 32 filters, without a
/// product: the general product of a `[9, rows] @ [rows, filters]` shape keeps few output
/// values and streams two long operands, and ran at about a quarter of its usual speed for
/// W4's first layer (`[9, 86528] @ [86528, 32]`). Here each run of rows (cut by
/// [`plan::row_runs`] from the length alone) adds `patch[t] · G_row` into its own `9 ×
/// filters` sums, held in registers, row after row; the runs' sums are then added in run
/// order, so the bits do not depend on the thread count.
fn short_kernel_gradient(patches: &[f32], grad: &[f32], filters: usize) -> Array2<f32> {
    let rows = patches.len() / SHORT_ROW;
    debug_assert_eq!(grad.len(), rows * filters);
    let size = SHORT_ROW * filters;
    let mut out = Array2::zeros((SHORT_ROW, filters));
    if rows == 0 {
        return out;
    }
    let per_run = plan::row_runs(patches.len(), SHORT_ROW) / SHORT_ROW;
    let runs = rows.div_ceil(per_run);
    let mut partial = vec![0.0f32; runs * size];
    let pieces = patches
        .chunks(per_run * SHORT_ROW)
        .zip(grad.chunks(per_run * filters))
        .zip(partial.chunks_mut(size));
    let task = |((p, g), sums): ((&[f32], &[f32]), &mut [f32])| {
        if filters == 16 {
            outer_products_16(sums, p, g)
        } else {
            outer_products_32(sums, p, g)
        }
    };
    if runs == 1 {
        pieces.for_each(task);
    } else {
        keel_runtime::for_each_piece(pieces, task);
    }
    sum_runs(out.as_slice_mut().expect("a fresh array"), &partial);
    out
}

/// `total = Σ` of the runs' partial sums `partial` (runs of `total.len()` values), added
/// onto zeros in run order: the bits do not depend on which thread summed which run.
fn sum_runs(total: &mut [f32], partial: &[f32]) {
    total.fill(0.0);
    for run in partial.chunks_exact(total.len().max(1)) {
        for (s, &v) in total.iter_mut().zip(run) {
            *s += v;
        }
    }
}

/// `out = activation(patches K + bias)` for patch rows of [`SHORT_ROW`] values and 32
/// filters (a 3×3 kernel over one channel), without a product: the general product of a
/// `[rows, 9] @ [9, 32]` shape does little work per value it loads and stores, and its
/// output then takes a second pass for the bias and activation. Here the kernel stays in
/// registers and each output row is written once, activation included. Runs of rows are
/// cut by [`plan::row_runs`] from the length alone; each value is computed on its own.
fn short_forward(
    patches: &[f32],
    kernel: &[f32],
    bias: Option<&[f32]>,
    act: Pointwise,
    out: &mut [f32],
) {
    const F: usize = 32;
    let kernel: &[f32; SHORT_ROW * F] = kernel.try_into().expect("a [9, 32] kernel");
    let zeros = [0.0f32; F];
    let bias: &[f32; F] = bias.unwrap_or(&zeros).try_into().expect("a [32] bias");
    let run = plan::row_runs(out.len(), F);
    let task = |(i, out): (usize, &mut [f32])| {
        let rows = i * run / F..i * run / F + out.len() / F;
        let p = &patches[rows.start * SHORT_ROW..rows.end * SHORT_ROW];
        let relu = act == Pointwise::Relu;
        rows_times_kernel_32(p, kernel, bias, relu, out);
        if !relu && act != Pointwise::Identity {
            bias_then_activation(out, None, act);
        }
    };
    if run >= out.len() {
        task((0, out));
    } else {
        keel_runtime::for_each_piece(out.chunks_mut(run).enumerate(), task);
    }
}

/// `out_row = p_row K + bias` for each row (the sums `Σ_t p[t] · K[t, :]` in tap order,
/// then `+ bias`), and `max(·, 0)` with `relu`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn rows_times_kernel_32(
    patches: &[f32],
    kernel: &[f32; SHORT_ROW * 32],
    bias: &[f32; 32],
    relu: bool,
    out: &mut [f32],
) {
    const F: usize = 32;
    for (p, o) in patches.chunks_exact(SHORT_ROW).zip(out.chunks_exact_mut(F)) {
        let mut acc = [0.0f32; F];
        for t in 0..SHORT_ROW {
            let a = p[t];
            for f in 0..F {
                acc[f] += a * kernel[t * F + f];
            }
        }
        if relu {
            for f in 0..F {
                o[f] = (acc[f] + bias[f]).max(0.0);
            }
        } else {
            for f in 0..F {
                o[f] = acc[f] + bias[f];
            }
        }
    }
}

/// `sums[t, :] = Σ_rows p[t] · g` over the row pairs `(p, g)` of `patches` (rows of `T`)
/// and `grad` (rows of `F`), in row order, the `T × F` sums in registers.
#[inline(always)]
fn outer_products<const T: usize, const F: usize>(sums: &mut [f32], patches: &[f32], grad: &[f32]) {
    let mut acc = [[0.0f32; F]; T];
    for (p, g) in patches.chunks_exact(T).zip(grad.chunks_exact(F)) {
        let g: &[f32; F] = g.try_into().expect("rows of F");
        for t in 0..T {
            let a = p[t];
            for f in 0..F {
                acc[t][f] += a * g[f];
            }
        }
    }
    for (s, a) in sums.chunks_exact_mut(F).zip(&acc) {
        s.copy_from_slice(a);
    }
}

/// [`outer_products`] for 16 filters, compiled for AVX-512 and AVX2.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn outer_products_16(sums: &mut [f32], patches: &[f32], grad: &[f32]) {
    outer_products::<SHORT_ROW, 16>(sums, patches, grad)
}

/// [`outer_products`] for 32 filters, compiled for AVX-512 and AVX2.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn outer_products_32(sums: &mut [f32], patches: &[f32], grad: &[f32]) {
    outer_products::<SHORT_ROW, 32>(sums, patches, grad)
}

impl<'t> Var<'t> {
    /// `activation(conv2d(self, kernel) + bias)` over channels-last images as one fused op:
    /// `[batch, h, w, in]` with a kernel `[kh, kw, in, out]` (Keras's layout) gives
    /// `[batch, out_h, out_w, out]`, with the strides, padding and dilation of `conv`.
    ///
    /// For a 3×3 kernel over one channel with 16 or 32 filters, when the tape will
    /// differentiate the kernel, the forward pass keeps its patches
    /// (`batch · out_h · out_w × 9` values) for the kernel gradient until the backward
    /// pass.
    ///
    /// # Panics
    /// If the input is not rank 4, the kernel not `[kh, kw, in, out]` for the input's `in`,
    /// the bias not `[out]`, or the window does not fit the input (layers check this).
    ///
    /// ```
    /// use keel_autograd::ops::{conv2d::Conv2d, window::Padding};
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// // One 3x3 single-channel image and a 2x2 kernel of ones: sums of each 2x2 window.
    /// let x = tape.constant(tensor(&[1, 3, 3, 1], (1..=9).map(|v| v as f32).collect()));
    /// let k = tape.constant(tensor(&[2, 2, 1, 1], vec![1.0; 4]));
    /// let y = x.conv2d(k, None, Conv2d::default());
    /// assert_eq!(y.shape(), vec![1, 2, 2, 1]);
    /// assert_eq!(y.value().as_slice().unwrap(), &[12.0, 16.0, 24.0, 28.0]);
    /// let same = x.conv2d(k, None, Conv2d { padding: Padding::Same, ..Conv2d::default() });
    /// assert_eq!(same.shape(), vec![1, 3, 3, 1]);
    /// ```
    pub fn conv2d(self, kernel: Var<'t>, bias: Option<Var<'t>>, conv: Conv2d) -> Var<'t> {
        let tape = self.tape();
        let inputs = match bias {
            Some(b) => vec![self, kernel, b],
            None => vec![self, kernel],
        };
        if tape.requires_grad(kernel.id()) {
            let op = KeepingPatches {
                conv,
                patches: Kept::default(),
            };
            tape.apply(op, &inputs)
        } else {
            tape.apply(conv, &inputs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check_gradients, tensor, GradCheck, Tape};

    /// A direct, loop-by-loop convolution to compare with.
    fn naive(x: &Tensor, k: &Tensor, conv: Conv2d) -> Tensor {
        let (s, ks) = (x.shape(), k.shape());
        let window = conv.window(ks);
        let g = window.geometry((s[1], s[2])).unwrap();
        let (oh, ow) = g.out;
        Tensor::from_shape_fn(vec![s[0], oh, ow, ks[3]], |i| {
            let (b, oy, ox, f) = (i[0], i[1], i[2], i[3]);
            let mut sum = 0.0f64;
            for ki in 0..ks[0] {
                for kj in 0..ks[1] {
                    let y =
                        (oy * conv.strides.0 + ki * conv.dilation.0) as isize - g.pad.0 as isize;
                    let xx =
                        (ox * conv.strides.1 + kj * conv.dilation.1) as isize - g.pad.1 as isize;
                    if y < 0 || xx < 0 || y >= s[1] as isize || xx >= s[2] as isize {
                        continue;
                    }
                    for c in 0..s[3] {
                        sum += f64::from(x[[b, y as usize, xx as usize, c]] * k[[ki, kj, c, f]]);
                    }
                }
            }
            sum as f32
        })
    }

    fn sample(shape: &[usize], seed: usize) -> Tensor {
        let len: usize = shape.iter().product();
        tensor(
            shape,
            (0..len)
                .map(|i| ((i * 37 + seed * 11) % 29) as f32 / 9.0 - 1.5)
                .collect(),
        )
    }

    fn variants() -> Vec<Conv2d> {
        let d = Conv2d::default();
        vec![
            d,
            Conv2d {
                padding: Padding::Same,
                ..d
            },
            Conv2d {
                strides: (2, 2),
                ..d
            },
            Conv2d {
                strides: (2, 1),
                padding: Padding::Same,
                ..d
            },
            Conv2d {
                dilation: (2, 2),
                ..d
            },
            Conv2d {
                dilation: (1, 2),
                padding: Padding::Same,
                ..d
            },
        ]
    }

    #[test]
    fn values_match_a_direct_convolution() {
        let (x, k) = (sample(&[2, 6, 7, 3], 1), sample(&[3, 2, 3, 4], 2));
        for conv in variants() {
            let tape = Tape::new();
            let y = tape
                .constant(x.clone())
                .conv2d(tape.constant(k.clone()), None, conv);
            let want = naive(&x, &k, conv);
            assert_eq!(y.shape(), want.shape(), "{conv:?}");
            let diff = (&*y.value() - &want)
                .mapv(f32::abs)
                .fold(0.0f32, |a, &b| a.max(b));
            assert!(diff < 1e-4, "{conv:?}: {diff}");
        }
    }

    #[test]
    fn a_3x3_kernel_over_one_channel_with_32_or_16_filters_matches_too() {
        // The short paths: `short_forward` (32 filters) and `short_kernel_gradient`.
        for filters in [32, 16] {
            let (x, k, b) = (
                sample(&[2, 7, 8, 1], 15),
                sample(&[3, 3, 1, filters], 16),
                sample(&[filters], 17),
            );
            for conv in variants() {
                let tape = Tape::new();
                let y = tape
                    .constant(x.clone())
                    .conv2d(tape.constant(k.clone()), None, conv);
                let want = naive(&x, &k, conv);
                let diff = (&*y.value() - &want)
                    .mapv(f32::abs)
                    .fold(0.0f32, |a, &b| a.max(b));
                assert!(diff < 1e-4, "{conv:?}: {diff}");
            }
            let inputs = [sample(&[2, 5, 4, 1], 18), k, b];
            for act in [Pointwise::Identity, Pointwise::Relu, Pointwise::Tanh] {
                let conv = Conv2d {
                    activation: act,
                    ..Conv2d::default()
                };
                check_gradients(
                    |_, v| v[0].conv2d(v[1], Some(v[2]), conv),
                    &inputs,
                    GradCheck::default(),
                )
                .unwrap_or_else(|e| panic!("{filters} {act:?}: {e}"));
            }
        }
    }

    #[test]
    fn bias_and_relu_are_fused_like_the_unfused_composition() {
        let (x, k, b) = (
            sample(&[2, 5, 5, 2], 3),
            sample(&[3, 3, 2, 3], 4),
            sample(&[3], 5),
        );
        let tape = Tape::new();
        let (xv, kv, bv) = (tape.constant(x), tape.constant(k), tape.constant(b));
        let relu = Conv2d {
            activation: Pointwise::Relu,
            ..Conv2d::default()
        };
        let fused = xv.conv2d(kv, Some(bv), relu).value();
        let unfused = (xv.conv2d(kv, None, Conv2d::default()) + bv).relu().value();
        assert_eq!(*fused, *unfused);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let inputs = [
            sample(&[2, 5, 6, 2], 6),
            sample(&[3, 2, 2, 3], 7),
            sample(&[3], 8),
        ];
        for conv in variants() {
            for act in [Pointwise::Identity, Pointwise::Tanh] {
                let conv = Conv2d {
                    activation: act,
                    ..conv
                };
                check_gradients(
                    |_, v| v[0].conv2d(v[1], Some(v[2]), conv),
                    &inputs,
                    GradCheck::default(),
                )
                .unwrap_or_else(|e| panic!("{conv:?}: {e}"));
            }
        }
        check_gradients(
            |_, v| v[0].conv2d(v[1], None, Conv2d::default()),
            &inputs[..2],
            GradCheck::default(),
        )
        .unwrap();
    }

    #[test]
    fn one_and_two_threads_give_identical_bits() {
        // Eight input channels; then one (W4's first layer: the kernel gradient is
        // computed transposed, see `kernel_gradient`).
        for (image, kernel) in [
            ([16, 16, 16, 8], [3, 3, 8, 32]),
            ([8, 30, 30, 1], [3, 3, 1, 32]),
        ] {
            same_bits_on_one_and_two_threads(&image, &kernel);
        }
    }

    #[test]
    fn a_kernel_gradient_with_short_patch_rows_is_right_and_the_same_on_any_thread_count() {
        // W4's first layer at batch 8 (cut into runs), a short one (one run), and eight
        // filters (the product `Gᵀ patches`, cut along its inner dimension).
        for (rows, row_len, filters) in [(8 * 26 * 26 + 3, 9, 32), (7, 9, 16), (8 * 784, 9, 8)] {
            let patches = sample(&[rows, row_len], 1)
                .into_dimensionality::<Ix2>()
                .unwrap();
            let grad = sample(&[rows, filters], 2)
                .into_dimensionality::<Ix2>()
                .unwrap();
            let run = |threads: usize| {
                crate::on_threads(threads, || kernel_gradient(patches.view(), grad.view()))
            };
            let got = run(1);
            assert_eq!(got, run(2));
            let want = patches.t().dot(&grad);
            let diff = (&got - &want).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
            assert!(
                diff < 1e-4 * want.mapv(f32::abs).fold(1.0f32, |a, &b| a.max(b)) * rows as f32,
                "{diff}"
            );
        }
    }

    #[test]
    fn blocks_and_groups_give_the_whole_batch_products() {
        // 2 samples a block, 5 blocks, groups of 4 and 1: against the products over all the
        // patches at once, and the same bits on one and two threads.
        let conv = Conv2d {
            activation: Pointwise::Relu,
            ..Conv2d::default()
        };
        let (x, k, b) = (
            sample(&[10, 20, 20, 16], 19),
            sample(&[3, 3, 16, 8], 20),
            sample(&[8], 21),
        );
        let window = conv.window(k.shape());
        let p = conv.layout(&[&x, &k], &window);
        assert!(blocked(&p, 8));
        assert_eq!(samples_per_block(&p), 2);
        let run = |threads: usize| {
            crate::on_threads(threads, || {
                let tape = Tape::new();
                let (xv, kv, bv) = (
                    tape.var(x.clone()),
                    tape.var(k.clone()),
                    tape.var(b.clone()),
                );
                let y = xv.conv2d(kv, Some(bv), conv);
                let grads = (y * y).sum().backward();
                let grad = |v| grads.get(v).unwrap().clone();
                (y.value().as_ref().clone(), grad(xv), grad(kv), grad(bv))
            })
        };
        let (y, dx, dk, db) = run(1);
        assert_eq!((y.clone(), dx.clone(), dk.clone(), db.clone()), run(2));
        // The whole-batch formulas: G = 2y · relu'(y) = 2y.
        let close = |a: &Tensor, b: &Tensor| {
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let diff = (a - b).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
            assert!(diff <= 1e-5 * scale, "{diff} of {scale}");
        };
        let want_y = naive(&x, &k, Conv2d::default()) + &b;
        close(&y, &want_y.mapv(|v| v.max(0.0)));
        let g = y.mapv(|v| 2.0 * v);
        let rows = p.rows();
        let g2 = g.view().into_shape_with_order((rows, 8)).unwrap();
        let g2 = g2.into_dimensionality::<Ix2>().unwrap();
        let patches = gather(&p, &x);
        let patches = ArrayView2::from_shape((rows, p.row_len()), &patches).unwrap();
        close(
            &dk,
            &patches
                .t()
                .dot(&g2)
                .into_shape_with_order(k.shape())
                .unwrap(),
        );
        let patch_grad = g2.dot(&kernel_matrix(&k).t());
        let mut want_dx = Tensor::zeros(x.shape());
        col2im(
            &p,
            patch_grad.as_slice().unwrap(),
            want_dx.as_slice_mut().unwrap(),
        );
        close(&dx, &want_dx);
        close(&db, &g2.sum_axis(ndarray::Axis(0)).into_dyn());
    }

    #[test]
    fn kept_patches_give_the_gradients_of_patches_gathered_again() {
        // A 3×3 kernel over one channel with 16 filters: the short path, which keeps them.
        let (x, k, b) = (
            sample(&[3, 9, 8, 1], 12),
            sample(&[3, 3, 1, 16], 13),
            sample(&[16], 14),
        );
        let relu = Conv2d {
            activation: Pointwise::Relu,
            ..Conv2d::default()
        };
        let tape = Tape::new();
        let (xv, kv, bv) = (
            tape.var(x.clone()),
            tape.var(k.clone()),
            tape.var(b.clone()),
        );
        let kept = xv.conv2d(kv, Some(bv), relu);
        // The plain op keeps nothing and gathers in its backward pass.
        let plain = tape.apply(relu, &[xv, kv, bv]);
        assert_eq!(*kept.value(), *plain.value());
        let root = (kept * kept).sum();
        let first = root.backward();
        let again = root.backward(); // the patches were used up: gathered again
        let other = (plain * plain).sum().backward();
        for v in [xv, kv, bv] {
            assert_eq!(first.get(v), again.get(v));
            assert_eq!(first.get(v), other.get(v));
        }
        // A tape dropped before any backward pass gives its patches back.
        let tape = Tape::new();
        let y = tape
            .constant(x)
            .conv2d(tape.var(k), Some(tape.var(b)), relu);
        assert_eq!(y.shape(), vec![3, 7, 6, 16]);
        drop(tape);
    }

    fn same_bits_on_one_and_two_threads(image: &[usize], kernel: &[usize]) {
        let (x, k, b) = (
            sample(image, 9),
            sample(kernel, 10),
            sample(&[kernel[3]], 11),
        );
        let run = |threads: usize| {
            crate::on_threads(threads, || {
                let tape = Tape::new();
                let (xv, kv, bv) = (
                    tape.var(x.clone()),
                    tape.var(k.clone()),
                    tape.var(b.clone()),
                );
                let relu = Conv2d {
                    activation: Pointwise::Relu,
                    padding: Padding::Same,
                    ..Conv2d::default()
                };
                let y = xv.conv2d(kv, Some(bv), relu);
                let grads = (y * y).sum().backward();
                let grad = |v| grads.get(v).unwrap().clone();
                (y.value().as_ref().clone(), grad(xv), grad(kv), grad(bv))
            })
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    #[should_panic(
        expected = "conv2d: input [1, 4, 4, 2] [batch, h, w, in] is incompatible with kernel [3, 3, 1, 2]"
    )]
    fn mismatched_channels_name_both_shapes() {
        let tape = Tape::new();
        let x = tape.constant(sample(&[1, 4, 4, 2], 0));
        let _ = x.conv2d(
            tape.constant(sample(&[3, 3, 1, 2], 0)),
            None,
            Conv2d::default(),
        );
    }
}
