//! `piston oauth`: the consumers of the OAuth 1.0a provider and the tokens they hold.

use super::{CliError, CommonArgs, open_auth_store, settings, table};
use crate::auth::now;
use crate::auth::oauth::{check_registered_callback, register_consumer};
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// Arguments of `piston oauth`.
#[derive(Debug, Args)]
pub struct OAuthArgs {
    #[command(subcommand)]
    command: OAuthCommand,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum OAuthCommand {
    /// Manage consumers (the applications that may ask users for access).
    #[command(subcommand)]
    Consumers(ConsumersCommand),
    /// Manage the token credentials users have granted.
    #[command(subcommand)]
    Tokens(TokensCommand),
}

#[derive(Debug, Subcommand)]
enum ConsumersCommand {
    /// Register a consumer and print its key and secret.
    Add {
        /// What users are shown when it asks for access
        name: String,
        /// Only accept callbacks that lead where this URL does: the same scheme, host
        /// and port, and a path at or under its path
        #[arg(long, value_name = "URL")]
        callback: Option<String>,
    },
    /// List the consumers (never their secrets).
    List,
    /// Revoke a consumer: it can no longer sign requests, and its tokens stop working.
    Revoke {
        /// The consumer's key
        key: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// List the token credentials (never their secrets).
    List,
    /// Revoke token credentials.
    Revoke {
        /// The token (`oauth_token`)
        token: String,
    },
}

pub fn run(args: OAuthArgs) -> Result<ExitCode, CliError> {
    let settings = settings(&args.common.overrides())?;
    let store = open_auth_store(&settings)?;
    let failed = |error: crate::auth::AuthStoreError| CliError::Failed(error.to_string());
    match args.command {
        OAuthCommand::Consumers(ConsumersCommand::Add { name, callback }) => {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                return Err(CliError::Usage(
                    "NAME: must be printable text, not empty".to_owned(),
                ));
            }
            if let Some(callback) = &callback {
                check_registered_callback(callback).map_err(|problem| {
                    CliError::Usage(format!(
                        "--callback: `{callback}` {problem}: give an absolute http(s) URL \
                         without user name, password or fragment"
                    ))
                })?;
            }
            let consumer = register_consumer(&store, &name, callback).map_err(failed)?;
            println!("key: {}", consumer.key);
            println!("secret: {}", consumer.secret);
            eprintln!("registered consumer `{name}`: give it the key and the secret");
        }
        OAuthCommand::Consumers(ConsumersCommand::List) => {
            let consumers = store.consumers().map_err(failed)?;
            println!("{}", table::consumers(&consumers));
        }
        OAuthCommand::Consumers(ConsumersCommand::Revoke { key }) => {
            store.revoke_consumer(&key).map_err(failed)?;
            eprintln!("revoked consumer {key}");
        }
        OAuthCommand::Tokens(TokensCommand::List) => {
            let tokens = store.access_tokens().map_err(failed)?;
            let consumers = store.consumers().map_err(failed)?;
            println!("{}", table::oauth_tokens(&tokens, &consumers, now()));
        }
        OAuthCommand::Tokens(TokensCommand::Revoke { token }) => {
            store.revoke_oauth_token(&token).map_err(failed)?;
            eprintln!("revoked token {token}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
