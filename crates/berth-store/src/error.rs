//! The one error type of the blob store.

use berth_oci::Digest;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("blob storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the content hashes to {actual}, not {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("the upload does not exist")]
    UploadUnknown,
    #[error("the chunk starts at {given}, but the upload holds {expected} bytes")]
    OffsetMismatch { expected: u64, given: u64 },
    #[error("the request body ended early: {0}")]
    BodyInterrupted(String),
    #[error("the range is outside the blob")]
    RangeNotSatisfiable,
    #[error("the blob is not in storage")]
    BlobMissing,
    #[error("the repository already has {limit} uploads in progress")]
    TooManyUploads { limit: usize },
}
