//! The connection to Redis, made when first needed, so that a host starts whether or
//! not Redis answers.
//!
//! A connection attempt takes at most twice the timeout; after a failed one, callers
//! are refused at once for [`RECONNECT_PAUSE`] rather than each waiting for an
//! attempt of its own. Once made, the connection re-establishes itself when Redis
//! comes back.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::{Duration, Instant};

/// After a failed connection attempt, wait this long before the next.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

/// A Redis client and its connection, once made.
pub struct Connector {
    client: redis::Client,
    timeout: Duration,
    connection: Option<ConnectionManager>,
    /// When the last connection attempt started.
    last_attempt: Option<Instant>,
}

impl Connector {
    /// Connects to `client` on first use, each call bounded by `timeout`.
    pub fn new(client: redis::Client, timeout: Duration) -> Connector {
        Connector {
            client,
            timeout,
            connection: None,
            last_attempt: None,
        }
    }

    /// The connection, made on first use and after Redis was unreachable.
    pub async fn connection(&mut self) -> Result<ConnectionManager, String> {
        if let Some(connection) = &self.connection {
            return Ok(connection.clone());
        }
        if self
            .last_attempt
            .is_some_and(|at| at.elapsed() < RECONNECT_PAUSE)
        {
            return Err("Redis was unreachable a moment ago".to_owned());
        }
        self.last_attempt = Some(Instant::now());
        let timeout = self.timeout;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connecting = ConnectionManager::new_with_config(self.client.clone(), config);
        let connection = tokio::time::timeout(timeout * 2, connecting)
            .await
            .map_err(|_| format!("cannot connect to Redis within {:?}", timeout * 2))?
            .map_err(|error| format!("cannot connect to Redis: {error}"))?;
        self.connection = Some(connection.clone());
        Ok(connection)
    }
}

/// Where `client` connects, for people: the address, never the password.
pub fn location(client: &redis::Client) -> String {
    client.get_connection_info().addr().to_string()
}
