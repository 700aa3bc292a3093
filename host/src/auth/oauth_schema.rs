//! The OAuth tables of the credentials database. Apart from [`oauth`](super::oauth)
//! because the [`store`](super::store) creates them when it opens the database, and the
//! OAuth code builds on that store: kept in either, the two would depend on each other.

/// Consumers and tokens. (Nonces are the coordination backend's: databases made
/// before keep their unused `oauth_nonces` and `oauth_nonce_floor` tables.)
pub(super) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS oauth_consumers (
        key        TEXT PRIMARY KEY,
        secret     TEXT NOT NULL,
        name       TEXT NOT NULL,
        callback   TEXT,
        revoked    INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS oauth_tokens (
        token      TEXT PRIMARY KEY,
        secret     TEXT NOT NULL,
        kind       TEXT NOT NULL,
        consumer   TEXT NOT NULL,
        username   TEXT,
        callback   TEXT,
        verifier   TEXT,
        expires_at INTEGER,
        revoked    INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS oauth_tokens_by_expiry ON oauth_tokens (kind, expires_at);
    CREATE INDEX IF NOT EXISTS oauth_tokens_by_consumer ON oauth_tokens (consumer, kind);
";
