//! Plugins as OCI artifacts: `piston push` and `piston pull` move a component to and
//! from a registry as a CNCF wasm artifact (config `application/vnd.wasm.config.v0+json`,
//! one `application/wasm` layer), and a plugin configured with
//! `source = "oci://registry/repository:tag"` (or `@sha256:...`) is pulled into the
//! data directory and kept in step with its registry.
//!
//! The flow for a source: [`ArtifactRef`] names it, the [`Puller`] resolves it to a
//! manifest digest through a [`RegistryClient`] (credentials from [`credentials`]),
//! pulls a digest it does not have yet into the [`PulledDir`], and the plugin reload
//! that follows loads the file like one dropped into the plugin directory.

mod client;
pub mod credentials;
mod pulled;
mod reference;
mod settings;
mod sync;

pub use self::client::{RegistryClient, RegistryOptions};
pub use self::pulled::{Origin, PulledDir};
pub use self::reference::ArtifactRef;
pub use self::settings::PullSettings;
pub use self::sync::{Puller, SourceStatus, SourceStatuses, keep_pulling};
