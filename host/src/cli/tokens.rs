//! `piston tokens`: opaque API tokens for the `bearer` authenticator.

use super::{CliError, CommonArgs, open_auth_store, parse_duration, settings, table};
use crate::auth::{issue_token, now};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `piston tokens`.
#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    command: TokensCommand,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Make a token for a user and print it (it is shown only this once).
    Create {
        /// Whose token it is
        username: String,
        /// Limit the token to a scope (repeat for several); without any, the token may
        /// do what its user may
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Make the token expire after this long, e.g. `30d`, `12h`
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires: Option<Duration>,
    },
    /// List the tokens (never the tokens themselves: they are not stored).
    List,
    /// Revoke a token by its id.
    Revoke {
        /// The token's id, from `piston tokens list`
        id: String,
    },
}

pub fn run(args: TokensArgs) -> Result<ExitCode, CliError> {
    let settings = settings(&args.common.overrides())?;
    let store = open_auth_store(&settings)?;
    let failed = |error: crate::auth::AuthStoreError| CliError::Failed(error.to_string());
    match args.command {
        TokensCommand::Create {
            username,
            scopes,
            expires,
        } => {
            if let Some(bad) = scopes
                .iter()
                .find(|scope| scope.is_empty() || scope.contains(char::is_whitespace))
            {
                return Err(CliError::Usage(format!(
                    "--scope: {bad:?} is not a scope (a non-empty word without spaces)"
                )));
            }
            let expires_at = expires.map(|after| {
                now().saturating_add(i64::try_from(after.as_secs()).unwrap_or(i64::MAX))
            });
            let (record, token) =
                issue_token(&store, &username, scopes, expires_at).map_err(failed)?;
            println!("{token}");
            eprintln!(
                "token {} for `{}`: store it now, it cannot be shown again",
                record.id, record.username
            );
        }
        TokensCommand::List => {
            let tokens = store.tokens().map_err(failed)?;
            println!("{}", table::tokens(&tokens, now()));
        }
        TokensCommand::Revoke { id } => {
            store.revoke_token(&id).map_err(failed)?;
            eprintln!("revoked token {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
