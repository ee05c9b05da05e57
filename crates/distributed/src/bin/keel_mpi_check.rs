//! Trains MNIST's seed model data parallel under `mpirun`, or fails on purpose on one rank,
//! for the MPI tests (`tests/mpirun.rs`). Arguments are `key=value` pairs:
//!
//! - `out=DIR` (required): rank 0 writes `steps.json` (each step's loss), `result.json`
//!   (test accuracy) and `model.keel` there; every rank writes `weights-R-E.bin`, its
//!   weights' bits after epoch E.
//! - `samples=N` (6000), `epochs=N` (1), `batch=N` (32), `seed=N` (0), `threads=N` (1),
//!   `alone=1` (train without a group, as one process).
//! - `fail=panic|error|kill|stall` at `fail_batch=B` (3) on `fail_rank=R` (1).
//! - `nan=1`: a synthetic data set whose sample 100 overflows the first layer (a non-finite
//!   loss), with the guard skipping non-finite steps.
//! - `checkpoint=PATH` writes the training state every epoch; `resume=PATH` continues one.
//! - `sum=N` instead times the group's sum of N floats (`rounds=R`, 200), after a barrier of
//!   sums, and prints the median and quartiles per call on rank 0; `cold=1` evicts the
//!   caches before each sum.

use keel_data::{Dataset, Targets};
use keel_distributed::Mpi;
use keel_layers::{Activation, Dense, Dropout, Flatten};
use keel_optim::Adam;
use keel_trainer::{
    Callback, CallbackContext, Collective, Control, Error, FitOptions, Guard, Logs, Loss, Metric,
    Policy, Sequential, Telemetry, TrainingState,
};
use std::collections::HashMap;
use std::path::PathBuf;

fn main() {
    let args: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn number(args: &HashMap<String, String>, key: &str, default: u64) -> u64 {
    args.get(key)
        .map_or(default, |v| v.parse().expect("a number"))
}

/// Writes this rank's weights after every epoch, and fails on purpose if asked.
struct Probe {
    out: PathBuf,
    rank: usize,
    fail: Option<(String, usize)>,
}

impl Callback for Probe {
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        _logs: &Logs,
        _ctx: &mut CallbackContext<'_>,
    ) -> keel_trainer::Result<Control> {
        match &self.fail {
            Some((how, at)) if *at == batch => match how.as_str() {
                "panic" => panic!("a panic on purpose at batch {batch}"),
                "error" => Err(Error::InvalidOption {
                    option: "fail",
                    expected: "no failure",
                    found: format!("an error on purpose at batch {batch}"),
                }),
                "kill" => {
                    let pid = std::process::id().to_string();
                    let _ = std::process::Command::new("kill")
                        .args(["-9", &pid])
                        .status();
                    unreachable!("killed")
                }
                "stall" => {
                    std::thread::sleep(std::time::Duration::from_secs(120));
                    Ok(Control::Continue)
                }
                other => panic!("unknown failure {other}"),
            },
            _ => Ok(Control::Continue),
        }
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> keel_trainer::Result<Control> {
        let bytes: Vec<u8> = ctx
            .model()
            .get_weights()
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let path = self.out.join(format!("weights-{}-{epoch}.bin", self.rank));
        std::fs::write(&path, bytes).map_err(|source| Error::Io { path, source })?;
        Ok(Control::Continue)
    }
}

fn synthetic_with_overflow(samples: usize) -> keel_trainer::Result<Dataset> {
    let x = ndarray::Array3::from_shape_fn((samples, 28, 28), |(i, r, c)| {
        if i == 100 {
            f32::MAX // finite (a data set refuses NaN), but overflows the first layer
        } else {
            ((i * 7 + r * 3 + c) % 11) as f32 / 11.0
        }
    });
    let y = (0..samples).map(|i| (i % 10) as u32).collect();
    Ok(Dataset::from_f32(x.into_dyn(), Targets::Classes(y))?)
}

/// Times `rounds` sums of `n` floats over the group (rank 0 prints the quartiles); `cold`
/// writes 64 MiB before each, as a training step's work evicts the buffers from the caches.
fn time_sums(n: usize, rounds: usize, cold: bool) -> keel_trainer::Result<()> {
    let mut evict = vec![0u8; if cold { 64 << 20 } else { 0 }];
    let mut group = Mpi::init()?;
    let values = vec![1.0f32; n];
    let mut sums = vec![0.0f32; n];
    for _ in 0..10 {
        group.sum_f32_each("warm up", &mut [(&values, &mut sums)])?;
    }
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            // A tiny sum lines the processes up, so the timed one waits for no one.
            evict.iter_mut().for_each(|b| *b = b.wrapping_add(1));
            let started = std::time::Instant::now();
            group.arrive("line up")?;
            group.sum_f32_each("timed sum", &mut [(&values, &mut sums)])?;
            Ok(started.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<keel_trainer::Result<_>>()?;
    times.sort_by(f64::total_cmp);
    if group.rank() == 0 {
        let q = |f: f64| times[((times.len() - 1) as f64 * f) as usize];
        println!(
            "sum of {n} f32 on {} processes: median {:.3} ms (quartiles {:.3}, {:.3})",
            group.size(),
            q(0.5),
            q(0.25),
            q(0.75)
        );
    }
    Ok(())
}

fn run(args: &HashMap<String, String>) -> keel_trainer::Result<()> {
    if let Some(n) = args.get("sum") {
        return time_sums(
            n.parse().expect("a count"),
            number(args, "rounds", 200) as usize,
            args.contains_key("cold"),
        );
    }
    let out = PathBuf::from(args.get("out").expect("out=DIR"));
    let alone = args.contains_key("alone");
    let mut group = if alone { None } else { Some(Mpi::init()?) };
    let rank = group.as_ref().map_or(0, Collective::rank);
    let seed = number(args, "seed", 0);
    let nan = args.contains_key("nan");
    let mnist = keel_data::mnist::load_default()?;
    let samples = number(args, "samples", 6000) as usize;
    let train = match nan {
        true => synthetic_with_overflow(samples)?,
        false => mnist.train.slice(0..samples)?,
    };
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .seed(seed);
    model.compile(
        Adam::new(1e-3),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    let fail = args
        .get("fail")
        .map(|how| (how.clone(), number(args, "fail_batch", 3) as usize));
    let fail_rank = number(args, "fail_rank", 1) as usize;
    let probe = Probe {
        out: out.clone(),
        rank,
        fail: fail.filter(|_| rank == fail_rank),
    };
    let mut options = FitOptions::new()
        .epochs(number(args, "epochs", 1) as usize)
        .batch_size(number(args, "batch", 32) as usize)
        .validation_split(0.1)
        .seed(seed)
        .verbose(0)
        .telemetry(Telemetry::Steps)
        .threads(number(args, "threads", 1) as usize)
        .callback(probe);
    if nan {
        options = options.guard(Guard::new().on_nonfinite(Policy::Skip));
    }
    if let Some(path) = args.get("checkpoint") {
        options = options.checkpoint(path);
    }
    if let Some(path) = args.get("resume") {
        options = options.resume(TrainingState::load(path)?);
    }
    if let Some(group) = group.as_mut() {
        options = options.data_parallel(group);
    }
    let history = model.fit(&train, options)?;
    let scores = model.evaluate(&mnist.test)?;
    if rank == 0 {
        let losses: Vec<f32> = history.steps().iter().map(|s| s.loss).collect();
        let write = |name: &str, text: String| {
            let path = out.join(name);
            std::fs::write(&path, text).map_err(|source| Error::Io { path, source })
        };
        write("steps.json", serde_json::to_string(&losses).expect("json"))?;
        let result = serde_json::json!({
            "test_accuracy": scores.get("accuracy"),
            "sync_ms": history.get("sync_ms"),
            "sync_wait_ms": history.get("sync_wait_ms"),
            "skipped_steps": history.get("skipped_steps"),
            "epoch_seconds": history.epoch_seconds(),
            "ranks": group.as_ref().map_or(1, Collective::size),
        });
        write("result.json", result.to_string())?;
        model.save(out.join("model.keel"))?;
        println!(
            "Test accuracy: {:.4}",
            scores.get("accuracy").unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
