//! {{name}}: a Piston handler plugin.
//!
//! Build it with `piston build`, which puts `{{name}}.wasm` where `piston serve` finds it.

use piston_guest::{Method, Request, Resource, Response, Result, Spec, rc, resource};

/// `GET /{{name}}/{who}`: a greeting.
#[derive(Default)]
struct Greeting;

#[resource]
impl Resource for Greeting {
    fn spec() -> Spec {
        Spec::new("greeting")
            .describe("Says hello at `/{{name}}/{who}`.")
            .route("/{{name}}/{who}")
            // What `read` answers with, for the generated API documentation.
            .response(
                Method::Get,
                r#"{"type":"object","properties":{"hello":{"type":"string"}},"required":["hello"]}"#,
            )
    }

    /// Greets `who`.
    fn read(&self, req: &Request) -> Result<Response> {
        let who = req.param("who").ok_or(rc::NOT_FOUND)?;
        Response::data(&serde_json::json!({ "hello": who }))
    }
}

piston_guest::export_plugin!(Greeting);
