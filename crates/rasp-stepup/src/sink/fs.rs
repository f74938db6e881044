//! File paths for `std::fs` and `tokio::fs`: a path is judged before it
//! is opened, with the platform this process runs on.

use std::io;
use std::path::Path;

use super::{Platform, SinkError};

/// The refusal as an `io::Error` of kind `PermissionDenied`, whose inner
/// error is the [`SinkError`] (`e.get_ref()` and `downcast_ref`).
fn refused(e: SinkError) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, e)
}

/// Guards a path about to be opened and gives it back, for any file API:
/// `std::fs::read(sink::checked_path(&path)?)`,
/// `tokio::fs::File::open(sink::checked_path(&path)?)`. The path is judged
/// as [`path`](super::path) judges it on this process's platform (an input
/// that made it absolute, climbed out of its folder or named a sensitive
/// file). A path that is not UTF-8 is read lossily.
///
/// # Errors
///
/// In enforce mode, an `io::Error` of kind `PermissionDenied` carrying the
/// [`SinkError`].
pub fn checked_path<P: AsRef<Path> + ?Sized>(path: &P) -> io::Result<&Path> {
    let p = path.as_ref();
    super::path(&p.to_string_lossy(), Platform::current()).map_err(refused)?;
    Ok(p)
}

/// [`std::fs::read`] after [`checked_path`].
///
/// # Errors
///
/// A refusal of the guard, or the read's own error.
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    std::fs::read(checked_path(&path)?)
}

/// [`std::fs::read_to_string`] after [`checked_path`].
///
/// # Errors
///
/// A refusal of the guard, or the read's own error.
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    std::fs::read_to_string(checked_path(&path)?)
}

/// [`std::fs::File::open`] after [`checked_path`].
///
/// # Errors
///
/// A refusal of the guard, or the open's own error.
pub fn open<P: AsRef<Path>>(path: P) -> io::Result<std::fs::File> {
    std::fs::File::open(checked_path(&path)?)
}

/// [`std::fs::File::create`] after [`checked_path`].
///
/// # Errors
///
/// A refusal of the guard, or the create's own error.
pub fn create<P: AsRef<Path>>(path: P) -> io::Result<std::fs::File> {
    std::fs::File::create(checked_path(&path)?)
}

/// [`std::fs::write`] after [`checked_path`].
///
/// # Errors
///
/// A refusal of the guard, or the write's own error.
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    std::fs::write(checked_path(&path)?, contents)
}
