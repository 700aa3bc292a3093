//! Integration tests: the real `piston` binary, real plugins, real HTTP on loopback.

mod blog;
mod bodies;
mod cli;
mod guests;
mod hostile;
mod loading;
mod routing;
