//! {{name}}: a Piston handler plugin.
//!
//! Build it with `piston build`, which puts `{{name}}.wasm` where `piston serve` finds it.

use piston_guest::{Request, Resource, Response, Result, Spec, rc, resource};

/// `GET /{{name}}/{who}`: a greeting.
#[derive(Default)]
struct Greeting;

#[resource]
impl Resource for Greeting {
    fn spec() -> Spec {
        Spec::new("greeting")
            .describe("Says hello.")
            .route("/{{name}}/{who}")
    }

    fn read(&self, req: &Request) -> Result<Response> {
        let who = req.param("who").ok_or(rc::NOT_FOUND)?;
        Response::data(&serde_json::json!({ "hello": who }))
    }
}

piston_guest::export_plugin!(Greeting);
