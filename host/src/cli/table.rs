//! The tables the commands print: resources (`piston serve`, `piston list`, and the
//! admin API's document they are made from), plugin traffic, users and API tokens.

use crate::auth::oauth::{Consumer, OAuthToken};
use crate::auth::{Token, User};
use comfy_table::{Table, presets};
use serde_json::Value;

/// One row a resource (or authenticator); a failed file is one row with its error.
/// Reads the document [`crate::admin::resources_document`] makes, from this process or a live
/// server.
pub fn resources(document: &Value) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_header([
        "PLUGIN",
        "VERSION",
        "RESOURCE",
        "ROUTES",
        "METHODS",
        "ANONYMOUS",
        "THROTTLE",
        "OUTBOUND",
        "SOURCE",
        "STATUS",
    ]);
    let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
    let list = |value: &Value, separator: &str| {
        let items: Vec<String> = value
            .as_array()
            .map(|items| items.iter().map(text).collect())
            .unwrap_or_default();
        or_dash(items.join(separator))
    };
    for entry in document.as_array().map(Vec::as_slice).unwrap_or_default() {
        let status = match (&entry["status"], &entry["update_refused"]) {
            (Value::String(status), _) if status == "error" => {
                format!("error: {}", text(&entry["error"]))
            }
            (_, Value::String(refused)) => {
                format!("ok (previous version; the new file was refused: {refused})")
            }
            _ => "ok".to_owned(),
        };
        let status = match &entry["source_error"] {
            Value::String(error) => format!("{status}; cannot update from the registry: {error}"),
            _ => status,
        };
        let source = source(entry);
        let outbound = list(&entry["allowed_outbound_hosts"], " ");
        if let Some(plugin) = entry.get("plugin") {
            for resource in plugin["resources"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let throttles: Vec<String> = resource["throttles"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|rule| {
                        format!(
                            "{} {}/{}s",
                            list(&rule["methods"], ", "),
                            rule["requests"],
                            rule["period_seconds"]
                        )
                    })
                    .collect();
                table.add_row([
                    text(&plugin["name"]),
                    text(&plugin["version"]),
                    text(&resource["name"]),
                    list(&resource["routes"], " "),
                    list(&resource["allowed_methods"], ", "),
                    list(&resource["anonymous_methods"], ", "),
                    or_dash(throttles.join("; ")),
                    outbound.clone(),
                    source.clone(),
                    status.clone(),
                ]);
            }
        } else if let Some(authenticator) = entry.get("authenticator") {
            table.add_row([
                text(&authenticator["name"]),
                text(&authenticator["version"]),
                "(authenticator)".to_owned(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                outbound,
                source,
                status,
            ]);
        } else {
            let file = text(&entry["file"]);
            let name = std::path::Path::new(&file)
                .file_name()
                .map_or(file.clone(), |name| name.to_string_lossy().into_owned());
            table.add_row([
                name,
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                source,
                status,
            ]);
        }
    }
    table
}

/// Where a pulled plugin came from: its source and the start of its manifest digest.
fn source(entry: &Value) -> String {
    match (entry["source"].as_str(), entry["digest"].as_str()) {
        (Some(source), Some(digest)) => {
            let short = digest
                .get(..digest.len().min("sha256:".len() + 12))
                .unwrap_or(digest);
            format!("{source} {short}")
        }
        (Some(source), None) => source.to_owned(),
        _ => "-".to_owned(),
    }
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
        let status = credential_status(token.revoked, token.expires_at, now);
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
        let revoked = token.revoked || consumer.is_none_or(|consumer| consumer.revoked);
        let status = credential_status(revoked, token.expires_at, now);
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

/// One row a plugin: its traffic over the `window` `piston list --url` watched.
pub fn traffic(
    traffic: &std::collections::BTreeMap<String, super::traffic::Traffic>,
    window: std::time::Duration,
) -> Table {
    let mut table = Table::new();
    let seconds = window.as_secs_f64();
    table.load_preset(presets::NOTHING).set_header([
        "PLUGIN".to_owned(),
        format!("REQ/S ({seconds}s)"),
        "5XX".to_owned(),
        "P99".to_owned(),
    ]);
    for (plugin, traffic) in traffic {
        table.add_row([
            plugin.clone(),
            format!("{:.1}", traffic.rate),
            traffic
                .errors
                .map_or("-".to_owned(), |share| format!("{:.1}%", share * 100.0)),
            traffic
                .p99
                .map_or("-".to_owned(), |seconds| format!("{:.1} ms", seconds * 1e3)),
        ]);
    }
    table
}

/// `revoked`, `expired` or `active`.
fn credential_status(revoked: bool, expires_at: Option<i64>, now: i64) -> &'static str {
    if revoked {
        "revoked"
    } else if expires_at.is_some_and(|expires| expires <= now) {
        "expired"
    } else {
        "active"
    }
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
