//! The inspect step: every input of a request, with its key path, through
//! `rasp-detect`.
//!
//! Inputs: path segments, query names and values, a configurable header set
//! (default `User-Agent`, `Referer`, `X-Forwarded-Host`, headers outside the
//! standard set, standard ones that break their grammar), cookies,
//! and bodies up to `max_body_bytes` (JSON keys and values with their JSON
//! paths, url-encoded forms, multipart text fields and file names, XML).
//! High-confidence findings reject the request (403, kind `Injection`);
//! lower ones feed the risk score (`injection_suspect`). Exclusions silence a
//! rule or class for a route template and key path, and count their hits.

mod body;
mod exclusions;
mod recent;

use std::sync::Arc;

use http::HeaderMap;
use rasp_detect::{Detector, Findings, SourceKind};

pub(crate) use body::{BodyPlan, BodyRefusal, body_plan, decode, inspect_body};
pub use body::{CompressedBodies, MalformedBodies};
pub use exclusions::{Exclusion, ExclusionReport};

/// What to do with a body larger than `max_body_bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OverLimit {
    /// Answer 413 (default).
    #[default]
    Reject,
    /// Inspect the first `max_body_bytes` and pass the whole body on
    /// (bodies are buffered up to 16 × `max_body_bytes`; larger gets 413).
    InspectPrefix,
    /// Pass the body on without inspecting it.
    Pass,
}

/// What to do with a request whose inspection would cost more than its
/// level's [`Budget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OverBudget {
    /// Inspect what the budget covers, pass the rest uninspected and log
    /// a `rasp::decision` warning (default on public routes).
    InspectPrefix,
    /// Answer 413 (default on authenticated, high and critical routes).
    Reject,
}

/// How much inspection one request may cost: a number of work units, each
/// inspected value costing its length in bytes plus
/// [`Budget::UNITS_PER_VALUE`]. The detector's work is linear in the bytes
/// it reads, so the budget bounds the inspection time of any request, and
/// a request made of many tiny values pays for each one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub(crate) units: usize,
    pub(crate) over: OverBudget,
}

impl Budget {
    /// The fixed cost of one value, in units: about what reading 64 bytes
    /// costs.
    pub const UNITS_PER_VALUE: usize = 64;
    /// The default number of units: a 64 KiB body (the default body limit)
    /// of a thousand values, with its head, fits.
    pub const DEFAULT_UNITS: usize = 256 * 1024;

    /// `units` work units, then `over`.
    #[must_use]
    pub fn new(units: usize, over: OverBudget) -> Self {
        Self { units, over }
    }

    /// The work units.
    #[must_use]
    pub fn units(&self) -> usize {
        self.units
    }

    /// What happens past them.
    #[must_use]
    pub fn over(&self) -> OverBudget {
        self.over
    }

    /// The default of a level: [`Budget::DEFAULT_UNITS`], then
    /// [`OverBudget::InspectPrefix`] on public routes and
    /// [`OverBudget::Reject`] elsewhere.
    #[must_use]
    pub fn default_for(level: crate::level::Sensitivity) -> Self {
        let over = if level == crate::level::Sensitivity::Public {
            OverBudget::InspectPrefix
        } else {
            OverBudget::Reject
        };
        Self::new(Self::DEFAULT_UNITS, over)
    }
}

/// Inspection settings.
#[derive(Clone, Debug)]
#[must_use]
pub struct InspectionRules {
    pub(crate) enabled: bool,
    pub(crate) level: u8,
    pub(crate) headers: Vec<http::HeaderName>,
    pub(crate) custom_headers: bool,
    pub(crate) cookies: bool,
    pub(crate) max_body_bytes: usize,
    pub(crate) over_limit: OverLimit,
    pub(crate) max_json_depth: usize,
    pub(crate) compressed_bodies: CompressedBodies,
    /// Keep the request's inputs for the sink guards.
    pub(crate) sink_inputs: bool,
    /// How long a sink guard's hit flags the subject (or the address).
    pub(crate) sink_flag: std::time::Duration,
    /// A sink guard's hit revokes the subject's tokens.
    pub(crate) sink_revokes_session: bool,
    pub(crate) malformed_bodies: MalformedBodies,
    pub(crate) exclusions: Vec<Exclusion>,
    /// Per sensitivity level.
    pub(crate) budgets: crate::level::PerLevel<Budget>,
}

impl Default for InspectionRules {
    fn default() -> Self {
        Self {
            enabled: true,
            level: 2,
            headers: vec![
                http::header::USER_AGENT,
                http::header::REFERER,
                http::HeaderName::from_static("x-forwarded-host"),
            ],
            custom_headers: true,
            cookies: true,
            max_body_bytes: 64 * 1024,
            over_limit: OverLimit::Reject,
            max_json_depth: 32,
            compressed_bodies: CompressedBodies::Decode,
            sink_inputs: true,
            sink_flag: std::time::Duration::from_secs(3600),
            sink_revokes_session: false,
            malformed_bodies: MalformedBodies::Reject,
            exclusions: Vec::new(),
            budgets: crate::level::PerLevel::from_fn(Budget::default_for),
        }
    }
}

impl InspectionRules {
    /// No inspection at all.
    ///
    /// # Security
    ///
    /// Turns the injection detectors off.
    pub fn insecure_disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sensitivity level 1–4 (default 2): higher runs more rules.
    pub fn level(mut self, level: u8) -> Self {
        self.level = level.clamp(1, 4);
        self
    }

    /// Also inspects this header.
    pub fn header(mut self, name: http::HeaderName) -> Self {
        if !self.headers.contains(&name) {
            self.headers.push(name);
        }
        self
    }

    /// Whether headers outside the standard set are inspected (default: on):
    /// `X-Original-URL`, `X-Test` or an application's own headers, since
    /// nothing but the application decides what they mean. Standard
    /// headers are read only when their value breaks their grammar (an
    /// `X-Real-IP` that is no address, an `Origin` that is no origin, an
    /// `Accept-Language` or `Content-Type` parameter with a quote, an
    /// `X-Request-ID` with spaces), whatever this says: a handler may read
    /// them all the same. `Authorization` and `Cookie` are never read as
    /// headers (cookies are read pair by pair).
    pub fn custom_headers(mut self, on: bool) -> Self {
        self.custom_headers = on;
        self
    }

    /// Whether cookie values are inspected (default: on), pair by pair
    /// under `cookie.<name>`; opaque values (session ids, signed tokens)
    /// pass by shape without analysis.
    pub fn cookies(mut self, on: bool) -> Self {
        self.cookies = on;
        self
    }

    /// Body bytes read and inspected (default 64 KiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// What to do with larger bodies (default: 413).
    pub fn over_limit(mut self, policy: OverLimit) -> Self {
        self.over_limit = policy;
        self
    }

    /// How deep a JSON body may nest (default 32, at most 128): every
    /// value down to it is inspected; a deeper body is malformed (see
    /// [`InspectionRules::malformed_bodies`]).
    pub fn max_json_depth(mut self, depth: usize) -> Self {
        self.max_json_depth = depth;
        self
    }

    /// What compressed bodies get (default: decompressed within
    /// `max_body_bytes` of output, then inspected).
    pub fn compressed_bodies(mut self, policy: CompressedBodies) -> Self {
        self.compressed_bodies = policy;
        self
    }

    /// Whether the request's inputs (every value inspected, with its key
    /// path; at most 512 of them and 256 KiB) are kept for the sink guards
    /// of [`crate::sink`] (default: on). Off, the guards see no input and
    /// pass everything.
    pub fn sink_inputs(mut self, on: bool) -> Self {
        self.sink_inputs = on;
        self
    }

    /// How long a sink guard's hit flags the subject, or the client
    /// address when the request carried no identity (default one hour;
    /// `Duration::ZERO` turns flagging off). While flagged, the subject's
    /// requests (and those from the address) carry the risk signal
    /// `sink_injection` (weight 50 by default: a fresh step-up on high and
    /// critical routes; give it 80 or more with [`RiskRules::weight`] to
    /// reject them instead). A successful step-up clears the flag. The
    /// period starts at the first hit (a fixed window of the counter
    /// store).
    ///
    /// [`RiskRules::weight`]: crate::RiskRules::weight
    pub fn sink_flag(mut self, period: std::time::Duration) -> Self {
        self.sink_flag = period;
        self
    }

    /// Whether a sink guard's hit also revokes every token the subject
    /// holds (default: off): the session must sign in again.
    pub fn sink_revokes_session(mut self, on: bool) -> Self {
        self.sink_revokes_session = on;
        self
    }

    /// What a body that is not what its headers declare gets (default:
    /// 400).
    pub fn malformed_bodies(mut self, policy: MalformedBodies) -> Self {
        self.malformed_bodies = policy;
        self
    }

    /// The inspection budget of `level` (default: [`Budget::default_for`]).
    pub fn budget(mut self, level: crate::level::Sensitivity, budget: Budget) -> Self {
        self.budgets[level] = budget;
        self
    }

    /// Adds an exclusion.
    pub fn exclude(mut self, exclusion: Exclusion) -> Self {
        self.exclusions.push(exclusion);
        self
    }
}

/// How suspicious the non-blocking findings are (0–1), for the risk score.
pub(crate) fn suspect_confidence(findings: &Findings) -> f32 {
    findings
        .iter()
        .map(|f| match f.confidence {
            rasp_detect::Confidence::High => 1.0,
            rasp_detect::Confidence::Medium => 1.0,
            _ => 0.5,
        })
        .fold(0.0, f32::max)
}

pub(crate) fn validate(rules: &InspectionRules) -> Result<(), String> {
    if rules.max_body_bytes == 0 || rules.max_body_bytes > 64 << 20 {
        return Err("max_body_bytes must be between 1 byte and 64 MiB".into());
    }
    if !(1..=128).contains(&rules.max_json_depth) {
        // serde_json stops at 128 levels whatever the setting
        return Err("max_json_depth must be between 1 and 128".into());
    }
    if rules
        .budgets
        .iter()
        .any(|(_, b)| b.units < Budget::UNITS_PER_VALUE)
    {
        return Err(format!(
            "an inspection budget must be at least {} units (one value)",
            Budget::UNITS_PER_VALUE
        ));
    }
    exclusions::Compiled::validate(&rules.exclusions)
}

/// A key path (`query.q`, `header.user-agent`), built only when needed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Key<'a> {
    Static(&'a str),
    Prefixed(&'static str, &'a [u8]),
}

impl Key<'_> {
    fn render(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Key::Static(s) => std::borrow::Cow::Borrowed(s),
            Key::Prefixed(p, name) => {
                std::borrow::Cow::Owned(format!("{p}{}", String::from_utf8_lossy(name)))
            }
        }
    }
}

type Bytes<'a> = std::borrow::Cow<'a, [u8]>;

/// The grammar a standard header's value must follow to be left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grammar {
    /// Never inspected: credentials (`Authorization`), cookies (read
    /// pair by pair, see [`InspectionRules::cookies`]), and framing that
    /// the HTTP server itself parses and refuses when malformed.
    Never,
    /// Addresses: IP addresses (with a port, in brackets) or `unknown`,
    /// comma-separated (`X-Forwarded-For`, `X-Real-IP`…).
    Addresses,
    /// `host[:port]` (`Host`).
    Authority,
    /// `null` or `scheme://host[:port]` (`Origin`).
    Origin,
    /// Tokens, parameters, lists, quoted tokens, dates and numbers
    /// (`Accept*`, `Content-Type`, `Cache-Control`, `If-*`, `Range`…):
    /// letters, digits and ` ,;=*/+._:"-` only.
    Tokens,
    /// Browser hints (`Sec-*`): as `Tokens`, and the punctuation of the
    /// brand names browsers make up (`"Not)A;Brand"`): `()?!`.
    Hints,
    /// Identifiers (`X-Request-ID`, trace context): letters, digits and
    /// `._:/+=,;-`.
    Ids,
    /// Entity tags the server made (`If-Match`, `If-None-Match`): `*`, or
    /// quoted opaque tags, optionally weak (`W/"…"`); or a date.
    EntityTags,
}

/// The grammar of a (lowercase) standard header; `None` for headers
/// outside the standard set (an application's own `X-…` headers,
/// `X-Original-URL`), which only the application gives a meaning.
fn grammar(name: &str) -> Option<Grammar> {
    use Grammar::*;
    Some(match name {
        "authorization"
        | "proxy-authorization"
        | "cookie"
        | "content-length"
        | "transfer-encoding"
        | "connection"
        | "keep-alive"
        | "upgrade"
        | "te"
        | "trailer"
        | "expect" => Never,
        "x-forwarded-for"
        | "x-real-ip"
        | "x-client-ip"
        | "true-client-ip"
        | "cf-connecting-ip"
        | "fastly-client-ip"
        | "x-cluster-client-ip" => Addresses,
        "host" | "x-forwarded-host" => Authority,
        "origin" => Origin,
        "x-request-id"
        | "x-correlation-id"
        | "request-id"
        | "traceparent"
        | "tracestate"
        | "baggage"
        | "x-amzn-trace-id"
        | "x-cloud-trace-context"
        | "x-csrf-token"
        | "x-xsrf-token" => Ids,
        n if n.starts_with("sec-") => Hints,
        n if n.starts_with("x-b3-") || n.starts_with("x-datadog-") => Ids,
        "if-match" | "if-none-match" => EntityTags,
        n if n.starts_with("accept")
            || n.starts_with("content-")
            || n.starts_with("if-")
            || n.starts_with("access-control-request-") =>
        {
            Tokens
        }
        "cache-control"
        | "date"
        | "device-memory"
        | "dnt"
        | "downlink"
        | "dpr"
        | "ect"
        | "forwarded"
        | "max-forwards"
        | "pragma"
        | "priority"
        | "purpose"
        | "range"
        | "rtt"
        | "save-data"
        | "upgrade-insecure-requests"
        | "via"
        | "viewport-width"
        | "width"
        | "x-forwarded-proto"
        | "x-forwarded-port"
        | "x-forwarded-prefix"
        | "x-requested-with" => Tokens,
        _ => return None,
    })
}

impl Grammar {
    /// Whether `v` follows the grammar (then there is nothing in it for
    /// an application to misread as code).
    fn holds(self, v: &[u8]) -> bool {
        let all = |ok: fn(u8) -> bool| v.iter().all(|&b| ok(b));
        match self {
            Grammar::Never => true,
            Grammar::Addresses => std::str::from_utf8(v).is_ok_and(|s| {
                s.split(',').map(str::trim).all(|a| {
                    a.eq_ignore_ascii_case("unknown")
                        || a.parse::<std::net::IpAddr>().is_ok()
                        || a.parse::<std::net::SocketAddr>().is_ok()
                })
            }),
            Grammar::Authority => is_authority(v),
            Grammar::Origin => {
                v == b"null"
                    || v.iter().position(|&b| b == b':').is_some_and(|i| {
                        let (scheme, rest) = (&v[..i], &v[i..]);
                        !scheme.is_empty()
                            && scheme
                                .iter()
                                .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(b))
                            && rest.strip_prefix(b"://").is_some_and(is_authority)
                    })
            }
            Grammar::Tokens => {
                all(|b| b.is_ascii_alphanumeric() || b" \t,;=*/+._:\"-".contains(&b))
            }
            Grammar::Hints => {
                all(|b| b.is_ascii_alphanumeric() || b" \t,;=*/+._:\"-()?!".contains(&b))
            }
            Grammar::Ids => all(|b| b.is_ascii_alphanumeric() || b"._:/+=,;-".contains(&b)),
            Grammar::EntityTags => {
                v == b"*"
                    || v.split(|&b| b == b',').all(|t| {
                        let t = t.trim_ascii();
                        let t = t.strip_prefix(b"W/").unwrap_or(t);
                        // etagc: visible ASCII but `"`
                        t.len() >= 2
                            && t.starts_with(b"\"")
                            && t.ends_with(b"\"")
                            && t[1..t.len() - 1]
                                .iter()
                                .all(|&b| (0x21..0x7f).contains(&b) && b != b'"')
                    })
            }
        }
    }
}

/// `host[:port]`: a name of letters, digits, dots and dashes, an IPv4
/// address, or an IPv6 address in brackets.
fn is_authority(v: &[u8]) -> bool {
    let (host, port) = match v.iter().rposition(|&b| b == b':') {
        Some(i) if !v.starts_with(b"[") || v[..i].ends_with(b"]") => (&v[..i], &v[i + 1..]),
        _ => (v, &b""[..]),
    };
    let port_ok = port.len() <= 5 && port.iter().all(u8::is_ascii_digit);
    let host_ok = match host.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")) {
        Some(v6) => std::str::from_utf8(v6).is_ok_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok()),
        None => {
            !host.is_empty()
                && host
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(b))
        }
    };
    port_ok && host_ok
}

/// `#106`, `#x6A;`, `lpar;`: what is left of `&#106` once `&` split a query.
fn is_entity_tail(name: &[u8]) -> bool {
    match name {
        [b'#', b'x' | b'X', rest @ ..] => rest.first().is_some_and(u8::is_ascii_hexdigit),
        [b'#', rest @ ..] => rest.first().is_some_and(u8::is_ascii_digit),
        _ => {
            let letters = name.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            (2..=8).contains(&letters) && name.get(letters) == Some(&b';')
        }
    }
}

/// Form encoding's `+` read as the space it stands for.
pub(crate) fn plus_as_space(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect()
}

/// `name=value` pairs of a query string or form body, percent-decoded to
/// bytes (`+` is a space), borrowed when nothing needs decoding. Invalid
/// UTF-8 is kept as it is: overlong sequences are evidence the detectors
/// need. A bare name (no `=`, as in `?;ls -la`) comes with `None`: it is
/// often the whole injected input, so callers read it as a value too.
pub(crate) fn form_pairs(
    input: &[u8],
) -> impl Iterator<Item = (Bytes<'_>, Option<Bytes<'_>>)> + '_ {
    fn dec(s: &[u8]) -> Bytes<'_> {
        if !s.iter().any(|b| *b == b'%' || *b == b'+') {
            return std::borrow::Cow::Borrowed(s);
        }
        std::borrow::Cow::Owned(percent_encoding::percent_decode(&plus_as_space(s)).collect())
    }
    input
        .split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|b| *b == b'=') {
            Some(i) => (dec(&pair[..i]), Some(dec(&pair[i + 1..]))),
            None => (dec(pair), None),
        })
}

/// Where [`Inspector::pairs`] reads from: key prefixes and source kinds.
#[derive(Clone, Copy)]
pub(crate) struct Pairs {
    prefix: &'static str,
    whole: &'static str,
    name: SourceKind,
    value: SourceKind,
    /// Prose-like values are read as free text (form fields carry
    /// comments and messages; query values stay values).
    prose: bool,
}

impl Pairs {
    pub(crate) const QUERY: Self = Self {
        prefix: "query.",
        whole: "query",
        name: SourceKind::QueryName,
        value: SourceKind::QueryValue,
        prose: false,
    };
    pub(crate) const FORM: Self = Self {
        prefix: "body.",
        whole: "body",
        name: SourceKind::FormName,
        value: SourceKind::FormValue,
        prose: true,
    };
}

/// The compiled inspection state shared by the layer.
pub(crate) struct Inspector {
    pub(crate) rules: InspectionRules,
    pub(crate) detector: Arc<Detector>,
    pub(crate) exclusions: exclusions::Compiled,
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspector")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// Findings of one request, and what is left of its inspection budget.
#[derive(Debug)]
pub(crate) struct RequestFindings {
    pub(crate) findings: Findings,
    /// Work units left.
    pub(crate) left: usize,
    /// Some input was left uninspected for want of budget.
    pub(crate) over_budget: bool,
    /// The inputs seen (key path, value), for the sink guards; `None` when
    /// not collected.
    pub(crate) inputs: Option<crate::sink::Inputs>,
}

impl RequestFindings {
    /// No findings yet, `units` to spend.
    pub(crate) fn with_budget(units: usize) -> Self {
        Self {
            findings: Findings::default(),
            left: units,
            over_budget: false,
            inputs: None,
        }
    }

    /// The same, collecting the inputs seen when `on`.
    pub(crate) fn collecting(mut self, on: bool) -> Self {
        self.inputs = on.then(crate::sink::Inputs::default);
        self
    }

    /// Keeps an input for the sink guards, within their bounds.
    fn keep(&mut self, key: Key<'_>, value: &[u8]) {
        if let Some(inputs) = &mut self.inputs {
            match key {
                Key::Static(k) => inputs.push(k, value),
                Key::Prefixed(prefix, name) => inputs.push_parts(prefix, name, value),
            }
        }
    }

    /// Takes the cost of a value of `len` bytes from the budget: how many
    /// of its bytes may be inspected (all, a prefix, or none).
    fn spend(&mut self, len: usize) -> usize {
        let cost = len.saturating_add(Budget::UNITS_PER_VALUE);
        if cost <= self.left {
            self.left -= cost;
            return len;
        }
        self.over_budget = true;
        let prefix = self.left.saturating_sub(Budget::UNITS_PER_VALUE).min(len);
        self.left = 0;
        prefix
    }
}

impl Inspector {
    pub(crate) fn new(rules: InspectionRules) -> Self {
        let exclusions = exclusions::Compiled::new(&rules.exclusions);
        // Compiling the rules takes milliseconds: one detector per level per process.
        static DETECTORS: [std::sync::OnceLock<Arc<Detector>>; 4] =
            [const { std::sync::OnceLock::new() }; 4];
        let level = rules.level.clamp(1, 4);
        let detector = DETECTORS[usize::from(level - 1)]
            .get_or_init(|| Arc::new(Detector::new(level)))
            .clone();
        Self {
            detector,
            rules,
            exclusions,
        }
    }

    /// Inspects one value at `key` (a key path such as `query.q`).
    pub(crate) fn value(
        &self,
        route: Option<&str>,
        key: Key<'_>,
        value: &[u8],
        source: SourceKind,
        out: &mut RequestFindings,
    ) {
        out.keep(key, value);
        let n = out.spend(value.len());
        if n == 0 {
            return;
        }
        // Headers and paths repeat from request to request (the same
        // client's User-Agent, the app's own routes).
        let mut f = if matches!(source, SourceKind::Header | SourceKind::Path) {
            recent::inspect(&self.detector, &value[..n], source)
        } else {
            self.detector.inspect(&value[..n], source)
        };
        if f.is_empty() {
            return;
        }
        // Key paths are only spelled out when there is something to exclude.
        self.exclusions.apply(route, &key.render(), &mut f);
        out.findings.extend(f);
    }

    /// Path, query, headers and cookies.
    /// The names and values of a query string or form body; bare names
    /// are read as values too.
    pub(crate) fn pairs(
        &self,
        route: Option<&str>,
        input: &[u8],
        to: Pairs,
        out: &mut RequestFindings,
    ) {
        let mut split = false;
        for (i, (name, value)) in form_pairs(input).enumerate() {
            let key = Key::Prefixed(to.prefix, &name);
            self.value(route, key, &name, to.name, out);
            split |= i > 0 && value.is_none() && is_entity_tail(&name);
            let value = value.as_deref().unwrap_or(&name);
            let source = match to.prose {
                true => body::prose_source(value),
                false => to.value,
            };
            self.value(route, key, value, source, out);
        }
        if split {
            // A bare name that is the tail of an HTML character reference
            // (`#x6A`, `#106;`, `colon;`) means a raw `&` cut one value in
            // pieces that look harmless alone: read the whole input as well.
            let whole = plus_as_space(input);
            self.value(route, Key::Static(to.whole), &whole, to.value, out);
        }
    }

    pub(crate) fn head(
        &self,
        route: Option<&str>,
        uri: &http::Uri,
        headers: &HeaderMap,
        units: usize,
    ) -> RequestFindings {
        let mut out = RequestFindings::with_budget(units).collecting(self.rules.sink_inputs);
        if !self.rules.enabled {
            return out;
        }
        let path = uri.path();
        if path.len() > 1 {
            self.value(
                route,
                Key::Static("path"),
                path.as_bytes(),
                SourceKind::Path,
                &mut out,
            );
        }
        if let Some(q) = uri.query() {
            self.pairs(route, q.as_bytes(), Pairs::QUERY, &mut out);
        }
        // The configured headers, headers outside the standard set, and
        // (Shellshock rides in any header a CGI-style backend turns into an
        // environment variable) every header that opens with a function
        // definition.
        for (name, v) in headers {
            let inspect = self.rules.headers.contains(name)
                || match grammar(name.as_str()) {
                    // a standard header that breaks its grammar is read:
                    // a handler may read it all the same
                    Some(g) => !g.holds(v.as_bytes()),
                    None => self.rules.custom_headers,
                }
                || v.as_bytes().trim_ascii_start().starts_with(b"()");
            if inspect {
                let key = Key::Prefixed("header.", name.as_str().as_bytes());
                self.value(route, key, v.as_bytes(), SourceKind::Header, &mut out);
            }
        }
        if self.rules.cookies {
            for v in headers.get_all(http::header::COOKIE) {
                for pair in v.as_bytes().split(|b| *b == b';') {
                    let pair = pair.trim_ascii();
                    let (name, value) = match pair.iter().position(|b| *b == b'=') {
                        Some(i) => (&pair[..i], &pair[i + 1..]),
                        None => (pair, &b""[..]),
                    };
                    self.value(
                        route,
                        Key::Prefixed("cookie.", name),
                        value,
                        SourceKind::Cookie,
                        &mut out,
                    );
                }
            }
        }
        out
    }
}
