//! The SQL guard: a tokenizer per dialect, and the question whether an
//! input stays inside one token.
//!
//! Written by hand: the guard needs byte spans of every token, content
//! spans of quoted ones, and a tokenizer that never fails (an unterminated
//! literal runs to the end). `sqlparser`'s tokenizer gives line and column
//! locations and refuses unterminated input, and `rasp-detect`'s tokenizer
//! reads value fragments, not statements, and stops after 64 tokens.

use crate::{Injection, Sink, first_injection};

/// The SQL dialect a statement is written in: it decides quoting,
/// escapes and comments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL: `'…'` with `''`, `E'…'` with backslash escapes,
    /// dollar quoting (`$tag$…$tag$`), `"identifiers"`, nested `/* */`.
    PostgreSql,
    /// MySQL and MariaDB: `'…'` and `"…"` strings with backslash escapes,
    /// `` `identifiers` ``, `#` and `-- ` comments.
    MySql,
    /// SQLite: `'…'`, `"…"`, `` `…` `` and `[…]` identifiers.
    Sqlite,
    /// Any other: standard quoting, `"…"` and `[…]` identifiers, no
    /// backslash escapes.
    #[default]
    Generic,
}

impl Dialect {
    /// The dialect a name gives (`postgresql`, `postgres`, `mysql`,
    /// `mariadb`, `sqlite`, `generic`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" | "pg" => Self::PostgreSql,
            "mysql" | "mariadb" => Self::MySql,
            "sqlite" | "sqlite3" => Self::Sqlite,
            "generic" | "" => Self::Generic,
            _ => return None,
        })
    }
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A keyword or an unquoted identifier.
    Word,
    Number,
    /// A string literal; its content lies between `open` and `close`.
    Str,
    /// A quoted identifier; its content lies between `open` and `close`.
    Ident,
    Comment,
    /// `;`
    Break,
    /// Operators and punctuation (`=`, `||`, `,`, `(`…).
    Op,
    /// A bound parameter (`?`, `$1`, `:name`, `@name`).
    Param,
    Space,
}

/// One token: its kind, its bytes `start..end`, and for quoted tokens
/// where their content lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Content of a quoted token (inside its delimiters; to the end of the
    /// statement when it is not closed).
    pub(crate) inner: (usize, usize),
}

/// The tokens of `s` in `dialect`. Linear; never fails: an unterminated
/// string or comment runs to the end.
pub(crate) fn tokenize(s: &[u8], dialect: Dialect) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = s.len();
    let at = |j: usize| s.get(j).copied().unwrap_or(0);
    while i < n {
        let start = i;
        let c = s[i];
        let tok = |kind, end, inner| Token {
            kind,
            start,
            end,
            inner,
        };
        let t = if c.is_ascii_whitespace() {
            while i < n && s[i].is_ascii_whitespace() {
                i += 1;
            }
            tok(Kind::Space, i, (i, i))
        } else if c == b'-' && at(i + 1) == b'-' {
            i = line_end(s, i);
            tok(Kind::Comment, i, (start + 2, i))
        } else if c == b'#' && dialect == Dialect::MySql {
            i = line_end(s, i);
            tok(Kind::Comment, i, (start + 1, i))
        } else if c == b'/' && at(i + 1) == b'*' {
            i = block_comment_end(s, i, dialect == Dialect::PostgreSql);
            tok(
                Kind::Comment,
                i,
                (start + 2, i.saturating_sub(2).max(start + 2)),
            )
        } else if c == b'\'' {
            let escapes = dialect == Dialect::MySql;
            let (end, close) = quoted(s, i, b'\'', escapes);
            i = end;
            tok(Kind::Str, end, (start + 1, close))
        } else if (c == b'e' || c == b'E') && at(i + 1) == b'\'' && dialect == Dialect::PostgreSql {
            let (end, close) = quoted(s, i + 1, b'\'', true);
            i = end;
            tok(Kind::Str, end, (start + 2, close))
        } else if c == b'"' {
            let (end, close) = quoted(s, i, b'"', dialect == Dialect::MySql);
            i = end;
            let kind = if dialect == Dialect::MySql {
                Kind::Str
            } else {
                Kind::Ident
            };
            tok(kind, end, (start + 1, close))
        } else if c == b'`' && matches!(dialect, Dialect::MySql | Dialect::Sqlite) {
            let (end, close) = quoted(s, i, b'`', false);
            i = end;
            tok(Kind::Ident, end, (start + 1, close))
        } else if c == b'[' && matches!(dialect, Dialect::Sqlite | Dialect::Generic) {
            let close = memchr::memchr(b']', &s[i + 1..]).map_or(n, |p| i + 1 + p);
            i = (close + 1).min(n);
            tok(Kind::Ident, i, (start + 1, close))
        } else if c == b'$'
            && dialect == Dialect::PostgreSql
            && let Some(t) = dollar(s, i)
        {
            i = t.end;
            t
        } else if c == b';' {
            i += 1;
            tok(Kind::Break, i, (i, i))
        } else if c.is_ascii_digit() || (c == b'.' && at(i + 1).is_ascii_digit()) {
            i = number_end(s, i);
            tok(Kind::Number, i, (i, i))
        } else if c == b'?' || ((c == b'$' || c == b':' || c == b'@') && is_word(at(i + 1))) {
            i += 1;
            while i < n && is_word(s[i]) {
                i += 1;
            }
            tok(Kind::Param, i, (i, i))
        } else if is_word(c) || c >= 0x80 {
            while i < n && (is_word(s[i]) || s[i] >= 0x80 || s[i] == b'$') {
                i += 1;
            }
            tok(Kind::Word, i, (i, i))
        } else {
            // operators: the longest of `||`, `<=`, `>=`, `<>`, `!=`, `::`,
            // `->>`, `->`, `&&`, `<<`, `>>`; else one byte
            let two = [c, at(i + 1)];
            let len = if &two == b"->" && at(i + 2) == b'>' {
                3
            } else if matches!(
                &two,
                b"||" | b"<=" | b">=" | b"<>" | b"!=" | b"::" | b"->" | b"&&" | b"<<" | b">>"
            ) {
                2
            } else {
                1
            };
            i += len;
            tok(Kind::Op, i, (i, i))
        };
        out.push(t);
    }
    out
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn line_end(s: &[u8], i: usize) -> usize {
    memchr::memchr(b'\n', &s[i..]).map_or(s.len(), |p| i + p)
}

/// The end of a block comment opened at `i` (PostgreSQL nests them).
fn block_comment_end(s: &[u8], i: usize, nested: bool) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while j + 1 < s.len() {
        if s[j] == b'/' && s[j + 1] == b'*' {
            depth += 1;
            j += 2;
            if !nested && depth > 1 {
                depth = 1;
            }
        } else if s[j] == b'*' && s[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    s.len()
}

/// A quoted token opened by `q` at `i`: its end, and where its content
/// ends (before the closing quote). A doubled quote is part of the
/// content; with `escapes`, so is a backslash and the byte after it.
fn quoted(s: &[u8], i: usize, q: u8, escapes: bool) -> (usize, usize) {
    let mut j = i + 1;
    while j < s.len() {
        let c = s[j];
        if escapes && c == b'\\' {
            j += 2;
        } else if c == q {
            if s.get(j + 1) == Some(&q) {
                j += 2;
            } else {
                return (j + 1, j);
            }
        } else {
            j += 1;
        }
    }
    (s.len(), s.len())
}

/// A dollar-quoted string at `i` (`$$…$$`, `$tag$…$tag$`), if it is one.
fn dollar(s: &[u8], i: usize) -> Option<Token> {
    let tag_end = i + 1 + s[i + 1..].iter().position(|b| !is_word(*b))?;
    if s[tag_end] != b'$' || s.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let tag = &s[i..=tag_end];
    let body = tag_end + 1;
    let close = memchr::memmem::find(&s[body..], tag).map_or(s.len(), |p| body + p);
    let end = (close + tag.len()).min(s.len());
    Some(Token {
        kind: Kind::Str,
        start: i,
        end,
        inner: (body, close),
    })
}

fn number_end(s: &[u8], mut i: usize) -> usize {
    if s[i] == b'0' && matches!(s.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        while i < s.len() && s[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < s.len() && (s[i].is_ascii_digit() || s[i] == b'.' || s[i] == b'_') {
        i += 1;
    }
    if i < s.len() && matches!(s[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < s.len() && matches!(s[j], b'+' | b'-') {
            j += 1;
        }
        if j < s.len() && s[j].is_ascii_digit() {
            i = j;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// Whether the input at `s..e` changed the statement's structure, and why.
fn judge(tokens: &[Token], s: usize, e: usize) -> Option<&'static str> {
    let touched: Vec<&Token> = tokens
        .iter()
        .filter(|t| t.kind != Kind::Space && t.start < e && s < t.end)
        .collect();
    match touched.as_slice() {
        [] => None,
        [t] => match t.kind {
            // inside one literal or identifier, its delimiters untouched
            Kind::Str | Kind::Ident if s >= t.inner.0 && e <= t.inner.1 => None,
            Kind::Str | Kind::Ident => Some("closes a quoted literal"),
            Kind::Comment if s >= t.inner.0 => None,
            Kind::Comment => Some("opens a comment"),
            Kind::Break => Some("breaks the statement"),
            Kind::Word | Kind::Number | Kind::Param | Kind::Op | Kind::Space => None,
        },
        // a signed number: `-5`
        [a, b]
            if a.kind == Kind::Op
                && b.kind == Kind::Number
                && a.end == b.start
                && s >= a.start
                && matches!(a.end - a.start, 1) =>
        {
            None
        }
        many => Some(if many.iter().any(|t| t.kind == Kind::Comment) {
            "adds a comment"
        } else if many.iter().any(|t| t.kind == Kind::Break) {
            "adds a statement"
        } else if many
            .iter()
            .any(|t| matches!(t.kind, Kind::Str | Kind::Ident))
        {
            "breaks out of a quoted literal"
        } else {
            "spans several SQL tokens"
        }),
    }
}

/// Checks a SQL statement about to run against the request's inputs:
/// `Err` names the first input that spans more than one token, closes a
/// quoted literal, opens a comment or breaks the statement. A statement
/// the tokenizer cannot fully read (an unterminated string) is no attack
/// by itself.
///
/// # Errors
///
/// The injection found.
pub fn sql(statement: &str, dialect: Dialect, inputs: &[&str]) -> Result<(), Injection> {
    if inputs.iter().all(|i| i.len() < crate::MIN_INPUT) {
        return Ok(());
    }
    let bytes = statement.as_bytes();
    let tokens = tokenize(bytes, dialect);
    first_injection(Sink::Sql, bytes, inputs, |s, e| judge(&tokens, s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str, d: Dialect) -> Vec<Kind> {
        tokenize(s.as_bytes(), d)
            .into_iter()
            .map(|t| t.kind)
            .filter(|k| *k != Kind::Space)
            .collect()
    }

    #[test]
    fn quoting_follows_the_dialect() {
        use Kind::*;
        assert_eq!(kinds("a = 'it''s'", Dialect::Generic), [Word, Op, Str]);
        assert_eq!(kinds(r"a = 'it\'s'", Dialect::MySql), [Word, Op, Str]);
        assert_eq!(
            kinds(r"a = 'it\'s'", Dialect::PostgreSql),
            [Word, Op, Str, Word, Str]
        );
        assert_eq!(kinds(r"a = E'it\'s'", Dialect::PostgreSql), [Word, Op, Str]);
        assert_eq!(
            kinds("a = $x$ it's $x$", Dialect::PostgreSql),
            [Word, Op, Str]
        );
        assert_eq!(kinds("a # c", Dialect::MySql), [Word, Comment]);
        assert_eq!(
            kinds("/* a /* b */ c */ d", Dialect::PostgreSql),
            [Comment, Word]
        );
        assert_eq!(kinds("[a b] = `c`", Dialect::Sqlite), [Ident, Op, Ident]);
        assert_eq!(
            kinds("a = ? AND b = $1 AND c = :c", Dialect::Generic),
            [
                Word, Op, Param, Word, Word, Op, Param, Word, Word, Op, Param
            ]
        );
    }

    #[test]
    fn unterminated_tokens_run_to_the_end() {
        for d in [
            Dialect::PostgreSql,
            Dialect::MySql,
            Dialect::Sqlite,
            Dialect::Generic,
        ] {
            for s in [
                "'abc", "\"abc", "/* abc", "$$ abc", "E'", "[abc", "`abc", "0x", "1e", "'\\",
            ] {
                let t = tokenize(s.as_bytes(), d);
                assert_eq!(t.last().map(|t| t.end), Some(s.len()), "{s:?} {d:?}");
            }
        }
    }
}
