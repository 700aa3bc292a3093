//! PostgreSQL, for hosts that share their durable data: the connection pool, the
//! schema and its migrations, and what a failed call means.
//!
//! Plugin data ([`crate::store`]) and credentials ([`crate::auth`]) live in one
//! database, reached through one bounded pool per host. Calls block (the pool hands
//! out synchronous clients), so the async server runs them on the database's lanes,
//! as it does SQLite's: as many threads as the pool has connections, split between
//! reads and writes so that reads never queue behind writes waiting for a lock.
//!
//! # Schema
//!
//! The tables are made, and later changed, by numbered migrations; the number applied
//! is recorded in `piston_schema`. A host applies what is missing on its first call
//! that reaches the database, under an advisory lock, so hosts starting together apply
//! each migration once; a database migrated by a newer Piston is refused rather than
//! misread. The host starts whether or not the database answers.
//!
//! # Failures
//!
//! A call that cannot reach the database (refused, reset, timed out waiting for a
//! connection, the server shutting down) is [`Failure::Unavailable`]: the request that
//! needed it is answered 503, never something guessed. The pool drops broken
//! connections and makes new ones, so service resumes when the server is back.

use crate::reachability::Reachability;
use crate::sqlite::Lane;
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{GenericClient, NoTls, Row, Statement};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to reach the database.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresSettings {
    /// `postgres://user[:password]@host[:port]/database[?options]`.
    pub url: String,
    /// The most connections this host opens.
    pub pool_size: u32,
    /// How long a call waits to connect, or for a free connection, before it fails.
    pub timeout: Duration,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The database could not be reached: the caller answers 503.
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    /// The database refused the statement.
    #[error("the database refused: {0}")]
    Refused(String),
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Failure {
        let unreachable = match error.code() {
            None => true,
            Some(code) => {
                code.code().starts_with("08")
                    || [
                        SqlState::ADMIN_SHUTDOWN,
                        SqlState::CRASH_SHUTDOWN,
                        SqlState::CANNOT_CONNECT_NOW,
                        SqlState::TOO_MANY_CONNECTIONS,
                        SqlState::QUERY_CANCELED,
                    ]
                    .contains(code)
            }
        };
        let message = match error.as_db_error() {
            Some(db) => db.message().to_owned(),
            None => error.to_string(),
        };
        if unreachable {
            Failure::Unavailable(message)
        } else {
            Failure::Refused(message)
        }
    }
}

/// The migrations, in order: the schema a database at version `n` has is the first
/// `n` applied. Never edit one that has shipped; add the next.
const MIGRATIONS: &[&str] = &[
    // 1: plugin data with each namespace's usage, and the credentials. Keys are bytes
    // so that they sort in byte order, as the SQLite store's do, whatever the
    // database's collation.
    "
    CREATE TABLE kv (
        namespace BYTEA NOT NULL,
        bucket    BYTEA NOT NULL,
        key       BYTEA NOT NULL,
        value     BYTEA NOT NULL,
        PRIMARY KEY (namespace, bucket, key)
    );
    CREATE TABLE kv_usage (
        namespace BYTEA PRIMARY KEY,
        bytes     BIGINT NOT NULL
    );
    CREATE TABLE users (
        username      TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        digest_realm  TEXT NOT NULL,
        digest_md5    TEXT NOT NULL,
        digest_sha256 TEXT NOT NULL,
        first_name    TEXT,
        version       BIGINT NOT NULL,
        created_at    BIGINT NOT NULL
    );
    CREATE TABLE secrets (
        name  TEXT PRIMARY KEY,
        value BYTEA NOT NULL
    );
    CREATE TABLE api_tokens (
        id         TEXT PRIMARY KEY,
        hash       BYTEA NOT NULL UNIQUE,
        username   TEXT NOT NULL,
        scopes     TEXT NOT NULL,
        expires_at BIGINT,
        revoked    BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE oauth_consumers (
        key        TEXT PRIMARY KEY,
        secret     TEXT NOT NULL,
        name       TEXT NOT NULL,
        callback   TEXT,
        revoked    BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE oauth_tokens (
        token      TEXT PRIMARY KEY,
        secret     TEXT NOT NULL,
        kind       TEXT NOT NULL,
        consumer   TEXT NOT NULL,
        username   TEXT,
        callback   TEXT,
        verifier   TEXT,
        expires_at BIGINT,
        revoked    BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens (kind, expires_at);
    CREATE INDEX oauth_tokens_by_consumer ON oauth_tokens (consumer, kind);
    ",
];

/// What hosts migrating at once serialize on (any fixed number; this one spells
/// "piston" in ASCII).
const MIGRATION_LOCK: i64 = 0x7069_7374_6f6e;

/// One host's way to the shared database.
pub struct Database {
    pool: r2d2::Pool<Manager>,
    reachability: Reachability,
    /// Whether this host has seen the schema up to date.
    migrated: AtomicBool,
    /// Held while migrating, so this host's calls do not all try at once.
    migrating: Mutex<()>,
    reads: Lane,
    writes: Lane,
}

impl Database {
    /// A pool for `settings`; connects nothing yet (see [`Database::check`]).
    pub fn open(settings: &PostgresSettings) -> Result<Database, String> {
        let mut config: postgres::Config = settings.url.parse().map_err(|error| {
            format!(
                "store.url is not a PostgreSQL URL (postgres://user@host:port/database): {error}"
            )
        })?;
        config.connect_timeout(settings.timeout);
        if config.get_application_name().is_none() {
            config.application_name("piston");
        }
        let location = location(&config);
        let pool_size = settings.pool_size.max(2);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(0))
            .connection_timeout(settings.timeout)
            // A broken connection fails its call (503) and is dropped on return;
            // checking every one on the way out would cost a round trip per call.
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager { config });
        let write_threads = (pool_size / 2).max(1) as usize;
        let lanes = Lane::start("postgres-read", pool_size as usize - write_threads)
            .and_then(|reads| Ok((reads, Lane::start("postgres-write", write_threads)?)));
        let (reads, writes) =
            lanes.map_err(|error| format!("cannot start the database's threads: {error}"))?;
        Ok(Database {
            pool,
            reachability: Reachability::new("store (postgres)", location),
            migrated: AtomicBool::new(false),
            migrating: Mutex::new(()),
            reads,
            writes,
        })
    }

    /// The threads calls that only read run on.
    pub fn reads(&self) -> &Lane {
        &self.reads
    }

    /// The threads calls that write run on.
    pub fn writes(&self) -> &Lane {
        &self.writes
    }

    /// Reaches the database once (migrating it if needed), blocking: what a host says
    /// at start, and what a health check asks.
    pub fn check(&self) -> Result<(), Failure> {
        self.call(|session| {
            let result = session.client.simple_query("");
            result.map(drop).map_err(|error| session.fail(error))
        })
    }

    /// Runs `call` on a connection of the pool, with the schema up to date. Whether the
    /// database answered is recorded: a failure to reach it by the session, a success
    /// here.
    ///
    /// The pool's clients block on a runtime of their own, which tokio forbids on its
    /// threads: called from one (setting up authentication when the configuration is
    /// read), `call` runs on a thread of its own while the caller waits.
    pub fn call<T: Send, E: From<Failure> + Send>(
        &self,
        call: impl FnOnce(&mut Session<'_, postgres::Client>) -> Result<T, E> + Send,
    ) -> Result<T, E> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return std::thread::scope(|scope| {
                scope
                    .spawn(|| self.call_here(call))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
        }
        self.call_here(call)
    }

    fn call_here<T, E: From<Failure>>(
        &self,
        call: impl FnOnce(&mut Session<'_, postgres::Client>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut connection = self.connection()?;
        let connection = &mut *connection;
        let value = call(&mut Session {
            client: &mut connection.client,
            statements: &mut connection.statements,
            reachability: &self.reachability,
        })?;
        self.reachability.up();
        Ok(value)
    }

    /// Runs `call` in a transaction: committed if it succeeds, rolled back if not.
    pub fn transaction<T: Send, E: From<Failure> + Send>(
        &self,
        call: impl FnOnce(&mut Session<'_, postgres::Transaction<'_>>) -> Result<T, E> + Send,
    ) -> Result<T, E> {
        self.call(|session| {
            let reachability = session.reachability;
            let mut transaction = session
                .client
                .transaction()
                .map_err(|error| Failure::seen(error, reachability))?;
            let value = call(&mut Session {
                client: &mut transaction,
                statements: session.statements,
                reachability,
            })?;
            transaction
                .commit()
                .map_err(|error| Failure::seen(error, reachability))?;
            Ok(value)
        })
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<Manager>, Failure> {
        let mut connection = self.pool.get().map_err(|error| {
            let failure = Failure::Unavailable(match error.to_string() {
                message if message.is_empty() => "no connection within the timeout".to_owned(),
                message => message,
            });
            self.reachability.down(&failure.to_string());
            failure
        })?;
        if !self.migrated.load(Ordering::Acquire) {
            let _migrating = self
                .migrating
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !self.migrated.load(Ordering::Acquire) {
                let version = migrate(&mut connection.client)
                    .map_err(|error| Failure::seen(error, &self.reachability))?;
                tracing::info!(
                    at = %self.reachability.location(),
                    schema_version = version,
                    "store database ready"
                );
                self.migrated.store(true, Ordering::Release);
            }
        }
        Ok(connection)
    }
}

#[async_trait::async_trait]
impl crate::reachability::Backend for Arc<Database> {
    fn role(&self) -> &'static str {
        "store"
    }

    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> String {
        self.reachability.location().to_owned()
    }

    fn reachability(&self) -> Option<&Reachability> {
        Some(&self.reachability)
    }

    async fn probe(&self) {
        let database = self.clone();
        // Recorded by the call; a failure is already in the reachability.
        let _ = self.reads.run(move || database.check()).await;
    }
}

/// Where the database is, for people: `host:port/database`, never the password.
fn location(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(name)) => name.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{database}")
}

/// Brings the schema up to date under the migration lock; returns its version.
fn migrate(client: &mut postgres::Client) -> Result<usize, MigrationError> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    transaction.batch_execute(
        "CREATE TABLE IF NOT EXISTS piston_schema (
             id      INT PRIMARY KEY CHECK (id = 0),
             version BIGINT NOT NULL
         )",
    )?;
    let recorded = transaction
        .query_opt("SELECT version FROM piston_schema WHERE id = 0", &[])?
        .map_or(0, |row| row.get::<_, i64>(0));
    let recorded = usize::try_from(recorded).unwrap_or(usize::MAX);
    if recorded > MIGRATIONS.len() {
        return Err(MigrationError::Newer(recorded));
    }
    for migration in &MIGRATIONS[recorded..] {
        transaction.batch_execute(migration)?;
    }
    let version = MIGRATIONS.len() as i64;
    transaction.execute(
        "INSERT INTO piston_schema (id, version) VALUES (0, $1)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        &[&version],
    )?;
    transaction.commit()?;
    Ok(MIGRATIONS.len())
}

/// Why the schema could not be brought up to date.
enum MigrationError {
    /// A newer Piston migrated the database to this version.
    Newer(usize),
    /// The database failed.
    Database(postgres::Error),
}

impl From<postgres::Error> for MigrationError {
    fn from(error: postgres::Error) -> MigrationError {
        MigrationError::Database(error)
    }
}

impl Failure {
    /// `error`, classified, with an outage recorded in `reachability`.
    fn seen(error: impl Into<MigrationError>, reachability: &Reachability) -> Failure {
        let failure = match error.into() {
            // Unavailable: no answer from this host would be right until it is upgraded.
            MigrationError::Newer(version) => Failure::Unavailable(format!(
                "the database's schema is version {version}, newer than this Piston knows \
                 ({}): upgrade this host",
                MIGRATIONS.len()
            )),
            MigrationError::Database(error) => Failure::from(error),
        };
        if let Failure::Unavailable(error) = &failure {
            reachability.down(error);
        }
        failure
    }
}

/// Opens connections for the pool.
struct Manager {
    config: postgres::Config,
}

/// A pooled connection and the statements prepared on it.
pub struct Connection {
    client: postgres::Client,
    statements: HashMap<String, Statement>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        Ok(Connection {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, connection: &mut Connection) -> Result<(), postgres::Error> {
        connection.client.simple_query("").map(drop)
    }

    fn has_broken(&self, connection: &mut Connection) -> bool {
        connection.client.is_closed()
    }
}

/// A connection (or a transaction on one) with its prepared statements: each SQL text
/// is parsed once per connection.
pub struct Session<'a, C> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, Statement>,
    reachability: &'a Reachability,
}

/// A statement's parameters.
pub type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<C: GenericClient> Session<'_, C> {
    /// `error`, classified, with an outage recorded.
    fn fail(&self, error: postgres::Error) -> Failure {
        Failure::seen(error, self.reachability)
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, Failure> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(|error| self.fail(error))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, Failure> {
        let statement = self.statement(sql)?;
        let result = self.client.execute(&statement, params);
        result.map_err(|error| self.fail(error))
    }

    /// Every row a query returns.
    pub fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, Failure> {
        let statement = self.statement(sql)?;
        let result = self.client.query(&statement, params);
        result.map_err(|error| self.fail(error))
    }

    /// The row a query returns, if any (more than one is an error).
    pub fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, Failure> {
        let statement = self.statement(sql)?;
        let result = self.client.query_opt(&statement, params);
        result.map_err(|error| self.fail(error))
    }
}

/// Databases for tests, on the server `PISTON_TEST_POSTGRES_URL` names.
#[cfg(test)]
pub mod testing {
    use super::{Database, PostgresSettings};
    use std::time::Duration;

    /// The test server's URL; the tests that need it fail without it, saying so.
    pub fn server_url() -> String {
        std::env::var("PISTON_TEST_POSTGRES_URL").expect(
            "PISTON_TEST_POSTGRES_URL names no PostgreSQL server: run the tests with \
             `cargo xtask test`, which starts one",
        )
    }

    /// Settings for `url`.
    pub fn settings(url: String) -> PostgresSettings {
        PostgresSettings {
            url,
            pool_size: 8,
            timeout: Duration::from_secs(5),
        }
    }

    /// A host's pool on the test server's database.
    pub fn database() -> Database {
        Database::open(&settings(server_url())).unwrap()
    }

    /// A new, empty database on the test server: its URL.
    pub fn fresh_database() -> String {
        let url = server_url();
        let mut client = url
            .parse::<postgres::Config>()
            .unwrap()
            .connect(postgres::NoTls)
            .unwrap();
        let mut name = [0u8; 8];
        getrandom::fill(&mut name).unwrap();
        let name = format!("piston_test_{}", hex::encode(name));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut config = url.parse::<postgres::Config>().unwrap();
        config.dbname(&name);
        let (user, host, port) = (
            config.get_user().unwrap_or("postgres").to_owned(),
            match &config.get_hosts()[0] {
                postgres::config::Host::Tcp(host) => host.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            },
            config.get_ports().first().copied().unwrap_or(5432),
        );
        format!("postgres://{user}@{host}:{port}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_starting_together_migrate_once() {
        let url = testing::fresh_database();
        let hosts: Vec<Database> = (0..4)
            .map(|_| Database::open(&testing::settings(url.clone())).unwrap())
            .collect();
        std::thread::scope(|scope| {
            for host in &hosts {
                scope.spawn(|| host.check().unwrap());
            }
        });
        let version = hosts[0]
            .call(|session| {
                Ok::<_, Failure>(
                    session
                        .query_opt("SELECT version FROM piston_schema", &[])?
                        .map(|row| row.get::<_, i64>(0)),
                )
            })
            .unwrap();
        assert_eq!(version, Some(MIGRATIONS.len() as i64));
    }

    #[test]
    fn a_database_migrated_by_a_newer_piston_is_refused() {
        let url = testing::fresh_database();
        let first = Database::open(&testing::settings(url.clone())).unwrap();
        first
            .call(|session| {
                session.execute("UPDATE piston_schema SET version = 999", &[])?;
                Ok::<_, Failure>(())
            })
            .unwrap();
        let newer = Database::open(&testing::settings(url)).unwrap();
        let error = newer.check().unwrap_err();
        assert!(
            matches!(&error, Failure::Unavailable(message) if message.contains("upgrade")),
            "{error}"
        );
    }

    #[test]
    fn an_unreachable_database_fails_fast_and_says_so() {
        // A port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let database = Database::open(&PostgresSettings {
            url: format!("postgres://piston@127.0.0.1:{port}/piston"),
            pool_size: 2,
            timeout: Duration::from_millis(300),
        })
        .unwrap();
        assert_eq!(
            database.reachability.status(),
            crate::reachability::Status::Unknown
        );
        let error = database.check().unwrap_err();
        assert!(matches!(error, Failure::Unavailable(_)), "{error}");
        assert!(matches!(
            database.reachability.status(),
            crate::reachability::Status::Down { .. }
        ));
    }
}
