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
    }

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
