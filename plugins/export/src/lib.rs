//! A data export: `GET /export/rows?count=N&from=M` streams N generated rows.
//!
//! The rows are made one at a time as the host pulls them, and the host emits them in
//! the client's format (a JSON array, JSON Lines, YAML, XML, MessagePack, pickle) as
//! they come, so an export of millions of rows starts arriving at once and never sits
//! whole in memory on either side.

use piston_guest::{Method, Request, Resource, Response, Result, Spec, rc, resource};
use serde::Serialize;

/// The largest export one request may ask for.
const MAX_ROWS: u64 = 100_000_000;

/// One exported row.
#[derive(Serialize)]
struct Row {
    n: u64,
    label: String,
    square: u64,
    even: bool,
}

/// The JSON Schema of what `read` streams: the array of its rows.
const RESPONSE_SCHEMA: &str = r#"{"type":"array","items":{"type":"object","required":["n","label","square","even"],"properties":{"n":{"type":"integer","minimum":0},"label":{"type":"string"},"square":{"type":"integer","minimum":0},"even":{"type":"boolean"}}}}"#;

/// Streams generated rows.
#[derive(Default)]
struct Rows;

#[resource]
impl Resource for Rows {
    fn spec() -> Spec {
        Spec::new("rows")
            .describe(
                "Generated rows: `count` of them (default 10), numbered from `from` (default 0).",
            )
            .route("/export/rows")
            .anonymous([Method::Get])
            .response(Method::Get, RESPONSE_SCHEMA)
    }

    /// Streams `count` rows (query parameter, default 10, at most 100,000,000) numbered
    /// from `from` (default 0).
    ///
    /// Each row has its number `n`, a `label`, its `square` and whether it is `even`.
    /// The rows are made as the client reads them: ask for JSON Lines
    /// (`Accept: application/jsonl`) to process them one at a time.
    fn read(&self, req: &Request) -> Result<Response> {
        let count: u64 = req.query_as("count")?.unwrap_or(10);
        let from: u64 = req.query_as("from")?.unwrap_or(0);
        if count > MAX_ROWS {
            return Err(rc::BAD_REQUEST.detail(format!("count is at most {MAX_ROWS}")));
        }
        let rows = (from..from.saturating_add(count)).map(|n| Row {
            n,
            label: format!("row-{n}"),
            square: n.wrapping_mul(n),
            even: n % 2 == 0,
        });
        Ok(Response::stream(rows))
    }
}

piston_guest::export_plugin!(Rows);
