//! `allowed_outbound_hosts`: which scheme, host and port a plugin may send requests
//! to, and which internal addresses an entry opens up.
//!
//! An entry is `SCHEME://HOST[:PORT]`: the scheme `http` or `https`; the host a name
//! (`api.example.com`), every subdomain of one (`*.example.org`), any host (`*`), an
//! address (`127.0.0.1`, `[::1]`) or a network (`10.0.0.0/8`, `[fd00::]/8`); the port a
//! number or `*`, the scheme's own (80, 443) when left out.

use crate::vocab::ConfigError;
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// A plugin's `allowed_outbound_hosts`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<AllowedHost>,
}

/// One entry of an [`Allowlist`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    scheme: Scheme,
    host: HostPattern,
    port: Port,
}

/// The schemes a plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    fn parse(text: &str) -> Option<Scheme> {
        match text.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    /// The port a URL of this scheme means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Any host name or address (internal addresses still need an entry of their own).
    Any,
    /// Exactly this name, lower-case, without a trailing dot.
    Name(String),
    /// Names ending in `.` and this suffix.
    Subdomains(String),
    /// This address, written as a literal.
    Address(IpAddr),
    /// Addresses in this network.
    Network(IpNet),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Any,
    Only(u16),
}

/// Where a request goes, as its URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its scheme.
    pub scheme: Scheme,
    /// Its host.
    pub host: Host,
    /// Its port (the scheme's own when the URL names none).
    pub port: u16,
}

/// A request's host: a name to resolve, or an address literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, lower-case, without a trailing dot.
    Name(String),
    /// An address literal.
    Address(IpAddr),
}

impl Host {
    /// The host of a URL's authority (`[::1]` for IPv6); `None` when it is neither an
    /// address nor a well-formed name.
    pub fn parse(text: &str) -> Option<Host> {
        let unbracketed = text
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'));
        if let Some(address) = unbracketed {
            return address
                .parse::<IpAddr>()
                .ok()
                .map(|ip| Host::Address(canonical(ip)));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(Host::Address(canonical(ip)));
        }
        normalized_name(text).map(Host::Name)
    }
}

impl Target {
    /// Where `uri` sends a request, if it names an `http` or `https` host.
    pub fn of(uri: &http::Uri) -> Option<Target> {
        let scheme = Scheme::parse(uri.scheme_str()?)?;
        Some(Target {
            scheme,
            host: Host::parse(uri.host()?)?,
            port: uri.port_u16().unwrap_or(scheme.default_port()),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Name(name) => write!(f, "{}://{name}:{}", self.scheme, self.port),
            Host::Address(IpAddr::V6(ip)) => write!(f, "{}://[{ip}]:{}", self.scheme, self.port),
            Host::Address(ip) => write!(f, "{}://{ip}:{}", self.scheme, self.port),
        }
    }
}

impl Allowlist {
    /// Parses the entries given for `key`; an error names the key and the entry.
    pub fn parse(key: &str, entries: &[String]) -> Result<Allowlist, ConfigError> {
        let entries = entries
            .iter()
            .map(|entry| {
                AllowedHost::parse(entry).map_err(|why| {
                    ConfigError::new(key, format!("the entry `{entry}` is not usable: {why}"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Allowlist { entries })
    }

    /// The entries, as `piston.toml` would spell them (normalized).
    pub fn entries(&self) -> Vec<String> {
        self.entries.iter().map(ToString::to_string).collect()
    }

    /// Whether some entry lets a request go to `target` (before its name resolves).
    pub fn admits(&self, target: &Target) -> bool {
        self.entries.iter().any(|entry| entry.admits(target))
    }

    /// Whether a request for `target` may connect to `ip`, one of the addresses its
    /// host resolved to: any public address, and an internal one (loopback, private,
    /// link-local, metadata) only where an entry for the scheme and port names that
    /// address or its network literally. A name alone never opens an internal address,
    /// so a name an attacker controls cannot be pointed at the host's own network.
    pub fn reaches(&self, target: &Target, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        !is_internal(ip)
            || self.entries.iter().any(|entry| {
                entry.scheme == target.scheme
                    && entry.port.admits(target.port)
                    && entry.host.names_literally(ip)
            })
    }
}

impl AllowedHost {
    fn parse(text: &str) -> Result<AllowedHost, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or("write it as SCHEME://HOST[:PORT], e.g. `https://api.example.com`")?;
        let scheme = Scheme::parse(scheme)
            .ok_or_else(|| format!("the scheme `{scheme}` is not `http` or `https`"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['?', '#', '@']) {
            return Err("an entry names a host and a port, not a path, query or user".into());
        }
        let (host, port) = split_port(rest)?;
        let port = match port {
            None => Port::Only(scheme.default_port()),
            Some("*") => Port::Any,
            Some(digits) => match digits.parse::<u16>() {
                Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    Port::Only(port)
                }
                _ => return Err(format!("the port `{digits}` is not 1 to 65535 or `*`")),
            },
        };
        Ok(AllowedHost {
            scheme,
            host: HostPattern::parse(host)?,
            port,
        })
    }

    fn admits(&self, target: &Target) -> bool {
        self.scheme == target.scheme && self.port.admits(target.port) && self.host.admits(target)
    }
}

/// Splits `HOST[:PORT]`, where an IPv6 host is bracketed (`[::1]:8080`, `[fd00::]/8`).
fn split_port(text: &str) -> Result<(&str, Option<&str>), String> {
    let host_end = if text.starts_with('[') {
        text.find(']')
            .ok_or("an IPv6 address needs its closing `]`")?
            + 1
    } else {
        0
    };
    Ok(match text[host_end..].find(':') {
        Some(at) => (&text[..host_end + at], Some(&text[host_end + at + 1..])),
        None => (text, None),
    })
}

impl HostPattern {
    fn parse(text: &str) -> Result<HostPattern, String> {
        if text == "*" {
            return Ok(HostPattern::Any);
        }
        if let Some(suffix) = text.strip_prefix("*.") {
            return normalized_name(suffix)
                .map(HostPattern::Subdomains)
                .ok_or_else(|| format!("`{suffix}` is not a host name"));
        }
        if let Some((address, _)) = text.split_once('/') {
            let address = address.trim_start_matches('[').trim_end_matches(']');
            if address.parse::<IpAddr>().is_err() {
                return Err("an entry names a host and a port, not a path".into());
            }
            return text
                .replace(['[', ']'], "")
                .parse::<IpNet>()
                .map(|network| HostPattern::Network(network.trunc()))
                .map_err(|_| format!("`{text}` is not a network (e.g. `10.0.0.0/8`)"));
        }
        match Host::parse(text) {
            Some(Host::Address(ip)) => Ok(HostPattern::Address(ip)),
            Some(Host::Name(name)) => Ok(HostPattern::Name(name)),
            None => Err(format!(
                "`{text}` is not a host name, `*.` and a name, `*`, an address or a network"
            )),
        }
    }

    fn admits(&self, target: &Target) -> bool {
        match (self, &target.host) {
            (HostPattern::Any, _) => true,
            (HostPattern::Name(name), Host::Name(host)) => name == host,
            (HostPattern::Subdomains(suffix), Host::Name(host)) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            (HostPattern::Address(_) | HostPattern::Network(_), Host::Address(ip)) => {
                self.names_literally(*ip)
            }
            _ => false,
        }
    }

    fn names_literally(&self, ip: IpAddr) -> bool {
        match self {
            HostPattern::Address(address) => *address == ip,
            HostPattern::Network(network) => network.contains(&ip),
            _ => false,
        }
    }
}

impl Port {
    fn admits(self, port: u16) -> bool {
        match self {
            Port::Any => true,
            Port::Only(only) => only == port,
        }
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        match &self.host {
            HostPattern::Any => f.write_str("*")?,
            HostPattern::Name(name) => f.write_str(name)?,
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}")?,
            HostPattern::Address(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            HostPattern::Address(ip) => write!(f, "{ip}")?,
            HostPattern::Network(IpNet::V6(network)) => {
                write!(f, "[{}]/{}", network.addr(), network.prefix_len())?
            }
            HostPattern::Network(network) => write!(f, "{network}")?,
        }
        match self.port {
            Port::Any => f.write_str(":*"),
            Port::Only(port) if port == self.scheme.default_port() => Ok(()),
            Port::Only(port) => write!(f, ":{port}"),
        }
    }
}

/// `text` as a DNS name (lower-case, no trailing dot), if it is one.
fn normalized_name(text: &str) -> Option<String> {
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    let well_formed = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    well_formed.then_some(name)
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Whether `ip` is one of the host's own or its network's: unspecified, loopback,
/// private, shared (carrier NAT, where one cloud's metadata service lives), link-local
/// (where the others' do), multicast or broadcast, or an IPv6 form embedding such an
/// IPv4 address (NAT64, 6to4).
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            a == 0
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || (a == 100 && (64..128).contains(&b))
                || v4.is_multicast()
                || v4.is_broadcast()
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let embedded_v4 = |high: usize| {
                let octets = v6.octets();
                IpAddr::from([
                    octets[high],
                    octets[high + 1],
                    octets[high + 2],
                    octets[high + 3],
                ])
            };
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || segments[0] & 0xfe00 == 0xfc00
                || segments[0] & 0xffc0 == 0xfe80
                || segments[0] & 0xffc0 == 0xfec0
                || (segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && is_internal(embedded_v4(12)))
                || (segments[0] == 0x2002 && is_internal(embedded_v4(2)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Allowlist {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        Allowlist::parse("plugins.blog.allowed_outbound_hosts", &entries).unwrap()
    }

    fn target(url: &str) -> Target {
        Target::of(&url.parse().unwrap()).unwrap()
    }

    #[test]
    fn entries_admit_their_scheme_host_and_port_only() {
        let allowed = list(&[
            "https://api.example.com",
            "http://127.0.0.1:9000",
            "https://*.example.org",
            "http://[::1]:*",
        ]);
        assert!(allowed.admits(&target("https://api.example.com/posts")));
        assert!(allowed.admits(&target("https://API.Example.com.:443/")));
        assert!(!allowed.admits(&target("http://api.example.com/")));
        assert!(!allowed.admits(&target("https://api.example.com:8443/")));
        assert!(!allowed.admits(&target("https://evil-api.example.com/")));
        assert!(allowed.admits(&target("http://127.0.0.1:9000/")));
        assert!(!allowed.admits(&target("http://127.0.0.1:9001/")));
        assert!(!allowed.admits(&target("http://127.0.0.2:9000/")));
        assert!(allowed.admits(&target("https://a.b.example.org/")));
        assert!(!allowed.admits(&target("https://example.org/")));
        assert!(!allowed.admits(&target("https://notexample.org/")));
        assert!(allowed.admits(&target("http://[::1]:1234/")));
        assert!(allowed.admits(&target("http://[::ffff:127.0.0.1]:9000/")));
    }

    #[test]
    fn internal_addresses_need_a_literal_entry() {
        let allowed = list(&[
            "https://*",
            "http://10.1.0.0/16:8080",
            "http://127.0.0.1:9000",
        ]);
        let anywhere = target("https://upstream.example/");
        assert!(allowed.reaches(&anywhere, "93.184.216.34".parse().unwrap()));
        for internal in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            assert!(!allowed.reaches(&anywhere, ip), "{internal} is reachable");
        }
        let named = target("http://search.internal:8080/");
        assert!(allowed.reaches(&named, "10.1.2.3".parse().unwrap()));
        assert!(!allowed.reaches(&named, "10.2.0.1".parse().unwrap()));
        let other_port = target("http://search.internal:9200/");
        assert!(!allowed.reaches(&other_port, "10.1.2.3".parse().unwrap()));
        let loopback = target("http://127.0.0.1:9000/");
        assert!(allowed.reaches(&loopback, "127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn a_bad_entry_names_the_key_and_the_entry() {
        for (entry, why) in [
            ("api.example.com", "SCHEME://HOST"),
            ("ftp://files.example.com", "`ftp`"),
            ("https://api.example.com/v1", "not a path"),
            ("https://api.example.com:0", "port `0`"),
            ("https://api.example.com:http", "port `http`"),
            ("https://user@api.example.com", "not a path"),
            ("https://*.", "not a host name"),
            ("http://10.0.0.0/33", "not a network"),
            ("http://[::1", "closing"),
        ] {
            let error = Allowlist::parse("plugins.blog.allowed_outbound_hosts", &[entry.into()])
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with("plugins.blog.allowed_outbound_hosts: the entry `"),
                "{error}"
            );
            assert!(
                error.contains(entry) && error.contains(why),
                "{entry}: {error}"
            );
        }
    }

    #[test]
    fn entries_print_as_written_without_default_ports() {
        let allowed = list(&[
            "HTTPS://API.example.com:443/",
            "http://[fd00::]/8:*",
            "http://10.0.0.0/8",
        ]);
        assert_eq!(
            allowed.entries(),
            [
                "https://api.example.com",
                "http://[fd00::]/8:*",
                "http://10.0.0.0/8"
            ]
        );
    }
}
