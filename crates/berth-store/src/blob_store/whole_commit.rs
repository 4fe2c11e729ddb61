//! Commits whose final part is small enough to read whole first: the closing PUT of a chunked
//! upload (usually empty) and small monolithic uploads.
//!
//! Streaming a body costs a trip to the blocking pool per step (open, write, sync, rename): on a
//! 4 KiB upload these hand-offs between threads cost more than the bytes. A final part of at
//! most [`WHOLE_LIMIT`] bytes is read into memory first (the caller is authenticated, and the
//! amount is bounded), and the whole commit (open, check the offset, hash, write, sync, verify,
//! rename, sync the directory) runs in one blocking call.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::pin::Pin;

use berth_oci::{Digest, Hasher};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::{hash_file, io_blocking, place, BlobStore, HashState, UploadKey};
use crate::StoreError;

/// The largest final part committed in one blocking call.
const WHOLE_LIMIT: usize = 64 * 1024;

/// A final part, as far as it was read.
pub(super) enum FinalPart {
    /// The body ended within [`WHOLE_LIMIT`].
    Whole(Vec<Bytes>),
    /// It did not: the frames read so far, to be written before the rest of the stream.
    Longer(Vec<Bytes>),
    /// The body failed before it ended; nothing was written.
    Interrupted(String),
}

/// Reads `body` until it ends or passes [`WHOLE_LIMIT`].
pub(super) async fn read_final_part<S, E>(body: &mut Pin<&mut S>) -> FinalPart
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut frames = Vec::new();
    let mut len = 0;
    loop {
        match body.next().await {
            None => return FinalPart::Whole(frames),
            Some(Err(e)) => return FinalPart::Interrupted(e.to_string()),
            Some(Ok(frame)) => {
                len += frame.len();
                frames.push(frame);
                if len > WHOLE_LIMIT {
                    return FinalPart::Longer(frames);
                }
            }
        }
    }
}

/// How a whole commit ended.
enum Outcome {
    /// The blob is in place, this many bytes long.
    Committed(u64),
    /// The upload is unchanged, and so is its hash state, handed back (boxed: a hasher is
    /// large beside the other outcomes).
    OffsetMismatch {
        expected: u64,
        given: u64,
        state: Box<Option<HashState>>,
    },
    /// The bytes hashed to this digest instead; the upload's file is removed.
    DigestMismatch(Digest),
    /// No such upload.
    Unknown,
}

/// Appends `frames` to the upload at `upload` (at `offset`, when given), checks that the whole
/// upload hashes to `expected`, and renames it to `blob`. `state` is the upload's running hash,
/// if one was kept; without it the file is hashed again. On an I/O error the upload is cut back
/// to its length before the call.
fn commit_whole(
    upload: &Path,
    blob: &Path,
    state: Option<HashState>,
    offset: Option<u64>,
    expected: &Digest,
    frames: &[Bytes],
) -> std::io::Result<Outcome> {
    let file = match OpenOptions::new().write(true).open(upload) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::Unknown),
        Err(e) => return Err(e),
    };
    let current = file.metadata()?.len();
    if let Some(given) = offset.filter(|&given| given != current) {
        return Ok(Outcome::OffsetMismatch {
            expected: current,
            given,
            state: Box::new(state),
        });
    }
    let algorithm = expected.algorithm();
    let mut hasher = match state {
        Some(s) if s.size == current && s.hasher.algorithm() == algorithm => s.hasher,
        _ if current == 0 => Hasher::new(algorithm),
        _ => hash_file(upload, Hasher::new(algorithm))?.0,
    };
    let mut end = current;
    let written = frames.iter().try_for_each(|frame| {
        file.write_all_at(frame, end)?;
        hasher.update(frame);
        end += frame.len() as u64;
        Ok(())
    });
    // Synced even when this part is empty: bytes an earlier, unacknowledged write left in the
    // page cache (a process that died mid-PATCH) count in the upload's length and its hash,
    // and must be on disk before the blob is acknowledged. On a clean file this costs nothing.
    if let Err(e) = written.and_then(|()| file.sync_data()) {
        // Best effort: the error reported is the write's, and a restart rehashes the file.
        let _ = file.set_len(current).and_then(|()| file.sync_data());
        return Err(e);
    }
    let actual = hasher.finish();
    if &actual != expected {
        let _ = std::fs::remove_file(upload);
        return Ok(Outcome::DigestMismatch(actual));
    }
    place(upload, blob)?;
    Ok(Outcome::Committed(end))
}

impl BlobStore {
    /// What to answer for a final part whose body broke before it was read whole: what the
    /// upload's own state says first (unknown, or not at the offset given), as when the
    /// upload is checked before its body is read; else the broken body. Nothing was written.
    pub(super) async fn refusal_of_interrupted(
        &self,
        key: UploadKey,
        offset: Option<u64>,
        reason: String,
    ) -> StoreError {
        match tokio::fs::metadata(self.upload_path(key)).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.forget_upload(key);
                StoreError::UploadUnknown
            }
            Ok(m) if offset.is_some_and(|given| given != m.len()) => StoreError::OffsetMismatch {
                expected: m.len(),
                given: offset.unwrap_or_default(),
            },
            _ => StoreError::BodyInterrupted(reason),
        }
    }

    /// Commits a final part read whole, in one blocking call.
    pub(super) async fn commit_whole(
        &self,
        key: UploadKey,
        state: &mut Option<HashState>,
        offset: Option<u64>,
        expected: &Digest,
        frames: Vec<Bytes>,
    ) -> Result<u64, StoreError> {
        let (upload, blob) = (self.upload_path(key), self.blob_path(expected));
        let (taken, digest) = (state.take(), expected.clone());
        let outcome =
            io_blocking(move || commit_whole(&upload, &blob, taken, offset, &digest, &frames))
                .await?;
        match outcome {
            Outcome::Committed(size) => {
                self.forget_upload(key);
                Ok(size)
            }
            Outcome::OffsetMismatch {
                expected,
                given,
                state: kept,
            } => {
                *state = *kept;
                Err(StoreError::OffsetMismatch { expected, given })
            }
            Outcome::DigestMismatch(actual) => {
                self.forget_upload(key);
                Err(StoreError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                })
            }
            Outcome::Unknown => {
                self.forget_upload(key);
                Err(StoreError::UploadUnknown)
            }
        }
    }
}
