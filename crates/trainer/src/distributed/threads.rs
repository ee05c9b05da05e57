//! `ThreadGroup`: a [`Collective`] between threads of one process.

use super::Collective;
use crate::{Error, Result};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// A group of replicas in one process, one per thread: data-parallel `fit` without MPI, for
/// tests and for trying a multi-process setup on one machine. Sums add the members'
/// values in rank order, so every member gets the same bits.
///
/// Each operation copies the members' values (this is a test and development tool; the
/// MPI group in `keel-distributed` reduces in place into persistent buffers).
///
/// ```
/// use keel_trainer::{Collective, ThreadGroup};
/// let sums: Vec<Vec<f32>> = std::thread::scope(|s| {
///     let handles: Vec<_> = ThreadGroup::new(2)
///         .into_iter()
///         .map(|mut member| {
///             s.spawn(move || {
///                 let mut values = vec![member.rank() as f32 + 1.0; 3];
///                 member.sum_f32("example", &mut values).unwrap();
///                 values
///             })
///         })
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// assert_eq!(sums, vec![vec![3.0; 3], vec![3.0; 3]]);
/// ```
#[derive(Debug)]
pub struct ThreadGroup {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    done: Condvar,
}

/// One member's contribution to an operation.
#[derive(Debug, Clone)]
enum Payload {
    F32(Vec<f32>),
    F64(Vec<f64>),
    MinMax(u64, u64),
    Bytes(Vec<u8>),
}

#[derive(Debug)]
struct State {
    /// Operations completed so far.
    generation: u64,
    /// The operation under way and each member's contribution to it.
    operation: Option<&'static str>,
    slots: Vec<Option<Payload>>,
    /// The last completed operation's result (safe to keep just one: the next cannot
    /// complete before every member has read it and arrived again).
    result: Option<Payload>,
    /// Why the group failed, once a member aborted.
    failed: Option<String>,
}

impl ThreadGroup {
    /// The `size` members of a new group, in rank order (none for 0); give each to its own
    /// thread.
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                generation: 0,
                operation: None,
                slots: vec![None; size],
                result: None,
                failed: None,
            }),
            done: Condvar::new(),
        });
        (0..size)
            .map(|rank| ThreadGroup {
                rank,
                size,
                shared: Arc::clone(&shared),
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A member that panicked while holding the lock left the state consistent (every
        // change below is made before anything can panic), so the poison is ignored.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn failure(&self, operation: &'static str, message: String) -> Error {
        Error::Collective {
            operation,
            rank: self.rank,
            message,
        }
    }

    /// Adds this member's `payload` to `operation` and returns the combined result once
    /// every member has.
    fn exchange(&self, operation: &'static str, payload: Payload) -> Result<Payload> {
        let mut state = self.lock();
        if let Some(why) = &state.failed {
            return Err(self.failure(operation, why.clone()));
        }
        match state.operation {
            Some(theirs) if theirs != operation => {
                let why = format!(
                    "the members disagree on the operation: rank {} called {operation:?} while \
                     another called {theirs:?}",
                    self.rank
                );
                state.failed = Some(why.clone());
                self.shared.done.notify_all();
                return Err(self.failure(operation, why));
            }
            _ => state.operation = Some(operation),
        }
        state.slots[self.rank] = Some(payload);
        let generation = state.generation;
        if state.slots.iter().all(Option::is_some) {
            let slots: Vec<Payload> = state.slots.iter_mut().filter_map(Option::take).collect();
            state.result = Some(combine(slots).map_err(|why| self.failure(operation, why))?);
            state.operation = None;
            state.generation += 1;
            self.shared.done.notify_all();
        }
        while state.generation == generation {
            if let Some(why) = &state.failed {
                return Err(self.failure(operation, why.clone()));
            }
            state = self
                .shared
                .done
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        Ok(state.result.clone().expect("set by the completing member"))
    }
}

/// The members' contributions combined in rank order.
fn combine(slots: Vec<Payload>) -> std::result::Result<Payload, String> {
    let mut slots = slots.into_iter();
    let first = slots.next().expect("a group has a member");
    slots.try_fold(first, |acc, next| match (acc, next) {
        (Payload::F32(mut a), Payload::F32(b)) if a.len() == b.len() => {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            Ok(Payload::F32(a))
        }
        (Payload::F64(mut a), Payload::F64(b)) if a.len() == b.len() => {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            Ok(Payload::F64(a))
        }
        (Payload::MinMax(lo, hi), Payload::MinMax(l, h)) => {
            Ok(Payload::MinMax(lo.min(l), hi.max(h)))
        }
        (root @ Payload::Bytes(_), Payload::Bytes(_)) => Ok(root),
        (a, b) => Err(format!(
            "the members' values disagree in kind or length: {} and {}",
            describe(&a),
            describe(&b)
        )),
    })
}

fn describe(payload: &Payload) -> String {
    match payload {
        Payload::F32(v) => format!("{} f32 values", v.len()),
        Payload::F64(v) => format!("{} f64 values", v.len()),
        Payload::MinMax(..) => "a min-max".into(),
        Payload::Bytes(b) => format!("{} bytes", b.len()),
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn sum_f32(&mut self, operation: &'static str, values: &mut [f32]) -> Result<()> {
        match self.exchange(operation, Payload::F32(values.to_vec()))? {
            Payload::F32(sum) => values.copy_from_slice(&sum),
            _ => unreachable!("combine keeps the kind"),
        }
        Ok(())
    }

    fn sum_f64(&mut self, operation: &'static str, values: &mut [f64]) -> Result<()> {
        match self.exchange(operation, Payload::F64(values.to_vec()))? {
            Payload::F64(sum) => values.copy_from_slice(&sum),
            _ => unreachable!("combine keeps the kind"),
        }
        Ok(())
    }

    fn min_max(&mut self, operation: &'static str, value: u64) -> Result<(u64, u64)> {
        match self.exchange(operation, Payload::MinMax(value, value))? {
            Payload::MinMax(lo, hi) => Ok((lo, hi)),
            _ => unreachable!("combine keeps the kind"),
        }
    }

    fn broadcast(&mut self, operation: &'static str, bytes: &mut Vec<u8>) -> Result<()> {
        match self.exchange(operation, Payload::Bytes(std::mem::take(bytes)))? {
            Payload::Bytes(root) => *bytes = root,
            _ => unreachable!("combine keeps the kind"),
        }
        Ok(())
    }

    fn abort(&mut self, error: &Error) {
        let mut state = self.lock();
        if state.failed.is_none() {
            state.failed = Some(format!("rank {} failed: {error}", self.rank));
        }
        self.shared.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T: Send>(size: usize, f: impl Fn(ThreadGroup) -> T + Sync) -> Vec<T> {
        std::thread::scope(|s| {
            let handles: Vec<_> = ThreadGroup::new(size)
                .into_iter()
                .map(|m| s.spawn(|| f(m)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn every_operation_gives_every_member_the_same_result() {
        let results = run(3, |mut m| {
            let mut f = vec![m.rank() as f32, 1.0];
            let mut d = vec![0.5 * m.rank() as f64];
            let mut b = vec![m.rank() as u8; m.rank() + 1];
            let mut out = Vec::new();
            for _ in 0..50 {
                m.sum_f32("f", &mut f).unwrap();
                m.sum_f64("d", &mut d).unwrap();
                out.push(m.min_max("m", 10 + m.rank() as u64).unwrap());
            }
            m.broadcast("b", &mut b).unwrap();
            (f, d, out, b)
        });
        assert!(results.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(results[0].3, vec![0]);
        assert_eq!(results[0].2[0], (10, 12));
    }

    #[test]
    fn an_aborting_member_fails_the_others_operations() {
        let results = run(2, |mut m| {
            if m.rank() == 1 {
                m.abort(&Error::NotCompiled { operation: "fit" });
                return None;
            }
            Some(m.sum_f32("gradients", &mut [1.0]).unwrap_err().to_string())
        });
        let message = results[0].clone().unwrap();
        assert!(
            message.contains("gradients") && message.contains("rank 1 failed"),
            "{message}"
        );
    }

    #[test]
    fn members_calling_different_operations_is_an_error() {
        let results = run(2, |mut m| {
            let op = if m.rank() == 0 { "left" } else { "right" };
            m.sum_f32(op, &mut [1.0]).is_err()
        });
        assert_eq!(results, vec![true, true]);
    }
}
