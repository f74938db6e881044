//! Request bodies: JSON (keys and values with JSON paths, bounded depth),
//! url-encoded forms, multipart (text fields, file names, the head of
//! files), XML and other text.

use rasp_detect::SourceKind;

use super::{Inspector, Key, RequestFindings};

/// How a body is read, from its `Content-Type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Form,
    Xml,
    Multipart(String),
    Text,
    /// No `Content-Type`: read by shape (many frameworks parse such a
    /// body anyway, and attackers drop the header to dodge body rules).
    Untyped,
}

/// The kind of body a request carries; `None` for bodies not inspected
/// (binary types, compressed bodies).
pub(crate) fn body_kind(headers: &http::HeaderMap) -> Option<BodyKind> {
    if let Some(enc) = headers.get(http::header::CONTENT_ENCODING)
        && !enc.as_bytes().eq_ignore_ascii_case(b"identity")
    {
        // Compressed bodies are not decompressed (documented): they pass.
        return None;
    }
    let original = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ct = original.to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim();
    Some(match mime {
        "application/json" | "text/json" => BodyKind::Json,
        m if m.ends_with("+json") => BodyKind::Json,
        "application/x-www-form-urlencoded" => BodyKind::Form,
        "application/xml" | "text/xml" => BodyKind::Xml,
        m if m.ends_with("+xml") => BodyKind::Xml,
        "multipart/form-data" => {
            // The boundary is case-sensitive: read it from the original value.
            let boundary = original
                .split(';')
                .filter_map(|p| {
                    let p = p.trim();
                    p.get(..9)
                        .filter(|k| k.eq_ignore_ascii_case("boundary="))
                        .map(|_| &p[9..])
                })
                .next()
                .map(|b| b.trim_matches('"').to_owned())?;
            BodyKind::Multipart(boundary)
        }
        "" => BodyKind::Untyped,
        "text/plain" => BodyKind::Text,
        m if m.starts_with("text/") => BodyKind::Text,
        _ => return None,
    })
}

/// Prose-like values (long, or with several spaces) are read as text, where
/// shell and CRLF patterns are ordinary.
fn value_source(v: &str) -> SourceKind {
    if v.len() > 64 || v.bytes().filter(|b| *b == b' ').count() >= 4 {
        SourceKind::JsonValue
    } else {
        SourceKind::FormValue
    }
}

fn walk_json(
    insp: &Inspector,
    route: Option<&str>,
    value: &serde_json::Value,
    path: &mut String,
    depth: usize,
    out: &mut RequestFindings,
) {
    if depth > insp.rules.max_json_depth {
        return;
    }
    match value {
        serde_json::Value::String(s) => {
            insp.value(route, Key::Static(path), s.as_bytes(), value_source(s), out)
        }
        serde_json::Value::Array(items) => {
            for item in items {
                let len = path.len();
                path.push_str("[]");
                walk_json(insp, route, item, path, depth + 1, out);
                path.truncate(len);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                insp.value(
                    route,
                    Key::Static(path),
                    k.as_bytes(),
                    SourceKind::JsonKey,
                    out,
                );
                walk_json(insp, route, v, path, depth + 1, out);
                path.truncate(len);
            }
        }
        _ => {}
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
            let headn = content.len().min(1024);
            let source = SourceKind::MultipartField;
            insp.value(route, Key::Static(&key), &content[..headn], source, out);
        }
        None => {
            let source = SourceKind::FormName;
            insp.value(route, Key::Static(&key), name.as_bytes(), source, out);
            let source = SourceKind::MultipartField;
            insp.value(route, Key::Static(&key), content, source, out);
        }
    }
}

/// Attribute values of an XML document (structured, like form values).
/// Text nodes are covered by the whole-document pass.
fn xml_values(insp: &Inspector, route: Option<&str>, body: &[u8], out: &mut RequestFindings) {
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

/// Inspects a (possibly truncated) body.
pub(crate) fn inspect_body(
    insp: &Inspector,
    route: Option<&str>,
    kind: &BodyKind,
    body: &[u8],
    out: &mut RequestFindings,
) {
    if body.is_empty() {
        return;
    }
    match kind {
        BodyKind::Json => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => {
                let mut path = String::from("body");
                walk_json(insp, route, &v, &mut path, 0, out);
            }
            // Not JSON after all (or truncated): read it as text.
            Err(_) => insp.value(route, Key::Static("body"), body, SourceKind::JsonValue, out),
        },
        BodyKind::Form => insp.pairs(route, body, super::Pairs::FORM, out),
        BodyKind::Xml => {
            insp.value(route, Key::Static("body.xml"), body, SourceKind::Xml, out);
            xml_values(insp, route, body, out);
        }
        BodyKind::Multipart(boundary) => multipart(insp, route, boundary, body, out),
        BodyKind::Text => insp.value(route, Key::Static("body"), body, SourceKind::JsonValue, out),
        BodyKind::Untyped => {
            if is_encoded_blob(body.trim_ascii()) {
                // Percent-encoded throughout, `=` included (`pay%3DAND+1%3D1`):
                // read what it encodes, once; the decoded body is sniffed
                // like any other.
                let plus = super::plus_as_space(body.trim_ascii());
                let decoded: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
                inspect_body(insp, route, &sniff(&decoded), &decoded, out);
            } else {
                inspect_body(insp, route, &sniff(body), body, out);
            }
        }
    }
}

/// What a body without a Content-Type holds.
fn sniff(body: &[u8]) -> BodyKind {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') if serde_json::from_slice::<serde_json::Value>(body).is_ok() => {
            BodyKind::Json
        }
        Some(b'<') => BodyKind::Xml,
        _ if looks_like_form(body) => BodyKind::Form,
        _ => BodyKind::Text,
    }
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
