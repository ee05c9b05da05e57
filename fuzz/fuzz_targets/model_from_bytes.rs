//! The Keel file loaders on arbitrary bytes: `Sequential::from_bytes` (model files) and
//! `Sequential::load_weights_from_bytes` (weights files). They must return `Ok` or `Err`,
//! never panic or allocate without bound, and a model that loads must save and load again.
//!
//! The first input byte picks the mode:
//! - bit 0 clear: the rest is the file, as is (the envelope's checks: magic, version,
//!   length, checksum);
//! - bit 0 set: the rest is a payload, sealed here in a valid envelope, so the fuzzer gets
//!   past the CRC-32 to the decoder, the architecture and the weight checks;
//! - bit 1 picks the weights loader (into the architecture of the golden test's tiny model)
//!   instead of the model loader.
#![no_main]

use keel_layers::{Activation, Dense, Dropout, Flatten};
use keel_trainer::{Sequential, FORMAT_VERSION, MAGIC, WEIGHTS_FORMAT_VERSION, WEIGHTS_MAGIC};
use libfuzzer_sys::fuzz_target;

fn seal(magic: &[u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_vec();
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let sealed = mode & 1 == 1;
    if mode & 2 == 0 {
        let bytes = if sealed {
            seal(MAGIC, FORMAT_VERSION, rest)
        } else {
            rest.to_vec()
        };
        if let Ok(model) = Sequential::from_bytes(&bytes) {
            let again = model.to_bytes().expect("a loaded model saves");
            let reloaded = Sequential::from_bytes(&again).expect("a saved model loads");
            assert_eq!(reloaded.to_bytes().expect("saves again"), again);
        }
    } else {
        let bytes = if sealed {
            seal(WEIGHTS_MAGIC, WEIGHTS_FORMAT_VERSION, rest)
        } else {
            rest.to_vec()
        };
        let mut model = Sequential::new([2, 2])
            .add(Flatten::new())
            .add(Dense::new(3).activation(Activation::Relu))
            .add(Dropout::new(0.25))
            .add(Dense::new(2).activation(Activation::Softmax));
        let before = model.weights_to_bytes().expect("fresh weights save");
        match model.load_weights_from_bytes(&bytes) {
            Ok(()) => {
                model.weights_to_bytes().expect("loaded weights save");
            }
            Err(_) => assert_eq!(
                model.weights_to_bytes().expect("weights save"),
                before,
                "a failed load changed the weights"
            ),
        }
    }
});
