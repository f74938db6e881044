//! The path guard: an input that climbs out of the directory the
//! application meant, or makes the path absolute.

use crate::{Injection, Sink, first_injection};

/// Whose path rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Platform {
    /// `/` separates; `/…` is absolute.
    #[default]
    Unix,
    /// `/` and `\` separate; `C:…`, `\…`, `/…` and `\\server` are rooted.
    Windows,
}

impl Platform {
    /// The platform this process runs on.
    #[must_use]
    pub fn current() -> Self {
        if cfg!(windows) {
            Self::Windows
        } else {
            Self::Unix
        }
    }

    /// The platform a name gives (`linux`, `unix`, `macos`, `windows`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "linux" | "unix" | "macos" | "darwin" | "bsd" => Self::Unix,
            "windows" | "win" => Self::Windows,
            _ => return None,
        })
    }

    fn is_sep(self, b: u8) -> bool {
        b == b'/' || (self == Self::Windows && b == b'\\')
    }

    /// Whether `p` is rooted: `/x`, and on Windows `C:`, `\x`, `\\server`.
    fn rooted(self, p: &[u8]) -> bool {
        match self {
            Self::Unix => p.first() == Some(&b'/'),
            Self::Windows => {
                matches!(p.first(), Some(b'/' | b'\\'))
                    || (p.len() >= 2 && p[0].is_ascii_alphabetic() && p[1] == b':')
            }
        }
    }
}

/// How deep a path's directories go after its segments (`.` stays,
/// `..` climbs): the depth, and the least depth reached on the way.
fn walk(segments: &[u8], platform: Platform, mut depth: isize) -> (isize, isize) {
    let mut least = depth;
    for seg in segments.split(|b| platform.is_sep(*b)) {
        match seg {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                least = least.min(depth);
            }
            _ => depth += 1,
        }
    }
    (depth, least)
}

fn judge(p: &[u8], platform: Platform, s: usize, e: usize) -> Option<&'static str> {
    let input = &p[s..e];
    if input.contains(&0) {
        return Some("carries a NUL byte");
    }
    if s == 0 && platform.rooted(p) {
        return Some("makes the path absolute");
    }
    if platform == Platform::Windows
        && (input
            .windows(2)
            .any(|w| w[1] == b':' && w[0].is_ascii_alphabetic())
            && s > 0)
    {
        return Some("names a drive or a stream");
    }
    // the directory the application meant: what precedes the input, up to
    // its last separator; the input may not climb above it
    let base_end = p[..s]
        .iter()
        .rposition(|b| platform.is_sep(*b))
        .map_or(0, |i| i + 1);
    let (base, _) = walk(&p[..base_end], platform, 0);
    let (_, least) = walk(&p[base_end..], platform, base);
    let climbs_in_input = walk(input, platform, 0).1 < 0
        || input.split(|b| platform.is_sep(*b)).any(|seg| seg == b"..");
    (least < base && climbs_in_input).then_some("climbs out of its directory")
}

/// Checks a file path about to be opened against the request's inputs:
/// `Err` names the first input that makes the path absolute (the path
/// starts with it), climbs with `..` above the directory that precedes it,
/// carries a NUL byte, or (Windows) names a drive or an alternate stream.
///
/// # Errors
///
/// The injection found.
pub fn path(path: &str, platform: Platform, inputs: &[&str]) -> Result<(), Injection> {
    let p = path.as_bytes();
    first_injection(Sink::Path, p, inputs, |s, e| judge(p, platform, s, e))
}
