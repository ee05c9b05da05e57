//! Export of the weights to safetensors, for PyTorch, NumPy, JAX or candle.

use super::atomic::write_atomic;
use super::record::{architecture, params_record};
use crate::{Error, Result, Sequential};
use keel_layers::LayerConfig;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
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
    /// transpose). When every layer is a built-in one, `__metadata__` holds
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

/// A failure of the safetensors writer (a header over its 100 MB limit), as an I/O error.
fn safetensors_error(e: impl ToString) -> Error {
    Error::Io {
        path: "<safetensors>".into(),
        source: std::io::Error::other(format!("cannot write safetensors: {}", e.to_string())),
    }
}
