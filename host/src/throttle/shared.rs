//! Counters in Redis: exact across every host that shares them.
//!
//! One Lua script decides a request against all of a caller's rules atomically, on
//! Redis's own clock (so hosts with skewed clocks still agree), and returns the TATs
//! for the headers. A caller's rules are one hash that expires once all its TATs
//! have passed.
//!
//! Redis may be down when the host starts, or go away while it serves: the first
//! request tries to connect (one attempt at a time, the others waiting for it; after a
//! failure at most one attempt per pause), every failure is reported to the caller
//! within about twice the configured timeout, and the connection is re-established
//! when Redis answers again.

use super::Outcome;
use super::gcra::Gcra;
use super::settings::RedisSettings;
use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The same arithmetic as `gcra::decide`, on Redis's clock.
///
/// KEYS[1]: the caller's hash. ARGV: the number of rules, then for each its field,
/// emission interval and tolerance (microseconds). Returns the verdict (1 or 0), the
/// time, and each rule's TAT afterwards. Numbers are formatted with `%.0f`: Lua's
/// default would write large ones in exponent notation and lose digits.
const SCRIPT: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local rules = tonumber(ARGV[1])
local tats = {}
local admitted = 1
for i = 1, rules do
  local field = ARGV[2 + (i - 1) * 3]
  local tolerance = tonumber(ARGV[4 + (i - 1) * 3])
  local tat = tonumber(redis.call('HGET', KEYS[1], field)) or now
  if tat < now then tat = now end
  if tat - tolerance > now then admitted = 0 end
  tats[i] = tat
end
local reply = {admitted, now}
local longest = 0
for i = 1, rules do
  local tat = tats[i]
  if admitted == 1 then
    tat = tat + tonumber(ARGV[3 + (i - 1) * 3])
    redis.call('HSET', KEYS[1], ARGV[2 + (i - 1) * 3], string.format('%.0f', tat))
  end
  if tat - now > longest then longest = tat - now end
  reply[#reply + 1] = tat
end
if admitted == 1 then
  redis.call('PEXPIRE', KEYS[1], math.ceil(longest / 1000) + 1000)
end
return reply
";

/// After a failed connection attempt, wait this long before the next.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

/// The counters.
pub struct SharedCounters {
    client: redis::Client,
    connection: ArcSwapOption<ConnectionManager>,
    /// When the last connection attempt started; held while one is under way.
    connecting: tokio::sync::Mutex<Option<Instant>>,
    script: redis::Script,
    settings: RedisSettings,
}

impl SharedCounters {
    /// Counters in the Redis at `settings.url`; nothing is connected until the first
    /// request.
    pub fn new(settings: RedisSettings) -> Result<SharedCounters, String> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|error| format!("the Redis URL is not usable: {error}"))?;
        Ok(SharedCounters {
            client,
            connection: ArcSwapOption::empty(),
            connecting: tokio::sync::Mutex::new(None),
            script: redis::Script::new(SCRIPT),
            settings,
        })
    }

    /// Where the counters are, for log lines (never the password).
    pub fn location(&self) -> String {
        let info = self.client.get_connection_info();
        format!("{}", info.addr())
    }

    /// Decides one request of `key` against `rules` (each with its slot).
    pub async fn acquire(&self, key: &str, rules: &[(usize, Gcra)]) -> Result<Outcome, String> {
        let mut connection = self.connection().await?;
        let mut invocation = self
            .script
            .key(format!("{}{key}", self.settings.key_prefix));
        invocation.arg(rules.len());
        for (slot, rule) in rules {
            invocation
                .arg(format!("{slot}:{}/{}", rule.limit, rule.emission))
                .arg(rule.emission)
                .arg(rule.tolerance);
        }
        let reply: Vec<u64> = tokio::time::timeout(
            self.settings.timeout,
            invocation.invoke_async(&mut connection),
        )
        .await
        .map_err(|_| format!("Redis did not answer within {:?}", self.settings.timeout))?
        .map_err(|error| format!("Redis failed: {error}"))?;
        match reply.as_slice() {
            [admitted, now, tats @ ..] if tats.len() == rules.len() => Ok(Outcome {
                admitted: *admitted == 1,
                now: *now,
                tats: tats.to_vec(),
            }),
            _ => Err(format!("Redis answered the script with {reply:?}")),
        }
    }

    /// The connection, made on first use and after Redis was unreachable.
    async fn connection(&self) -> Result<ConnectionManager, String> {
        if let Some(connection) = self.connection.load_full() {
            return Ok((*connection).clone());
        }
        // Requests arriving while a connection is being made wait for it (at most
        // twice the timeout) rather than fail a burst that meets a cold start.
        let mut last_attempt = self.connecting.lock().await;
        if let Some(connection) = self.connection.load_full() {
            return Ok((*connection).clone());
        }
        if last_attempt.is_some_and(|at| at.elapsed() < RECONNECT_PAUSE) {
            return Err("Redis was unreachable a moment ago".to_owned());
        }
        *last_attempt = Some(Instant::now());
        let timeout = self.settings.timeout;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connecting = ConnectionManager::new_with_config(self.client.clone(), config);
        let connection = tokio::time::timeout(timeout * 2, connecting)
            .await
            .map_err(|_| format!("cannot connect to Redis within {:?}", timeout * 2))?
            .map_err(|error| format!("cannot connect to Redis: {error}"))?;
        self.connection.store(Some(Arc::new(connection.clone())));
        Ok(connection)
    }
}
