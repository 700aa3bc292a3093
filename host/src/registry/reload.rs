//! Bringing a snapshot up to date with the plugin directory, off the request path.
//!
//! Unchanged files keep what they loaded as (and their warm instances). New and
//! changed files are loaded — compiled through the cache, described, checked — once
//! their size and modification time have settled, so a file still being written is
//! not read half-way. A changed file that fails any check, or whose routes would
//! collide with another plugin's, never replaces its working version: the previous
//! version keeps serving and the reason becomes its status. A deleted file is simply
//! absent from the new snapshot; requests routed before the swap finish on it. A
//! plugin whose settings in `piston.toml` changed is loaded again with the new ones.
//! Pulled plugins' files are brought up to date the same way.

use super::load::{FileError, LoadOptions, load_file, plugin_files, read_plugin_file};
use super::{Held, Loaded, Snapshot};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How long a file's size and modification time must stay the same to count as written.
const SETTLE: Duration = Duration::from_millis(150);
/// How long to wait for a file to settle before leaving it for the next change.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// A new snapshot for `dir`, reusing what `current` loaded from unchanged files.
pub async fn reload(
    dir: &Path,
    current: &Snapshot,
    options: LoadOptions<'_>,
) -> std::io::Result<Snapshot> {
    let mut next = Snapshot::default();
    let mut fresh: Vec<(Loaded, Option<Loaded>)> = Vec::new();
    for file in plugin_files(dir, options.settings)? {
        // A plugin whose settings changed is loaded again, as if its file had.
        let previous = current
            .loaded_from(&file)
            .filter(|loaded| *loaded.settings() == options.settings.plugin(loaded.name()));
        let held = current.held.get(&file);
        let unchanged = |digest: &str| {
            previous
                .as_ref()
                .is_some_and(|loaded| loaded.digest() == digest)
                || held.is_some_and(|held| held.digest == digest)
                || current
                    .failure_of(&file)
                    .is_some_and(|failure| failure.digest.as_deref() == Some(digest))
        };
        // Only a file whose content changed waits for its writer to finish.
        let digest = match digest_of(&file, options) {
            Ok(digest) if unchanged(&digest) => Ok(Some(digest)),
            Ok(_) | Err(FileError::Read(_)) => Ok(settled_digest(&file, options).await),
            Err(refused) => Err(refused),
        };
        let digest = match digest {
            Ok(digest) => digest,
            Err(refused) => {
                // Not a file Piston loads (a link, a FIFO, too large): refused like any
                // broken update, the previous version serving if there is one.
                match previous {
                    Some(previous) => {
                        keep(&mut next, previous, None);
                        next.hold(file, refused.to_string(), String::new());
                    }
                    None => next.fail(file, refused.to_string(), None),
                }
                continue;
            }
        };
        let Some(digest) = digest else {
            // Still being written, or gone: keep what serves, decide on the next change.
            match previous {
                Some(previous) => {
                    let held = held.map(|held| (file.clone(), held.clone()));
                    keep(&mut next, previous, held);
                }
                None => {
                    tracing::info!(file = %file.display(), "plugin file has not settled yet");
                }
            }
            continue;
        };
        if let Some(previous) = previous.as_ref().filter(|loaded| loaded.digest() == digest) {
            keep(&mut next, previous.clone(), None);
            continue;
        }
        if let (Some(previous), Some(held)) = (&previous, held.filter(|held| held.digest == digest))
        {
            keep(
                &mut next,
                previous.clone(),
                Some((file.clone(), held.clone())),
            );
            continue;
        }
        if let Some(failure) = current
            .failure_of(&file)
            .filter(|failure| failure.digest.as_deref() == Some(digest.as_str()))
        {
            next.fail(
                failure.file.clone(),
                failure.error.clone(),
                failure.digest.clone(),
            );
            continue;
        }
        match load_file(&file, options).await {
            Ok(loaded) => fresh.push((loaded, previous)),
            Err(error) => match previous {
                Some(previous) => {
                    next.try_add(previous).ok();
                    next.hold(file, error.to_string(), digest);
                }
                None => next.fail(file, error.to_string(), Some(digest)),
            },
        }
    }
    for (loaded, previous) in fresh {
        let (file, name) = (loaded.file().to_owned(), loaded.name().to_owned());
        match next.try_add(loaded) {
            Ok(()) => tracing::info!(
                plugin = name,
                file = %file.display(),
                "{}",
                if previous.is_some() { "plugin replaced" } else { "plugin added" }
            ),
            Err((refused, error)) => match previous {
                Some(previous) => {
                    next.try_add(previous).ok();
                    next.hold(file, error, refused.digest().to_owned());
                }
                None => next.fail(file, error, Some(refused.digest().to_owned())),
            },
        }
    }
    next.sort();
    Ok(next)
}

/// Carries a plugin over unchanged, with its refused update if there is one.
fn keep(next: &mut Snapshot, loaded: Loaded, held: Option<(std::path::PathBuf, Held)>) {
    // It coexisted with everything else kept, so it still fits.
    next.try_add(loaded).ok();
    if let Some((file, held)) = held {
        next.held.insert(file, held);
    }
}

/// The SHA-256 of `file` once its size and modification time stop changing; `None`
/// if it does not settle in time or cannot be read.
async fn settled_digest(file: &Path, options: LoadOptions<'_>) -> Option<String> {
    let waited = std::time::Instant::now();
    let mut last = stamp(file)?;
    loop {
        tokio::time::sleep(SETTLE).await;
        let now = stamp(file)?;
        if now == last {
            break;
        }
        if waited.elapsed() > SETTLE_LIMIT {
            return None;
        }
        last = now;
    }
    digest_of(file, options).ok()
}

/// The SHA-256 of `file`, hex, as the registry records it; read as loading reads it.
fn digest_of(file: &Path, options: LoadOptions<'_>) -> Result<String, FileError> {
    let settings = options.settings;
    let bytes = read_plugin_file(file, settings.follow_symlinks, settings.plugin_file_bytes)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn stamp(file: &Path) -> Option<(u64, SystemTime)> {
    let metadata = std::fs::metadata(file).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}
