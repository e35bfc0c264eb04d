//! A plain TCP connection as the byte stream [`crate::connection::serve`] reads and writes,
//! driven by the worker's own event loop instead of a runtime's reactor.
//!
//! The socket is registered edge-triggered for both directions. The loop records each
//! readiness edge here before it polls the connection; a read or write that finds the socket
//! drained (a would-block, or a short read or write, which on Linux means the kernel buffer
//! was emptied or filled at that moment) clears the flag and returns `Pending`, and the next
//! edge wakes the connection again. So, as with tokio's reactor, the read after a reply costs
//! no system call when the client has sent nothing yet.
//!
//! The loop may also read a connection's socket itself, before it polls any connection of
//! the turn ([`LoopSocket::read_ahead`]): it then looks at the requests read and starts
//! loading the cache lines their keys' lookups will need, so that those misses overlap the
//! other connections' reads instead of stalling each lookup in turn. The bytes wait in the
//! socket's read-ahead buffer and are the first the connection reads. Those reads of one
//! wake-up are made together, in one system call ([`super::batch`]).
//!
//! Replies wait in the socket's unsent buffer until the end of the loop's turn, when the
//! loop sends every connection's in one system call as well. So that nothing is lost or
//! reordered by the wait, the end of the stream is handed to the connection only once what
//! it sent before has left, a shutdown sends what waits first, and a buffer that grows past
//! [`UNSENT_MAX`] is sent at once. A reply of [`DIRECT_SEND_MIN`] bytes or more is sent at
//! once too, without the copy: the call is small beside its bytes.

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
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
struct Readiness {
    readable: Cell<bool>,
    writable: Cell<bool>,
    read_closed: Cell<bool>,
    write_closed: Cell<bool>,
    reads_left: Cell<u32>,
}

impl Readiness {
    /// A new socket: both ways are tried before any edge arrives.
    fn new() -> Self {
        Self {
            readable: Cell::new(true),
            writable: Cell::new(true),
            read_closed: Cell::new(false),
            write_closed: Cell::new(false),
            reads_left: Cell::new(READS_PER_TURN),
        }
    }

    fn new_turn(&self) {
        self.reads_left.set(READS_PER_TURN);
    }

    fn mark(&self, event: &mio::event::Event) {
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

/// Bytes the loop's read-ahead takes at most: a few small requests. A larger request reads
/// the rest itself; the bytes read ahead are copied once more than the rest.
const READ_AHEAD_BYTES: usize = 4096;

/// Replies that wait for the end of the turn at most; past this they are sent at once.
pub const UNSENT_MAX: usize = 64 * 1024;

/// A reply at least this long, with nothing waiting before it, is sent at once.
pub const DIRECT_SEND_MIN: usize = 16 * 1024;

/// A registered socket, shared by the loop (edges, read-ahead, sends) and the connection's
/// stream.
pub struct LoopSocket {
    socket: TcpStream,
    readiness: Readiness,
    ahead: RefCell<ReadAhead>,
    /// Replies written by the connection and not yet taken by the socket, in order.
    unsent: RefCell<Vec<u8>>,
    /// The loop's send of the unsent bytes failed: the connection's next read or write
    /// returns this.
    send_failed: Cell<Option<io::Error>>,
    /// The loop has this socket in its list of those with bytes to send.
    listed: Cell<bool>,
}

/// What the loop's read-ahead took from the socket and the connection has not read yet.
pub struct ReadAhead {
    bytes: Box<[u8]>,
    /// `bytes[taken..len]` are waiting.
    taken: usize,
    len: usize,
    /// The read-ahead met the end of the stream (delivered once, as a read of no bytes).
    end: bool,
    /// The read-ahead failed with this error (delivered to the connection's next read).
    failed: Option<io::Error>,
}

impl ReadAhead {
    /// Whether anything waits for the connection's next read.
    fn waiting(&self) -> bool {
        self.taken < self.len || self.end || self.failed.is_some()
    }

    /// Where the loop's receive puts the bytes.
    pub fn buffer(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl LoopSocket {
    pub fn new(socket: TcpStream) -> Rc<Self> {
        Rc::new(Self {
            socket,
            readiness: Readiness::new(),
            ahead: RefCell::new(ReadAhead {
                bytes: vec![0; READ_AHEAD_BYTES].into_boxed_slice(),
                taken: 0,
                len: 0,
                end: false,
                failed: None,
            }),
            unsent: RefCell::new(Vec::new()),
            send_failed: Cell::new(None),
            listed: Cell::new(false),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Records an edge from the event loop.
    pub fn mark(&self, event: &mio::event::Event) {
        self.readiness.mark(event);
    }

    /// A new turn of the loop for this connection.
    pub fn new_turn(&self) {
        self.readiness.new_turn();
    }

    /// The read-ahead buffer, when the loop should read ahead: the socket has reported data
    /// since it was drained (or its end) and the connection has read the last read-ahead.
    /// The loop receives into it, up to [`READ_AHEAD_BYTES`], then calls
    /// [`LoopSocket::read_ahead_done`].
    pub fn read_ahead_slot(&self) -> Option<RefMut<'_, ReadAhead>> {
        if !self.readiness.may_read() {
            return None;
        }
        let ahead = self.ahead.borrow_mut();
        (!ahead.waiting()).then_some(ahead)
    }

    /// Takes the outcome of the loop's receive into `slot` and hands the bytes to `look`. A
    /// receive that leaves the socket drained clears its readable flag as the connection's
    /// own would.
    pub fn read_ahead_done(
        &self,
        mut slot: RefMut<'_, ReadAhead>,
        received: io::Result<usize>,
        look: impl FnOnce(&[u8]),
    ) {
        let ahead = &mut *slot;
        match received {
            Ok(0) => ahead.end = true,
            Ok(n) => {
                if n < ahead.bytes.len() {
                    self.readiness.readable.set(false);
                }
                (ahead.taken, ahead.len) = (0, n);
                look(&ahead.bytes[..n]);
            }
            // Interrupted: nothing was read; the connection reads for itself.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                self.readiness.readable.set(false);
            }
            Err(err) => ahead.failed = Some(err),
        }
    }

    /// Whether replies wait to be sent and the loop has not listed the socket yet (it is
    /// listed from here on).
    pub fn list_if_unsent(&self) -> bool {
        if self.listed.get() || self.unsent.borrow().is_empty() {
            return false;
        }
        self.listed.set(true);
        true
    }

    /// The replies waiting, for the loop to send when the socket may take them; taken off
    /// the loop's list either way.
    pub fn unsent_slot(&self) -> Option<Ref<'_, Vec<u8>>> {
        self.listed.set(false);
        let unsent = self.unsent.borrow();
        (!unsent.is_empty() && self.readiness.may_write()).then_some(unsent)
    }

    /// Takes the outcome of the loop's send of the unsent bytes (the slot dropped first);
    /// `false` when it failed and the connection must be polled to see the error.
    pub fn sent(&self, result: io::Result<usize>) -> bool {
        let mut unsent = self.unsent.borrow_mut();
        match result {
            Ok(n) => {
                if n < unsent.len() {
                    self.readiness.writable.set(false);
                }
                unsent.drain(..n);
                shrink_if_idle(&mut unsent);
                true
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => true,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                self.readiness.writable.set(false);
                true
            }
            Err(err) => {
                unsent.clear();
                self.send_failed.set(Some(err));
                false
            }
        }
    }

    /// Sends what waits, now, until it is all gone or the socket is full (its writable flag
    /// then down: an edge will come).
    fn send_unsent_now(&self) -> io::Result<()> {
        let mut unsent = self.unsent.borrow_mut();
        while !unsent.is_empty() && self.readiness.may_write() {
            match (&self.socket).write(&unsent) {
                Ok(n) => {
                    if n < unsent.len() {
                        self.readiness.writable.set(false);
                    }
                    unsent.drain(..n);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    self.readiness.writable.set(false);
                }
                Err(err) => {
                    unsent.clear();
                    return Err(err);
                }
            }
        }
        shrink_if_idle(&mut unsent);
        Ok(())
    }

    /// Whether replies still wait after sending what the socket takes now.
    fn unsent_after_sending(&self) -> io::Result<bool> {
        if self.unsent.borrow().is_empty() {
            return Ok(false);
        }
        self.send_unsent_now()?;
        Ok(!self.unsent.borrow().is_empty())
    }

    /// Moves what the read-ahead left into `buf`: `None` when nothing waits.
    fn take_ahead(&self, buf: &mut ReadBuf<'_>) -> Option<io::Result<()>> {
        let mut ahead = self.ahead.borrow_mut();
        if let Some(err) = ahead.failed.take() {
            return Some(Err(err));
        }
        if ahead.taken < ahead.len {
            let n = buf.remaining().min(ahead.len - ahead.taken);
            buf.put_slice(&ahead.bytes[ahead.taken..ahead.taken + n]);
            ahead.taken += n;
            return Some(Ok(()));
        }
        if ahead.end {
            // The end of the stream reaches the connection once its replies have left.
            match self.unsent_after_sending() {
                Ok(true) => return Some(Err(io::ErrorKind::WouldBlock.into())),
                Ok(false) => {}
                Err(err) => return Some(Err(err)),
            }
            ahead.end = false;
            return Some(Ok(()));
        }
        None
    }
}

/// Gives back the memory of a buffer that grew for one large burst, once it is empty.
fn shrink_if_idle(unsent: &mut Vec<u8>) {
    if unsent.is_empty() && unsent.capacity() > 4 * UNSENT_MAX {
        *unsent = Vec::new();
    }
}

/// The connection's side of a registered socket.
pub struct LoopStream {
    socket: Rc<LoopSocket>,
}

impl LoopStream {
    pub fn new(socket: Rc<LoopSocket>) -> Self {
        Self { socket }
    }
}

impl AsyncRead for LoopStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &*self.get_mut().socket;
        if let Some(err) = this.send_failed.take() {
            return Poll::Ready(Err(err));
        }
        // Bytes the loop read ahead come first; taking them is not one of the turn's reads.
        match this.take_ahead(buf) {
            // The end, held back until the replies before it have left.
            Some(Err(err)) if err.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Some(done) => return Poll::Ready(done),
            None => {}
        }
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
                Ok(0) if wanted > 0 => {
                    // The end: handed over once the replies before it have left.
                    this.readiness.readable.set(false);
                    this.ahead.borrow_mut().end = true;
                    return match this.take_ahead(buf) {
                        Some(Err(err)) if err.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
                        Some(done) => Poll::Ready(done),
                        None => Poll::Ready(Ok(())),
                    };
                }
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
        let this = &*self.get_mut().socket;
        if let Some(err) = this.send_failed.take() {
            return Poll::Ready(Err(err));
        }
        let unsent_len = this.unsent.borrow().len();
        if unsent_len > 0 && unsent_len + buf.len() > UNSENT_MAX {
            match this.unsent_after_sending() {
                Ok(true) => return Poll::Pending,
                Ok(false) => {}
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        let mut unsent = this.unsent.borrow_mut();
        if unsent.is_empty() && buf.len() >= DIRECT_SEND_MIN {
            drop(unsent);
            return this.write_now(buf);
        }
        // Sent by the loop at the end of its turn, with the other connections' replies.
        unsent.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.socket.unsent_after_sending() {
            Ok(true) => Poll::Pending,
            Ok(false) => Poll::Ready(Ok(())),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.socket.unsent_after_sending() {
            Ok(true) => return Poll::Pending,
            Ok(false) => {}
            Err(err) => return Poll::Ready(Err(err)),
        }
        Poll::Ready(match self.socket.socket.shutdown(Shutdown::Write) {
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}

impl LoopSocket {
    /// Writes `buf` (nothing waiting before it) with a call of its own.
    fn write_now(&self, buf: &[u8]) -> Poll<io::Result<usize>> {
        if !self.readiness.may_write() {
            return Poll::Pending;
        }
        loop {
            match (&self.socket).write(buf) {
                Ok(n) => {
                    if n < buf.len() {
                        self.readiness.writable.set(false);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    self.readiness.writable.set(false);
                    return Poll::Pending;
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::batch::{Batcher, Op};
    use super::*;
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::task::Waker;

    /// A client, a second handle on the server's side of its connection (to watch what has
    /// arrived), and that side as the loop keeps it (non-blocking).
    fn connection() -> (StdStream, StdStream, Rc<LoopSocket>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let watcher = server.try_clone().unwrap();
        server.set_nonblocking(true).unwrap();
        (
            client,
            watcher,
            LoopSocket::new(TcpStream::from_std(server)),
        )
    }

    /// Returns once `len` bytes (0: the end of the stream) wait in the server's socket. The
    /// watcher shares the socket's non-blocking mode, so it polls.
    fn wait_for(watcher: &StdStream, len: usize) {
        let mut peek = vec![0; len.max(1)];
        loop {
            match watcher.peek(&mut peek) {
                Ok(n) if n == len => return,
                Ok(n) => assert!(n < len, "more bytes than sent"),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => panic!("{err}"),
            }
            std::thread::yield_now();
        }
    }

    /// The loop's read-ahead of one socket, through a batch of one.
    fn read_ahead(socket: &LoopSocket, look: impl FnOnce(&[u8])) {
        let Some(mut slot) = socket.read_ahead_slot() else {
            return;
        };
        let mut results = Vec::new();
        Batcher::new().run(&mut [Op::Recv(socket.fd(), slot.buffer())], &mut results);
        socket.read_ahead_done(slot, results.pop().unwrap(), look);
    }

    /// One `poll_read` of the connection's stream into a 16 KiB buffer.
    fn read_once(stream: &mut LoopStream) -> Poll<io::Result<Vec<u8>>> {
        let mut storage = [0u8; 16 << 10];
        let mut buf = ReadBuf::new(&mut storage);
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(stream)
            .poll_read(&mut cx, &mut buf)
            .map_ok(|()| buf.filled().to_vec())
    }

    #[test]
    fn bytes_read_ahead_are_looked_at_then_read_first_and_once() {
        let (mut client, watcher, socket) = connection();
        let mut stream = LoopStream::new(socket.clone());
        client.write_all(b"get a\r\nget b\r\n").unwrap();
        wait_for(&watcher, 14);
        let mut looked = Vec::new();
        read_ahead(&socket, |bytes| looked.extend_from_slice(bytes));
        assert_eq!(looked, b"get a\r\nget b\r\n");
        // Nothing is read again while those bytes wait.
        client.write_all(b"get c\r\n").unwrap();
        wait_for(&watcher, 7);
        read_ahead(&socket, |_| panic!("read ahead twice"));
        match read_once(&mut stream) {
            Poll::Ready(Ok(bytes)) => assert_eq!(bytes, b"get a\r\nget b\r\n"),
            other => panic!("{other:?}"),
        }
        // The read-ahead drained the socket then: its readable flag is down until an edge.
        assert!(read_once(&mut stream).is_pending());
    }

    #[test]
    fn a_request_longer_than_the_read_ahead_arrives_whole_and_in_order() {
        let (mut client, watcher, socket) = connection();
        let mut stream = LoopStream::new(socket.clone());
        let sent: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        client.write_all(&sent).unwrap();
        wait_for(&watcher, sent.len());
        let mut looked = 0;
        read_ahead(&socket, |bytes| looked = bytes.len());
        assert_eq!(looked, READ_AHEAD_BYTES);
        let mut received = Vec::new();
        while let Poll::Ready(read) = read_once(&mut stream) {
            let bytes = read.unwrap();
            assert!(!bytes.is_empty());
            received.extend_from_slice(&bytes);
        }
        assert_eq!(received, sent);
    }

    #[test]
    fn the_end_of_the_stream_met_ahead_is_read_as_the_end() {
        let (client, watcher, socket) = connection();
        let mut stream = LoopStream::new(socket.clone());
        client.shutdown(Shutdown::Write).unwrap();
        wait_for(&watcher, 0);
        read_ahead(&socket, |_| panic!("no bytes were sent"));
        for _ in 0..2 {
            match read_once(&mut stream) {
                Poll::Ready(Ok(bytes)) => assert!(bytes.is_empty()),
                other => panic!("{other:?}"),
            }
        }
    }
}
