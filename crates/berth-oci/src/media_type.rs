//! The manifest media types the registry stores and serves.

/// Manifest media types berth accepts. Docker schema1 is absent on purpose: it is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    OciManifest,
    OciIndex,
    DockerManifest,
    DockerManifestList,
}

impl MediaType {
    pub const ALL: [MediaType; 4] = [
        MediaType::OciManifest,
        MediaType::OciIndex,
        MediaType::DockerManifest,
        MediaType::DockerManifestList,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::OciManifest => "application/vnd.oci.image.manifest.v1+json",
            MediaType::OciIndex => "application/vnd.oci.image.index.v1+json",
            MediaType::DockerManifest => "application/vnd.docker.distribution.manifest.v2+json",
            MediaType::DockerManifestList => {
                "application/vnd.docker.distribution.manifest.list.v2+json"
            }
        }
    }

    pub fn parse(s: &str) -> Option<MediaType> {
        // Parameters such as `; charset=utf-8` are not part of the type.
        let bare = s.split(';').next().unwrap_or("").trim();
        MediaType::ALL.into_iter().find(|m| m.as_str() == bare)
    }

    pub fn is_index(self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerManifestList)
    }
}
