//! Outbound HTTP: the requests plugins send through `wasi:http/outgoing-handler`.
//!
//! Nothing is allowed by default. A request leaves only if its plugin's
//! `allowed_outbound_hosts` admits its scheme, host and port ([`Allowlist`]), and then
//! only to addresses its host resolves to that are public or that an entry names
//! literally, so a name cannot smuggle a request into the host's own network. The host
//! connects to the address it checked (no second lookup), follows no redirects, and
//! holds each call to its caps: requests, concurrent requests, response bytes.
//!
//! The flow for one request: [`OutboundCall`] (the `wasi:http` hooks of one instance)
//! checks the allowlist and the request count at once, then its future resolves and
//! checks the addresses, [`send`] connects (TLS through [`tls`]) and sends, and the
//! answer's body is read through a [`CappedBody`]. The call's deadline bounds it all:
//! the guest's call is abandoned when it passes, and everything in flight with it.

mod allowlist;
mod body;
mod call;
mod send;
mod tls;

pub use self::allowlist::Allowlist;
pub use self::call::OutboundCall;

use std::sync::Arc;

/// What one call of a plugin may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    /// Requests one call may start.
    pub requests: u32,
    /// Requests an instance may have in flight at once (a response counts until its
    /// body is read or dropped); more wait for one to finish.
    pub concurrency: u32,
    /// The largest response body, in bytes; a longer one is cut off with an error.
    pub response_bytes: u64,
}

/// Where one plugin may send requests, and how many.
#[derive(Debug)]
pub struct OutboundPolicy {
    /// The plugin, as metrics and logs name it.
    pub plugin: Arc<str>,
    /// Its `allowed_outbound_hosts`.
    pub allowlist: Arc<Allowlist>,
    /// Its caps per call.
    pub limits: OutboundLimits,
}
