//! Datasets for Keel: IDX/MNIST loading, in-memory datasets, batching and shuffling.
//!
//! - [`read_idx`] / [`parse_idx`] read the IDX format (gzipped or raw);
//! - [`mnist::load_default`] loads the MNIST copy bundled with the repository;
//! - [`Dataset`] holds features and [`Targets`] behind shared storage, so
//!   [`slice`](Dataset::slice) and [`split_validation`](Dataset::split_validation)
//!   copy nothing, and [`gather`](Dataset::gather) builds `f32` [`Batch`]es;
//! - [`batch_ranges`] and [`shuffled_indices`] drive one epoch.
//!
//! Anything a user or a file can get wrong is an [`Error`]; nothing here
//! panics on bad input.
//!
//! # Examples
//!
//! One shuffled epoch over a tiny dataset:
//!
//! ```
//! # fn main() -> keel_data::Result<()> {
//! use keel_data::{batch_ranges, shuffled_indices, Batch, BatchTargets, Dataset, Targets};
//! use rand::SeedableRng;
//!
//! // Ten 2x2 images, label = image index % 3.
//! let pixels: Vec<u8> = (0..40).collect();
//! let labels: Vec<u32> = (0..10).map(|i| i % 3).collect();
//! let data = Dataset::from_u8(pixels, vec![2, 2], 1.0 / 255.0, Targets::Classes(labels))?;
//! let (train, val) = data.split_validation(0.2)?;
//! assert_eq!((train.len(), val.len()), (8, 2));
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let order = shuffled_indices(train.len(), &mut rng);
//! let mut batch = Batch::default();
//! let mut seen = 0;
//! for range in batch_ranges(train.len(), 3)? {
//!     train.gather_into(&order[range], &mut batch);
//!     assert_eq!(batch.x.shape()[1..], [2, 2]);
//!     let BatchTargets::Classes(y) = &batch.y else { unreachable!() };
//!     seen += y.len();
//! }
//! assert_eq!(seen, 8);
//! # Ok(())
//! # }
//! ```

mod batches;
mod dataset;
mod error;
mod gather;
mod idx;
pub mod mnist;
mod split;
mod targets;

pub use batches::{batch_ranges, shuffled_indices, BatchRanges};
pub use dataset::Dataset;
pub use error::{Error, Result};
pub use gather::Batch;
pub use idx::{parse_idx, read_idx, IdxArray};
pub use targets::{BatchTargets, Targets, TargetsView};
