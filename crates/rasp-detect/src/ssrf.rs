//! SSRF: URL values whose host is internal, or whose scheme is dangerous.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Schemes that reach local files or speak raw protocols.
const DANGEROUS_SCHEMES: &[&str] = &[
    "gopher", "dict", "file", "jar", "netdoc", "expect", "phar", "tftp", "ldap", "ldaps", "sftp",
    "smb",
];
const WEB_SCHEMES: &[&str] = &["http", "https", "ftp", "ftps", "ws", "wss"];
const INTERNAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ipv6-localhost",
    "ip6-loopback",
    "metadata",
    "metadata.google.internal",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
    "kubernetes.default",
    "kubernetes.default.svc",
    "0",
];

/// IPv4 written as a decimal/hex/octal integer or dotted parts in any base
/// (`2130706433`, `0x7f.1`, `0177.0.0.1`), as inet_aton reads it.
fn parse_ipv4_loose(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x") {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if digits.is_empty() {
            nums.push(0u64);
            continue;
        }
        nums.push(u64::from_str_radix(digits, radix).ok()?);
    }
    let last = *nums.last()?;
    let head = &nums[..nums.len() - 1];
    if head.iter().any(|n| *n > 255) {
        return None;
    }
    let room = 8 * (4 - head.len() as u32);
    if room < 64 && last >= 1u64 << room {
        return None;
    }
    let mut v: u64 = 0;
    for (i, n) in head.iter().enumerate() {
        v |= n << (24 - 8 * i as u32);
    }
    v |= last;
    u32::try_from(v).ok().map(Ipv4Addr::from)
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.octets()[0] == 0
        || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
}

/// Whether a host names an internal address.
pub(crate) fn internal_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return false;
    }
    if INTERNAL_NAMES.contains(&host) || host.ends_with(".localhost") || host.ends_with(".internal")
    {
        return true;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let inner = inner.split('%').next().unwrap_or(inner);
        return inner.parse::<Ipv6Addr>().is_ok_and(internal_v6);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) => internal_v4(v4),
            IpAddr::V6(v6) => internal_v6(v6),
        };
    }
    if host
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'x')
    {
        return parse_ipv4_loose(host).is_some_and(internal_v4);
    }
    // nip.io-style names that embed a loopback address
    host.starts_with("127.") && host.split('.').take(4).all(|p| p.parse::<u8>().is_ok())
}

/// What an SSRF check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SsrfHit {
    DangerousScheme,
    InternalHost,
}

/// Scans a (decoded, lowercase) value for URLs and judges each. In free
/// text, `file://` URLs are ordinary (tool output, docs) and not judged.
pub(crate) fn check(v: &str, text: bool) -> Option<SsrfHit> {
    let mut rest = v;
    let mut guard = 0;
    while let Some(pos) = rest.find("://") {
        guard += 1;
        if guard > 16 {
            break;
        }
        // Scan back over ASCII scheme bytes: the start is always a char boundary.
        let bytes = rest.as_bytes();
        let mut scheme_start = pos;
        while scheme_start > 0 {
            let c = bytes[scheme_start - 1];
            if c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.' {
                scheme_start -= 1;
            } else {
                break;
            }
        }
        let scheme = &rest[scheme_start..pos];
        let after = &rest[pos + 3..];
        let authority_end = after
            .find(['/', '?', '#', ' ', '"', '\'', '<', '>', '\\'])
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        let hostport = authority.rsplit('@').next().unwrap_or(authority);
        let host = if hostport.starts_with('[') {
            hostport.find(']').map_or(hostport, |e| &hostport[..=e])
        } else {
            hostport.split(':').next().unwrap_or(hostport)
        };
        if DANGEROUS_SCHEMES.contains(&scheme) && !(text && scheme == "file") {
            return Some(SsrfHit::DangerousScheme);
        }
        if WEB_SCHEMES.contains(&scheme) && internal_host(host) {
            return Some(SsrfHit::InternalHost);
        }
        rest = &after[authority_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_hosts_in_every_spelling() {
        for h in [
            "127.0.0.1",
            "localhost",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "0x7f.1",
            "127.1",
            "169.254.169.254",
            "10.0.0.5",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[fd00::1]",
            "metadata.google.internal",
            "0.0.0.0",
            "2852039166",
        ] {
            assert!(internal_host(h), "{h}");
        }
        for h in [
            "example.com",
            "8.8.8.8",
            "[2001:db8::1]",
            "1.2.3.4",
            "deadbeef.com",
        ] {
            assert!(!internal_host(h), "{h}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            check("http://169.254.169.254/latest/meta-data", false),
            Some(SsrfHit::InternalHost)
        );
        assert_eq!(
            check("url=http://evil@127.0.0.1:80/", false),
            Some(SsrfHit::InternalHost)
        );
        assert_eq!(
            check("gopher://example.com:6379/_save", false),
            Some(SsrfHit::DangerousScheme)
        );
        assert_eq!(
            check("file:///etc/passwd", false),
            Some(SsrfHit::DangerousScheme)
        );
        assert_eq!(
            check("https://www.example.com/a?b=http://also.example.org", false),
            None
        );
        assert_eq!(check("see https://doc.rust-lang.org/book", false), None);
    }
}
