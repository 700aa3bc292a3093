//! The client's address: the connection's peer, or, when the peer is a trusted proxy,
//! the address it forwarded in the one header the operator says their proxies set —
//! `X-Forwarded-For` (the default) or `Forwarded` (RFC 7239).
//!
//! Failed-login limits (and rate limits) count per client address, so behind a
//! reverse proxy the proxy's own address must not be taken for every client's; and a
//! client must not be able to pick its address by sending the header itself. A proxy
//! appends to the header it sets and passes any other through untouched, so only that
//! header is read: a client's own `Forwarded: for=127.0.0.1` is ignored when the proxy
//! sets `X-Forwarded-For`. At most [`MAX_HOPS`] hops are read, from the right.

use http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;

const FORWARDED_FOR: &str = "x-forwarded-for";
const FORWARDED: &str = "forwarded";

/// The most forwarded hops read, from the right: more proxies than this in a row is
/// not a deployment, and a client cannot make the host walk a long list.
pub const MAX_HOPS: usize = 16;

/// The header a deployment's proxies set to name the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (nginx, HAProxy, most load balancers).
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    #[serde(rename = "forwarded")]
    Forwarded,
}

/// Finds client addresses.
#[derive(Debug, Clone, Default)]
pub struct ClientAddresses {
    trusted: Vec<IpNet>,
    header: ForwardedHeader,
}

impl ClientAddresses {
    /// Believes `header` from peers in `trusted`.
    pub fn new(trusted: Vec<IpNet>, header: ForwardedHeader) -> ClientAddresses {
        ClientAddresses { trusted, header }
    }

    /// The client of a request from `peer`: walking the forwarded hops from the right
    /// (the hop nearest to us), the first address that is not a trusted proxy.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let name = match self.header {
            ForwardedHeader::XForwardedFor => FORWARDED_FOR,
            ForwardedHeader::Forwarded => FORWARDED,
        };
        let hops = headers
            .get_all(name)
            .iter()
            .rev()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.rsplit(','))
            .take(MAX_HOPS)
            .map(|hop| match self.header {
                ForwardedHeader::Forwarded => forwarded_for(hop),
                ForwardedHeader::XForwardedFor => Some(hop.trim()),
            });
        let mut client = peer;
        for hop in hops {
            let Some(Ok(address)) = hop.map(str::parse::<IpAddr>) else {
                // Garbage, or a hidden or unknown hop: trust nothing further left of it.
                break;
            };
            client = canonical(address);
            if !self.is_trusted(client) {
                break;
            }
        }
        client
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&address))
    }
}

/// The address in the `for=` parameter of one `Forwarded` element (`for=192.0.2.1`,
/// `for="[2001:db8::1]:4711"`, `for="192.0.2.1:80"`), without its port.
fn forwarded_for(element: &str) -> Option<&str> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })?;
    let value = value.trim_matches('"');
    if let Some(bracketed) = value.strip_prefix('[') {
        return bracketed.split(']').next();
    }
    match value.split_once(':') {
        Some((v4, _port)) if !v4.contains(':') && value.matches(':').count() == 1 => Some(v4),
        _ => Some(value),
    }
}

/// The unit per-client limits count in: an IPv4 address, or an IPv6 /64 (one host
/// usually holds a whole /64, and could otherwise pick a fresh address per request).
pub fn counted_as(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(prefix))
        }
    }
}

/// IPv4 addresses arriving on an IPv6 socket as `::ffff:a.b.c.d` are IPv4 addresses.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// One entry of `server.trusted_proxies`: an address (`10.0.0.1`) or a network
/// (`10.0.0.0/8`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct TrustedProxy(pub IpNet);

impl TryFrom<String> for TrustedProxy {
    type Error = String;

    fn try_from(text: String) -> Result<TrustedProxy, String> {
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map(TrustedProxy)
            .map_err(|_| format!("`{text}` is not an IP address or network like 10.0.0.0/8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(FORWARDED_FOR, value.parse().unwrap());
        }
        headers
    }

    fn trusting(nets: &[&str]) -> ClientAddresses {
        trusting_header(nets, ForwardedHeader::XForwardedFor)
    }

    fn trusting_header(nets: &[&str], header: ForwardedHeader) -> ClientAddresses {
        ClientAddresses::new(
            nets.iter()
                .map(|net| TrustedProxy::try_from(net.to_string()).unwrap().0)
                .collect(),
            header,
        )
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_forward() {
        let addresses = trusting(&["10.0.0.0/8"]);
        let peer = "203.0.113.9".parse().unwrap();
        assert_eq!(addresses.resolve(peer, &headers(&["1.2.3.4"])), peer);
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let addresses = trusting(&["10.0.0.0/8", "127.0.0.1"]);
        let peer = "127.0.0.1".parse().unwrap();
        let forwarded = headers(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(
            addresses.resolve(peer, &forwarded),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Nothing forwarded: the proxy itself.
        assert_eq!(addresses.resolve(peer, &headers(&[])), peer);
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            addresses.resolve(peer, &headers(&["6.6.6.6, junk, 10.9.9.9"])),
            "10.9.9.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let peer = "127.0.0.1".parse().unwrap();
        // The proxy sets X-Forwarded-For; the client's own Forwarded is ignored.
        let mut spoofed = headers(&["198.51.100.7"]);
        spoofed.append(FORWARDED, "for=127.0.0.1".parse().unwrap());
        assert_eq!(
            trusting(&["127.0.0.1"]).resolve(peer, &spoofed),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // And the other way round.
        let mut spoofed = headers(&["127.0.0.1"]);
        spoofed.append(FORWARDED, "for=198.51.100.7".parse().unwrap());
        assert_eq!(
            trusting_header(&["127.0.0.1"], ForwardedHeader::Forwarded).resolve(peer, &spoofed),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn long_hop_lists_are_read_only_so_far() {
        let addresses = trusting(&["10.0.0.0/8", "127.0.0.1"]);
        let peer = "127.0.0.1".parse().unwrap();
        let many = vec!["10.0.0.1"; 100_000].join(", ");
        let forwarded = headers(&[&format!("6.6.6.6, {many}")]);
        // The walk stops after MAX_HOPS trusted hops: the client is the last one read.
        assert_eq!(
            addresses.resolve(peer, &forwarded),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_forwarded_header_when_configured() {
        let addresses = trusting_header(&["127.0.0.1", "10.0.0.0/8"], ForwardedHeader::Forwarded);
        let peer = "127.0.0.1".parse().unwrap();
        let mut forwarded = headers(&["6.6.6.6"]);
        forwarded.append(
            FORWARDED,
            r#"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711""#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            addresses.resolve(peer, &forwarded),
            "2001:db8:cafe::17".parse::<IpAddr>().unwrap()
        );
        let mut ported = HeaderMap::new();
        ported.append(
            FORWARDED,
            r#"for="198.51.100.3:80", for=10.0.0.2"#.parse().unwrap(),
        );
        assert_eq!(
            addresses.resolve(peer, &ported),
            "198.51.100.3".parse::<IpAddr>().unwrap()
        );
        let mut hidden = HeaderMap::new();
        hidden.append(
            FORWARDED,
            "for=198.51.100.3, for=_hidden, for=10.0.0.2"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            addresses.resolve(peer, &hidden),
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        let addresses = trusting(&["127.0.0.1"]);
        let peer = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            addresses.resolve(peer, &headers(&["192.0.2.1"])),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert!(TrustedProxy::try_from("nope".to_owned()).is_err());
    }
}
