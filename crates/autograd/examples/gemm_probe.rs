use ndarray::Array2;
use std::time::Instant;
fn main() {
    let shapes = [
        (128usize, 784usize, 512usize, "fwd1"),
        (128, 512, 512, "fwd2"),
        (784, 128, 512, "dW1 (xT g)"),
        (512, 128, 512, "dW2"),
        (128, 512, 512, "dX2 (g wT)"),
        (1024, 1024, 1024, "big"),
        (32, 784, 32, "w1 fwd"),
        (784, 32, 32, "w1 dW"),
    ];
    for (m, k, n, name) in shapes {
        let a = Array2::<f32>::from_shape_fn((m, k), |(i, j)| ((i * 7 + j * 3) % 13) as f32 * 0.01);
        let at = a.t().to_owned(); // for transposed-layout cases
        let b = Array2::<f32>::from_shape_fn((k, n), |(i, j)| ((i * 5 + j) % 11) as f32 * 0.01);
        let bt = b.t().to_owned();
        let mut out = Array2::<f32>::zeros((m, n));
        for (label, lhs_t, rhs_t) in [
            ("nn", false, false),
            ("tn", true, false),
            ("nt", false, true),
        ] {
            let lhs = if lhs_t { at.t() } else { a.view() };
            let rhs = if rhs_t { bt.t() } else { b.view() };
            let reps = (2e9 / (2.0 * (m * k * n) as f64)).max(10.0) as usize;
            for _ in 0..3 {
                keel_autograd::matmul_into(lhs, rhs, out.view_mut(), false);
            }
            let t = Instant::now();
            for _ in 0..reps {
                keel_autograd::matmul_into(lhs, rhs, out.view_mut(), false);
            }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            println!(
                "{name:12} {m}x{k}x{n} {label}: {:.1} us, {:.1} GFLOP/s",
                s * 1e6,
                2.0 * (m * k * n) as f64 / s / 1e9
            );
        }
    }
}
