//! The envelope every Keel file shares: a header that says what the file is and lets a
//! loader tell a truncated or corrupted file from a good one before decoding anything.
//!
//! ```text
//! offset  size  field
//!      0     8  magic tag, one per kind of file (b"KEELMODL", b"KEELWGHT", b"KEELCKPT")
//!      8     4  format version of the payload, u32 little-endian
//!     12     8  payload length in bytes, u64 little-endian
//!     20     4  CRC-32 (IEEE) of the payload, u32 little-endian
//!     24     …  payload: a bincode 2 (serde, standard config) record
//! ```
//!
//! [`open`] checks the fields in that order and returns the first [`FormatProblem`]. The
//! payload is opaque here, so model files, weights files and (later) full training-state
//! checkpoints share one implementation.

use super::problem::FormatProblem;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One kind of Keel file: its magic tag, its payload's format version, and its name in
/// messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileKind {
    pub(crate) magic: [u8; 8],
    pub(crate) version: u32,
    pub(crate) name: &'static str,
}

/// The whole model ([`Sequential::save`](crate::Sequential::save)). Version 1 had no length
/// or checksum; version 2 is this envelope; version 3 adds the Dense regularizers to the
/// layer configs; version 4 names weights by their Keras path (`"dense_1/kernel"`, was
/// `"3.dense.kernel"`); version 5 adds each layer's trainable flag and, for a compiled
/// model, the compile configuration (optimizer config and state, loss, metrics).
pub(crate) const MODEL: FileKind = FileKind {
    magic: *b"KEELMODL",
    version: 5,
    name: "Keel model file",
};

/// Weights alone, by parameter path ([`Sequential::save_weights`](crate::Sequential::save_weights)).
/// Version 2 names weights by their Keras path (`"dense_1/kernel"`).
pub(crate) const WEIGHTS: FileKind = FileKind {
    magic: *b"KEELWGHT",
    version: 2,
    name: "Keel weights file",
};

/// Full training state ([`TrainingState`](crate::TrainingState)): model, optimizer,
/// guard, callback, position and RNG state. Version 2 names weights and optimizer state by
/// Keras path and records the new losses; version 3 adds each layer's trainable flag and
/// the optimizer's config beside its state (the compile record model files share).
pub(crate) const CHECKPOINT: FileKind = FileKind {
    magic: *b"KEELCKPT",
    version: 3,
    name: "Keel checkpoint file",
};

/// Every magic tag Keel writes, with the name of its kind.
const KNOWN: [([u8; 8], &str); 3] = [
    (MODEL.magic, MODEL.name),
    (WEIGHTS.magic, WEIGHTS.name),
    (CHECKPOINT.magic, CHECKPOINT.name),
];

/// The header's length: magic, version, payload length, checksum.
pub(crate) const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// The bytes of a file of `kind` holding `payload`.
pub(crate) fn seal(kind: FileKind, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(&kind.magic);
    bytes.extend_from_slice(&kind.version.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// The payload of a file of `kind`, after checking magic, version, length and checksum.
pub(crate) fn open(kind: FileKind, bytes: &[u8]) -> Result<&[u8], FormatProblem> {
    let truncated_header = || FormatProblem::TruncatedHeader {
        expected: HEADER_LEN,
        found: bytes.len(),
    };
    let Some(magic) = bytes.first_chunk::<8>() else {
        return Err(if kind.magic.starts_with(bytes) {
            truncated_header()
        } else {
            wrong_magic(kind, bytes)
        });
    };
    if *magic != kind.magic {
        return Err(wrong_magic(kind, magic));
    }
    let Some(version) = bytes.get(8..12) else {
        return Err(truncated_header());
    };
    let version = u32::from_le_bytes(version.try_into().expect("4 bytes"));
    if version != kind.version {
        return Err(FormatProblem::Version {
            expected: kind.version,
            found: version,
        });
    }
    let Some((header, payload)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(truncated_header());
    };
    let expected = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
    let checksum = u32::from_le_bytes(header[20..24].try_into().expect("4 bytes"));
    let found = payload.len() as u64;
    if found < expected {
        return Err(FormatProblem::Truncated { expected, found });
    }
    if found > expected {
        return Err(FormatProblem::TrailingBytes { expected, found });
    }
    let actual = crc32fast::hash(payload);
    if actual != checksum {
        return Err(FormatProblem::Checksum {
            expected: checksum,
            found: actual,
        });
    }
    Ok(payload)
}

fn wrong_magic(kind: FileKind, found: &[u8]) -> FormatProblem {
    FormatProblem::Magic {
        kind: kind.name,
        expected: kind.magic,
        found: found.to_vec(),
        other: KNOWN
            .iter()
            .find(|(magic, _)| magic == found)
            .map(|&(_, name)| name),
    }
}

/// `record` as a sealed file of `kind`.
pub(crate) fn encode<T: Serialize>(kind: FileKind, record: &T) -> Vec<u8> {
    let payload = bincode::serde::encode_to_vec(record, bincode::config::standard())
        .expect("a Keel record always encodes: its fields are plain values, lists and maps");
    seal(kind, &payload)
}

/// The most bytes of strings (parameter paths) one decode may claim: bincode allocates a
/// string's claimed length before reading it, so without a limit a corrupted length asks
/// for gigabytes (the fuzz target `model_from_bytes` found this). A model needs about 20
/// bytes per parameter tensor, so 16 MiB is far above any real file.
const STRING_BYTES_LIMIT: usize = 1 << 24;

/// The record in a file of `kind`: the envelope's checks, then a decode that must use
/// every payload byte.
///
/// The decoder reads from the payload slice alone. Lists are pre-allocated by serde for at
/// most 1 MiB whatever length they claim, and strings are bounded by
/// `STRING_BYTES_LIMIT`, so a corrupted length ends the decode with an error instead of
/// exhausting memory.
pub(crate) fn decode<T: DeserializeOwned>(
    kind: FileKind,
    bytes: &[u8],
) -> Result<T, FormatProblem> {
    let payload = open(kind, bytes)?;
    let config = bincode::config::standard().with_limit::<STRING_BYTES_LIMIT>();
    let (record, used) =
        bincode::serde::decode_from_slice::<T, _>(payload, config).map_err(|e| {
            FormatProblem::Decode {
                problem: e.to_string(),
            }
        })?;
    if used != payload.len() {
        return Err(FormatProblem::Decode {
            problem: format!(
                "expected the record to fill the {} payload bytes, found {} left over",
                payload.len(),
                payload.len() - used
            ),
        });
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed() -> Vec<u8> {
        seal(MODEL, b"payload")
    }

    #[test]
    fn a_sealed_payload_opens_unchanged() {
        assert_eq!(open(MODEL, &sealed()).unwrap(), b"payload");
        assert_eq!(sealed().len(), HEADER_LEN + 7);
    }

    #[test]
    fn each_check_reports_its_own_problem() {
        let good = sealed();
        assert!(matches!(
            open(WEIGHTS, &good),
            Err(FormatProblem::Magic {
                other: Some("Keel model file"),
                ..
            })
        ));
        assert!(matches!(
            open(MODEL, &good[..5]),
            Err(FormatProblem::TruncatedHeader {
                expected: 24,
                found: 5
            })
        ));
        assert!(matches!(
            open(MODEL, &good[..20]),
            Err(FormatProblem::TruncatedHeader { found: 20, .. })
        ));
        let mut version = good.clone();
        version[8] = 9;
        assert!(matches!(
            open(MODEL, &version),
            Err(FormatProblem::Version {
                expected: 5,
                found: 9
            })
        ));
        assert!(matches!(
            open(MODEL, &good[..good.len() - 2]),
            Err(FormatProblem::Truncated {
                expected: 7,
                found: 5
            })
        ));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            open(MODEL, &trailing),
            Err(FormatProblem::TrailingBytes {
                expected: 7,
                found: 8
            })
        ));
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            open(MODEL, &flipped),
            Err(FormatProblem::Checksum { .. })
        ));
    }

    #[test]
    fn a_short_file_that_is_not_a_prefix_of_the_magic_is_a_wrong_magic() {
        assert!(matches!(
            open(MODEL, b"PK"),
            Err(FormatProblem::Magic { other: None, .. })
        ));
    }

    #[test]
    fn a_record_round_trips_and_leftover_bytes_are_refused() {
        let bytes = encode(WEIGHTS, &(3u32, "x".to_string()));
        let back: (u32, String) = decode(WEIGHTS, &bytes).unwrap();
        assert_eq!(back, (3, "x".to_string()));
        let short: Result<u32, _> = decode(WEIGHTS, &bytes);
        assert!(matches!(short, Err(FormatProblem::Decode { .. })));
    }
}
