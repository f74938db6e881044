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
///
/// An input is looked for at each place its first byte occurs, which
/// costs nothing to set up (the usual sink argument and input are short);
/// when the product of their lengths makes that costlier than a proper
/// search, `memmem` (linear whatever the bytes) finds them instead.
fn first_injection(
    sink: Sink,
    hay: &[u8],
    inputs: &[&str],
    mut judge: impl FnMut(usize, usize) -> Option<&'static str>,
) -> Result<(), Injection> {
    // the bytes the argument holds: an input with a byte it lacks is not
    // in it (most of a request's inputs, found without a search)
    let mut present = [false; 256];
    for &b in hay {
        present[usize::from(b)] = true;
    }
    for (i, input) in inputs.iter().enumerate() {
        let needle = input.as_bytes();
        let n = needle.len();
        // the last byte first: words that differ by a suffix (`name2`,
        // ids) are told apart at once
        let has = |b: &u8| present[usize::from(*b)];
        if n < MIN_INPUT
            || n > hay.len()
            || !has(&needle[n - 1])
            || !has(&needle[0])
            || !needle.iter().all(has)
        {
            continue;
        }
        let mut found = |s: usize| {
            judge(s, s + n).map(|reason| Injection {
                sink,
                input: i,
                reason,
            })
        };
        if hay.len().saturating_mul(n) <= 1 << 14 {
            let (mut next, mut seen) = (0, 0);
            for s in memchr::memchr_iter(needle[0], hay) {
                if s < next || !hay[s..].starts_with(needle) {
                    continue;
                }
                if let Some(injection) = found(s) {
                    return Err(injection);
                }
                (next, seen) = (s + n, seen + 1);
                if seen == MAX_OCCURRENCES {
                    break;
                }
            }
        } else {
            for s in memchr::memmem::find_iter(hay, needle).take(MAX_OCCURRENCES) {
                if let Some(injection) = found(s) {
                    return Err(injection);
                }
            }
        }
    }
    Ok(())
}
