//! Model files round-trip and bad files are errors, never panics.

mod common;
use common::{mnist_subset, seed_model};
use keel_trainer::{Error, FitOptions, Sequential, FORMAT_VERSION, MAGIC};

fn trained() -> Sequential {
    let mut model = seed_model(1);
    model
        .fit(&mnist_subset(500), FitOptions::new().epochs(1).verbose(0))
        .expect("fit");
    model
}

#[test]
fn a_loaded_model_predicts_bit_identically() {
    let model = trained();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.keel");
    model.save(&path).unwrap();
    let restored = Sequential::load(&path).unwrap();
    let data = mnist_subset(200);
    assert_eq!(
        model.predict(&data).unwrap(),
        restored.predict(&data).unwrap()
    );
    assert_eq!(restored.layer_names(), model.layer_names());
    assert_eq!(restored.to_bytes().unwrap(), model.to_bytes().unwrap());
}

#[test]
fn the_file_starts_with_magic_and_version() {
    let bytes = trained().to_bytes().unwrap();
    assert_eq!(&bytes[..8], MAGIC);
    assert_eq!(
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        FORMAT_VERSION
    );
}

fn format_problem(bytes: &[u8]) -> String {
    match Sequential::from_bytes(bytes) {
        Err(Error::Format { problem, .. }) => problem,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn bad_files_are_specific_errors() {
    let bytes = trained().to_bytes().unwrap();
    assert!(format_problem(b"PK\x03\x04 not a model").contains("expected magic"));
    let mut wrong_version = bytes.clone();
    wrong_version[8..12].copy_from_slice(&99u32.to_le_bytes());
    assert!(format_problem(&wrong_version).contains("expected 2, found 99"));
    assert!(format_problem(&bytes[..bytes.len() / 2]).contains("truncated"));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(format_problem(&trailing).contains("expected"));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = trained().to_bytes().unwrap();
    for len in (0..bytes.len()).step_by(97) {
        assert!(
            Sequential::from_bytes(&bytes[..len]).is_err(),
            "length {len}"
        );
    }
}

#[test]
fn a_missing_file_names_its_path() {
    let err = Sequential::load("/nonexistent/model.keel").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/model.keel"), "{err}");
}
