//! Saving and loading a model's architecture and weights.
//!
//! The file is `MAGIC` (8 bytes), the format version (u32, little-endian), then a bincode 2
//! payload of [`ModelRecord`]. Parameters sit in a `BTreeMap`, so the same model always
//! gives the same bytes.

use crate::{Error, Result, Sequential};
use keel_autograd::{tensor, Tensor};
use keel_layers::LayerConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The first bytes of every Keel model file.
pub const MAGIC: &[u8; 8] = b"KEELMODL";
/// The format version this build writes and reads. Version 2 added `Dense`'s kernel and
/// bias regularizers to the layer configs; files of another version are rejected with both
/// numbers in the message.
pub const FORMAT_VERSION: u32 = 2;
/// The largest payload a load will allocate for, so a corrupted length cannot exhaust memory.
const PAYLOAD_LIMIT: usize = 1 << 32;

#[derive(Serialize, Deserialize)]
struct TensorRecord {
    shape: Vec<usize>,
    data: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct ModelRecord {
    input_shape: Vec<usize>,
    seed: u64,
    layers: Vec<LayerConfig>,
    params: BTreeMap<String, TensorRecord>,
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<PAYLOAD_LIMIT>()
}

impl Sequential {
    /// The model file's bytes: architecture and weights (not the optimizer state).
    ///
    /// # Errors
    /// A custom layer without a config, or a non-finite weight (never saved).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let format = |problem: String| Error::Format {
            path: "<model>".into(),
            problem,
        };
        self.check()?;
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(index, l)| {
                l.config().ok_or(Error::UnserializableLayer {
                    index,
                    kind: l.kind(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut params = BTreeMap::new();
        for (name, p) in self.named_params() {
            if let Some(bad) = p.value().iter().find(|v| !v.is_finite()) {
                return Err(format(format!(
                    "refusing to save: {name} holds a non-finite weight ({bad})"
                )));
            }
            let data = p.value().as_standard_layout().iter().copied().collect();
            params.insert(
                name,
                TensorRecord {
                    shape: p.value().shape().to_vec(),
                    data,
                },
            );
        }
        let record = ModelRecord {
            input_shape: self.input_shape().to_vec(),
            seed: self.seed_value(),
            layers,
            params,
        };
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let payload = bincode::serde::encode_to_vec(&record, bincode_config())
            .map_err(|e| format(format!("cannot encode the model: {e}")))?;
        bytes.extend_from_slice(&payload);
        Ok(bytes)
    }

    /// Writes the model to `path` atomically (a temporary file, synced, then renamed), so a
    /// crash mid-save leaves any previous file intact.
    ///
    /// # Errors
    /// As [`to_bytes`](Sequential::to_bytes), or an I/O error naming the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a model written by [`save`](Sequential::save). The loaded model is not compiled.
    ///
    /// # Errors
    /// A missing file, a wrong magic tag or version, a truncated or corrupted payload, or
    /// weights that do not fit the architecture, each saying what was expected and found.
    pub fn load(path: impl AsRef<Path>) -> Result<Sequential> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Sequential::from_bytes(&bytes).map_err(|e| match e {
            Error::Format { problem, .. } => Error::Format {
                path: path.to_path_buf(),
                problem,
            },
            other => other,
        })
    }

    /// Parses the bytes of a model file.
    ///
    /// # Errors
    /// As [`load`](Sequential::load).
    pub fn from_bytes(bytes: &[u8]) -> Result<Sequential> {
        let format = |problem: String| Error::Format {
            path: "<model>".into(),
            problem,
        };
        let header = MAGIC.len() + 4;
        if bytes.len() < header || &bytes[..MAGIC.len()] != MAGIC {
            let found = &bytes[..bytes.len().min(MAGIC.len())];
            return Err(format(format!(
                "not a Keel model file: expected magic {:?}, found {:?}",
                String::from_utf8_lossy(MAGIC),
                String::from_utf8_lossy(found)
            )));
        }
        let mut version = [0u8; 4];
        version.copy_from_slice(&bytes[MAGIC.len()..header]);
        let version = u32::from_le_bytes(version);
        if version != FORMAT_VERSION {
            return Err(format(format!(
                "unsupported format version: expected {FORMAT_VERSION}, found {version}"
            )));
        }
        let (record, used): (ModelRecord, usize) =
            bincode::serde::decode_from_slice(&bytes[header..], bincode_config())
                .map_err(|e| format(format!("corrupted or truncated payload: {e}")))?;
        if header + used != bytes.len() {
            return Err(format(format!(
                "corrupted payload: expected {} bytes, found {}",
                header + used,
                bytes.len()
            )));
        }
        let mut model = Sequential::new(&record.input_shape).seed(record.seed);
        for config in &record.layers {
            model.push_boxed(config.build());
        }
        model.check()?;
        let mut params = record.params;
        for (name, param) in model.named_params_mut() {
            let stored = params
                .remove(&name)
                .ok_or_else(|| format(format!("missing weights for {name}")))?;
            if stored.shape != param.value().shape() || stored.data.len() != param.len() {
                return Err(format(format!(
                    "{name}: expected shape {:?}, found {:?}",
                    param.value().shape(),
                    stored.shape
                )));
            }
            let value: Tensor = tensor(&stored.shape, stored.data);
            param.set_value(value);
        }
        if let Some(name) = params.keys().next() {
            return Err(format(format!(
                "unexpected weights {name} for this architecture"
            )));
        }
        Ok(model)
    }
}
