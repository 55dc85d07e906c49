//! Where a file device's lines go: an append-only file, stdout, or nowhere.
//!
//! Each entry is written as one `write_all` of a complete line while holding the
//! device's mutex, so lines from concurrent requests never interleave. Lines are
//! handed to the kernel before the call returns (a `File` has no user-space buffer);
//! they are not fsync'd, as Vault's file device does not either: a power loss can
//! lose the last lines, a process crash cannot.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Mutex;

/// The `file_path` values that are not files.
pub const STDOUT: &str = "stdout";
/// `file_path=discard`: entries are formatted and dropped (counts as a success).
pub const DISCARD: &str = "discard";

/// The destination of a file device.
pub enum Sink {
    /// The server's standard output.
    Stdout,
    /// Nowhere.
    Discard,
    /// An append-only file.
    File(FileSink),
}

impl Sink {
    /// Opens the destination named by `file_path`, failing if the file cannot be
    /// opened now (the check made when a device is enabled).
    pub fn open(file_path: &str, mode: u32) -> io::Result<Self> {
        Ok(match file_path {
            STDOUT => Self::Stdout,
            DISCARD => Self::Discard,
            path => Self::File(FileSink::open(path, mode)?),
        })
    }

    /// Like [`Sink::open`], but a file that cannot be opened (at start-up) is retried
    /// at every write instead, so the device fails closed until it can write.
    pub fn restore(file_path: &str, mode: u32) -> (Self, Option<io::Error>) {
        match Self::open(file_path, mode) {
            Ok(s) => (s, None),
            Err(e) => (
                Self::File(FileSink {
                    path: PathBuf::from(file_path),
                    mode,
                    file: Mutex::new(None),
                }),
                Some(e),
            ),
        }
    }

    /// Writes one complete line.
    pub fn write_line(&self, line: &[u8]) -> io::Result<()> {
        match self {
            Self::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(line)?;
                out.flush()
            }
            Self::Discard => Ok(()),
            Self::File(f) => f.write_line(line),
        }
    }
}

/// An audit file opened with `O_APPEND`.
pub struct FileSink {
    path: PathBuf,
    mode: u32,
    /// `None` after a failed open at start-up: reopened on the next write.
    file: Mutex<Option<File>>,
}

impl FileSink {
    fn open(path: &str, mode: u32) -> io::Result<Self> {
        let path = PathBuf::from(path);
        let file = open_append(&path, mode)?;
        Ok(Self {
            path,
            mode,
            file: Mutex::new(Some(file)),
        })
    }

    fn write_line(&self, line: &[u8]) -> io::Result<()> {
        // A poisoned lock only means another write panicked; the file handle itself is
        // still sound, so keep using it.
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(open_append(&self.path, self.mode)?);
        }
        match guard.as_mut() {
            Some(f) => {
                f.write_all(line)?;
                f.flush()
            }
            None => Err(io::Error::other("audit file is not open")),
        }
    }
}

/// Opens (creating with `mode`) for appending; an existing regular file gets `mode`
/// too, as Vault's device does (`mode=0` leaves permissions alone). Special files
/// (`/dev/null`, pipes) are never chmod'ed.
fn open_append(path: &std::path::Path, mode: u32) -> io::Result<File> {
    let create_mode = if mode == 0 { 0o600 } else { mode };
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(create_mode)
        .open(path)?;
    if mode != 0 {
        let meta = file.metadata()?;
        if meta.is_file() && meta.permissions().mode() & 0o7777 != mode {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_lines_with_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let p = path.to_str().unwrap();
        std::fs::write(&path, "old\n").unwrap();
        let sink = Sink::open(p, 0o640).unwrap();
        sink.write_line(b"one\n").unwrap();
        sink.write_line(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\none\ntwo\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let fresh = dir.path().join("new.log");
        Sink::open(fresh.to_str().unwrap(), 0o600).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn special_targets_and_failures() {
        assert!(
            Sink::open(DISCARD, 0o600)
                .unwrap()
                .write_line(b"x\n")
                .is_ok()
        );
        assert!(Sink::open("/nonexistent-dir/audit.log", 0o600).is_err());
        if std::path::Path::new("/dev/full").exists() {
            let full = Sink::open("/dev/full", 0o600).unwrap();
            assert!(full.write_line(b"x\n").is_err());
        }
        let dir = tempfile::tempdir().unwrap();
        let later = dir.path().join("sub").join("a.log");
        let (sink, err) = Sink::restore(later.to_str().unwrap(), 0o600);
        assert!(err.is_some());
        assert!(
            sink.write_line(b"x\n").is_err(),
            "still missing: fails closed"
        );
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        sink.write_line(b"x\n").unwrap();
        assert_eq!(std::fs::read_to_string(&later).unwrap(), "x\n");
    }
}
