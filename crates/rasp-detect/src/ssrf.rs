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
    "localhost4",
    "localhost6",
    "localhost4.localdomain4",
    "localhost6.localdomain6",
    "lvh.me",
    "localtest.me",
    "metadata.packet.net",
    "metadata.tencentyun.com",
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
        || ip.octets()[..3] == [192, 0, 0]
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let s = ip.segments();
    // IPv4-compatible form ::a.b.c.d
    if s[..6].iter().all(|x| *x == 0) && (s[6] != 0 || s[7] > 1) {
        return internal_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    // Loopback, unspecified, unique-local and link-local are all outside
    // global unicast (2000::/3), as are reserved and unallocated ranges
    // (`[a::]`, `[dead:beef::]`): nothing an application fetches.
    (s[0] & 0xe000) != 0x2000
}

/// Whether a host names an internal address.
pub(crate) fn internal_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return false;
    }
    if INTERNAL_NAMES.contains(&host)
        || host.ends_with(".localhost")
        || host.ends_with(".internal")
        || host.ends_with(".cluster.local")
        || host.ends_with(".lvh.me")
        || host.ends_with(".localtest.me")
    {
        return true;
    }
    // nip.io-style names that embed an address: 169.254.169.254.nip.io
    for suffix in [".nip.io", ".xip.io", ".sslip.io"] {
        if let Some(embedded) = host.strip_suffix(suffix) {
            let tail: Vec<&str> = embedded.rsplit(['.', '-']).take(4).collect();
            let ip: String = tail.iter().rev().copied().collect::<Vec<_>>().join(".");
            if ip.parse::<Ipv4Addr>().is_ok_and(internal_v4) {
                return true;
            }
        }
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
        if parse_ipv4_loose(host).is_some_and(internal_v4) {
            return true;
        }
        // Integers wider than 32 bits: some parsers keep the low 32 bits.
        let wide = match host.strip_prefix("0x") {
            Some(h) if !h.contains('.') => u128::from_str_radix(h, 16).ok(),
            None if !host.contains('.') && host.bytes().all(|b| b.is_ascii_digit()) => {
                host.parse::<u128>().ok()
            }
            _ => None,
        };
        if let Some(w) = wide.filter(|w| *w > u128::from(u32::MAX)) {
            return internal_v4(Ipv4Addr::from((w & 0xffff_ffff) as u32));
        }
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

fn host_of(authority: &str) -> &str {
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    if hostport.starts_with('[') {
        hostport.find(']').map_or(hostport, |e| &hostport[..=e])
    } else {
        hostport.split(':').next().unwrap_or(hostport)
    }
}

fn authority_end(s: &str) -> usize {
    s.find(['/', '?', '#', ' ', '"', '\'', '<', '>', '\\', '&'])
        .unwrap_or(s.len())
}

/// Scans a (decoded, lowercase) value for URLs and judges each: any scheme
/// with an internal host (also `http:127.0.0.1` without slashes, and hosts
/// after an `@` anywhere in the URL), or a dangerous scheme. In free text,
/// `file://` URLs are ordinary (tool output, docs) and not judged.
pub(crate) fn check(v: &str, text: bool) -> Option<SsrfHit> {
    let hit = check_once(v, text);
    if hit.is_none() && v.contains("://\\") {
        // Shell-escaped host names (`http://\\l\\o\\c\\a\\l\\h\\o\\s\\t/` as it
        // arrives once JSON or C escapes were read, `\\t` possibly read as a
        // tab): URL parsers drop tabs and newlines, so they go too.
        return check_once(&v.replace(['\\', '\t', '\n', '\r'], ""), text);
    }
    hit
}

fn check_once(v: &str, text: bool) -> Option<SsrfHit> {
    let bytes = v.as_bytes();
    let mut from = 0;
    let mut guard = 0;
    while let Some(rel) = v[from..].find(':') {
        guard += 1;
        if guard > 32 {
            break;
        }
        let pos = from + rel;
        from = pos + 1;
        let mut start = pos;
        while start > 0 {
            let c = bytes[start - 1];
            if c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.' {
                start -= 1;
            } else {
                break;
            }
        }
        let scheme = &v[start..pos];
        if scheme.is_empty() || !scheme.as_bytes()[0].is_ascii_alphabetic() || scheme.len() > 16 {
            continue;
        }
        let rest = &v[pos + 1..];
        let slashed = rest.starts_with("//");
        let after = rest.trim_start_matches('/');
        if DANGEROUS_SCHEMES.contains(&scheme) && slashed && !(text && scheme == "file") {
            return Some(SsrfHit::DangerousScheme);
        }
        // Without `//` only the web schemes count (`http:127.0.0.1`); `a:b`
        // in prose is not a URL.
        if !slashed && !WEB_SCHEMES.contains(&scheme) {
            continue;
        }
        // Free text (documentation, pasted code) mentions local URLs
        // (`redis://127.0.0.1/`): there, only a value that is a URL is
        // one an application would fetch.
        if text
            && !v[..start]
                .trim_start_matches([' ', '\t', '"', '\''])
                .is_empty()
        {
            continue;
        }
        let authority = &after[..authority_end(after)];
        if internal_host(host_of(authority)) {
            return Some(SsrfHit::InternalHost);
        }
        // Parser confusion: `http://good.com &@127.0.0.1/`
        let end = after.find(['"', '\'', '<', '>']).unwrap_or(after.len());
        for part in after[..end].split('@').skip(1) {
            if internal_host(host_of(&part[..authority_end(part)])) {
                return Some(SsrfHit::InternalHost);
            }
        }
    }
    None
}

/// A value that is itself an internal host name (`localhost.localdomain/`,
/// `host.docker.internal`), as in `?url=` parameters without a scheme.
pub(crate) fn bare_internal_host(v: &str) -> bool {
    let host = v.split(['/', '?', '#']).next().unwrap_or(v);
    let host = host.split(':').next().unwrap_or(host);
    // Names only: bare numbers and hex (`0x0`) are ordinary values.
    !host.is_empty()
        && host.len() < 80
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && host.split('.').any(|label| {
            label.len() > 1
                && !label.starts_with("0x")
                && label.bytes().any(|b| b.is_ascii_alphabetic())
        })
        && internal_host(host)
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
    fn bare_host_names() {
        for v in [
            "localhost4/",
            "ip6-loopback/",
            "host.docker.internal",
            "localhost:8080/x",
        ] {
            assert!(bare_internal_host(v), "{v}");
        }
        for v in ["0x7f/", "2130706433", "abc123/", "example.com/", "12/"] {
            assert!(!bare_internal_host(v), "{v}");
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
