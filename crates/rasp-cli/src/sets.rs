//! `rasp build-sets`: benign sets the detectors were never tuned on, built
//! from the documentation installed on this machine (crate READMEs and
//! docs in the cargo registry, man pages, `/usr/share/doc`), as developers
//! and support staff would paste it into a comment field.
//!
//! Each paragraph becomes two records in the corpus format (a JSON
//! comment field, `location: json_comment`, and a form field,
//! `location: body_form`), subset `prose`, `code` (fenced or indented
//! blocks of Markdown), `man` or `doc`. One paragraph in five (by a hash
//! of its text, so the split is stable across rebuilds) goes to the
//! held-out file, to be measured only at the end of a change. The text
//! stays on the machine it came from: only this builder is in the
//! repository.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde_json::json;

/// Paragraphs shorter than this are headings, labels or noise.
const MIN_LEN: usize = 40;
/// Longer paragraphs are cut at a line boundary (a comment field's size).
const MAX_LEN: usize = 2000;

/// One paragraph and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph {
    /// `prose`, `code`, `man` or `doc`.
    pub subset: &'static str,
    /// The file it came from.
    pub source: String,
    /// Its text.
    pub text: String,
}

/// FNV-1a, 64 bits: a stable id and split without a dependency.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether a paragraph goes to the held-out file.
#[must_use]
pub fn held_out(text: &str) -> bool {
    fnv(text).is_multiple_of(5)
}

fn keep(text: &str) -> Option<String> {
    let t = text.trim();
    if t.len() < MIN_LEN {
        return None;
    }
    if t.len() <= MAX_LEN {
        return Some(t.to_owned());
    }
    let mut cut = MAX_LEN;
    while !t.is_char_boundary(cut) {
        cut -= 1;
    }
    let cut = t[..cut].rfind('\n').unwrap_or(cut);
    (cut >= MIN_LEN).then(|| t[..cut].to_owned())
}

/// The paragraphs of a Markdown document: prose (lines joined with
/// spaces) and code blocks (fenced or indented, kept as they are).
/// Headings, tables, HTML, images and link definitions are left out.
#[must_use]
pub fn markdown(doc: &str, source: &str) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut prose: Vec<&str> = Vec::new();
    let mut code: Option<(String, Vec<&str>)> = None;
    let mut indented: Vec<&str> = Vec::new();
    let push = |out: &mut Vec<Paragraph>, subset, text: String| {
        if let Some(text) = keep(&text) {
            out.push(Paragraph {
                subset,
                source: source.to_owned(),
                text,
            });
        }
    };
    let flush_prose = |out: &mut Vec<Paragraph>, prose: &mut Vec<&str>| {
        if !prose.is_empty() {
            push(out, "prose", prose.join(" "));
            prose.clear();
        }
    };
    for line in doc.lines() {
        let trimmed = line.trim_start();
        if let Some((fence, lines)) = &mut code {
            if trimmed.starts_with(fence.as_str()) {
                push(&mut out, "code", lines.join("\n"));
                code = None;
            } else {
                lines.push(line);
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            flush_prose(&mut out, &mut prose);
            code = Some((trimmed[..3].to_owned(), Vec::new()));
            continue;
        }
        let is_indented = line.starts_with("    ") || line.starts_with('\t');
        if is_indented && prose.is_empty() && !line.trim().is_empty() {
            indented.push(
                line.trim_start_matches('\t')
                    .strip_prefix("    ")
                    .unwrap_or(line),
            );
            continue;
        }
        if !indented.is_empty() {
            push(&mut out, "code", indented.join("\n"));
            indented.clear();
        }
        if line.trim().is_empty() {
            flush_prose(&mut out, &mut prose);
            continue;
        }
        let skip = trimmed.starts_with('#')
            || trimmed.starts_with('|')
            || trimmed.starts_with('<')
            || trimmed.starts_with("![")
            || trimmed.starts_with("[![")
            || (trimmed.starts_with('[') && trimmed.contains("]: "))
            || trimmed
                .chars()
                .all(|c| matches!(c, '-' | '=' | '*' | '_' | ' '));
        if skip {
            flush_prose(&mut out, &mut prose);
            continue;
        }
        prose.push(trimmed);
    }
    flush_prose(&mut out, &mut prose);
    if !indented.is_empty() {
        push(&mut out, "code", indented.join("\n"));
    }
    out
}

/// The paragraphs of plain text (blank-line separated, lines joined).
#[must_use]
pub fn plain(doc: &str, subset: &'static str, source: &str) -> Vec<Paragraph> {
    doc.split("\n\n")
        .filter_map(|p| {
            let joined: Vec<&str> = p.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            keep(&joined.join(" ")).map(|text| Paragraph {
                subset,
                source: source.to_owned(),
                text,
            })
        })
        .collect()
}

fn read_text(path: &Path) -> Option<String> {
    let mut bytes = Vec::new();
    let mut f = std::fs::File::open(path).ok()?;
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(f)
            .take(1 << 20)
            .read_to_end(&mut bytes)
            .ok()?;
    } else {
        std::io::Read::take(&mut f, 1 << 20)
            .read_to_end(&mut bytes)
            .ok()?;
    }
    String::from_utf8(bytes).ok()
}

fn files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if depth > 0 {
                files(&p, depth - 1, out);
            }
        } else {
            out.push(p);
        }
    }
}

/// Crate READMEs and Markdown docs in the cargo registry.
fn registry(home: &Path) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut paths = Vec::new();
    files(&home.join(".cargo/registry/src"), 3, &mut paths);
    for p in paths {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.to_ascii_lowercase().ends_with(".md") || name.eq_ignore_ascii_case("CHANGELOG.md")
        {
            continue;
        }
        if let Some(text) = read_text(&p) {
            out.extend(markdown(&text, &p.display().to_string()));
        }
    }
    out
}

/// READMEs, NEWS and other text under `/usr/share/doc`.
fn share_doc() -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut paths = Vec::new();
    files(Path::new("/usr/share/doc"), 1, &mut paths);
    for p in paths {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let wanted = ["readme", "news", "faq", "intro", "todo"]
            .iter()
            .any(|w| name.starts_with(w));
        if !wanted || name.contains("debian") {
            continue;
        }
        if let Some(text) = read_text(&p) {
            let subset = if name.ends_with(".md") || name.ends_with(".md.gz") {
                None
            } else {
                Some("doc")
            };
            match subset {
                Some(s) => out.extend(plain(&text, s, &p.display().to_string())),
                None => out.extend(markdown(&text, &p.display().to_string())),
            }
        }
    }
    out
}

/// Man pages of sections 1, 5 and 8, rendered by `man` (every `step`-th
/// page, so that the set stays small; none when `man` is missing).
fn man_pages(step: usize) -> Vec<Paragraph> {
    let mut out = Vec::new();
    for section in ["man1", "man5", "man8"] {
        let mut paths = Vec::new();
        files(&Path::new("/usr/share/man").join(section), 0, &mut paths);
        for p in paths.iter().step_by(step.max(1)) {
            let Ok(o) = std::process::Command::new("man")
                .arg("-l")
                .arg(p)
                .env("MANWIDTH", "100")
                .env("MAN_KEEP_FORMATTING", "0")
                .env("GROFF_NO_SGR", "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .output()
            else {
                return out;
            };
            // overstrike formatting: `x\bx` is bold, `_\bx` underlined
            let mut text = String::new();
            for c in String::from_utf8_lossy(&o.stdout).chars() {
                if c == '\u{8}' {
                    text.pop();
                } else {
                    text.push(c);
                }
            }
            out.extend(plain(&text, "man", &p.display().to_string()));
        }
    }
    out
}

/// User-Agent strings of browser lists (JSON or JSON Lines, as packages
/// on PyPI and npm ship them): every string under a key spelled
/// `useragent`, `userAgent` or `user_agent`, at any depth.
///
/// # Errors
///
/// A file that cannot be read or is not JSON.
pub fn user_agents(paths: &[PathBuf]) -> std::io::Result<Vec<Paragraph>> {
    fn walk(v: &serde_json::Value, source: &str, out: &mut Vec<Paragraph>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = k.to_ascii_lowercase().replace('_', "");
                    match v {
                        serde_json::Value::String(s) if key == "useragent" => out.push(Paragraph {
                            subset: "user-agent",
                            source: source.to_owned(),
                            text: s.clone(),
                        }),
                        _ => walk(v, source, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, source, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p)?;
        let source = p.display().to_string();
        let bad = |e: serde_json::Error| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{source}: {e}"))
        };
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            walk(&v, &source, &mut out);
        } else {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                walk(&serde_json::from_str(line).map_err(bad)?, &source, &mut out);
            }
        }
    }
    Ok(out)
}

/// Builds the sets into `dir` (`tune.jsonl`, `heldout.jsonl`): the number
/// of paragraphs (and User-Agent strings) written to each. The browser
/// lists in `user_agent_files` become `User-Agent` headers, subset
/// `user-agent`.
///
/// # Errors
///
/// When `dir` cannot be written or a browser list read.
pub fn build(
    dir: &Path,
    man_step: usize,
    user_agent_files: &[PathBuf],
) -> std::io::Result<(usize, usize)> {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    let mut all = registry(&home);
    all.extend(share_doc());
    all.extend(man_pages(man_step));
    all.extend(user_agents(user_agent_files)?);
    std::fs::create_dir_all(dir)?;
    let mut tune = std::io::BufWriter::new(std::fs::File::create(dir.join("tune.jsonl"))?);
    let mut held = std::io::BufWriter::new(std::fs::File::create(dir.join("heldout.jsonl"))?);
    let mut seen = BTreeSet::new();
    let (mut n_tune, mut n_held) = (0, 0);
    for p in all {
        if !seen.insert(fnv(&p.text)) {
            continue;
        }
        let (out, n) = if held_out(&p.text) {
            (&mut held, &mut n_held)
        } else {
            (&mut tune, &mut n_tune)
        };
        *n += 1;
        let locations: &[&str] = if p.subset == "user-agent" {
            &["header"]
        } else {
            &["json_comment", "body_form"]
        };
        for location in locations {
            let record = json!({
                "id": format!("o-{:016x}-{location}", fnv(&p.text)),
                "source": p.source,
                "class": "benign",
                "location": location,
                "param": "user-agent",
                "encoding": "none",
                "payload": p.text,
                "subset": p.subset,
            });
            writeln!(out, "{record}")?;
        }
    }
    tune.flush()?;
    held.flush()?;
    Ok((n_tune, n_held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_gives_prose_and_code_apart() {
        let doc = "# Title\n\nThis crate parses things quickly and it is well tested by many users.\nSecond line of it.\n\n```rust\nlet parsed = parse(\"a\")?;\nprintln!(\"{parsed}\");\n```\n\n| a | b |\n|---|---|\n\n    indented code block that is long enough to be kept here\n\nLast paragraph of prose that is long enough to be kept too.\n";
        let p = markdown(doc, "x");
        let subsets: Vec<_> = p.iter().map(|p| p.subset).collect();
        assert_eq!(subsets, ["prose", "code", "code", "prose"], "{p:?}");
        assert_eq!(
            p[0].text,
            "This crate parses things quickly and it is well tested by many users. Second line of it."
        );
        assert_eq!(
            p[1].text,
            "let parsed = parse(\"a\")?;\nprintln!(\"{parsed}\");"
        );
    }

    #[test]
    fn the_split_is_stable() {
        let n = (0..1000)
            .filter(|i| held_out(&format!("paragraph {i}")))
            .count();
        assert!((150..250).contains(&n), "{n}");
        assert_eq!(held_out("same text"), held_out("same text"));
    }
}
