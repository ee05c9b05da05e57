//! Temporaries left by an atomic write that was killed between creating and renaming its
//! temporary file (`.{name}.{pid}.{counter}.tmp`, see [`write_atomic`](super::write_atomic)).

use std::ffi::OsStr;
use std::path::Path;

/// Removes the temporaries of `name` in `dir` whose writing process is gone, before the next
/// write of `name`. Best effort: a temporary that cannot be read or removed stays. Those of
/// this process and of live processes are kept, as they may be writes in progress.
pub(super) fn remove_stale_temporaries(dir: &Path, name: &OsStr) {
    let (Some(name), Ok(entries)) = (name.to_str(), std::fs::read_dir(dir)) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let pid = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|rest| rest.split_once('.'))
            .filter(|(_, counter)| counter.parse::<u64>().is_ok())
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| pid != std::process::id() && !is_running(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` exists (Linux: its `/proc` entry).
#[cfg(target_os = "linux")]
fn is_running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Elsewhere there is no cheap portable check: assume it runs, and keep its temporary.
#[cfg(not(target_os = "linux"))]
fn is_running(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::super::write_atomic;

    #[test]
    fn a_write_removes_the_temporaries_of_dead_writers_of_that_file_only() {
        let dir = tempfile::tempdir().unwrap();
        // Linux pids stay below 2^22, so 999999999 is never a live process.
        let stale = dir.path().join(".backup.keel.999999999.3.tmp");
        let other_file = dir.path().join(".other.keel.999999999.0.tmp");
        let ours = dir
            .path()
            .join(format!(".backup.keel.{}.77.tmp", std::process::id()));
        let not_a_temporary = dir.path().join(".backup.keel.notes.tmp");
        for p in [&stale, &other_file, &ours, &not_a_temporary] {
            std::fs::write(p, b"partial").unwrap();
        }
        write_atomic(&dir.path().join("backup.keel"), b"state").unwrap();
        assert_eq!(stale.exists(), !cfg!(target_os = "linux"));
        assert!(other_file.exists() && ours.exists() && not_a_temporary.exists());
        assert_eq!(
            std::fs::read(dir.path().join("backup.keel")).unwrap(),
            b"state"
        );
    }
}
