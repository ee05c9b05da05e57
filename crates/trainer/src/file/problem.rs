//! What can be wrong with the bytes of a Keel file: one variant per check, in the order
//! the loader makes them.

use std::fmt;

/// What is wrong with a Keel file (model, weights or checkpoint) or an imported
/// safetensors file, as [`Error::Format`](crate::Error::Format) reports it. The loader checks in this order and
/// stops at the first failure; each message says what was expected and what was found.
///
/// ```
/// use keel_layers::Dense;
/// use keel_trainer::{Error, FormatProblem, Sequential};
/// # fn main() -> keel_trainer::Result<()> {
/// let bytes = Sequential::new([2]).add(Dense::new(1)).to_bytes()?;
/// match Sequential::from_bytes(&bytes[..bytes.len() - 1]) {
///     Err(Error::Format { problem: FormatProblem::Truncated { expected, found }, .. }) => {
///         assert_eq!(expected, found + 1);
///     }
///     other => panic!("expected a truncation, got {other:?}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatProblem {
    /// The first 8 bytes are not this kind of file's magic tag.
    #[error(
        "not a {kind}: expected magic {}, found {}{}",
        show(expected),
        show(found),
        other.map(|o| format!(" (that is a {o})")).unwrap_or_default()
    )]
    Magic {
        /// The kind of file expected ("Keel model file").
        kind: &'static str,
        /// The magic tag of that kind.
        expected: [u8; 8],
        /// The first bytes of the file (at most 8).
        found: Vec<u8>,
        /// The kind of Keel file the magic belongs to, if it is another one.
        other: Option<&'static str>,
    },
    /// The format version is not the one this build reads.
    #[error("unsupported format version: expected {expected}, found {found}")]
    Version {
        /// The version this build reads.
        expected: u32,
        /// The version in the file.
        found: u32,
    },
    /// The file ends inside its header.
    #[error("truncated: expected a {expected}-byte header, found {found} bytes")]
    TruncatedHeader {
        /// The header's length.
        expected: usize,
        /// The file's length.
        found: usize,
    },
    /// The payload is shorter than the header says.
    #[error("truncated: expected {expected} payload bytes, found {found}")]
    Truncated {
        /// The payload length in the header.
        expected: u64,
        /// The bytes after the header.
        found: u64,
    },
    /// There are bytes after the payload the header describes.
    #[error("corrupted: expected {expected} payload bytes, found {found} (trailing bytes)")]
    TrailingBytes {
        /// The payload length in the header.
        expected: u64,
        /// The bytes after the header.
        found: u64,
    },
    /// The payload's CRC-32 differs from the one in the header.
    #[error("corrupted: checksum mismatch (expected {expected:#010x}, found {found:#010x})")]
    Checksum {
        /// The checksum in the header.
        expected: u32,
        /// The checksum of the payload read.
        found: u32,
    },
    /// The payload passed its checksum but is not a valid record (a file written by a
    /// build with a different record under the same version, or crafted).
    #[error("corrupted: the payload does not decode: {problem}")]
    Decode {
        /// The decoder's message.
        problem: String,
    },
    /// The bytes look like a safetensors file but their header is not valid: not UTF-8
    /// or JSON, offsets that do not tile the data, a header over the 100 MB limit.
    #[error("not a valid safetensors file: {problem}")]
    Safetensors {
        /// The safetensors parser's message, or what was expected and found.
        problem: String,
    },
    /// A safetensors tensor holds a dtype Keel cannot convert to `f32` (integers, bools,
    /// 8-bit floats, complex numbers).
    #[error("tensor {name} has dtype {found}: expected F32, F64, F16 or BF16")]
    UnsupportedDtype {
        /// The tensor's name in the file.
        name: String,
        /// Its dtype as the header spells it (`"I32"`).
        found: String,
    },
    /// A safetensors F64 value is finite but too large for `f32`.
    #[error("tensor {name} holds {value:e}, beyond the f32 range: expected magnitudes up to {max:e}", max = f32::MAX)]
    OutOfRange {
        /// The tensor's name in the file.
        name: String,
        /// The first value out of range.
        value: f64,
    },
    /// The architecture in the file cannot be built, or needs more weights than it holds.
    #[error("architecture mismatch: {problem}")]
    Architecture {
        /// What is wrong, saying what was expected and what was found.
        problem: String,
    },
    /// The weights do not fit the architecture: every missing, unexpected and mis-shaped
    /// tensor, by parameter path.
    #[error("{}", weights_message(missing, unexpected, misshaped))]
    Weights {
        /// Parameters of the model with no tensor in the file.
        missing: Vec<String>,
        /// Tensors in the file that the model has no parameter for.
        unexpected: Vec<String>,
        /// Tensors whose shape differs from the parameter's.
        misshaped: Vec<Misshaped>,
    },
    /// A stored weight is NaN or infinite.
    #[error("non-finite weight {value} in {name}: expected finite numbers")]
    NonFinite {
        /// The parameter path.
        name: String,
        /// The first bad value.
        value: f32,
    },
    /// The compile configuration in the file cannot be restored: an optimizer that is not
    /// built in or whose settings are out of range, metrics that cannot be compiled
    /// together, or optimizer state that does not fit the optimizer or the parameters
    /// (mis-shaped or missing slots, NaN or infinite values). For a model file the message
    /// ends by pointing to [`Sequential::load_uncompiled`](crate::Sequential::load_uncompiled).
    #[error("the compile configuration cannot be restored: {problem}")]
    Compile {
        /// What is wrong, saying what was expected and what was found.
        problem: String,
    },
}

/// A tensor whose shape in a file differs from the model's parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misshaped {
    /// The parameter path ("dense_1/kernel").
    pub name: String,
    /// The parameter's shape in the model.
    pub expected: Vec<usize>,
    /// The tensor's shape in the file.
    pub found: Vec<usize>,
}

impl fmt::Display for Misshaped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (expected {:?}, found {:?})",
            self.name, self.expected, self.found
        )
    }
}

/// Bytes as a Rust byte-string literal: `b"KEELMODL"`, `b"PK\x03\x04"`.
fn show(bytes: &[u8]) -> String {
    let escaped: String = bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    format!("b\"{escaped}\"")
}

fn weights_message(missing: &[String], unexpected: &[String], misshaped: &[Misshaped]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected {}", unexpected.join(", ")));
    }
    if !misshaped.is_empty() {
        let shown: Vec<String> = misshaped.iter().map(ToString::to_string).collect();
        parts.push(format!("mis-shaped {}", shown.join(", ")));
    }
    format!(
        "the weights do not fit the model's parameters: {}",
        parts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_shows_both_tags_as_byte_strings_and_names_another_keel_kind() {
        let problem = FormatProblem::Magic {
            kind: "Keel model file",
            expected: *b"KEELMODL",
            found: b"KEELWGHT".to_vec(),
            other: Some("Keel weights file"),
        };
        assert_eq!(
            problem.to_string(),
            "not a Keel model file: expected magic b\"KEELMODL\", found b\"KEELWGHT\" \
             (that is a Keel weights file)"
        );
        let problem = FormatProblem::Magic {
            kind: "Keel model file",
            expected: *b"KEELMODL",
            found: b"PK\x03\x04".to_vec(),
            other: None,
        };
        assert!(problem.to_string().ends_with("found b\"PK\\x03\\x04\""));
    }

    #[test]
    fn weights_lists_every_kind_of_mismatch() {
        let problem = FormatProblem::Weights {
            missing: vec!["dense_2/bias".into()],
            unexpected: vec!["dense_3/kernel".into(), "dense_3/bias".into()],
            misshaped: vec![Misshaped {
                name: "dense/kernel".into(),
                expected: vec![4, 3],
                found: vec![4, 2],
            }],
        };
        assert_eq!(
            problem.to_string(),
            "the weights do not fit the model's parameters: missing dense_2/bias; \
             unexpected dense_3/kernel, dense_3/bias; \
             mis-shaped dense/kernel (expected [4, 3], found [4, 2])"
        );
    }

    #[test]
    fn safetensors_problems_name_the_tensor_and_the_dtypes_read() {
        let problem = FormatProblem::UnsupportedDtype {
            name: "0.dense.kernel".into(),
            found: "I32".into(),
        };
        assert_eq!(
            problem.to_string(),
            "tensor 0.dense.kernel has dtype I32: expected F32, F64, F16 or BF16"
        );
        let problem = FormatProblem::Safetensors {
            problem: "header too large".into(),
        };
        assert_eq!(
            problem.to_string(),
            "not a valid safetensors file: header too large"
        );
    }

    #[test]
    fn checksums_show_as_eight_hex_digits() {
        let problem = FormatProblem::Checksum {
            expected: 0xdead_beef,
            found: 0x12,
        };
        assert_eq!(
            problem.to_string(),
            "corrupted: checksum mismatch (expected 0xdeadbeef, found 0x00000012)"
        );
    }
}
