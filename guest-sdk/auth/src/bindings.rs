//! The bindings `wit-bindgen` generates from `wit/` for the `authenticator` world.
//!
//! Its imports (key-value store, settings) and shared types are `piston-guest`'s, so
//! [`piston_guest::kv`] and [`piston_guest::config`] work in an authenticator too.

#![allow(missing_docs)]

wit_bindgen::generate!({
    world: "authenticator",
    path: "../../wit",
    with: {
        "wasi:keyvalue/store@0.2.0-draft": piston_guest::bindings::wasi::keyvalue::store,
        "wasi:keyvalue/atomics@0.2.0-draft": piston_guest::bindings::wasi::keyvalue::atomics,
        "wasi:keyvalue/batch@0.2.0-draft": piston_guest::bindings::wasi::keyvalue::batch,
        "wasi:config/store@0.2.0-rc.1": piston_guest::bindings::wasi::config::store,
        "piston:handler/types@0.2.0": piston_guest::bindings::piston::handler::types,
        "wasi:http/types@0.2.12": piston_guest::bindings::wasi::http::types,
        "wasi:http/outgoing-handler@0.2.12": piston_guest::bindings::wasi::http::outgoing_handler,
        "wasi:io/error@0.2.12": piston_guest::bindings::wasi::io::error,
        "wasi:io/poll@0.2.12": piston_guest::bindings::wasi::io::poll,
        "wasi:io/streams@0.2.12": piston_guest::bindings::wasi::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": piston_guest::bindings::wasi::clocks::monotonic_clock,
    },
    pub_export_macro: true,
    export_macro_name: "__export_authenticator_world",
    default_bindings_module: "::piston_guest_auth::bindings",
});
