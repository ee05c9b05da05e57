//! Whether to share training steps between cores, decided by timing them.
//!
//! On a shared virtual machine the cost of moving data between the two cores changes by
//! the minute: when the host places them far apart, a small model's step shared between
//! them ran twice as slow as on one core (W1: 0.20 s an epoch against 0.11 s). So `fit`
//! times a few steps each way now and then and keeps the faster. Capping the threads never
//! changes a result (`keel_autograd::parallel` cuts work by its size alone), only the time.

use keel_autograd::parallel::{set_thread_cap, threads};
use std::time::Duration;

/// Steps timed for each way before choosing.
const TRIAL_STEPS: usize = 8;
/// Steps run the chosen way before the next trial, at first; doubled each time the same
/// way wins again, up to [`LONGEST_RUN`].
const FIRST_RUN: usize = 256;
const LONGEST_RUN: usize = 8192;
/// One thread is kept only when its median step is this much faster: sharing is the
/// default, and a tie is noise.
const SERIAL_MARGIN: f64 = 0.95;
/// Sharing that is this much faster is kept for [`LONGEST_RUN`] steps at once.
const CLEAR_WIN: f64 = 0.6;

/// Where the chooser is in its cycle of trials and runs.
#[derive(Debug)]
pub(crate) struct ThreadChoice {
    /// Nothing to choose: one thread allowed.
    fixed: bool,
    /// Step durations of the current trial: shared first, then one thread.
    shared: Vec<Duration>,
    serial: Vec<Duration>,
    /// Steps left in the current run of the chosen way, and its length.
    left: usize,
    run: usize,
    /// The way that won the last trial.
    serial_won: Option<bool>,
}

impl ThreadChoice {
    pub(crate) fn new() -> Self {
        ThreadChoice {
            fixed: threads() < 2,
            shared: Vec::with_capacity(TRIAL_STEPS),
            serial: Vec::with_capacity(TRIAL_STEPS),
            left: 0,
            run: FIRST_RUN,
            serial_won: None,
        }
    }

    /// Sets this thread's cap for the next step.
    pub(crate) fn before_step(&self) {
        if self.fixed {
            return;
        }
        let one = if self.left > 0 {
            self.serial_won == Some(true)
        } else {
            self.shared.len() == TRIAL_STEPS
        };
        set_thread_cap(one.then_some(1));
    }

    /// Records how long the step took; ends a trial when both ways have been timed.
    pub(crate) fn after_step(&mut self, took: Duration) {
        if self.fixed {
            return;
        }
        if self.left > 0 {
            self.left -= 1;
            return;
        }
        if self.shared.len() < TRIAL_STEPS {
            self.shared.push(took);
            return;
        }
        self.serial.push(took);
        if self.serial.len() == TRIAL_STEPS {
            self.decide();
        }
    }

    fn decide(&mut self) {
        let (shared, serial) = (median(&mut self.shared), median(&mut self.serial));
        let serial_won = serial < shared.mul_f64(SERIAL_MARGIN);
        self.run = if self.serial_won == Some(serial_won) {
            (self.run * 2).min(LONGEST_RUN)
        } else if !serial_won && shared < serial.mul_f64(CLEAR_WIN) {
            LONGEST_RUN
        } else {
            FIRST_RUN
        };
        self.serial_won = Some(serial_won);
        self.left = self.run;
        self.shared.clear();
        self.serial.clear();
    }

    /// Whether steps now run on one thread (for tests and logs).
    #[cfg(test)]
    fn serial(&self) -> bool {
        self.left > 0 && self.serial_won == Some(true)
    }
}

impl Drop for ThreadChoice {
    /// Leaves the training thread uncapped, as it was.
    fn drop(&mut self) {
        if !self.fixed {
            set_thread_cap(None);
        }
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chooser() -> ThreadChoice {
        let mut c = ThreadChoice::new();
        c.fixed = false;
        c
    }

    /// Runs one trial with the given step times for each way.
    fn trial(c: &mut ThreadChoice, shared_us: u64, serial_us: u64) {
        for i in 0..2 * TRIAL_STEPS {
            c.before_step();
            let one = i >= TRIAL_STEPS;
            let allowed = if one { 1 } else { rayon::current_num_threads() };
            assert_eq!(threads(), allowed, "step {i} of the trial");
            c.after_step(Duration::from_micros(if one {
                serial_us
            } else {
                shared_us
            }));
        }
    }

    #[test]
    fn the_faster_way_is_kept_and_a_near_tie_goes_to_sharing() {
        let mut c = chooser();
        trial(&mut c, 100, 60);
        assert!(c.serial());
        assert_eq!(c.left, FIRST_RUN);
        for _ in 0..FIRST_RUN {
            c.before_step();
            assert_eq!(threads(), 1);
            c.after_step(Duration::from_micros(60));
        }
        trial(&mut c, 100, 97); // within the margin: back to sharing
        assert!(!c.serial());
        assert_eq!(c.left, FIRST_RUN);
    }

    #[test]
    fn repeated_wins_lengthen_the_runs_and_a_clear_win_jumps_to_the_longest() {
        let mut c = chooser();
        trial(&mut c, 100, 60);
        c.left = 0;
        trial(&mut c, 100, 60);
        assert_eq!(c.left, 2 * FIRST_RUN);
        let mut c = chooser();
        trial(&mut c, 50, 100);
        assert_eq!((c.serial(), c.left), (false, LONGEST_RUN));
    }

    #[test]
    fn dropping_it_lifts_the_cap() {
        let mut c = chooser();
        trial(&mut c, 100, 60);
        c.before_step();
        drop(c);
        assert_eq!(threads(), rayon::current_num_threads());
    }

    #[test]
    fn a_median_ignores_one_slow_step() {
        let mut times: Vec<Duration> = [5, 5, 900, 5, 6].map(Duration::from_micros).to_vec();
        assert_eq!(median(&mut times), Duration::from_micros(5));
    }
}
