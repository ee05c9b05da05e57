//! Tensors as `{ shape, data }` for serde: ndarray's `serde` feature is off in this workspace,
//! and a shape plus a flat `Vec<f32>` (row-major) is what a checkpoint needs anyway.

use keel_autograd::Tensor;
use ndarray::IxDyn;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The owned form read back from a checkpoint.
#[derive(Deserialize)]
struct TensorData {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// The borrowed form written without copying the tensor.
struct TensorRef<'a>(&'a Tensor);

/// The elements of a tensor in logical (row-major) order, as a sequence.
struct Elements<'a>(&'a Tensor);

impl Serialize for Elements<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl Serialize for TensorRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TensorData", 2)?;
        st.serialize_field("shape", self.0.shape())?;
        st.serialize_field("data", &Elements(self.0))?;
        st.end()
    }
}

fn to_tensor<E: serde::de::Error>(t: TensorData) -> Result<Tensor, E> {
    let (shape, len) = (t.shape, t.data.len());
    Tensor::from_shape_vec(IxDyn(&shape), t.data).map_err(|_| {
        // A corrupted shape may claim more values than a usize counts.
        let needed = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .map_or_else(|| "more than usize::MAX".to_string(), |n| n.to_string());
        E::custom(format!(
            "tensor of shape {shape:?} needs {needed} values, found {len}"
        ))
    })
}

/// `#[serde(with = "crate::serde_tensor::vec")]` for a `Vec<Tensor>` field.
pub(crate) mod vec {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(tensors: &[Tensor], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(tensors.iter().map(TensorRef))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Tensor>, D::Error> {
        Vec::<TensorData>::deserialize(d)?
            .into_iter()
            .map(to_tensor::<D::Error>)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use keel_autograd::{tensor, Tensor};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super::vec")]
        tensors: Vec<Tensor>,
    }

    #[test]
    fn a_shape_whose_size_overflows_is_an_error() {
        let json = format!(
            r#"{{"tensors":[{{"shape":[{},4],"data":[1.0]}}]}}"#,
            usize::MAX
        );
        let err = serde_json::from_str::<Holder>(&json).unwrap_err();
        assert!(
            err.to_string()
                .contains("needs more than usize::MAX values, found 1"),
            "{err}"
        );
    }

    #[test]
    fn tensors_round_trip_through_json_as_shape_and_data() {
        let h = Holder {
            tensors: vec![
                tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]),
                tensor(&[0], vec![]),
            ],
        };
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(
            json,
            r#"{"tensors":[{"shape":[2,2],"data":[1.0,2.0,3.0,4.0]},{"shape":[0],"data":[]}]}"#
        );
        assert_eq!(serde_json::from_str::<Holder>(&json).unwrap(), h);
    }

    #[test]
    fn a_shape_that_does_not_fit_the_data_is_an_error() {
        let bad = r#"{"tensors":[{"shape":[2,2],"data":[1.0]}]}"#;
        let err = serde_json::from_str::<Holder>(bad).unwrap_err().to_string();
        assert!(
            err.contains("tensor of shape [2, 2] needs 4 values, found 1"),
            "{err}"
        );
    }
}
