//! Streams request bytes into a file while hashing them, off the async threads.
//!
//! The async side forwards body frames through a bounded channel; one blocking thread writes and
//! hashes each frame. Network receive, hashing and disk writes therefore overlap, and the async
//! runtime never blocks on `write(2)` or SHA-256.

use std::fs::File;
use std::io::Write;

use berth_oci::Hasher;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::StoreError;

/// Frames in flight between the socket and the disk thread. With hyper's frames of up to
/// 64 KiB, this bounds buffered memory per upload to a few MiB.
const CHANNEL_FRAMES: usize = 64;

/// Once this many bytes have been written since the last kick, a background thread is asked
/// to start flushing them. Without it the kernel keeps a whole large blob dirty in memory and
/// the final fsync writes all of it while the client waits; with it the disk works while the
/// bytes are still arriving, and the final fsync only has the tail left.
const WRITEBACK_EVERY: u64 = 32 * 1024 * 1024;

/// Flushes a file in the background whenever it is kicked; kicks that arrive while a flush
/// runs are merged into the next one.
struct Writeback {
    kick: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Writeback {
    fn start(file: &File) -> std::io::Result<Writeback> {
        let clone = file.try_clone()?;
        let (kick, kicked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("berth-writeback".into())
            .spawn(move || {
                while kicked.recv().is_ok() {
                    // An error here resurfaces in the final, checked fsync.
                    let _ = clone.sync_data();
                }
            })?;
        Ok(Writeback { kick, thread })
    }

    fn finish(self) {
        drop(self.kick);
        let _ = self.thread.join();
    }
}

/// Appends `body` to `file` (already positioned at its end), updating `hasher`. Returns the
/// file, the hasher and the number of bytes written; the file is fsynced before returning so
/// that what the caller acknowledges is durable.
pub(crate) async fn append_stream<S, E>(
    mut file: File,
    mut hasher: Hasher,
    body: S,
) -> Result<(File, Hasher, u64), StoreError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_FRAMES);
    let disk = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let mut written = 0u64;
        let mut kicked_at = 0u64;
        let mut writeback: Option<Writeback> = None;
        while let Some(frame) = rx.blocking_recv() {
            file.write_all(&frame)?;
            hasher.update(&frame);
            written += frame.len() as u64;
            if written - kicked_at >= WRITEBACK_EVERY {
                let wb = match writeback.take() {
                    Some(wb) => wb,
                    None => Writeback::start(&file)?,
                };
                let _ = wb.kick.try_send(());
                writeback = Some(wb);
                kicked_at = written;
            }
        }
        if let Some(wb) = writeback {
            wb.finish();
        }
        if written > 0 {
            file.sync_data()?;
        }
        Ok((file, hasher, written))
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
