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
    },
    trappable_error_type: {
        "wasi:keyvalue/store.error" => crate::runtime::plugin_data::KvError,
    },
});

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
        },
    });
}
