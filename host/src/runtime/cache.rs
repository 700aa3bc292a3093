//! Compiled components cached on disk, so a restart (or `piston list`) does not
//! compile again.
//!
//! An artifact is keyed by the engine's compatibility hash (wasmtime version, target,
//! compiler settings) and the SHA-256 of the `.wasm` bytes, so a changed file or a
//! different engine never loads a stale one. Artifacts are native code that wasmtime
//! loads without validation: the cache directory must be writable only by the host.

use sha2::{Digest, Sha256};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Whether a load found its artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled (and stored, if the cache directory is writable).
    Compiled,
}

/// A directory of precompiled components for one engine.
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// A cache under `root`, in a subdirectory for this engine's compatibility hash.
    pub fn new(root: &Path, engine: &Engine) -> std::io::Result<CompileCache> {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = root.join(format!("{:016x}", hasher.finish()));
        std::fs::create_dir_all(&dir)?;
        Ok(CompileCache { dir })
    }

    /// The component in `wasm`, from the cache or compiled now.
    pub fn component(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self
            .dir
            .join(format!("{}.cwasm", hex::encode(Sha256::digest(wasm))));
        if path.exists() {
            // SAFETY: the file is an artifact this cache wrote with `precompile_component`
            // for an engine with the same compatibility hash; the cache directory is
            // the host's own (see the module docs).
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(error) => tracing::warn!(
                    artifact = %path.display(),
                    "ignoring an unreadable compile cache entry: {error:#}"
                ),
            }
        }
        let artifact = engine.precompile_component(wasm)?;
        if let Err(error) = crate::files::write_whole(&path, &artifact) {
            tracing::warn!(
                artifact = %path.display(),
                "cannot store a compiled component (it is still used): {error}"
            );
        }
        // SAFETY: `artifact` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        Ok((component, CacheOutcome::Compiled))
    }
}
