//! The URL guard (SSRF): an input that chooses the scheme or the host of
//! an outbound request, or climbs out of its path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{Injection, Sink, first_injection};

/// Byte ranges of a URL as written: scheme, authority, path.
struct Parts {
    scheme: (usize, usize),
    authority: (usize, usize),
    path: (usize, usize),
}

fn parts(u: &[u8]) -> Option<Parts> {
    let colon = u.iter().position(|b| *b == b':')?;
    let scheme_ok = colon > 0
        && u[0].is_ascii_alphabetic()
        && u[..colon]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(b));
    if !scheme_ok {
        return None;
    }
    let rest = colon + 1;
    // `\` counts as `/` for special schemes, as browsers and the WHATWG
    // parser read it
    let slash = |b: u8| b == b'/' || b == b'\\';
    let (auth_start, auth_end) = if u.len() >= rest + 2 && slash(u[rest]) && slash(u[rest + 1]) {
        let a = rest + 2;
        let end = u[a..]
            .iter()
            .position(|b| slash(*b) || *b == b'?' || *b == b'#')
            .map_or(u.len(), |p| a + p);
        (a, end)
    } else {
        (rest, rest)
    };
    let path_end = u[auth_end..]
        .iter()
        .position(|b| *b == b'?' || *b == b'#')
        .map_or(u.len(), |p| auth_end + p);
    Some(Parts {
        scheme: (0, colon),
        authority: (auth_start, auth_end),
        path: (auth_end, path_end),
    })
}

/// Bytes that end or split an authority (`@`, `/`, `\\`, `#`, `?`, ASCII
/// whitespace): from an input inside a written authority, they move the
/// host the application meant.
const MOVES_HOST: [bool; 256] = {
    let mut t = [false; 256];
    let bytes = b"@/\\#? \t\n\x0b\x0c\r";
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
};

fn overlaps((a, b): (usize, usize), s: usize, e: usize) -> bool {
    s < b && a < e
}

/// The host of an authority that is a plain DNS name, which the WHATWG
/// parser keeps as written (lowercase letters, digits, `-`, dots, a last
/// label that is not a number, no user info, an optional numeric port);
/// `None` for anything it would have to interpret (numbers, IPv6,
/// percent-escapes, upper case, `@`).
fn plain_domain(authority: &[u8]) -> Option<&str> {
    let host = match authority.iter().rposition(|b| *b == b':') {
        Some(i) if authority[i + 1..].iter().all(u8::is_ascii_digit) => &authority[..i],
        Some(_) => return None,
        None => authority,
    };
    let ok = !host.is_empty()
        && host
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
        && host
            .rsplit(|b| *b == b'.')
            .find(|l| !l.is_empty())
            .is_some_and(|last| {
                last.iter().any(u8::is_ascii_lowercase) && !last.starts_with(b"0x")
            })
        && !host.split(|b| *b == b'.').any(|l| l.starts_with(b"xn--"));
    if ok {
        std::str::from_utf8(host).ok()
    } else {
        None
    }
}

/// The address of an authority that is four decimal octets without
/// leading zeros (and an optional numeric port), which the WHATWG parser
/// reads as the same address; `None` for any other spelling (`0x7f.1`,
/// `2130706433`, `010.0.0.1` are left to the parser).
fn plain_ipv4(authority: &[u8]) -> Option<Ipv4Addr> {
    let host = match authority.iter().rposition(|b| *b == b':') {
        Some(i) if authority[i + 1..].iter().all(u8::is_ascii_digit) => &authority[..i],
        Some(_) => return None,
        None => authority,
    };
    if host.len() > 15 || !host.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return None;
    }
    // std's parser takes exactly four decimal octets and refuses leading
    // zeros, the one spelling where it and the WHATWG parser would differ
    std::str::from_utf8(host).ok()?.parse().ok()
}

/// Whether an address is one an outbound request chosen by a client must
/// not reach: loopback, private, link-local (cloud metadata), shared
/// (CGNAT), unspecified, broadcast, documentation, unique local IPv6, and
/// IPv4 mapped or translated into IPv6.
pub(crate) fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let seg = v6.segments();
            // NAT64 64:ff9b::/96 and the deprecated compatible ::a.b.c.d
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || (seg[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified())
            {
                let v4 = Ipv4Addr::new(
                    (seg[6] >> 8) as u8,
                    seg[6] as u8,
                    (seg[7] >> 8) as u8,
                    seg[7] as u8,
                );
                return internal_v4(v4);
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

fn internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && v4.octets()[2] == 0)
        || a >= 240
}

/// Whether a host (as the WHATWG parser normalized it) is internal: an
/// internal address, `localhost` and its subdomains, metadata names.
fn internal_host(host: &::url::Host<&str>) -> bool {
    match host {
        ::url::Host::Ipv4(v4) => internal_v4(*v4),
        ::url::Host::Ipv6(v6) => internal(IpAddr::V6(*v6)),
        ::url::Host::Domain(d) => {
            // without an allocation: this runs for every host an input chose
            let d = d.trim_end_matches('.').as_bytes();
            let is = |name: &[u8]| d.eq_ignore_ascii_case(name);
            let ends = |suffix: &[u8]| {
                d.len() >= suffix.len() && d[d.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            };
            is(b"localhost")
                || ends(b".localhost")
                || ends(b".internal")
                || ends(b".local")
                || is(b"metadata")
                || (d.len() > 9 && d[..9].eq_ignore_ascii_case(b"metadata."))
                || is(b"instance-data")
        }
    }
}

fn judge(
    u: &[u8],
    p: &Parts,
    parsed: &mut dyn FnMut() -> Option<::url::Url>,
    s: usize,
    e: usize,
) -> Option<&'static str> {
    let input = &u[s..e];
    if overlaps(p.scheme, s, e) {
        let scheme = &u[p.scheme.0..p.scheme.1];
        if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
            return Some("chooses a scheme other than http(s)");
        }
    }
    if overlaps(p.authority, s, e) || (overlaps(p.scheme, s, e) && e > p.scheme.1) {
        // the input reaches the authority: it chose or changed the host
        // the application wrote the scheme and text after the input: a
        // delimiter from the input moves the host the application meant
        let app_around = s >= p.authority.0 && e < u.len();
        if app_around && input.iter().any(|b| MOVES_HOST[usize::from(*b)]) {
            return Some("changes the host");
        }
        let authority = &u[p.authority.0..p.authority.1];
        match (plain_domain(authority), plain_ipv4(authority)) {
            // a name the parser would keep as it is: judged as written
            (Some(name), _) => {
                if internal_host(&::url::Host::Domain(name)) {
                    return Some("chooses an internal host");
                }
            }
            // four decimal octets, as the parser reads them too
            (None, Some(v4)) => {
                if internal_v4(v4) {
                    return Some("chooses an internal host");
                }
            }
            (None, None) => {
                let Some(parsed) = parsed() else {
                    return Some("makes the URL unreadable");
                };
                if let Some(host) = parsed.host()
                    && internal_host(&host)
                {
                    return Some("chooses an internal host");
                }
            }
        }
    }
    if overlaps(p.path, s, e) {
        let path = &u[p.path.0..p.path.1];
        let base = &u[p.path.0..s.max(p.path.0)];
        let depth = |bytes: &[u8]| -> (isize, isize) {
            let (mut d, mut least) = (0isize, 0isize);
            for seg in bytes.split(|b| *b == b'/' || *b == b'\\') {
                // `.` or `%2e` (any case), once or twice, and nothing else
                let dots = match seg.len() {
                    0 => Some(0),
                    1 if seg == b"." => Some(1),
                    2 if seg == b".." => Some(2),
                    3 if seg.eq_ignore_ascii_case(b"%2e") => Some(1),
                    4 if seg[..1] == *b"." && seg[1..].eq_ignore_ascii_case(b"%2e")
                        || seg[3..] == *b"." && seg[..3].eq_ignore_ascii_case(b"%2e") =>
                    {
                        Some(2)
                    }
                    6 if seg.eq_ignore_ascii_case(b"%2e%2e") => Some(2),
                    _ => None,
                };
                match dots {
                    Some(0 | 1) => {}
                    Some(_) => {
                        d -= 1;
                        least = least.min(d);
                    }
                    None => d += 1,
                }
            }
            (d, least)
        };
        let base_dirs =
            depth(&base[..base.iter().rposition(|b| *b == b'/').map_or(0, |i| i + 1)]).0;
        let (_, least) = depth(path);
        let input_climbs = depth(input).1 < 0;
        if input_climbs && least < base_dirs {
            return Some("climbs out of its path");
        }
    }
    None
}

/// Checks an outbound URL about to be fetched against the request's
/// inputs: `Err` names the first input that chooses a scheme other than
/// `http`/`https`, chooses a host that is internal (loopback, private,
/// link-local and metadata addresses in any spelling the WHATWG parser
/// reads: `2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`; `localhost`,
/// `*.internal`), changes the host from inside the authority (`@`, `#`,
/// `/`), or climbs with `..` above the path that precedes it. A URL the
/// input makes unreadable counts when the input reaches its authority.
///
/// DNS rebinding (a public name that resolves to an internal address at
/// connection time) is not decided here: resolve, check the address with
/// the same policy, and connect to that address.
///
/// # Errors
///
/// The injection found.
pub fn url(url: &str, inputs: &[&str]) -> Result<(), Injection> {
    let u = url.as_bytes();
    // not a URL with a scheme: nothing an input could have chosen
    let Some(p) = parts(u) else {
        return Ok(());
    };
    // parsed only when an input reaches the authority
    let mut parse = || ::url::Url::parse(url).ok();
    first_injection(Sink::Url, u, inputs, |s, e| judge(u, &p, &mut parse, s, e))
}
