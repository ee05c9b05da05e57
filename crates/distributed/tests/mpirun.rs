//! Data-parallel training under `mpirun` (Open MPI): needs `--features mpi` and the
//! `mpirun` command. Each test launches `keel-mpi-check` (src/bin) on 2 or 4 processes,
//! bounded by `mpirun --timeout`.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

const CHECK: &str = env!("CARGO_BIN_EXE_keel-mpi-check");

/// `mpirun -np ranks` of the check binary with `args`, allowed to run as root (CI's
/// containers), on more processes than cores, unbound, for at most `timeout` seconds.
fn mpirun(ranks: usize, mpi_args: &[&str], args: &[String], timeout: u64) -> (Output, Duration) {
    let started = Instant::now();
    let output = std::process::Command::new("mpirun")
        .args([
            "-np",
            &ranks.to_string(),
            "--oversubscribe",
            "--bind-to",
            "none",
        ])
        .args(["--timeout", &timeout.to_string()])
        .args(mpi_args)
        .arg(CHECK)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("mpirun runs (install openmpi-bin)");
    (output, started.elapsed())
}

fn alone(args: &[String]) -> Output {
    std::process::Command::new(CHECK)
        .args(args)
        .arg("alone=1")
        .output()
        .expect("the check binary runs")
}

fn out_dir(name: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let arg = format!("out={}", path.display());
    (dir, path, arg)
}

fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn losses(dir: &Path) -> Vec<f64> {
    serde_json::from_value(json(&dir.join("steps.json"))).unwrap()
}

fn test_accuracy(dir: &Path) -> f64 {
    json(&dir.join("result.json"))["test_accuracy"]
        .as_f64()
        .unwrap()
}

/// Every rank's weights are bit-identical after every epoch.
fn ranks_agree(dir: &Path, ranks: usize, epochs: usize) {
    for epoch in 0..epochs {
        let read = |rank: usize| std::fs::read(dir.join(format!("weights-{rank}-{epoch}.bin")));
        let first = read(0).expect("rank 0's weights");
        for rank in 1..ranks {
            assert!(
                read(rank).unwrap() == first,
                "rank {rank} differs at epoch {epoch}"
            );
        }
    }
}

/// Runs the check binary on `ranks` ranks (with `mpi_args` for mpirun) with `list` and
/// `out`, and checks that it succeeded.
fn train_on(ranks: usize, mpi_args: &[&str], list: &[&str], out: &str) {
    succeeded(&mpirun(ranks, mpi_args, &args(list, out), 120).0);
}

/// The model file a run wrote into `dir`.
fn model_file(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.keel")).unwrap()
}

fn args(list: &[&str], out: &str) -> Vec<String> {
    list.iter()
        .map(|s| s.to_string())
        .chain([out.to_string()])
        .collect()
}

#[test]
fn two_ranks_train_as_one_process_and_repeat_byte_for_byte() {
    let common = ["samples=6000", "epochs=2", "batch=32"];
    let (_a, single, single_arg) = out_dir("alone");
    succeeded(&alone(&args(&common, &single_arg)));
    let (_g, group, group_arg) = out_dir("group");
    train_on(2, &[], &common, &group_arg);
    ranks_agree(&group, 2, 2);
    let (ours, theirs) = (losses(&group), losses(&single));
    assert_eq!(ours.len(), theirs.len());
    for (step, (a, b)) in ours.iter().zip(&theirs).take(100).enumerate() {
        assert!(
            ((a - b) / b).abs() <= 1e-5,
            "step {step}: {a} on 2 ranks, {b} alone"
        );
    }
    let (a, b) = (test_accuracy(&group), test_accuracy(&single));
    assert!(
        (a - b).abs() <= 0.003,
        "test accuracy {a} on 2 ranks, {b} alone"
    );

    let (_h, again, again_arg) = out_dir("again");
    train_on(2, &[], &common, &again_arg);
    assert!(
        model_file(&group) == model_file(&again),
        "two runs wrote different model files"
    );
}

#[test]
fn four_ranks_over_tcp_with_empty_shares_of_the_last_batch() {
    // 2136 samples: 1922 for training, so the last batch of 32 has 2 rows for 4 ranks.
    let common = ["samples=2136", "epochs=2", "batch=32"];
    let (_g, group, group_arg) = out_dir("tcp");
    let tcp = ["--mca", "btl", "tcp,self"];
    train_on(4, &tcp, &common, &group_arg);
    ranks_agree(&group, 4, 2);
    let (_a, single, single_arg) = out_dir("alone4");
    succeeded(&alone(&args(&common, &single_arg)));
    let (ours, theirs) = (losses(&group), losses(&single));
    assert_eq!(
        ours.len(),
        theirs.len(),
        "every sample once per epoch, in as many steps"
    );
    assert!(((ours[0] - theirs[0]) / theirs[0]).abs() <= 1e-5);
}

#[test]
fn resuming_a_two_rank_run_gives_the_uninterrupted_bytes() {
    let (_u, whole, whole_arg) = out_dir("whole");
    train_on(2, &[], &["samples=3000", "epochs=3"], &whole_arg);
    let (_p, part, part_arg) = out_dir("part");
    let state = part.join("state.keel");
    let checkpoint = format!("checkpoint={}", state.display());
    train_on(
        2,
        &[],
        &["samples=3000", "epochs=2", &checkpoint],
        &part_arg,
    );
    let resume = format!("resume={}", state.display());
    train_on(2, &[], &["samples=3000", "epochs=3", &resume], &part_arg);
    assert!(
        model_file(&whole) == model_file(&part),
        "the resumed run ended elsewhere"
    );
}

#[test]
fn a_nan_on_one_rank_is_skipped_by_every_rank() {
    let (_g, group, group_arg) = out_dir("nan");
    train_on(2, &[], &["samples=600", "nan=1"], &group_arg);
    ranks_agree(&group, 2, 1);
    let skipped = json(&group.join("result.json"))["skipped_steps"][0]
        .as_f64()
        .unwrap();
    assert_eq!(skipped, 1.0, "the one batch holding the NaN");
}

/// Launches a 2-rank run that fails with `how` on rank 1 at batch 3, and checks that the
/// job ends with a non-zero exit within `limit`, naming the rank, and that no process of
/// it is left.
fn fails_fast(how: &str, extra: &[(&str, &str)], limit: Duration, names: &[&str]) {
    let (_d, dir, out) = out_dir(how);
    let fail = format!("fail={how}");
    // A mark only this job's processes carry (other tests run mpirun at the same time).
    let mark = format!("mark={}", dir.display());
    let mut command = std::process::Command::new("mpirun");
    command
        .args([
            "-np",
            "2",
            "--oversubscribe",
            "--bind-to",
            "none",
            "--timeout",
            "60",
        ])
        .arg(CHECK)
        .args([fail.as_str(), "samples=3000", "epochs=1", &out, &mark])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    for (k, v) in extra {
        command.env(k, v);
    }
    let started = Instant::now();
    let output = command.output().expect("mpirun runs");
    let took = started.elapsed();
    eprintln!("{how}: the job ended in {took:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "{how}: the job succeeded\n{stderr}"
    );
    assert!(
        took <= limit,
        "{how}: the job took {took:?}, more than {limit:?}\n{stderr}"
    );
    for name in names {
        assert!(stderr.contains(name), "{how}: no {name:?} in\n{stderr}");
    }
    std::thread::sleep(Duration::from_millis(200));
    let left = std::process::Command::new("pgrep")
        .args(["-f", &mark])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "{how}: processes left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn a_failing_rank_ends_the_whole_job_quickly() {
    let five = Duration::from_secs(5);
    fails_fast(
        "panic",
        &[],
        five,
        &["rank 1, epoch 1, batch 4", "panicked"],
    );
    fails_fast(
        "error",
        &[],
        five,
        &["rank 1, epoch 1, batch 4", "an error on purpose"],
    );
    fails_fast("kill", &[], five, &[]);
    // A stall: rank 1 sleeps; rank 0 waits in the next sum past the 2 s deadline.
    let deadline = [(keel_distributed::DEADLINE_ENV, "2")];
    fails_fast(
        "stall",
        &deadline,
        Duration::from_secs(2 + 2 + 1),
        &["rank 0", "deadline"],
    );
}
