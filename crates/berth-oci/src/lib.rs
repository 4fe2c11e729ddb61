//! The OCI protocol model, pure and free of I/O.
//!
//! Everything that arrives on the wire as a string becomes one of these validated types before
//! it reaches the core: [`Digest`], [`RepositoryName`], [`Tag`], [`Reference`]. Manifests are
//! parsed into the small [`Manifest`] graph the registry needs (what it references, what it
//! points at as its subject) while the original bytes stay untouched, because a manifest's
//! digest is the hash of exactly the bytes the client sent.
//!
//! Start reading at [`manifest`]: it decides which documents berth accepts.
//!
//! **Invariant:** no async runtime and no I/O here, so every parser can be unit tested and fuzzed.

mod digest;
mod error_code;
pub mod manifest;
mod media_type;
mod name;
pub mod range;
mod reference;

pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use error_code::ErrorCode;
pub use manifest::{Descriptor, Manifest, ManifestError, ManifestKind, MAX_MANIFEST_BYTES};
pub use media_type::MediaType;
pub use name::{NameError, RepositoryName, Tag, TagError};
pub use range::ByteRange;
pub use reference::Reference;
