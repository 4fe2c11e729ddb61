//! Large writes through the page cache, with their writeback paced as they go.
//!
//! A blob must be on disk before it is acknowledged, and it is usually pulled soon after it is
//! pushed (CI pushes, a deploy pulls). Writes that bypass the page cache (`O_DIRECT`, which
//! berth used before) leave nothing there for that first pull, which then reads the disk: a
//! freshly pushed 1 GiB blob came back at 0.23–0.43x distribution's speed, which serves it from
//! the page cache its push filled. Written through the page cache, the blob stays there, clean,
//! once it is durable.
//!
//! Left to itself the kernel writes dirty pages back late and in bursts, and the final fsync
//! then waits for most of the blob (`dd` of 1 GiB, buffered then fdatasync: 255–335 MB/s on
//! these disks, `O_DIRECT` 380–456). So a second thread writes each full buffer and at once
//! starts its writeback (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), then waits for the writeback
//! of the buffer [`IN_FLIGHT`] places back: the disk stays busy while the next buffers fill,
//! dirty pages stay bounded per request, and the final `fdatasync` has at most a few buffers
//! left to wait for (the same 1 GiB paced so: 408–536 MB/s, and read back at 6–8 GB/s from the
//! page cache against 0.5–0.8 GB/s after direct writes).
//!
//! What is left at the end of a request, less than one buffer, is written by the request's own
//! thread just before the final `fdatasync`: handing it to the second thread would cost small
//! uploads a round trip.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::mpsc;

/// Buffers end on multiples of this in the file (after a first one that may be shorter), so
/// that each write and its writeback cover whole pages.
const BLOCK: usize = 4096;
/// One write, and one range of writeback.
const BUFFER: usize = 2 * 1024 * 1024;
/// Buffers per request: one filling, one being written, one waiting.
const BUFFERS: usize = 3;
/// Buffers whose writeback may be under way at once before the writer waits for the oldest:
/// 16 MiB of dirty pages per request at most.
const IN_FLIGHT: usize = 8;

/// A write buffer of up to [`BUFFER`] bytes, filled from the front up to `capacity`.
///
/// Full buffers live in anonymous mappings rather than on the heap: the allocator keeps freed
/// 2 MiB buffers in its per-thread arenas (a chunked 1 GiB push left the server 64 MiB larger),
/// while a mapping goes back to the kernel when it is dropped. A request's first
/// [`HEAP_FIRST`] bytes stay on the heap, though: most uploads are small and end there, and a
/// mapping would cost each of them two system calls and a TLB shootdown across the server's
/// threads.
struct AlignedBuf {
    memory: Memory,
    len: usize,
    capacity: usize,
}

enum Memory {
    Heap(Vec<u8>),
    Mapped(memmap2::MmapMut),
}

/// Bytes a request's first buffer holds on the heap before it moves to a mapping.
const HEAP_FIRST: usize = 64 * 1024;

impl AlignedBuf {
    /// The first buffer of a write.
    fn first(capacity: usize) -> AlignedBuf {
        AlignedBuf {
            memory: Memory::Heap(Vec::new()),
            len: 0,
            capacity,
        }
    }

    /// A later buffer of a large write, whose pages are all mapped at once: one system call
    /// instead of a page fault per page.
    fn full_size() -> std::io::Result<AlignedBuf> {
        Ok(AlignedBuf {
            memory: Memory::Mapped(
                memmap2::MmapOptions::new()
                    .len(BUFFER)
                    .populate()
                    .map_anon()?,
            ),
            len: 0,
            capacity: BUFFER,
        })
    }

    fn bytes(&self) -> &[u8] {
        match &self.memory {
            Memory::Heap(v) => v,
            Memory::Mapped(m) => &m[..self.len],
        }
    }

    /// Copies as much of `data` as fits and returns how much that was.
    fn fill(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(self.capacity - self.len);
        if let Memory::Heap(v) = &self.memory {
            if v.len() + n > HEAP_FIRST {
                let mut map = memmap2::MmapMut::map_anon(BUFFER)?;
                map[..v.len()].copy_from_slice(v);
                self.memory = Memory::Mapped(map);
            }
        }
        match &mut self.memory {
            Memory::Heap(v) => v.extend_from_slice(&data[..n]),
            Memory::Mapped(m) => m[self.len..self.len + n].copy_from_slice(&data[..n]),
        }
        self.len += n;
        Ok(n)
    }

    fn is_full(&self) -> bool {
        self.len == self.capacity
    }

    /// Empties the buffer for reuse as a full-size one.
    fn reset(&mut self) {
        if let Memory::Heap(v) = &mut self.memory {
            v.clear();
        }
        self.len = 0;
        self.capacity = BUFFER;
    }
}

/// The file and the writeback started on it.
struct Target {
    file: File,
    /// Ranges whose writeback was started and not yet waited for, oldest first.
    in_flight: VecDeque<(u64, usize)>,
    /// Cleared where the file system or a sandbox refuses `sync_file_range`: the writes then
    /// go unpaced, and the final `fdatasync` writes everything.
    paced: bool,
}

impl Target {
    fn new(file: File) -> Target {
        Target {
            file,
            in_flight: VecDeque::new(),
            paced: true,
        }
    }

    /// Writes a full buffer and starts its writeback; waits for the oldest range's writeback
    /// once [`IN_FLIGHT`] are under way.
    fn write_buffer(&mut self, bytes: &[u8], offset: u64) -> std::io::Result<()> {
        self.file.write_all_at(bytes, offset)?;
        if self.paced {
            if let Err(e) = self.pace(offset, bytes.len()) {
                if !is_unsupported(&e) {
                    return Err(e);
                }
                self.paced = false;
            }
        }
        Ok(())
    }

    fn pace(&mut self, offset: u64, len: usize) -> std::io::Result<()> {
        start_writeback(&self.file, offset, len)?;
        self.in_flight.push_back((offset, len));
        if self.in_flight.len() > IN_FLIGHT {
            if let Some((offset, len)) = self.in_flight.pop_front() {
                wait_for_writeback(&self.file, offset, len)?;
            }
        }
        Ok(())
    }
}

/// Whether `e` says the call is not available here, rather than that the disk failed.
fn is_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP)
    )
}

/// `sync_file_range` with `flags`. No crate wraps it safely (`nix` and `rustix` have no
/// binding), and the call is a plain system call on a borrowed descriptor.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn sync_file_range(
    file: &File,
    offset: u64,
    len: usize,
    flags: libc::c_uint,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (offset, len) = (offset as libc::off64_t, len as libc::off64_t);
    // SAFETY: the descriptor is borrowed from a live `File`; the call reads no memory of ours.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Starts writing back `len` bytes at `offset`, without waiting. Elsewhere than Linux, nothing:
/// the final `fdatasync` writes everything.
fn start_writeback(file: &File, offset: u64, len: usize) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    return sync_file_range(file, offset, len, libc::SYNC_FILE_RANGE_WRITE);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, offset, len);
        Ok(())
    }
}

/// Waits until `len` bytes at `offset` are written back (not durable: the final `fdatasync`
/// still makes them so, with the file's size).
fn wait_for_writeback(file: &File, offset: u64, len: usize) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    return sync_file_range(
        file,
        offset,
        len,
        libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER,
    );
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, offset, len);
        Ok(())
    }
}

/// A thread that writes full buffers while the next ones fill, and hands them back.
struct Flusher {
    jobs: mpsc::SyncSender<(AlignedBuf, u64)>,
    done: mpsc::Receiver<std::io::Result<AlignedBuf>>,
    thread: std::thread::JoinHandle<Target>,
}

impl Flusher {
    fn start(mut target: Target) -> std::io::Result<Flusher> {
        let (jobs, todo) = mpsc::sync_channel::<(AlignedBuf, u64)>(BUFFERS);
        let (finished, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("berth-flush".into())
            .spawn(move || {
                for (mut buf, offset) in todo {
                    let result = target.write_buffer(buf.bytes(), offset);
                    buf.reset();
                    if finished.send(result.map(|()| buf)).is_err() {
                        break;
                    }
                }
                target
            })?;
        Ok(Flusher { jobs, done, thread })
    }
}

/// Writes a stream of bytes to a file from a given offset on, a buffer at a time.
pub(crate) struct BlockWriter {
    /// Present until a flusher takes it.
    target: Option<Target>,
    flusher: Option<Flusher>,
    /// The file offset of `buf`'s first byte.
    offset: u64,
    buf: AlignedBuf,
    spare: Vec<AlignedBuf>,
    /// Buffers allocated for this writer, so that no more than [`BUFFERS`] exist.
    allocated: usize,
}

impl BlockWriter {
    /// Continues `file`, opened for writing, at `len`.
    pub(crate) fn new(file: File, len: u64) -> BlockWriter {
        // A first buffer that ends on a block boundary, so that every later one is aligned.
        let first = BUFFER - (len % BLOCK as u64) as usize;
        BlockWriter {
            target: Some(Target::new(file)),
            flusher: None,
            offset: len,
            buf: AlignedBuf::first(first),
            spare: Vec::new(),
            allocated: 1,
        }
    }

    pub(crate) fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let n = self.buf.fill(data)?;
            data = &data[n..];
            if self.buf.is_full() {
                self.hand_off()?;
            }
        }
        Ok(())
    }

    /// Sends the full buffer to the flusher and takes an empty one.
    fn hand_off(&mut self) -> std::io::Result<()> {
        if self.flusher.is_none() {
            let target = self
                .target
                .take()
                .expect("the target is held until the flusher starts");
            self.flusher = Some(Flusher::start(target)?);
        }
        let next = match self.spare.pop() {
            Some(buf) => buf,
            None if self.allocated < BUFFERS => {
                self.allocated += 1;
                AlignedBuf::full_size()?
            }
            None => self.wait_for_buffer()?,
        };
        let full = std::mem::replace(&mut self.buf, next);
        let offset = self.offset;
        self.offset += full.len as u64;
        let flusher = self.flusher.as_ref().expect("started above");
        if flusher.jobs.send((full, offset)).is_err() {
            return Err(self.flusher_failure());
        }
        Ok(())
    }

    fn wait_for_buffer(&mut self) -> std::io::Result<AlignedBuf> {
        match self.flusher.as_ref().map(|f| f.done.recv()) {
            Some(Ok(result)) => result,
            _ => Err(self.flusher_failure()),
        }
    }

    fn flusher_failure(&mut self) -> std::io::Error {
        // The flusher only stops early on a write error, which it has sent; find it.
        if let Some(flusher) = &self.flusher {
            while let Ok(result) = flusher.done.try_recv() {
                if let Err(e) = result {
                    return e;
                }
            }
        }
        std::io::Error::other("the flush thread stopped")
    }

    /// Writes what is left and, if anything was written, makes all of it durable. Returns the
    /// file.
    pub(crate) fn finish(mut self) -> std::io::Result<File> {
        let target = match self.flusher.take() {
            None => self
                .target
                .take()
                .expect("no flusher, so the target is here"),
            Some(flusher) => {
                drop(flusher.jobs);
                let mut failure = None;
                for result in flusher.done.iter() {
                    if let Err(e) = result {
                        failure.get_or_insert(e);
                    }
                }
                let target = flusher
                    .thread
                    .join()
                    .map_err(|_| std::io::Error::other("the flush thread panicked"))?;
                if let Some(e) = failure {
                    return Err(e);
                }
                // The flusher ran, so bytes were written even if the last buffer is empty.
                target.file.write_all_at(self.buf.bytes(), self.offset)?;
                target.file.sync_data()?;
                return Ok(target.file);
            }
        };
        if self.buf.len > 0 {
            target.file.write_all_at(self.buf.bytes(), self.offset)?;
            target.file.sync_data()?;
        }
        Ok(target.file)
    }
}

/// A writer dropped on an error path still waits for its flusher: the caller cuts the file back
/// next, and a write still in flight must not land after that.
impl Drop for BlockWriter {
    fn drop(&mut self) {
        if let Some(Flusher { jobs, done, thread }) = self.flusher.take() {
            drop(jobs);
            drop(done);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;

    use super::*;

    /// Writes `first` and `second` in two sessions, as two chunks of an upload, and returns
    /// what the file then holds.
    fn write_twice(dir: &str, first: &[u8], second: &[u8]) -> Vec<u8> {
        let path =
            std::env::temp_dir().join(format!("berth-writeback-{dir}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut len = 0u64;
        for part in [first, second] {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .unwrap();
            let mut writer = BlockWriter::new(file, len);
            for piece in part.chunks(70_001) {
                writer.write(piece).unwrap();
            }
            len = writer.finish().unwrap().metadata().unwrap().len();
        }
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        bytes
    }

    /// Several buffers, a second request that starts mid-block, and a tail in each.
    #[test]
    fn every_byte_lands_where_it_belongs() {
        let first: Vec<u8> = (0..BUFFER * 2 + 123).map(|i| (i % 251) as u8).collect();
        let second: Vec<u8> = (0..BUFFER * 3 + BLOCK + 9)
            .map(|i| (i % 241) as u8)
            .collect();
        let expected = [first.clone(), second.clone()].concat();
        assert_eq!(write_twice("several", &first, &second), expected);
    }

    #[test]
    fn exactly_one_buffer_then_nothing() {
        let first: Vec<u8> = (0..BUFFER).map(|i| (i % 13) as u8).collect();
        assert_eq!(write_twice("one", &first, b""), first);
    }
}
