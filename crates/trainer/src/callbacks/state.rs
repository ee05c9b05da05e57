//! Reading a callback's stored state back from its JSON.

use crate::{Error, Result};
use serde::de::DeserializeOwned;

/// `value` as the state record `T` of the callback named `callback`.
///
/// # Errors
/// [`Error::CheckpointMismatch`] when the JSON is not such a record.
pub(crate) fn parse<T: DeserializeOwned>(
    callback: &'static str,
    value: serde_json::Value,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::CheckpointMismatch {
        what: "a callback state",
        expected: format!("the state of {callback}"),
        found: e.to_string(),
    })
}
