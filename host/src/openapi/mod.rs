//! Generated documentation: the OpenAPI 3.1 document of every loaded resource
//! (`/openapi.json`, `/openapi.yaml`, `piston docs`) and an interactive page
//! (`/docs`), django-piston's `generate_doc` grown up.
//!
//! The document is made from what the host knows at run time: each plugin's spec (its
//! routes, methods, descriptions, body and response schemas, fields) and the
//! operator's settings (authentication chains and scopes, rate limits, the public
//! URL). It is rendered once per routing snapshot and settings, so a hot-dropped
//! plugin or a SIGHUP shows in the next fetch, and fetching it costs a copy.

mod document;
pub mod page;
mod schema;
mod security;

pub use self::document::document;
pub use self::page::Page;

use crate::auth::settings::AuthSettings;
use crate::config::Settings;
use crate::registry::Snapshot;
use crate::throttle::settings::ThrottleSettings;
use bytes::Bytes;
use serde_json::Value;
use std::sync::{Arc, Mutex, Weak};

/// The document's two encodings.
pub struct Rendered {
    /// `application/json`, pretty-printed.
    pub json: Bytes,
    /// `application/yaml`.
    pub yaml: Bytes,
}

/// The documentation of a running server: the settings it is made under, and the
/// document of the latest snapshot it was asked for.
pub struct ApiDocs {
    auth: AuthSettings,
    throttle: ThrottleSettings,
    public_url: String,
    latest: Mutex<Option<(Weak<Snapshot>, Arc<Rendered>)>>,
}

impl ApiDocs {
    /// The documentation under `settings`.
    pub fn new(settings: &Settings) -> ApiDocs {
        ApiDocs {
            auth: settings.auth.clone(),
            throttle: settings.throttle.clone(),
            public_url: settings.server.public_url.clone(),
            latest: Mutex::new(None),
        }
    }

    /// The document of `snapshot`.
    pub fn document(&self, snapshot: &Snapshot) -> Value {
        document(
            snapshot,
            &document::Settings {
                auth: &self.auth,
                throttle: &self.throttle,
                public_url: &self.public_url,
            },
        )
    }

    /// The document of `snapshot`, rendered, made again only when the snapshot is not
    /// the one last asked for.
    pub fn rendered(&self, snapshot: &Arc<Snapshot>) -> Arc<Rendered> {
        let mut latest = self
            .latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((seen, rendered)) = &*latest
            && std::ptr::eq(seen.as_ptr(), Arc::as_ptr(snapshot))
        {
            return rendered.clone();
        }
        let rendered = Arc::new(render(&self.document(snapshot)));
        *latest = Some((Arc::downgrade(snapshot), rendered.clone()));
        rendered
    }
}

/// The document in both encodings.
pub fn render(document: &Value) -> Rendered {
    let mut json = serde_json::to_vec_pretty(document).unwrap_or_default();
    json.push(b'\n');
    let yaml = serde_yaml::to_string(document).unwrap_or_default();
    Rendered {
        json: json.into(),
        yaml: yaml.into(),
    }
}
