//! One process per data directory: two stacks on one database would both fire its timers and
//! re-send its pending effects. The first takes an exclusive lock on `handoff.lock` (released
//! by the operating system when the process ends, however it ends) and writes its process id
//! there, so a second start can say who holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "handoff.lock";

/// Held for as long as the stack runs.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the data directory {dir} is in use by another handoff-local process ({holder}); \
         stop that one, or start this one with a different --data-dir"
    )]
    Busy { dir: PathBuf, holder: String },
    #[error("cannot lock the data directory {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

impl DataDirLock {
    /// Takes the data directory, or says which process has it.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let io = |e| LockError::Io(dir.to_path_buf(), e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).map_err(io)?;
                file.seek(SeekFrom::Start(0)).map_err(io)?;
                writeln!(file, "{}", std::process::id()).map_err(io)?;
                file.flush().map_err(io)?;
                Ok(Self { _file: file })
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "process id unknown".to_string(),
                    pid => format!("pid {pid}"),
                };
                Err(LockError::Busy { dir: dir.to_path_buf(), holder })
            }
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        match DataDirLock::acquire(dir.path()) {
            Err(e @ LockError::Busy { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
                assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
            }
            other => panic!("expected the directory to be busy: {other:?}"),
        }
        drop(first);
        assert!(DataDirLock::acquire(dir.path()).is_ok(), "free again once the first is gone");
    }
}
