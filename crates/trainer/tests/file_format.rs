//! Model files that are truncated, corrupted, of another version or kind, or whose
//! architecture and weights disagree are each a specific `Err`, never a panic; writes are
//! atomic and never store non-finite weights.

use keel_layers::{Activation, Dense, DenseConfig, Flatten, Initializer, LayerConfig};
use keel_trainer::{Error, FormatProblem, Misshaped, Sequential, FORMAT_VERSION, MAGIC};
use serde::Serialize;
use std::collections::BTreeMap;

fn model() -> Sequential {
    Sequential::new([2, 2])
        .add(Flatten::new())
        .add(Dense::new(3).activation(Activation::Relu))
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(3)
}

fn problem(bytes: &[u8]) -> FormatProblem {
    match Sequential::from_bytes(bytes) {
        Err(Error::Format { problem, .. }) => problem,
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// The model-file envelope around `payload`, as the format (ADR 0003) describes it.
fn seal(payload: &[u8]) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// The model record's fields in order, to craft payloads that pass the envelope.
#[derive(Serialize)]
struct Record {
    input_shape: Vec<usize>,
    seed: u64,
    layers: Vec<LayerConfig>,
    trainable: Vec<bool>,
    params: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

/// A model file's payload: the model record, then the compile configuration (none here).
#[derive(Serialize)]
struct File {
    model: Record,
    compile: Option<()>,
}

fn dense(units: usize) -> LayerConfig {
    LayerConfig::Dense(DenseConfig {
        units,
        activation: Activation::Linear,
        use_bias: true,
        kernel_initializer: Initializer::GlorotUniform,
        bias_initializer: Initializer::Zeros,
        kernel_regularizer: None,
        bias_regularizer: None,
    })
}

fn crafted(
    input_shape: &[usize],
    layers: Vec<LayerConfig>,
    params: &[(&str, &[usize])],
) -> Vec<u8> {
    let params = params
        .iter()
        .map(|&(name, shape)| {
            let n = shape.iter().product();
            (name.to_string(), (shape.to_vec(), vec![0.5; n]))
        })
        .collect();
    let record = Record {
        input_shape: input_shape.to_vec(),
        seed: 0,
        trainable: vec![true; layers.len()],
        layers,
        params,
    };
    encode(record)
}

fn encode(model: Record) -> Vec<u8> {
    let file = File {
        model,
        compile: None,
    };
    seal(&bincode::serde::encode_to_vec(&file, bincode::config::standard()).unwrap())
}

#[test]
fn the_crafted_record_matches_the_real_one() {
    let bytes = crafted(
        &[3],
        vec![dense(2)],
        &[("dense/kernel", &[3, 2]), ("dense/bias", &[2])],
    );
    let model = Sequential::from_bytes(&bytes).unwrap();
    assert_eq!(model.param_count(), 8);
}

#[test]
fn a_trainable_flag_per_layer_is_required() {
    let params = BTreeMap::from([
        ("dense/kernel".to_string(), (vec![3, 2], vec![0.5; 6])),
        ("dense/bias".to_string(), (vec![2], vec![0.5; 2])),
    ]);
    let record = Record {
        input_shape: vec![3],
        seed: 0,
        layers: vec![dense(2)],
        trainable: vec![true, false],
        params,
    };
    assert_eq!(
        problem(&encode(record)).to_string(),
        "architecture mismatch: expected a trainable flag for each of the 1 layers, found 2"
    );
}

#[test]
fn another_file_is_a_wrong_magic_showing_both_tags() {
    let msg = Sequential::from_bytes(b"\x89PNG\r\n\x1a\n and more")
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        r#"<model>: not a Keel model file: expected magic b"KEELMODL", found b"\x89PNG\r\n\x1a\n""#
    );
}

#[test]
fn a_weights_file_given_as_a_model_is_named() {
    let weights = model().weights_to_bytes().unwrap();
    let msg = problem(&weights).to_string();
    assert!(msg.ends_with("(that is a Keel weights file)"), "{msg}");
}

#[test]
fn another_version_is_an_error_with_both_numbers() {
    let mut bytes = model().to_bytes().unwrap();
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(
        problem(&bytes).to_string(),
        format!("unsupported format version: expected {FORMAT_VERSION}, found 1")
    );
}

#[test]
fn every_truncation_is_a_truncation_error() {
    let bytes = model().to_bytes().unwrap();
    let payload = bytes.len() as u64 - 24;
    for len in 0..bytes.len() {
        match problem(&bytes[..len]) {
            FormatProblem::TruncatedHeader {
                expected: 24,
                found,
            } => {
                assert!(len < 24 && found == len)
            }
            FormatProblem::Truncated { expected, found } => {
                assert_eq!((expected, found), (payload, len as u64 - 24));
            }
            other => panic!("length {len}: {other}"),
        }
    }
    let msg = problem(&bytes[..bytes.len() - 10]).to_string();
    assert_eq!(
        msg,
        format!(
            "truncated: expected {payload} payload bytes, found {}",
            payload - 10
        )
    );
}

#[test]
fn every_corrupted_payload_byte_is_a_checksum_error() {
    let bytes = model().to_bytes().unwrap();
    for i in 24..bytes.len() {
        let mut corrupted = bytes.clone();
        corrupted[i] ^= 0x5a;
        assert!(
            matches!(problem(&corrupted), FormatProblem::Checksum { .. }),
            "byte {i}"
        );
    }
    let mut corrupted = bytes.clone();
    corrupted[30] ^= 1;
    let msg = problem(&corrupted).to_string();
    assert!(
        msg.starts_with("corrupted: checksum mismatch (expected 0x"),
        "{msg}"
    );
}

#[test]
fn trailing_bytes_are_an_error() {
    let mut bytes = model().to_bytes().unwrap();
    bytes.extend_from_slice(b"junk");
    assert!(matches!(
        problem(&bytes),
        FormatProblem::TrailingBytes { .. }
    ));
}

#[test]
fn a_payload_that_does_not_decode_is_an_error() {
    let msg = problem(&seal(&[0xff; 16])).to_string();
    assert!(
        msg.starts_with("corrupted: the payload does not decode: "),
        "{msg}"
    );
}

#[test]
fn an_architecture_that_cannot_be_built_is_an_error() {
    let bytes = crafted(&[2, 2], vec![dense(3)], &[]);
    let msg = problem(&bytes).to_string();
    assert!(
        msg.starts_with("architecture mismatch: layer 0 cannot be built: dense: expected")
            && msg.contains("[2, 2]"),
        "{msg}"
    );
}

#[test]
fn an_architecture_larger_than_its_weights_is_refused_before_allocating() {
    // A trillion-weight layer with 8 weights in the file: refused without building it.
    let bytes = crafted(
        &[1 << 20],
        vec![dense(1 << 20)],
        &[("dense/kernel", &[2, 3]), ("dense/bias", &[2])],
    );
    let msg = problem(&bytes).to_string();
    assert!(
        msg.contains("create 1099512676352 weights") && msg.contains("at most the 8"),
        "{msg}"
    );
}

#[test]
fn weights_that_do_not_fit_the_architecture_are_all_listed() {
    let bytes = crafted(
        &[3],
        vec![dense(2)],
        &[
            ("dense/kernel", &[3, 4]),
            ("dense_1/bias", &[2]),
            ("x", &[1]),
            ("y", &[2]),
        ],
    );
    assert_eq!(
        problem(&bytes),
        FormatProblem::Weights {
            missing: vec!["dense/bias".into()],
            unexpected: vec!["dense_1/bias".into(), "x".into(), "y".into()],
            misshaped: vec![Misshaped {
                name: "dense/kernel".into(),
                expected: vec![3, 2],
                found: vec![3, 4],
            }],
        }
    );
}

#[test]
fn a_non_finite_weight_in_a_file_is_refused() {
    let mut record = Record {
        input_shape: vec![1],
        seed: 0,
        layers: vec![dense(1)],
        trainable: vec![true],
        params: BTreeMap::new(),
    };
    record
        .params
        .insert("dense/kernel".into(), (vec![1, 1], vec![f32::NAN]));
    record
        .params
        .insert("dense/bias".into(), (vec![1], vec![0.0]));
    assert_eq!(
        problem(&encode(record)).to_string(),
        "non-finite weight NaN in dense/kernel: expected finite numbers"
    );
}

#[test]
fn a_model_with_a_non_finite_weight_is_never_saved_and_the_old_file_stays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.keel");
    let mut model = model();
    model.save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    model.named_params_mut()[1].1.value_mut()[0] = f32::INFINITY;
    let msg = model.save(&path).unwrap_err().to_string();
    assert_eq!(
        msg,
        "refusing to save: dense/bias holds a non-finite weight (inf), expected finite numbers"
    );
    assert_eq!(std::fs::read(&path).unwrap(), good);
    assert!(model.save_weights(dir.path().join("w")).is_err());
    assert!(model.export_safetensors(dir.path().join("s")).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn saving_replaces_the_file_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.keel");
    model().save(&path).unwrap();
    let other = model().seed(4);
    other.save(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), other.to_bytes().unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn load_names_the_file_in_format_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.keel");
    std::fs::write(&path, &model().to_bytes().unwrap()[..30]).unwrap();
    let msg = Sequential::load(&path).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}: truncated: expected ", path.display())),
        "{msg}"
    );
}

#[test]
fn activations_are_stored_by_their_index_so_new_ones_come_last() {
    // Files written before an activation was added must keep decoding to the same ones.
    let old = ["linear", "relu", "sigmoid", "tanh", "softmax"];
    for (i, act) in Activation::ALL.into_iter().enumerate() {
        let bytes = bincode::serde::encode_to_vec(act, bincode::config::standard()).unwrap();
        assert_eq!(bytes, [i as u8], "{act:?}");
        if let Some(name) = old.get(i) {
            assert_eq!(act.name(), *name);
        }
    }
}

#[test]
fn a_model_with_every_activation_round_trips_with_the_same_predictions() {
    use keel_data::{Dataset, Targets};
    use keel_layers::ActivationLayer;
    let mut model = Sequential::new([3]);
    for act in Activation::ALL {
        model = model
            .add(Dense::new(3).activation(act))
            .add(ActivationLayer::new(act));
    }
    let model = model.seed(11);
    let x = ndarray::Array2::from_shape_fn((4, 3), |(i, j)| i as f32 - j as f32 * 0.7).into_dyn();
    let data = Dataset::from_f32(x, Targets::Classes(vec![0, 1, 2, 0])).unwrap();
    let bytes = model.to_bytes().unwrap();
    let loaded = Sequential::from_bytes(&bytes).unwrap();
    assert_eq!(loaded.to_bytes().unwrap(), bytes);
    assert_eq!(
        loaded.predict(&data).unwrap(),
        model.predict(&data).unwrap()
    );
}
