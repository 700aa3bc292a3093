//! Host bindings generated from `wit/` for the `plugin` world.
//!
//! Generated items carry the WIT documentation where it exists.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "piston:handler/plugin",
    path: "../wit",
    imports: { default: trappable },
    exports: { default: async },
    with: {
        "wasi:keyvalue/store.bucket": crate::runtime::services::BucketHandle,
    },
    trappable_error_type: {
        "wasi:keyvalue/store.error" => crate::runtime::services::KvError,
    },
});
