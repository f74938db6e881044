//! Decoding against evasion, in bounded passes, each linear in the input.
//!
//! [`normalize`] turns a raw value into the view the detectors read:
//! percent-decoding (repeated up to 3 times, `%uXXXX` to its real code point,
//! overlong UTF-8 to ASCII with an evasion flag), HTML entities (named,
//! decimal, hex, missing semicolons, leading zeros), backslash escapes
//! (`\xHH`, `\uHHHH`, `\u{H}`, octal), NUL and control-character removal,
//! fullwidth folding, ASCII lowercasing. A second view folds SQL comments
//! and whitespace runs.

/// Evasion signals met while decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Evasions {
    /// The value was percent-encoded more than once.
    pub multi_encoded: bool,
    /// Overlong UTF-8 sequences (`%c0%ae`) were met.
    pub overlong_utf8: bool,
    /// A NUL byte was present.
    pub nul_byte: bool,
    /// `%uXXXX` escapes were met.
    pub percent_u: bool,
    /// `<` or `>` was hidden behind an HTML reference or a backslash escape.
    pub encoded_angle: bool,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_char(out: &mut Vec<u8>, c: u32) {
    match char::from_u32(c) {
        Some(ch) => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        None => out.push(b'?'),
    }
}

/// One percent-decoding pass. Returns `None` when nothing changed.
pub(crate) fn percent_decode(
    input: &[u8],
    plus_is_space: bool,
    ev: &mut Evasions,
) -> Option<Vec<u8>> {
    if !input
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut changed = false;
    while i < input.len() {
        // copy the run up to the next introducer at once
        let next = if plus_is_space {
            memchr::memchr2(b'%', b'+', &input[i..])
        } else {
            memchr::memchr(b'%', &input[i..])
        };
        let Some(rel) = next else {
            out.extend_from_slice(&input[i..]);
            break;
        };
        out.extend_from_slice(&input[i..i + rel]);
        i += rel;
        let b = input[i];
        if b == b'%' {
            // %uXXXX: the real code point, never its low byte.
            if i + 5 < input.len()
                && (input[i + 1] == b'u' || input[i + 1] == b'U')
                && let (Some(a), Some(b2), Some(c), Some(d)) = (
                    hex(input[i + 2]),
                    hex(input[i + 3]),
                    hex(input[i + 4]),
                    hex(input[i + 5]),
                )
            {
                let cp = u32::from(a) << 12 | u32::from(b2) << 8 | u32::from(c) << 4 | u32::from(d);
                push_char(&mut out, cp);
                ev.percent_u = true;
                i += 6;
                changed = true;
                continue;
            }
            if i + 2 < input.len()
                && let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2]))
            {
                out.push(h << 4 | l);
                i += 3;
                changed = true;
                continue;
            }
            out.push(b);
            i += 1;
        } else {
            // `+` read as a space
            out.push(b' ');
            i += 1;
            changed = true;
        }
    }
    changed.then_some(out)
}

/// Overlong UTF-8 encodings of ASCII (2 to 6 bytes: `c0 ae`, `e0 80 ae`,
/// `f0 80 80 af`, `f8 ..`, `fc ..`) decoded to the ASCII byte they hide;
/// sets the evasion flag. Lookalike slashes (U+2215, U+2044, U+2216) become
/// `/` and `\\`.
fn fold_overlong(input: &mut Vec<u8>, ev: &mut Evasions) {
    // ASCII (most values) is checked a word at a time
    if input.is_ascii()
        || !input
            .iter()
            .any(|&b| matches!(b, 0xc0 | 0xc1 | 0xe0 | 0xe2 | 0xf0 | 0xf8 | 0xfc))
    {
        return;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        let len = match b {
            0xc0 | 0xc1 => 2,
            0xe0 => 3,
            0xf0 => 4,
            0xf8 => 5,
            0xfc => 6,
            _ => 0,
        };
        // IIS read `c0 af`, `c1 af`, `c1 9c`, `c1 1c` by their low six bits.
        if (b == 0xc0 || b == 0xc1) && i + 1 < input.len() {
            let hidden = match input[i + 1] & 0x3f {
                0x2e => Some(b'.'),
                0x2f => Some(b'/'),
                0x1c => Some(b'\\'),
                _ => None,
            };
            if let Some(h) = hidden {
                out.push(h);
                ev.overlong_utf8 = true;
                i += 2;
                continue;
            }
        }
        if len > 0
            && i + len <= input.len()
            && input[i + 1..i + len].iter().all(|c| c & 0xc0 == 0x80)
        {
            let mut v: u32 = u32::from(b) & (0x7f >> len);
            for c in &input[i + 1..i + len] {
                v = (v << 6) | u32::from(c & 0x3f);
            }
            if v < 0x80 {
                out.push(v as u8);
                ev.overlong_utf8 = true;
                i += len;
                continue;
            }
        }
        // U+2215 DIVISION SLASH, U+2044 FRACTION SLASH, U+2216 SET MINUS
        if b == 0xe2 && i + 2 < input.len() {
            let lookalike = match (input[i + 1], input[i + 2]) {
                (0x88, 0x95) | (0x81, 0x84) => Some(b'/'),
                (0x88, 0x96) => Some(b'\\'),
                _ => None,
            };
            if let Some(c) = lookalike {
                out.push(c);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    *input = out;
}

const NAMED: &[(&str, &str)] = &[
    ("lt", "<"),
    ("gt", ">"),
    ("quot", "\""),
    ("apos", "'"),
    ("amp", "&"),
    ("nbsp", " "),
    ("colon", ":"),
    ("semi", ";"),
    ("tab", "\t"),
    ("newline", "\n"),
    ("lpar", "("),
    ("rpar", ")"),
    ("sol", "/"),
    ("bsol", "\\"),
    ("excl", "!"),
    ("num", "#"),
    ("dollar", "$"),
    ("percnt", "%"),
    ("comma", ","),
    ("period", "."),
    ("equals", "="),
    ("lsqb", "["),
    ("rsqb", "]"),
    ("lbrack", "["),
    ("rbrack", "]"),
    ("lcub", "{"),
    ("rcub", "}"),
    ("grave", "`"),
    ("quest", "?"),
    ("plus", "+"),
    ("ast", "*"),
    ("vert", "|"),
];

/// Nibble encoding (`%%35%%63`, `%%35c`, `%5%63`): each hex digit of an
/// escape is itself percent-encoded, which servers that decode twice read
/// as `%5c`. Plain percent-decoding would glue the leftovers to the next
/// bytes (`%5%cetc` becomes `\xCEtc`), so the digits are joined first.
fn nibble_encoded(input: &[u8]) -> Option<Vec<u8>> {
    /// `%HH` at `j` that encodes a hex digit.
    fn escaped_digit(input: &[u8], j: usize) -> Option<u8> {
        if input.get(j) != Some(&b'%') {
            return None;
        }
        let d = hex(*input.get(j + 1)?)? << 4 | hex(*input.get(j + 2)?)?;
        hex(d).map(|_| d)
    }
    /// A hex digit at `i` written plainly, as `%HH` or as `%%HH`, and its length.
    fn any_digit(input: &[u8], i: usize) -> Option<(u8, usize)> {
        match input.get(i)? {
            b'%' if input.get(i + 1) == Some(&b'%') => escaped_digit(input, i + 1).map(|d| (d, 4)),
            b'%' => escaped_digit(input, i).map(|d| (d, 3)),
            b if hex(*b).is_some() => Some((*b, 1)),
            _ => None,
        }
    }
    // `%5%c`: what one decoding pass leaves of `%%35%%63`. `%5%` is never
    // a valid escape, so joining the digits is unambiguous.
    let half =
        |w: &[u8]| w[0] == b'%' && hex(w[1]).is_some() && w[2] == b'%' && hex(w[3]).is_some();
    if !input.windows(2).any(|w| w == b"%%") && !input.windows(4).any(half) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input.get(i..i + 4).is_some_and(half) {
            out.extend_from_slice(&[b'%', input[i + 1], input[i + 3]]);
            i += 4;
        } else if input[i] == b'%'
            && let Some(d1) = escaped_digit(input, i + 1)
            && let Some((d2, n2)) = any_digit(input, i + 4)
        {
            // `%%HH` then a second digit in any form.
            out.extend_from_slice(&[b'%', d1, d2]);
            i += 4 + n2;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    (out != input).then_some(out)
}

/// HTML character references: named (a useful subset), decimal and hex,
/// with or without the semicolon, any number of leading zeros (bounded).
pub(crate) fn html_decode(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&b'&') {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut changed = false;
    while i < input.len() {
        let Some(rel) = memchr::memchr(b'&', &input[i..]) else {
            out.extend_from_slice(&input[i..]);
            break;
        };
        out.extend_from_slice(&input[i..i + rel]);
        i += rel;
        let rest = &input[i + 1..];
        if rest.first() == Some(&b'#') {
            let (radix, start) = match rest.get(1) {
                Some(b'x' | b'X') => (16, 2),
                _ => (10, 1),
            };
            let mut j = start;
            let mut value: u32 = 0;
            while j < rest.len() && j < start + 64 {
                let d = match (radix, rest[j]) {
                    (10, b @ b'0'..=b'9') => u32::from(b - b'0'),
                    (16, b) if hex(b).is_some() => u32::from(hex(b).unwrap_or(0)),
                    _ => break,
                };
                value = value.saturating_mul(radix).saturating_add(d).min(0x11_0000);
                j += 1;
            }
            if j > start {
                push_char(&mut out, value);
                if rest.get(j) == Some(&b';') {
                    j += 1;
                }
                i += 1 + j;
                changed = true;
                continue;
            }
        } else {
            let name_len = rest
                .iter()
                .take(10)
                .take_while(|b| b.is_ascii_alphabetic())
                .count();
            let name = &rest[..name_len];
            // `&` without a letter after it (`&&`, `a & b`) names nothing
            if name_len > 0
                && let Some((n, v)) = NAMED.iter().find(|(n, _)| {
                    name.len() >= n.len() && name[..n.len()].eq_ignore_ascii_case(n.as_bytes())
                })
            {
                out.extend_from_slice(v.as_bytes());
                let mut j = n.len();
                if rest.get(j) == Some(&b';') {
                    j += 1;
                }
                i += 1 + j;
                changed = true;
                continue;
            }
        }
        out.push(b'&');
        i += 1;
    }
    changed.then_some(out)
}

/// Backslash escapes of JS, JSON, C and shells: `\xHH`, `\uHHHH`,
/// `\u{H..}`, octal `\NNN`; other `\c` become `c`.
pub(crate) fn unescape(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&b'\\') {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut changed = false;
    while i < input.len() {
        let Some(rel) = memchr::memchr(b'\\', &input[i..]) else {
            out.extend_from_slice(&input[i..]);
            break;
        };
        out.extend_from_slice(&input[i..i + rel]);
        i += rel;
        if i + 1 >= input.len() {
            out.push(input[i]);
            break;
        }
        let n = input[i + 1];
        if (n == b'x' || n == b'X')
            && let (Some(h), Some(l)) = (
                input.get(i + 2).and_then(|b| hex(*b)),
                input.get(i + 3).and_then(|b| hex(*b)),
            )
        {
            out.push(h << 4 | l);
            i += 4;
            changed = true;
            continue;
        }
        if n == b'u' || n == b'U' {
            if input.get(i + 2) == Some(&b'{') {
                let mut j = i + 3;
                let mut v: u32 = 0;
                while j < input.len() && j < i + 10 && hex(input[j]).is_some() {
                    v = v * 16 + u32::from(hex(input[j]).unwrap_or(0));
                    j += 1;
                }
                if input.get(j) == Some(&b'}') && j > i + 3 {
                    push_char(&mut out, v);
                    i = j + 1;
                    changed = true;
                    continue;
                }
            } else if let Some(digits) = input.get(i + 2..i + 6)
                && digits.iter().all(|b| hex(*b).is_some())
            {
                let v = digits
                    .iter()
                    .fold(0u32, |a, b| a * 16 + u32::from(hex(*b).unwrap_or(0)));
                push_char(&mut out, v);
                i += 6;
                changed = true;
                continue;
            }
        }
        // CSS escapes `\0075` (1–6 hex digits and an optional space): read
        // as CSS only when the zero padding rules out an octal escape.
        let css = input[i + 1..]
            .iter()
            .take(6)
            .take_while(|b| hex(**b).is_some())
            .count();
        if css >= 4 && input[i + 1..i + 3] == *b"00" {
            let v = input[i + 1..i + 1 + css]
                .iter()
                .fold(0u32, |a, b| a * 16 + u32::from(hex(*b).unwrap_or(0)));
            push_char(&mut out, v);
            i += 1 + css;
            if input.get(i) == Some(&b' ') {
                i += 1;
            }
            changed = true;
            continue;
        }
        if (b'0'..=b'7').contains(&n) {
            let mut j = i + 1;
            let mut v: u32 = 0;
            while j < input.len() && j < i + 4 && (b'0'..=b'7').contains(&input[j]) {
                v = v * 8 + u32::from(input[j] - b'0');
                j += 1;
            }
            out.push(u8::try_from(v.min(255)).unwrap_or(b'?'));
            i = j;
            changed = true;
            continue;
        }
        // Only escapes that change meaning are decoded; `\e`, `\.` and the
        // like stay, so Windows paths keep their separators.
        let mapped = match n {
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'f' => Some(0x0c),
            b'v' => Some(0x0b),
            b'\'' | b'"' | b'`' | b'/' => Some(n),
            _ => None,
        };
        match mapped {
            Some(m) => {
                out.push(m);
                i += 2;
                changed = true;
            }
            None => {
                out.push(b'\\');
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// Fullwidth ASCII (U+FF01..U+FF5E) to ASCII, NUL and layout controls
/// removed (\t, \x0b, \x0c, NUL), ASCII lowercased. CR and LF are kept.
fn compact(input: &[u8], ev: &mut Evasions) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        // U+FF01..U+FF5E is EF BC 81..EF BD 9E in UTF-8.
        if b == 0xef && i + 2 < input.len() && (input[i + 1] == 0xbc || input[i + 1] == 0xbd) {
            let cp =
                0xff00u32 + (u32::from(input[i + 1] & 0x03) << 6) + u32::from(input[i + 2] & 0x3f);
            if (0xff01..=0xff5e).contains(&cp) {
                out.push(((cp - 0xff00 + 0x20) as u8).to_ascii_lowercase());
                i += 3;
                continue;
            }
        }
        // Enclosed alphanumerics (①, ⓛ, Ⓛ, ⓪) and the ideographic full stop.
        if b == 0xe2
            && i + 2 < input.len()
            && (input[i + 1] == 0x91 || input[i + 1] == 0x92 || input[i + 1] == 0x93)
        {
            let cp =
                0x2000u32 + (u32::from(input[i + 1] & 0x3f) << 6) + u32::from(input[i + 2] & 0x3f);
            let mapped = match cp {
                0x2460..=0x2468 => Some(b'1' + (cp - 0x2460) as u8),
                0x24ea => Some(b'0'),
                0x24b6..=0x24cf => Some(b'a' + (cp - 0x24b6) as u8),
                0x24d0..=0x24e9 => Some(b'a' + (cp - 0x24d0) as u8),
                _ => None,
            };
            if let Some(m) = mapped {
                out.push(m);
                i += 3;
                continue;
            }
        }
        if b == 0xe3 && input.get(i + 1) == Some(&0x80) && input.get(i + 2) == Some(&0x82) {
            out.push(b'.');
            i += 3;
            continue;
        }
        match b {
            0 => ev.nul_byte = true,
            b'\t' | 0x0b | 0x0c => out.push(b' '),
            _ => out.push(b.to_ascii_lowercase()),
        }
        i += 1;
    }
    out
}

/// The decoded view of a value, with the evasions met.
pub fn normalize(raw: &[u8], plus_is_space: bool) -> (Vec<u8>, Evasions) {
    let mut ev = Evasions::default();
    // Without an escape introducer or a non-ASCII byte, only the last step
    // (case, controls) can change anything: most values take this path.
    if !raw
        .iter()
        .any(|&b| matches!(b, b'%' | b'&' | b'\\') || b >= 0x80 || (plus_is_space && b == b'+'))
    {
        return (compact(raw, &mut ev), ev);
    }
    let mut v = match nibble_encoded(raw) {
        Some(v) => {
            ev.multi_encoded = true;
            v
        }
        None => raw.to_vec(),
    };
    let mut passes = 0;
    while passes < 3 {
        match percent_decode(&v, plus_is_space && passes == 0, &mut ev) {
            Some(next) => {
                v = next;
                passes += 1;
            }
            None => break,
        }
    }
    if passes > 1 {
        ev.multi_encoded = true;
    }
    fold_overlong(&mut v, &mut ev);
    let angles = |v: &[u8]| memchr::memchr2_iter(b'<', b'>', v).count();
    for _ in 0..2 {
        let mut changed = false;
        let before = angles(&v);
        if let Some(next) = html_decode(&v) {
            v = next;
            changed = true;
        }
        if let Some(next) = unescape(&v) {
            v = next;
            changed = true;
        }
        if changed && angles(&v) > before {
            ev.encoded_angle = true;
        }
        if let Some(next) = percent_decode(&v, false, &mut ev) {
            v = next;
            changed = true;
        }
        if !changed {
            break;
        }
    }
    fold_overlong(&mut v, &mut ev);
    (compact(&v, &mut ev), ev)
}

/// The SQL view: comments `/* .. */` become a space (MySQL `/*! .. */`
/// keeps its content), whitespace runs one space.
pub fn sql_fold(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'/' && v.get(i + 1) == Some(&b'*') {
            if v.get(i + 2) == Some(&b'!') {
                // MySQL runs a versioned comment's content: drop only the
                // marker and its version number (the closing `*/` becomes
                // a space below), so nested and unterminated ones keep
                // their keywords too.
                let mut s = i + 3;
                while s < v.len() && v[s].is_ascii_digit() {
                    s += 1;
                }
                if out.last() != Some(&b' ') {
                    out.push(b' ');
                }
                i = s;
                continue;
            }
            let end = v[i + 2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map(|p| i + 2 + p);
            if out.last() != Some(&b' ') {
                out.push(b' ');
            }
            i = end.map_or(v.len(), |e| e + 2);
            continue;
        }
        if v[i] == b'*' && v.get(i + 1) == Some(&b'/') {
            if out.last() != Some(&b' ') {
                out.push(b' ');
            }
            i += 2;
            continue;
        }
        let b = v[i];
        if b.is_ascii_whitespace() || b == 0xa0 {
            if out.last() != Some(&b' ') {
                out.push(b' ');
            }
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        String::from_utf8_lossy(&normalize(s.as_bytes(), false).0).into_owned()
    }

    #[test]
    fn percent_decoding_is_repeated_and_bounded() {
        assert_eq!(n("%2527"), "'");
        assert_eq!(n("%252527"), "'");
        assert_eq!(n("%2e%2e%2f"), "../");
        let (_, ev) = normalize(b"%2527", false);
        assert!(ev.multi_encoded);
    }

    #[test]
    fn percent_u_gives_the_real_code_point() {
        assert_eq!(n("%u003c"), "<");
        // U+FF0E (fullwidth full stop) folds to '.', never to its low byte 0x0e
        assert_eq!(n("%uff0e%uff0e%u2215"), "../");
    }

    #[test]
    fn overlong_utf8_is_decoded_and_flagged() {
        let (v, ev) = normalize(b"%c0%ae%c0%ae%c0%af", false);
        assert_eq!(v, b"../");
        assert!(ev.overlong_utf8);
    }

    #[test]
    fn html_entities_with_and_without_semicolons() {
        assert_eq!(n("&lt;script&gt;"), "<script>");
        assert_eq!(n("&#60&#x3C;&#000060;"), "<<<");
        assert_eq!(n("java&#x09;script&colon;"), "java script:");
        assert_eq!(n("AT&T"), "at&t");
    }

    #[test]
    fn css_escapes_need_their_zero_padding() {
        assert_eq!(n("\\0075\\0072\\006C\\0028"), "url(");
        assert_eq!(n("\\00006a ava"), "java");
        // without the padding an escape stays octal
        assert_eq!(n("\\101"), "a");
        assert_eq!(n("\\0751"), "=1");
    }

    #[test]
    fn nibble_encoded_escapes_are_joined() {
        assert_eq!(n("etc%%35%%63passwd"), "etc\\passwd");
        assert_eq!(n("%%32%%65%%32%%65/"), "../");
        assert_eq!(n("%%35c"), "\\");
        // what one decoding pass leaves of `%%35%%63`
        assert_eq!(n("etc%5%cissue"), "etc\\issue");
        // not nibbles: a percent sign, a valid escape, text
        assert_eq!(n("50%% off"), "50%% off");
        assert_eq!(n("5%%20x"), "5% x");
        assert_eq!(n("%5%zz"), "%5%zz");
    }

    #[test]
    fn backslash_escapes() {
        assert_eq!(n("\\x3cscript\\u003e"), "<script>");
        assert_eq!(n("\\u{3c}"), "<");
        assert_eq!(n("\\74"), "<");
        // path separators survive
        assert_eq!(n("..\\etc\\passwd"), "..\\etc\\passwd");
    }

    #[test]
    fn nul_controls_fullwidth_and_case() {
        let (v, ev) = normalize("ＳＥＬＥＣＴ\u{0}\t1".as_bytes(), false);
        assert_eq!(v, b"select 1");
        assert!(ev.nul_byte);
    }

    #[test]
    fn sql_comments_and_whitespace_fold() {
        assert_eq!(sql_fold(b"union/**/select"), b"union select");
        assert_eq!(sql_fold(b"union/*!50000select*/1"), b"union select 1");
        assert_eq!(
            sql_fold(b"1'/*!0union/*!0all/*!0select 1/*-"),
            b"1' union all select 1 "
        );
        assert_eq!(sql_fold(b"a \n\t b"), b"a b");
    }

    #[test]
    fn decoding_is_idempotent_on_plain_text() {
        for s in ["hello world", "calle mayor, 5", "<b>", "../etc"] {
            let once = normalize(s.as_bytes(), false).0;
            assert_eq!(normalize(&once, false).0, once);
        }
    }
}
