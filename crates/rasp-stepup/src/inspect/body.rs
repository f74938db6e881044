//! Request bodies: JSON (keys and values with JSON paths, every value of
//! duplicate keys, sequences of documents), url-encoded forms, multipart
//! (text fields, file names, the head of files), XML and other text; a
//! body whose declared type the layer does not read is read by what it
//! holds, and a compressed body is decompressed within the limit first.

use std::io::Read as _;

use rasp_detect::SourceKind;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{Inspector, Key, RequestFindings};

/// How a body is read, from its `Content-Type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Form,
    Xml,
    /// The boundary the header names, or `None` when it names none (read
    /// from the body's first delimiter line).
    Multipart(Option<String>),
    Text,
    /// No `Content-Type`: read by shape (many frameworks parse such a
    /// body anyway, and attackers drop the header to dodge body rules).
    Untyped,
    /// A type the layer does not read (`application/octet-stream`, an
    /// image, a vendor type): read as JSON, a form, XML or multipart when
    /// it holds one (a handler may parse it whatever the header says),
    /// else its head is read like an uploaded file's.
    Other,
}

/// A content coding of `Content-Encoding` that the layer decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    /// `deflate`: the zlib format (RFC 9110), or raw deflate as some
    /// clients send it.
    Deflate,
    Br,
}

/// What compressed bodies get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CompressedBodies {
    /// Decompress `gzip`, `deflate` and `br` bodies (default) and inspect
    /// what they hold; the limit counts decompressed bytes, so a
    /// decompression bomb meets it (413 by default). Other codings get
    /// 415.
    #[default]
    Decode,
    /// Answer 415 to every compressed body.
    Reject,
}

/// What a body that is not what its headers declare gets: JSON that does
/// not parse, JSON nested deeper than the limit, multipart without a
/// boundary, compressed data that does not decompress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MalformedBodies {
    /// Answer 400 (default): the application would fail to parse it too,
    /// or parse it in a way the layer cannot follow.
    #[default]
    Reject,
    /// Inspect it as text and let the application answer.
    InspectAsText,
}

/// What the layer reads of a body: its kind and the codings to undo
/// (in the order they were applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BodyPlan {
    pub(crate) kind: BodyKind,
    pub(crate) codings: Vec<Coding>,
}

/// A body the headers alone condemn, or one that is not what they
/// declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyRefusal {
    /// 400: with the reason given to the client.
    Malformed(&'static str),
    /// 413: decompressed, it is larger than the limit.
    TooLarge,
    /// 415: a coding the policy does not decode.
    Coding(&'static str),
}

/// At most this many codings are undone (`gzip, gzip, gzip…` is refused).
const MAX_CODINGS: usize = 2;

/// The body plan of a request, from its headers: `Ok(None)` when there is
/// nothing to read.
pub(crate) fn body_plan(
    headers: &http::HeaderMap,
    compressed: CompressedBodies,
) -> Result<BodyPlan, BodyRefusal> {
    let mut types = headers.get_all(http::header::CONTENT_TYPE).iter();
    let original = types.next().map(|v| v.as_bytes()).unwrap_or(b"");
    if types.next().is_some() {
        // Parsers disagree on which one counts (the first, the last, both
        // joined): the layer cannot know what the application reads.
        return Err(BodyRefusal::Malformed(
            "the request has more than one Content-Type header",
        ));
    }
    let codings = codings(headers, compressed)?;
    let original = String::from_utf8_lossy(original);
    let ct = original.to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim();
    let kind = match mime {
        "application/json" | "text/json" => BodyKind::Json,
        m if m.ends_with("+json") => BodyKind::Json,
        "application/x-www-form-urlencoded" => BodyKind::Form,
        "application/xml" | "text/xml" => BodyKind::Xml,
        m if m.ends_with("+xml") => BodyKind::Xml,
        // The boundary is case-sensitive: read it from the original value.
        "multipart/form-data" | "multipart/mixed" => BodyKind::Multipart(
            original
                .split(';')
                .filter_map(|p| {
                    let p = p.trim();
                    p.get(..9)
                        .filter(|k| k.eq_ignore_ascii_case("boundary="))
                        .map(|_| &p[9..])
                })
                .next()
                .map(|b| b.trim_matches('"').to_owned())
                .filter(|b| !b.is_empty()),
        ),
        "" => BodyKind::Untyped,
        m if m.starts_with("text/") => BodyKind::Text,
        _ => BodyKind::Other,
    };
    Ok(BodyPlan { kind, codings })
}

/// The codings of `Content-Encoding` (every header, in order), or why
/// the body is refused.
fn codings(
    headers: &http::HeaderMap,
    compressed: CompressedBodies,
) -> Result<Vec<Coding>, BodyRefusal> {
    let mut out = Vec::new();
    for v in headers.get_all(http::header::CONTENT_ENCODING) {
        for name in v.as_bytes().split(|b| *b == b',') {
            let name = name.trim_ascii().to_ascii_lowercase();
            let coding = match name.as_slice() {
                b"" | b"identity" => continue,
                b"gzip" | b"x-gzip" => Coding::Gzip,
                b"deflate" => Coding::Deflate,
                b"br" => Coding::Br,
                _ => {
                    return Err(BodyRefusal::Coding(
                        "the body's Content-Encoding is not one the server inspects",
                    ));
                }
            };
            if compressed == CompressedBodies::Reject {
                return Err(BodyRefusal::Coding(
                    "compressed request bodies are not accepted",
                ));
            }
            out.push(coding);
            if out.len() > MAX_CODINGS {
                return Err(BodyRefusal::Coding(
                    "the body's Content-Encoding applies too many codings",
                ));
            }
        }
    }
    Ok(out)
}

/// The body with its codings undone, at most `limit` bytes of it: `Ok`
/// with the bytes and whether more followed, or why it cannot be read.
/// Each step reads at most `limit + 1` bytes of output, so a
/// decompression bomb costs no more than a body of the limit.
pub(crate) fn decode(
    body: &[u8],
    codings: &[Coding],
    limit: usize,
) -> Result<(Vec<u8>, bool), BodyRefusal> {
    let mut cur = body.to_vec();
    let mut cut = false;
    for coding in codings.iter().rev() {
        let cap = limit as u64 + 1;
        let mut out = Vec::new();
        let read = match coding {
            Coding::Gzip => flate2::read::MultiGzDecoder::new(&cur[..])
                .take(cap)
                .read_to_end(&mut out),
            Coding::Deflate => {
                let zlib = flate2::read::ZlibDecoder::new(&cur[..])
                    .take(cap)
                    .read_to_end(&mut out);
                if zlib.is_err() {
                    out.clear();
                    flate2::read::DeflateDecoder::new(&cur[..])
                        .take(cap)
                        .read_to_end(&mut out)
                } else {
                    zlib
                }
            }
            Coding::Br => brotli_decompressor::Decompressor::new(&cur[..], 4096)
                .take(cap)
                .read_to_end(&mut out),
        };
        // A body cut short by the limit (ours or the prefix mode's) ends
        // in the middle of the stream: what came out is still read.
        if read.is_err() && out.is_empty() {
            return Err(BodyRefusal::Malformed(
                "the body does not decompress as its Content-Encoding says",
            ));
        }
        if out.len() > limit {
            out.truncate(limit);
            cut = true;
        }
        cur = out;
    }
    Ok((cur, cut))
}

/// Prose-like values (long, or with several spaces) are read as text, where
/// shell and CRLF patterns are ordinary.
fn value_source(v: &str) -> SourceKind {
    let v = v.as_bytes();
    if v.len() > 64 || v.iter().filter(|b| **b == b' ').count() >= 4 {
        SourceKind::JsonValue
    } else {
        SourceKind::FormValue
    }
}

/// Where a form field or a whole text body is read: as free text when it
/// reads like prose (at least 64 bytes and 8 spaces, opening with a
/// letter, and at least 85 % letters, digits, spaces and sentence
/// punctuation), else as a value. Stricter than [`value_source`]: a form
/// field's command line or SQL fragment (`;find /etc -name passwd`) has
/// spaces too, but neither the opening nor the letters of prose.
pub(crate) fn prose_source(v: &[u8]) -> SourceKind {
    let first = v.iter().find(|b| !b.is_ascii_whitespace());
    let spaces = v.iter().filter(|b| **b == b' ').count();
    let wordy = v
        .iter()
        .filter(|b| b.is_ascii_alphanumeric() || b" .,:'\"()!?-\n".contains(b) || **b >= 0x80)
        .count();
    if v.len() >= 64
        && spaces >= 8
        && first.is_some_and(u8::is_ascii_alphabetic)
        && wordy * 100 >= v.len() * 85
    {
        SourceKind::JsonValue
    } else {
        SourceKind::FormValue
    }
}

/// One JSON value, walked as it is parsed (no tree is built): every string
/// is inspected at its key path, every key as a key, and every occurrence
/// of a duplicate key (parsers disagree on which one wins).
struct Walk<'a, 'b> {
    insp: &'a Inspector,
    route: Option<&'a str>,
    path: &'b mut String,
    depth: usize,
    out: &'b mut RequestFindings,
}

impl Walk<'_, '_> {
    fn inspect(&mut self, s: &str) {
        let (insp, route) = (self.insp, self.route);
        insp.value(
            route,
            Key::Static(self.path),
            s.as_bytes(),
            value_source(s),
            self.out,
        );
    }

    /// The walk one level down, at the same path.
    fn deeper<E: serde::de::Error>(&mut self) -> Result<Walk<'_, '_>, E> {
        if self.depth >= self.insp.rules.max_json_depth {
            return Err(E::custom(NESTED_TOO_DEEP));
        }
        Ok(Walk {
            insp: self.insp,
            route: self.route,
            path: &mut *self.path,
            depth: self.depth + 1,
            out: &mut *self.out,
        })
    }
}

const NESTED_TOO_DEEP: &str = "the JSON body is nested deeper than the server inspects";

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
        self.inspect(v);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let len = self.path.len();
        self.path.push_str("[]");
        while seq.next_element_seed(self.deeper()?)?.is_some() {}
        self.path.truncate(len);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let len = self.path.len();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            self.path.truncate(len);
            self.path.push('.');
            self.path.push_str(&key);
            let (insp, route) = (self.insp, self.route);
            let k = Key::Static(self.path);
            insp.value(route, k, key.as_bytes(), SourceKind::JsonKey, self.out);
            map.next_value_seed(self.deeper()?)?;
        }
        self.path.truncate(len);
        Ok(())
    }
}

/// Walks a JSON body: one document, or several separated by whitespace
/// (JSON Lines). `Err` with the reason when it is not JSON or nests too
/// deep; what was read before the error is inspected all the same.
fn walk_json(
    insp: &Inspector,
    route: Option<&str>,
    body: &[u8],
    out: &mut RequestFindings,
) -> Result<(), &'static str> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut path = String::from("body");
    loop {
        let walk = Walk {
            insp,
            route,
            path: &mut path,
            depth: 0,
            out,
        };
        if let Err(e) = walk.deserialize(&mut de) {
            let e = e.to_string();
            // serde_json's own limit (128 levels) says "recursion limit"
            let deep = e.starts_with(NESTED_TOO_DEEP) || e.starts_with("recursion limit");
            return Err(if deep {
                NESTED_TOO_DEEP
            } else {
                "the body is not valid JSON"
            });
        }
        if de.end().is_ok() {
            return Ok(());
        }
    }
}

fn multipart(
    insp: &Inspector,
    route: Option<&str>,
    boundary: &str,
    body: &[u8],
    out: &mut RequestFindings,
) {
    for part in multipart_parts(body, boundary) {
        multipart_part(insp, route, part, out);
    }
}

/// The parts between the boundary delimiters (at most 257); linear time
/// whatever the boundary and the body (`memmem`).
fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delim = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delim.as_bytes());
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(pos) = finder.find(rest) {
        let after = &rest[pos + delim.len()..];
        let next = finder.find(after).unwrap_or(after.len());
        parts.push(&after[..next]);
        rest = &after[next..];
        if parts.len() > 256 {
            break;
        }
    }
    parts
}

/// One part: a file's name and the head of its content, or a field's name
/// and value.
fn multipart_part(insp: &Inspector, route: Option<&str>, part: &[u8], out: &mut RequestFindings) {
    let Some(split) = memchr::memmem::find(part, b"\r\n\r\n") else {
        return;
    };
    let head = String::from_utf8_lossy(&part[..split]).to_ascii_lowercase();
    let content = part[split + 4..]
        .strip_suffix(b"\r\n")
        .unwrap_or(&part[split + 4..]);
    let raw_head = String::from_utf8_lossy(&part[..split]).into_owned();
    let param = |name: &str| {
        let key = format!("{name}=");
        let idx = head.find(&key)?;
        let v = &raw_head[idx + key.len()..];
        let v = v.strip_prefix('"').map_or_else(
            || v.split([';', '\r']).next().unwrap_or(v),
            |s| s.split('"').next().unwrap_or(s),
        );
        Some(v.to_owned())
    };
    let name = param("name").unwrap_or_default();
    let key = format!("body.{name}");
    match param("filename") {
        Some(filename) => {
            let file_key = format!("body.{name}.filename");
            let source = SourceKind::MultipartFilename;
            insp.value(
                route,
                Key::Static(&file_key),
                filename.as_bytes(),
                source,
                out,
            );
            file_head(insp, route, &key, content, out);
        }
        None => {
            let source = SourceKind::FormName;
            insp.value(route, Key::Static(&key), name.as_bytes(), source, out);
            let source = SourceKind::MultipartField;
            insp.value(route, Key::Static(&key), content, source, out);
        }
    }
}

/// The head of a file's content (its first KiB), unless it is binary: a
/// NUL byte or a byte sequence that is not UTF-8 (images, archives,
/// documents), which no text parser of the application reads as code and
/// in which NUL bytes and stray dots are no evasion.
fn file_head(
    insp: &Inspector,
    route: Option<&str>,
    key: &str,
    content: &[u8],
    out: &mut RequestFindings,
) {
    let head = &content[..content.len().min(1024)];
    let binary =
        head.contains(&0) || std::str::from_utf8(head).is_err_and(|e| e.error_len().is_some());
    if !binary {
        insp.value(
            route,
            Key::Static(key),
            head,
            SourceKind::MultipartField,
            out,
        );
    }
}

/// Attribute values and text nodes of an XML document (at most 512 of
/// each): an attribute is a value like a form field's; a text node is a
/// value, or free text when it reads like prose. The whole document is
/// read as well (declarations, entities, tags).
fn xml_values(insp: &Inspector, route: Option<&str>, body: &[u8], out: &mut RequestFindings) {
    let mut texts = 0;
    for node in body.split(|b| *b == b'<').skip(1) {
        if texts >= 512 {
            break;
        }
        let Some(close) = node.iter().position(|b| *b == b'>') else {
            continue;
        };
        let text = node[close + 1..].trim_ascii();
        if !text.is_empty() && !node.starts_with(b"!") && !node.starts_with(b"?") {
            texts += 1;
            let source = prose_source(text);
            insp.value(route, Key::Static("body.xml.text"), text, source, out);
        }
    }
    let mut i = 0;
    let mut n = 0;
    while i + 1 < body.len() && n < 512 {
        if body[i] == b'=' && matches!(body[i + 1], b'"' | b'\'') {
            let q = body[i + 1];
            if let Some(end) = body[i + 2..].iter().position(|b| *b == q) {
                insp.value(
                    route,
                    Key::Static("body.xml.attribute"),
                    &body[i + 2..i + 2 + end],
                    SourceKind::FormValue,
                    out,
                );
                i += 2 + end;
                n += 1;
                continue;
            }
        }
        i += 1;
    }
}

/// Whether an XML declaration names the UTF-7 encoding.
fn declares_utf7(body: &[u8]) -> bool {
    let head = &body[..body.len().min(200)];
    let end = memchr::memmem::find(head, b"?>").unwrap_or(head.len());
    let decl = head[..end].to_ascii_lowercase();
    memchr::memmem::find(&decl, b"utf-7").is_some()
        || memchr::memmem::find(&decl, b"utf7").is_some()
}

/// UTF-7 (RFC 2152) to UTF-8: `+` opens modified base64 of UTF-16BE
/// code units, ended by `-` (dropped) or any other byte; `+-` is `+`.
/// Linear; the output is no longer than the input (three bytes of UTF-8
/// at most for every 16 bits, which took at least three characters).
fn utf7_decode(input: &[u8]) -> Vec<u8> {
    fn sextet(b: u8) -> Option<u32> {
        Some(u32::from(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'+' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < input.len() && sextet(input[j]).is_some() {
            j += 1;
        }
        if j == start {
            // `+-` is a plus sign; a lone `+` stays
            out.push(b'+');
            i = if input.get(j) == Some(&b'-') {
                j + 1
            } else {
                j
            };
            continue;
        }
        let (mut acc, mut bits, mut units) = (0u32, 0u32, Vec::new());
        for &b in &input[start..j] {
            acc = (acc << 6 | sextet(b).unwrap_or(0)) & 0xff_ffff;
            bits += 6;
            if bits >= 16 {
                bits -= 16;
                units.push(((acc >> bits) & 0xffff) as u16);
            }
        }
        if units.is_empty() {
            // too short to hold a character: not UTF-7 after all
            out.extend_from_slice(&input[i..j]);
            i = j;
            continue;
        }
        for c in char::decode_utf16(units) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        i = if input.get(j) == Some(&b'-') {
            j + 1
        } else {
            j
        };
    }
    out
}

/// The boundary of a multipart body that names none in its header: the
/// first line, when it is a delimiter (`--` and 1–70 boundary characters,
/// RFC 2046).
fn sniff_boundary(body: &[u8]) -> Option<String> {
    let body = body.trim_ascii_start();
    let line = body.split(|b| *b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line).trim_ascii_end();
    let b = line.strip_prefix(b"--")?;
    let ok = (1..=70).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(c));
    ok.then(|| String::from_utf8_lossy(b).into_owned())
}

/// Inspects a body (`complete`: the whole of it, not a prefix cut at the
/// limit). `Err` when it is not what its type declares and `malformed`
/// says to refuse it; its inputs were inspected as far as they could be
/// read all the same.
pub(crate) fn inspect_body(
    insp: &Inspector,
    route: Option<&str>,
    kind: &BodyKind,
    body: &[u8],
    complete: bool,
    out: &mut RequestFindings,
) -> Result<(), BodyRefusal> {
    if body.is_empty() {
        return Ok(());
    }
    let refuse = |reason| {
        if complete && insp.rules.malformed_bodies == MalformedBodies::Reject {
            Err(BodyRefusal::Malformed(reason))
        } else {
            Ok(())
        }
    };
    match kind {
        BodyKind::Json => {
            if let Err(reason) = walk_json(insp, route, body, out) {
                // Not JSON after all (or truncated): read it as text too.
                insp.value(route, Key::Static("body"), body, prose_source(body), out);
                return refuse(reason);
            }
        }
        BodyKind::Form => insp.pairs(route, body, super::Pairs::FORM, out),
        BodyKind::Xml => {
            // A document that declares UTF-7 hides its markup from byte
            // patterns (`+ADw-!DOCTYPE`): read what it decodes to.
            let utf7;
            let body = match declares_utf7(body).then(|| utf7_decode(body)) {
                Some(decoded) => {
                    utf7 = decoded;
                    &utf7[..]
                }
                None => body,
            };
            insp.value(route, Key::Static("body.xml"), body, SourceKind::Xml, out);
            xml_values(insp, route, body, out);
        }
        BodyKind::Multipart(boundary) => match boundary.clone().or_else(|| sniff_boundary(body)) {
            Some(boundary) => multipart(insp, route, &boundary, body, out),
            None => {
                insp.value(route, Key::Static("body"), body, prose_source(body), out);
                return refuse("the multipart body has no boundary");
            }
        },
        // a short body without spaces is one value, not prose
        BodyKind::Text => insp.value(route, Key::Static("body"), body, prose_source(body), out),
        BodyKind::Untyped => {
            if is_encoded_blob(body.trim_ascii()) {
                // Percent-encoded throughout, `=` included (`pay%3DAND+1%3D1`):
                // read what it encodes, once; the decoded body is sniffed
                // like any other.
                let plus = super::plus_as_space(body.trim_ascii());
                let decoded: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
                let kind = sniff(&decoded).unwrap_or(BodyKind::Text);
                return inspect_body(insp, route, &kind, &decoded, complete, out);
            }
            let kind = sniff(body).unwrap_or(BodyKind::Text);
            return inspect_body(insp, route, &kind, body, complete, out);
        }
        BodyKind::Other => match sniff(body) {
            Some(kind) => return inspect_body(insp, route, &kind, body, complete, out),
            None => {
                // Opaque content (an image, an archive, a file's bytes):
                // its head, as an uploaded file's.
                file_head(insp, route, "body", body, out);
            }
        },
    }
    Ok(())
}

/// What a body holds, read by its content: JSON, XML, multipart or a
/// form; `None` for anything else.
fn sniff(body: &[u8]) -> Option<BodyKind> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') if walk_json_ok(body) => Some(BodyKind::Json),
        Some(b'<') => Some(BodyKind::Xml),
        Some(b'-') if sniff_boundary(body).is_some() => Some(BodyKind::Multipart(None)),
        _ if looks_like_form(body) => Some(BodyKind::Form),
        _ => None,
    }
}

/// Whether a body is JSON (one document or several), without inspecting.
fn walk_json_ok(body: &[u8]) -> bool {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<serde::de::IgnoredAny>()
        .all(|r| r.is_ok())
}

/// One token without whitespace or `=` of its own that carries `%XX`
/// escapes: a value or a form encoded once more.
fn is_encoded_blob(body: &[u8]) -> bool {
    !body.iter().any(|b| b.is_ascii_whitespace() || *b == b'=')
        && body
            .windows(3)
            .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// `name=value(&name=value)*` on one line, names made of token characters;
/// after the first pair, bare pieces without `=` (`a=1&flag`) are allowed,
/// as in query strings.
fn looks_like_form(body: &[u8]) -> bool {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    !body.contains(&b'\n')
        && body.split(|b| *b == b'&').enumerate().all(|(i, pair)| {
            let eq = pair.iter().position(|b| *b == b'=');
            (i > 0 && eq.is_none())
                || eq.is_some_and(|eq| {
                    eq > 0
                        && pair[..eq].iter().all(|b| {
                            b.is_ascii_alphanumeric()
                                || matches!(b, b'_' | b'-' | b'.' | b'[' | b']' | b'%')
                        })
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf7_markup_is_decoded() {
        assert_eq!(
            utf7_decode(b"+ADwAIQ-DOCTYPE foo +ADw-foo+AD4AJg-xxe+ADs-"),
            b"<!DOCTYPE foo <foo>&xxe;"
        );
        assert_eq!(utf7_decode(b"1 +- 1 = 2, a+b"), b"1 + 1 = 2, a+b");
        assert!(declares_utf7(
            b"<?xml version=\"1.0\" encoding=\"UTF-7\"?><a/>"
        ));
        assert!(!declares_utf7(b"<?xml version=\"1.0\"?><a>utf-7</a>"));
    }

    #[test]
    fn prose_needs_the_look_of_sentences() {
        let prose = b"Thanks for the quick delivery, the parcel arrived on Monday and everything was in order.";
        assert_eq!(prose_source(prose), SourceKind::JsonValue);
        for value in [
            &b";find /etc -name passwd -exec cat {} + and some more words to make it long"[..],
            b"cd /;cd etc;bridge -b passwd",
            b"1' UNION SELECT username, password FROM users WHERE 1=1 -- and then some",
        ] {
            assert_eq!(prose_source(value), SourceKind::FormValue, "{value:?}");
        }
    }
}
