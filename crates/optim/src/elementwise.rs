//! The loop every update rule runs: a parameter, its gradient and the rule's state
//! tensors walked together as contiguous slices, cut into runs shared by the
//! runtime's threads when large, as [`keel_runtime::plan::runs`] cuts them.
//!
//! Rules write their per-element arithmetic as a function over slices, tagged
//! `#[multiversion]` so it is compiled for AVX-512 and AVX2 and picked at run time. Each
//! element's update is independent and the compiler never fuses a multiply and an add, so
//! the split and the instruction set change no bit of the result.
//!
//! Each kernel reports whether every value it wrote is finite, testing each value as it
//! writes it (in registers: [`nonfinite`]), so the optimizer's guarantee that an applied
//! step leaves finite weights and state costs no pass of its own over memory.

use keel_autograd::Tensor;
use keel_runtime::{for_each_piece, plan};
use multiversion::multiversion;
use std::sync::atomic::{AtomicBool, Ordering};

/// The exponent bits of an `f32`: all set exactly for NaN and the infinities.
const EXPONENT: u32 = 0x7f80_0000;

/// 1 for NaN or an infinity, else 0: a kernel ORs this over every value it writes.
#[inline(always)]
pub(crate) fn nonfinite(x: f32) -> u32 {
    u32::from(x.to_bits() & EXPONENT == EXPONENT)
}

/// Whether every element of `xs` is finite: one branch-free pass of integer tests, which
/// the compiler vectorises (an OR reduction of integers needs no reassociation of floats).
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
pub(crate) fn all_finite(xs: &[f32]) -> bool {
    xs.iter().fold(0u32, |acc, &x| acc | nonfinite(x)) == 0
}

/// Calls `kernel(param, grad, slots)` over matching contiguous runs of the parameter, its
/// gradient and `K` state tensors of the same shape, on the runtime's threads when long.
/// The kernel returns whether every value it wrote is finite; so does this, for all runs.
pub(crate) fn for_each_run<const K: usize>(
    param: &mut Tensor,
    grad: &Tensor,
    slots: [&mut Tensor; K],
    kernel: impl Fn(&mut [f32], &[f32], [&mut [f32]; K]) -> bool + Sync,
) -> bool {
    let grad = grad.as_standard_layout();
    let grad = grad.as_slice().expect("standard layout is contiguous");
    split(
        standard_slice(param),
        grad,
        slots.map(standard_slice),
        &kernel,
    )
}

fn split<const K: usize>(
    param: &mut [f32],
    grad: &[f32],
    slots: [&mut [f32]; K],
    kernel: &(impl Fn(&mut [f32], &[f32], [&mut [f32]; K]) -> bool + Sync),
) -> bool {
    let run = plan::runs(param.len());
    if run >= param.len() {
        return kernel(param, grad, slots);
    }
    let mut params = param.chunks_mut(run);
    let mut grads = grad.chunks(run);
    let mut slots = slots.map(|s| s.chunks_mut(run));
    let runs = std::iter::from_fn(|| {
        let p = params.next()?;
        let g = grads.next().expect("grad as long as param");
        let s = slots
            .each_mut()
            .map(|s| s.next().expect("slot as long as param"));
        Some((p, g, s))
    });
    let finite = AtomicBool::new(true);
    for_each_piece(runs, |(p, g, s)| {
        if !kernel(p, g, s) {
            finite.store(false, Ordering::Relaxed);
        }
    });
    finite.into_inner()
}

/// The tensor's elements in row-major order, converting it to that layout first if a
/// caller built it otherwise (once: the update keeps the layout).
fn standard_slice(t: &mut Tensor) -> &mut [f32] {
    if !t.is_standard_layout() {
        *t = t.as_standard_layout().into_owned();
    }
    t.as_slice_mut().expect("standard layout is contiguous")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn, ShapeBuilder};

    fn ramp(n: usize) -> Tensor {
        Tensor::from_shape_fn(IxDyn(&[n]), |i| (i[0] % 1000) as f32 * 0.5)
    }

    #[test]
    fn runs_on_threads_match_one_serial_pass() {
        let n = 3 * plan::ELEMENTWISE_MIN_LEN + 5;
        let (mut p, g, mut s) = (ramp(n), ramp(n), Tensor::zeros(IxDyn(&[n])));
        for_each_run(&mut p, &g, [&mut s], |p, g, [s]| {
            for ((p, &g), s) in p.iter_mut().zip(g).zip(s.iter_mut()) {
                *s = g * 3.0;
                *p = *p * 2.0 - *s;
            }
            true
        });
        let r = ramp(n);
        assert!(p.iter().zip(&r).all(|(&p, &r)| p == r * 2.0 - r * 3.0));
        assert!(s.iter().zip(&r).all(|(&s, &r)| s == r * 3.0));
    }

    #[test]
    fn a_run_that_writes_a_non_finite_value_fails_the_whole_update() {
        let n = 3 * plan::ELEMENTWISE_MIN_LEN + 5;
        for at in [0, n / 2, n - 1] {
            let (mut p, g) = (ramp(n), ramp(n));
            p[at] = f32::MAX;
            let doubled = |p: &mut [f32], _: &[f32], _: [&mut [f32]; 0]| {
                p.iter_mut().fold(0, |bad, p| {
                    *p *= 2.0;
                    bad | nonfinite(*p)
                }) == 0
            };
            assert!(!for_each_run(&mut p, &g, [], doubled), "overflow at {at}");
            assert!(p[at].is_infinite());
            p[at] = 1.0;
            assert!(for_each_run(&mut p, &g, [], doubled));
        }
    }

    #[test]
    fn nonfinite_flags_nan_and_the_infinities_only() {
        for x in [f32::NAN, f32::INFINITY, -f32::INFINITY] {
            assert_eq!(nonfinite(x), 1, "{x}");
        }
        for x in [f32::MAX, f32::MIN, f32::MIN_POSITIVE / 2.0, 0.0, -0.0] {
            assert_eq!(nonfinite(x), 0, "{x}");
        }
        assert!(all_finite(&[1.0, f32::MIN]) && !all_finite(&[1.0, f32::NAN]));
    }

    #[test]
    fn column_major_operands_are_matched_by_index() {
        let column_major = |f: fn(usize, usize) -> f32| {
            let mut t = ArrayD::zeros(IxDyn(&[3, 4]).f());
            t.indexed_iter_mut().for_each(|(i, v)| *v = f(i[0], i[1]));
            t
        };
        let mut p = column_major(|i, j| (i * 4 + j) as f32);
        let g = column_major(|i, j| (i + j) as f32);
        let want = Tensor::from_shape_fn(IxDyn(&[3, 4]), |i| {
            (i[0] * 4 + i[1]) as f32 - (i[0] + i[1]) as f32
        });
        for_each_run(&mut p, &g, [], |p, g, []| {
            p.iter_mut().zip(g).for_each(|(p, &g)| *p -= g);
            true
        });
        assert_eq!(p, want);
    }
}
