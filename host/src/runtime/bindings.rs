//! Host bindings generated from `wit/`: the `plugin` world (handlers) and the
//! `authenticator` world (custom authentication), which share their imports.
//!
//! Generated items carry the WIT documentation where it exists.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "piston:handler/plugin",
    path: "../wit",
    // The calls that reach the store are async: they wait for it off the async worker
    // (see `services`), and the guest's call waits with them.
    imports: {
        "wasi:keyvalue/store.[method]bucket.get": async | trappable,
        "wasi:keyvalue/store.[method]bucket.set": async | trappable,
        "wasi:keyvalue/store.[method]bucket.delete": async | trappable,
        "wasi:keyvalue/store.[method]bucket.exists": async | trappable,
        "wasi:keyvalue/store.[method]bucket.list-keys": async | trappable,
        "wasi:keyvalue/atomics": async | trappable,
        "wasi:keyvalue/batch": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "wasi:keyvalue/store.bucket": crate::runtime::plugin_data::BucketHandle,
        // Outbound HTTP and what it uses are wasmtime's, added to the linker apart.
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
    trappable_error_type: {
        "wasi:keyvalue/store.error" => crate::runtime::plugin_data::KvError,
    },
});

/// Adds Piston's own services (the key-value store, `wasi:config`) to `linker`; WASI
/// and `wasi:http` are wasmtime's, added apart.
pub fn add_services_to_linker(
    linker: &mut wasmtime::component::Linker<crate::runtime::HostState>,
) -> wasmtime::Result<()> {
    use crate::runtime::HostState;
    use wasmtime::component::HasSelf;
    wasi::keyvalue::store::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)?;
    wasi::keyvalue::atomics::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)?;
    wasi::keyvalue::batch::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)?;
    wasi::config::store::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)?;
    piston::handler::types::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
}

/// The `authenticator` world. Its imports are the `plugin` world's, so one linker
/// (and one set of host implementations) serves both.
pub mod authenticator {
    wasmtime::component::bindgen!({
        world: "piston:handler/authenticator",
        path: "../wit",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "wasi:keyvalue/store": super::wasi::keyvalue::store,
            "wasi:keyvalue/atomics": super::wasi::keyvalue::atomics,
            "wasi:keyvalue/batch": super::wasi::keyvalue::batch,
            "wasi:config/store": super::wasi::config::store,
            "piston:handler/types": super::piston::handler::types,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}
