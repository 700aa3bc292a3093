//! Counters in Redis: exact across every host that shares them.
//!
//! One Lua script decides requests against all of their callers' rules atomically, on
//! Redis's own clock (so hosts with skewed clocks still agree), and returns the TATs
//! for the headers. A caller's rules are one hash that expires once all its TATs
//! have passed.
//!
//! One task talks to Redis for all requests, one turn at a time: the requests that
//! arrive while a call is under way go together in the next one, which decides
//! them one after another at one instant of Redis's clock, each caller's requests
//! under the same rules in the order they came. That is what one call each could
//! have decided, for one round trip and one script run per batch instead of per
//! request; a lone request still goes at once.
//!
//! Redis may be down when the host starts, or go away while it serves: the first
//! call tries to connect (requests arriving meanwhile wait for it; after a failure at
//! most one attempt per pause), every failure is reported to the caller within about
//! twice the configured timeout, and the connection is re-established when Redis
//! answers again.

use super::Outcome;
use super::gcra::{self, Gcra};
use super::settings::RedisSettings;
use crate::coordination::connect::{self, Connector};
use futures_util::future::join_all;
use redis::aio::ConnectionManager;
use redis::{Cmd, ErrorKind, RedisWrite, ServerErrorKind};
use std::io::Write;
use tokio::sync::{mpsc, oneshot};

/// The same arithmetic as `gcra::decide`, on Redis's clock, for runs of requests.
///
/// A run is requests of one caller under the same rules, decided one after another.
/// KEYS[r]: the hash of run `r`'s caller. ARGV, for each run in turn: its number of
/// requests and of rules, then for each rule its field, emission interval and
/// tolerance (microseconds). Returns the time, then for each run how many of its
/// requests were admitted (the first ones: at one instant, once a request is refused
/// so are the rest) and each rule's TAT before the run, from which the host replays
/// the verdicts and TATs of each request. A hash is read once per call and written
/// once; its expiry is only ever extended, to outlive the TATs just written, so that
/// a rule with a short period does not take a longer one's count with it. TATs are
/// written with `%.0f`: Lua's default would write large numbers in exponent notation
/// and lose digits.
const SCRIPT: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local known = {}
local changed = {}
local expiry = {}
local order = {}
local reply = {now}
local at = 1
for r = 1, #KEYS do
  local key = KEYS[r]
  local tats = known[key]
  if not tats then
    tats = {}
    known[key] = tats
  end
  local requests = tonumber(ARGV[at])
  local rules = tonumber(ARGV[at + 1])
  local fields, emissions, tolerances, mine = {}, {}, {}, {}
  reply[#reply + 1] = 0
  local verdicts = #reply
  for i = 1, rules do
    local base = at + 3 * i - 1
    local field = ARGV[base]
    fields[i] = field
    emissions[i] = tonumber(ARGV[base + 1])
    tolerances[i] = tonumber(ARGV[base + 2])
    local tat = tats[field]
    if tat == nil then
      tat = tonumber(redis.call('HGET', key, field)) or now
    end
    if tat < now then tat = now end
    mine[i] = tat
    reply[#reply + 1] = tat
  end
  local admitted = 0
  local open = true
  while open and admitted < requests do
    for i = 1, rules do
      if mine[i] - tolerances[i] > now then open = false end
    end
    if open then
      for i = 1, rules do mine[i] = mine[i] + emissions[i] end
      admitted = admitted + 1
    end
  end
  reply[verdicts] = admitted
  for i = 1, rules do tats[fields[i]] = mine[i] end
  if admitted > 0 then
    local dirty = changed[key]
    if not dirty then
      dirty = {}
      changed[key] = dirty
      order[#order + 1] = key
    end
    local longest = 0
    for i = 1, rules do
      if not dirty[fields[i]] then
        dirty[fields[i]] = true
        dirty[#dirty + 1] = fields[i]
      end
      if mine[i] - now > longest then longest = mine[i] - now end
    end
    expiry[key] = math.ceil(longest / 1000) + 1000
  end
  at = at + 2 + 3 * rules
end
for _, key in ipairs(order) do
  local tats = known[key]
  for _, field in ipairs(changed[key]) do
    redis.call('HSET', key, field, string.format('%.0f', tats[field]))
  end
  if redis.call('PTTL', key) < expiry[key] then
    redis.call('PEXPIRE', key, expiry[key])
  end
end
return reply
";

/// The most requests one script call decides, so that one call keeps Redis busy for
/// a bounded time; more waiting go in several calls at once.
const BATCH: usize = 64;

/// The counters: where requests wait for the task that calls Redis.
pub struct SharedCounters {
    queue: mpsc::UnboundedSender<Pending>,
    location: String,
    key_prefix: String,
}

/// A request waiting for its verdict.
struct Pending {
    key: String,
    rules: Vec<(usize, Gcra)>,
    verdict: oneshot::Sender<Result<Outcome, String>>,
}

impl SharedCounters {
    /// Counters in the Redis at `settings.url`, with the task that calls it on the
    /// current tokio runtime; nothing is connected until the first request.
    pub fn new(settings: RedisSettings) -> Result<SharedCounters, String> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|error| format!("the Redis URL is not usable: {error}"))?;
        let location = connect::location(&client);
        let key_prefix = settings.key_prefix.clone();
        let (queue, waiting) = mpsc::unbounded_channel();
        let redis = Redis {
            connector: Connector::new(client, settings.timeout),
            script: redis::Script::new(SCRIPT),
            settings,
        };
        tokio::spawn(redis.serve(waiting));
        Ok(SharedCounters {
            queue,
            location,
            key_prefix,
        })
    }

    /// Where the counters are, for log lines (never the password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// What every key starts with.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Decides one request of `key` (which starts with the prefix) against `rules`
    /// (each with its slot).
    pub async fn acquire(&self, key: String, rules: &[(usize, Gcra)]) -> Result<Outcome, String> {
        let (verdict, answer) = oneshot::channel();
        let pending = Pending {
            key,
            rules: rules.to_vec(),
            verdict,
        };
        let stopped = || "the task calling Redis has stopped".to_owned();
        self.queue.send(pending).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The connection to Redis and what a call needs, owned by the one task that calls.
struct Redis {
    connector: Connector,
    script: redis::Script,
    settings: RedisSettings,
}

impl Redis {
    /// Decides the waiting requests, all that have queued up at each turn, until the
    /// counters are dropped. A request waits at most for the calls under way when it
    /// came, then for its own: failures still reach it within about twice the
    /// timeout, however many wait.
    async fn serve(mut self, mut queue: mpsc::UnboundedReceiver<Pending>) {
        let mut waiting = Vec::new();
        // One per call of a turn, their buffers reused from turn to turn.
        let mut commands: Vec<Cmd> = Vec::new();
        while queue.recv_many(&mut waiting, usize::MAX).await > 0 {
            // A request whose client went away is not counted.
            waiting.retain(|pending| !pending.verdict.is_closed());
            if waiting.is_empty() {
                continue;
            }
            let verdicts = match self.connector.connection().await {
                Ok(connection) => {
                    commands.resize_with(waiting.len().div_ceil(BATCH), Cmd::new);
                    let calls = waiting
                        .chunks(BATCH)
                        .zip(&mut commands)
                        .map(|(batch, command)| self.decide(connection.clone(), command, batch));
                    join_all(calls).await
                }
                Err(reason) => waiting.chunks(BATCH).map(|_| Err(reason.clone())).collect(),
            };
            let mut answering = waiting.drain(..);
            for verdict in verdicts {
                let batch = answering.by_ref().take(BATCH);
                match verdict {
                    Ok(outcomes) => {
                        for (pending, outcome) in batch.zip(outcomes) {
                            let _ = pending.verdict.send(Ok(outcome));
                        }
                    }
                    Err(reason) => {
                        for pending in batch {
                            let _ = pending.verdict.send(Err(reason.clone()));
                        }
                    }
                }
            }
        }
    }

    /// Decides `batch` in one script call: each request's outcome, in order.
    async fn decide(
        &self,
        mut connection: ConnectionManager,
        command: &mut Cmd,
        batch: &[Pending],
    ) -> Result<Vec<Outcome>, String> {
        let runs = runs(batch);
        self.prepare(command, batch, &runs);
        let reply: Vec<u64> =
            tokio::time::timeout(self.settings.timeout, self.call(command, &mut connection))
                .await
                .map_err(|_| format!("Redis did not answer within {:?}", self.settings.timeout))?
                .map_err(|error| format!("Redis failed: {error}"))?;
        outcomes(batch, &runs, &reply)
            .ok_or_else(|| format!("Redis answered the script with {reply:?}"))
    }

    /// Writes the script call for `runs` of `batch` into `command`.
    fn prepare(&self, command: &mut Cmd, batch: &[Pending], runs: &[Vec<usize>]) {
        command.clear();
        command
            .arg("EVALSHA")
            .arg(self.script.get_hash())
            .arg(runs.len());
        for run in runs {
            command.arg(batch[run[0]].key.as_str());
        }
        for run in runs {
            let rules = &batch[run[0]].rules;
            command.arg(run.len()).arg(rules.len());
            for (slot, rule) in rules {
                let _ = write!(
                    command.writer_for_next_arg(),
                    "{slot}:{}/{}",
                    rule.limit,
                    rule.emission
                );
                command.arg(rule.emission).arg(rule.tolerance);
            }
        }
    }

    /// Calls the script by its hash, loading it first when Redis does not know it.
    async fn call(
        &self,
        command: &Cmd,
        connection: &mut ConnectionManager,
    ) -> redis::RedisResult<Vec<u64>> {
        if let Some(metrics) = crate::telemetry::metrics() {
            metrics.coordinated("redis", "throttle");
        }
        match command.query_async(connection).await {
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.script.load_async(connection).await?;
                command.query_async(connection).await
            }
            answer => answer,
        }
    }
}

/// The runs of `batch`: the positions of each caller's requests under the same rules,
/// in the order they came.
fn runs(batch: &[Pending]) -> Vec<Vec<usize>> {
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for (position, pending) in batch.iter().enumerate() {
        let same = |run: &&mut Vec<usize>| {
            let first = &batch[run[0]];
            first.key == pending.key && first.rules == pending.rules
        };
        match runs.iter_mut().find(same) {
            Some(run) => run.push(position),
            None => runs.push(vec![position]),
        }
    }
    runs
}

/// Each request's outcome, in the order of `batch`, replayed from the script's
/// `reply` for `runs`; `None` when the reply is not the script's or does not admit
/// what the replay does.
fn outcomes(batch: &[Pending], runs: &[Vec<usize>], reply: &[u64]) -> Option<Vec<Outcome>> {
    let (&now, mut rest) = reply.split_first()?;
    let mut outcomes: Vec<Option<Outcome>> = batch.iter().map(|_| None).collect();
    for run in runs {
        let rules: Vec<Gcra> = batch[run[0]].rules.iter().map(|(_, rule)| *rule).collect();
        let (&admitted, after) = rest.split_first()?;
        let (tats, after) = after.split_at_checked(rules.len())?;
        rest = after;
        let mut tats = tats.to_vec();
        let mut admitted_here = 0;
        for &position in run {
            let admitted = gcra::decide(now, &rules, &mut tats);
            admitted_here += u64::from(admitted);
            outcomes[position] = Some(Outcome {
                admitted,
                now,
                tats: tats.clone(),
            });
        }
        if admitted_here != admitted {
            return None;
        }
    }
    if !rest.is_empty() {
        return None;
    }
    outcomes.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(key: &str, rules: &[(usize, Gcra)]) -> Pending {
        Pending {
            key: key.to_owned(),
            rules: rules.to_vec(),
            verdict: oneshot::channel().0,
        }
    }

    #[test]
    fn a_callers_requests_under_the_same_rules_form_one_run_in_order() {
        let get = [(1, Gcra::new(3, 60))];
        let put = [(0, Gcra::new(1, 60)), (1, Gcra::new(3, 60))];
        let batch = [
            pending("ann", &get),
            pending("bob", &get),
            pending("ann", &put),
            pending("ann", &get),
        ];
        assert_eq!(runs(&batch), [vec![0, 3], vec![1], vec![2]]);
    }

    #[test]
    fn each_request_of_a_run_gets_its_own_verdict_and_tats() {
        let rule = Gcra::new(2, 60);
        let batch = [
            pending("ann", &[(0, rule)]),
            pending("ann", &[(0, rule)]),
            pending("ann", &[(0, rule)]),
        ];
        let runs = runs(&batch);
        let now = 1_000_000;
        let outcomes = outcomes(&batch, &runs, &[now, 2, now]).unwrap();
        let verdicts: Vec<(bool, u32)> = outcomes
            .iter()
            .map(|outcome| {
                (
                    outcome.admitted,
                    rule.remaining(outcome.now, outcome.tats[0]),
                )
            })
            .collect();
        assert_eq!(verdicts, [(true, 1), (true, 0), (false, 0)]);
    }

    #[test]
    fn a_reply_that_is_not_the_scripts_is_refused() {
        let rule = Gcra::new(2, 60);
        let batch = [pending("ann", &[(0, rule)]), pending("bob", &[(0, rule)])];
        let runs = runs(&batch);
        let now = 1_000_000;
        assert!(outcomes(&batch, &runs, &[now, 1, now, 1, now]).is_some());
        for reply in [
            &[][..],
            &[now, 1, now],
            &[now, 1, now, 1, now, 7],
            // Redis admitted none where the same arithmetic admits one.
            &[now, 1, now, 0, now],
        ] {
            assert!(outcomes(&batch, &runs, reply).is_none(), "{reply:?}");
        }
    }
}
