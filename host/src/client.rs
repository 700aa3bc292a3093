//! The client's address: the connection's peer, or, when the peer is a trusted proxy,
//! the address it forwarded in `Forwarded` (RFC 7239) or, without that header,
//! `X-Forwarded-For`.
//!
//! Failed-login limits (and rate limits) count per client address, so behind a
//! reverse proxy the proxy's own address must not be taken for every client's; and a
//! client must not be able to pick its address by sending the header itself.

use http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;

const FORWARDED_FOR: &str = "x-forwarded-for";
const FORWARDED: &str = "forwarded";

/// Finds client addresses.
#[derive(Debug, Clone, Default)]
pub struct ClientAddresses {
    trusted: Vec<IpNet>,
}

impl ClientAddresses {
    /// Believes `X-Forwarded-For` from peers in `trusted`.
    pub fn new(trusted: Vec<IpNet>) -> ClientAddresses {
        ClientAddresses { trusted }
    }

    /// The client of a request from `peer`: walking the forwarded hops from the right
    /// (the hop nearest to us), the first address that is not a trusted proxy.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let standard = headers.contains_key(FORWARDED);
        let hops = headers
            .get_all(if standard { FORWARDED } else { FORWARDED_FOR })
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|hop| {
                if standard {
                    forwarded_for(hop)
                } else {
                    Some(hop.trim())
                }
            })
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
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
        ClientAddresses::new(
            nets.iter()
                .map(|net| TrustedProxy::try_from(net.to_string()).unwrap().0)
                .collect(),
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
    fn the_forwarded_header_wins_when_present() {
        let addresses = trusting(&["127.0.0.1", "10.0.0.0/8"]);
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
