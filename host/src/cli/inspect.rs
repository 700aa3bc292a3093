//! `piston inspect`.

use super::{CliError, CommonArgs, Host, init_logging, settings, tokio_runtime};
use crate::registry::{Loaded, LoadedAuthenticator, LoadedPlugin, load_file};
use crate::runtime::PluginSettings;
use clap::Args;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `piston inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The plugin file
    #[arg(value_name = "FILE.wasm")]
    file: PathBuf,

    /// Print JSON instead of text
    #[arg(long, env = "PISTON_JSON")]
    json: bool,

    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: InspectArgs) -> Result<ExitCode, CliError> {
    if !args.file.is_file() {
        return Err(CliError::Usage(format!(
            "FILE: `{}` is not a file",
            args.file.display()
        )));
    }
    let settings = settings(&args.common.overrides())?;
    init_logging("warn");
    let host = Host::start(settings, false)?;
    let loaded = tokio_runtime()?
        .block_on(load_file(&args.file, host.load_options()))
        .map_err(|error| CliError::Failed(format!("{}: {error}", args.file.display())))?;
    if args.json {
        let document = match &loaded {
            Loaded::Plugin(plugin) => serde_json::json!({
                "file": plugin.file,
                "sha256": plugin.digest,
                "plugin": plugin.spec,
                "allowed_outbound_hosts": plugin.settings.allowed_outbound_hosts.entries(),
            }),
            Loaded::Authenticator(authenticator) => serde_json::json!({
                "file": authenticator.file,
                "sha256": authenticator.digest,
                "authenticator": authenticator.spec,
                "allowed_outbound_hosts":
                    authenticator.settings.allowed_outbound_hosts.entries(),
            }),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
    } else {
        match &loaded {
            Loaded::Plugin(plugin) => print!("{}", describe(plugin)),
            Loaded::Authenticator(authenticator) => {
                print!("{}", describe_authenticator(authenticator));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An authenticator plugin as text.
fn describe_authenticator(authenticator: &LoadedAuthenticator) -> String {
    let spec = &authenticator.spec;
    format!(
        "{} {}\nauthenticator plugin\nfile:       {}\nsha256:     {}\nchallenge:  {}\noutbound:   {}\n",
        spec.name,
        spec.version,
        authenticator.file.display(),
        authenticator.digest,
        spec.challenge,
        outbound(&authenticator.settings)
    )
}

/// The spec as text, one resource a block.
fn describe(plugin: &LoadedPlugin) -> String {
    let spec = &plugin.spec;
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", spec.name, spec.version);
    if !spec.description.is_empty() {
        let _ = writeln!(out, "{}", spec.description);
    }
    let _ = writeln!(out, "file:    {}", plugin.file.display());
    let _ = writeln!(out, "sha256:  {}", plugin.digest);
    let _ = writeln!(out, "outbound: {}", outbound(&plugin.settings));
    for resource in &spec.resources {
        let list = |items: &[String]| {
            if items.is_empty() {
                "-".to_owned()
            } else {
                items.join(", ")
            }
        };
        let _ = writeln!(out, "\nresource {}", resource.name);
        if !resource.description.is_empty() {
            let _ = writeln!(out, "  {}", resource.description);
        }
        let _ = writeln!(out, "  routes:     {}", resource.routes.join(", "));
        let _ = writeln!(out, "  methods:    {}", resource.allowed_methods);
        let anonymous = resource.anonymous_methods.to_string();
        let _ = writeln!(
            out,
            "  anonymous:  {}",
            if anonymous.is_empty() {
                "-"
            } else {
                &anonymous
            }
        );
        let _ = writeln!(
            out,
            "  fields:     {}",
            if resource.fields.is_empty() {
                "(all)".to_owned()
            } else {
                resource.fields.join(", ")
            }
        );
        let _ = writeln!(out, "  exclude:    {}", list(&resource.exclude));
        let throttles: Vec<String> = resource.throttles.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "  throttle:   {}", list(&throttles));
        let _ = writeln!(
            out,
            "  item uri:   {}",
            resource.item_uri.as_deref().unwrap_or("-")
        );
        let headers = match &resource.request_headers {
            crate::registry::spec::RequestHeaders::All => "(all)".to_owned(),
            crate::registry::spec::RequestHeaders::Named(names) => list(names),
        };
        let _ = writeln!(out, "  headers:    {headers}");
        for schema in &resource.schemas {
            let _ = writeln!(out, "  schema {}: {}", schema.method, schema.schema);
        }
    }
    out
}

/// Where a plugin may send requests, as one line.
fn outbound(settings: &PluginSettings) -> String {
    let hosts = settings.allowed_outbound_hosts.entries();
    if hosts.is_empty() {
        "(none)".to_owned()
    } else {
        hosts.join(", ")
    }
}
