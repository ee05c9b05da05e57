//! GFLOP/s of `matmul_into` at the MNIST workloads' shapes and at 1024³, for the roofline in
//! `docs/performance.md`: what the products reach with hot operands, against which a
//! training step's time is judged.
//!
//! ```sh
//! KEEL_NUM_THREADS=1 cargo run --release -p keel-autograd --example gemm_throughput
//! cargo run --release -p keel-autograd --example gemm_throughput
//! ```

use ndarray::Array2;
use std::time::Instant;

fn main() {
    // (m, k, n, what): the forward, weight-gradient and input-gradient products of W2 and W1.
    let shapes = [
        (128, 784, 512, "W2 layer 1 forward"),
        (784, 128, 512, "W2 layer 1 kernel gradient"),
        (128, 512, 512, "W2 layer 2 forward / input gradient"),
        (512, 128, 512, "W2 layer 2 kernel gradient"),
        (32, 784, 32, "W1 layer 1 forward"),
        (784, 32, 32, "W1 layer 1 kernel gradient"),
        (1024, 1024, 1024, "square"),
    ];
    println!("threads: {}", keel_runtime::Runtime::global().threads());
    for (m, k, n, what) in shapes {
        let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * 7 + j * 3) % 13) as f32 * 0.01);
        let b = Array2::from_shape_fn((k, n), |(i, j)| ((i * 5 + j) % 11) as f32 * 0.01);
        let mut out = Array2::zeros((m, n));
        let flops = 2.0 * (m * k * n) as f64;
        let reps = (4e9 / flops).max(10.0) as usize;
        for _ in 0..3 {
            keel_autograd::matmul_into(a.view(), b.view(), out.view_mut(), false);
        }
        let start = Instant::now();
        for _ in 0..reps {
            keel_autograd::matmul_into(a.view(), b.view(), out.view_mut(), false);
        }
        let seconds = start.elapsed().as_secs_f64() / reps as f64;
        println!(
            "{m:>5} x {k:>4} x {n:>4}  {:>9.1} µs  {:>6.1} GFLOP/s  {what}",
            seconds * 1e6,
            flops / seconds / 1e9
        );
    }
}
