//! Whether a loop of steps (a `fit`) shares each step between threads or runs it on one,
//! decided by timing both.
//!
//! Sharing a step of a small model pays only when the helper is on a core of its own. On a
//! machine busy with other work, a helper that claimed a piece can be descheduled for a
//! whole scheduler slice (milliseconds) while the step waits for it; on a shared virtual
//! machine, moving data between cores sometimes costs several times more. Neither can be
//! known in advance, so the tuner times windows of steps each way and keeps the faster.
//! It compares mean step times over windows of several scheduler slices: the median of a
//! few steps hides exactly the stalls that make sharing lose. Capping the threads never
//! changes a result (the [`plan`](crate::plan) cuts work by its size alone), only the time.
//! A thread count the user set is used as it is: the tuner is fixed then.

use crate::runtime::{set_thread_cap, thread_cap};
use crate::Runtime;
use std::time::Duration;

/// Each way is timed for at least this long (several scheduler slices, 1–4 ms on Linux,
/// so that a descheduled helper shows in the mean) ...
const TRIAL_TIME: Duration = Duration::from_millis(20);
/// ... and at least this many steps.
const TRIAL_STEPS: usize = 8;
/// The chosen way then runs this long before the next trial, doubled each time the same
/// way wins again, up to [`LONGEST_RUN`]: a trial costs at most a few percent of the time.
const FIRST_RUN: Duration = Duration::from_millis(250);
const LONGEST_RUN: Duration = Duration::from_secs(2);
/// One thread is kept only when its mean step is this much faster: sharing is the default,
/// and a tie is noise.
const SERIAL_MARGIN: f64 = 0.95;
/// Sharing that is this much faster is kept for [`LONGEST_RUN`] at once.
const CLEAR_WIN: f64 = 0.6;

/// Times the steps of a loop and caps the calling thread to one thread while that is
/// faster. Made by [`Runtime::step_tuner`]; dropping it lifts the cap.
///
/// ```
/// use std::time::Instant;
/// let runtime = keel_runtime::Runtime::builder().threads(2).build().unwrap();
/// let mut tuner = runtime.step_tuner(); // a set thread count: fixed, never capped
/// for _ in 0..3 {
///     tuner.before_step();
///     let started = Instant::now();
///     // ... one training step ...
///     tuner.after_step(started.elapsed());
/// }
/// ```
#[derive(Debug)]
pub struct StepTuner {
    /// Nothing to choose: the thread count is the user's, or one.
    fixed: bool,
    /// The cap this thread had before, restored on drop.
    outer_cap: Option<usize>,
    shared: Window,
    serial: Window,
    /// Time left in the current run of the chosen way, and the run's length.
    left: Duration,
    run: Duration,
    /// The way that won the last trial.
    serial_won: Option<bool>,
}

/// The steps timed one way in a trial.
#[derive(Debug, Default)]
struct Window {
    steps: usize,
    total: Duration,
}

impl Window {
    fn full(&self) -> bool {
        self.steps >= TRIAL_STEPS && self.total >= TRIAL_TIME
    }

    fn mean(&self) -> f64 {
        self.total.as_secs_f64() / self.steps.max(1) as f64
    }
}

impl Runtime {
    /// A tuner for a loop of steps started on this thread: adaptive when the thread count
    /// is the default and above one, fixed otherwise.
    pub fn step_tuner(&self) -> StepTuner {
        StepTuner {
            fixed: !self.adapts() || self.threads() < 2 || thread_cap() == Some(1),
            outer_cap: thread_cap(),
            shared: Window::default(),
            serial: Window::default(),
            left: Duration::ZERO,
            run: FIRST_RUN,
            serial_won: None,
        }
    }
}

impl StepTuner {
    /// Sets this thread's cap for the next step.
    pub fn before_step(&self) {
        if !self.fixed {
            set_thread_cap(self.serial_now().then_some(1).or(self.outer_cap));
        }
    }

    /// Records how long the step took; ends a trial when both ways have been timed.
    pub fn after_step(&mut self, took: Duration) {
        if self.fixed {
            return;
        }
        if !self.left.is_zero() {
            self.left = self.left.saturating_sub(took);
            return;
        }
        let window = if self.shared.full() {
            &mut self.serial
        } else {
            &mut self.shared
        };
        window.steps += 1;
        window.total += took;
        if self.serial.full() {
            self.decide();
        }
    }

    /// Whether the next step runs on one thread.
    pub fn serial_now(&self) -> bool {
        if self.fixed {
            false
        } else if self.left.is_zero() {
            self.shared.full()
        } else {
            self.serial_won == Some(true)
        }
    }

    fn decide(&mut self) {
        let (shared, serial) = (self.shared.mean(), self.serial.mean());
        let serial_won = serial < shared * SERIAL_MARGIN;
        self.run = if self.serial_won == Some(serial_won) {
            (self.run * 2).min(LONGEST_RUN)
        } else if !serial_won && shared < serial * CLEAR_WIN {
            LONGEST_RUN
        } else {
            FIRST_RUN
        };
        self.serial_won = Some(serial_won);
        self.left = self.run;
        self.shared = Window::default();
        self.serial = Window::default();
    }
}

impl Drop for StepTuner {
    /// Leaves the thread's cap as it was.
    fn drop(&mut self) {
        if !self.fixed {
            set_thread_cap(self.outer_cap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adaptive() -> (Runtime, StepTuner) {
        let runtime = Runtime::builder().build().unwrap();
        let mut tuner = runtime.step_tuner();
        tuner.fixed = false;
        (runtime, tuner)
    }

    /// Runs one trial, each way's steps taking the given time, checking the cap each step.
    fn trial(tuner: &mut StepTuner, shared_us: u64, serial_us: u64) {
        for (us, one) in [(shared_us, false), (serial_us, true)] {
            let steps = TRIAL_TIME.as_micros().div_ceil(u128::from(us)).max(8);
            for _ in 0..steps {
                tuner.before_step();
                assert_eq!(thread_cap() == Some(1), one);
                tuner.after_step(Duration::from_micros(us));
            }
        }
    }

    #[test]
    fn the_faster_way_is_kept_and_a_near_tie_goes_to_sharing() {
        let (_rt, mut tuner) = adaptive();
        trial(&mut tuner, 100, 60);
        assert!(tuner.serial_now());
        assert_eq!(tuner.left, FIRST_RUN);
        while !tuner.left.is_zero() {
            tuner.before_step();
            assert_eq!(thread_cap(), Some(1));
            tuner.after_step(Duration::from_micros(60));
        }
        trial(&mut tuner, 100, 97); // within the margin: back to sharing
        assert!(!tuner.serial_now());
        assert_eq!(tuner.left, FIRST_RUN);
    }

    #[test]
    fn the_mean_sees_a_stall_that_a_median_would_hide() {
        let (_rt, mut tuner) = adaptive();
        // Shared steps take 40 µs, but one in twenty waits 3 ms for a descheduled helper.
        for i in 0.. {
            if tuner.shared.full() {
                break;
            }
            tuner.before_step();
            tuner.after_step(Duration::from_micros(if i % 20 == 19 { 3000 } else { 40 }));
        }
        while tuner.left.is_zero() {
            tuner.before_step();
            tuner.after_step(Duration::from_micros(60));
        }
        assert!(tuner.serial_now());
    }

    #[test]
    fn repeated_wins_lengthen_the_runs_and_a_clear_win_jumps_to_the_longest() {
        let (_rt, mut tuner) = adaptive();
        trial(&mut tuner, 100, 60);
        tuner.left = Duration::ZERO;
        trial(&mut tuner, 100, 60);
        assert_eq!(tuner.left, 2 * FIRST_RUN);
        drop(tuner);
        let (_rt, mut tuner) = adaptive();
        trial(&mut tuner, 50, 100);
        assert_eq!((tuner.serial_now(), tuner.left), (false, LONGEST_RUN));
    }

    #[test]
    fn dropping_it_restores_the_cap_and_a_set_thread_count_is_never_capped() {
        let (_rt, mut tuner) = adaptive();
        trial(&mut tuner, 100, 60);
        tuner.before_step();
        assert_eq!(thread_cap(), Some(1));
        drop(tuner);
        assert_eq!(thread_cap(), None);
        let set = Runtime::builder().threads(4).build().unwrap();
        let mut tuner = set.step_tuner();
        trial_unchecked(&mut tuner);
        assert!(!tuner.serial_now());
        assert_eq!(thread_cap(), None);
    }

    fn trial_unchecked(tuner: &mut StepTuner) {
        for i in 0..10_000 {
            tuner.before_step();
            tuner.after_step(Duration::from_micros(if i % 2 == 0 { 100 } else { 10 }));
        }
    }
}
