//! Content-addressed blob storage with verified, durable, streaming writes.
//!
//! [`BlobStore`] keeps committed blobs under `blobs/<key-id>/<algorithm>/<xx>/<hex>` and uploads
//! in progress under `uploads/<uuid>.<owner>`. Bytes are hashed in the same pass that writes them,
//! on blocking threads so the async runtime never waits on the disk, through the page cache
//! with their writeback paced as they go ([`writeback`]), so that the first pull finds them there.
//!
//! **Invariants:**
//! - A blob path exists only after its bytes hashed to its digest and were fsynced, renamed into
//!   place and the directory fsynced. Readers never see a partial blob.
//! - An acknowledged upload chunk is fsynced, so an upload can resume after a restart.
//! - A refused or interrupted chunk is cut back, so the upload holds what it held before.
//!
//! Start reading at [`BlobStore::append`] and [`BlobStore::commit`].

mod blob_store;
mod error;
mod reader;
mod writeback;
mod writer;

pub use blob_store::{BlobRead, BlobStore, UploadId, UploadKey};
pub use error::StoreError;
