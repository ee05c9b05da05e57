//! Data-parallel training for Keel across processes and machines, over MPI.
//!
//! Build with the `mpi` feature (it needs an MPI library: on Debian or Ubuntu
//! `apt-get install openmpi-bin libopenmpi-dev libclang1-14 libclang-common-14-dev`), make
//! one `Mpi` group per process and pass it to `fit`:
//!
//! ```ignore
//! let mut group = keel_distributed::Mpi::init()?;
//! model.fit(&data, FitOptions::new().batch_size(256).data_parallel(&mut group))?;
//! ```
//!
//! and launch the program with `mpirun -np 2 --bind-to none ./program`. Every process
//! trains on its share of each global batch of `batch_size`; gradients are summed over the
//! group before each update, so every process holds the same model (see
//! [`FitOptions::data_parallel`](keel_trainer::FitOptions::data_parallel) and
//! `docs/guide/distributed.md`).
//!
//! Without the feature this crate has only [`ThreadGroup`], the same training between
//! threads of one process.

pub use keel_trainer::{Collective, ThreadGroup};

#[cfg(feature = "mpi")]
mod binding;
#[cfg(feature = "mpi")]
mod mpi_group;
#[cfg(feature = "mpi")]
mod watchdog;

#[cfg(feature = "mpi")]
pub use mpi_group::{Mpi, DEADLINE_ENV};
