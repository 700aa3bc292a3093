//! The plugin's settings: its `[plugins.NAME.config]` table in the host's `piston.toml`.

use crate::bindings::wasi::config::store;
use crate::{Error, Result};

/// The setting `key`, or `None` when the operator did not set it.
pub fn get(key: &str) -> Result<Option<String>> {
    store::get(key).map_err(failure)
}

/// Every setting, as `(key, value)` pairs.
pub fn all() -> Result<Vec<(String, String)>> {
    store::get_all().map_err(failure)
}

fn failure(error: store::Error) -> Error {
    let reason = match error {
        store::Error::Upstream(reason) | store::Error::Io(reason) => reason,
    };
    Error::failure(format!("reading plugin settings: {reason}"))
}
