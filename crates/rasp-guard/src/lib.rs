//! Runtime self-protection at the sinks: did a value from the request
//! change the structure of what is about to run?
//!
//! A guard takes the sink's argument (a SQL statement, a file path, an
//! outbound URL, a shell command line, an argv array) and the request's
//! inputs, finds each input in the argument, and asks whether that input
//! stays inside one literal, identifier or path segment, or whether it
//! contributes structure: operators, keywords, comments, statement breaks,
//! quotes that close, `..` segments that climb out of the directory the
//! application meant, the scheme or host of a URL, shell separators and
//! substitutions, the executable itself. Prose about SQL never changes a
//! query; an injection always does.
//!
//! ```
//! use rasp_guard::{Dialect, sql};
//!
//! let name = "' OR '1'='1";
//! let statement = format!("SELECT * FROM users WHERE name = '{name}'");
//! assert!(sql(&statement, Dialect::PostgreSql, &[name]).is_err());
//!
//! let name = "O'Brien";
//! let escaped = "SELECT * FROM users WHERE name = 'O''Brien'";
//! assert!(sql(escaped, Dialect::PostgreSql, &[name]).is_ok());
//! ```
//!
//! Inputs shorter than [`MIN_INPUT`] bytes are not looked for: one byte
//! occurs everywhere and cannot be told apart from the application's own
//! text. The guards know no HTTP; the layer of `rasp-stepup` collects the
//! inputs of a request.

mod path;
mod shell;
mod sqltok;
mod url;

use std::fmt;

pub use path::{Platform, path};
pub use shell::{exec, shell};
pub use sqltok::{Dialect, sql};
pub use url::url;

/// Inputs shorter than this (in bytes) are not looked for.
pub const MIN_INPUT: usize = 2;

/// At most this many occurrences of one input are judged (the first
/// ones): a guard's work stays linear in the argument and the inputs.
const MAX_OCCURRENCES: usize = 16;

/// The kind of sink a guard protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sink {
    /// A SQL statement.
    Sql,
    /// A file path.
    Path,
    /// An outbound URL.
    Url,
    /// A command line for `sh -c`.
    Shell,
    /// An argv array.
    Exec,
}

impl Sink {
    /// The sink's name in logs and in `rasp sink`: `sql`, `path`, `url`,
    /// `shell`, `exec`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sql => "sql",
            Self::Path => "path",
            Self::Url => "url",
            Self::Shell => "shell",
            Self::Exec => "exec",
        }
    }
}

impl fmt::Display for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An input that changed the structure of a sink's argument. It names the
/// input by its position among the inputs given, never by its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    /// The sink.
    pub sink: Sink,
    /// The position of the input among those given to the guard.
    pub input: usize,
    /// Why, in a few words (`"spans 4 SQL tokens"`).
    pub reason: &'static str,
}

impl fmt::Display for Injection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} injection by input {}: {}",
            self.sink, self.input, self.reason
        )
    }
}

impl std::error::Error for Injection {}

/// The first input (with its position) one of whose occurrences `judge`
/// condemns.
fn first_injection(
    sink: Sink,
    hay: &[u8],
    inputs: &[&str],
    mut judge: impl FnMut(usize, usize) -> Option<&'static str>,
) -> Result<(), Injection> {
    for (i, input) in inputs.iter().enumerate() {
        let needle = input.as_bytes();
        if needle.len() < MIN_INPUT {
            continue;
        }
        for s in memchr::memmem::find_iter(hay, needle).take(MAX_OCCURRENCES) {
            let e = s + needle.len();
            if let Some(reason) = judge(s, e) {
                return Err(Injection {
                    sink,
                    input: i,
                    reason,
                });
            }
        }
    }
    Ok(())
}
