//! A SQL tokenizer for one question: placed inside a quoted SQL literal,
//! does the value close the literal and continue as SQL that the database
//! would accept?
//!
//! The value is read as the application would splice it: `'…<value>…'`
//! (and the same with `"`). Everything before the first unescaped quote is
//! the literal; the rest is tokenized. A breakout counts when
//!
//! - the first token after the quote continues an expression (a logical or
//!   comparison operator, `UNION`, a clause such as `ORDER BY`, `)`, `;`
//!   or a comment), and
//! - the value ends where the query stays valid: in a comment, or inside a
//!   new literal of the same quote that the application's closing quote
//!   completes, right after an operator (`' or 'a'='a`), and
//! - no two operands stand side by side (`' 10" tall`), which no SQL
//!   grammar accepts.
//!
//! Prose with apostrophes (`O'Neil and Sons`, `rock 'n' roll`) continues
//! with a name, not an operator, and stops there. Patterns in the rule
//! table catch the common shapes; this catches operator soups they cannot
//! enumerate (`' =+ '`, `'is\N-!'`, `aa1' * @a or '1 '/1 regexp '0`).
//!
//! Written by hand because no maintained crate tokenizes SQL fragments
//! leniently across dialects (parsers such as `sqlparser` reject the
//! fragment before they could say how it ends). Linear in the input, with
//! at most [`MAX_TOKENS`] tokens looked at.

const MAX_TOKENS: usize = 64;

/// Up to [`MAX_TOKENS`] tokens, on the stack: most values have a handful.
struct Tokens {
    toks: [Tok; MAX_TOKENS],
    len: usize,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            toks: [Tok::Comma; MAX_TOKENS],
            len: 0,
        }
    }
}

impl Tokens {
    fn push(&mut self, t: Tok) {
        if let Some(slot) = self.toks.get_mut(self.len) {
            *slot = t;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[Tok] {
        &self.toks[..self.len]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    /// A string literal; `open` when the value ends inside it.
    Str {
        quote: u8,
        open: bool,
    },
    Num,
    Name,
    /// `NULL`, `TRUE`, `FALSE`, MySQL's `\N`.
    Literal,
    /// `@x`, `@@version`.
    Var,
    /// A name followed by `(`.
    Func,
    /// `AND`, `OR`, `XOR`, `NOT`; `&&`, `||` (`symbol`).
    Logic {
        symbol: bool,
    },
    /// Comparisons: `=`, `<>`, `!=`, `<=>`… (`symbol`) and `LIKE`, `IS`,
    /// `IN`, `BETWEEN`, `REGEXP`, `SOUNDS`.
    Cmp {
        symbol: bool,
    },
    /// Other operators: `+`, `*`, `/`, `~`, `-!`…, `DIV`, `MOD`.
    Op,
    Union,
    /// `ORDER`, `GROUP`, `HAVING`, `LIMIT`, `INTO`, `PROCEDURE`, `COLLATE`.
    Clause,
    /// `SELECT`, `INSERT`, `DROP`… (only valid after `;`, `(` or `UNION`).
    Statement,
    /// Other keywords that stand between operands: `FROM`, `AS`, `BY`,
    /// `WHEN`, `THEN`, `ALL`…
    Keyword,
    LParen,
    RParen,
    Comma,
    Semi,
    Comment,
}

impl Tok {
    fn is_operand(self) -> bool {
        matches!(
            self,
            Tok::Str { open: false, .. } | Tok::Num | Tok::Name | Tok::Literal | Tok::Var
        )
    }

    /// Tokens that can follow a closed literal.
    fn continues(self) -> bool {
        matches!(
            self,
            Tok::Logic { .. }
                | Tok::Cmp { .. }
                | Tok::Op
                | Tok::Union
                | Tok::Clause
                | Tok::RParen
                | Tok::Semi
                | Tok::Comment
        )
    }

    /// Tokens after which an operand is expected.
    fn wants_operand(self) -> bool {
        matches!(
            self,
            Tok::Op
                | Tok::Logic { .. }
                | Tok::Cmp { .. }
                | Tok::LParen
                | Tok::Comma
                | Tok::Union
                | Tok::Statement
                | Tok::Keyword
                | Tok::Clause
        )
    }
}

fn word_kind(w: &[u8]) -> Tok {
    match w {
        b"and" | b"or" | b"xor" | b"not" | b"eqv" | b"imp" => Tok::Logic { symbol: false },
        b"like" | b"rlike" | b"regexp" | b"is" | b"in" | b"between" | b"sounds" => {
            Tok::Cmp { symbol: false }
        }
        b"div" | b"mod" | b"escape" | b"binary" => Tok::Op,
        b"null" | b"true" | b"false" => Tok::Literal,
        b"union" | b"except" | b"intersect" => Tok::Union,
        b"order" | b"group" | b"having" | b"limit" | b"into" | b"procedure" | b"collate"
        | b"offset" | b"where" => Tok::Clause,
        b"select" | b"insert" | b"update" | b"delete" | b"drop" | b"exec" | b"execute"
        | b"declare" | b"create" | b"alter" | b"waitfor" | b"shutdown" | b"truncate" => {
            Tok::Statement
        }
        b"from" | b"as" | b"by" | b"on" | b"join" | b"set" | b"values" | b"table" | b"top"
        | b"case" | b"when" | b"then" | b"else" | b"end" | b"asc" | b"desc" | b"exists"
        | b"all" | b"distinct" | b"distinctrow" | b"using" | b"delay" | b"any" | b"some" => {
            Tok::Keyword
        }
        _ => Tok::Name,
    }
}

/// Index of the first `quote` that is not escaped by a backslash or by
/// doubling.
fn first_quote(v: &[u8], quote: u8) -> Option<usize> {
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\\' => i += 2,
            b if b == quote => {
                if v.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Tokens of `v`, or `None` where a byte no SQL dialect reads as code
/// shows that this is not SQL.
fn tokens(v: &[u8]) -> Option<Tokens> {
    let mut out = Tokens::default();
    let mut i = 0;
    while i < v.len() && out.len < MAX_TOKENS {
        if out.len == 1 && !out.toks[0].continues() {
            // prose after an apostrophe: nothing more to read
            return None;
        }
        let b = v[i];
        let next = v.get(i + 1).copied();
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => i += 1,
            // `--infant`, `#2`: prose, not a comment (MySQL wants a space
            // after `--`, and a comment that opens on a digit or letter
            // after `#` is how people write numbers)
            b'-' if next == Some(b'-')
                && v.get(i + 2).is_some_and(|c| c.is_ascii_alphanumeric()) =>
            {
                return None;
            }
            b'#' if next.is_some_and(|c| c.is_ascii_alphanumeric()) => return None,
            b'-' if next == Some(b'-') => {
                out.push(Tok::Comment);
                i = v[i..]
                    .iter()
                    .position(|c| *c == b'\n')
                    .map_or(v.len(), |p| i + p);
            }
            b'#' => {
                out.push(Tok::Comment);
                i = v[i..]
                    .iter()
                    .position(|c| *c == b'\n')
                    .map_or(v.len(), |p| i + p);
            }
            b'/' if next == Some(b'*') => {
                if v.get(i + 2) == Some(&b'!') {
                    // MySQL runs the content of a versioned comment.
                    i += 3;
                    while i < v.len() && v[i].is_ascii_digit() {
                        i += 1;
                    }
                    continue;
                }
                out.push(Tok::Comment);
                i = v[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(v.len(), |p| i + 2 + p + 2);
            }
            b'*' if next == Some(b'/') => i += 2,
            b'\'' | b'"' => {
                let mut j = i + 1;
                let mut open = true;
                while j < v.len() {
                    if v[j] == b'\\' {
                        j += 2;
                    } else if v[j] == b {
                        if v.get(j + 1) == Some(&b) {
                            j += 2;
                        } else {
                            open = false;
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                out.push(Tok::Str { quote: b, open });
                i = j + 1;
            }
            b'`' => {
                let end = v[i + 1..].iter().position(|c| *c == b'`');
                out.push(Tok::Name);
                i = end.map_or(v.len(), |p| i + 1 + p + 1);
            }
            b'\\' if matches!(next, Some(b'n' | b'N')) => {
                out.push(Tok::Literal);
                i += 2;
            }
            b'0'..=b'9' | b'.' if b != b'.' || next.is_some_and(|c| c.is_ascii_digit()) => {
                let start = i;
                let digits = |i: &mut usize| {
                    while *i < v.len() && v[*i].is_ascii_digit() {
                        *i += 1;
                    }
                };
                if b == b'0' && matches!(next, Some(b'x' | b'b')) {
                    i += 2;
                    while i < v.len() && v[i].is_ascii_hexdigit() {
                        i += 1;
                    }
                } else {
                    digits(&mut i);
                    if v.get(i) == Some(&b'.') {
                        i += 1;
                        digits(&mut i);
                    }
                    if v.get(i) == Some(&b'e')
                        && v.get(i + 1)
                            .is_some_and(|c| c.is_ascii_digit() || *c == b'-')
                    {
                        i += 2;
                        digits(&mut i);
                    }
                }
                // `70s`, `3rd` are words; `1e1and` (a number glued to a
                // keyword) is MySQL's number then keyword.
                let glued = v
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
                if glued && v[start..i].iter().all(u8::is_ascii_digit) {
                    while i < v.len() && (v[i].is_ascii_alphanumeric() || v[i] == b'_') {
                        i += 1;
                    }
                    out.push(Tok::Name);
                } else {
                    out.push(Tok::Num);
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' => {
                let start = i;
                while i < v.len() && (v[i].is_ascii_alphanumeric() || matches!(v[i], b'_' | b'$')) {
                    i += 1;
                }
                // the decoded view is lowercase already
                let mut kind = word_kind(&v[start..i]);
                let paren = v[i..].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'(');
                if kind == Tok::Name && paren {
                    kind = Tok::Func;
                } else if kind == Tok::Name && v.get(i) == Some(&b'.') {
                    // qualified names: `t.col`, `mysql.user`
                    i += 1;
                    continue;
                }
                out.push(kind);
            }
            b'@' => {
                i += 1;
                while i < v.len()
                    && (v[i].is_ascii_alphanumeric() || matches!(v[i], b'_' | b'@' | b'.'))
                {
                    i += 1;
                }
                out.push(Tok::Var);
            }
            b'(' | b')' | b',' | b';' => {
                out.push(match b {
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b',' => Tok::Comma,
                    _ => Tok::Semi,
                });
                i += 1;
            }
            b'&' | b'|' if next == Some(b) => {
                out.push(Tok::Logic { symbol: true });
                i += 2;
            }
            b'=' | b'<' | b'>' | b'!' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'|' | b'&'
            | b'~' | b':' => {
                let start = i;
                while i < v.len()
                    && i - start < 3
                    && matches!(
                        v[i],
                        b'=' | b'<' | b'>' | b'!' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'~'
                    )
                {
                    i += 1;
                }
                i = i.max(start + 1);
                let run = &v[start..i];
                let cmp = run.iter().any(|c| matches!(c, b'=' | b'<' | b'>'));
                out.push(if cmp {
                    Tok::Cmp { symbol: true }
                } else {
                    Tok::Op
                });
            }
            _ => return None,
        }
    }
    // Longer than the analyser reads: the rule table judges it alone.
    (i >= v.len()).then_some(out)
}

/// Whether `v` (decoded, lowercased) closes a `quote` literal and goes on
/// as SQL that stays valid.
fn breaks_out(v: &[u8], quote: u8) -> bool {
    let Some(q) = first_quote(v, quote) else {
        return false;
    };
    let Some(toks) = tokens(&v[q + 1..]) else {
        return false;
    };
    let toks = toks.as_slice();
    let (Some(&first), Some(&last)) = (toks.first(), toks.last()) else {
        return false;
    };
    if !first.continues() {
        return false;
    }
    // Side by side operands are a syntax error everywhere; so is a
    // statement keyword anywhere but after `;`, `(` or UNION.
    for w in toks.windows(2) {
        if w[0].is_operand() && w[1].is_operand() {
            return false;
        }
        if w[1] == Tok::Statement && !matches!(w[0], Tok::Semi | Tok::LParen | Tok::Union) {
            return false;
        }
    }
    let valid_end = match last {
        Tok::Comment => true,
        Tok::Str {
            quote: qq,
            open: true,
        } if qq == quote => toks.len() == 1 || toks[toks.len() - 2].wants_operand(),
        _ => false,
    };
    // What makes it an injection rather than quoted words around a word
    // (`"countdown" and "disney"`, `"LIKE" stamp`, `"/apps/"`): a condition
    // or a statement (a logic word, a comparison, `SELECT` after `UNION`,
    // `;` or `(`) and something no sentence has (a symbol operator, a
    // number, a variable, a call, `;`, a statement).
    let condition = toks
        .iter()
        .any(|t| matches!(t, Tok::Logic { .. } | Tok::Cmp { .. } | Tok::Statement));
    let code = toks.iter().any(|t| {
        matches!(
            t,
            Tok::Logic { symbol: true }
                | Tok::Cmp { symbol: true }
                | Tok::Op
                | Tok::Num
                | Tok::Var
                | Tok::Func
                | Tok::Semi
                | Tok::Statement
        )
    });
    valid_end && condition && code
}

/// Whether `v` breaks out of a single- or double-quoted SQL literal.
pub(crate) fn quote_breakout(v: &[u8]) -> bool {
    (v.contains(&b'\'') && breaks_out(v, b'\'')) || (v.contains(&b'"') && breaks_out(v, b'"'))
}

#[cfg(test)]
mod tests {
    use super::quote_breakout;

    #[test]
    fn breakouts_that_stay_valid() {
        for v in [
            "' or 'a'='a",
            "1' or '1'='1",
            "' or 1=1--",
            "') or ('1'='1",
            "' =+ '",
            "'<~'",
            "'/1/1='",
            "'is\\n-!'",
            "+aa1' * @a or '1 '/1 regexp '0",
            "1' -1 or+1= '+1 ",
            "x' union select password from users where 1=1#",
            "1'/*!0union*//*!0select*/1,2--",
            "\" or \"\"=\"",
        ] {
            assert!(quote_breakout(v.as_bytes()), "missed: {v}");
        }
    }

    #[test]
    fn arbitrary_sql_soup_never_panics() {
        let alphabet = b"'\"`-#/*!(),;&|=<>+@0123456789xe.aornd\\ \n";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..4_000usize {
            let v: Vec<u8> = (0..len % 300)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = quote_breakout(&v);
        }
    }

    #[test]
    fn prose_with_quotes_is_not_sql() {
        for v in [
            "o'neil and sons",
            "rock 'n' roll",
            "5' 10\" tall",
            "necklace length 16\" or 18\"",
            "don't stop 'til you get enough",
            "\"create a critter\"",
            "\"not for sale\"",
            "it's 'ok' = fine",
            "'70s music",
            "he said \"hi\" and left",
            "size 8\"x11\"",
            "o'keefe's",
            "\"white\" + \"plate\" + \"pottery\"",
            "l'été à paris",
            "christmas stocking \"not\" stuffer",
            "\"union\" by robert f",
            "7\" #2 circular needle",
            "blue brown -baby ccbdresses' -shoes --infant -child",
            "\"is\" stamp",
            "\"like\" stamp",
            "'countdown calendar\" and \"disney:",
            "<a href=\"/apps/\">galerie d'applications</a>!",
        ] {
            assert!(!quote_breakout(v.as_bytes()), "flagged: {v}");
        }
    }
}
