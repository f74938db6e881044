//! The caller's device: a coarse fingerprint (browser family, OS, platform
//! hint, language) and an HMAC-signed device-id cookie.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

/// Browser family and OS from a `User-Agent`.
///
/// Written here rather than taken from a full UA parser: the fingerprint
/// needs only a family and an OS, and full parsers ship large regex sets
/// that cost memory and start-up time on every request path.
pub(crate) fn family_and_os(ua: &str) -> (&'static str, &'static str) {
    // Products write their tokens in one canonical case; matching them as
    // written avoids lowercasing (an allocation) on every request.
    let has = |t: &str| ua.contains(t);
    let family = if has("Edg/") || has("Edge/") {
        "edge"
    } else if has("OPR/") || has("Opera") {
        "opera"
    } else if has("Firefox/") || has("FxiOS/") {
        "firefox"
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        "chrome"
    } else if has("Safari/") {
        "safari"
    } else if ua.starts_with("curl/") {
        "curl"
    } else if has("okhttp") || has("python") || has("Python") || has("Go-http") || has("Java/") {
        "library"
    } else if ua.is_empty() {
        "none"
    } else {
        "other"
    };
    let os = if has("Android") {
        "android"
    } else if has("iPhone") || has("iPad") || has("iOS") {
        "ios"
    } else if has("Windows") {
        "windows"
    } else if has("Mac OS") || has("Macintosh") {
        "macos"
    } else if has("CrOS") {
        "chromeos"
    } else if has("Linux") {
        "linux"
    } else {
        "other"
    };
    (family, os)
}

/// A stable hash of the device's coarse features: UA family and OS,
/// `Sec-CH-UA-Platform` / `Sec-CH-UA-Mobile` when sent, and the primary
/// `Accept-Language`.
pub(crate) fn fingerprint(headers: &HeaderMap) -> u64 {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (family, os) = family_and_os(get("user-agent"));
    let lang = get("accept-language")
        .split([',', ';'])
        .next()
        .unwrap_or("")
        .trim();
    let mut h = Fnv::default();
    for part in [
        family,
        os,
        get("sec-ch-ua-platform"),
        get("sec-ch-ua-mobile"),
        lang,
    ] {
        for b in part.bytes() {
            h.write(&[b.to_ascii_lowercase()]);
        }
        h.write(&[0]);
    }
    h.0
}

/// FNV-1a (64-bit): a stable, fast hash of a few short strings. The
/// fingerprint is stored in subject histories shared between replicas and
/// versions, so it must not depend on a process's random hasher keys; it
/// is not a security boundary (the device cookie is signed).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The device-id cookie: name and HMAC key.
#[derive(Clone)]
pub(crate) struct DeviceCookie {
    pub(crate) name: String,
    /// The HMAC with its key already absorbed (the key's two blocks are
    /// hashed once, not per request).
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for DeviceCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCookie")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl DeviceCookie {
    pub(crate) fn new(name: String, key: [u8; 32]) -> Self {
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
        Self { name, keyed }
    }

    fn mac(&self, id: &str) -> String {
        let mut m = self.keyed.clone();
        m.update(id.as_bytes());
        URL_SAFE_NO_PAD.encode(&m.finalize().into_bytes()[..16])
    }

    /// Whether `mac` (base64url, unpadded) is the first 16 bytes of the
    /// HMAC of `id`, compared in constant time.
    fn verifies(&self, id: &str, mac: &str) -> bool {
        let mut tag = [0u8; 16];
        if mac.len() != 22 || URL_SAFE_NO_PAD.decode_slice(mac, &mut tag) != Ok(16) {
            return false;
        }
        let mut m = self.keyed.clone();
        m.update(id.as_bytes());
        m.verify_truncated_left(&tag).is_ok()
    }

    /// The verified device id of the request's cookie, if any.
    pub(crate) fn read(&self, headers: &HeaderMap) -> Option<String> {
        for value in headers.get_all(http::header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for pair in text.split(';') {
                let Some((name, val)) = pair.trim().split_once('=') else {
                    continue;
                };
                if name != self.name {
                    continue;
                }
                let (id, mac) = val.split_once('.')?;
                if id.len() == 22 && self.verifies(id, mac) {
                    return Some(id.to_owned());
                }
            }
        }
        None
    }

    /// A `Set-Cookie` value for a new device id.
    pub(crate) fn issue(&self, id: &str) -> String {
        format!(
            "{}={}.{}; Path=/; Max-Age=31536000; HttpOnly; Secure; SameSite=Lax",
            self.name,
            id,
            self.mac(id)
        )
    }
}

/// A compact key for "this device": the cookie id when present, else the fingerprint.
pub(crate) fn device_key(cookie_id: Option<&str>, fingerprint: u64) -> u64 {
    match cookie_id {
        Some(id) => {
            let mut h = Fnv::default();
            h.write(b"cookie\0");
            h.write(id.as_bytes());
            h.0
        }
        None => fingerprint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_oses() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(family_and_os(chrome), ("chrome", "windows"));
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(family_and_os(safari), ("safari", "ios"));
        assert_eq!(family_and_os("curl/8.4.0"), ("curl", "other"));
        let ff = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
        assert_eq!(family_and_os(ff), ("firefox", "linux"));
    }

    #[test]
    fn fingerprint_ignores_versions_but_not_os() {
        let mut a = HeaderMap::new();
        a.insert(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/119.0"
                .parse()
                .unwrap(),
        );
        let mut b = HeaderMap::new();
        b.insert(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.1"
                .parse()
                .unwrap(),
        );
        let mut c = HeaderMap::new();
        c.insert(
            "user-agent",
            "Mozilla/5.0 (Windows NT 10.0) Chrome/120.1"
                .parse()
                .unwrap(),
        );
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn cookies_verify_and_reject_tampering() {
        let dc = DeviceCookie::new("rasp_did".into(), [7; 32]);
        let id = "AAAAAAAAAAAAAAAAAAAAAA";
        let set = dc.issue(id);
        assert!(set.contains("HttpOnly; Secure; SameSite=Lax"));
        let value = set.split(';').next().unwrap();
        let mut h = HeaderMap::new();
        h.insert("cookie", format!("other=1; {value}").parse().unwrap());
        assert_eq!(dc.read(&h).as_deref(), Some(id));
        let mut t = HeaderMap::new();
        t.insert("cookie", value.replace("AAAA.", "AAAB.").parse().unwrap());
        assert_eq!(dc.read(&t), None);
        let other = DeviceCookie::new("rasp_did".into(), [8; 32]);
        assert_eq!(other.read(&h), None);
    }
}
