//! Whether a backend the host depends on (the store's database, the coordination
//! server) answers, as its callers last found it.
//!
//! Callers report each call's outcome; the state changes only when the outcome does,
//! and each change is one log line, so an outage of an hour is two lines, not one per
//! request. Health reports read the state; requests refused while a backend is down
//! carry [`RETRY_AFTER`].

use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// What a request refused because a backend is down tells its client to wait.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

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

    /// What the backend is.
    pub fn what(&self) -> &str {
        &self.what
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_follows_the_last_call() {
        let backend = Reachability::new("store (postgres)", "127.0.0.1:5432");
        assert_eq!(backend.status(), Status::Unknown);
        assert!(backend.record(Err::<(), _>("connection refused")).is_err());
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
        assert_eq!(backend.record(Ok::<_, String>(7)), Ok(7));
        assert_eq!(backend.status(), Status::Up);
    }
}
