//! Manifest parsing: which documents are accepted, and what they reference.
//!
//! This reads only the descriptor graph (config, layers, child manifests, subject) and leaves
//! the bytes alone. It is written here rather than taken from `oci-spec` because the registry
//! must accept OCI and Docker schema2 documents through one lenient model (unknown fields,
//! Docker's media types, artifact manifests with empty configs) and must refuse schema1,
//! whereas `oci-spec` models the OCI types strictly for building images.

use serde::Deserialize;

use crate::{Digest, MediaType};

/// Manifests larger than this are refused, as distribution and ECR do (4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// More layers or child manifests than this is not an image but an attack on the metadata
/// write path (each reference is checked and recorded in the push transaction).
pub const MAX_REFERENCES: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: i64,
    pub artifact_type: Option<String>,
    pub platform: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    Image,
    Index,
}

/// A parsed, validated manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub media_type: MediaType,
    pub kind: ManifestKind,
    pub config: Option<Descriptor>,
    /// Blobs for an image, child manifests for an index.
    pub references: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    /// `artifactType`, or for an image without one the config's media type, as the referrers
    /// API reports it.
    pub artifact_type: Option<String>,
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("manifest is larger than {MAX_MANIFEST_BYTES} bytes")]
    TooLarge,
    #[error("manifest is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("manifest media type {0:?} is not supported")]
    UnsupportedMediaType(String),
    #[error("Docker schema1 manifests are not supported; push with a current client")]
    Schema1,
    #[error("manifest schemaVersion must be 2")]
    SchemaVersion,
    #[error("manifest is invalid: {0}")]
    Invalid(String),
    #[error("mediaType in the manifest ({body}) does not match Content-Type ({header})")]
    MediaTypeMismatch { body: String, header: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: Option<String>,
    digest: String,
    size: i64,
    artifact_type: Option<String>,
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawPlatform {
    architecture: Option<String>,
    os: Option<String>,
    variant: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
    subject: Option<RawDescriptor>,
    annotations: Option<serde_json::Map<String, serde_json::Value>>,
    // Schema1 manifests carry these instead of layers.
    #[serde(rename = "fsLayers")]
    fs_layers: Option<serde_json::Value>,
}

impl RawDescriptor {
    fn validate(self, what: &str) -> Result<Descriptor, ManifestError> {
        let digest = self
            .digest
            .parse()
            .map_err(|e| ManifestError::Invalid(format!("{what}: {e}")))?;
        // Sizes are summed into imageSizeInBytes; keeping each below 2^53 keeps the sum exact
        // and far from overflow.
        if !(0..(1i64 << 53)).contains(&self.size) {
            return Err(ManifestError::Invalid(format!("{what}: size out of range")));
        }
        let platform = self.platform.map(|p| {
            let mut s = format!(
                "{}/{}",
                p.os.unwrap_or_default(),
                p.architecture.unwrap_or_default()
            );
            if let Some(v) = p.variant {
                s.push('/');
                s.push_str(&v);
            }
            s
        });
        Ok(Descriptor {
            media_type: self.media_type.unwrap_or_default(),
            digest,
            size: self.size,
            artifact_type: self.artifact_type,
            platform,
        })
    }
}

impl Manifest {
    /// Parses `body`, sent with `content_type`. The media type comes from the header and, where
    /// both exist, the document's own `mediaType` must agree with it.
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Manifest, ManifestError> {
        if body.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge);
        }
        // JSON is UTF-8; serde skips the contents of fields it ignores, so check it here. A
        // manifest that is not UTF-8 could not be handed back intact as an ECR string.
        std::str::from_utf8(body)
            .map_err(|e| ManifestError::InvalidJson(format!("the manifest is not UTF-8: {e}")))?;
        let raw: RawManifest = serde_json::from_slice(body)
            .map_err(|e| ManifestError::InvalidJson(crate::digest::truncated(&e.to_string())))?;
        if raw.fs_layers.is_some()
            || content_type.is_some_and(|c| c.contains("distribution.manifest.v1+"))
            || raw
                .media_type
                .as_deref()
                .is_some_and(|c| c.contains("distribution.manifest.v1+"))
        {
            return Err(ManifestError::Schema1);
        }
        if raw.schema_version != Some(2) {
            return Err(ManifestError::SchemaVersion);
        }
        let header_type = content_type
            .map(str::trim)
            .filter(|c| !c.is_empty() && *c != "application/octet-stream");
        let declared = match (header_type, raw.media_type.as_deref()) {
            (Some(h), Some(b)) => {
                let (hm, bm) = (MediaType::parse(h), MediaType::parse(b));
                if hm.is_none() {
                    return Err(ManifestError::UnsupportedMediaType(h.to_owned()));
                }
                if hm != bm {
                    return Err(ManifestError::MediaTypeMismatch {
                        body: b.to_owned(),
                        header: h.to_owned(),
                    });
                }
                h
            }
            (Some(h), None) => h,
            (None, Some(b)) => b,
            // An OCI manifest may omit mediaType; guess from its shape.
            (None, None) if raw.manifests.is_some() => MediaType::OciIndex.as_str(),
            (None, None) => MediaType::OciManifest.as_str(),
        };
        let media_type = MediaType::parse(declared)
            .ok_or_else(|| ManifestError::UnsupportedMediaType(declared.to_owned()))?;
        let subject = raw.subject.map(|s| s.validate("subject")).transpose()?;
        let count =
            raw.layers.as_ref().map_or(0, Vec::len) + raw.manifests.as_ref().map_or(0, Vec::len);
        if count > MAX_REFERENCES {
            return Err(ManifestError::Invalid(format!(
                "a manifest may reference at most {MAX_REFERENCES} blobs or manifests"
            )));
        }
        if media_type.is_index() {
            if raw.config.is_some() || raw.layers.is_some() {
                return Err(ManifestError::Invalid(
                    "an index cannot have config or layers".into(),
                ));
            }
            let manifests = raw
                .manifests
                .ok_or_else(|| ManifestError::Invalid("an index needs manifests".into()))?
                .into_iter()
                .map(|d| d.validate("manifests"))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Manifest {
                media_type,
                kind: ManifestKind::Index,
                config: None,
                references: manifests,
                subject,
                artifact_type: raw.artifact_type,
                annotations: raw.annotations,
            })
        } else {
            if raw.manifests.is_some() {
                return Err(ManifestError::Invalid(
                    "an image manifest cannot have manifests".into(),
                ));
            }
            let config = raw
                .config
                .ok_or_else(|| ManifestError::Invalid("an image manifest needs config".into()))?
                .validate("config")?;
            let layers = raw
                .layers
                .ok_or_else(|| ManifestError::Invalid("an image manifest needs layers".into()))?
                .into_iter()
                .map(|d| d.validate("layers"))
                .collect::<Result<Vec<_>, _>>()?;
            let artifact_type = raw
                .artifact_type
                .or_else(|| Some(config.media_type.clone()).filter(|t| !t.is_empty()));
            Ok(Manifest {
                media_type,
                kind: ManifestKind::Image,
                config: Some(config),
                references: layers,
                subject,
                artifact_type,
                annotations: raw.annotations,
            })
        }
    }

    /// Every blob digest this manifest needs in its repository (config and layers).
    pub fn blob_digests(&self) -> impl Iterator<Item = &Digest> {
        let layers = match self.kind {
            ManifestKind::Image => self.references.as_slice(),
            ManifestKind::Index => &[],
        };
        self.config
            .iter()
            .map(|d| &d.digest)
            .chain(layers.iter().map(|d| &d.digest))
    }

    /// Every child manifest this index needs in its repository.
    pub fn child_manifests(&self) -> impl Iterator<Item = &Digest> {
        let children = match self.kind {
            ManifestKind::Index => self.references.as_slice(),
            ManifestKind::Image => &[],
        };
        children.iter().map(|d| &d.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(media_type: &str) -> String {
        let d = format!("sha256:{}", "a".repeat(64));
        let d = d.as_str();
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{d}","size":2}},"layers":[{{"mediaType":"x","digest":"{d}","size":3}}]}}"#
        )
    }

    #[test]
    fn parses_oci_and_docker_images() {
        for mt in [MediaType::OciManifest, MediaType::DockerManifest] {
            let m = Manifest::parse(Some(mt.as_str()), image(mt.as_str()).as_bytes()).unwrap();
            assert_eq!(m.media_type, mt);
            assert_eq!(m.blob_digests().count(), 2);
        }
    }

    #[test]
    fn refuses_schema1_and_mismatched_types() {
        let s1 = r#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert_eq!(
            Manifest::parse(None, s1.as_bytes()).unwrap_err(),
            ManifestError::Schema1
        );
        let body = image(MediaType::OciManifest.as_str());
        assert!(matches!(
            Manifest::parse(Some(MediaType::DockerManifest.as_str()), body.as_bytes()),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        assert!(matches!(
            Manifest::parse(Some("text/plain"), body.as_bytes()),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn refuses_bad_json_and_bad_digests() {
        assert!(matches!(
            Manifest::parse(None, b"{not json"),
            Err(ManifestError::InvalidJson(_))
        ));
        let bad =
            image("application/vnd.oci.image.manifest.v1+json").replace(&"a".repeat(64), "zz");
        assert!(matches!(
            Manifest::parse(None, bad.as_bytes()),
            Err(ManifestError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_invalid_utf8_and_absurd_sizes() {
        let mut body = image(MediaType::OciManifest.as_str()).into_bytes();
        let at = body.len() - 1;
        body.splice(at..at, br#","x":"\xff""#.iter().copied());
        let mut bad = body.clone();
        let pos = bad.iter().position(|&b| b == b'\\').unwrap();
        bad[pos] = 0xff;
        assert!(matches!(
            Manifest::parse(None, &bad),
            Err(ManifestError::InvalidJson(_))
        ));
        let huge = image(MediaType::OciManifest.as_str())
            .replace("\"size\":3", "\"size\":9223372036854775807");
        assert!(matches!(
            Manifest::parse(None, huge.as_bytes()),
            Err(ManifestError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_oversized_documents() {
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert_eq!(
            Manifest::parse(None, &big).unwrap_err(),
            ManifestError::TooLarge
        );
    }
}
