//! The tables the commands print: resources (`piston serve`, `piston list`), users and
//! API tokens.

use crate::auth::oauth::{Consumer, OAuthToken};
use crate::auth::{Token, User};
use crate::registry::{Entry, Snapshot};
use comfy_table::{Table, presets};

/// One row a resource; a failed file is one row with its error.
pub fn resources(snapshot: &Snapshot) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_header([
        "PLUGIN",
        "VERSION",
        "RESOURCE",
        "ROUTES",
        "METHODS",
        "ANONYMOUS",
        "THROTTLE",
        "STATUS",
    ]);
    for entry in snapshot.entries() {
        match entry {
            Entry::Loaded(plugin) => {
                for resource in &plugin.spec.resources {
                    let throttles: Vec<String> =
                        resource.throttles.iter().map(ToString::to_string).collect();
                    table.add_row([
                        plugin.spec.name.clone(),
                        plugin.spec.version.clone(),
                        resource.name.clone(),
                        resource.routes.join(" "),
                        resource.allowed_methods.to_string(),
                        or_dash(resource.anonymous_methods.to_string()),
                        or_dash(throttles.join("; ")),
                        "ok".to_owned(),
                    ]);
                }
            }
            Entry::Authenticator(authenticator) => {
                table.add_row([
                    authenticator.spec.name.clone(),
                    authenticator.spec.version.clone(),
                    "(authenticator)".to_owned(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "ok".to_owned(),
                ]);
            }
            Entry::Failed(failure) => {
                let file = failure.file.file_name().map_or_else(
                    || failure.file.display().to_string(),
                    |name| name.to_string_lossy().into_owned(),
                );
                table.add_row([
                    file,
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("error: {}", failure.error),
                ]);
            }
        }
    }
    table
}

/// The same as JSON: loaded plugins with their full specs, authenticators, and
/// failures.
pub fn resources_json(snapshot: &Snapshot) -> String {
    let entries: Vec<serde_json::Value> = snapshot
        .entries()
        .iter()
        .map(|entry| match entry {
            Entry::Loaded(plugin) => serde_json::json!({
                "file": plugin.file,
                "sha256": plugin.digest,
                "status": "ok",
                "plugin": plugin.spec,
            }),
            Entry::Authenticator(authenticator) => serde_json::json!({
                "file": authenticator.file,
                "sha256": authenticator.digest,
                "status": "ok",
                "authenticator": authenticator.spec,
            }),
            Entry::Failed(failure) => serde_json::json!({
                "file": failure.file,
                "status": "error",
                "error": failure.error,
            }),
        })
        .collect();
    serde_json::to_string_pretty(&entries).unwrap_or_default()
}

/// One row a user (never a secret).
pub fn users(users: &[User]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_header(["USERNAME", "FIRST NAME", "CREATED"]);
    for user in users {
        table.add_row([
            user.username.clone(),
            or_dash(user.first_name.clone().unwrap_or_default()),
            timestamp(user.created_at),
        ]);
    }
    table
}

/// One row a token: its id, never the token.
pub fn tokens(tokens: &[Token], now: i64) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_header(["ID", "USER", "SCOPES", "EXPIRES", "STATUS", "CREATED"]);
    for token in tokens {
        let status = if token.revoked {
            "revoked"
        } else if token.expires_at.is_some_and(|expires| expires <= now) {
            "expired"
        } else {
            "active"
        };
        table.add_row([
            token.id.clone(),
            token.username.clone(),
            if token.scopes.is_empty() {
                "(all)".to_owned()
            } else {
                token.scopes.join(" ")
            },
            token
                .expires_at
                .map_or_else(|| "never".to_owned(), timestamp),
            status.to_owned(),
            timestamp(token.created_at),
        ]);
    }
    table
}

/// One row a consumer: its key, never its secret.
pub fn consumers(consumers: &[Consumer]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_header(["KEY", "NAME", "CALLBACK", "STATUS", "CREATED"]);
    for consumer in consumers {
        table.add_row([
            consumer.key.clone(),
            consumer.name.clone(),
            or_dash(consumer.callback.clone().unwrap_or_default()),
            if consumer.revoked {
                "revoked"
            } else {
                "active"
            }
            .to_owned(),
            timestamp(consumer.created_at),
        ]);
    }
    table
}

/// One row a token the users granted: the token, never its secret.
pub fn oauth_tokens(tokens: &[OAuthToken], consumers: &[Consumer], now: i64) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_header(["TOKEN", "USER", "CONSUMER", "STATUS", "CREATED"]);
    for token in tokens {
        let consumer = consumers
            .iter()
            .find(|consumer| consumer.key == token.consumer);
        let status = if token.revoked || consumer.is_none_or(|consumer| consumer.revoked) {
            "revoked"
        } else if token.expires_at.is_some_and(|expires| expires <= now) {
            "expired"
        } else {
            "active"
        };
        table.add_row([
            token.token.clone(),
            token.username.clone().unwrap_or_default(),
            consumer.map_or_else(|| token.consumer.clone(), |consumer| consumer.name.clone()),
            status.to_owned(),
            timestamp(token.created_at),
        ]);
    }
    table
}

/// Seconds since the epoch as RFC 3339, UTC.
fn timestamp(seconds: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}
