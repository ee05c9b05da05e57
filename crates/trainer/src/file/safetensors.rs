//! Export of the weights to safetensors, for PyTorch, NumPy, JAX or candle, and import of
//! safetensors weights written by them.

use super::atomic::write_atomic;
use super::model::{at_path, format_error, read};
use super::problem::FormatProblem;
use super::record::{apply_params, architecture, params_record, ParamsRecord, TensorRecord};
use crate::{Error, Result, Sequential};
use keel_layers::LayerConfig;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// The `__metadata__` key that holds the architecture as JSON.
pub const SAFETENSORS_ARCHITECTURE_KEY: &str = "keel_architecture";

/// What the `__metadata__` entry describes: enough to rebuild the model in code.
#[derive(Serialize)]
struct Architecture<'a> {
    input_shape: &'a [usize],
    layers: Vec<LayerConfig>,
}

impl Sequential {
    /// The model's weights in the [safetensors](https://github.com/huggingface/safetensors)
    /// format: an 8-byte little-endian header length, a JSON header giving each tensor's
    /// `dtype` (`"F32"`), `shape` and `data_offsets`, then the little-endian values, tensors
    /// in sorted name order. Names are parameter paths (`"dense_1/kernel"`); a Dense
    /// kernel is `[inputs, units]`, Keras's layout (PyTorch's `Linear.weight` is its
    /// transpose); a Conv2D kernel is `[kh, kw, in, out]`, Keras's layout (PyTorch's
    /// `Conv2d.weight` is `[out, in, kh, kw]`: permute the axes `(3, 2, 0, 1)`). When every layer is a built-in one, `__metadata__` holds
    /// [`SAFETENSORS_ARCHITECTURE_KEY`]: the input shape and the layer configs as JSON.
    ///
    /// The same weights give the same bytes.
    ///
    /// # Errors
    /// A layer that could not be built, or a NaN or infinite weight
    /// ([`Error::NonFiniteWeight`]).
    ///
    /// ```
    /// use keel_layers::{Dense, Flatten};
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let model = Sequential::new([2, 2]).add(Flatten::new()).add(Dense::new(3));
    /// let bytes = model.to_safetensors()?;
    /// let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    /// assert_eq!(file.names().len(), 2);
    /// assert_eq!(file.tensor("dense/kernel").unwrap().shape(), [4, 3]);
    /// # Ok(()) }
    /// ```
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let params = params_record(self)?;
        let bytes: Vec<(&String, Vec<u8>)> = params
            .iter()
            .map(|(name, t)| (name, t.data.iter().flat_map(|v| v.to_le_bytes()).collect()))
            .collect();
        let views = bytes
            .iter()
            .zip(params.values())
            .map(|((name, data), t)| {
                TensorView::new(Dtype::F32, t.shape.clone(), data).map(|view| (name.as_str(), view))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(safetensors_error)?;
        let metadata = match architecture(self) {
            Ok(layers) => {
                let json = serde_json::to_string(&Architecture {
                    input_shape: self.input_shape(),
                    layers,
                })
                .map_err(|e| safetensors_error(e.to_string()))?;
                Some(HashMap::from([(
                    SAFETENSORS_ARCHITECTURE_KEY.to_string(),
                    json,
                )]))
            }
            Err(Error::UnserializableLayer { .. }) => None,
            Err(other) => return Err(other),
        };
        // One metadata entry at most: the crate writes a `HashMap`, whose order is random.
        safetensors::serialize(views, metadata).map_err(safetensors_error)
    }

    /// Writes [`to_safetensors`](Sequential::to_safetensors) to `path` atomically (a
    /// temporary file, synced, renamed, the directory synced). Read it in Python with
    /// `safetensors.numpy.load_file(path)` or `safetensors.torch.load_file(path)`.
    ///
    /// # Errors
    /// As [`to_safetensors`](Sequential::to_safetensors), or an I/O error naming the path.
    ///
    /// ```
    /// use keel_layers::Dense;
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("model.safetensors");
    /// Sequential::new([3]).add(Dense::new(2)).export_safetensors(&path)?;
    /// let bytes = std::fs::read(&path).unwrap();
    /// let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    /// let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    /// assert!(header.contains(r#""dense/kernel":{"dtype":"F32","shape":[3,2]"#), "{header}");
    /// # Ok(()) }
    /// ```
    pub fn export_safetensors(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_safetensors().map_err(|e| match e {
            Error::Io { source, .. } => Error::Io {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })?;
        write_atomic(path, &bytes)
    }
}

impl Sequential {
    /// Loads weights from a [safetensors](https://github.com/huggingface/safetensors) file
    /// into this model, matching tensors to parameters by name: each tensor's name must be
    /// a path of [`named_params`](Sequential::named_params), and its shape the parameter's.
    /// This reads what [`export_safetensors`](Sequential::export_safetensors) writes, and
    /// files written by Python's `safetensors.numpy.save_file` or
    /// `safetensors.torch.save_file` once their names and layouts match (a PyTorch
    /// `Linear.weight` is the transpose of a Dense kernel). `__metadata__` is ignored.
    ///
    /// F32 tensors are read as they are; F64, F16 and BF16 ones are converted to `f32`
    /// (F64 rounding to the nearest). The optimizer state of a compiled model is kept.
    /// [`load_weights`](Sequential::load_weights) also reads safetensors files, telling
    /// them from Keel's own by their first bytes.
    ///
    /// All or nothing: on any error the model's weights are unchanged.
    ///
    /// # Errors
    /// A file that cannot be read ([`Error::Io`]), or [`Error::Format`] with the path and a
    /// [`FormatProblem`]: a file shorter than its header length says
    /// ([`TruncatedHeader`](FormatProblem::TruncatedHeader)), a data section shorter or
    /// longer than the header's offsets ([`Truncated`](FormatProblem::Truncated),
    /// [`TrailingBytes`](FormatProblem::TrailingBytes)), a header the safetensors parser
    /// refuses ([`Safetensors`](FormatProblem::Safetensors)), a dtype other than F32, F64,
    /// F16 or BF16 ([`UnsupportedDtype`](FormatProblem::UnsupportedDtype)), an F64 value
    /// beyond the `f32` range ([`OutOfRange`](FormatProblem::OutOfRange)), tensors that do
    /// not fit the model, every missing, unexpected and mis-shaped one listed at once
    /// ([`Weights`](FormatProblem::Weights)), or a NaN or infinite value
    /// ([`NonFinite`](FormatProblem::NonFinite)).
    ///
    /// ```
    /// use keel_layers::{Activation, Dense};
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("model.safetensors");
    /// let build = |seed| Sequential::new([3]).add(Dense::new(2).activation(Activation::Tanh)).seed(seed);
    /// let trained = build(1);
    /// trained.export_safetensors(&path)?;
    /// let mut fresh = build(2); // same architecture, other weights
    /// fresh.load_safetensors(&path)?;
    /// assert_eq!(fresh.weights_to_bytes()?, trained.weights_to_bytes()?);
    /// # Ok(()) }
    /// ```
    pub fn load_safetensors(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.load_safetensors_from_bytes(&read(path)?)
            .map_err(at_path(path))
    }

    /// [`load_safetensors`](Sequential::load_safetensors) from the bytes of a safetensors
    /// file (errors name the source `<safetensors>`).
    ///
    /// # Errors
    /// As [`load_safetensors`](Sequential::load_safetensors).
    ///
    /// ```
    /// use keel_layers::Dense;
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let mut model = Sequential::new([2]).add(Dense::new(1));
    /// let names: Vec<String> = model.named_params().into_iter().map(|(name, _)| name.to_string()).collect();
    /// // A file as NumPy would write it: an F64 kernel [2, 1] and an F32 bias [1].
    /// let header = format!(
    ///     r#"{{"{}":{{"dtype":"F64","shape":[2,1],"data_offsets":[0,16]}},"{}":{{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}}}"#,
    ///     names[0], names[1]
    /// );
    /// let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    /// bytes.extend(header.as_bytes());
    /// bytes.extend(0.5f64.to_le_bytes());
    /// bytes.extend((-2.0f64).to_le_bytes());
    /// bytes.extend(0.25f32.to_le_bytes());
    /// model.load_safetensors_from_bytes(&bytes)?;
    /// let values: Vec<Vec<f32>> = model
    ///     .named_params()
    ///     .iter()
    ///     .map(|(_, p)| p.value().iter().copied().collect())
    ///     .collect();
    /// assert_eq!(values, [vec![0.5, -2.0], vec![0.25]]);
    ///
    /// let err = model.load_safetensors_from_bytes(&bytes[..bytes.len() - 1]).unwrap_err();
    /// assert_eq!(err.to_string(), "<safetensors>: truncated: expected 20 payload bytes, found 19");
    /// # Ok(()) }
    /// ```
    pub fn load_safetensors_from_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.check()?;
        import(self, bytes).map_err(format_error("<safetensors>"))
    }
}

/// The length of the little-endian header length that starts a safetensors file.
const LENGTH_BYTES: usize = 8;

/// Whether `bytes` look like a safetensors file: an 8-byte header length, then a JSON
/// object. No Keel file matches: its magic starts with `KEEL` and the byte after it is
/// the low byte of a small format version, never `{`.
pub(crate) fn looks_like_safetensors(bytes: &[u8]) -> bool {
    !bytes.starts_with(b"KEEL") && bytes.get(LENGTH_BYTES) == Some(&b'{')
}

/// Sets the weights of `model` from the bytes of a safetensors file, or changes nothing.
pub(crate) fn import(
    model: &mut Sequential,
    bytes: &[u8],
) -> std::result::Result<(), FormatProblem> {
    apply_params(model, read_params(bytes)?)
}

/// The tensors of a safetensors file, converted to `f32`.
fn read_params(bytes: &[u8]) -> std::result::Result<ParamsRecord, FormatProblem> {
    if let Some(magic) = bytes.first_chunk::<8>().filter(|m| m.starts_with(b"KEEL")) {
        return Err(FormatProblem::Safetensors {
            problem: format!(
                "expected an 8-byte header length, found the magic tag of a Keel file ({}); \
                 load it with load_weights or Sequential::load",
                String::from_utf8_lossy(magic)
            ),
        });
    }
    let Some(length) = bytes.first_chunk::<LENGTH_BYTES>() else {
        return Err(FormatProblem::TruncatedHeader {
            expected: LENGTH_BYTES,
            found: bytes.len(),
        });
    };
    let header_end = u64::from_le_bytes(*length).saturating_add(LENGTH_BYTES as u64);
    if header_end > bytes.len() as u64 {
        return Err(FormatProblem::TruncatedHeader {
            expected: usize::try_from(header_end).unwrap_or(usize::MAX),
            found: bytes.len(),
        });
    }
    let file = SafeTensors::deserialize(bytes).map_err(|e| match e {
        SafeTensorError::MetadataIncompleteBuffer => {
            data_length_problem(bytes, header_end as usize).unwrap_or(FormatProblem::Safetensors {
                problem: e.to_string(),
            })
        }
        other => FormatProblem::Safetensors {
            problem: other.to_string(),
        },
    })?;
    file.iter()
        .map(|(name, view)| {
            let record = TensorRecord {
                shape: view.shape().to_vec(),
                data: to_f32(name, &view)?,
            };
            Ok((name.to_string(), record))
        })
        .collect()
}

/// The truncation or trailing bytes of a file whose data section is not the length its
/// header's offsets add up to, or `None` if the header does not say.
fn data_length_problem(bytes: &[u8], header_end: usize) -> Option<FormatProblem> {
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes.get(LENGTH_BYTES..header_end)?).ok()?;
    let expected = header
        .iter()
        .filter(|(name, _)| *name != "__metadata__")
        .map(|(_, info)| info.get("data_offsets")?.get(1)?.as_u64())
        .try_fold(0u64, |end, e| Some(end.max(e?)))?;
    let found = (bytes.len() - header_end) as u64;
    Some(if found < expected {
        FormatProblem::Truncated { expected, found }
    } else {
        FormatProblem::TrailingBytes { expected, found }
    })
}

/// The values of `view` as `f32`, from F32, F64, F16 or BF16 little-endian bytes.
fn to_f32(name: &str, view: &TensorView<'_>) -> std::result::Result<Vec<f32>, FormatProblem> {
    fn each<'a, const N: usize, T>(
        data: &'a [u8],
        f: impl Fn([u8; N]) -> T + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        data.chunks_exact(N)
            .map(move |c| f(c.try_into().expect("chunks of N bytes")))
    }
    let data = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => each(data, f32::from_le_bytes).collect(),
        Dtype::F64 => each(data, f64::from_le_bytes)
            .map(|v| {
                // Rounds to the nearest f32.
                let narrow = v as f32;
                if v.is_finite() && !narrow.is_finite() {
                    Err(FormatProblem::OutOfRange {
                        name: name.to_string(),
                        value: v,
                    })
                } else {
                    Ok(narrow)
                }
            })
            .collect::<std::result::Result<_, _>>()?,
        Dtype::F16 => each(data, |b| f16_to_f32(u16::from_le_bytes(b))).collect(),
        Dtype::BF16 => each(data, |b| bf16_to_f32(u16::from_le_bytes(b))).collect(),
        other => {
            return Err(FormatProblem::UnsupportedDtype {
                name: name.to_string(),
                found: other.to_string(),
            })
        }
    })
}

/// An IEEE 754 half-precision value as `f32` (exact: every f16 is an f32).
fn f16_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 == 0 { 1.0 } else { -1.0 };
    let exponent = u32::from(bits >> 10) & 0x1f;
    let mantissa = u32::from(bits) & 0x3ff;
    match exponent {
        // Zero and subnormals: mantissa × 2⁻²⁴, exact in f32.
        0 => sign * mantissa as f32 * f32::powi(2.0, -24),
        0x1f if mantissa == 0 => sign * f32::INFINITY,
        0x1f => f32::NAN,
        // Normal: rebias the exponent from 15 to 127, widen the mantissa from 10 to 23 bits.
        _ => f32::from_bits(
            (u32::from(bits >> 15) << 31) | ((exponent + 112) << 23) | (mantissa << 13),
        ),
    }
}

/// A bfloat16 value as `f32`: its bits are the top half of the f32's.
fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// A failure of the safetensors writer (a header over its 100 MB limit), as an I/O error.
fn safetensors_error(e: impl ToString) -> Error {
    Error::Io {
        path: "<safetensors>".into(),
        source: std::io::Error::other(format!("cannot write safetensors: {}", e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_is_exact_for_every_kind_of_value() {
        let cases: [(u16, f32); 12] = [
            (0x0000, 0.0),
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x3800, 0.5),
            (0x3c01, 1.000_976_6),
            (0x7bff, 65504.0),        // largest finite
            (0x0400, 6.103_515_6e-5), // smallest normal
            (0x0001, 5.960_464_5e-8), // smallest subnormal
            (0x03ff, 6.097_555e-5),   // largest subnormal
            (0x8001, -5.960_464_5e-8),
            (0x7c00, f32::INFINITY),
            (0xfc00, f32::NEG_INFINITY),
        ];
        for (bits, expected) in cases {
            assert_eq!(f16_to_f32(bits), expected, "{bits:#06x}");
        }
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert!(f16_to_f32(0x7e00).is_nan());
        assert!(f16_to_f32(0xfc01).is_nan());
    }

    #[test]
    fn f16_conversion_is_monotonic_over_every_finite_value() {
        // Every positive finite f16 in bit order is a strictly larger f32, and negating the
        // sign bit negates the value.
        let mut previous = -1.0f32;
        for bits in 0..0x7c00u16 {
            let value = f16_to_f32(bits);
            assert!(value > previous, "{bits:#06x}: {value} after {previous}");
            assert_eq!(f16_to_f32(bits | 0x8000).to_bits(), (-value).to_bits());
            previous = value;
        }
    }

    #[test]
    fn bf16_is_the_top_half_of_an_f32() {
        assert_eq!(bf16_to_f32(0x3fc0), 1.5);
        assert_eq!(bf16_to_f32(0xc040), -3.0);
        assert_eq!(bf16_to_f32(0x7f80), f32::INFINITY);
        assert!(bf16_to_f32(0x7fc0).is_nan());
    }

    #[test]
    fn only_a_length_then_a_json_object_looks_like_safetensors() {
        assert!(looks_like_safetensors(b"\x02\0\0\0\0\0\0\0{}"));
        assert!(!looks_like_safetensors(b"\x02\0\0\0\0\0\0\0[]"));
        assert!(!looks_like_safetensors(b"\x02\0\0\0\0\0\0\0"));
        assert!(!looks_like_safetensors(b"KEELWGHT{"));
    }
}
