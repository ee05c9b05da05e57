//! Serde for a [`Location`], whose op names are `&'static str`: written as strings, read
//! back as the one interned copy of each name.

use crate::guard::{Location, Pass};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The longest op name kept; op names are short words such as `"dense"`.
const MAX_LEN: usize = 64;

/// The interned `'static` copy of `name`: each distinct name is allocated once per
/// process, and longer names than 64 bytes are dropped, so a file cannot make the process
/// leak more than a few bytes per op kind.
fn intern(name: Option<String>) -> Option<&'static str> {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let name = name.filter(|n| n.len() <= MAX_LEN)?;
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&known) = names.get(name.as_str()) {
        return Some(known);
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.insert(leaked);
    Some(leaked)
}

/// [`Location`] with owned op names, as files hold it.
#[derive(Clone, Serialize, Deserialize)]
enum LocationRecord {
    Input,
    Layer {
        index: usize,
        name: String,
        op: Option<String>,
        pass: Pass,
        parameter: Option<String>,
        nonfinite_weights: bool,
    },
    Loss {
        op: Option<String>,
    },
    Regularization {
        index: usize,
        name: String,
    },
}

impl From<Location> for LocationRecord {
    fn from(at: Location) -> Self {
        match at {
            Location::Input => LocationRecord::Input,
            Location::Layer {
                index,
                name,
                op,
                pass,
                parameter,
                nonfinite_weights,
            } => LocationRecord::Layer {
                index,
                name,
                op: op.map(str::to_string),
                pass,
                parameter,
                nonfinite_weights,
            },
            Location::Loss { op } => LocationRecord::Loss {
                op: op.map(str::to_string),
            },
            Location::Regularization { index, name } => {
                LocationRecord::Regularization { index, name }
            }
        }
    }
}

impl From<LocationRecord> for Location {
    fn from(at: LocationRecord) -> Self {
        match at {
            LocationRecord::Input => Location::Input,
            LocationRecord::Layer {
                index,
                name,
                op,
                pass,
                parameter,
                nonfinite_weights,
            } => Location::Layer {
                index,
                name,
                op: intern(op),
                pass,
                parameter,
                nonfinite_weights,
            },
            LocationRecord::Loss { op } => Location::Loss { op: intern(op) },
            LocationRecord::Regularization { index, name } => {
                Location::Regularization { index, name }
            }
        }
    }
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LocationRecord::from(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LocationRecord::deserialize(d).map(Location::from)
    }
}
