//! Data-parallel `fit` in a `ThreadGroup`: the members end with the same bits, and the run
//! matches one process's.

mod common;
use common::{mnist_subset, seed_model};
use keel_data::Dataset;
use keel_trainer::{
    Callback, CallbackContext, Control, Error, FitOptions, History, LambdaCallback, Logs,
    Telemetry, ThreadGroup,
};

/// What one member (or the single process) ended with.
struct Outcome {
    history: History,
    /// Every weight's bits, in `get_weights` order.
    bits: Vec<u32>,
    /// `evaluate` of the final model on the validation split, alone (no group), where the
    /// test looks at it.
    validation: Option<keel_trainer::Scores>,
}

fn bits(model: &keel_trainer::Sequential) -> Vec<u32> {
    model
        .get_weights()
        .iter()
        .flatten()
        .map(|v| v.to_bits())
        .collect()
}

fn options<'a>(batch_size: usize) -> FitOptions<'a> {
    FitOptions::new()
        .epochs(2)
        .batch_size(batch_size)
        .validation_split(0.1)
        .seed(5)
        .verbose(0)
        .telemetry(Telemetry::Steps)
        .threads(1)
}

/// What `fit`'s `validation_split(0.1)` validates on.
fn validation_split(data: &Dataset) -> Dataset {
    data.split_validation(0.1).expect("a valid split").1
}

fn alone(data: &Dataset, batch_size: usize) -> Outcome {
    let mut model = seed_model(7);
    let history = model.fit(data, options(batch_size)).expect("fit");
    let bits = bits(&model);
    let validation = Some(model.evaluate(&validation_split(data)).expect("evaluate"));
    Outcome {
        history,
        bits,
        validation,
    }
}

/// Trains the seed model on each member of a group of `members` threads. Each member starts
/// from its own initial weights: rank 0's (those of `alone`) must reach all.
fn in_group(
    data: &Dataset,
    members: usize,
    batch_size: usize,
    extra: impl Fn(usize) -> Option<Box<dyn Callback + 'static>> + Sync,
) -> Vec<keel_trainer::Result<Outcome>> {
    each_member(members, |rank, group| {
        let mut model = seed_model(7 + 100 * rank as u64);
        let mut options = options(batch_size);
        if let Some(callback) = extra(rank) {
            options.callbacks.push(callback);
        }
        let history = model.fit(data, options.data_parallel(group))?;
        let bits = bits(&model);
        let validation = Some(model.evaluate(&validation_split(data))?);
        Ok(Outcome {
            history,
            bits,
            validation,
        })
    })
}

/// Runs `member(rank, group)` on a thread for each member of a group of `members`, and
/// returns what each gave, in rank order.
fn each_member<R: Send>(
    members: usize,
    member: impl Fn(usize, &mut ThreadGroup) -> R + Sync,
) -> Vec<R> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::new(members)
            .into_iter()
            .enumerate()
            .map(|(rank, mut group)| {
                let member = &member;
                s.spawn(move || member(rank, &mut group))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn losses(history: &History) -> Vec<f32> {
    history.steps().iter().map(|s| s.loss).collect()
}

/// Compares a group's run with one process's: identical members, per-step losses within
/// `1e-5` relative, and the same validation accuracy up to a sample or two.
fn check_against_alone(samples: usize, members: usize, batch_size: usize) {
    let data = mnist_subset(samples);
    let single = alone(&data, batch_size);
    let group: Vec<Outcome> = in_group(&data, members, batch_size, |_| None)
        .into_iter()
        .map(|r| r.expect("every member trains"))
        .collect();
    for member in &group[1..] {
        assert!(
            member.bits == group[0].bits,
            "members hold different models"
        );
        assert_eq!(losses(&member.history), losses(&group[0].history));
    }
    let (ours, theirs) = (losses(&group[0].history), losses(&single.history));
    assert_eq!(ours.len(), theirs.len());
    for (step, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert!(
            ((a - b) / b).abs() <= 1e-5,
            "step {step}: loss {a} in the group, {b} alone"
        );
    }
    let accuracy = |h: &History| h.get("val_accuracy").unwrap().to_vec();
    for (a, b) in accuracy(&group[0].history)
        .iter()
        .zip(accuracy(&single.history))
    {
        assert!(
            (a - b).abs() <= 2.0 / (samples as f64 * 0.1),
            "val_accuracy {a} vs {b}"
        );
    }
    assert!(group[0].history.get("sync_ms").is_some());
    // Each member validated its share; the sums are the whole split's, on every member.
    for (outcome, who) in group
        .iter()
        .map(|o| (o, "group"))
        .chain([(&single, "alone")])
    {
        let last = |name: &str| *outcome.history.get(name).unwrap().last().unwrap();
        let scores = outcome.validation.as_ref().expect("evaluated");
        let whole = |name: &str| scores.get(name).unwrap();
        assert_eq!(last("val_accuracy"), whole("accuracy"), "{who}");
        let (a, b) = (last("val_loss"), whole("loss"));
        assert!(
            ((a - b) / b).abs() <= 1e-6,
            "{who}: val_loss {a}, evaluated {b}"
        );
    }
    for member in &group[1..] {
        assert_eq!(
            member.history.get("val_loss"),
            group[0].history.get("val_loss")
        );
    }
}

#[test]
fn two_members_train_as_one_process() {
    // 900 training samples in batches of 32: 28 full batches and one of 4.
    check_against_alone(1000, 2, 32);
}

#[test]
fn a_member_with_no_rows_in_the_last_batch_counts_nothing() {
    // 897 training samples, batches of 64: the last batch has 1 sample for 3 members.
    check_against_alone(997, 3, 64);
}

#[test]
fn one_member_stopping_stops_every_member_at_the_same_step() {
    let data = mnist_subset(600);
    let outcomes = in_group(&data, 2, 32, |rank| {
        (rank == 1).then(|| {
            let stop_at_5 = LambdaCallback::new().on_train_batch_end(|batch, _: &Logs| {
                if batch == 5 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            });
            Box::new(stop_at_5) as Box<dyn Callback>
        })
    });
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(Result::unwrap).collect();
    for outcome in &outcomes {
        assert_eq!(outcome.history.steps().len(), 6);
    }
    assert!(outcomes[0].bits == outcomes[1].bits);
}

/// Fails at batch 3.
#[derive(Debug)]
struct FailsAtBatch3;

impl Callback for FailsAtBatch3 {
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        _logs: &Logs,
        _ctx: &mut CallbackContext<'_>,
    ) -> keel_trainer::Result<Control> {
        match batch {
            3 => Err(Error::InvalidOption {
                option: "test",
                expected: "no failure",
                found: "a failure at batch 3".into(),
            }),
            _ => Ok(Control::Continue),
        }
    }
}

#[test]
fn an_error_on_one_member_ends_every_member_with_an_error() {
    let data = mnist_subset(600);
    let outcomes = in_group(&data, 3, 32, |rank| {
        (rank == 2).then(|| Box::new(FailsAtBatch3) as Box<dyn Callback>)
    });
    let errors: Vec<String> = outcomes
        .into_iter()
        .map(|r| r.err().expect("every member fails").to_string())
        .collect();
    assert!(errors[2].contains("a failure at batch 3"), "{}", errors[2]);
    for e in &errors[..2] {
        assert!(e.contains("rank 2 failed"), "{e}");
    }
}

/// The seed model's data with one sample that overflows the first layer.
fn with_overflowing_sample(samples: usize) -> Dataset {
    let x = ndarray::Array3::from_shape_fn((samples, 28, 28), |(i, r, c)| match i {
        37 => f32::MAX,
        _ => ((i * 7 + r * 3 + c) % 11) as f32 / 11.0,
    });
    let y = (0..samples).map(|i| (i % 10) as u32).collect();
    Dataset::from_f32(x.into_dyn(), keel_data::Targets::Classes(y)).unwrap()
}

#[test]
fn rollback_early_stopping_and_reduce_lr_decide_alike_on_every_member() {
    use keel_trainer::{EarlyStopping, Guard, Policy, ReduceLROnPlateau, Rollback};
    let data = with_overflowing_sample(640);
    let outcomes = each_member(3, |_, group| {
        let mut model = seed_model(7);
        let options = FitOptions::new()
            .epochs(6)
            .batch_size(64)
            .validation_split(0.2)
            .seed(5)
            .verbose(0)
            .telemetry(Telemetry::Epochs)
            .threads(1)
            .guard(Guard::new().on_nonfinite(Policy::Rollback(Rollback::new().every(2))))
            .callback(
                ReduceLROnPlateau::new("val_loss")
                    .patience(0)
                    .min_delta(1.0),
            )
            .callback(EarlyStopping::new("val_loss").patience(2).min_delta(1.0))
            .data_parallel(group);
        let history = model.fit(&data, options).expect("fit");
        Outcome {
            bits: bits(&model),
            history,
            validation: None,
        }
    });
    let first = &outcomes[0];
    assert!(first.history.get("rollbacks").unwrap().iter().sum::<f64>() >= 1.0);
    assert!(
        first.history.epochs().len() < 6,
        "EarlyStopping stopped the run"
    );
    let lr = first.history.get("learning_rate").unwrap();
    assert!(
        lr.last() < lr.first(),
        "ReduceLROnPlateau lowered the rate: {lr:?}"
    );
    for other in &outcomes[1..] {
        assert!(other.bits == first.bits);
        for name in ["loss", "val_loss", "accuracy", "learning_rate", "rollbacks"] {
            assert_eq!(other.history.get(name), first.history.get(name), "{name}");
        }
    }
}

/// Fails at epoch 2 (0-based 1), batch 5.
#[derive(Debug)]
struct FailsInEpoch2;

impl Callback for FailsInEpoch2 {
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        _logs: &Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> keel_trainer::Result<Control> {
        match (ctx.epoch(), batch) {
            (1, 5) => Err(Error::InvalidOption {
                option: "test",
                expected: "no failure",
                found: "an interruption".into(),
            }),
            _ => Ok(Control::Continue),
        }
    }
}

#[test]
fn a_group_resumed_inside_an_epoch_ends_as_an_uninterrupted_one() {
    use keel_trainer::{BackupAndRestore, SaveFreq};
    let data = mnist_subset(600);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.keel");
    let run = |backup: bool, fail: bool| -> Vec<keel_trainer::Result<Outcome>> {
        each_member(2, |rank, group| {
            let mut model = seed_model(7);
            let mut options = options(32);
            if backup {
                let every_3 = BackupAndRestore::at_path(&path).save_freq(SaveFreq::Steps(3));
                options = options.backup_and_restore(every_3);
            }
            if fail && rank == 1 {
                options = options.callback(FailsInEpoch2);
            }
            let history = model.fit(&data, options.data_parallel(group))?;
            let bits = bits(&model);
            Ok(Outcome {
                history,
                bits,
                validation: None,
            })
        })
    };
    let whole: Vec<Outcome> = run(false, false).into_iter().map(Result::unwrap).collect();
    assert!(run(true, true).iter().all(Result::is_err));
    assert!(path.exists(), "a checkpoint inside epoch 2");
    let resumed: Vec<Outcome> = run(true, false).into_iter().map(Result::unwrap).collect();
    for member in &resumed {
        assert!(
            member.bits == whole[0].bits,
            "the resumed run ended elsewhere"
        );
        for name in ["loss", "accuracy", "val_loss", "val_accuracy"] {
            assert_eq!(
                member.history.get(name),
                whole[0].history.get(name),
                "{name}"
            );
        }
    }
}

#[test]
fn members_given_different_data_fail_before_training_instead_of_hanging() {
    let data = [mnist_subset(600), mnist_subset(640)];
    let results = each_member(2, |rank, group| {
        let mut model = seed_model(7);
        let options = options(32).data_parallel(group);
        model.fit(&data[rank], options).unwrap_err().to_string()
    });
    for message in results {
        assert!(message.contains("the same fit"), "{message}");
    }
}

#[test]
fn members_whose_weights_drift_apart_are_an_error_at_the_epoch_end() {
    use keel_trainer::StepGradients;
    let data = mnist_subset(300);
    let errors = each_member(2, |rank, group| {
        let mut model = seed_model(7);
        // A hook on rank 1 only, after the sum: its updates differ from rank 0's.
        let drift = move |grads: &mut StepGradients| {
            if rank == 1 {
                grads.for_each_mut(|_, g| g.mapv_inplace(|v| v * 0.5));
            }
            Ok(())
        };
        let options = options(32).gradient_hook(drift).data_parallel(group);
        model.fit(&data, options).unwrap_err().to_string()
    });
    for message in errors {
        assert!(
            message.contains("hold different weights") && message.contains("end of epoch 1"),
            "{message}"
        );
    }
}

/// A group that reports an impossible place: rank 1 of a group of 1.
#[derive(Debug)]
struct Misnumbered;

impl keel_trainer::Collective for Misnumbered {
    fn rank(&self) -> usize {
        1
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f32(&mut self, _: &'static str, _: &mut [f32]) -> keel_trainer::Result<()> {
        Ok(())
    }
    fn sum_f64(&mut self, _: &'static str, _: &mut [f64]) -> keel_trainer::Result<()> {
        Ok(())
    }
    fn min_max(&mut self, _: &'static str, value: u64) -> keel_trainer::Result<(u64, u64)> {
        Ok((value, value))
    }
    fn broadcast(&mut self, _: &'static str, _: &mut Vec<u8>) -> keel_trainer::Result<()> {
        Ok(())
    }
    fn abort(&mut self, _: &Error) {}
}

#[test]
fn a_group_whose_rank_is_not_below_its_size_is_an_error() {
    let data = mnist_subset(200);
    let mut model = seed_model(7);
    let mut group = Misnumbered;
    let error = model
        .fit(&data, options(32).data_parallel(&mut group))
        .unwrap_err()
        .to_string();
    assert!(error.contains("rank 1 of a group of 1"), "{error}");
}
