//! The Piston host: serves REST resources from WebAssembly handler plugins.
//!
//! A request flows through [`pipeline`]: the [`registry`] routes it to a plugin's
//! resource, the method is checked, the body decoded ([`decode`]), the plugin called
//! in the [`runtime`], and its data emitted ([`emit`]); every error is a [`problem`]
//! document; [`auth`] decides who is calling. [`server`] is the axum app around it,
//! [`config`] the settings, [`store`] the plugins' persistent data ([`sqlite`] what its
//! database and the credentials' share), [`cli`] the `piston` command, and [`project`] the plugin projects it creates and builds.

#![warn(missing_docs)]

pub mod admin;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod decode;
pub mod emit;
pub mod fields;
pub mod fuzzing;
pub mod negotiate;
pub mod pipeline;
pub mod problem;
pub mod project;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod sqlite;
pub mod store;
pub mod throttle;
pub mod transcode;
pub mod validate;

#[cfg(test)]
mod round_trips;
