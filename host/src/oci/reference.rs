//! Which artifact a plugin comes from: `registry/repository:tag` or
//! `registry/repository@sha256:...`, written `oci://...` in `piston.toml`.

use oci_client::Reference;
use std::fmt;

/// The scheme of a plugin's `source` in `piston.toml`.
pub const SCHEME: &str = "oci://";

/// A plugin artifact's place in a registry: always with its registry host (never an
/// implicit Docker Hub) and a tag or a SHA-256 digest (never an implicit `latest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRef {
    reference: Reference,
}

impl ArtifactRef {
    /// Reads `registry/repository:tag` or `registry/repository@sha256:<hex>`, with or
    /// without the `oci://` scheme.
    pub fn parse(text: &str) -> Result<ArtifactRef, String> {
        let bare = text.strip_prefix(SCHEME).unwrap_or(text);
        let Some((host, _)) = bare.split_once('/') else {
            return Err(format!(
                "`{text}` names no registry: write it as registry.example/repository:tag"
            ));
        };
        if !(host.contains('.') || host.contains(':') || host == "localhost") {
            return Err(format!(
                "`{text}` names no registry (`{host}` is not a host name): write it as \
                 registry.example/{bare}"
            ));
        }
        // The parser would take `latest` for a missing tag.
        let name = bare.rsplit('/').next().unwrap_or(bare);
        if !name.contains([':', '@']) {
            return Err(format!(
                "`{text}` names neither a tag (`:1.4`) nor a digest (`@sha256:...`)"
            ));
        }
        let reference: Reference = bare
            .parse()
            .map_err(|error| format!("`{text}` is not an artifact reference: {error}"))?;
        if let Some(digest) = reference.digest() {
            sha256_hex(digest).ok_or_else(|| {
                format!(
                    "`{text}`: only sha256 digests are supported, as `@sha256:` and 64 hex digits"
                )
            })?;
        }
        Ok(ArtifactRef { reference })
    }

    /// Reads a plugin's `source`, which must carry the `oci://` scheme.
    pub fn parse_source(text: &str) -> Result<ArtifactRef, String> {
        if !text.starts_with(SCHEME) {
            return Err(format!(
                "`{text}` is not a source Piston pulls from: write {SCHEME}registry.example/repository:tag"
            ));
        }
        ArtifactRef::parse(text)
    }

    /// The registry host (and port).
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// The repository's last path segment: the name a pulled file is given.
    pub fn short_name(&self) -> &str {
        let repository = self.reference.repository();
        repository.rsplit('/').next().unwrap_or(repository)
    }

    /// The digest it is pinned to, if it names one.
    pub fn pinned(&self) -> Option<&str> {
        self.reference.digest()
    }

    /// The same artifact at the manifest `digest` (what a tag resolved to), so that
    /// what is pulled is what was resolved even if the tag moves meanwhile.
    pub fn at(&self, digest: &str) -> ArtifactRef {
        ArtifactRef {
            reference: Reference::with_digest(
                self.reference.registry().to_owned(),
                self.reference.repository().to_owned(),
                digest.to_owned(),
            ),
        }
    }

    /// The reference as the registry client takes it.
    pub(super) fn reference(&self) -> &Reference {
        &self.reference
    }
}

impl fmt::Display for ArtifactRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.reference.whole())
    }
}

/// The hex of a `sha256:<64 lowercase hex>` digest.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_name_a_registry_and_a_version() {
        let tagged = ArtifactRef::parse_source("oci://registry.example/team/blog:1.4").unwrap();
        assert_eq!(tagged.registry(), "registry.example");
        assert_eq!(tagged.short_name(), "blog");
        assert_eq!(tagged.pinned(), None);
        assert_eq!(tagged.to_string(), "oci://registry.example/team/blog:1.4");

        let pinned = ArtifactRef::parse(&format!("127.0.0.1:5000/blog@{DIGEST}")).unwrap();
        assert_eq!(pinned.registry(), "127.0.0.1:5000");
        assert_eq!(pinned.pinned(), Some(DIGEST));
        assert_eq!(tagged.at(DIGEST).pinned(), Some(DIGEST));
        assert_eq!(
            tagged.at(DIGEST).to_string(),
            format!("oci://registry.example/team/blog@{DIGEST}")
        );
    }

    #[test]
    fn ambiguous_references_are_refused() {
        for (text, reason) in [
            ("blog:1.4", "names no registry"),
            ("team/blog:1.4", "is not a host name"),
            ("registry.example/blog", "neither a tag"),
            ("registry.example/blog@md5:abc", "not an artifact reference"),
            ("registry.example/Blog:1", "not an artifact reference"),
        ] {
            let error = ArtifactRef::parse(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
        assert!(
            ArtifactRef::parse_source("registry.example/blog:1.4")
                .unwrap_err()
                .contains("oci://")
        );
    }
}
