//! Pulling's settings: each `[plugins.NAME] source`, `server.pull_interval`,
//! `server.insecure_registries`, and the registry login given in the environment.

use super::client::RegistryOptions;
use super::credentials::Login;
use super::pulled::PulledDir;
use super::reference::ArtifactRef;
use crate::vocab::{ConfigError, check_range, is_name};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shortest and longest `server.pull_interval`.
const PULL_INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(7 * 24 * 3600));

/// What pulling takes from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSettings {
    /// Where pulled plugins are kept: `DATA/oci`.
    pub dir: PathBuf,
    /// The plugins that come from a registry, by name.
    pub sources: BTreeMap<String, ArtifactRef>,
    /// How registries are reached.
    pub registries: RegistryOptions,
    /// How often tags are resolved again; `None`: only on start and SIGHUP.
    pub interval: Option<Duration>,
}

impl PullSettings {
    /// The pulled plugin files to load: those of plugins configured with a source
    /// (a file left by a plugin whose source was removed is not loaded).
    pub fn files(&self) -> impl Iterator<Item = (PathBuf, &str)> {
        let dir = PulledDir::at(&self.dir);
        self.sources
            .keys()
            .map(move |name| (dir.file(name), name.as_str()))
            .filter(|(file, _)| file.exists())
    }

    /// The plugin the pulled `file` must describe itself as, if it is a pulled file.
    pub fn expected_name(&self, file: &std::path::Path) -> Option<&str> {
        if file.parent()? != self.dir {
            return None;
        }
        let stem = file.file_stem()?.to_str()?;
        self.sources
            .get_key_value(stem)
            .map(|(name, _)| name.as_str())
    }
}

impl PullSettings {
    /// Checks the configured values; `key` names a key of the file as errors show it.
    pub(crate) fn resolve(
        data: &Path,
        sources: BTreeMap<String, String>,
        insecure_registries: Vec<String>,
        interval: Option<Duration>,
        login: Option<Login>,
        key: impl Fn(&str) -> String,
    ) -> Result<PullSettings, ConfigError> {
        let sources = sources
            .into_iter()
            .map(|(name, source)| {
                if !is_name(&name) {
                    // The name is also the pulled file's: no path may hide in it.
                    return Err(ConfigError::new(
                        key(&format!("plugins.{name}")),
                        "a plugin pulled from a source is named like every plugin: 1 to 64 \
                         lower-case letters, digits or `-`, not starting with `-`",
                    ));
                }
                ArtifactRef::parse_source(&source)
                    .map(|artifact| (name.clone(), artifact))
                    .map_err(|error| {
                        ConfigError::new(key(&format!("plugins.{name}.source")), error)
                    })
            })
            .collect::<Result<_, _>>()?;
        let interval = interval
            .map(|every| check_range(&key("server.pull_interval"), every, PULL_INTERVAL_RANGE))
            .transpose()?;
        for registry in &insecure_registries {
            check_registry_host(registry)
                .map_err(|error| ConfigError::new(key("server.insecure_registries"), error))?;
        }
        Ok(PullSettings {
            dir: data.join("oci"),
            sources,
            registries: RegistryOptions {
                insecure: insecure_registries,
                login,
            },
            interval,
        })
    }
}

/// A registry as the insecure list names it: a host, with a port if it has one.
fn check_registry_host(registry: &str) -> Result<(), String> {
    let invalid = || format!("`{registry}` is not a registry host (host or host:port)");
    let authority: http::uri::Authority = registry.parse().map_err(|_| invalid())?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        sources: &[(&str, &str)],
        insecure: &[&str],
        interval: Option<Duration>,
    ) -> Result<PullSettings, ConfigError> {
        PullSettings::resolve(
            Path::new("data"),
            sources
                .iter()
                .map(|(name, source)| (name.to_string(), source.to_string()))
                .collect(),
            insecure
                .iter()
                .map(|registry| registry.to_string())
                .collect(),
            interval,
            None,
            |name| format!("piston.toml: {name}"),
        )
    }

    #[test]
    fn sources_and_registries_are_checked() {
        let settings = resolve(
            &[("blog", "oci://127.0.0.1:5000/blog:1.4")],
            &["127.0.0.1:5000"],
            Some(Duration::from_secs(30)),
        )
        .unwrap();
        assert_eq!(settings.dir, Path::new("data/oci"));
        assert_eq!(settings.sources["blog"].registry(), "127.0.0.1:5000");
        assert_eq!(
            settings.expected_name(Path::new("data/oci/blog.wasm")),
            Some("blog")
        );
        assert_eq!(
            settings.expected_name(Path::new("data/oci/other.wasm")),
            None
        );
        assert_eq!(settings.expected_name(Path::new("plugins/blog.wasm")), None);

        let error = resolve(
            &[("../../blog", "oci://127.0.0.1:5000/blog:1.4")],
            &[],
            None,
        )
        .unwrap_err();
        assert!(error.to_string().contains("plugins.../../blog"), "{error}");
        let error = resolve(&[("blog", "127.0.0.1:5000/blog:1.4")], &[], None).unwrap_err();
        assert!(error.to_string().contains("plugins.blog.source"), "{error}");
        let error = resolve(&[], &["http://127.0.0.1:5000"], None).unwrap_err();
        assert!(
            error.to_string().contains("server.insecure_registries"),
            "{error}"
        );
        let error = resolve(&[], &[], Some(Duration::from_millis(10))).unwrap_err();
        assert!(
            error.to_string().contains("server.pull_interval"),
            "{error}"
        );
    }
}
