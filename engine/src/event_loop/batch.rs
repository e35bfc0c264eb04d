//! A turn's socket reads, and then its writes, made in one system call each: an `io_uring`
//! whose entries are submitted together and whose completions are all reaped before the call
//! returns.
//!
//! Why: a system call costs about as much as serving a small request. On the machine the
//! figures were measured on, a trivial one (`getppid`) took ~0.3 µs of *user* time and ~0.2 µs
//! of kernel time (the entry and exit are accounted to the process's user side), and each
//! request had cost a `recv`, a `send` and a third of an `epoll_wait`. Batched, a wake-up of
//! the loop that serves three connections makes three calls instead of seven.
//!
//! Every operation is issued non-blocking (`MSG_DONTWAIT`): it completes, or fails with
//! `EAGAIN`, while the kernel takes the submission, so a batch never waits for a peer. Where
//! no ring can be made (a kernel without `io_uring`, or a sandbox that forbids it) each
//! operation is its own system call, with the same results.

use std::io;
use std::os::fd::RawFd;

use io_uring::{opcode, types, IoUring};
use tracing::debug;

/// Entries of a worker's ring; a larger batch is submitted in pieces of this size.
const RING_ENTRIES: u32 = 256;

/// One operation of a batch, on a connected, non-blocking socket.
pub enum Op<'a> {
    /// Receive up to the buffer's length.
    Recv(RawFd, &'a mut [u8]),
    /// Send the bytes (as many as the socket takes).
    Send(RawFd, &'a [u8]),
}

/// Runs batches of socket operations for one worker.
pub struct Batcher {
    ring: Option<IoUring>,
}

impl Batcher {
    /// A batcher on a new ring, or, when none can be made, one that makes a call per
    /// operation.
    pub fn new() -> Self {
        match IoUring::new(RING_ENTRIES) {
            Ok(ring) => Self { ring: Some(ring) },
            Err(err) => {
                debug!(%err, "no io_uring: socket operations are made one call each");
                Self::without_ring()
            }
        }
    }

    /// A batcher that makes one system call per operation (the fallback, also for tests).
    pub fn without_ring() -> Self {
        Self { ring: None }
    }

    /// Whether batches go through a ring.
    #[cfg(test)]
    pub fn batches(&self) -> bool {
        self.ring.is_some()
    }

    /// Runs `ops`; `results[i]` becomes the outcome of `ops[i]`: the bytes moved (0 for a
    /// receive: the peer's end of the stream), or the error (`WouldBlock` when the socket
    /// had nothing to give or no room).
    pub fn run(&mut self, ops: &mut [Op<'_>], results: &mut Vec<io::Result<usize>>) {
        results.clear();
        if ops.is_empty() {
            return;
        }
        let Some(ring) = self.ring.as_mut() else {
            results.extend(ops.iter_mut().map(one_call));
            return;
        };
        results.resize_with(ops.len(), || Ok(0));
        for (chunk_index, chunk) in ops.chunks_mut(RING_ENTRIES as usize).enumerate() {
            let base = chunk_index * RING_ENTRIES as usize;
            if let Err(err) = run_on_ring(ring, chunk, base, results) {
                // Nothing of this batch is left with the kernel (see `run_on_ring`); the
                // ring is not used again, and every operation from here is its own call.
                tracing::warn!(%err, "io_uring failed; socket operations are made one call each");
                if let Some(ring) = self.ring.take() {
                    // Entries the kernel never took stay in the ring's queue: dropping the
                    // ring would let its closing touch nothing of ours, but keeping it unused
                    // is as safe and simpler to reason about.
                    std::mem::forget(ring);
                }
                for (offset, op) in ops.iter_mut().enumerate().skip(base) {
                    results[offset] = one_call(op);
                }
                return;
            }
        }
    }
}

/// Submits `chunk` (no more entries than the ring holds) and reaps every completion into
/// `results[base..]`. An `Err` means the kernel took none of the chunk's entries.
fn run_on_ring(
    ring: &mut IoUring,
    chunk: &mut [Op<'_>],
    base: usize,
    results: &mut [io::Result<usize>],
) -> io::Result<()> {
    {
        let mut queue = ring.submission();
        for (index, op) in chunk.iter_mut().enumerate() {
            let entry = match op {
                Op::Recv(fd, buf) => {
                    opcode::Recv::new(types::Fd(*fd), buf.as_mut_ptr(), buf.len() as u32)
                        .flags(libc::MSG_DONTWAIT)
                        .build()
                }
                Op::Send(fd, buf) => {
                    opcode::Send::new(types::Fd(*fd), buf.as_ptr(), buf.len() as u32)
                        .flags(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                        .build()
                }
            }
            .user_data(index as u64);
            // SAFETY: the entry points into a buffer borrowed from `chunk` for this whole
            // call, and the call does not return while the kernel may still use it: every
            // entry is reaped below before `Ok`, and an `Err` is returned only when the kernel
            // took none of the entries. The queue has room: the ring's completion queue was
            // empty and the chunk holds no more entries than the ring.
            unsafe { queue.push(&entry) }.map_err(|_| io::Error::other("io_uring queue full"))?;
        }
    }
    let mut left = chunk.len();
    while left > 0 {
        if let Err(err) = ring.submit_and_wait(left) {
            // Nothing taken and not a wait cut short: nothing of ours is with the kernel, and
            // the caller stops using the ring (its queued entries are never submitted).
            let none_taken = ring.submission().len() == chunk.len() && left == chunk.len();
            let transient = matches!(
                err.raw_os_error(),
                Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
            );
            if none_taken && !transient {
                return Err(err);
            }
            // Otherwise a wait cut short: what completed is reaped below, the rest is waited
            // for (or submitted) again.
        }
        for completion in ring.completion() {
            let index = completion.user_data() as usize;
            let result = completion.result();
            results[base + index] = if result >= 0 {
                Ok(result as usize)
            } else {
                Err(io::Error::from_raw_os_error(-result))
            };
            left -= 1;
        }
    }
    Ok(())
}

/// `op` as its own system call.
fn one_call(op: &mut Op<'_>) -> io::Result<usize> {
    loop {
        // SAFETY: each call reads from or writes into the borrowed buffer only, within its
        // length, and returns how many bytes it moved.
        let moved = unsafe {
            match op {
                Op::Recv(fd, buf) => {
                    libc::recv(*fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT)
                }
                Op::Send(fd, buf) => libc::send(
                    *fd,
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                ),
            }
        };
        if moved >= 0 {
            return Ok(moved as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (client, server)
    }

    /// Sends on three sockets and receives on three (one with nothing waiting) in one batch
    /// each, with and without a ring: the same bytes and outcomes either way.
    fn sends_and_receives(mut batcher: Batcher) {
        let pairs: Vec<_> = (0..3).map(|_| pair()).collect();
        let replies: Vec<Vec<u8>> = (0..3u8)
            .map(|i| vec![b'a' + i; 100 * (i as usize + 1)])
            .collect();
        let mut ops: Vec<Op> = pairs
            .iter()
            .zip(&replies)
            .map(|((_, server), reply)| Op::Send(server.as_raw_fd(), reply))
            .collect();
        let mut results = Vec::new();
        batcher.run(&mut ops, &mut results);
        for (result, reply) in results.iter().zip(&replies) {
            assert_eq!(*result.as_ref().unwrap(), reply.len());
        }
        for ((client, _), reply) in pairs.iter().zip(&replies) {
            let mut got = vec![0; reply.len()];
            (&*client).read_exact(&mut got).unwrap();
            assert_eq!(&got, reply);
        }

        (&pairs[0].0).write_all(b"get a\r\n").unwrap();
        (&pairs[2].0).write_all(b"get ccc\r\n").unwrap();
        // The server side has both requests once a blocking read of a clone sees them.
        for (index, len) in [(0, 7), (2, 9)] {
            let watcher = pairs[index].1.try_clone().unwrap();
            watcher.set_nonblocking(false).unwrap();
            let mut peek = vec![0; len];
            while watcher.peek(&mut peek).unwrap() < len {}
            watcher.set_nonblocking(true).unwrap();
        }
        let mut buffers = vec![vec![0u8; 64]; 3];
        let mut ops: Vec<Op> = pairs
            .iter()
            .zip(buffers.iter_mut())
            .map(|((_, server), buf)| Op::Recv(server.as_raw_fd(), buf))
            .collect();
        batcher.run(&mut ops, &mut results);
        drop(ops);
        assert_eq!(*results[0].as_ref().unwrap(), 7);
        assert_eq!(&buffers[0][..7], b"get a\r\n");
        assert_eq!(
            results[1].as_ref().unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(*results[2].as_ref().unwrap(), 9);
        assert_eq!(&buffers[2][..9], b"get ccc\r\n");

        // The end of a stream is a receive of no bytes.
        pairs[1].0.shutdown(std::net::Shutdown::Write).unwrap();
        let mut buf = [0u8; 8];
        loop {
            let mut ops = [Op::Recv(pairs[1].1.as_raw_fd(), &mut buf)];
            batcher.run(&mut ops, &mut results);
            match &results[0] {
                Ok(0) => break,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_ring_batch_moves_the_bytes_of_every_operation() {
        let batcher = Batcher::new();
        if !batcher.batches() {
            // A sandbox without io_uring: the loop runs on the fallback, tested below.
            eprintln!("no io_uring here: the batches were run one call each");
        }
        sends_and_receives(batcher);
    }

    #[test]
    fn without_a_ring_each_operation_is_its_own_call_with_the_same_results() {
        sends_and_receives(Batcher::without_ring());
    }

    #[test]
    fn a_batch_larger_than_the_ring_is_run_in_pieces() {
        let mut batcher = Batcher::new();
        let pairs: Vec<_> = (0..RING_ENTRIES as usize + 7).map(|_| pair()).collect();
        let byte = [b'x'];
        let mut ops: Vec<Op> = pairs
            .iter()
            .map(|(_, server)| Op::Send(server.as_raw_fd(), &byte))
            .collect();
        let mut results = Vec::new();
        batcher.run(&mut ops, &mut results);
        assert_eq!(results.len(), pairs.len());
        assert!(results.iter().all(|r| matches!(r, Ok(1))));
        for (client, _) in &pairs {
            let mut got = [0u8];
            (&*client).read_exact(&mut got).unwrap();
            assert_eq!(got, byte);
        }
    }
}
