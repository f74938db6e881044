//! The client's address: the socket peer, or the first untrusted hop of
//! `Forwarded` / `X-Forwarded-For` when the peer is a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

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

/// The client address: `peer` unless it is a trusted proxy; then the chain
/// (`Forwarded` if present, else `X-Forwarded-For`) is read right to left,
/// skipping trusted hops; the first untrusted hop is the client. A spoofed
/// left-most entry is never reached while an untrusted hop stands right of
/// it. An unparsable hop stops the walk at the last trusted address.
pub(crate) fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return Some(peer);
    }
    let chain = forwarded_chain(headers)
        .or_else(|| xff_chain(headers))
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

#[cfg(test)]
mod tests {
    use super::*;

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
            client_ip(Some(ip("10.0.0.9")), &headers, &[]),
            Some(ip("10.0.0.9"))
        );
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let headers = h(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.7")), &headers, &t),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn xff_is_read_right_to_left_skipping_trusted_hops() {
        let t = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // spoofed left-most entry, real client, then our own proxy
        let headers = h(&[("x-forwarded-for", "6.6.6.6, 89.160.20.112, 10.1.2.3")]);
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &headers, &t),
            Some(ip("89.160.20.112"))
        );
        // several headers form one list
        let headers = h(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "89.160.20.112"),
        ]);
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &headers, &t),
            Some(ip("89.160.20.112"))
        );
    }

    #[test]
    fn forwarded_takes_precedence_and_handles_ipv6_ports_and_quotes() {
        let t = nets(&["10.0.0.0/8"]);
        let headers = h(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.2:80",
            ),
            ("x-forwarded-for", "175.16.199.1"),
        ]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t),
            Some(ip("2001:db8::1"))
        );
    }

    #[test]
    fn unknown_or_garbage_hops_stop_at_the_last_trusted_address() {
        let t = nets(&["10.0.0.0/8"]);
        let headers = h(&[("forwarded", "for=6.6.6.6, for=unknown, for=10.0.0.2")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t),
            Some(ip("10.0.0.2"))
        );
        let headers = h(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn all_trusted_chain_gives_the_left_most_hop() {
        let t = nets(&["10.0.0.0/8"]);
        let headers = h(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &headers, &t),
            Some(ip("10.9.9.9"))
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let t = nets(&["127.0.0.1/32"]);
        let headers = h(&[("x-forwarded-for", "89.160.20.112")]);
        assert_eq!(
            client_ip(Some(ip("::ffff:127.0.0.1")), &headers, &t),
            Some(ip("89.160.20.112"))
        );
    }
}
