//! Talking to a registry: resolving a tag to a manifest digest, pulling a plugin
//! artifact (checked to be a CNCF wasm artifact, bounded in size, verified against its
//! digests) and pushing one.

use super::credentials::{self, Login};
use super::reference::{ArtifactRef, sha256_hex};
use oci_client::client::{ClientConfig, ClientProtocol, ImageLayer};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_wasm::{WASM_LAYER_MEDIA_TYPE, WasmClient, WasmConfig};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long connecting to a registry may take: a registry that is down must not hold
/// up a start for long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a registry may leave a response without sending anything.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach registries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Registries (`host` or `host:port`) spoken to over plain HTTP; every other one
    /// over HTTPS.
    pub insecure: Vec<String>,
    /// Credentials for every registry, instead of the Docker config's.
    pub login: Option<Login>,
}

/// Why a registry operation failed, in one line an operator can act on. Never holds
/// a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RegistryError(String);

/// A plugin artifact, pulled and verified.
pub struct Pulled {
    /// The manifest's digest, `sha256:...`: what `@sha256:` pins.
    pub manifest_digest: String,
    /// The wasm layer's digest, `sha256:...`: the SHA-256 of `wasm`.
    pub layer_digest: String,
    /// The component.
    pub wasm: Vec<u8>,
}

/// A registry client for plugin artifacts.
pub struct RegistryClient {
    client: WasmClient,
    login: Option<Login>,
}

impl RegistryClient {
    /// A client speaking HTTPS to every registry except the `insecure` ones.
    pub fn new(options: &RegistryOptions) -> RegistryClient {
        // reqwest's rustls takes the process's provider; ring, as outbound TLS uses.
        // Installing fails only when one is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = ClientConfig {
            protocol: if options.insecure.is_empty() {
                ClientProtocol::Https
            } else {
                ClientProtocol::HttpsExcept(options.insecure.clone())
            },
            // A plugin artifact is one manifest; an index is not one.
            platform_resolver: None,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            user_agent: concat!("piston/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        RegistryClient {
            client: WasmClient::new(oci_client::Client::new(config)),
            login: options.login.clone(),
        }
    }

    fn auth(&self, artifact: &ArtifactRef) -> Result<RegistryAuth, RegistryError> {
        credentials::for_registry(artifact.registry(), self.login.as_ref()).map_err(RegistryError)
    }

    /// The manifest digest `artifact` names now: its pinned digest, or what its tag
    /// points at in the registry.
    pub async fn resolve(&self, artifact: &ArtifactRef) -> Result<String, RegistryError> {
        let auth = self.auth(artifact)?;
        self.client
            .fetch_manifest_digest(artifact.reference(), &auth)
            .await
            .map_err(|error| describe(error, artifact))
    }

    /// Pulls the artifact at manifest `digest` (as [`RegistryClient::resolve`] found
    /// it): a wasm artifact of one `application/wasm` layer of at most `limit` bytes,
    /// whose content matches the layer's digest.
    pub async fn pull(
        &self,
        artifact: &ArtifactRef,
        digest: &str,
        limit: u64,
    ) -> Result<Pulled, RegistryError> {
        let auth = self.auth(artifact)?;
        let pinned = artifact.at(digest);
        let (manifest, _config, manifest_digest) = self
            .client
            .pull_manifest_and_config(pinned.reference(), &auth)
            .await
            .map_err(|error| match error.downcast::<OciDistributionError>() {
                Ok(error) => describe(error, artifact),
                // oci-wasm's own checks: the media types and the single layer.
                Err(error) => RegistryError(format!(
                    "{artifact} is not a wasm component artifact: {error}"
                )),
            })?;
        if manifest_digest != digest {
            return Err(RegistryError(format!(
                "{artifact}: the registry sent manifest {manifest_digest} for {digest}"
            )));
        }
        let layer = &manifest.layers[0];
        if layer.media_type != WASM_LAYER_MEDIA_TYPE {
            return Err(RegistryError(format!(
                "{artifact}: its layer is `{}`, not `{WASM_LAYER_MEDIA_TYPE}`",
                layer.media_type
            )));
        }
        // The file's SHA-256 is what loading and the pulled files' records compare.
        if sha256_hex(&layer.digest).is_none() {
            return Err(RegistryError(format!(
                "{artifact}: its layer digest `{}` is not a sha256 digest",
                layer.digest
            )));
        }
        let size = u64::try_from(layer.size).unwrap_or(u64::MAX);
        if size > limit {
            return Err(RegistryError(format!(
                "{artifact}: its component is {size} bytes, larger than limits.plugin_file_mib ({limit} bytes)"
            )));
        }
        // pull_blob checks the content against the layer's digest as it streams.
        let mut wasm = CappedBuffer::new(limit);
        self.client
            .pull_blob(pinned.reference(), layer, &mut wasm)
            .await
            .map_err(|error| describe(error, artifact))?;
        Ok(Pulled {
            manifest_digest,
            layer_digest: layer.digest.clone(),
            wasm: wasm.bytes,
        })
    }

    /// Pushes `wasm` as a wasm component artifact under `artifact`'s tag, with
    /// `annotations` on its manifest; returns the manifest digest.
    pub async fn push(
        &self,
        artifact: &ArtifactRef,
        wasm: Vec<u8>,
        annotations: BTreeMap<String, String>,
    ) -> Result<String, RegistryError> {
        let auth = self.auth(artifact)?;
        let (config, layer): (WasmConfig, ImageLayer) = WasmConfig::from_raw_component(wasm, None)
            .map_err(|error| RegistryError(format!("not a wasm component: {error:#}")))?;
        self.client
            .push(
                artifact.reference(),
                &auth,
                layer,
                config,
                Some(annotations),
            )
            .await
            .map_err(|error| match error.downcast::<OciDistributionError>() {
                Ok(error) => describe(error, artifact),
                Err(error) => RegistryError(format!("cannot push {artifact}: {error:#}")),
            })?;
        // What the registry itself computed, not a re-serialisation of ours.
        self.resolve(artifact).await
    }
}

/// One line for a registry client error.
fn describe(error: OciDistributionError, artifact: &ArtifactRef) -> RegistryError {
    let registry = artifact.registry();
    let text = match error {
        OciDistributionError::ImageManifestNotFoundError(_) => {
            format!("{artifact} does not exist in the registry (no such tag or digest)")
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|code| {
                matches!(
                    code,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                format!("{artifact} does not exist in the registry (no such tag or digest)")
            } else if codes
                .iter()
                .any(|code| matches!(code, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                format!(
                    "{registry} refused access to {artifact}: check the credentials (Docker \
                     config, --username, PISTON_REGISTRY_USERNAME/PASSWORD)"
                )
            } else {
                let messages: Vec<String> = envelope
                    .errors
                    .iter()
                    .map(|error| format!("{:?}: {}", error.code, error.message))
                    .collect();
                format!("{registry} refused {artifact}: {}", messages.join("; "))
            }
        }
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => format!(
            "{registry} refused access to {artifact}: check the credentials (Docker config, \
             --username, PISTON_REGISTRY_USERNAME/PASSWORD)"
        ),
        OciDistributionError::ServerError { code, message, .. } => {
            let first: String = message
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            format!("{registry} answered {code} for {artifact}: {first}")
        }
        OciDistributionError::RequestError(error) if is_tls(&error) => format!(
            "cannot reach {registry} over HTTPS: {}; if it speaks plain HTTP, name it in \
             server.insecure_registries (piston push and pull: --insecure)",
            root_cause(&error)
        ),
        OciDistributionError::RequestError(error) => {
            format!("cannot reach {registry}: {}", root_cause(&error))
        }
        OciDistributionError::DigestError(error) => {
            format!("{artifact}: content does not match its digest: {error}")
        }
        OciDistributionError::IoError(error) => format!("{artifact}: {error}"),
        other => format!("{artifact}: {other}"),
    };
    RegistryError(text)
}

/// Whether TLS failed: what HTTPS to a plain-HTTP registry looks like.
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<rustls::Error>() {
            return true;
        }
        // An io::Error's `source()` skips the error it wraps.
        cause = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    false
}

/// The innermost cause of an error: what reqwest wraps ("connection refused").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// A buffer that refuses to grow past a limit, for a blob the registry might send
/// more of than its manifest said.
struct CappedBuffer {
    bytes: Vec<u8>,
    limit: u64,
}

impl CappedBuffer {
    fn new(limit: u64) -> CappedBuffer {
        CappedBuffer {
            bytes: Vec::new(),
            limit,
        }
    }
}

impl tokio::io::AsyncWrite for CappedBuffer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if (self.bytes.len() + buf.len()) as u64 > self.limit {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the registry sent more than limits.plugin_file_mib ({} bytes)",
                self.limit
            ))));
        }
        self.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
