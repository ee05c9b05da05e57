//! Open MPI's binding trap: by default it binds each of one or two ranks to one core, so a
//! process that sizes its threads from the CPUs it may use trains on one core.

/// The CPUs of the machine that are online (`/sys/devices/system/cpu/online`, such as
/// `0-63` or `0-3,8-11`), if readable.
pub(crate) fn online_cpus() -> Option<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    text.trim().split(',').try_fold(0, |count, range| {
        let mut ends = range.split('-').map(|n| n.trim().parse::<usize>().ok());
        match (ends.next()?, ends.next()) {
            (Some(first), Some(Some(last))) if last >= first => Some(count + last - first + 1),
            (Some(_), None) => Some(count + 1),
            _ => None,
        }
    })
}

/// The processes of this job on this machine, from the launcher's environment.
pub(crate) fn local_ranks() -> usize {
    [
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_NTASKS_PER_NODE",
    ]
    .iter()
    .find_map(|name| std::env::var(name).ok()?.parse::<usize>().ok())
    .filter(|&n| n > 0)
    .unwrap_or(1)
}

/// The CPUs this process may run on.
pub(crate) fn allowed_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A warning when this process may use fewer CPUs than its fair share of the machine
/// (`online / local` of them), as under Open MPI's default binding of one core per rank.
pub(crate) fn warning(allowed: usize, online: Option<usize>, local: usize) -> Option<String> {
    let fair = online? / local.max(1);
    (allowed < fair).then(|| {
        format!(
            "this process may run on {allowed} of the machine's {} CPUs, with {local} process(es) \
             of the job on this machine: MPI bound it to fewer cores than its share ({fair}). \
             Launch with `mpirun --bind-to none` (or `--map-by node:PE={fair}`) to give each \
             process its share",
            online.unwrap_or(0)
        )
    })
}

/// [`warning`] for this process.
pub(crate) fn check() -> Option<String> {
    warning(allowed_cpus(), online_cpus(), local_ranks())
}

#[cfg(test)]
mod tests {
    use super::warning;

    #[test]
    fn one_core_of_many_is_the_trap() {
        let w = warning(1, Some(64), 2).expect("a warning");
        assert!(w.contains("--bind-to none") && w.contains("PE=32"), "{w}");
        assert!(warning(32, Some(64), 2).is_none());
        assert!(
            warning(1, Some(2), 2).is_none(),
            "one core each is the fair share"
        );
        assert!(warning(1, None, 1).is_none());
    }
}
