//! Atomic file writes: a crash at any moment leaves either the old file or the new one.

use crate::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` so that readers (and a machine that loses power) see the
/// previous file or the complete new one, never a mix:
///
/// 1. write a temporary file in the same directory, named from the target, the process id
///    and a per-process counter (created with `create_new`, so two writers, in this process
///    or another, never share one);
/// 2. `fsync` it, so its bytes are on disk before its name is;
/// 3. rename it over `path` (atomic within one file system);
/// 4. on Unix, `fsync` the directory, so the rename itself survives a crash.
///
/// On failure the temporary file is removed and the previous file is untouched. A write
/// first removes the temporaries of `path` that killed writers left behind (leftovers.rs).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let Some(name) = path.file_name() else {
        return Err(io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "expected a path that ends in a file name",
        )));
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    super::leftovers::remove_stale_temporaries(&dir, name);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(source) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(path)(source));
    }
    sync_dir(&dir).map_err(io(&dir))
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows has no directory handles to sync; `MoveFileEx` is durable enough there.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.keel");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["model.keel"]);
    }

    #[test]
    fn a_failed_write_removes_its_temporary_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.keel");
        write_atomic(&path, b"old").unwrap();
        // A directory where the file should go: the rename fails.
        let taken = dir.path().join("taken");
        std::fs::create_dir(&taken).unwrap();
        assert!(write_atomic(&taken, b"new").is_err());
        assert!(taken.is_dir());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn concurrent_writers_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.keel");
        std::thread::scope(|s| {
            for i in 0..8u8 {
                let path = &path;
                s.spawn(move || write_atomic(path, &[i; 64]).unwrap());
            }
        });
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.iter().all(|&b| b == bytes[0]) && bytes.len() == 64);
    }

    #[test]
    fn a_path_without_a_file_name_is_an_error() {
        assert!(write_atomic(Path::new("/"), b"x").is_err());
    }
}
