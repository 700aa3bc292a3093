//! `piston users`: the accounts Basic and Digest authenticate against.
//!
//! Passwords are read from a prompt (or, when stdin is not a terminal, its first line),
//! never from the command line, where other users of the machine and the shell history
//! would see them.

use super::{CliError, CommonArgs, open_auth_store, settings, table};
use crate::auth::{AuthStore, User, digest_secrets, hash_password, now};
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

/// Arguments of `piston users`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user; the password is prompted for (or read from stdin).
    Add {
        /// The name they log in with
        username: String,
        /// Their first name, shown to plugins in the principal's claims
        #[arg(long, value_name = "NAME")]
        first_name: Option<String>,
    },
    /// Change a user's password; it is prompted for (or read from stdin).
    Passwd {
        /// The user
        username: String,
    },
    /// Remove a user and revoke their API tokens.
    Remove {
        /// The user
        username: String,
    },
    /// List the users.
    List,
}

/// The longest password accepted (argon2 takes any length; this bounds the work).
const MAX_PASSWORD_BYTES: usize = 1024;

pub fn run(args: UsersArgs) -> Result<ExitCode, CliError> {
    let settings = settings(&args.common.overrides())?;
    let store = open_auth_store(&settings)?;
    let realm = &settings.auth.realm;
    match args.command {
        UsersCommand::Add {
            username,
            first_name,
        } => {
            check_username(&username)?;
            if store.user(&username).map_err(failed)?.is_some() {
                return Err(CliError::Failed(format!(
                    "user `{username}` already exists"
                )));
            }
            let password = read_password(&username)?;
            let user = User {
                password_hash: hash_password(&password),
                digest: digest_secrets(&username, realm, &password),
                username,
                first_name,
                version: 1,
                created_at: now(),
            };
            store.add_user(&user).map_err(failed)?;
            eprintln!("added user `{}`", user.username);
        }
        UsersCommand::Passwd { username } => {
            existing(&store, &username)?;
            let password = read_password(&username)?;
            store
                .set_password(
                    &username,
                    &hash_password(&password),
                    &digest_secrets(&username, realm, &password),
                )
                .map_err(failed)?;
            eprintln!("changed the password of `{username}`");
        }
        UsersCommand::Remove { username } => {
            store.remove_user(&username).map_err(failed)?;
            eprintln!("removed user `{username}` and revoked their tokens");
        }
        UsersCommand::List => {
            let users = store.users().map_err(failed)?;
            println!("{}", table::users(&users));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn failed(error: impl std::fmt::Display) -> CliError {
    CliError::Failed(error.to_string())
}

fn existing(store: &AuthStore, username: &str) -> Result<User, CliError> {
    store
        .user(username)
        .map_err(failed)?
        .ok_or_else(|| CliError::Failed(format!("there is no user `{username}`")))
}

/// A username must survive Basic (no `:`) and header quoting (no control characters).
fn check_username(username: &str) -> Result<(), CliError> {
    let printable = !username.chars().any(char::is_control);
    let trimmed = username.trim() == username;
    if username.is_empty() || username.len() > 150 || !printable || !trimmed {
        return Err(CliError::Usage(format!(
            "USERNAME: `{username}` must be 1 to 150 bytes without control characters or surrounding spaces"
        )));
    }
    if username.contains(':') {
        return Err(CliError::Usage(format!(
            "USERNAME: `{username}` must not contain `:` (HTTP Basic cannot carry it)"
        )));
    }
    Ok(())
}

/// The new password: prompted for twice on a terminal, else the first line of stdin.
fn read_password(username: &str) -> Result<String, CliError> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {username}: "))
            .map_err(|error| CliError::Failed(format!("cannot read the password: {error}")))?;
        let again = rpassword::prompt_password("again: ")
            .map_err(|error| CliError::Failed(format!("cannot read the password: {error}")))?;
        if first != again {
            return Err(CliError::Failed("the passwords differ".to_owned()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|error| {
                CliError::Failed(format!("cannot read the password from stdin: {error}"))
            })?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.is_empty() {
        return Err(CliError::Usage("the password is empty".to_owned()));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CliError::Usage(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(password)
}
