//! Writing files that other readers (a reload, another process) may open at any moment.

use std::io::Write;
use std::path::Path;

/// The prefix of the temporary files [`write_whole`] writes beside their targets: one
/// left by a process that died while writing can be removed.
pub const PARTIAL_PREFIX: &str = ".partial-";

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it over
/// `path`: a reader sees the old file or the new one, never a part.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temporary = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .tempfile_in(dir)?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|error| error.error)?;
    Ok(())
}
