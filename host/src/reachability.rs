//! Whether a backend the host depends on (the store's database, the coordination
//! server) answers, as its callers last found it, and how the host reports its
//! backends ([`Backend`]): at start, and in the admin API's `health`.
//!
//! Callers report each call's outcome; the state changes only when the outcome does,
//! and each change is one log line, so an outage of an hour is two lines, not one per
//! request. Health reports read the state; requests refused while a backend is down
//! carry [`RETRY_AFTER`].

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// What a request refused because a backend is down tells its client to wait.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// [`RETRY_AFTER`] as a `Retry-After` header's value.
pub fn retry_after() -> http::HeaderValue {
    http::HeaderValue::from(RETRY_AFTER.as_secs())
}

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// One backend's reachability.
pub struct Reachability {
    /// What it is, for people: "store (postgres)", "coordination (redis)".
    what: String,
    /// Where it is, without credentials.
    location: String,
    state: AtomicU8,
    /// Why the last failed call failed.
    error: Mutex<String>,
}

/// A backend's state, for health reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Status {
    /// Not called yet.
    Unknown,
    /// The last call got through.
    Up,
    /// The last call failed, for this reason.
    Down {
        /// Why.
        error: String,
    },
}

impl Reachability {
    /// A backend not called yet.
    pub fn new(what: impl Into<String>, location: impl Into<String>) -> Reachability {
        Reachability {
            what: what.into(),
            location: location.into(),
            state: AtomicU8::new(UNKNOWN),
            error: Mutex::new(String::new()),
        }
    }

    /// Where it is (never with a password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Records a call that got through; logs the recovery if it was down.
    pub fn up(&self) {
        if self.state.swap(UP, Ordering::AcqRel) == DOWN {
            tracing::info!(backend = %self.what, at = %self.location, "reachable again");
        }
    }

    /// Records a call that could not reach the backend; logs the outage once.
    pub fn down(&self, error: &str) {
        error.clone_into(&mut self.error.lock().unwrap_or_else(|e| e.into_inner()));
        if self.state.swap(DOWN, Ordering::AcqRel) != DOWN {
            tracing::warn!(
                backend = %self.what,
                at = %self.location,
                error,
                "unreachable: requests that need it are refused with 503 until it answers"
            );
        }
    }

    /// Records `result`'s outcome and hands it back.
    pub fn record<T, E: std::fmt::Display>(&self, result: Result<T, E>) -> Result<T, E> {
        match &result {
            Ok(_) => self.up(),
            Err(error) => self.down(&error.to_string()),
        }
        result
    }

    /// The state as last found.
    pub fn status(&self) -> Status {
        match self.state.load(Ordering::Acquire) {
            UP => Status::Up,
            DOWN => Status::Down {
                error: self.error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            },
            _ => Status::Unknown,
        }
    }
}

/// A backend the host depends on, as reports show it.
#[async_trait]
pub trait Backend: Send + Sync {
    /// What it holds, as `piston.toml` names its section: `store`, `coordination`.
    fn role(&self) -> &'static str;
    /// Which engine: `sqlite`, `postgres`, `memory`, `redis`.
    fn engine(&self) -> &'static str;
    /// Where it is (never with a password).
    fn location(&self) -> String;
    /// Whether it answers; `None` for one inside the host, which always does.
    fn reachability(&self) -> Option<&Reachability>;
    /// Calls it once, so that [`reachability`](Backend::reachability) is current.
    async fn probe(&self) {}
}

/// A backend inside the host process: always there.
pub struct Embedded {
    /// Its role.
    pub role: &'static str,
    /// Its engine.
    pub engine: &'static str,
    /// Where its data is.
    pub location: String,
}

#[async_trait]
impl Backend for Embedded {
    fn role(&self) -> &'static str {
        self.role
    }

    fn engine(&self) -> &'static str {
        self.engine
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn reachability(&self) -> Option<&Reachability> {
        None
    }
}

/// One line for people: `store: postgres at 127.0.0.1:5432/piston (reachable)`.
pub fn describe(backend: &dyn Backend) -> String {
    let state = match backend.reachability().map(Reachability::status) {
        None | Some(Status::Up) => "reachable".to_owned(),
        Some(Status::Unknown) => "not reached yet".to_owned(),
        Some(Status::Down { error }) => format!(
            "UNREACHABLE: {error}; requests that need it are refused with 503 until it answers"
        ),
    };
    format!(
        "{}: {} at {} ({state})",
        backend.role(),
        backend.engine(),
        backend.location()
    )
}

/// Each backend probed, as the admin API's `health` shows it: `{"store": {"backend":
/// "postgres", "at": ..., "state": "up"}, ...}`, and whether all of them answer.
pub async fn report(backends: &[std::sync::Arc<dyn Backend>]) -> (Value, bool) {
    let mut all_up = true;
    let mut report = serde_json::Map::new();
    for backend in backends {
        backend.probe().await;
        let mut entry = json!({"backend": backend.engine(), "at": backend.location()});
        let status = backend
            .reachability()
            .map_or(Status::Up, Reachability::status);
        all_up &= status == Status::Up;
        if let (Value::Object(entry), Ok(Value::Object(status))) =
            (&mut entry, serde_json::to_value(status))
        {
            entry.extend(status);
        }
        report.insert(backend.role().to_owned(), entry);
    }
    (Value::Object(report), all_up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_follows_the_last_call() {
        let backend = Reachability::new("store (postgres)", "127.0.0.1:5432");
        assert_eq!(backend.status(), Status::Unknown);
        backend.down("connection refused");
        assert_eq!(
            backend.status(),
            Status::Down {
                error: "connection refused".to_owned()
            }
        );
        backend.down("timed out");
        assert_eq!(
            backend.status(),
            Status::Down {
                error: "timed out".to_owned()
            }
        );
        backend.up();
        assert_eq!(backend.status(), Status::Up);
    }
}
