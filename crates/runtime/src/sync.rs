//! The synchronization primitives the executor uses: std's, or loom's when the crate is
//! built with `--cfg loom` for the model tests of every interleaving (`executor::loom_tests`:
//! `RUSTFLAGS="--cfg loom" cargo test -p keel-runtime --release --target-dir target/loom --lib loom_`).

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
    sync::{Arc, Mutex, OnceLock},
    thread,
};

#[cfg(loom)]
pub(crate) use self::loom_once::OnceLock;

/// Orders a `SeqCst` store (or read-modify-write) before a `SeqCst` load of another location
/// that follows it, the store-load (Dekker) pairing the executor's wake-ups rely on. `SeqCst`
/// accesses already give that, so outside loom this is nothing; loom models `SeqCst` accesses
/// as `AcqRel` only (a documented false-alarm source, tokio-rs/loom#180) and would report
/// lost wake-ups the real memory model rules out, so under loom it is a `SeqCst` fence, which
/// loom does model.
#[inline(always)]
pub(crate) fn store_load_fence() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
}

/// The part of std's `OnceLock` the executor uses, made of loom's primitives so the model
/// checks the ordering between `set` and `get` (std's would be invisible to loom). Unlike
/// std's, `set` does not wait for a concurrent `set`; the executor sets each once.
#[cfg(loom)]
mod loom_once {
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{AtomicU8, Ordering};

    const EMPTY: u8 = 0;
    const SETTING: u8 = 1;
    const SET: u8 = 2;

    pub(crate) struct OnceLock<T> {
        state: AtomicU8,
        value: UnsafeCell<Option<T>>,
    }

    // SAFETY: as std's `OnceLock`: the value is written once, by the thread that moved the
    // state from EMPTY, and read only once the state is SET (Release/Acquire).
    unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
    unsafe impl<T: Send> Send for OnceLock<T> {}

    impl<T> OnceLock<T> {
        pub(crate) fn new() -> Self {
            OnceLock {
                state: AtomicU8::new(EMPTY),
                value: UnsafeCell::new(None),
            }
        }

        pub(crate) fn get(&self) -> Option<&T> {
            if self.state.load(Ordering::Acquire) != SET {
                return None;
            }
            // SAFETY: SET is stored after the only write, and nothing writes after it.
            self.value.with(|value| unsafe { (*value).as_ref() })
        }

        pub(crate) fn set(&self, value: T) -> Result<(), T> {
            if self
                .state
                .compare_exchange(EMPTY, SETTING, Ordering::Acquire, Ordering::Acquire)
                .is_err()
            {
                return Err(value);
            }
            // SAFETY: only the thread that moved the state from EMPTY writes, and readers
            // wait for SET.
            self.value.with_mut(|slot| unsafe { *slot = Some(value) });
            self.state.store(SET, Ordering::Release);
            Ok(())
        }
    }
}
