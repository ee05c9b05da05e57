//! What every layer made of a kernel and an optional bias shares (Dense, Conv2D): their
//! names in order, and the regularizers' penalty on them.

use crate::Regularizer;
use keel_autograd::{Param, Tape, Var};

/// `("kernel", kernel)` then `("bias", bias)`, those that exist.
pub(crate) fn params<'a>(
    kernel: &'a Option<Param>,
    bias: &'a Option<Param>,
) -> Vec<(&'static str, &'a Param)> {
    let kernel = kernel.iter().map(|p| ("kernel", p));
    kernel.chain(bias.iter().map(|p| ("bias", p))).collect()
}

/// [`params`], mutable.
pub(crate) fn params_mut<'a>(
    kernel: &'a mut Option<Param>,
    bias: &'a mut Option<Param>,
) -> Vec<(&'static str, &'a mut Param)> {
    let kernel = kernel.iter_mut().map(|p| ("kernel", p));
    kernel.chain(bias.iter_mut().map(|p| ("bias", p))).collect()
}

/// The sum of the kernel's and the bias's regularization penalties on `tape`, if either
/// has a regularizer.
pub(crate) fn penalty<'t>(
    tape: &'t Tape,
    kernel: (Option<Regularizer>, &Option<Param>),
    bias: (Option<Regularizer>, &Option<Param>),
) -> Option<Var<'t>> {
    let one = |(reg, param): (Option<Regularizer>, &Option<Param>)| {
        Some(reg?.penalty(tape.param(param.as_ref()?)))
    };
    match (one(kernel), one(bias)) {
        (Some(k), Some(b)) => Some(k + b),
        (k, b) => k.or(b),
    }
}
