//! A plain TCP connection as the byte stream [`crate::connection::serve`] reads and writes,
//! driven by the worker's own event loop instead of a runtime's reactor.
//!
//! The socket is registered edge-triggered for both directions. The loop records each
//! readiness edge here before it polls the connection; a read or write that finds the socket
//! drained (a would-block, or a short read or write, which on Linux means the kernel buffer
//! was emptied or filled at that moment) clears the flag and returns `Pending`, and the next
//! edge wakes the connection again. So, as with tokio's reactor, the read after a reply costs
//! no system call when the client has sent nothing yet.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use mio::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Reads a connection may make per turn of the loop before it yields to the worker's other
/// connections (memcached's `-R`, requests per event, does the same): a client that keeps its
/// socket full would otherwise be served alone for as long as it keeps sending. A read takes
/// up to 16 KiB (a few thousand small requests, a few milliseconds of work); a yield costs a
/// wake-up of the loop, small beside that.
pub const READS_PER_TURN: u32 = 1;

/// What the last readiness edges said and what the stream has seen since.
///
/// The closed flags are sticky: the edge that reports a peer's shutdown (or an error) comes
/// once, possibly with data still to read, so after it a short read no longer means that a
/// later edge will come — the read is tried until it returns the end (or the error).
#[derive(Debug)]
pub struct Readiness {
    readable: Cell<bool>,
    writable: Cell<bool>,
    read_closed: Cell<bool>,
    write_closed: Cell<bool>,
    reads_left: Cell<u32>,
}

impl Readiness {
    /// A new socket: both ways are tried before any edge arrives.
    pub fn ready() -> Rc<Self> {
        Rc::new(Self {
            readable: Cell::new(true),
            writable: Cell::new(true),
            read_closed: Cell::new(false),
            write_closed: Cell::new(false),
            reads_left: Cell::new(READS_PER_TURN),
        })
    }

    /// A new turn of the loop for this connection.
    pub fn new_turn(&self) {
        self.reads_left.set(READS_PER_TURN);
    }

    /// Records an edge from the event loop.
    pub fn mark(&self, event: &mio::event::Event) {
        if event.is_readable() {
            self.readable.set(true);
        }
        if event.is_writable() {
            self.writable.set(true);
        }
        if event.is_read_closed() || event.is_error() {
            self.read_closed.set(true);
        }
        if event.is_write_closed() || event.is_error() {
            self.write_closed.set(true);
        }
    }

    fn may_read(&self) -> bool {
        self.readable.get() || self.read_closed.get()
    }

    fn may_write(&self) -> bool {
        self.writable.get() || self.write_closed.get()
    }
}

/// The connection's side of a registered socket.
pub struct LoopStream {
    socket: TcpStream,
    readiness: Rc<Readiness>,
}

impl LoopStream {
    pub fn new(socket: TcpStream, readiness: Rc<Readiness>) -> Self {
        Self { socket, readiness }
    }
}

impl AsyncRead for LoopStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.readiness.may_read() {
            return Poll::Pending;
        }
        let reads_left = this.readiness.reads_left.get();
        if reads_left == 0 {
            // This turn's share is used: come back after the connections already waiting.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.readiness.reads_left.set(reads_left - 1);
        let wanted = buf.remaining();
        // SAFETY: `read(2)` only writes into the slice and returns how many bytes it wrote;
        // nothing reads the uninitialised bytes, and exactly the `n` bytes written are then
        // marked initialised and filled. Not zeroing the spare capacity first saves a 16 KiB
        // memset per read.
        let target = unsafe { &mut *(buf.unfilled_mut() as *mut [MaybeUninit<u8>] as *mut [u8]) };
        loop {
            match (&this.socket).read(target) {
                Ok(n) => {
                    if n < wanted {
                        this.readiness.readable.set(false);
                    }
                    // SAFETY: the kernel wrote these `n` bytes.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    this.readiness.readable.set(false);
                    return Poll::Pending;
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }
}

impl AsyncWrite for LoopStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.readiness.may_write() {
            return Poll::Pending;
        }
        loop {
            match (&this.socket).write(buf) {
                Ok(n) => {
                    if n < buf.len() {
                        this.readiness.writable.set(false);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    this.readiness.writable.set(false);
                    return Poll::Pending;
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(match self.socket.shutdown(Shutdown::Write) {
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}
