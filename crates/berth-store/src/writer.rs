//! Streams request bytes into a file while hashing them, off the async threads.
//!
//! Blocking work runs only when bytes are ready: the async side gathers the body's frames as
//! they arrive, and whenever no batch is being written it hands what it has to one blocking
//! task, which hashes it and packs it into buffers that a flush thread writes, pacing their
//! writeback (see [`crate::writeback`]). Receiving the next batch overlaps hashing and writing this
//! one, and a body that stalls holds no thread of the blocking pool: hundreds of stalled
//! uploads cannot starve other requests' file work (issue 15, point 4).

use std::fs::File;

use berth_oci::Hasher;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::blob_store::io_blocking;
use crate::writeback::BlockWriter;
use crate::StoreError;

/// Bytes gathered while a batch is being written, before the body is read no further: this
/// bounds what an upload holds in memory to ~4 MiB plus hyper's last frame, on top of its write
/// buffers.
const MAX_PENDING: usize = 4 * 1024 * 1024;

/// What the blocking side owns between batches.
struct Disk {
    /// The file until the writer is made, on the first batch.
    file: Option<File>,
    len: u64,
    writer: Option<BlockWriter>,
    hasher: Hasher,
    written: u64,
}

impl Disk {
    fn writer(&mut self) -> &mut BlockWriter {
        if self.writer.is_none() {
            let file = self
                .file
                .take()
                .expect("the file is held until the writer is made");
            self.writer = Some(BlockWriter::new(file, self.len));
        }
        self.writer.as_mut().expect("made above")
    }

    fn write(mut self, batch: Vec<Bytes>) -> std::io::Result<Disk> {
        for frame in batch {
            self.hasher.update(&frame);
            self.writer().write(&frame)?;
            self.written += frame.len() as u64;
        }
        Ok(self)
    }

    fn finish(mut self) -> std::io::Result<(File, Hasher, u64)> {
        self.writer();
        let writer = self.writer.take().expect("made above");
        Ok((writer.finish()?, self.hasher, self.written))
    }
}

/// The body's frames gathered while no batch runs, and how the body ended.
#[derive(Default)]
struct Gathered {
    pending: Vec<Bytes>,
    bytes: usize,
    ended: bool,
    interrupted: Option<String>,
}

impl Gathered {
    fn take<E: std::fmt::Display>(&mut self, frame: Option<Result<Bytes, E>>) {
        match frame {
            Some(Ok(bytes)) => {
                self.bytes += bytes.len();
                self.pending.push(bytes);
            }
            Some(Err(e)) => {
                self.interrupted = Some(e.to_string());
                self.ended = true;
            }
            None => self.ended = true,
        }
    }

    fn batch(&mut self) -> Vec<Bytes> {
        self.bytes = 0;
        std::mem::take(&mut self.pending)
    }
}

/// Appends `body` to an upload file, open as `file` and `len` bytes long, updating
/// `hasher`. Returns the file, the hasher and the number of bytes written; the file is fsynced
/// before returning so that what the caller acknowledges is durable.
pub(crate) async fn append_stream<S, E>(
    file: File,
    len: u64,
    hasher: Hasher,
    body: S,
) -> Result<(File, Hasher, u64), StoreError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let mut disk = Some(Disk {
        file: Some(file),
        len,
        writer: None,
        hasher,
        written: 0,
    });
    let mut body = std::pin::pin!(body);
    let mut gathered = Gathered::default();
    let mut job: Option<tokio::task::JoinHandle<std::io::Result<Disk>>> = None;
    loop {
        if job.is_none() && !gathered.pending.is_empty() {
            let batch = gathered.batch();
            let d = disk
                .take()
                .expect("the disk state is here while no batch runs");
            job = Some(tokio::task::spawn_blocking(move || d.write(batch)));
        }
        let Some(running) = job.as_mut() else {
            if gathered.ended {
                break;
            }
            // Nothing to write: wait for the body alone, holding no thread.
            gathered.take(body.next().await);
            continue;
        };
        tokio::select! {
            written = running => {
                job = None;
                let written = written
                    .map_err(|e| std::io::Error::other(format!("disk writer panicked: {e}")))?;
                disk = Some(written?);
            }
            frame = body.next(), if !gathered.ended && gathered.bytes < MAX_PENDING => {
                gathered.take(frame);
            }
        }
    }
    if let Some(reason) = gathered.interrupted {
        // What was written is cut back by the caller; the writer's flush thread is joined
        // when it drops, off the async threads.
        if let Some(d) = disk {
            let _ = io_blocking(move || {
                drop(d);
                Ok(())
            })
            .await;
        }
        return Err(StoreError::BodyInterrupted(reason));
    }
    let d = disk.take().expect("no batch runs after the loop");
    Ok(io_blocking(move || d.finish()).await?)
}
