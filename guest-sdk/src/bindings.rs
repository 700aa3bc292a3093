//! The bindings `wit-bindgen` generates from `wit/` for the `plugin` world.
//!
//! Handler authors rarely need these directly; the rest of the crate wraps them. They
//! are public so that `export_plugin!` can name them from the plugin's crate.

#![allow(missing_docs)]

wit_bindgen::generate!({
    world: "plugin",
    path: "../wit",
    generate_all,
    pub_export_macro: true,
    export_macro_name: "__export_plugin_world",
    default_bindings_module: "::piston_guest::bindings",
});
