//! django-piston's `ArbitraryDataHandler`: a resource that is not backed by a model.
//!
//! `GET /other/{username}/{data}` answers `{"user": {"username": ...}, "data_length": N}`,
//! where `data` is the rest of the path, slashes included, and `N` counts its characters.

use piston_guest::{Request, Resource, Response, Result, Spec, resource};
use serde::Serialize;

#[derive(Serialize)]
struct Arbitrary<'a> {
    user: User<'a>,
    data_length: usize,
}

#[derive(Serialize)]
struct User<'a> {
    username: &'a str,
}

/// The JSON Schema of what `read` answers.
const RESPONSE_SCHEMA: &str = r#"{"type":"object","required":["user","data_length"],"properties":{"user":{"type":"object","required":["username"],"properties":{"username":{"type":"string"}}},"data_length":{"type":"integer","minimum":0}}}"#;

/// Reports on the data in its path.
#[derive(Default)]
struct ArbitraryDataHandler;

#[resource]
impl Resource for ArbitraryDataHandler {
    fn spec() -> Spec {
        Spec::new("arbitrary")
            .describe("Echoes a user name and the length of arbitrary path data.")
            .route("/other/{username}/{*data}")
            .anonymous([piston_guest::Method::Get])
            .response(piston_guest::Method::Get, RESPONSE_SCHEMA)
    }

    /// The user name and how many characters the rest of the path has.
    ///
    /// `data` is everything after the user name, slashes included:
    /// `/other/ann/a/b/c` counts `a/b/c`, 5 characters.
    fn read(&self, req: &Request) -> Result<Response> {
        let username = req.param("username").unwrap_or_default();
        let data = req.param("data").unwrap_or_default();
        Response::data(&Arbitrary {
            user: User { username },
            data_length: data.chars().count(),
        })
    }
}

piston_guest::export_plugin!(ArbitraryDataHandler);
