//! Streams request bytes into a file while hashing them, off the async threads.
//!
//! The async side forwards body frames through a bounded channel; one blocking thread hashes
//! each frame and packs it into block-aligned buffers, which a second thread writes to disk
//! (see [`crate::direct`]). Network receive, hashing and disk writes therefore overlap, and the
//! async runtime never blocks on `write(2)` or SHA-256.

use std::fs::File;
use std::path::PathBuf;

use berth_oci::Hasher;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::direct::BlockWriter;
use crate::StoreError;

/// Frames in flight between the socket and the disk thread. hyper's frames reach ~400 KiB when
/// the socket outpaces the disk, so this bounds what an upload holds in memory to ~6 MiB, on top
/// of its write buffers.
const CHANNEL_FRAMES: usize = 16;

/// Appends `body` to the upload file at `path`, open as `file` and `len` bytes long, updating
/// `hasher`. Returns the file, the hasher and the number of bytes written; the file is fsynced
/// before returning so that what the caller acknowledges is durable.
pub(crate) async fn append_stream<S, E>(
    path: PathBuf,
    file: File,
    len: u64,
    mut hasher: Hasher,
    body: S,
) -> Result<(File, Hasher, u64), StoreError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_FRAMES);
    let disk = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let mut writer = BlockWriter::new(path, file, len)?;
        let mut written = 0u64;
        while let Some(frame) = rx.blocking_recv() {
            hasher.update(&frame);
            writer.write(&frame)?;
            written += frame.len() as u64;
        }
        Ok((writer.finish()?, hasher, written))
    });
    let mut body = std::pin::pin!(body);
    let mut interrupted = None;
    while let Some(frame) = body.next().await {
        match frame {
            Ok(bytes) => {
                if tx.send(bytes).await.is_err() {
                    // The disk thread stopped: its error is reported below.
                    break;
                }
            }
            Err(e) => {
                interrupted = Some(e.to_string());
                break;
            }
        }
    }
    drop(tx);
    let result = disk
        .await
        .map_err(|e| std::io::Error::other(format!("disk writer panicked: {e}")))??;
    match interrupted {
        Some(reason) => Err(StoreError::BodyInterrupted(reason)),
        None => Ok(result),
    }
}
