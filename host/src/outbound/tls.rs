//! The TLS client configuration outbound requests share: the system's trusted roots
//! (or, where the system has none, Mozilla's), HTTP/1.1.

use rustls::{ClientConfig, RootCertStore};
use std::sync::{Arc, OnceLock};

/// The shared configuration, built on first use: reading the system's certificates
/// takes a few milliseconds, which only plugins that go out should pay.
pub(super) fn config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG.get_or_init(build).clone()
}

fn build() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    for error in &system.errors {
        tracing::warn!(%error, "a system certificate could not be read");
    }
    let (added, _ignored) = roots.add_parsable_certificates(system.certs);
    if added == 0 {
        tracing::warn!(
            "no trusted certificates found on this system: outbound TLS trusts Mozilla's \
             root certificates instead (install the ca-certificates package, or point \
             SSL_CERT_FILE at a bundle)"
        );
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}
