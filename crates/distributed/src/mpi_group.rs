//! `Mpi`: the processes of an MPI job as a [`Collective`] group.

use crate::binding;
use crate::watchdog::{self, Watch};
use keel_trainer::{Collective, Error, Result};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::request::{Request, Scope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};
use mpi::Threading;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The environment variable that sets the collective deadline, in seconds (such as `30` or
/// `2.5`), unless [`Mpi::deadline`] sets it.
pub const DEADLINE_ENV: &str = "KEEL_COLLECTIVE_DEADLINE";

/// How long a process waits in one collective operation before it ends the job, unless
/// [`DEADLINE_ENV`] or [`Mpi::deadline`] says otherwise: long enough for rank 0 to write a
/// checkpoint or a slow machine to validate while the others wait at the next step.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

/// The shortest deadline: the watchdog counts in milliseconds, and a shorter one would end
/// the job in its first collective.
const MIN_DEADLINE: Duration = Duration::from_millis(1);

/// The deadline [`DEADLINE_ENV`] gives, in seconds.
fn parse_deadline(text: String) -> Result<Duration> {
    let seconds = text.trim().parse::<f64>().ok();
    match seconds.and_then(|s| Duration::try_from_secs_f64(s).ok()) {
        Some(d) if d >= MIN_DEADLINE => Ok(d),
        _ => Err(Error::InvalidOption {
            option: DEADLINE_ENV,
            expected: "a number of seconds, at least 0.001",
            found: text,
        }),
    }
}

/// The processes of an MPI job (`MPI_COMM_WORLD`) as a data-parallel group for
/// [`FitOptions::data_parallel`](keel_trainer::FitOptions::data_parallel).
///
/// Made once per process with [`Mpi::init`], which initializes MPI; dropping it finalizes
/// MPI. A program run without `mpirun` is a group of one.
///
/// It never lets the job hang: a panic in any thread, or a `fit` that fails, ends every
/// process of the job (`MPI_Abort`) with a message naming the rank, epoch and batch; a
/// process that waits in one collective operation longer than the
/// [deadline](Mpi::deadline) (another process stalled) ends the job too.
pub struct Mpi {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// The receive buffers of the sums, kept between calls (no allocation once grown).
    received: Vec<f32>,
    received_f64: Vec<f64>,
    watch: Arc<Watch>,
    watchdog: Option<std::thread::JoinHandle<()>>,
    /// Declared last: dropped after the watchdog has stopped, it finalizes MPI.
    _universe: Universe,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .field("deadline", &self.watch.deadline())
            .finish_non_exhaustive()
    }
}

impl Mpi {
    /// Initializes MPI (with thread support: the watchdog may end the job from its own
    /// thread) and returns this process's group. Prints a warning when MPI bound this
    /// process to fewer CPUs than its share of the machine (Open MPI's default for one or
    /// two processes; launch with `--bind-to none`).
    ///
    /// In a job of 2 or 3 processes it first sets the environment variable
    /// `OMPI_MCA_coll_libnbc_iallreduce_algorithm=1` (Open MPI's ring allreduce, twice as
    /// fast for gradients as its default there), unless it is set already: call `init`
    /// early, before the program starts threads of its own that read the environment.
    ///
    /// # Errors
    /// MPI was initialized already in this process, or [`DEADLINE_ENV`] is not a number of
    /// seconds.
    pub fn init() -> Result<Mpi> {
        let deadline = match std::env::var(DEADLINE_ENV) {
            Ok(text) => parse_deadline(text)?,
            Err(_) => DEFAULT_DEADLINE,
        };
        prefer_ring_allreduce();
        let (universe, threading) =
            mpi::initialize_with_threading(Threading::Multiple).ok_or(Error::Collective {
                operation: "initialize MPI",
                rank: 0,
                message: "MPI is initialized already in this process (make one Mpi group and \
                          pass it to every fit)"
                    .into(),
            })?;
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        if threading != Threading::Multiple {
            eprintln!(
                "keel: rank {rank}: the MPI library gives thread level {threading:?}, not \
                 Multiple: ending a stalled job from the watchdog thread may not work"
            );
        }
        if let Some(warning) = binding::check() {
            eprintln!("keel: rank {rank}: {warning}");
        }
        let watch = Watch::new(rank, deadline);
        let watchdog = Some(watch.start());
        Ok(Mpi {
            world,
            rank,
            size,
            received: Vec::new(),
            received_f64: Vec::new(),
            watch,
            watchdog,
            _universe: universe,
        })
    }

    /// Sets how long a process may wait in one collective operation before it ends the
    /// job (another process stalled or died without MPI noticing). Defaults to 300 s, or
    /// [`DEADLINE_ENV`].
    ///
    /// # Errors
    /// A deadline under a millisecond, which would end the job in its first collective.
    pub fn deadline(self, deadline: Duration) -> Result<Self> {
        if deadline < MIN_DEADLINE {
            return Err(Error::InvalidOption {
                option: "Mpi::deadline",
                expected: "at least a millisecond",
                found: format!("{deadline:?}"),
            });
        }
        self.watch.set_deadline(deadline);
        Ok(self)
    }

    /// The threads each process should train on: `KEEL_NUM_THREADS` when set (and valid),
    /// else its share of the machine's CPUs (the CPUs it may use, split between the job's
    /// processes on this machine when they may all use them all), at least 1. Pass it to
    /// [`FitOptions::threads`](keel_trainer::FitOptions::threads).
    pub fn threads_per_process(&self) -> usize {
        if std::env::var_os(keel_runtime::THREADS_ENV).is_some() {
            if let Ok(runtime) = keel_runtime::Runtime::try_global() {
                return runtime.threads();
            }
        }
        let allowed = binding::allowed_cpus();
        let online = binding::online_cpus().unwrap_or(allowed);
        let local = binding::local_ranks();
        if allowed >= online {
            // Not bound: the processes on this machine share every CPU.
            (allowed / local).max(1)
        } else {
            allowed.max(1)
        }
    }

    /// Whether this is rank 0, the process that prints and writes files.
    pub fn is_chief(&self) -> bool {
        self.rank == 0
    }
}

/// The Open MPI parameter that chooses the non-blocking allreduce's algorithm.
const IALLREDUCE_ALGORITHM: &str = "OMPI_MCA_coll_libnbc_iallreduce_algorithm";

/// Makes Open MPI's non-blocking allreduce use its ring algorithm in jobs of 2 or 3
/// processes, unless the user chose one (`--mca coll_libnbc_iallreduce_algorithm N` or
/// the environment). Below 4 processes its default rule takes a binomial tree (reduce to
/// one process, then broadcast), which moves the whole vector twice, one move after the
/// other; ring moves it once, as the default does from 4 processes up, and takes as many
/// rounds at these sizes, so small sums lose nothing. W2's gradient sum on 2 processes
/// takes half the time (figures in `docs/performance.md`). Other MPI libraries ignore the
/// variable. Set before `MPI_Init`, which reads it, and before the watchdog thread starts.
fn prefer_ring_allreduce() {
    let size = std::env::var("OMPI_COMM_WORLD_SIZE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok());
    if matches!(size, Some(2 | 3)) && std::env::var_os(IALLREDUCE_ALGORITHM).is_none() {
        std::env::set_var(IALLREDUCE_ALGORITHM, "1");
    }
}

/// How long a waiting process keeps its core, testing its request between yields, before
/// it sleeps between tests: long enough for a barrier among processes that arrive within a
/// fraction of a step of each other, short against a step (figures in
/// `docs/performance.md`, "Data parallel over MPI").
const YIELDING: Duration = Duration::from_millis(2);
/// The longest sleep between tests after that: a bound on the latency added to a sum that
/// waited that long for a slower process.
const LONGEST_NAP: Duration = Duration::from_micros(200);

/// The element-wise sum of `values` over the group into `sums`, with Open MPI's
/// non-blocking allreduce, waited on politely. Its blocking allreduce is a little faster
/// on a quiet machine, but it busy-polls: beside a busy process a process descheduled in
/// the middle of it stalls the others, twice as slow an epoch in all (measurements in
/// `docs/performance.md`).
fn sum_into<T: mpi::datatype::Equivalence>(
    world: &SimpleCommunicator,
    values: &[T],
    sums: &mut [T],
) {
    mpi::request::scope(|scope| {
        let request = world.immediate_all_reduce_into(scope, values, sums, SystemOperation::sum());
        wait_politely(request);
    });
}

/// Replaces `values` with their sums over `world`, received into `received` (kept between
/// calls, grown as needed), under `watch`'s deadline for `operation`.
fn sum_in_place<T: mpi::datatype::Equivalence + Copy + Default>(
    watch: &Watch,
    world: &SimpleCommunicator,
    operation: &'static str,
    values: &mut [T],
    received: &mut Vec<T>,
) {
    received.resize(values.len(), T::default());
    watch.during(operation, || sum_into(world, values, received));
    values.copy_from_slice(received);
}

/// [`sum_into`] for every pair at once: the sums overlap, and are waited on together.
fn sum_each_into(world: &SimpleCommunicator, pairs: &mut [(&[f32], &mut [f32])]) {
    mpi::request::scope(|scope| {
        let mut pending: Vec<_> = pairs
            .iter_mut()
            .map(|(values, sums)| {
                Some(world.immediate_all_reduce_into(scope, *values, *sums, SystemOperation::sum()))
            })
            .collect();
        wait_politely_all(&mut pending);
    });
}

/// Waits for `request` without taking a core from the threads that need it: Open MPI's
/// blocking calls busy-poll, so a process waiting for a slower one (on a busy machine, or
/// on the same cores as another job) would burn the CPU the slower one needs. Tests the
/// request, yielding the core between tests for [`YIELDING`], then sleeping between tests
/// (20 µs, doubling up to [`LONGEST_NAP`]). Open MPI progresses a request only inside MPI
/// calls, so the tests also drive it.
fn wait_politely<'a, D: ?Sized, S: Scope<'a>>(request: Request<'a, D, S>) {
    wait_politely_all(&mut [Some(request)]);
}

/// [`wait_politely`] for every request of `pending`; a finished one leaves its slot.
fn wait_politely_all<'a, D: ?Sized, S: Scope<'a>>(pending: &mut [Option<Request<'a, D, S>>]) {
    let started = Instant::now();
    let mut nap = Duration::from_micros(20);
    loop {
        // Open MPI progresses every request in each test.
        for slot in pending.iter_mut() {
            if let Some(Err(request)) = slot.take().map(Request::test) {
                *slot = Some(request);
            }
        }
        if pending.iter().all(Option::is_none) {
            return;
        }
        if started.elapsed() < YIELDING {
            std::thread::yield_now();
        } else {
            std::thread::sleep(nap);
            nap = (nap * 2).min(LONGEST_NAP);
        }
    }
}

impl Drop for Mpi {
    fn drop(&mut self) {
        self.watch.close();
        if let Some(handle) = self.watchdog.take() {
            let _ = handle.join();
        }
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn sum_f32(&mut self, operation: &'static str, values: &mut [f32]) -> Result<()> {
        sum_in_place(
            &self.watch,
            &self.world,
            operation,
            values,
            &mut self.received,
        );
        Ok(())
    }

    fn arrive(&mut self, operation: &'static str) -> Result<()> {
        let world = &self.world;
        self.watch
            .during(operation, || wait_politely(world.immediate_barrier()));
        Ok(())
    }

    /// Every sum at once, waited on together: `fit` calls [`arrive`](Collective::arrive)
    /// first.
    fn sum_f32_each(
        &mut self,
        operation: &'static str,
        pairs: &mut [(&[f32], &mut [f32])],
    ) -> Result<()> {
        let world = &self.world;
        self.watch.during(operation, || sum_each_into(world, pairs));
        Ok(())
    }

    fn sum_f64(&mut self, operation: &'static str, values: &mut [f64]) -> Result<()> {
        sum_in_place(
            &self.watch,
            &self.world,
            operation,
            values,
            &mut self.received_f64,
        );
        Ok(())
    }

    fn min_max(&mut self, operation: &'static str, value: u64) -> Result<(u64, u64)> {
        // One call: the maximum of (v, MAX - v) gives the maximum and, mirrored, the minimum.
        let send = [value, u64::MAX - value];
        let mut received = [0u64; 2];
        let world = &self.world;
        self.watch.during(operation, || {
            mpi::request::scope(|scope| {
                let request = world.immediate_all_reduce_into(
                    scope,
                    &send[..],
                    &mut received[..],
                    SystemOperation::max(),
                );
                wait_politely(request);
            });
        });
        Ok((u64::MAX - received[1], received[0]))
    }

    fn broadcast(&mut self, operation: &'static str, bytes: &mut Vec<u8>) -> Result<()> {
        let (world, root) = (&self.world, self.world.process_at_rank(0));
        self.watch.during(operation, || {
            wait_politely(world.immediate_barrier());
            let mut len = bytes.len() as u64;
            root.broadcast_into(&mut len);
            let len = usize::try_from(len).expect("a length that fits rank 0's memory");
            bytes.resize(len, 0);
            // An empty Vec's pointer is dangling, which Open MPI refuses even for 0 bytes.
            if len > 0 {
                root.broadcast_into(&mut bytes[..]);
            }
        });
        Ok(())
    }

    fn set_position(&mut self, epoch: usize, batch: usize) {
        self.watch.set_position(epoch, batch);
    }

    fn abort(&mut self, error: &Error) {
        watchdog::abort(
            watchdog::ERROR_EXIT,
            &format!("{}: {error}; ending the job", self.watch.position()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::parse_deadline;
    use std::time::Duration;

    #[test]
    fn a_deadline_is_a_number_of_seconds_from_a_millisecond_up() {
        assert_eq!(
            parse_deadline(" 2.5 ".into()).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(
            parse_deadline("0.001".into()).unwrap(),
            Duration::from_millis(1)
        );
        for bad in ["0", "0.0001", "-3", "NaN", "inf", "1e30", "soon", ""] {
            let message = parse_deadline(bad.into()).unwrap_err().to_string();
            assert!(message.contains("at least 0.001"), "{bad}: {message}");
        }
    }
}
