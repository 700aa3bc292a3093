//! `/docs`: Swagger UI on the document, for reading the API and trying it out against
//! this server with credentials. Its files are built into the binary (the pinned
//! release the `utoipa-swagger-ui` crate vendors), so the page works with no network.

use axum::body::Body;
use axum::response::Response;
use http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, LOCATION, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderValue, StatusCode};
use std::sync::{Arc, LazyLock};
use utoipa_swagger_ui::Config;

/// The page's address; its files are under it.
pub const PAGE: &str = "/docs";

/// What the page loads: the document, relative to the page's folder, so the page
/// also works behind a proxy that serves the API under a prefix.
const DOCUMENT: &str = "../openapi.json";

/// One thing the docs routes serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/openapi.json`.
    Json,
    /// `/openapi.yaml`.
    Yaml,
    /// `/docs`: sends the browser to `/docs/`, where the page's relative links work.
    Redirect,
    /// A file of the page (`/docs/`, `/docs/swagger-ui.css`, ...), by its path there.
    Asset,
}

static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::from(DOCUMENT)
            .try_it_out_enabled(true)
            .display_request_duration(true)
            .display_operation_id(true)
            .deep_linking(true)
            .filter(true)
            .persist_authorization(false),
    )
});

/// The redirect from `/docs` to `/docs/`.
pub fn redirect() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/docs/"));
    response
}

/// The file at `path` under `/docs/`, or `None` when the page has no such file.
pub fn asset(path: &str) -> Option<Response> {
    let file = utoipa_swagger_ui::serve(path.trim_start_matches('/'), CONFIG.clone())
        .ok()
        .flatten()?;
    let mut response = Response::new(Body::from(file.bytes.into_owned()));
    let headers = response.headers_mut();
    if let Ok(content_type) = HeaderValue::from_str(&file.content_type) {
        headers.insert(CONTENT_TYPE, content_type);
    }
    if file.gzpipped {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files_are_built_in() {
        let index = asset("").unwrap();
        assert_eq!(index.headers()[CONTENT_TYPE], "text/html");
        let initializer = asset("swagger-initializer.js").unwrap();
        assert!(
            initializer.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .contains("javascript")
        );
        assert!(asset("swagger-ui-bundle.js").is_some());
        assert!(asset("no-such-file.js").is_none());
        assert!(asset("../../etc/passwd").is_none());
    }
}
