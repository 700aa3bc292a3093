//! `piston push` and `piston pull`: a plugin to and from an OCI registry.

use super::{CliError, CommonArgs, Host, init_logging, settings, tokio_runtime};
use crate::oci::credentials::Login;
use crate::oci::{ArtifactRef, RegistryClient, RegistryOptions};
use crate::registry::{Loaded, load_file, read_plugin_file};
use clap::Args;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// How to reach the registry.
#[derive(Debug, Args)]
struct RegistryArgs {
    /// Speak plain HTTP to the registry REF names (a local or test registry), instead
    /// of HTTPS; any other host is still reached over HTTPS
    #[arg(long)]
    insecure: bool,

    /// Log in as this user [default: the Docker config's credentials for the
    /// registry, else anonymous]
    #[arg(long, env = "PISTON_REGISTRY_USERNAME", value_name = "USER")]
    username: Option<String>,

    /// Read the password (or token) from standard input [default:
    /// PISTON_REGISTRY_PASSWORD]
    #[arg(long, requires = "username")]
    password_stdin: bool,

    #[command(flatten)]
    common: CommonArgs,
}

impl RegistryArgs {
    /// The settings, and the registry options for `artifact`.
    fn options(
        &self,
        artifact: &ArtifactRef,
    ) -> Result<(crate::config::Settings, RegistryOptions), CliError> {
        let settings = settings(&self.common.overrides())?;
        let mut insecure = settings.loading.pulling.registries.insecure.clone();
        if self.insecure {
            insecure.push(artifact.registry().to_owned());
        }
        let login = login(self.username.clone(), self.password_stdin)?;
        Ok((settings, RegistryOptions { insecure, login }))
    }
}

/// The login the command line and the environment give: a username with the password
/// from standard input or `PISTON_REGISTRY_PASSWORD`; none without a username.
fn login(username: Option<String>, password_stdin: bool) -> Result<Option<Login>, CliError> {
    let Some(username) = username else {
        return Ok(None);
    };
    let password = if password_stdin {
        let mut password = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut password)
            .map_err(|error| CliError::Usage(format!("--password-stdin: {error}")))?;
        password.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        std::env::var("PISTON_REGISTRY_PASSWORD").map_err(|_| {
            CliError::Usage(
                "--username / PISTON_REGISTRY_USERNAME needs a password: --password-stdin or \
                 PISTON_REGISTRY_PASSWORD"
                    .to_owned(),
            )
        })?
    };
    Ok(Some(Login { username, password }))
}

/// The registry login a server presents, from `PISTON_REGISTRY_USERNAME` and
/// `PISTON_REGISTRY_PASSWORD`; none when neither is set.
pub(super) fn login_from_env() -> Result<Option<Login>, CliError> {
    login(std::env::var("PISTON_REGISTRY_USERNAME").ok(), false)
}

fn artifact(text: &str) -> Result<ArtifactRef, CliError> {
    ArtifactRef::parse(text).map_err(|error| CliError::Usage(format!("REF: {error}")))
}

/// Arguments of `piston push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The plugin file
    #[arg(value_name = "FILE.wasm")]
    file: PathBuf,

    /// Where to push it: REGISTRY/REPOSITORY:TAG, e.g. registry.example/blog:1.4
    #[arg(value_name = "REF")]
    reference: String,

    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn push(args: PushArgs) -> Result<ExitCode, CliError> {
    let artifact = artifact(&args.reference)?;
    if artifact.pinned().is_some() {
        return Err(CliError::Usage(format!(
            "REF: `{}` names a digest; push to a tag (REGISTRY/REPOSITORY:TAG): the digest is what push prints",
            args.reference
        )));
    }
    if !args.file.is_file() {
        return Err(CliError::Usage(format!(
            "FILE: `{}` is not a file",
            args.file.display()
        )));
    }
    let (settings, options) = args.registry.options(&artifact)?;
    init_logging("warn");
    let host = Host::start(settings, false)?;
    let runtime = tokio_runtime()?;
    let refused = |error: &dyn std::fmt::Display| {
        CliError::Failed(format!(
            "{}: {error}; nothing was pushed",
            args.file.display()
        ))
    };
    // Checked as a server would load it, so that nothing that cannot serve is pushed;
    // read as loading reads it (a regular file, within limits.plugin_file_mib), and
    // pushed only if it is still what was checked.
    let loaded = runtime
        .block_on(load_file(&args.file, host.load_options()))
        .map_err(|error| refused(&error))?;
    let loading = &host.settings.loading;
    let wasm = read_plugin_file(
        &args.file,
        loading.follow_symlinks,
        loading.plugin_file_bytes,
    )
    .map_err(|error| refused(&error))?;
    if hex::encode(Sha256::digest(&wasm)) != loaded.digest() {
        return Err(refused(&"it changed while it was checked"));
    }
    let (name, version, description) = match &loaded {
        Loaded::Plugin(plugin) => (
            &plugin.spec.name,
            &plugin.spec.version,
            plugin.spec.description.as_str(),
        ),
        Loaded::Authenticator(authenticator) => {
            (&authenticator.spec.name, &authenticator.spec.version, "")
        }
    };
    let mut annotations = BTreeMap::from([
        ("org.opencontainers.image.title".to_owned(), name.clone()),
        (
            "org.opencontainers.image.version".to_owned(),
            version.clone(),
        ),
    ]);
    if !description.is_empty() {
        annotations.insert(
            "org.opencontainers.image.description".to_owned(),
            description.to_owned(),
        );
    }
    let client = RegistryClient::new(&options);
    let digest = runtime
        .block_on(client.push(&artifact, wasm, annotations))
        .map_err(|error| CliError::Failed(error.to_string()))?;
    eprintln!("pushed plugin `{name}` {version} to {artifact}");
    println!("{digest}");
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `piston pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// What to pull: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST
    #[arg(value_name = "REF")]
    reference: String,

    /// Directory to write REPOSITORY.wasm into (e.g. the plugin directory)
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,

    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn pull(args: PullArgs) -> Result<ExitCode, CliError> {
    let artifact = artifact(&args.reference)?;
    if !args.out.is_dir() {
        return Err(CliError::Usage(format!(
            "--out: `{}` is not a directory",
            args.out.display()
        )));
    }
    let (settings, options) = args.registry.options(&artifact)?;
    init_logging("warn");
    let client = RegistryClient::new(&options);
    let limit = settings.loading.plugin_file_bytes;
    let pulled = tokio_runtime()?
        .block_on(async {
            let digest = client.resolve(&artifact).await?;
            client.pull(&artifact, &digest, limit).await
        })
        .map_err(|error| CliError::Failed(error.to_string()))?;
    let file = args.out.join(format!("{}.wasm", artifact.short_name()));
    crate::files::write_whole(&file, &pulled.wasm)
        .map_err(|error| CliError::Failed(format!("{}: {error}", file.display())))?;
    eprintln!("pulled {artifact} into {}", file.display());
    println!("{}", pulled.manifest_digest);
    Ok(ExitCode::SUCCESS)
}
