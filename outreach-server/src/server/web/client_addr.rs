//! The client's address for the per-address limits, aware of trusted reverse proxies.
//!
//! Behind a proxy every connection comes from the proxy, so the per-address limits
//! would count all clients as one. `OUTREACH_TRUSTED_PROXIES` (comma-separated CIDRs or
//! addresses, e.g. `10.0.0.0/8, 2001:db8::/32, 192.0.2.7`) names the proxies whose
//! `X-Forwarded-For` is believed: only when the connection's peer is one of them is the
//! header read, from the right (the hop the proxy itself appended), skipping hops that
//! are trusted proxies too; the first untrusted hop is the client. Everything left of
//! it was written by the client and could be anything, so it is never used. A peer
//! that is not a trusted proxy is the client, whatever headers it sends.
//!
//! CIDRs are parsed by `ipnet` (already in the tree through hyper-util and reqwest):
//! prefix parsing, host-bit and v4/v6 handling are easy to get subtly wrong by hand.

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;
use outreach_core::Error as CoreError;
use std::net::{IpAddr, SocketAddr};

use super::WebContext;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// An IPv4-mapped IPv6 address is the IPv4 address (dual-stack sockets report them).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` hop: an address, possibly with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

impl TrustedProxies {
    /// A comma-separated list of CIDRs or single addresses.
    pub fn parse(list: &str) -> Result<Self, CoreError> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    CoreError::Config(format!(
                        "OUTREACH_TRUSTED_PROXIES: `{item}` is not an address or a CIDR like 10.0.0.0/8"
                    ))
                })?;
            nets.push(net.trunc());
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy; then the
    /// right-most untrusted `X-Forwarded-For` hop (an unreadable hop stops the walk at
    /// the trusted hop before it).
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.contains(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// The client's address (see the module notes); `None` without a connection (tests
/// calling the router directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S> FromRequestParts<S> for ClientAddr
where
    WebContext: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let web = WebContext::from_ref(state).web;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(peer.map(|ip| {
            web.config.trusted_proxies.client_of(ip, &parts.headers)
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_cidrs_and_addresses() {
        let t = TrustedProxies::parse(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,").unwrap();
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("192.0.2.7")));
        assert!(!t.contains(ip("192.0.2.8")));
        assert!(t.contains(ip("2001:db8:ffff::1")));
        assert!(t.contains(ip("::ffff:10.9.9.9")), "v4-mapped");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = xff(&["203.0.113.9"]);
        assert_eq!(t.client_of(ip("10.0.0.5"), &h), ip("203.0.113.9"));
        assert_eq!(
            t.client_of(ip("198.51.100.1"), &h),
            ip("198.51.100.1"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            TrustedProxies::default().client_of(ip("10.0.0.5"), &h),
            ip("10.0.0.5"),
            "no trusted proxies: never read"
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client forged the left part; our proxies appended the rest.
        let h = xff(&["1.1.1.1, 203.0.113.9", "10.0.0.7"]);
        assert_eq!(t.client_of(ip("10.0.0.5"), &h), ip("203.0.113.9"));
        let h = xff(&["198.51.100.4:5555, [2001:db8::1]:443"]);
        assert_eq!(t.client_of(ip("10.0.0.5"), &h), ip("2001:db8::1"));
        // Garbage stops the walk at the last trusted hop.
        let h = xff(&["203.0.113.9, not-an-ip, 10.0.0.9"]);
        assert_eq!(t.client_of(ip("10.0.0.5"), &h), ip("10.0.0.9"));
        // No header: the proxy itself.
        assert_eq!(
            t.client_of(ip("10.0.0.5"), &HeaderMap::new()),
            ip("10.0.0.5")
        );
    }
}
