//! The Piston host: serves REST resources from WebAssembly handler plugins.
//!
//! A request flows through [`pipeline`]: the [`registry`] routes it to a plugin's
//! resource, the method is checked, the body decoded ([`decode`]), the plugin called
//! in the [`runtime`], and its data emitted ([`emit`]); every error is a [`problem`]
//! document; [`auth`] decides who is calling, [`coordination`] keeps what every host must
//! agree on (nonces, failed logins). [`server`] is the axum app around it,
//! [`config`] the settings, [`store`] the plugins' persistent data ([`sqlite`] what its
//! database and the credentials' share), [`cli`] the `piston` command, and [`project`]
//! the plugin projects it creates and builds, [`openapi`] the generated documentation,
//! [`telemetry`] the metrics, log lines and trace context an operator watches, and
//! [`oci`] the registries plugins are pushed to and pulled from.
//! [`vocab`] holds the words all of them
//! share, so that no two of them depend on each other for it.

#![warn(missing_docs)]

pub(crate) mod admin;
pub(crate) mod auth;
pub mod cli;
pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod coordination;
pub(crate) mod decode;
pub(crate) mod emit;
pub(crate) mod fields;
pub(crate) mod files;
pub mod fuzzing;
pub(crate) mod negotiate;
pub(crate) mod oci;
pub(crate) mod openapi;
pub(crate) mod outbound;
pub(crate) mod pipeline;
pub(crate) mod postgres;
pub(crate) mod problem;
pub(crate) mod project;
pub(crate) mod reachability;
pub(crate) mod registry;
pub(crate) mod runtime;
pub(crate) mod server;
pub(crate) mod sqlite;
pub(crate) mod store;
pub(crate) mod telemetry;
pub(crate) mod throttle;
pub(crate) mod transcode;
pub(crate) mod validate;
pub(crate) mod vocab;

#[cfg(test)]
mod round_trips;
