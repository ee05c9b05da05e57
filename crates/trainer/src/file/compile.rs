//! The compile configuration in files: the optimizer (its config and its training state),
//! the loss and the metrics. Model files hold one when the model was compiled; checkpoints
//! always do.

use super::problem::FormatProblem;
use crate::sequential::Compiled;
use crate::{Loss, Metric, Sequential};
use keel_optim::{Optimizer, OptimizerConfig, OptimizerSnapshot};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What `compile` fixed, and the optimizer's state since: enough to compile the model again
/// and go on training as if it had never been saved. A custom loss is kept by name only
/// (read back, it is a placeholder that asks to compile again when used).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CompileRecord {
    /// The optimizer's rule, learning rate or schedule, hyper-parameters, clipping and
    /// weight decay.
    pub(crate) optimizer: OptimizerConfig,
    /// Its step counter (so the schedule's position), slots, clipping state, learning rate
    /// and multiplier.
    pub(crate) optimizer_state: OptimizerSnapshot,
    pub(crate) loss: Loss,
    pub(crate) metrics: Vec<Metric>,
}

impl CompileRecord {
    /// The record of a compiled model's configuration and optimizer state.
    pub(crate) fn of(compiled: &Compiled) -> CompileRecord {
        CompileRecord {
            optimizer: compiled.optimizer.config(),
            optimizer_state: compiled.optimizer.snapshot(),
            loss: compiled.loss.clone(),
            metrics: compiled.metrics.clone(),
        }
    }

    /// Compiles `model` as the record says and puts the optimizer's state back, after
    /// checking that state against the model's parameters; `model` is unchanged on error.
    ///
    /// # Errors
    /// [`FormatProblem::Compile`] naming what does not fit: an optimizer that is not built
    /// in or whose config is out of range, metrics that cannot be compiled together, or
    /// state that does not fit the optimizer or the parameters (see [`check_state`]).
    pub(crate) fn compile(&self, model: &mut Sequential) -> Result<(), FormatProblem> {
        let problem = |e: &dyn std::fmt::Display| FormatProblem::Compile {
            problem: e.to_string(),
        };
        let mut optimizer = Optimizer::from_config(&self.optimizer).map_err(|e| problem(&e))?;
        optimizer
            .restore(&self.optimizer_state)
            .map_err(|e| problem(&e))?;
        check_state(&optimizer, &self.optimizer_state, model).map_err(|e| problem(&e))?;
        model
            .compile(optimizer, self.loss.clone(), &self.metrics)
            .map_err(|e| problem(&e))
    }
}

/// Checks that the optimizer state in `snapshot` fits `model`: every parameter it holds
/// slots for is one of the model's, each slot has that parameter's shape, and a built-in
/// rule has its number of slots. The optimizer would otherwise find a wrong shape only at
/// the next training step, and silently refill missing slots with zeros.
///
/// # Errors
/// A message naming the parameter and the slot, with what was expected and what was found.
pub(crate) fn check_state(
    optimizer: &Optimizer,
    snapshot: &OptimizerSnapshot,
    model: &Sequential,
) -> Result<(), String> {
    let params: BTreeMap<String, Vec<usize>> = model
        .named_params()
        .into_iter()
        .map(|(path, p)| (path.to_string(), p.value().shape().to_vec()))
        .collect();
    let specs = optimizer.rule().slot_specs();
    for (name, slots) in snapshot.state().slots() {
        let Some(shape) = params.get(name) else {
            let known: Vec<&str> = params.keys().map(String::as_str).collect();
            return Err(format!(
                "optimizer state for parameter `{name}`: expected a parameter of the model \
                 ({}), found none of that name",
                known.join(", ")
            ));
        };
        let tensors = slots.tensors();
        if !specs.is_empty() && tensors.len() != specs.len() {
            let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
            return Err(format!(
                "optimizer state of parameter `{name}`: expected the {} slots of {} ({}), \
                 found {}",
                specs.len(),
                optimizer.name(),
                names.join(", "),
                tensors.len()
            ));
        }
        for (i, slot) in tensors.iter().enumerate() {
            if slot.shape() != shape.as_slice() {
                let slot_name = specs
                    .get(i)
                    .map_or_else(|| i.to_string(), |s| s.name.into());
                return Err(format!(
                    "optimizer slot `{slot_name}` of parameter `{name}` has shape {:?}: \
                     expected the parameter's shape {shape:?}",
                    slot.shape()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::envelope::{self, MODEL};
    use super::super::record::ModelRecord;
    use super::*;
    use crate::{Error, FitOptions};
    use keel_data::{Dataset, Targets};
    use keel_layers::Dense;
    use keel_optim::Adam;

    fn data() -> Dataset {
        let x = ndarray::Array2::from_shape_fn((8, 3), |(i, j)| (i + j) as f32 / 8.0);
        Dataset::from_f32(
            x.into_dyn(),
            Targets::Classes((0..8).map(|i| i % 2).collect()),
        )
        .unwrap()
    }

    /// A model of `units` hidden units, compiled with Adam.
    fn compiled(units: usize) -> Sequential {
        let mut model = Sequential::new([3])
            .add(Dense::new(units))
            .add(Dense::new(2));
        model
            .compile(Adam::new(0.01), Loss::SparseCategoricalCrossentropy, &[])
            .unwrap();
        model
    }

    fn options<'a>() -> FitOptions<'a> {
        FitOptions::new().epochs(1).batch_size(8).verbose(0)
    }

    /// A model of `units` hidden units trained one step with Adam, so it has slots.
    fn trained(units: usize) -> Sequential {
        let mut model = compiled(units);
        model.fit(&data(), options()).unwrap();
        model
    }

    /// The bytes of a model file holding `model`'s architecture and weights with `compile`.
    fn file(model: &Sequential, compile: CompileRecord) -> Vec<u8> {
        #[derive(Serialize)]
        struct File {
            model: ModelRecord,
            compile: Option<CompileRecord>,
        }
        let model = ModelRecord::of(model).unwrap();
        envelope::encode(
            MODEL,
            &File {
                model,
                compile: Some(compile),
            },
        )
    }

    /// The compile problem `from_bytes` finds in `bytes`, without the hint that ends it.
    fn compile_problem(bytes: &[u8]) -> String {
        const HINT: &str =
            " (load the model with Sequential::load_uncompiled and compile it again)";
        match Sequential::from_bytes(bytes) {
            Err(Error::Format {
                problem: FormatProblem::Compile { problem },
                ..
            }) => match problem.strip_suffix(HINT) {
                Some(problem) => problem.to_string(),
                None => panic!("expected the message to end with the hint: {problem}"),
            },
            other => panic!("expected a compile problem, got {other:?}"),
        }
    }

    fn record(model: &Sequential) -> CompileRecord {
        CompileRecord::of(model.compiled.as_ref().unwrap())
    }

    #[test]
    fn the_record_in_a_file_is_the_one_to_bytes_writes() {
        let model = trained(4);
        let bytes = file(&model, record(&model));
        assert_eq!(bytes, model.to_bytes().unwrap());
        let loaded = Sequential::from_bytes(&bytes).unwrap();
        assert_eq!(record(&loaded), record(&model));
    }

    #[test]
    fn optimizer_state_of_another_shape_is_refused_at_load() {
        let (small, large) = (trained(4), trained(5));
        let problem = compile_problem(&file(&small, record(&large)));
        assert_eq!(
            problem,
            "optimizer slot `m` of parameter `dense/bias` has shape [5]: expected the \
             parameter's shape [4]"
        );
    }

    #[test]
    fn optimizer_state_for_an_unknown_parameter_or_with_missing_slots_is_refused() {
        let model = trained(4);
        let json = |record: &CompileRecord| serde_json::to_value(record).unwrap();
        let back = |value: serde_json::Value| serde_json::from_value(value).unwrap();

        let mut renamed = json(&record(&model));
        let slots = &mut renamed["optimizer_state"]["state"]["slots"];
        let kernel = slots["dense/kernel"].take();
        slots["dense_9/kernel"] = kernel;
        slots.as_object_mut().unwrap().remove("dense/kernel");
        let problem = compile_problem(&file(&model, back(renamed)));
        assert!(
            problem.starts_with(
                "optimizer state for parameter `dense_9/kernel`: expected a parameter of the \
                 model (dense/bias, dense/kernel, dense_1/bias, dense_1/kernel)"
            ),
            "{problem}"
        );

        let mut short = json(&record(&model));
        short["optimizer_state"]["state"]["slots"]["dense/bias"]["tensors"]
            .as_array_mut()
            .unwrap()
            .pop();
        assert_eq!(
            compile_problem(&file(&model, back(short))),
            "optimizer state of parameter `dense/bias`: expected the 2 slots of adam (m, v), \
             found 1"
        );
    }

    #[test]
    fn a_non_finite_or_negative_slot_and_a_custom_rule_are_refused() {
        let model = trained(4);
        let mut negative = serde_json::to_value(record(&model)).unwrap();
        let v = &mut negative["optimizer_state"]["state"]["slots"]["dense/bias"]["tensors"][1];
        v["data"][0] = serde_json::json!(-1.0);
        let problem = compile_problem(&file(&model, serde_json::from_value(negative).unwrap()));
        assert!(
            problem.contains("slot `v` of parameter `dense/bias` holds -1 at index 0"),
            "{problem}"
        );

        let mut custom = record(&model);
        custom.optimizer.name = "sign_sgd".into();
        let problem = compile_problem(&file(&model, custom));
        assert!(problem.contains("found the rule `sign_sgd`"), "{problem}");
        let bytes = file(&model, {
            let mut custom = record(&model);
            custom.optimizer.name = "sign_sgd".into();
            custom
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("custom.keel");
        std::fs::write(&path, &bytes).unwrap();
        let message = Sequential::load(&path).unwrap_err().to_string();
        assert!(message.contains("Sequential::load_uncompiled"), "{message}");
        let uncompiled = Sequential::load_uncompiled(&path).unwrap();
        assert!(uncompiled.optimizer().is_none());
    }

    #[test]
    fn a_checkpoint_whose_state_does_not_fit_is_refused_before_training() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.keel");
        compiled(4)
            .fit(&data(), options().checkpoint(&path))
            .unwrap();
        let mut state = crate::TrainingState::load(&path).unwrap();
        let snapshot = &mut state.record.compile.optimizer_state;
        let mut value = serde_json::to_value(&*snapshot).unwrap();
        let slots = &mut value["state"]["slots"];
        slots["dense/bias"] = slots["dense/kernel"].clone();
        *snapshot = serde_json::from_value(value).unwrap();
        let mut model = compiled(4);
        let message = model
            .fit(&data(), options().resume(state))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(
                "optimizer slot `m` of parameter `dense/bias` has shape [3, 4]: expected the \
                 parameter's shape [4]"
            ),
            "{message}"
        );
        assert!(!message.contains("load_uncompiled"), "{message}");
        assert_eq!(model.optimizer().unwrap().iterations(), 0);
    }

    #[test]
    fn every_corrupted_byte_of_a_compiled_model_past_the_checksum_is_ok_or_an_error() {
        let bytes = trained(4).to_bytes().unwrap();
        let payload = envelope::open(MODEL, &bytes).unwrap().to_vec();
        let mut errors = 0;
        for i in 0..payload.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut corrupted = payload.clone();
                corrupted[i] ^= flip;
                // Either a model or an error, never a panic.
                errors += usize::from(
                    Sequential::from_bytes(&envelope::seal(MODEL, &corrupted)).is_err(),
                );
            }
        }
        assert!(errors > 0);
    }
}
