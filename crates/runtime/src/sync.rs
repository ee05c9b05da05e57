//! The synchronization primitives the executor uses: std's, or loom's when the crate is
//! built with `--cfg loom` for the model test of every interleaving (`tests/loom.rs`).

#[cfg(loom)]
pub(crate) use loom::{
    hint,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering},
    sync::{Arc, Mutex},
    thread,
};

#[cfg(not(loom))]
pub(crate) use std::{
    hint,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering},
    sync::{Arc, Mutex},
    thread,
};
