//! Streams a blob to the network from one blocking thread that reads ahead.
//!
//! Each `tokio::fs` read is a separate trip to the blocking pool; a dedicated reader that fills
//! large buffers and hands them over a small channel keeps the disk (or page cache) busy while
//! the socket drains the previous buffer, and costs one thread hop per blob, not per read.

use std::fs::File;
use std::io::Read;

use bytes::Bytes;
use futures_util::Stream;

/// Buffers of this size go to the socket; large enough that per-buffer costs vanish.
const READ_BUFFER: usize = 1024 * 1024;
/// Buffers read ahead of the socket.
const READ_AHEAD: usize = 4;

/// Streams `len` bytes of `file` from its current position.
pub(crate) fn stream(
    mut file: File,
    len: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        while left > 0 {
            let want = left.min(READ_BUFFER as u64);
            // `read_to_end` fills spare capacity without zeroing it first: one pass, not two.
            let mut buf = Vec::with_capacity(want as usize);
            let result = (&mut file).take(want).read_to_end(&mut buf).and_then(|n| {
                if n == 0 {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the blob is shorter than its recorded size",
                    ))
                } else {
                    Ok(n)
                }
            });
            match result {
                Ok(n) => {
                    left -= n as u64;
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        // The client went away.
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
