//! A worker's own event loop for plain TCP connections: one `epoll` instance (through mio), the
//! worker's connections in a slab, and each connection's [`crate::connection::serve`] future
//! polled in place when its socket reports an edge or a device job it awaits completes.
//!
//! Why not tokio's current-thread runtime, which the worker used before: per request the
//! runtime scheduled a task (reference counts and state transitions in atomics), kept
//! readiness in atomics per socket, and read the clock twice per scheduler tick for its busy
//! metrics — about a sixth of the server's user time on small values. Here an edge polls the
//! connection directly: no task queue, no waker clones on the socket path, no clock reads. A
//! device job's completion still wakes the connection through a [`Waker`], which queues its
//! key and wakes the loop from the completing thread, so a value at the device never blocks
//! the other connections of the worker.
//!
//! Each wake-up serves its ready connections in two passes: every ready socket is read first,
//! and the keys its first request will look up start loading (the shard lock's line and the
//! index buckets, [`crate::store::Store::prefetch`]); then the connections are polled. A
//! lookup's misses then overlap the other connections' reads instead of stalling one after
//! another: under memcaslap's 100-byte load (about 2.5 connections per wake-up) `Store::find`
//! fell from about 7 % of the server's user time to under 3 %, and user time per operation by
//! about 5 % (median of 21 alternating rounds beside the build without it; see the README).
//! The third miss, the item's record, is loaded a step later, once the buckets it is found
//! through have arrived ([`crate::store::Store::prefetch_records`]): a connection's records
//! while the next socket is read, and the turn's last connection's while the first is served.
//!
//! A turn's reads are made in one system call, and the replies its connections wrote in one
//! more at its end ([`batch`]): a system call costs about what serving a small request does,
//! so a wake-up that serves three connections makes three calls (the wait included), not
//! seven.
//!
//! Connections that need timers or another transport (TLS handshakes, an idle timeout, RDMA)
//! are served on the tokio runtime instead; [`needs_runtime`] says which configurations do.

mod batch;
mod socket;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Wake, Waker};
use std::thread::JoinHandle;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use tracing::debug;

use crate::commands::Cache;
use crate::config::Config;
use crate::protocol::KeysAhead;
use batch::{Batcher, Op};
use socket::{LoopSocket, LoopStream};

/// The token of the loop's own waker; connection keys are slab indices, far below it.
const WAKE: Token = Token(usize::MAX);

/// Events taken from the kernel per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 256;

/// Whether `config` asks for connections this loop does not serve: timers (an idle timeout,
/// a TLS handshake's deadline) or RDMA channels, which live on the tokio runtime.
pub fn needs_runtime(config: &Config) -> bool {
    config.tls.is_some() || config.idle_timeout.is_some() || config.rdma_listen.is_some()
}

/// What other threads leave for the loop: new connections, keys of woken connections, and
/// the order to stop.
#[derive(Default)]
struct Inbox {
    incoming: Vec<(std::net::TcpStream, SocketAddr)>,
    woken: Vec<usize>,
    closed: bool,
}

struct Shared {
    inbox: Mutex<Inbox>,
    waker: mio::Waker,
}

impl Shared {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        // The inbox holds plain vectors, consistent at every step: a panic elsewhere while it
        // was held leaves it usable.
        self.inbox
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn wake(&self) {
        if let Err(err) = self.waker.wake() {
            debug!(%err, "cannot wake a worker's event loop");
        }
    }
}

/// The listener's handle to one worker: hands it connections; dropping it stops the worker
/// (its open connections are closed).
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// Gives the worker a connection; `false` when the worker has stopped.
    pub fn hand(&self, stream: std::net::TcpStream, peer: SocketAddr) -> bool {
        let mut inbox = self.shared.inbox();
        if inbox.closed {
            return false;
        }
        inbox.incoming.push((stream, peer));
        drop(inbox);
        self.shared.wake();
        true
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.inbox().closed = true;
        self.shared.wake();
    }
}

/// Wakes one connection of the loop from any thread (a device job's completion).
struct ConnectionWaker {
    key: usize,
    shared: Arc<Shared>,
}

impl Wake for ConnectionWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.inbox().woken.push(self.key);
        self.shared.wake();
    }
}

/// One connection: its serving future, its socket (shared with the future's stream), its
/// waker.
struct Connection {
    future: Pin<Box<dyn Future<Output = ()>>>,
    socket: Rc<LoopSocket>,
    waker: Waker,
}

/// Starts worker `index`'s thread and loop.
pub fn spawn(index: usize, cache: Arc<Cache>) -> io::Result<(Handle, JoinHandle<()>)> {
    let poll = Poll::new()?;
    let shared = Arc::new(Shared {
        inbox: Mutex::new(Inbox::default()),
        waker: mio::Waker::new(poll.registry(), WAKE)?,
    });
    let thread = std::thread::Builder::new()
        .name(format!("lzcache-worker-{index}"))
        .spawn({
            let shared = shared.clone();
            // The connections are made on the thread: their futures need not be `Send`.
            move || {
                Worker {
                    poll,
                    shared,
                    cache,
                    connections: Slab::new(),
                    ahead: Vec::with_capacity(EVENTS_PER_WAIT),
                    batcher: Batcher::new(),
                    results: Vec::with_capacity(EVENTS_PER_WAIT),
                    unsent: Vec::with_capacity(EVENTS_PER_WAIT),
                }
                .run()
            }
        })?;
    Ok((Handle { shared }, thread))
}

struct Worker {
    poll: Poll,
    shared: Arc<Shared>,
    cache: Arc<Cache>,
    connections: Slab<Connection>,
    /// The keys looked ahead in this turn's reads, in the order of the reads.
    ahead: Vec<KeysAhead>,
    /// Makes a turn's reads, and its sends, one system call each.
    batcher: Batcher,
    /// The outcomes of a batch.
    results: Vec<io::Result<usize>>,
    /// Connections with replies waiting to be sent at the end of the turn.
    unsent: Vec<usize>,
}

impl Worker {
    fn run(mut self) {
        self.serve();
        // Stopped or failed: later handoffs are refused (and counted back) instead of queued.
        self.shared.inbox().closed = true;
    }

    fn serve(&mut self) {
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        loop {
            if let Err(err) = self.poll.poll(&mut events, None) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(%err, "a worker's event loop failed; its connections close");
                return;
            }
            // Two passes: first every ready socket is read and the keys its requests will
            // look up start loading, then the connections are served — each lookup's cache
            // misses overlap the reads and lookups of the others instead of one another.
            //
            // Each lookup's record (its third miss) is loaded one step later than its lock and
            // buckets, once they have arrived: a connection's records while the next one's
            // socket is read, the last connection's while the first is served.
            let mut woken = false;
            self.read_ahead(&events, &mut woken);
            let mut driven = 0;
            for event in events.iter() {
                if event.token() != WAKE {
                    self.drive(event.token().0);
                    driven += 1;
                    if driven == 1 && self.ahead.len() >= 3 {
                        // (With two, the last one is served next: its records, asked for
                        // now, would come no sooner than its own lookup reads them.)
                        self.cache
                            .prefetch_records(&self.ahead[self.ahead.len() - 1]);
                    }
                }
            }
            let stop = woken && self.take_inbox();
            self.send_unsent();
            if stop {
                return;
            }
        }
    }

    /// Reads every ready socket of the turn (one batch) and starts loading what the
    /// requests read will look up; `woken` is set when the loop's own waker fired.
    fn read_ahead(&mut self, events: &Events, woken: &mut bool) {
        self.ahead.clear();
        let mut slots = Vec::new();
        for event in events.iter() {
            if event.token() == WAKE {
                *woken = true;
                continue;
            }
            if let Some(connection) = self.connections.get(event.token().0) {
                connection.socket.mark(event);
                if let Some(slot) = connection.socket.read_ahead_slot() {
                    slots.push((&*connection.socket, slot));
                }
            }
        }
        let mut ops: Vec<Op> = slots
            .iter_mut()
            .map(|(socket, slot)| Op::Recv(socket.fd(), slot.buffer()))
            .collect();
        self.batcher.run(&mut ops, &mut self.results);
        drop(ops);
        for ((socket, slot), received) in slots.into_iter().zip(self.results.drain(..)) {
            let mut keys = KeysAhead::default();
            socket.read_ahead_done(slot, received, |requests| {
                keys = self.cache.prefetch_for(requests)
            });
            if let Some(previous) = self.ahead.last() {
                self.cache.prefetch_records(previous);
            }
            self.ahead.push(keys);
        }
    }

    /// Sends the replies the turn's connections wrote (one batch); a connection whose send
    /// failed is polled to meet the error.
    fn send_unsent(&mut self) {
        if self.unsent.is_empty() {
            return;
        }
        let mut slots = Vec::with_capacity(self.unsent.len());
        for key in self.unsent.drain(..) {
            if let Some(connection) = self.connections.get(key) {
                if let Some(slot) = connection.socket.unsent_slot() {
                    slots.push((key, &*connection.socket, slot));
                }
            }
        }
        let mut ops: Vec<Op> = slots
            .iter()
            .map(|(_, socket, slot)| Op::Send(socket.fd(), slot))
            .collect();
        self.batcher.run(&mut ops, &mut self.results);
        drop(ops);
        let mut failed = Vec::new();
        for ((key, socket, slot), result) in slots.into_iter().zip(self.results.drain(..)) {
            drop(slot);
            if !socket.sent(result) {
                failed.push(key);
            }
        }
        for key in failed {
            self.drive(key);
        }
    }

    /// Serves what other threads left: woken connections, then new ones. `true` once the
    /// listener has gone.
    fn take_inbox(&mut self) -> bool {
        let (incoming, woken, closed) = {
            let mut inbox = self.shared.inbox();
            let incoming = std::mem::take(&mut inbox.incoming);
            (incoming, std::mem::take(&mut inbox.woken), inbox.closed)
        };
        for key in woken {
            self.drive(key);
        }
        for (stream, peer) in incoming {
            self.admit(stream, peer);
        }
        closed
    }

    /// Registers a new connection and serves what it has already sent.
    fn admit(&mut self, stream: std::net::TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        if let Err(err) = stream.set_nonblocking(true) {
            debug!(%peer, %err, "cannot make a connection non-blocking");
            self.cache.stats.connection_ended();
            return;
        }
        let mut socket = TcpStream::from_std(stream);
        let entry = self.connections.vacant_entry();
        let key = entry.key();
        if let Err(err) = self.poll.registry().register(
            &mut socket,
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            debug!(%peer, %err, "cannot register connection");
            self.cache.stats.connection_ended();
            return;
        }
        let socket = LoopSocket::new(socket);
        let stream = LoopStream::new(socket.clone());
        entry.insert(Connection {
            future: Box::pin(crate::server::serve_and_count(
                stream,
                peer,
                self.cache.clone(),
            )),
            socket,
            waker: Waker::from(Arc::new(ConnectionWaker {
                key,
                shared: self.shared.clone(),
            })),
        });
        self.drive(key);
    }

    /// Polls connection `key` (a stale key, of a connection gone since, is ignored; one
    /// reused since is polled once more than needed, which futures allow).
    ///
    /// A panic while serving one connection (a bug: no input should cause one) closes that
    /// connection only, as a panicking task does on a tokio runtime; the worker's other
    /// connections go on.
    fn drive(&mut self, key: usize) {
        let Some(connection) = self.connections.get_mut(key) else {
            return;
        };
        connection.socket.new_turn();
        let mut context = Context::from_waker(&connection.waker);
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            connection.future.as_mut().poll(&mut context)
        }));
        match polled {
            Ok(std::task::Poll::Pending) => {
                if connection.socket.list_if_unsent() {
                    self.unsent.push(key);
                }
            }
            // Dropping the future closes the socket, which leaves the epoll set with it.
            Ok(std::task::Poll::Ready(())) => drop(self.connections.remove(key)),
            Err(_) => {
                tracing::error!("serving a connection panicked; it is closed");
                drop(self.connections.remove(key));
                self.cache.stats.connection_ended();
            }
        }
    }
}
