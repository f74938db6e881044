//! Injection detection for HTTP inputs: bounded decoding against evasion,
//! a cheap prefilter, structural detectors per attack class, and scoring.
//!
//! No HTTP, no async: the input is a value and where it came from.
//!
//! ```
//! use rasp_detect::{Class, Detector, SourceKind};
//!
//! let detector = Detector::default();
//! let findings = detector.inspect(b"1' OR '1'='1", SourceKind::QueryValue);
//! assert!(findings.blocks());
//! assert_eq!(findings.iter().next().map(|f| f.class), Some(Class::Sqli));
//! assert!(detector.inspect(b"calle mayor, 5", SourceKind::QueryValue).is_empty());
//! ```
//!
//! Every pattern is its own lazy DFA over bytes with Unicode off, started
//! only where one of its literal prefixes occurs (see the `engine` module):
//! linear in the value, with per-thread caches of bounded size. Every
//! decoding pass is linear and the number of passes is bounded.

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod decode;
mod engine;
mod literals;
mod rules;
mod sqltok;
mod ssrf;

use std::borrow::Cow;
use std::fmt;

use aho_corasick::AhoCorasick;

pub use decode::{Evasions, normalize, sql_fold};
pub use rules::Rule;
use rules::{Check, RULES, View};

/// Attack classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Class {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// Path traversal and local file inclusion.
    Traversal,
    /// OS command injection.
    Cmdi,
    /// Server-side request forgery.
    Ssrf,
    /// NoSQL operator and JavaScript injection.
    Nosqli,
    /// LDAP and XPath filter injection.
    Ldapi,
    /// Server-side template injection.
    Ssti,
    /// XML external entities.
    Xxe,
    /// CRLF / header injection, response splitting.
    Crlf,
    /// JNDI lookups (Log4Shell).
    Jndi,
    /// Shellshock function definitions.
    Shellshock,
    /// PHP code injection.
    Php,
    /// Java code injection and deserialisation.
    Java,
    /// Node.js code injection.
    Nodejs,
    /// Prototype pollution.
    ProtoPollution,
    /// Other code injection (Perl, Ruby).
    Code,
    /// Server-side includes / ESI.
    Ssi,
    /// Remote file inclusion.
    Rfi,
    /// Scanner user agents.
    Scanner,
    /// Dangerous upload file names.
    FileUpload,
    /// Requests for restricted files (`.git`, `.env`).
    RestrictedFile,
    /// Session fixation.
    SessionFixation,
}

impl Class {
    /// The class name used in reports and exclusions (`sqli`, `xss`...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqli => "sqli",
            Self::Xss => "xss",
            Self::Traversal => "traversal",
            Self::Cmdi => "cmdi",
            Self::Ssrf => "ssrf",
            Self::Nosqli => "nosqli",
            Self::Ldapi => "ldapi",
            Self::Ssti => "ssti",
            Self::Xxe => "xxe",
            Self::Crlf => "crlf",
            Self::Jndi => "jndi",
            Self::Shellshock => "shellshock",
            Self::Php => "php",
            Self::Java => "java",
            Self::Nodejs => "nodejs",
            Self::ProtoPollution => "proto_pollution",
            Self::Code => "code",
            Self::Ssi => "ssi",
            Self::Rfi => "rfi",
            Self::Scanner => "scanner",
            Self::FileUpload => "file_upload",
            Self::RestrictedFile => "restricted_file",
            Self::SessionFixation => "session_fixation",
        }
    }

    /// Every class.
    pub const ALL: [Class; 23] = [
        Self::Sqli,
        Self::Xss,
        Self::Traversal,
        Self::Cmdi,
        Self::Ssrf,
        Self::Nosqli,
        Self::Ldapi,
        Self::Ssti,
        Self::Xxe,
        Self::Crlf,
        Self::Jndi,
        Self::Shellshock,
        Self::Php,
        Self::Java,
        Self::Nodejs,
        Self::ProtoPollution,
        Self::Code,
        Self::Ssi,
        Self::Rfi,
        Self::Scanner,
        Self::FileUpload,
        Self::RestrictedFile,
        Self::SessionFixation,
    ];

    /// The class of a name (`"sqli"`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceKind {
    /// A path segment.
    Path,
    /// A query parameter name.
    QueryName,
    /// A query parameter value.
    QueryValue,
    /// A request header value.
    Header,
    /// A cookie value.
    Cookie,
    /// A JSON object key.
    JsonKey,
    /// A JSON string (or number) value.
    JsonValue,
    /// A form field name.
    FormName,
    /// A form field value.
    FormValue,
    /// An XML document.
    Xml,
    /// A multipart file name.
    MultipartFilename,
    /// A multipart text field.
    MultipartField,
}

impl SourceKind {
    /// Every source kind, in declaration order.
    pub const ALL: [SourceKind; 12] = [
        Self::Path,
        Self::QueryName,
        Self::QueryValue,
        Self::Header,
        Self::Cookie,
        Self::JsonKey,
        Self::JsonValue,
        Self::FormName,
        Self::FormValue,
        Self::Xml,
        Self::MultipartFilename,
        Self::MultipartField,
    ];

    /// Free text where prose is expected (JSON values, XML, text fields).
    fn is_text(self) -> bool {
        matches!(self, Self::JsonValue | Self::Xml | Self::MultipartField)
    }

    /// The name used in key paths (`query`, `body`...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::QueryName | Self::QueryValue => "query",
            Self::Header => "header",
            Self::Cookie => "cookie",
            Self::JsonKey | Self::JsonValue | Self::FormName | Self::FormValue | Self::Xml => {
                "body"
            }
            Self::MultipartFilename | Self::MultipartField => "body",
        }
    }
}

/// How sure a finding is. High-confidence findings block; lower ones add
/// to the request's risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Confidence {
    /// Suggestive only.
    Low,
    /// Likely an attack.
    Medium,
    /// An attack.
    High,
}

/// One detection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// The attack class.
    pub class: Class,
    /// The rule that fired.
    pub rule: &'static str,
    /// 1 (minor) to 5 (critical).
    pub severity: u8,
    /// How sure.
    pub confidence: Confidence,
    /// A short excerpt of the decoded value around the match, with
    /// non-printable bytes replaced (at most 48 characters).
    pub excerpt: String,
}

/// The findings of one value (or one request).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings(Vec<Finding>);

impl Findings {
    /// No findings.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of findings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The findings.
    pub fn iter(&self) -> std::slice::Iter<'_, Finding> {
        self.0.iter()
    }

    /// Whether any finding is of high confidence (the request should be blocked).
    #[must_use]
    pub fn blocks(&self) -> bool {
        self.0.iter().any(|f| f.confidence == Confidence::High)
    }

    /// Anomaly score 0–100: severity × confidence weight, summed.
    #[must_use]
    pub fn score(&self) -> u32 {
        self.0
            .iter()
            .map(|f| {
                let w = match f.confidence {
                    Confidence::High => 5,
                    Confidence::Medium => 3,
                    Confidence::Low => 1,
                };
                u32::from(f.severity) * w
            })
            .sum::<u32>()
            .min(100)
    }

    /// Score per class.
    #[must_use]
    pub fn class_scores(&self) -> Vec<(Class, u32)> {
        let mut out: Vec<(Class, u32)> = Vec::new();
        for f in &self.0 {
            let w = u32::from(f.severity)
                * match f.confidence {
                    Confidence::High => 5,
                    Confidence::Medium => 3,
                    Confidence::Low => 1,
                };
            match out.iter_mut().find(|(c, _)| *c == f.class) {
                Some((_, s)) => *s = (*s + w).min(100),
                None => out.push((f.class, w.min(100))),
            }
        }
        out
    }

    /// Adds findings.
    pub fn extend(&mut self, other: Findings) {
        self.0.extend(other.0);
    }

    /// Keeps the findings for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Finding) -> bool) {
        self.0.retain(keep);
    }
}

impl<'a> IntoIterator for &'a Findings {
    type Item = &'a Finding;
    type IntoIter = std::slice::Iter<'a, Finding>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Bytes that any attack in scope needs at least one of (quotes, brackets,
/// separators, escapes, control and non-ASCII bytes). Values without them
/// and without a keyword skip the detectors. `@` alone is not one: e-mail
/// addresses are the most common field with it, and the attacks that need
/// it carry `@@`, `@(`, `@{` or `@import` (keywords) or another byte here.
fn special_table() -> [bool; 256] {
    let mut t = [false; 256];
    for b in b"'\"<>;|&$(){}[]%\\`*=#:!^~/" {
        t[usize::from(*b)] = true;
    }
    for (b, slot) in t.iter_mut().enumerate() {
        if !(0x20..0x7f).contains(&b) {
            *slot = true;
        }
    }
    t
}

const KEYWORDS: &[&str] = &[
    "select",
    "union",
    "sleep",
    "waitfor",
    "benchmark",
    "having",
    "order by",
    "case when",
    "group by",
    "insert",
    "delete",
    "update",
    "drop",
    "exec",
    "or 1",
    "and 1",
    "or true",
    "script",
    "javascript",
    "document.",
    "window.",
    "passwd",
    "etc/",
    "../",
    "..\\",
    "system",
    "whoami",
    "uname",
    "wget",
    "curl",
    "/bin/",
    "cmd",
    "jndi",
    "file:",
    "gopher",
    "127.0.0.1",
    "localhost",
    "169.254",
    "0x",
    "win.ini",
    "boot.ini",
    ".htaccess",
    "proc/self",
    "xp_",
    "@@",
    "@(",
    "@{",
    "@import",
    "information_schema",
    "pg_",
    "tempdb",
    "msdb",
    "msysobjects",
    "msysaccessobjects",
    "--",
    "/*",
    "concat",
    "char(",
    "ping ",
    "cat ",
    "ls ",
    "nc ",
    "||",
    "&&",
    // Windows batch needs no punctuation: `if exist x echo y`
    "echo",
    " exist ",
    " equ ",
    " neq ",
    " lss ",
    " leq ",
    " gtr ",
    " geq ",
    "errorlevel",
    "sh -c",
    "invoke-",
    "mshta",
    // template dunders and prototype pollution (`__class__`, `__proto__`),
    // Java class names, a shell's dot command: no punctuation needed
    "__",
    "java.",
    ".sh",
];

/// Whether a value opens with a command that runs another one or a tool
/// that no other field would name (`time who`, `ansible all -m ping`): a
/// command line without any punctuation, which the byte table and the
/// keywords cannot see. Only the first word is read.
fn leads_with_tool(raw: &[u8]) -> bool {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let rest = &raw[start..];
    let Some(end) = rest.iter().position(|b| *b == b' ') else {
        return false;
    };
    if end > 16 {
        return false;
    }
    let mut word = [0u8; 16];
    for (w, b) in word.iter_mut().zip(&rest[..end]) {
        *w = b.to_ascii_lowercase();
    }
    let word = &word[..end];
    matches!(
        word,
        b"time"
            | b"strace"
            | b"ltrace"
            | b"nohup"
            | b"nice"
            | b"sudo"
            | b"doas"
            | b"env"
            | b"perf"
            | b"set"
            | b"date"
            | b"knife"
            | b"cscli"
            | b"visudo"
            | b"gdb"
            | b"c89"
            | b"c99"
            | b"cpulimit"
            | b"flock"
            | b"lastlog"
            | b"pip"
            | b"pip3"
            | b"pipx"
            | b"exec"
            | b"xargs"
            | b"watch"
            | b"timeout"
            | b"stdbuf"
            | b"ssh-copy-id"
    ) || word.starts_with(b"ansible")
        || word.starts_with(b"chef-")
        || word.starts_with(b"rmt")
}

/// Strings that are opaque tokens (UUIDs, JWTs, hex or base64 blobs,
/// numbers) are not code: most false positives of other engines come from
/// them.
fn is_opaque(v: &[u8]) -> bool {
    if v.is_empty() {
        return true;
    }
    // One pass: this runs on every long value.
    let (mut digits, mut dots, mut dashes, mut slashes) = (0usize, 0usize, 0usize, 0usize);
    let (mut numeric, mut dotdot, mut prev) = (true, false, 0u8);
    for &b in v {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => {
                dots += 1;
                dotdot |= prev == b'.';
            }
            b'-' => dashes += 1,
            b'+' => {}
            b'/' => {
                slashes += 1;
                numeric = false;
            }
            b'_' | b'=' | b'a'..=b'z' | b'A'..=b'Z' => numeric = false,
            // neither a number nor a token
            _ => return false,
        }
        prev = b;
    }
    if numeric {
        return dashes <= 1;
    }
    if v.len() < 16 {
        return false;
    }
    // Standard base64 may hold '/', but then it is padded to whole quads.
    if slashes > 0 && (!v.len().is_multiple_of(4) || dots > 0) {
        return false;
    }
    // Needs a mix that prose does not have: digits and letters, few dots.
    digits * 8 >= v.len() && dots <= 2 && slashes <= 2 && !dotdot
}

/// The rules of a level, each compiled once, and the groups the views
/// search with.
struct Compiled {
    rules: Vec<&'static Rule>,
    patterns: engine::Patterns,
}

impl Compiled {
    fn new(level: u8) -> Self {
        let rules: Vec<&'static Rule> = RULES
            .iter()
            .filter(|r| r.level <= level && r.view().is_some())
            .collect();
        let patterns = engine::Patterns::new(
            rules
                .iter()
                .filter_map(|r| r.pattern())
                .map(engine::compile)
                .collect(),
        );
        Self { rules, patterns }
    }

    /// The rules that read one of `views` and belong to one of `classes`
    /// (every class when empty).
    fn group(&self, views: &[View], classes: &[Class]) -> engine::Group {
        self.patterns.group(
            (0..self.rules.len())
                .filter(|&i| {
                    let r = self.rules[i];
                    r.view().is_some_and(|v| views.contains(&v))
                        && (classes.is_empty() || classes.contains(&r.class))
                })
                .collect(),
        )
    }
}

/// The detection engine. Build once (compiling the rules takes a few
/// milliseconds), share freely: inspection takes `&self`.
pub struct Detector {
    level: u8,
    special: [bool; 256],
    keywords: AhoCorasick,
    compiled: Compiled,
    decoded: engine::Group,
    sql: engine::Group,
    path: engine::Group,
    /// Every rule at once, for values whose three views are the same bytes
    /// (most benign values): one scan instead of three.
    all: engine::Group,
    /// The command and file rules of the decoded view, for the value with
    /// shell quoting removed.
    shell: engine::Group,
    /// The file rules of the decoded and path views, for the value as sent.
    traversal_decoded: engine::Group,
    traversal_path: engine::Group,
    /// The CRLF rules of the decoded view, for the value with characters
    /// cut to their low byte.
    crlf: engine::Group,
    /// Per check written as code (by `Check as usize`): its row, when this
    /// level runs it.
    code: [Option<&'static Rule>; Check::ALL.len()],
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl Default for Detector {
    fn default() -> Self {
        Self::new(2)
    }
}

/// The value with every character above U+00FF whose low byte is CR or
/// LF written as that byte, as a server that cuts characters to bytes
/// writes it; `None` when there is none.
fn low_byte_breaks(v: &[u8]) -> Option<Vec<u8>> {
    // only multi-byte UTF-8 above U+00FF can hold one (lead byte 0xC4+)
    if !v.iter().any(|&b| b >= 0xc4) {
        return None;
    }
    let text = String::from_utf8_lossy(v);
    let mut out = Vec::with_capacity(v.len());
    let mut found = false;
    for c in text.chars() {
        let n = u32::from(c);
        if n > 0xff && matches!(n & 0xff, 0x0a | 0x0d) {
            out.push((n & 0xff) as u8);
            found = true;
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    found.then_some(out)
}

/// Whether `v` is one well-formed XML document of plain elements: an
/// optional `<?xml …?>` declaration, then a single root whose tags
/// balance, names of letters, digits and `_.:-`, quoted attribute values
/// and text without `<` (the decoded view: entities are read already); no
/// DOCTYPE, comment, CDATA or processing instruction, no `script`,
/// `on…`, `style`, `href` or `src` names and no `javascript:`. Linear,
/// nesting at most 64.
fn plain_xml_document(v: &[u8]) -> bool {
    fn name(v: &[u8], i: &mut usize) -> Option<(usize, usize)> {
        let start = *i;
        while *i < v.len() && (v[*i].is_ascii_alphanumeric() || b"_.:-".contains(&v[*i])) {
            *i += 1;
        }
        (*i > start && v[start].is_ascii_alphabetic()).then_some((start, *i))
    }
    fn spaces(v: &[u8], i: &mut usize) {
        while *i < v.len() && v[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    let lower = v.to_ascii_lowercase();
    if memchr::memmem::find(&lower, b"javascript:").is_some()
        || memchr::memmem::find(&lower, b"script").is_some()
    {
        return false;
    }
    let mut i = 0;
    spaces(v, &mut i);
    if v[i..].starts_with(b"<?xml") {
        let Some(end) = memchr::memmem::find(&v[i..], b"?>") else {
            return false;
        };
        if end < 5 || v[i + 5..i + end].contains(&b'<') {
            return false;
        }
        i += end + 2;
    }
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut roots = 0;
    while i < v.len() {
        if v[i] != b'<' {
            if stack.is_empty() {
                if !v[i].is_ascii_whitespace() {
                    return false;
                }
                i += 1;
                continue;
            }
            i += 1;
            continue;
        }
        i += 1;
        let closing = v.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let Some(n) = name(v, &mut i) else {
            return false;
        };
        // elements a browser renders make it a page, not a document
        let tag = &lower[n.0..n.1];
        if is_html_element(tag) {
            return false;
        }
        if closing {
            spaces(v, &mut i);
            match stack.pop() {
                Some(open) if v[open.0..open.1] == v[n.0..n.1] && v.get(i) == Some(&b'>') => i += 1,
                _ => return false,
            }
            continue;
        }
        loop {
            spaces(v, &mut i);
            match v.get(i) {
                Some(b'>') => {
                    i += 1;
                    if stack.is_empty() {
                        roots += 1;
                    }
                    stack.push(n);
                    break;
                }
                Some(b'/') if v.get(i + 1) == Some(&b'>') => {
                    i += 2;
                    if stack.is_empty() {
                        roots += 1;
                    }
                    break;
                }
                Some(_) => {
                    let Some(a) = name(v, &mut i) else {
                        return false;
                    };
                    let attr = &lower[a.0..a.1];
                    if attr.starts_with(b"on")
                        || attr == b"style"
                        || attr == b"href"
                        || attr == b"src"
                    {
                        return false;
                    }
                    spaces(v, &mut i);
                    if v.get(i) != Some(&b'=') {
                        return false;
                    }
                    i += 1;
                    spaces(v, &mut i);
                    let Some(&q) = v.get(i).filter(|q| matches!(q, b'"' | b'\'')) else {
                        return false;
                    };
                    let Some(end) = v[i + 1..].iter().position(|b| *b == q) else {
                        return false;
                    };
                    if v[i + 1..i + 1 + end].contains(&b'<') {
                        return false;
                    }
                    i += end + 2;
                }
                None => return false,
            }
        }
        if stack.len() > 64 || roots > 1 {
            return false;
        }
    }
    stack.is_empty() && roots == 1
}

/// Element names of HTML, SVG and MathML that a browser renders or runs.
fn is_html_element(tag: &[u8]) -> bool {
    let tag = tag.rsplit(|b| *b == b':').next().unwrap_or(tag);
    matches!(
        tag,
        b"a" | b"abbr"
            | b"animate"
            | b"animatemotion"
            | b"animatetransform"
            | b"area"
            | b"audio"
            | b"b"
            | b"base"
            | b"basefont"
            | b"bgsound"
            | b"blink"
            | b"body"
            | b"br"
            | b"button"
            | b"canvas"
            | b"circle"
            | b"details"
            | b"dialog"
            | b"div"
            | b"ellipse"
            | b"embed"
            | b"font"
            | b"foreignobject"
            | b"form"
            | b"frame"
            | b"frameset"
            | b"g"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"head"
            | b"html"
            | b"i"
            | b"iframe"
            | b"image"
            | b"img"
            | b"input"
            | b"isindex"
            | b"keygen"
            | b"layer"
            | b"line"
            | b"link"
            | b"marquee"
            | b"math"
            | b"meta"
            | b"noscript"
            | b"object"
            | b"p"
            | b"path"
            | b"polygon"
            | b"rect"
            | b"script"
            | b"select"
            | b"set"
            | b"span"
            | b"style"
            | b"svg"
            | b"table"
            | b"td"
            | b"template"
            | b"textarea"
            | b"title"
            | b"tr"
            | b"use"
            | b"video"
            | b"xmp"
            | b"xss"
    )
}

/// `../dir/name.png`: one leading `..` segment, then plain path segments
/// ending in a static asset's extension.
fn static_asset_link(path: &[u8]) -> bool {
    let rest = path.strip_prefix(b"./").unwrap_or(path);
    let Some(rest) = rest.strip_prefix(b"../") else {
        return false;
    };
    let plain = rest
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'));
    let ext = rest.rsplit(|b| *b == b'.').next().unwrap_or(b"");
    plain
        && !rest.windows(2).any(|w| w == b"..")
        && rest.contains(&b'.')
        && matches!(
            ext,
            b"png"
                | b"jpg"
                | b"jpeg"
                | b"gif"
                | b"svg"
                | b"webp"
                | b"ico"
                | b"avif"
                | b"css"
                | b"js"
                | b"mjs"
                | b"map"
                | b"woff"
                | b"woff2"
                | b"ttf"
        )
}

/// Whether a class is settled for a value: a high-confidence finding of
/// it ends its later checks. A lower one does not, or a level that adds a
/// low-confidence rule would stop a high-confidence check from running
/// (level 3 and 4 seeing less than level 2).
fn settled(out: &Findings, class: Class) -> bool {
    out.iter()
        .any(|f| f.class == class && f.confidence == Confidence::High)
}

fn excerpt(view: &[u8], start: usize, end: usize) -> String {
    let from = start.saturating_sub(8);
    let to = end.min(from + 48).min(view.len());
    view[from..to]
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

/// Resolves Log4j-style nested lookups (`${lower:j}`, `${::-n}`,
/// `${env:X:-d}`) to the text they produce; bounded passes.
fn resolve_lookups(v: &[u8]) -> Vec<u8> {
    let mut cur = v.to_vec();
    for _ in 0..16 {
        let Some(open) = cur.windows(2).rposition(|w| w == b"${") else {
            break;
        };
        let Some(close_rel) = cur[open..].iter().position(|&b| b == b'}') else {
            break;
        };
        let close = open + close_rel;
        let inner = &cur[open + 2..close];
        let replacement: Vec<u8> = if let Some(pos) = inner.windows(2).position(|w| w == b":-") {
            inner[pos + 2..].to_vec()
        } else if let Some(rest) = inner
            .strip_prefix(b"lower:")
            .or_else(|| inner.strip_prefix(b"upper:"))
        {
            rest.to_vec()
        } else if inner.starts_with(b"jndi:") {
            // keep the lookup itself, marked so the outer pass stops here
            let mut k = b"\x01jndi:".to_vec();
            k.extend_from_slice(&inner[5..]);
            k
        } else if let Some(rest) = inner.strip_prefix(b"date:") {
            rest.iter().filter(|b| **b != b'\'').copied().collect()
        } else {
            // an unknown lookup resolves to nothing useful; drop its braces
            let mut k = b"\x01".to_vec();
            k.extend_from_slice(inner);
            k
        };
        let mut next = cur[..open].to_vec();
        next.extend_from_slice(&replacement);
        next.extend_from_slice(&cur[close + 1..]);
        cur = next;
    }
    cur
}

impl Detector {
    /// A detector at sensitivity `level` (1–4, like CRS paranoia levels:
    /// higher runs more rules and accepts more false positives; default 2).
    #[must_use]
    pub fn new(level: u8) -> Self {
        let level = level.clamp(1, 4);
        let compiled = Compiled::new(level);
        Self {
            level,
            special: special_table(),
            // Haystacks are mostly short form values: a DFA without a
            // prefilter answers them fastest (the prefilter pays off only on
            // long inputs; the DFA for ~80 short keywords is a few KiB).
            keywords: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .prefilter(false)
                .build(KEYWORDS)
                .expect("the keyword list builds"),
            decoded: compiled.group(&[View::Decoded], &[]),
            sql: compiled.group(&[View::Sql], &[]),
            path: compiled.group(&[View::Path], &[]),
            all: compiled.group(&[View::Decoded, View::Sql, View::Path], &[]),
            shell: compiled.group(&[View::Decoded], &[Class::Cmdi, Class::Traversal]),
            traversal_decoded: compiled.group(&[View::Decoded], &[Class::Traversal]),
            traversal_path: compiled.group(&[View::Path], &[Class::Traversal]),
            crlf: compiled.group(&[View::Decoded], &[Class::Crlf]),
            code: Check::ALL.map(|c| {
                RULES
                    .iter()
                    .find(|r| r.check() == Some(c) && r.level <= level)
            }),
            compiled,
        }
    }

    /// The sensitivity level.
    #[must_use]
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The row of a check written as code, when this level runs it on
    /// values from `source`.
    fn code_rule(&self, check: Check, source: SourceKind) -> Option<&'static Rule> {
        self.code[check as usize].filter(|r| r.reads(source))
    }

    /// Whether a raw value needs the full analysis.
    fn worth_inspecting(&self, raw: &[u8], special: bool) -> bool {
        special || self.keywords.is_match(raw) || leads_with_tool(raw)
    }

    /// Inspects one value from `source`.
    #[must_use]
    pub fn inspect(&self, raw: &[u8], source: SourceKind) -> Findings {
        let mut out = Findings::default();
        if raw.is_empty() {
            return out;
        }
        // File names are short and plain: the prefilter would skip them.
        let special = source == SourceKind::MultipartFilename
            || raw.iter().any(|&b| self.special[usize::from(b)]);
        // Too short to be an opaque token worth decoding (base64 of anything
        // dangerous is longer), and nothing to analyse. Long values are
        // first asked whether they are opaque, which is cheaper than the
        // keyword search.
        if raw.len() < 16 && !self.worth_inspecting(raw, special) {
            return out;
        }
        if is_opaque(raw) {
            // An opaque token is not code, unless it is base64 of something
            // that is (one level, no recursion).
            if let Some(decoded) = base64_text(raw) {
                let inner = self.inspect_plain(&decoded, source);
                out.extend(inner);
            }
            return out;
        }
        if raw.len() >= 16 && !self.worth_inspecting(raw, special) {
            return out;
        }
        // Values arrive form-decoded from the layer: `+` is already a space
        // where it was one, and a literal `+` now is an operator.
        let plus = false;
        let (decoded, evasions) = normalize(raw, plus);
        // Most values have neither comments nor whitespace runs, nor
        // backslashes or doubled slashes: their views are the decoded bytes.
        let sql = if needs_sql_fold(&decoded) {
            Cow::Owned(sql_fold(&decoded))
        } else {
            Cow::Borrowed(&decoded[..])
        };
        let path = if needs_path_view(&decoded) {
            Cow::Owned(path_view(&decoded))
        } else {
            Cow::Borrowed(&decoded[..])
        };
        if sql == decoded && path == decoded {
            self.run(&self.all, &decoded, source, &mut out);
        } else {
            self.run(&self.decoded, &decoded, source, &mut out);
            self.run(&self.sql, &sql, source, &mut out);
            self.run(&self.path, &path, source, &mut out);
        }

        // NUL bytes used as SQL whitespace (`select%00name%00from`): read the
        // SQL rules again with NUL as a space.
        if evasions.nul_byte {
            let spaced: Vec<u8> = raw.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
            let with_nul_as_space = if spaced.contains(&b'%') {
                let mut s = String::from_utf8_lossy(&spaced)
                    .replace("%00", " ")
                    .into_bytes();
                s.retain(|b| *b != 0);
                s
            } else {
                spaced
            };
            let (alt, _) = normalize(&with_nul_as_space, plus);
            let mut extra = Findings::default();
            self.run(&self.sql, &sql_fold(&alt), source, &mut extra);
            extra.retain(|f| !out.iter().any(|o| o.rule == f.rule));
            out.extend(extra);
        }
        // Shell quoting used to hide words (`c'a't /et"c"/pa\ss\wd`): the
        // command and file rules read the value with the quotes removed.
        if decoded
            .iter()
            .any(|b| matches!(b, b'\'' | b'"' | b'\\' | b'`' | b'$'))
        {
            let shell = shell_unquote(&decoded);
            if shell != decoded {
                let mut extra = Findings::default();
                self.run(&self.shell, &shell, source, &mut extra);
                self.run(&self.traversal_path, &path_view(&shell), source, &mut extra);
                extra.retain(|f| !out.iter().any(|o| o.rule == f.rule));
                out.extend(extra);
            }
        }
        // Windows paths lose letters to escape decoding (`\ntuser.dat`
        // becomes a newline and `tuser.dat`): the path rules also read the
        // value as sent.
        if raw.contains(&b'\\') && !settled(&out, Class::Traversal) {
            let sent = path_view(&raw.to_ascii_lowercase());
            let mut extra = Findings::default();
            self.run(&self.traversal_decoded, &sent, source, &mut extra);
            self.run(&self.traversal_path, &sent, source, &mut extra);
            out.extend(extra);
        }
        // Log4Shell with nested lookups.
        if let Some(rule) = self.code_rule(Check::NestedLookup, source)
            && decoded.windows(2).any(|w| w == b"${")
            && !settled(&out, Class::Jndi)
        {
            let resolved = resolve_lookups(&decoded);
            if resolved.windows(6).any(|w| w == b"\x01jndi:")
                || resolved.windows(7).any(|w| w == b"${jndi:")
            {
                out.0.push(rule.finding(&decoded));
            }
        }
        // SQL: a quoted literal closed and continued as valid SQL, for the
        // operator soups no pattern enumerates.
        if let Some(rule) = self.code_rule(Check::QuoteBreakout, source)
            && !settled(&out, Class::Sqli)
            && sqltok::quote_breakout(&decoded)
        {
            out.0.push(rule.finding(&decoded));
        }
        // SSRF: URLs to internal hosts or with dangerous schemes.
        let internal = self.code_rule(Check::InternalHost, source);
        let scheme = self.code_rule(Check::DangerousScheme, source);
        if internal.is_some() || scheme.is_some() {
            let as_text = String::from_utf8_lossy(&decoded);
            let hit = if matches!(source, SourceKind::QueryValue | SourceKind::FormValue)
                && ssrf::bare_internal_host(&as_text)
            {
                Some(ssrf::SsrfHit::InternalHost)
            } else if decoded.contains(&b':') {
                ssrf::check(&as_text, source.is_text()).or_else(|| {
                    // Backslash-interleaved hosts lose letters to escape
                    // decoding (`\\t` becomes a tab): judge them as sent too.
                    raw.windows(4).any(|w| w == b"://\\").then(|| {
                        let sent = String::from_utf8_lossy(raw).to_ascii_lowercase();
                        ssrf::check(&sent, source.is_text())
                    })?
                })
            } else {
                None
            };
            let rule = match hit {
                Some(ssrf::SsrfHit::InternalHost) => internal,
                Some(ssrf::SsrfHit::DangerousScheme) => scheme,
                None => None,
            };
            if let Some(rule) = rule {
                out.0.push(rule.finding(&decoded));
            }
        }
        // Markup hidden behind entities or escapes in a parameter is an
        // evasion: nobody encodes `<` that way by accident.
        if evasions.encoded_angle
            && let Some(rule) = self.code_rule(Check::EncodedMarkup, source)
            && !settled(&out, Class::Xss)
        {
            out.0.push(rule.finding(&decoded));
        }
        // A script scheme whose letters were split by tabs or newlines (which
        // URL parsers drop) or hidden behind escapes: `ja&tab;vascript:`.
        if let Some(rule) = self.code_rule(Check::HiddenScheme, source)
            && decoded.contains(&b':')
            && !settled(&out, Class::Xss)
            && raw
                .iter()
                .any(|b| matches!(b, b'&' | b'%' | b'\\' | b'\t' | b'\n' | b'\r'))
            && hidden_script_scheme(raw, &decoded)
        {
            out.0.push(rule.finding(&decoded));
        }
        // A value that is a whole, plain XML document (an order, a feed
        // item) opens in no attribute: its `"><` closes a tag and breaks out
        // of nothing, and its declaration is its first line. Markup that
        // runs script is still found by the other rules.
        if out
            .iter()
            .any(|f| matches!(f.rule, "xss-attribute-breakout" | "xss-markup-declaration"))
            && plain_xml_document(&decoded)
        {
            out.0
                .retain(|f| !matches!(f.rule, "xss-attribute-breakout" | "xss-markup-declaration"));
        }
        // One `../` to a static asset (`../images/logo.png`, a relative
        // link as pages and templates carry them) is a suspicion, not an
        // attack: nothing else of the value climbs or names a file.
        if out.iter().any(|f| f.rule == "traversal-leading") && static_asset_link(&path) {
            for f in &mut out.0 {
                if f.rule == "traversal-leading" {
                    f.confidence = Confidence::Medium;
                }
            }
        }
        // Characters cut to their low byte on the way to a header or a log
        // (`嘊嘍` is `\n\r` then): read as such, the CRLF rules decide.
        if let Some(rule) = self.code_rule(Check::UnicodeCrlf, source)
            && !settled(&out, Class::Crlf)
            // what follows a break needs `:` (a header), `=` (a parameter),
            // `<` (a body) or `/` (a request line)
            && decoded.iter().any(|b| matches!(b, b':' | b'=' | b'<' | b'/'))
            && let Some(cut) = low_byte_breaks(&decoded)
        {
            let mut extra = Findings::default();
            self.run(&self.crlf, &cut, source, &mut extra);
            if !extra.is_empty() {
                out.0.push(rule.finding(&cut));
            }
        }
        // Evasion evidence upgrades a traversal suspicion.
        if evasions.overlong_utf8
            || evasions.percent_u
            || (evasions.nul_byte && decoded.contains(&b'.'))
        {
            let suspicious = out.iter().any(|f| f.class == Class::Traversal)
                || path.windows(3).any(|w| w == b"../");
            if suspicious || evasions.nul_byte {
                for f in &mut out.0 {
                    if f.class == Class::Traversal {
                        f.confidence = Confidence::High;
                    }
                }
                if let Some(rule) = self.code_rule(Check::EncodingEvasion, source)
                    && !out
                        .iter()
                        .any(|f| f.class == Class::Traversal && f.confidence == Confidence::High)
                {
                    out.0.push(rule.finding(&decoded));
                }
            }
        }
        out
    }

    fn inspect_plain(&self, raw: &[u8], source: SourceKind) -> Findings {
        let special = raw.iter().any(|&b| self.special[usize::from(b)]);
        if raw.is_empty() || is_opaque(raw) || !self.worth_inspecting(raw, special) {
            return Findings::default();
        }
        let (decoded, _) = normalize(raw, false);
        let mut out = Findings::default();
        self.run(&self.decoded, &decoded, source, &mut out);
        self.run(&self.sql, &sql_fold(&decoded), source, &mut out);
        self.run(&self.path, &path_view(&decoded), source, &mut out);
        out
    }

    fn run(&self, group: &engine::Group, v: &[u8], source: SourceKind, out: &mut Findings) {
        let rules = &self.compiled.rules;
        let mut found = Vec::new();
        self.compiled.patterns.search(
            group,
            v,
            |m| rules[m].scope.applies(source) && !out.iter().any(|f| f.rule == rules[m].id),
            &mut found,
        );
        // report in rule-table order, as the table reads
        found.sort_unstable_by_key(|&(m, _, _)| m);
        for (m, s, e) in found {
            let rule = rules[m];
            out.0.push(Finding {
                class: rule.class,
                rule: rule.id,
                severity: rule.severity,
                confidence: rule.confidence,
                excerpt: excerpt(v, s, e),
            });
        }
    }
}

/// Standard or URL-safe base64 (padded to quads) that decodes to printable
/// ASCII text.
fn base64_text(v: &[u8]) -> Option<Vec<u8>> {
    if v.len() < 16 || !v.len().is_multiple_of(4) {
        return None;
    }
    // UUIDs and hex digests are in the base64 alphabet too, but they are
    // what they look like; their base64 reading is noise.
    if v.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-') {
        return None;
    }
    let val = |b: u8| -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => u32::from(b - b'A'),
            b'a'..=b'z' => u32::from(b - b'a' + 26),
            b'0'..=b'9' => u32::from(b - b'0' + 52),
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    };
    let body = v
        .strip_suffix(b"==")
        .or_else(|| v.strip_suffix(b"="))
        .unwrap_or(v);
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in body {
        acc = (acc << 6) | val(b)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    let printable = out
        .iter()
        .filter(|b| (0x20..0x7f).contains(*b) || b.is_ascii_whitespace())
        .count();
    (printable * 10 >= out.len() * 9).then_some(out)
}

/// Shell quoting removed: `'`, `"`, `\\`, backticks, and the empty
/// expansions `$@`, `$*`, `${}`, `$()`.
fn shell_unquote(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\'' | b'"' | b'\\' | b'`' => i += 1,
            b'$' if matches!(v.get(i + 1), Some(b'@' | b'*')) => i += 2,
            b'$' if v.get(i + 1..i + 3) == Some(b"{}") || v.get(i + 1..i + 3) == Some(b"()") => {
                i += 3
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The path view: `\` as `/`, runs of `/` collapsed.
/// Whether the decoded value, without whitespace, names a script scheme that
/// the value as sent does not spell out.
fn hidden_script_scheme(raw: &[u8], decoded: &[u8]) -> bool {
    // The scheme ends in `script:` once whitespace is gone: without a
    // `t:` (maybe split by whitespace) nothing below can be true.
    let colon_after_t = memchr::memchr_iter(b':', decoded).any(|i| {
        decoded[..i]
            .iter()
            .rev()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b't')
    });
    if !colon_after_t {
        return false;
    }
    let squeezed: Vec<u8> = decoded
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let has = |v: &[u8], s: &[u8]| v.windows(s.len()).any(|w| w.eq_ignore_ascii_case(s));
    [&b"javascript:"[..], b"vbscript:"]
        .iter()
        .any(|s| has(&squeezed, s) && !has(raw, s))
}

/// Whether [`sql_fold`] could change `v`: a comment marker or whitespace
/// other than single spaces.
fn needs_sql_fold(v: &[u8]) -> bool {
    let mut prev_space = false;
    for w in v.windows(2) {
        if (w[0] == b'/' && w[1] == b'*') || (w[0] == b'*' && w[1] == b'/') {
            return true;
        }
    }
    for &b in v {
        let space = b == b' ';
        if (space && prev_space) || (b.is_ascii_whitespace() && !space) || b == 0xa0 {
            return true;
        }
        prev_space = space;
    }
    false
}

/// Whether [`path_view`] could change `v`: a backslash, or a doubled slash
/// that is not a scheme's `://`.
fn needs_path_view(v: &[u8]) -> bool {
    v.contains(&b'\\')
        || v.starts_with(b"//")
        || v.windows(3)
            .any(|w| w[1] == b'/' && w[2] == b'/' && w[0] != b':')
}

fn path_view(v: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(v.len());
    for &b in v {
        let b = if b == b'\\' { b'/' } else { b };
        // keep the `//` of `scheme://`
        if b == b'/' && out.last() == Some(&b'/') && !out.ends_with(b":/") {
            continue;
        }
        out.push(b);
    }
    out
}

/// The rule table: every built-in rule, patterns and checks written as
/// code alike, with its examples (for documentation, exclusions and tests).
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    RULES.iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values built from each rule's own words and bytes (its keywords,
    /// punctuation, spaces, digits), so that partial and full matches are
    /// common.
    fn soup(pattern: &str, seed: &mut u64, n: usize) -> Vec<Vec<u8>> {
        let mut tokens: Vec<Vec<u8>> = pattern
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-')
            .filter(|w| !w.is_empty() && w.len() > 1)
            .map(|w| w.as_bytes().to_vec())
            .collect();
        for b in pattern.bytes().filter(u8::is_ascii_graphic) {
            tokens.push(vec![b]);
        }
        for t in [
            " ", " ", "  ", "\n", "1", "0", "42", "=", "'", "\"", "x", "/", "..",
        ] {
            tokens.push(t.as_bytes().to_vec());
        }
        tokens.sort();
        tokens.dedup();
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        (0..n)
            .map(|_| {
                let count = (next() % 10) as usize;
                let mut v = Vec::new();
                for _ in 0..count {
                    v.extend_from_slice(&tokens[(next() % tokens.len() as u64) as usize]);
                }
                v
            })
            .collect()
    }

    /// The engine answers exactly what the pattern does, rule by rule, in
    /// the groups the detector uses: no anchor, gate or scan decision may
    /// mute a rule.
    #[test]
    fn every_source_kind_is_listed_once() {
        // exhaustive: a new kind fails to compile here until it is listed
        let index = |k: SourceKind| match k {
            SourceKind::Path => 0,
            SourceKind::QueryName => 1,
            SourceKind::QueryValue => 2,
            SourceKind::Header => 3,
            SourceKind::Cookie => 4,
            SourceKind::JsonKey => 5,
            SourceKind::JsonValue => 6,
            SourceKind::FormName => 7,
            SourceKind::FormValue => 8,
            SourceKind::Xml => 9,
            SourceKind::MultipartFilename => 10,
            SourceKind::MultipartField => 11,
        };
        for (i, k) in SourceKind::ALL.into_iter().enumerate() {
            assert_eq!(index(k), i);
        }
    }

    #[test]
    fn checks_are_indexed_in_declaration_order() {
        for (i, c) in Check::ALL.into_iter().enumerate() {
            assert_eq!(c as usize, i, "{c:?}");
        }
        let d = Detector::new(4);
        for c in Check::ALL {
            assert_eq!(d.code[c as usize].and_then(Rule::check), Some(c));
        }
    }

    #[test]
    fn engine_agrees_with_the_patterns() {
        let compiled = Compiled::new(4);
        let all = compiled.group(&[View::Decoded, View::Sql, View::Path], &[]);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut matched_rules = 0;
        for (i, rule) in compiled.rules.iter().enumerate() {
            let mut matched = false;
            let pattern = rule.pattern().expect("a compiled rule has a pattern");
            let re = regex::bytes::RegexBuilder::new(&format!("(?-u){pattern}"))
                .unicode(false)
                .size_limit(64 << 20)
                .build()
                .expect("the rule compiles");
            for v in soup(pattern, &mut seed, 4_000) {
                let mut found = Vec::new();
                compiled.patterns.search(&all, &v, |m| m == i, &mut found);
                let want = re.is_match(&v);
                matched |= want;
                assert_eq!(
                    !found.is_empty(),
                    want,
                    "{} on {:?}",
                    rule.id,
                    String::from_utf8_lossy(&v)
                );
            }
            matched_rules += usize::from(matched);
        }
        // the soup reaches into the rules, or the test proves nothing
        assert!(
            matched_rules * 5 > compiled.rules.len() * 2,
            "{matched_rules}"
        );
    }
}
