//! Content-addressed blob storage with verified, durable, streaming writes.
//!
//! [`BlobStore`] keeps committed blobs under `blobs/<key-id>/<algorithm>/<xx>/<hex>` and uploads
//! in progress under `uploads/<uuid>`. Bytes are hashed in the same pass that writes them, on a
//! blocking thread so the async runtime never waits on the disk.
//!
//! **Invariants:**
//! - A blob path exists only after its bytes hashed to its digest and were fsynced, renamed into
//!   place and the directory fsynced. Readers never see a partial blob.
//! - An acknowledged upload chunk is fsynced, so an upload can resume after a restart.
//! - A failed or abandoned write leaves no file behind (see [`writer`]'s guard).
//!
//! Start reading at [`BlobStore::append`] and [`BlobStore::commit`].

mod blob_store;
mod error;
mod reader;
mod writer;

pub use blob_store::{BlobRead, BlobStore, UploadId, UploadKey};
pub use error::StoreError;
