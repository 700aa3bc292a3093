//! The pulled plugins under the data directory (`DATA/oci`): `NAME.wasm`, the component
//! of the plugin configured as `[plugins.NAME] source = "oci://..."`, beside
//! `NAME.json`, the [`Origin`] it was pulled from. The files are loaded like the plugin
//! directory's (the same checks, the same swap), and they outlive the process, so a
//! host whose registry is down starts on what it pulled last.

use crate::files::{PARTIAL_PREFIX, write_whole};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where a pulled plugin file came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The configured source, `oci://registry/repository:tag` (or `@sha256:...`).
    pub source: String,
    /// The manifest digest it resolved to, `sha256:...`.
    pub digest: String,
    /// The component's own digest, `sha256:...`: the SHA-256 of the file.
    pub layer: String,
}

impl Origin {
    /// The origin recorded beside `file`, if `file` is a pulled plugin whose content
    /// (SHA-256 `sha256_hex`) is what the record says was pulled.
    pub fn of(file: &Path, sha256_hex: &str) -> Option<Origin> {
        let origin = read_origin(&file.with_extension("json"))?;
        (origin.layer.strip_prefix("sha256:") == Some(sha256_hex)).then_some(origin)
    }
}

/// The directory of pulled plugins.
#[derive(Debug, Clone)]
pub struct PulledDir {
    dir: PathBuf,
}

impl PulledDir {
    /// The pulled plugins kept in `dir` (`DATA/oci`).
    pub fn at(dir: &Path) -> PulledDir {
        PulledDir {
            dir: dir.to_owned(),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file the plugin `name` is pulled into.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.wasm"))
    }

    /// What is on disk for the plugin `name`, if its file matches its record (a
    /// process killed between writing one and the other leaves a mismatch, which is
    /// pulled again).
    pub fn current(&self, name: &str) -> Option<Origin> {
        let file = self.file(name);
        let origin = read_origin(&file.with_extension("json"))?;
        let bytes = std::fs::read(&file).ok()?;
        let hex = hex::encode(Sha256::digest(&bytes));
        (origin.layer.strip_prefix("sha256:") == Some(hex.as_str())).then_some(origin)
    }

    /// Makes `wasm` the plugin `name`'s file, from `origin`. Each file is written whole
    /// under a temporary name and renamed into place, so a reader sees the old file or
    /// the new one, never a part.
    pub fn place(&self, name: &str, origin: &Origin, wasm: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let file = self.file(name);
        self.record(name, origin)?;
        write_whole(&file, wasm)
    }

    /// The copy of the plugin `name`'s file that last served: kept so that a host
    /// restarted after refusing an update starts on it, not on the refused file.
    pub fn served_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.served.wasm"))
    }

    /// Keeps a copy of the plugin `name`'s file, which serves with SHA-256
    /// `sha256_hex`, unless the copy already has that content (or the file changed
    /// since it loaded).
    pub fn keep_served(&self, name: &str, sha256_hex: &str) -> std::io::Result<()> {
        let served = self.served_file(name);
        if Origin::of(&served, sha256_hex).is_some() {
            return Ok(());
        }
        let file = self.file(name);
        let Some(origin) = Origin::of(&file, sha256_hex) else {
            return Ok(());
        };
        let bytes = std::fs::read(&file)?;
        if hex::encode(Sha256::digest(&bytes)) != sha256_hex {
            return Ok(());
        }
        // The content first: a record never names content that is not there.
        write_whole(&served, &bytes)?;
        let json = serde_json::to_vec_pretty(&origin).map_err(std::io::Error::other)?;
        write_whole(&served.with_extension("json"), &json)
    }

    /// The copy that last served the plugin `name`, if it holds other content than
    /// `refused_hex` (the SHA-256 of its file, which does not load).
    pub fn served_instead_of(&self, name: &str, refused_hex: &str) -> Option<PathBuf> {
        let served = self.served_file(name);
        let origin = read_origin(&served.with_extension("json"))?;
        (origin.layer.strip_prefix("sha256:") != Some(refused_hex) && served.is_file())
            .then_some(served)
    }

    /// Records that the plugin `name`'s file (unchanged) comes from `origin`.
    pub fn record(&self, name: &str, origin: &Origin) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(origin).map_err(std::io::Error::other)?;
        write_whole(&self.file(name).with_extension("json"), &json)
    }

    /// Removes the files of pulled plugins not among `keep`: plugins no longer
    /// configured with a source.
    pub fn remove_others(&self, keep: &std::collections::BTreeMap<String, impl Sized>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(file_name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            // NAME.wasm, NAME.json, NAME.served.wasm, NAME.served.json.
            let plugin = file_name.split('.').next().unwrap_or_default();
            let ours = path
                .extension()
                .is_some_and(|extension| extension == "wasm" || extension == "json");
            // A temporary file left by a process that died while writing.
            let abandoned = file_name.starts_with(PARTIAL_PREFIX);
            if abandoned || (ours && !keep.contains_key(plugin)) {
                match std::fs::remove_file(&path) {
                    Ok(()) => tracing::info!(
                        file = %path.display(),
                        "removed: plugin `{plugin}` has no source in piston.toml any more"
                    ),
                    Err(error) => tracing::warn!(file = %path.display(), "cannot remove: {error}"),
                }
            }
        }
    }
}

fn read_origin(record: &Path) -> Option<Origin> {
    let text = std::fs::read(record).ok()?;
    serde_json::from_slice(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_counts_only_with_the_record_of_its_content() {
        let data = tempfile::tempdir().unwrap();
        let pulled = PulledDir::at(&data.path().join("oci"));
        assert_eq!(pulled.current("blog"), None);

        let wasm = b"\0asm component";
        let layer = format!("sha256:{}", hex::encode(Sha256::digest(wasm)));
        let origin = Origin {
            source: "oci://registry.example/blog:1".into(),
            digest: "sha256:feed".into(),
            layer: layer.clone(),
        };
        pulled.place("blog", &origin, wasm).unwrap();
        assert_eq!(pulled.current("blog"), Some(origin.clone()));
        let hex = layer.strip_prefix("sha256:").unwrap();
        assert_eq!(Origin::of(&pulled.file("blog"), hex), Some(origin.clone()));

        // What serves is kept aside, once, and offered when the file is refused.
        pulled.keep_served("blog", hex).unwrap();
        assert_eq!(std::fs::read(pulled.served_file("blog")).unwrap(), wasm);
        assert_eq!(
            Origin::of(&pulled.served_file("blog"), hex),
            Some(origin.clone())
        );
        assert_eq!(pulled.served_instead_of("blog", hex), None);
        assert_eq!(
            pulled.served_instead_of("blog", &"0".repeat(64)),
            Some(pulled.served_file("blog"))
        );

        // The file changed without its record (an interrupted pull): not trusted.
        std::fs::write(pulled.file("blog"), b"\0asm other").unwrap();
        assert_eq!(pulled.current("blog"), None);
        assert_eq!(Origin::of(&pulled.file("blog"), &"0".repeat(64)), None);

        let keep = std::collections::BTreeMap::from([("other".to_owned(), ())]);
        pulled.remove_others(&keep);
        assert!(!pulled.file("blog").exists());
        assert!(!pulled.file("blog").with_extension("json").exists());
        assert!(!pulled.served_file("blog").exists());
        assert!(std::fs::read_dir(pulled.path()).unwrap().next().is_none());
    }
}
