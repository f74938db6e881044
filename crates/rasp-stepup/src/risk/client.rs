//! The client's address: the socket peer, or, when the peer is a trusted
//! proxy, what the one header that proxy writes says.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// The header a trusted proxy writes the client's address into. Only this
/// header is read, and only when the socket peer is a trusted proxy: a
/// client that adds another one (`Forwarded: for=…` behind a proxy that
/// writes `X-Forwarded-For`) is not believed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAddressHeader {
    /// `X-Forwarded-For: client, proxy1, …` (the default), read right to
    /// left through the trusted hops.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`, read right to left through the trusted
    /// hops.
    Forwarded,
    /// `X-Real-IP`: one address, which the proxy sets.
    XRealIp,
    /// Another header holding one address that the proxy sets
    /// (`CF-Connecting-IP`, `True-Client-IP`, `Fly-Client-IP`...).
    Single(HeaderName),
}

impl ClientAddressHeader {
    /// The header by name: `x-forwarded-for`, `forwarded`, `x-real-ip`, or
    /// any other valid header name (read as a single address).
    ///
    /// # Errors
    ///
    /// When `name` is not a valid header name.
    pub fn from_name(name: &str) -> Result<Self, crate::ConfigError> {
        let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            crate::ConfigError::Invalid {
                setting: "risk.client_address_header",
                reason: format!("{name:?} is not a header name"),
            }
        })?;
        Ok(match header.as_str() {
            "x-forwarded-for" => Self::XForwardedFor,
            "forwarded" => Self::Forwarded,
            "x-real-ip" => Self::XRealIp,
            _ => Self::Single(header),
        })
    }
}

/// The socket peer of a request, for services that are not run by
/// `axum::serve(.., into_make_service_with_connect_info)`: insert it as a
/// request extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The peer address of a request: Axum's `ConnectInfo<SocketAddr>` or a
/// [`PeerAddr`] extension.
pub(crate) fn peer_of(ext: &http::Extensions) -> Option<IpAddr> {
    if let Some(p) = ext.get::<PeerAddr>() {
        return Some(p.0.ip());
    }
    #[cfg(feature = "axum")]
    if let Some(ci) = ext.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(ci.0.ip());
    }
    None
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Parses one forwarded node (`192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:443`,
/// `"[2001:db8::1]"`). `None` for `unknown`, obfuscated or malformed nodes.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        return rest[..end].parse().ok().map(canonical);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    // IPv4 with a port.
    let (host, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The `for=` nodes of all `Forwarded` headers, left to right.
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut out = Vec::new();
    let mut any = false;
    for value in headers.get_all(http::header::FORWARDED) {
        any = true;
        let Ok(text) = value.to_str() else {
            out.push(None);
            continue;
        };
        for element in text.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then_some(v)
            });
            out.push(node.and_then(parse_node));
        }
    }
    any.then_some(out)
}

fn xff_chain(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut out = Vec::new();
    let mut any = false;
    for value in headers.get_all("x-forwarded-for") {
        any = true;
        let Ok(text) = value.to_str() else {
            out.push(None);
            continue;
        };
        out.extend(text.split(',').map(parse_node));
    }
    any.then_some(out)
}

/// The last value of a single-address header, when it parses.
fn single(headers: &HeaderMap, name: &HeaderName) -> Option<Vec<Option<IpAddr>>> {
    // A proxy that appends instead of replacing leaves the client's own
    // value first: the last one is the proxy's.
    let last = headers.get_all(name).iter().next_back()?;
    Some(vec![last.to_str().ok().and_then(parse_node)])
}

/// The client address: `peer` unless it is a trusted proxy; then the
/// configured `header` (and no other) is read: a list right to left,
/// skipping trusted hops, the first untrusted hop being the client; a
/// single-address header as its last value. A spoofed left-most entry is
/// never reached while an untrusted hop stands right of it. An unparsable
/// hop stops the walk at the last trusted address.
pub(crate) fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: &ClientAddressHeader,
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return Some(peer);
    }
    let chain = match header {
        ClientAddressHeader::XForwardedFor => xff_chain(headers),
        ClientAddressHeader::Forwarded => forwarded_chain(headers),
        ClientAddressHeader::XRealIp => single(headers, &HeaderName::from_static("x-real-ip")),
        ClientAddressHeader::Single(name) => single(headers, name),
    }
    .unwrap_or_default();
    let mut current = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) => {
                current = *ip;
                if !is_trusted(ip) {
                    return Some(current);
                }
            }
            None => return Some(current),
        }
    }
    Some(current)
}

/// The key a client address is counted under (rate quotas, 401/403/404
/// bursts): IPv4 addresses whole, IPv6 addresses by their first `v6_prefix`
/// bits (a /64 is one subscriber, who may pick any of its 2^64 addresses).
pub(crate) fn address_key(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u32::from(v6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XFF: ClientAddressHeader = ClientAddressHeader::XForwardedFor;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let headers = h(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.9")), &headers, &[], &XFF),
            Some(ip("10.0.0.9"))
        );
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let headers = h(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.7")), &headers, &t, &XFF),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn xff_is_read_right_to_left_skipping_trusted_hops() {
        let t = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // spoofed left-most entry, real client, then our own proxy
        let headers = h(&[("x-forwarded-for", "6.6.6.6, 89.160.20.112, 10.1.2.3")]);
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &headers, &t, &XFF),
            Some(ip("89.160.20.112"))
        );
        // several headers form one list
        let headers = h(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "89.160.20.112"),
        ]);
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &headers, &t, &XFF),
            Some(ip("89.160.20.112"))
        );
    }

    #[test]
    fn forwarded_when_configured_handles_ipv6_ports_and_quotes() {
        let t = nets(&["10.0.0.0/8"]);
        let headers = h(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.2:80",
            ),
            ("x-forwarded-for", "175.16.199.1"),
        ]);
        let forwarded = ClientAddressHeader::Forwarded;
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t, &forwarded),
            Some(ip("2001:db8::1"))
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let t = nets(&["10.0.0.0/8"]);
        // a client adds `Forwarded` behind a proxy that writes X-Forwarded-For
        let headers = h(&[
            ("forwarded", "for=89.160.20.112"),
            ("x-real-ip", "89.160.20.112"),
            ("x-forwarded-for", "1.124.213.1"),
        ]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t, &XFF),
            Some(ip("1.124.213.1"))
        );
        // and X-Forwarded-For behind one that writes `Forwarded`: no
        // `Forwarded` at all leaves the proxy itself as the client
        let forwarded = ClientAddressHeader::Forwarded;
        let headers = h(&[("x-forwarded-for", "89.160.20.112")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t, &forwarded),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn single_address_headers_take_the_proxys_value() {
        let t = nets(&["10.0.0.0/8"]);
        let cf = ClientAddressHeader::from_name("CF-Connecting-IP").unwrap();
        assert_eq!(
            cf,
            ClientAddressHeader::Single(HeaderName::from_static("cf-connecting-ip"))
        );
        let headers = h(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("cf-connecting-ip", "2001:db8::7"),
        ]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t, &cf),
            Some(ip("2001:db8::7"))
        );
        // a proxy that appends: the client's own value comes first
        let headers = h(&[("x-real-ip", "6.6.6.6"), ("x-real-ip", "175.16.199.1")]);
        let real = ClientAddressHeader::from_name("x-real-ip").unwrap();
        assert_eq!(real, ClientAddressHeader::XRealIp);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t, &real),
            Some(ip("175.16.199.1"))
        );
        // missing or garbage: the proxy's own address
        let headers = h(&[("x-real-ip", "nonsense")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t, &real),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &HeaderMap::new(), &t, &real),
            Some(ip("10.0.0.1"))
        );
        assert!(ClientAddressHeader::from_name("bad header").is_err());
    }

    #[test]
    fn ipv6_addresses_are_counted_by_prefix() {
        assert_eq!(address_key(ip("203.0.113.9"), 64), ip("203.0.113.9"));
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 48),
            ip("2001:db8:1::")
        );
        assert_eq!(address_key(ip("2001:db8::1"), 128), ip("2001:db8::1"));
        assert_eq!(address_key(ip("2001:db8::1"), 0), ip("::"));
        assert_eq!(address_key(ip("2001:db8::1"), 200), ip("2001:db8::1"));
    }

    #[test]
    fn unknown_or_garbage_hops_stop_at_the_last_trusted_address() {
        let t = nets(&["10.0.0.0/8"]);
        let headers = h(&[("forwarded", "for=6.6.6.6, for=unknown, for=10.0.0.2")]);
        assert_eq!(
            client_ip(
                Some(ip("10.0.0.1")),
                &headers,
                &t,
                &ClientAddressHeader::Forwarded
            ),
            Some(ip("10.0.0.2"))
        );
        let headers = h(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t, &XFF),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn all_trusted_chain_gives_the_left_most_hop() {
        let t = nets(&["10.0.0.0/8"]);
        let headers = h(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t, &XFF),
            Some(ip("10.9.9.9"))
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let t = nets(&["127.0.0.1/32"]);
        let headers = h(&[("x-forwarded-for", "89.160.20.112")]);
        assert_eq!(
            client_ip(Some(ip("::ffff:127.0.0.1")), &headers, &t, &XFF),
            Some(ip("89.160.20.112"))
        );
    }
}
