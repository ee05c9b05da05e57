//! Trains the peer workloads of `shared/peers/README.md` through Keel's public
//! `Sequential` API (no private fast path) and prints one line per epoch and a final
//! `RESULT {json}` line comparable with the peers' output.
//!
//! ```sh
//! cargo run --release -p keel-bench -- w1            # seed model, batch 32, 10 epochs
//! cargo run --release -p keel-bench -- w2 --epochs 3 # 784-512-512-10, batch 128
//! cargo run --release -p keel-bench -- w4 --epochs 1 # the MNIST convnet, batch 128
//! ```

mod workload;

use clap::Parser;
use keel::prelude::*;
use workload::Workload;

/// Train a peer workload and report timings.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// `w1` (seed model), `w2` (throughput MLP) or `w4` (MNIST convnet).
    workload: Workload,
    /// Override the workload's epoch count.
    #[arg(long)]
    epochs: Option<usize>,
    /// Seeds weights, shuffling and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Override the batch size (for the sweeps in docs/performance.md).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Override every hidden layer's width (for the sweeps in docs/performance.md).
    #[arg(long)]
    hidden: Option<usize>,
    /// Instead: train two models one after the other, then two at once on two threads of
    /// this process, and print both wall times (`RESULT {"pair": ...}`).
    #[arg(long)]
    pair: bool,
    /// Train as one process of an MPI job, data parallel (run under `mpirun --bind-to
    /// none`; needs the `mpi` feature). Each process trains on its share of the CPUs
    /// unless KEEL_NUM_THREADS is set; only rank 0 prints.
    #[cfg(feature = "mpi")]
    #[arg(long)]
    data_parallel: bool,
}

/// The peak resident set size of this process so far, in MiB (`VmHWM`), if readable.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The median of epochs 2..n (epoch 1 is warm-up), as the peers report it.
fn median_after_first(seconds: &[f64]) -> f64 {
    let mut v: Vec<f64> = if seconds.len() >= 2 {
        seconds[1..].to_vec()
    } else {
        seconds.to_vec()
    };
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn main() -> keel::Result<()> {
    let args = Args::parse();
    let mut spec = args.workload.spec();
    if let Some(batch_size) = args.batch_size {
        spec.batch_size = batch_size;
    }
    if let Some(width) = args.hidden {
        spec.hidden = spec.hidden.iter().map(|_| width).collect();
    }
    let epochs = args.epochs.unwrap_or(spec.epochs);
    let mnist = keel::data::mnist::load_default()?;
    if args.pair {
        return pair(&args, &spec, epochs, &mnist.train);
    }
    #[cfg(feature = "mpi")]
    let mut group = match args.data_parallel {
        true => Some(keel::distributed::Mpi::init()?),
        false => None,
    };
    #[cfg(not(feature = "mpi"))]
    let mut group: Option<keel::distributed::ThreadGroup> = None;
    // A process of a data-parallel group trains on its share of the CPUs.
    #[cfg(feature = "mpi")]
    let threads = group
        .as_ref()
        .map(keel::distributed::Mpi::threads_per_process);
    #[cfg(not(feature = "mpi"))]
    let threads = group
        .as_ref()
        .map(|_| keel::runtime::Runtime::global().threads());
    let mut model = spec.model(args.seed);
    let options = fit_options(&spec, epochs, args.seed, threads);
    let options = match group.as_mut() {
        Some(group) => options.data_parallel(group),
        None => options,
    };
    let history = train(&mut model, options, &mnist.train)?;
    let (rank, ranks) = group.as_ref().map_or((0, 1), |g| (g.rank(), g.size()));
    if rank != 0 {
        return Ok(());
    }
    for (i, s) in history.epoch_seconds().iter().enumerate() {
        let at = |name: &str| history.get(name).map_or(f64::NAN, |v| v[i]);
        println!(
            "epoch {:>2}: {s:.3}s | loss {:.4} acc {:.4} | val_loss {:.4} val_acc {:.4}",
            i + 1,
            at("loss"),
            at("accuracy"),
            at("val_loss"),
            at("val_accuracy")
        );
    }
    let scores = model.evaluate_verbose(&mnist.test, 0)?;
    let result = serde_json::json!({
        "framework": "keel",
        "workload": args.workload.name(),
        "batch": spec.batch_size,
        "hidden": spec.hidden,
        "epochs": epochs,
        "threads": threads.unwrap_or_else(|| keel::runtime::Runtime::global().threads()),
        "threads_set": std::env::var(keel::runtime::THREADS_ENV).is_ok(),
        "ranks": ranks,
        "sync_ms": history.get("sync_ms"),
        "sync_wait_ms": history.get("sync_wait_ms"),
        "epoch_s": history.epoch_seconds(),
        "epoch_median": median_after_first(history.epoch_seconds()),
        "final_val_acc": history.last("val_accuracy"),
        "test_acc": scores.get("accuracy"),
        "test_loss": scores.get("loss"),
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("RESULT {result}");
    Ok(())
}

/// The workload's `fit` options, on `threads` threads if given.
fn fit_options<'a>(
    spec: &workload::Spec,
    epochs: usize,
    seed: u64,
    threads: Option<usize>,
) -> FitOptions<'a> {
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(spec.batch_size)
        .validation_split(0.1)
        .seed(seed)
        .verbose(0);
    match threads {
        Some(threads) => options.threads(threads),
        None => options,
    }
}

/// Compiles `model` and trains it on `data` as the workload does.
fn train(model: &mut Sequential, options: FitOptions<'_>, data: &Dataset) -> keel::Result<History> {
    model.compile(
        Adam::new(1e-3),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    model.fit(data, options)
}

/// Two models trained one after the other, then at once on two threads, on the default
/// runtime: prints both wall times and checks that the weights are the same either way.
fn pair(args: &Args, spec: &workload::Spec, epochs: usize, data: &Dataset) -> keel::Result<()> {
    let seeds = [args.seed, args.seed + 1];
    let run = |seed: u64| -> keel::Result<Vec<u8>> {
        let mut model = spec.model(seed);
        train(&mut model, fit_options(spec, epochs, seed, None), data)?;
        model.to_bytes()
    };
    let started = std::time::Instant::now();
    let one_after_the_other = [run(seeds[0])?, run(seeds[1])?];
    let sequential = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let at_once = std::thread::scope(|s| {
        let handles = seeds.map(|seed| s.spawn(move || run(seed)));
        handles.map(|h| h.join().expect("a training thread panicked"))
    });
    let concurrent = started.elapsed().as_secs_f64();
    let [a, b] = at_once;
    let identical = [a?, b?] == one_after_the_other;
    let result = serde_json::json!({
        "framework": "keel",
        "workload": args.workload.name(),
        "epochs": epochs,
        "threads": keel::runtime::Runtime::global().threads(),
        "pair": {
            "sequential_s": sequential,
            "concurrent_s": concurrent,
            "concurrent_over_sequential": concurrent / sequential,
            "identical_weights": identical,
        },
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("RESULT {result}");
    Ok(())
}
