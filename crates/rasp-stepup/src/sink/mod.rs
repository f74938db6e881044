//! Sink guards inside a request: the SQL statement, file path, outbound
//! URL or command a handler is about to run, judged against the inputs of
//! the request it serves (see `rasp-guard` and docs/sinks.md).
//!
//! The layer keeps every value it inspected (path, query, the headers and
//! cookies it reads, body values, each with its key path) and makes them
//! the *current inputs* while it polls the handler's future, so a guard
//! needs no argument from the handler:
//!
//! ```no_run
//! # async fn handler(name: String) -> Result<String, rasp_stepup::sink::SinkError> {
//! let statement = format!("SELECT balance FROM accounts WHERE owner = '{name}'");
//! rasp_stepup::sink::sql(&statement, rasp_stepup::sink::Dialect::PostgreSql)?;
//! // run it
//! # Ok(statement) }
//! ```
//!
//! A guard that finds an input changing the structure of its argument
//! returns [`SinkError`] in enforce mode (run nothing then), and the layer
//! answers the request with 403 whatever the handler answered; in monitor
//! mode it returns `Ok`, and the layer logs the hit and attaches it as
//! [`Monitored`](crate::Monitored). Either way one `rasp::decision` event
//! names the sink and the input's key path, never the value.
//!
//! Outside a request (a background task, a `tokio::spawn` from the
//! handler: the current inputs follow the handler's own future only) a
//! guard has no inputs and passes everything.
//!
//! Adapters, each behind a cargo feature:
//!
//! | feature | adapter |
//! |---|---|
//! | `sqlx-postgres`, `sqlx-sqlite`, `sqlx-mysql` | `sqlx::query`, `query_as`, `query_scalar`: checked builders |
//! | `reqwest` | `UrlGuard`, a `reqwest-middleware` middleware |
//! | `process` | `command(&std::process::Command)` (`tokio`'s through `as_std()`) |
//! | `fs` | `checked_path(path)` for any file API, and `read`, `read_to_string`, `open`, `create`, `write` |

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex};

pub use rasp_guard::{Dialect, Platform, Sink};

#[cfg(feature = "fs")]
mod fs;
#[cfg(feature = "process")]
mod process;
#[cfg(feature = "reqwest")]
mod reqwest;
#[cfg(any(
    feature = "sqlx-postgres",
    feature = "sqlx-sqlite",
    feature = "sqlx-mysql"
))]
pub mod sqlx;

#[cfg(feature = "fs")]
pub use fs::{checked_path, create, open, read, read_to_string, write};
#[cfg(feature = "process")]
pub use process::command;
#[cfg(feature = "reqwest")]
pub use reqwest::UrlGuard;

/// A guard's refusal: the sink, and the key path of the input that
/// changed its structure (`query.q`, `body.memo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkError {
    /// The sink.
    pub sink: Sink,
    /// The key path of the input.
    pub key: String,
    /// Why, in a few words.
    pub reason: &'static str,
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} injection refused: input {} {}",
            self.sink, self.key, self.reason
        )
    }
}

impl std::error::Error for SinkError {}

/// The inputs of one request with their key paths, in one buffer: two
/// allocations per request, whatever the number of values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Inputs {
    text: String,
    /// Per input: where its key starts, where its value starts and ends.
    spans: Vec<(usize, usize, usize)>,
}

/// Inputs kept per request, and their bytes in all.
const MAX_INPUTS: usize = 512;
const MAX_INPUT_BYTES: usize = 256 * 1024;

impl Inputs {
    /// Keeps a value under `key`, within the bounds (values under two
    /// bytes, which no guard looks for, and repeats are not kept).
    pub(crate) fn push(&mut self, key: &str, value: &[u8]) {
        self.push_parts(key, b"", value);
    }

    /// Keeps a value under the key `prefix` + `name`.
    pub(crate) fn push_parts(&mut self, prefix: &str, name: &[u8], value: &[u8]) {
        if value.len() < rasp_guard::MIN_INPUT
            || self.spans.len() >= MAX_INPUTS
            || self.text.len() + prefix.len() + name.len() + value.len() > MAX_INPUT_BYTES
            || self.values().any(|v| v.as_bytes() == value)
        {
            return;
        }
        let k = self.text.len();
        self.text.push_str(prefix);
        self.text.push_str(&String::from_utf8_lossy(name));
        let v = self.text.len();
        self.text.push_str(&String::from_utf8_lossy(value));
        self.spans.push((k, v, self.text.len()));
    }

    /// Adds `other`'s inputs.
    pub(crate) fn extend(&mut self, other: &Inputs) {
        for (key, value) in other.iter() {
            self.push(key, value.as_bytes());
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans
            .iter()
            .map(|&(k, v, e)| (&self.text[k..v], &self.text[v..e]))
    }

    fn values(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(_, v)| v)
    }
}

/// The inputs of one request, and the first hit of a guard on them.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    inputs: Inputs,
    monitor: bool,
    hit: Mutex<Option<SinkError>>,
}

impl Scope {
    pub(crate) fn new(inputs: Inputs, monitor: bool) -> Arc<Self> {
        Arc::new(Self {
            inputs,
            monitor,
            hit: Mutex::new(None),
        })
    }

    /// The first hit, taken.
    pub(crate) fn take_hit(&self) -> Option<SinkError> {
        self.hit.lock().map_or(None, |mut h| h.take())
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Scope>>> = const { RefCell::new(None) };
}

/// Makes `scope` the current inputs until the guard drops (nesting and
/// unwinding restore the previous ones).
pub(crate) fn enter(scope: Arc<Scope>) -> Entered {
    let previous = CURRENT.with(|c| c.replace(Some(scope)));
    Entered { previous }
}

/// Restores the previous current inputs when dropped.
pub(crate) struct Entered {
    previous: Option<Arc<Scope>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The values of the current request's inputs (none outside a request).
#[must_use]
pub fn current_inputs() -> Vec<String> {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|s| s.inputs.values().map(str::to_owned).collect())
            .unwrap_or_default()
    })
}

/// Runs `check` on the current inputs and records its verdict.
fn guard(
    check: impl FnOnce(&[&str]) -> Result<(), rasp_guard::Injection>,
) -> Result<(), SinkError> {
    guard_with(|_| Vec::new(), check)
}

/// [`guard`] with more forms of the inputs: `more(input)` gives other
/// spellings of one input, judged as that input.
fn guard_with(
    more: impl Fn(&str) -> Vec<String>,
    check: impl FnOnce(&[&str]) -> Result<(), rasp_guard::Injection>,
) -> Result<(), SinkError> {
    let Some(scope) = CURRENT.with(|c| c.borrow().clone()) else {
        return Ok(());
    };
    let mut values: Vec<&str> = scope.inputs.values().collect();
    let originals = values.len();
    let extra: Vec<(usize, String)> = values
        .iter()
        .enumerate()
        .flat_map(|(i, v)| more(v).into_iter().map(move |m| (i, m)))
        .collect();
    values.extend(extra.iter().map(|(_, m)| m.as_str()));
    let Err(mut injection) = check(&values) else {
        return Ok(());
    };
    if injection.input >= originals {
        injection.input = extra[injection.input - originals].0;
    }
    let key = scope
        .inputs
        .iter()
        .nth(injection.input)
        .map_or("", |(k, _)| k);
    let error = SinkError {
        sink: injection.sink,
        key: key.to_owned(),
        reason: injection.reason,
    };
    if let Ok(mut hit) = scope.hit.lock()
        && hit.is_none()
    {
        *hit = Some(error.clone());
    }
    if scope.monitor { Ok(()) } else { Err(error) }
}

/// Guards a SQL statement about to run (see [`rasp_guard::sql`]).
///
/// # Errors
///
/// In enforce mode, an input of the current request that changed the
/// statement's structure.
pub fn sql(statement: &str, dialect: Dialect) -> Result<(), SinkError> {
    guard(|inputs| rasp_guard::sql(statement, dialect, inputs))
}

/// Guards a file path about to be opened (see [`rasp_guard::path`]).
///
/// # Errors
///
/// In enforce mode, an input that made it absolute or climbed out of its
/// directory.
pub fn path(path: &str, platform: Platform) -> Result<(), SinkError> {
    guard(|inputs| rasp_guard::path(path, platform, inputs))
}

/// Guards an outbound URL about to be fetched (see [`rasp_guard::url`]).
///
/// # Errors
///
/// In enforce mode, an input that chose its scheme or an internal host,
/// moved its host or climbed out of its path.
pub fn url(url: &str) -> Result<(), SinkError> {
    guard(|inputs| rasp_guard::url(url, inputs))
}

/// Guards an outbound URL that a URL parser already read, and so wrote in
/// its own spelling (`http://2130706433/` is `http://127.0.0.1/` by then):
/// each input is also judged as that parser spells it, as a whole URL and
/// as a host.
#[cfg(feature = "reqwest")]
pub(crate) fn parsed_url(url: &str) -> Result<(), SinkError> {
    guard_with(respelled, |inputs| rasp_guard::url(url, inputs))
}

/// How the WHATWG URL parser writes `input` when it is a whole URL, or a
/// host: only the spellings that differ from it.
#[cfg(feature = "reqwest")]
fn respelled(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(u) = ::url::Url::parse(input)
        && u.has_host()
    {
        let whole = u.as_str();
        if whole != input {
            out.push(whole.to_owned());
            if let Some(bare) = whole.strip_suffix('/')
                && bare != input
            {
                out.push(bare.to_owned());
            }
        }
    } else if !input.contains(['/', '?', '#', '@'])
        && let Ok(u) = ::url::Url::parse(&format!("http://{input}/"))
        && let Some(host) = u.host_str()
    {
        let host = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        if host != input {
            out.push(host);
        }
    }
    out
}

/// Guards a command line about to run through `sh -c` (see
/// [`rasp_guard::shell`]).
///
/// # Errors
///
/// In enforce mode, an input that added shell syntax or became the command.
pub fn shell(command: &str) -> Result<(), SinkError> {
    guard(|inputs| rasp_guard::shell(command, inputs))
}

/// Guards an argv about to be executed (see [`rasp_guard::exec`]).
///
/// # Errors
///
/// In enforce mode, an input that chose the program or wrote an
/// interpreter's script.
pub fn exec(argv: &[&str]) -> Result<(), SinkError> {
    guard(|inputs| rasp_guard::exec(argv, inputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_read_the_current_inputs_and_pass_outside_a_request() {
        let statement = "SELECT * FROM t WHERE a = '' OR 1=1 --'";
        assert_eq!(sql(statement, Dialect::Generic), Ok(()));
        let mut inputs = Inputs::default();
        inputs.push("query.q", b"' OR 1=1 --");
        let scope = Scope::new(inputs, false);
        {
            let _in = enter(scope.clone());
            let e = sql(statement, Dialect::Generic).unwrap_err();
            assert_eq!(e.key, "query.q");
            assert_eq!(e.sink, Sink::Sql);
            // nested scopes restore the outer one
            {
                let _inner = enter(Scope::new(Inputs::default(), false));
                assert_eq!(sql(statement, Dialect::Generic), Ok(()));
            }
            assert!(sql(statement, Dialect::Generic).is_err());
        }
        assert_eq!(scope.take_hit().map(|h| h.key), Some("query.q".into()));
        assert_eq!(scope.take_hit(), None);
        assert_eq!(sql(statement, Dialect::Generic), Ok(()));
        // monitor mode: recorded, not refused
        let mut inputs = Inputs::default();
        inputs.push("body.memo", b"x; id");
        inputs.push("body.again", b"x; id");
        inputs.push("body.short", b"x");
        assert_eq!(
            inputs.iter().count(),
            1,
            "repeats and one-byte values are not kept"
        );
        let scope = Scope::new(inputs, true);
        let _in = enter(scope.clone());
        assert_eq!(shell("ping x; id"), Ok(()));
        assert_eq!(scope.take_hit().map(|h| h.sink), Some(Sink::Shell));
    }
}
