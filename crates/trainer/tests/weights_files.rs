//! Weights alone: `save_weights`/`load_weights` by parameter path, and safetensors export
//! read back with Hugging Face's `safetensors` crate.

mod common;
use common::{mnist_subset, seed_model};
use keel_autograd::{Param, Var};
use keel_layers::{Activation, Ctx, Dense, Flatten, Layer, LayerConfig};
use keel_trainer::{Error, FormatProblem, Sequential, SAFETENSORS_ARCHITECTURE_KEY};
use rand::rngs::StdRng;
use safetensors::{Dtype, SafeTensors};

#[test]
fn weights_load_into_a_model_of_the_same_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.weights");
    let trained = seed_model(1);
    trained.save_weights(&path).unwrap();
    let mut fresh = seed_model(2);
    let data = mnist_subset(64);
    assert_ne!(
        fresh.predict(&data).unwrap(),
        trained.predict(&data).unwrap()
    );
    fresh.load_weights(&path).unwrap();
    assert_eq!(
        fresh.predict(&data).unwrap(),
        trained.predict(&data).unwrap()
    );
    // The same weights; the model files differ only in the recorded seed.
    assert!(fresh.weights_to_bytes().unwrap() == trained.weights_to_bytes().unwrap());
}

#[test]
fn a_mismatch_lists_every_tensor_and_changes_nothing() {
    let source = Sequential::new([4])
        .add(Dense::new(3))
        .add(Dense::new(2))
        .add(Dense::new(5));
    let bytes = source.weights_to_bytes().unwrap();
    let mut target = Sequential::new([4])
        .add(Dense::new(3).use_bias(false))
        .add(Dense::new(7));
    let before = target.weights_to_bytes().unwrap();
    match target.load_weights_from_bytes(&bytes) {
        Err(Error::Format {
            problem:
                FormatProblem::Weights {
                    missing,
                    unexpected,
                    misshaped,
                },
            ..
        }) => {
            assert!(missing.is_empty());
            assert_eq!(unexpected, ["dense/bias", "dense_2/bias", "dense_2/kernel"]);
            let shapes: Vec<_> = misshaped
                .iter()
                .map(|m| (m.name.as_str(), m.expected.clone(), m.found.clone()))
                .collect();
            assert_eq!(
                shapes,
                [
                    ("dense_1/kernel", vec![3, 7], vec![3, 2]),
                    ("dense_1/bias", vec![7], vec![2]),
                ]
            );
        }
        other => panic!("expected a weights mismatch, got {other:?}"),
    }
    assert_eq!(target.weights_to_bytes().unwrap(), before);
}

#[test]
fn a_model_file_given_to_load_weights_is_named() {
    let bytes = seed_model(0).to_bytes().unwrap();
    let err = seed_model(0).load_weights_from_bytes(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"<weights>: not a Keel weights file: expected magic b"KEELWGHT", found b"KEELMODL" (that is a Keel model file)"#
    );
}

#[test]
fn a_corrupted_weights_file_is_an_error_naming_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.keel");
    seed_model(0).save_weights(&path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let msg = seed_model(1).load_weights(&path).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}: corrupted: checksum mismatch", path.display())),
        "{msg}"
    );
}

/// A layer with no config: whole-model saves refuse it, weights-only saves do not.
#[derive(Debug)]
struct Scale(Option<Param>);

impl Layer for Scale {
    fn kind(&self) -> &'static str {
        "scale"
    }
    fn build(
        &mut self,
        input_shape: &[usize],
        _rng: &mut StdRng,
    ) -> keel_layers::Result<Vec<usize>> {
        self.0 = Some(Param::new(keel_autograd::tensor(&[1], vec![2.0])));
        Ok(input_shape.to_vec())
    }
    fn forward<'t>(&self, x: Var<'t>, _ctx: &mut Ctx<'_>) -> Var<'t> {
        x * x.tape().param(self.0.as_ref().expect("built"))
    }
    fn params(&self) -> Vec<(&'static str, &Param)> {
        self.0.iter().map(|p| ("factor", p)).collect()
    }
    fn params_mut(&mut self) -> Vec<(&'static str, &mut Param)> {
        self.0.iter_mut().map(|p| ("factor", p)).collect()
    }
    fn config(&self) -> Option<LayerConfig> {
        None
    }
}

#[test]
fn a_model_with_a_custom_layer_saves_its_weights_but_not_itself() {
    let model = Sequential::new([3]).add(Dense::new(2)).add(Scale(None));
    assert!(matches!(
        model.to_bytes(),
        Err(Error::UnserializableLayer {
            index: 1,
            kind: "scale"
        })
    ));
    let bytes = model.weights_to_bytes().unwrap();
    let mut other = Sequential::new([3])
        .add(Dense::new(2))
        .add(Scale(None))
        .seed(9);
    other.load_weights_from_bytes(&bytes).unwrap();
    assert_eq!(other.weights_to_bytes().unwrap(), bytes);
    // safetensors: the weights, without the architecture.
    let exported = model.to_safetensors().unwrap();
    let (_, metadata) = SafeTensors::read_metadata(&exported).unwrap();
    assert!(metadata.metadata().is_none());
    assert_eq!(
        SafeTensors::deserialize(&exported).unwrap().names().len(),
        3
    );
}

#[test]
fn safetensors_holds_every_weight_bit_for_bit_in_sorted_order() {
    let model = seed_model(5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.safetensors");
    model.export_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes == model.to_safetensors().unwrap(),
        "deterministic bytes"
    );
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<&str> = file.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "dense/bias",
            "dense/kernel",
            "dense_1/bias",
            "dense_1/kernel"
        ]
    );
    let mut offsets = Vec::new();
    for (name, param) in model.named_params() {
        let name = name.to_string();
        let view = file.tensor(&name).unwrap();
        assert_eq!(view.dtype(), Dtype::F32);
        assert_eq!(view.shape(), param.value().shape());
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let expected: Vec<f32> = param.value().iter().copied().collect();
        assert_eq!(values, expected, "{name}");
        offsets.push((view.data().as_ptr() as usize, name));
    }
    offsets.sort();
    let by_offset: Vec<&str> = offsets.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(by_offset, names, "data in sorted name order");
}

#[test]
fn safetensors_metadata_holds_the_architecture_as_json() {
    let model = Sequential::new([2, 2])
        .add(Flatten::new())
        .add(Dense::new(3).activation(Activation::Tanh));
    let bytes = model.to_safetensors().unwrap();
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    let json = &metadata.metadata().as_ref().unwrap()[SAFETENSORS_ARCHITECTURE_KEY];
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(value["input_shape"], serde_json::json!([2, 2]));
    let layers: Vec<LayerConfig> = serde_json::from_value(value["layers"].clone()).unwrap();
    let expected: Vec<LayerConfig> = model.layers().iter().map(|l| l.config().unwrap()).collect();
    assert_eq!(layers, expected);
}
