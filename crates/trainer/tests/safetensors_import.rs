//! safetensors import: `load_safetensors`, `load_safetensors_from_bytes`, and
//! `load_weights` telling safetensors from Keel weights by content.
//!
//! Tensor names always come from `model.named_params()`, never spelled out, so the tests
//! hold whatever Keel calls its parameters.

mod common;
use common::{mnist_subset, seed_model};
use keel_layers::Dense;
use keel_trainer::{Error, FormatProblem, Misshaped, Sequential};

/// The model the hand-written files and the Python fixture fit: kernel [3, 4], bias [4],
/// kernel [4, 2], bias [2].
fn small_model() -> Sequential {
    Sequential::new([3])
        .add(Dense::new(4))
        .add(Dense::new(2))
        .seed(7)
}

fn names(model: &Sequential) -> Vec<String> {
    model
        .named_params()
        .into_iter()
        .map(|(n, _)| n.to_string())
        .collect()
}

fn values(model: &Sequential) -> Vec<Vec<f32>> {
    model
        .named_params()
        .iter()
        .map(|(_, p)| p.value().iter().copied().collect())
        .collect()
}

/// One tensor of a file written by hand: the dtype as the header spells it, and the
/// little-endian bytes of its values.
struct Raw {
    name: String,
    dtype: &'static str,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Raw {
    fn new(name: &str, dtype: &'static str, shape: &[usize], bytes: Vec<u8>) -> Raw {
        Raw {
            name: name.to_string(),
            dtype,
            shape: shape.to_vec(),
            bytes,
        }
    }

    fn f32(name: &str, shape: &[usize], values: &[f32]) -> Raw {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Raw::new(name, "F32", shape, bytes)
    }

    fn f64(name: &str, shape: &[usize], values: &[f64]) -> Raw {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Raw::new(name, "F64", shape, bytes)
    }

    fn bits16(name: &str, dtype: &'static str, shape: &[usize], bits: &[u16]) -> Raw {
        let bytes = bits.iter().flat_map(|v| v.to_le_bytes()).collect();
        Raw::new(name, dtype, shape, bytes)
    }
}

/// A safetensors file as NumPy's writer lays it out, written by hand (not with the
/// safetensors crate): the header length as a u64 little-endian, the JSON header with
/// `__metadata__` first and each tensor's dtype, shape and data offsets, padded with
/// spaces to a multiple of 8 bytes, then the tensors' bytes one after another.
fn write_safetensors(tensors: &[Raw]) -> Vec<u8> {
    let mut entries = vec![r#""__metadata__":{"format":"np"}"#.to_string()];
    let mut offset = 0;
    for t in tensors {
        entries.push(format!(
            r#"{}:{{"dtype":"{}","shape":{:?},"data_offsets":[{},{}]}}"#,
            serde_json::to_string(&t.name).unwrap(),
            t.dtype,
            t.shape,
            offset,
            offset + t.bytes.len()
        ));
        offset += t.bytes.len();
    }
    let mut header = format!("{{{}}}", entries.join(","));
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    for t in tensors {
        file.extend_from_slice(&t.bytes);
    }
    file
}

/// F32 tensors that fit `small_model`, by its parameter names: 0.01, 0.02, ….
fn good_tensors(model: &Sequential) -> Vec<Raw> {
    let mut next = 0.0f32;
    model
        .named_params()
        .iter()
        .map(|(name, p)| {
            let values: Vec<f32> = (0..p.len())
                .map(|_| {
                    next += 0.01;
                    next
                })
                .collect();
            Raw::f32(&name.to_string(), p.value().shape(), &values)
        })
        .collect()
}

// (a) Round trip.

#[test]
fn exported_safetensors_load_back_into_identical_weights_and_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.safetensors");
    let trained = seed_model(1);
    trained.export_safetensors(&path).unwrap();
    let data = mnist_subset(32);
    let expected = trained.predict(&data).unwrap();

    let mut by_name = seed_model(2);
    assert_ne!(by_name.predict(&data).unwrap(), expected);
    by_name.load_safetensors(&path).unwrap();
    assert_eq!(values(&by_name), values(&trained));
    assert_eq!(by_name.predict(&data).unwrap(), expected);

    let mut by_content = seed_model(3);
    by_content.load_weights(&path).unwrap();
    assert_eq!(values(&by_content), values(&trained));
    assert_eq!(by_content.predict(&data).unwrap(), expected);
}

#[test]
fn load_weights_tells_the_formats_apart_by_content_not_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let trained = small_model().seed(1);
    // Each file under the other format's extension.
    let safetensors = dir.path().join("model.weights");
    trained.export_safetensors(&safetensors).unwrap();
    let keel = dir.path().join("model.safetensors");
    trained.save_weights(&keel).unwrap();
    for path in [&safetensors, &keel] {
        let mut fresh = small_model().seed(2);
        assert_ne!(values(&fresh), values(&trained));
        fresh.load_weights(path).unwrap();
        assert_eq!(values(&fresh), values(&trained), "{}", path.display());
    }
    // load_safetensors does not read Keel weights, and says what it found.
    let mut fresh = small_model().seed(2);
    let before = values(&fresh);
    let err = fresh.load_safetensors(&keel).unwrap_err();
    assert!(
        matches!(&err, Error::Format { problem: FormatProblem::Safetensors { problem }, .. }
            if problem.contains("Keel file (KEELWGHT)")),
        "{err}"
    );
    assert!(err.to_string().starts_with(&keel.display().to_string()));
    assert_eq!(values(&fresh), before);
}

// (b) A file written by hand in NumPy's layout.

#[test]
fn a_hand_written_numpy_layout_file_loads_f32_f64_f16_and_bf16_values() {
    let mut model = small_model();
    let names = names(&model);
    let kernel0 = [
        0.1,
        -0.2,
        0.3,
        1.0 / 3.0,
        1e-3,
        2.5,
        -7.0,
        1e10,
        0.0,
        -0.0,
        42.0,
        1e-40,
    ];
    let bias0 = [0.5f32, -1.5, 2.25, -3.125];
    // F16 bits: 1, -2, 0.5, 65504 (largest), 2^-14 (smallest normal), 2^-24 (smallest
    // subnormal), -0, 1.0009765625.
    let kernel1 = [
        0x3c00, 0xc000, 0x3800, 0x7bff, 0x0400, 0x0001, 0x8000, 0x3c01,
    ];
    // BF16 bits: 1.5, -3.015625.
    let bias1 = [0x3fc0, 0xc041];
    let file = write_safetensors(&[
        Raw::f64(&names[0], &[3, 4], &kernel0),
        Raw::f32(&names[1], &[4], &bias0),
        Raw::bits16(&names[2], "F16", &[4, 2], &kernel1),
        Raw::bits16(&names[3], "BF16", &[2], &bias1),
    ]);
    model.load_safetensors_from_bytes(&file).unwrap();
    let got = values(&model);
    let narrowed: Vec<f32> = kernel0.iter().map(|&v| v as f32).collect();
    assert_eq!(got[0], narrowed);
    assert_eq!(got[0][0], 0.1f32);
    assert_ne!(
        f64::from(got[0][0]),
        0.1f64,
        "an F64 value is rounded to f32"
    );
    assert_eq!(got[1], bias0);
    assert_eq!(
        got[2],
        [
            1.0,
            -2.0,
            0.5,
            65504.0,
            2f32.powi(-14),
            2f32.powi(-24),
            -0.0,
            1.0 + 2f32.powi(-10)
        ]
    );
    assert!(got[2][6].is_sign_negative());
    assert_eq!(got[3], [1.5, -3.015625]);
}

// (c) A file written by Python's safetensors package.

/// Written by `data/make_safetensors_fixture.py` (safetensors 0.8.0, NumPy front end):
/// tensors `param0` .. `param3` for the parameters of `small_model` in `named_params()`
/// order, in F32, F64, F16 and BF16.
const PYTHON_FIXTURE: &[u8] = include_bytes!("data/tiny_numpy.safetensors");

/// The header length, the header text and the data section of a safetensors file, split
/// by hand.
fn split(file: &[u8]) -> (usize, &str, &[u8]) {
    let length = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&file[8..8 + length]).unwrap();
    (length, header, &file[8 + length..])
}

/// The Python fixture with its keys `param{i}` renamed to the model's parameter names.
/// Only the names in the header change: Python's dtypes, shapes, offsets, metadata, key
/// order, padding and data bytes are kept.
fn python_fixture_for(model: &Sequential) -> Vec<u8> {
    let (_, header, data) = split(PYTHON_FIXTURE);
    let mut header = header.to_string();
    for (i, name) in names(model).iter().enumerate() {
        let key = format!("\"param{i}\"");
        assert_eq!(header.matches(&key).count(), 1, "{key} in {header}");
        header = header.replace(&key, &serde_json::to_string(name).unwrap());
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(data);
    file
}

#[test]
fn the_python_fixture_is_what_the_test_claims() {
    let (length, header, data) = split(PYTHON_FIXTURE);
    // Python pads the header with spaces to align the data on 8 bytes, writes metadata,
    // and orders the tensors by dtype size, not by name.
    assert_eq!((8 + length) % 8, 0);
    assert!(header.ends_with(' '), "{header:?}");
    assert!(
        header.starts_with(r#"{"__metadata__":{"written_by":"#),
        "{header}"
    );
    let order: Vec<usize> = ["param1", "param0", "param3", "param2"]
        .iter()
        .map(|k| header.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{header}");
    assert_eq!(data.len(), 4 * 8 + 12 * 4 + 2 * 2 + 8 * 2);
}

#[test]
fn a_file_written_by_python_safetensors_loads_with_the_expected_values() {
    let mut model = small_model();
    let before = values(&model);
    // As written, its keys are not the model's names; everything else parses.
    match model.load_safetensors_from_bytes(PYTHON_FIXTURE) {
        Err(Error::Format {
            problem:
                FormatProblem::Weights {
                    missing,
                    unexpected,
                    misshaped,
                },
            ..
        }) => {
            assert_eq!(missing, names(&model));
            assert_eq!(unexpected, ["param0", "param1", "param2", "param3"]);
            assert!(misshaped.is_empty());
        }
        other => panic!("expected a name mismatch, got {other:?}"),
    }
    assert_eq!(values(&model), before);

    let file = python_fixture_for(&model);
    model.load_weights_from_bytes(&file).unwrap();
    let got = values(&model);
    let kernel0: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) / 8.0).collect();
    assert_eq!(got[0], kernel0);
    let bias0: Vec<f32> = [0.1f64, -0.2, 1.0 / 3.0, 1e-3]
        .iter()
        .map(|&v| v as f32)
        .collect();
    assert_eq!(got[1], bias0);
    assert_eq!(
        got[2],
        [
            0.5,
            -1.25,
            65504.0,
            -(2f32.powi(-14)),
            2f32.powi(-24),
            0.0,
            -0.0,
            1.0 + 2f32.powi(-10)
        ]
    );
    assert!(got[2][6].is_sign_negative() && got[2][5].is_sign_positive());
    assert_eq!(got[3], [1.5, -3.015625]);
}

// (d) Errors: each names the problem, and the model is unchanged.

/// Loads `file` into a fresh `small_model`, checks that the weights did not change, and
/// returns the error.
fn load_error(file: &[u8]) -> Error {
    let mut model = small_model();
    let before = values(&model);
    let err = model
        .load_safetensors_from_bytes(file)
        .expect_err("the file should be refused");
    assert_eq!(values(&model), before, "the model changed on {err}");
    // load_weights tells it is safetensors (or not) and refuses it the same way.
    let again = model.load_weights_from_bytes(file).unwrap_err();
    assert_eq!(values(&model), before, "the model changed on {again}");
    if file.get(8) == Some(&b'{') {
        assert_eq!(
            again.to_string().replacen("<weights>", "<safetensors>", 1),
            err.to_string()
        );
    }
    err
}

fn problem(err: Error) -> FormatProblem {
    match err {
        Error::Format { problem, .. } => problem,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn the_good_tensors_load() {
    // The baseline the error tests change one thing of.
    let mut model = small_model();
    let tensors = good_tensors(&model);
    model
        .load_safetensors_from_bytes(&write_safetensors(&tensors))
        .unwrap();
    let written: Vec<Vec<f32>> = tensors
        .iter()
        .map(|t| {
            t.bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect()
        })
        .collect();
    assert_eq!(values(&model), written);
    assert_eq!(written[0][0], 0.01);
}

#[test]
fn an_integer_tensor_is_refused_naming_it_and_its_dtype() {
    let model = small_model();
    let mut tensors = good_tensors(&model);
    tensors[1].dtype = "I32";
    let err = load_error(&write_safetensors(&tensors));
    assert_eq!(
        err.to_string(),
        format!(
            "<safetensors>: tensor {} has dtype I32: expected F32, F64, F16 or BF16",
            names(&model)[1]
        )
    );
    assert_eq!(
        problem(err),
        FormatProblem::UnsupportedDtype {
            name: names(&model)[1].clone(),
            found: "I32".into()
        }
    );
}

#[test]
fn a_wrong_shape_is_refused_with_both_shapes() {
    let model = small_model();
    let mut tensors = good_tensors(&model);
    tensors[0].shape = vec![4, 3];
    let err = problem(load_error(&write_safetensors(&tensors)));
    assert_eq!(
        err,
        FormatProblem::Weights {
            missing: vec![],
            unexpected: vec![],
            misshaped: vec![Misshaped {
                name: names(&model)[0].clone(),
                expected: vec![3, 4],
                found: vec![4, 3],
            }],
        }
    );
}

#[test]
fn missing_and_unexpected_tensors_are_refused_naming_each() {
    let model = small_model();
    let mut tensors = good_tensors(&model);
    tensors.pop();
    let err = problem(load_error(&write_safetensors(&tensors)));
    assert_eq!(
        err.to_string(),
        format!(
            "the weights do not fit the model's parameters: missing {}",
            names(&model)[3]
        )
    );

    let mut tensors = good_tensors(&model);
    tensors.push(Raw::f32("extra.tensor", &[1], &[1.0]));
    let err = problem(load_error(&write_safetensors(&tensors)));
    assert_eq!(
        err.to_string(),
        "the weights do not fit the model's parameters: unexpected extra.tensor"
    );
}

#[test]
fn non_finite_values_are_refused_in_every_dtype() {
    let model = small_model();
    let names = names(&model);
    let mut tensors = good_tensors(&model);
    tensors[1] = Raw::f32(&names[1], &[4], &[0.0, f32::NAN, 0.0, 0.0]);
    let err = load_error(&write_safetensors(&tensors));
    assert_eq!(
        err.to_string(),
        format!(
            "<safetensors>: non-finite weight NaN in {}: expected finite numbers",
            names[1]
        )
    );

    let mut tensors = good_tensors(&model);
    tensors[3] = Raw::bits16(&names[3], "F16", &[2], &[0x3c00, 0xfc00]);
    assert_eq!(
        problem(load_error(&write_safetensors(&tensors))),
        FormatProblem::NonFinite {
            name: names[3].clone(),
            value: f32::NEG_INFINITY
        }
    );

    let mut tensors = good_tensors(&model);
    tensors[1] = Raw::f64(&names[1], &[4], &[0.0, 0.0, f64::INFINITY, 0.0]);
    assert_eq!(
        problem(load_error(&write_safetensors(&tensors))),
        FormatProblem::NonFinite {
            name: names[1].clone(),
            value: f32::INFINITY
        }
    );
}

#[test]
fn an_f64_value_beyond_the_f32_range_is_refused() {
    let model = small_model();
    let names = names(&model);
    let mut tensors = good_tensors(&model);
    tensors[1] = Raw::f64(&names[1], &[4], &[0.0, -1e300, 0.0, 0.0]);
    let err = load_error(&write_safetensors(&tensors));
    assert_eq!(
        err.to_string(),
        format!(
            "<safetensors>: tensor {} holds -1e300, beyond the f32 range: \
             expected magnitudes up to 3.4028235e38",
            names[1]
        )
    );
}

#[test]
fn a_truncated_file_or_trailing_bytes_are_refused_with_both_lengths() {
    let model = small_model();
    let file = write_safetensors(&good_tensors(&model));
    let (length, _, data) = split(&file);
    let data_len = data.len() as u64;
    assert_eq!(data_len, 4 * (12 + 4 + 8 + 2));
    assert_eq!(
        problem(load_error(&file[..file.len() - 3])),
        FormatProblem::Truncated {
            expected: data_len,
            found: data_len - 3
        }
    );
    // Cut inside the header: the header length is now beyond the file.
    assert_eq!(
        problem(load_error(&file[..20])),
        FormatProblem::TruncatedHeader {
            expected: 8 + length,
            found: 20
        }
    );
    let mut longer = file.clone();
    longer.extend_from_slice(&[0; 5]);
    assert_eq!(
        problem(load_error(&longer)),
        FormatProblem::TrailingBytes {
            expected: data_len,
            found: data_len + 5
        }
    );
}

#[test]
fn a_header_length_beyond_the_file_is_refused() {
    let model = small_model();
    let mut file = write_safetensors(&good_tensors(&model));
    let claimed = file.len() as u64 * 1000;
    file[..8].copy_from_slice(&claimed.to_le_bytes());
    let err = load_error(&file);
    assert_eq!(
        err.to_string(),
        format!(
            "<safetensors>: truncated: expected a {}-byte header, found {} bytes",
            claimed + 8,
            file.len()
        )
    );
    file[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        problem(load_error(&file)),
        FormatProblem::TruncatedHeader {
            expected: usize::MAX,
            ..
        }
    ));
    // Shorter than the header length itself.
    assert_eq!(
        problem(load_error(&file[..5])),
        FormatProblem::TruncatedHeader {
            expected: 8,
            found: 5
        }
    );
}

/// `file` with its header text changed by `edit` and its header length updated.
fn with_header(file: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    let (_, header, data) = split(file);
    let header = edit(header);
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn a_header_that_is_not_valid_json_or_whose_offsets_do_not_tile_is_refused() {
    let model = small_model();
    let file = write_safetensors(&good_tensors(&model));

    let bad_json = with_header(&file, |h| {
        h.replacen("\"shape\":[3, 4]", "\"shape\":[3, 4", 1)
    });
    assert_ne!(bad_json, file);
    let err = problem(load_error(&bad_json));
    assert!(
        matches!(&err, FormatProblem::Safetensors { problem } if problem.contains("invalid JSON")),
        "{err}"
    );

    // The second tensor's data overlaps the first's.
    let overlapping = with_header(&file, |h| {
        h.replacen("\"data_offsets\":[48,64]", "\"data_offsets\":[40,56]", 1)
    });
    assert_ne!(overlapping, file);
    let err = problem(load_error(&overlapping));
    assert!(
        matches!(&err, FormatProblem::Safetensors { problem }
            if problem.contains("offset") && problem.contains(&names(&model)[1])),
        "{err}"
    );
}

#[test]
fn every_prefix_and_every_flipped_byte_of_the_python_fixture_is_handled_without_panic() {
    let good = python_fixture_for(&small_model());
    let before = values(&small_model());
    for end in 0..good.len() {
        let mut target = small_model();
        assert!(
            target.load_safetensors_from_bytes(&good[..end]).is_err(),
            "a {end}-byte prefix loaded"
        );
        assert_eq!(values(&target), before, "prefix of {end} bytes");
    }
    // Python writes `__metadata__` first: a flip inside its strings may still be JSON.
    let (length, header, _) = split(&good);
    let metadata = 8..8 + header.find('}').unwrap();
    let mut loaded = 0;
    for at in 0..good.len() {
        let mut flipped = good.clone();
        flipped[at] ^= 0x55;
        let mut target = small_model();
        match target.load_weights_from_bytes(&flipped) {
            // A flipped data byte is another value of the same tensor.
            Ok(()) => {
                assert!(
                    at >= 8 + length || metadata.contains(&at),
                    "a flipped header byte {at} loaded"
                );
                loaded += 1;
            }
            Err(_) => assert_eq!(values(&target), before, "flipped byte {at}"),
        }
    }
    assert!(loaded > 0);
}
