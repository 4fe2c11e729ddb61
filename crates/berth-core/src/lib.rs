//! The registry service: every operation, written once, behind both front doors.
//!
//! The OCI handlers and (later) the ECR API handlers parse requests into the validated types of
//! `berth-oci`, authenticate a [`Principal`], and call one method of [`Registry`] per request.
//! Every rule lives here: "repository not found", "this tag is immutable", "this manifest
//! references an unknown blob". Front doors only map [`CoreError`] to their wire codes.
//!
//! **Invariants:**
//! - A blob is linked into a repository only after the store committed it (verified and
//!   durable), so metadata never points at bytes that are not there.
//! - Time comes from the injected [`Clock`]; nothing here reads the system time directly.
//! - Every operation starts with [`Registry::authorize`], the one place access is decided.
//!
//! Start reading at [`Registry`], then [`ops::manifests`] and [`ops::uploads`].

mod access;
mod clock;
mod error;
mod identity;
pub mod mutability;
pub mod ops;
mod pull_log;
mod registry;
mod schedules;

pub use access::{Action, Principal};
pub use berth_store::{BlobRead, UploadId};
pub use clock::{Clock, SystemClock};
pub use error::{AuthFailure, CoreError};
pub use identity::{Bootstrap, SignedCaller};
pub use mutability::{TagMutability, TagMutabilityRule};
pub use registry::{Registry, RegistryConfig, RepositoryRef};

/// The request body type the core accepts: any stream of byte chunks. It is `'static` so that
/// a write can outlive the request that sent it (see the blob store's upload writes).
pub trait BodyStream:
    futures_util::Stream<Item = Result<bytes::Bytes, Self::Error>> + Send + 'static
{
    type Error: std::fmt::Display + Send + 'static;
}

impl<S, E> BodyStream for S
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    type Error = E;
}
