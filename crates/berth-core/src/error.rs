//! The core's domain errors. Front doors map each variant to their wire code exhaustively.

use berth_oci::Digest;

/// Why a request could not be authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials were sent.
    Missing,
    /// Credentials were sent but are forged, garbled or unknown.
    Invalid,
    /// A genuine token that has expired.
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("authentication failed")]
    Unauthenticated(AuthFailure),
    #[error("{0}")]
    SignatureRejected(berth_iam::SigV4Error),
    #[error("User is not authorized to perform {action} on {resource}")]
    AccessDenied {
        action: &'static str,
        resource: String,
    },
    #[error(
        "The repository with name '{name}' does not exist in the registry with id '{registry_id}'"
    )]
    RepositoryNotFound { name: String, registry_id: String },
    #[error(
        "The repository with name '{name}' already exists in the registry with id '{registry_id}'"
    )]
    RepositoryExists { name: String, registry_id: String },
    #[error("The repository with name '{name}' in registry with id '{registry_id}' cannot be deleted because it still contains images")]
    RepositoryNotEmpty { name: String, registry_id: String },
    #[error("{0}")]
    NameInvalid(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidTag(String),
    #[error("A resource can have at most {limit} tags; the request would give it {count}")]
    TooManyTags { limit: usize, count: usize },
    #[error("blob {0} is listed by a manifest in the repository; delete the manifest first")]
    BlobReferenced(Digest),
    #[error("the repository already has {limit} layer uploads in progress; finish or cancel some, or wait for them to expire")]
    TooManyUploads { limit: usize },
    #[error("manifest unknown")]
    ManifestUnknown,
    #[error("the manifest's media type {0} is not among the accepted types")]
    ManifestNotAcceptable(String),
    #[error("{0}")]
    ManifestInvalid(String),
    #[error("manifest media type {0:?} is not supported")]
    ManifestUnsupported(String),
    #[error("manifest references blob {0}, which is not in the repository")]
    ManifestBlobUnknown(Digest),
    #[error("index references manifest {0}, which is not in the repository")]
    ManifestChildUnknown(Digest),
    #[error("The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten because the repository is immutable.")]
    TagImmutable { tag: String, repository: String },
    #[error("Image with digest '{digest}' and tag '{tag}' already exists in the repository with name '{repository}' in registry with id '{registry_id}'")]
    ImageAlreadyExists {
        digest: String,
        tag: String,
        repository: String,
        registry_id: String,
    },
    #[error("The image digest '{given}' does not match the digest of the manifest, '{actual}'")]
    ImageDigestMismatch { given: String, actual: String },
    #[error("The layer with digest '{digest}' already exists in the repository with name '{repository}' in registry with id '{registry_id}'")]
    LayerAlreadyExists {
        digest: String,
        repository: String,
        registry_id: String,
    },
    #[error("Invalid request parameters: given tag does not map to given digest")]
    TagDigestMismatch,
    #[error("The image {0} is referenced by a manifest list (index) in the repository; delete the index first")]
    ImageReferencedByIndex(Digest),
    #[error("blob unknown to registry")]
    BlobUnknown,
    #[error("upload unknown")]
    UploadUnknown,
    #[error("The upload with id '{0}' contains no layer parts")]
    EmptyUpload(String),
    #[error("The layer with digest '{0}' is not referenced by any image in the repository")]
    LayerInaccessible(Digest),
    #[error("the provided digest did not match uploaded content: computed {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("{0}")]
    DigestInvalid(String),
    #[error("the chunk does not start where the upload ends (at {size} bytes)")]
    ChunkOutOfOrder { size: u64 },
    #[error("the requested range is not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("the request body ended early: {0}")]
    BodyInterrupted(String),
    #[error("User with name {0} already exists.")]
    UserExists(String),
    #[error("The user with name {0} cannot be found.")]
    UserNotFound(String),
    #[error("Cannot delete entity, must delete access keys first ({0}).")]
    UserHasKeys(String),
    #[error("Cannot exceed quota for AccessKeysPerUser: 2 ({0}).")]
    KeyLimitExceeded(String),
    #[error("The Access Key with id {0} cannot be found.")]
    KeyNotFound(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<berth_meta::MetaError> for CoreError {
    fn from(e: berth_meta::MetaError) -> Self {
        CoreError::Internal(e.to_string())
    }
}

impl From<berth_store::StoreError> for CoreError {
    fn from(e: berth_store::StoreError) -> Self {
        use berth_store::StoreError as S;
        match e {
            S::DigestMismatch { expected, actual } => {
                CoreError::DigestMismatch { expected, actual }
            }
            S::UploadUnknown => CoreError::UploadUnknown,
            S::OffsetMismatch { expected, .. } => CoreError::ChunkOutOfOrder { size: expected },
            S::BodyInterrupted(reason) => CoreError::BodyInterrupted(reason),
            S::BlobMissing => CoreError::BlobUnknown,
            S::TooManyUploads { limit } => CoreError::TooManyUploads { limit },
            S::RangeNotSatisfiable | S::Io(_) => CoreError::Internal(e.to_string()),
        }
    }
}
