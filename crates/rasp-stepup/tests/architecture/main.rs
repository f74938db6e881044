//! Dependencies between the top-level modules of `rasp-stepup` and
//! `rasp-detect` point one way (docs/architecture.md).
//!
//! A module is a file or folder directly under `src/`. A path `crate::X`
//! in module Y's code outside its tests is an arrow Y → X; a name the crate
//! root re-exports (`crate::Policy`) counts as an arrow to the module that
//! defines it. No arrows may form a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The module's source files, each without comments and test code.
fn sources(path: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            let entries = std::fs::read_dir(&p).expect("src is readable");
            stack.extend(entries.map(|e| e.expect("entry").path()));
        } else if p.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&p).expect("source is readable");
            files.push(code_only(&text));
        }
    }
    files
}

/// The text before the first `#[cfg(test)]`, without `//` comments.
fn code_only(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first names after each `crate::` (every top-level item of a
/// `crate::{a, b::c}` group).
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        out.insert(ident(&group[i..]).to_owned());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest).to_owned());
        }
    }
    out
}

/// Names the crate root re-exports, with the module each comes from.
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stmt in code_only(lib).split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let module = ident(rest).to_owned();
        let names = rest[module.len()..].trim_start_matches("::");
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = ident(name.trim());
            if !name.is_empty() {
                out.insert(name.to_owned(), module.clone());
            }
        }
    }
    out
}

fn graph(src: &Path) -> Graph {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let exports = root_exports(&lib);
    let modules: BTreeMap<String, PathBuf> = std::fs::read_dir(src)
        .expect("src")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_owned();
            (name != "lib" && (p.is_dir() || p.extension().is_some_and(|e| e == "rs")))
                .then_some((name, p))
        })
        .collect();
    let mut g = Graph::new();
    for (name, path) in &modules {
        let arrows = g.entry(name.clone()).or_default();
        for code in sources(path) {
            for target in crate_paths(&code) {
                let target = exports.get(&target).cloned().unwrap_or(target);
                if &target != name && modules.contains_key(&target) {
                    arrows.insert(target);
                }
            }
        }
    }
    g
}

/// A circle of arrows, if any, as the modules along it.
fn circle(g: &Graph) -> Option<Vec<String>> {
    fn visit(g: &Graph, m: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> bool {
        if let Some(i) = path.iter().position(|p| p == m) {
            path.drain(..i);
            path.push(m.to_owned());
            return true;
        }
        if done.contains(m) {
            return false;
        }
        path.push(m.to_owned());
        for next in g.get(m).into_iter().flatten() {
            if visit(g, next, path, done) {
                return true;
            }
        }
        path.pop();
        done.insert(m.to_owned());
        false
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        let mut path = Vec::new();
        if visit(g, m, &mut path, &mut done) {
            return Some(path);
        }
    }
    None
}

fn src_of(krate: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("src")
}

#[test]
fn no_import_circle_between_top_level_modules() {
    for krate in ["rasp-stepup", "rasp-detect"] {
        let g = graph(&src_of(krate));
        assert!(g.len() > 4, "{krate}: modules not found");
        if let Some(c) = circle(&g) {
            panic!("{krate}: import circle {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_check_sees_arrows_and_circles() {
    // grouped, nested and re-exported paths are arrows; comments and
    // tests are not
    let code = code_only(
        "use crate::{a::X, b::{c, d}};\n// crate::ignored\nfn f() { crate::e::g(); }\n#[cfg(test)]\nmod tests { use crate::t; }",
    );
    let found: Vec<_> = crate_paths(&code).into_iter().collect();
    assert_eq!(found, ["a", "b", "e"]);
    let exports = root_exports("pub use level::Sensitivity;\npub use risk::{Assessment, Signal};");
    assert_eq!(exports.get("Signal").map(String::as_str), Some("risk"));
    assert_eq!(
        exports.get("Sensitivity").map(String::as_str),
        Some("level")
    );
    let mut g = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        g.entry(from.into()).or_default().insert(to.into());
    }
    assert_eq!(
        circle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    g.get_mut("c").map(|s| s.remove("a"));
    assert_eq!(circle(&g), None);
    // and the real graph has the arrows the code shows
    let real = graph(&src_of("rasp-stepup"));
    assert!(real["layer"].contains("evaluate"));
    assert!(real["evaluate"].contains("risk"));
}
