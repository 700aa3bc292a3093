//! Integration tests: the real `piston` binary, real plugins, real HTTP on loopback.

mod adversarial;
mod arbitrary;
mod auth;
mod bodies;
mod cli;
mod conformance;
mod coordination;
mod custom_auth;
mod distribution;
mod docs;
mod formats;
mod guests;
mod hostile;
mod hot_reload;
mod loading;
mod many_hosts;
mod outbound;
mod projects;
mod routing;
mod telemetry;
mod throttle;
mod validation;
