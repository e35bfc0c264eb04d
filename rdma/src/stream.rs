//! A byte stream over one RC queue pair, in the manner of Valkey's RDMA transport.
//!
//! Each side registers a **receive ring** the peer may RDMA-write and tells the peer where it
//! is in a HELLO message (a SEND). Data then travels by WRITE_WITH_IMM into the peer's ring at
//! the next position, the immediate carrying the length, so the receiver learns of new bytes
//! from one completion and copies nothing on the way in. A write never crosses the end of the
//! ring: a chunk that would is split in two. Space comes back by **ring offset**: the reader
//! returns the cumulative count of bytes it consumed in a CREDIT message (a SEND), together
//! with the cumulative count of receives it has posted, since every WRITE_WITH_IMM and every
//! SEND consumes one of the peer's posted receives. Cumulative counts make the messages
//! idempotent and order-free in meaning.
//!
//! Deadlock freedom: data needs two receive credits, a CREDIT needs one, so one is always kept
//! for returning credits; a side sends CREDIT as soon as its peer's view of it (receives or ring
//! space) is down to half and it has something to return, which it computes exactly from the
//! counts it has reported and the messages it has received.
//!
//! **Registered memory, by size class**, all registered when the queue pair is made and
//! deregistered when it is gone — after every work request naming it has completed or been
//! flushed, never before (the verbs refuse it, a NIC would corrupt memory):
//!
//! * the receive ring (`ring_bytes`, remote-writable);
//! * the send staging ring (`staging_bytes`): bytes the application writes are copied in once
//!   and written to the peer from there; its space is freed by the completion of the signalled
//!   request that covers it (writes are signalled selectively: every `signal_every`-th, at half
//!   the staging ring, when the send queue runs short, and on a flush — so a request/reply
//!   exchange costs no send completion at all most of the time);
//! * control slots (32 bytes): one receive slot per posted receive and a few send slots for
//!   HELLO and CREDIT.
//!
//! A work request's `wr_id` names its kind and slot (see [`WrKind`]); a completion finds its
//! slot from it. Copies per byte: one in (the application's buffer into the staging ring, like
//! a write into a socket buffer), one out (the receive ring into the application's buffer, like
//! a socket read); the NIC moves the bytes between the two rings.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::reactor::EventSource;
use crate::verbs::{
    Access, Completion, Listener, MemoryRegion, Provider, QpParams, QpState, QueuePair, RecvWr,
    SendOp, SendWr, Sge, VerbsError, WcOpcode, WcStatus,
};

/// Bytes of a control slot: the largest control message, rounded up.
const CONTROL_SLOT: usize = 32;
/// Control send slots: HELLO and CREDIT are rare, a few in flight suffice.
const CONTROL_SEND_SLOTS: u32 = 4;
const MSG_HELLO: u8 = 1;
const MSG_CREDIT: u8 = 2;
const PROTOCOL_VERSION: u8 = 1;
/// Completions taken from the queue per poll.
const POLL_BATCH: usize = 32;

/// Sizes and depths of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelConfig {
    /// The receive ring the peer writes into.
    pub ring_bytes: u32,
    /// The ring outgoing bytes are staged in.
    pub staging_bytes: u32,
    /// Largest single RDMA write.
    pub max_write: u32,
    pub sq_depth: u32,
    pub rq_depth: u32,
    /// A write is signalled at least this often.
    pub signal_every: u32,
    /// The queue pair's receiver-not-ready retries (7: without end).
    pub rnr_retry: u8,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            ring_bytes: 64 << 10,
            staging_bytes: 64 << 10,
            max_write: 16 << 10,
            sq_depth: 64,
            rq_depth: 32,
            signal_every: 16,
            rnr_retry: 7,
        }
    }
}

impl ChannelConfig {
    fn params(&self) -> QpParams {
        QpParams {
            sq_depth: self.sq_depth,
            rq_depth: self.rq_depth,
            rnr_retry: self.rnr_retry,
        }
    }

    /// Bytes one connection registers.
    pub fn registered_bytes(&self) -> usize {
        self.ring_bytes as usize
            + self.staging_bytes as usize
            + (self.rq_depth + CONTROL_SEND_SLOTS) as usize * CONTROL_SLOT
    }

    fn validate(&self) -> Result<(), ChannelError> {
        let ok = self.ring_bytes >= 64
            && self.staging_bytes >= 64
            && self.max_write > 0
            && self.rq_depth >= 4
            && self.sq_depth >= CONTROL_SEND_SLOTS + 2
            && self.signal_every > 0;
        if ok {
            Ok(())
        } else {
            Err(ChannelError::Config(*self))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Verbs(#[from] VerbsError),
    #[error("work request {wr_id:#x} failed: {status:?}")]
    WorkRequest { wr_id: u64, status: WcStatus },
    #[error("protocol violation by the peer: {0}")]
    Protocol(&'static str),
    #[error("connection refused or lost before it was established")]
    NotEstablished,
    #[error("invalid channel configuration {0:?}")]
    Config(ChannelConfig),
}

impl From<ChannelError> for io::Error {
    fn from(err: ChannelError) -> io::Error {
        let kind = match &err {
            ChannelError::NotEstablished => io::ErrorKind::ConnectionRefused,
            ChannelError::Verbs(VerbsError::ConnectionRefused(_)) => {
                io::ErrorKind::ConnectionRefused
            }
            ChannelError::Verbs(VerbsError::NoDevice(_)) => io::ErrorKind::Unsupported,
            ChannelError::Config(_) => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::ConnectionAborted,
        };
        io::Error::new(kind, err)
    }
}

/// What a `wr_id` names: the top byte is the kind, the rest a slot index or a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WrKind {
    /// A posted receive, by control receive slot.
    Recv(u32),
    /// A HELLO or CREDIT, by control send slot.
    Control(u32),
    /// A data write, by sequence number.
    Write(u64),
    /// The marker whose completion shows the send queue drained at teardown.
    Drain,
}

impl WrKind {
    const SHIFT: u32 = 56;

    fn encode(self) -> u64 {
        match self {
            WrKind::Recv(slot) => (1 << Self::SHIFT) | u64::from(slot),
            WrKind::Control(slot) => (2 << Self::SHIFT) | u64::from(slot),
            WrKind::Write(seq) => (3 << Self::SHIFT) | (seq & ((1 << Self::SHIFT) - 1)),
            WrKind::Drain => 4 << Self::SHIFT,
        }
    }

    fn decode(wr_id: u64) -> Option<WrKind> {
        let low = wr_id & ((1 << Self::SHIFT) - 1);
        match wr_id >> Self::SHIFT {
            1 => Some(WrKind::Recv(low as u32)),
            2 => Some(WrKind::Control(low as u32)),
            3 => Some(WrKind::Write(low)),
            4 => Some(WrKind::Drain),
            _ => None,
        }
    }
}

/// The peer's receive ring, from its HELLO.
#[derive(Debug, Clone, Copy)]
struct RemoteRing {
    addr: u64,
    rkey: u32,
    len: u64,
}

/// A control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Hello {
        rq_depth: u32,
        ring_len: u32,
        rkey: u32,
        ring_addr: u64,
    },
    /// Cumulative receives posted (the initial ones included) and bytes consumed.
    Credit { recvs_posted: u64, consumed: u64 },
}

impl Control {
    fn encode(self) -> [u8; CONTROL_SLOT] {
        let mut out = [0u8; CONTROL_SLOT];
        match self {
            Control::Hello {
                rq_depth,
                ring_len,
                rkey,
                ring_addr,
            } => {
                out[0] = MSG_HELLO;
                out[1] = PROTOCOL_VERSION;
                out[4..8].copy_from_slice(&rq_depth.to_le_bytes());
                out[8..12].copy_from_slice(&ring_len.to_le_bytes());
                out[12..16].copy_from_slice(&rkey.to_le_bytes());
                out[16..24].copy_from_slice(&ring_addr.to_le_bytes());
            }
            Control::Credit {
                recvs_posted,
                consumed,
            } => {
                out[0] = MSG_CREDIT;
                out[8..16].copy_from_slice(&recvs_posted.to_le_bytes());
                out[16..24].copy_from_slice(&consumed.to_le_bytes());
            }
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Control, ChannelError> {
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        if bytes.len() < 24 {
            return Err(ChannelError::Protocol("short control message"));
        }
        match bytes[0] {
            MSG_HELLO if bytes[1] == PROTOCOL_VERSION => Ok(Control::Hello {
                rq_depth: u32_at(4),
                ring_len: u32_at(8),
                rkey: u32_at(12),
                ring_addr: u64_at(16),
            }),
            MSG_HELLO => Err(ChannelError::Protocol("unknown protocol version")),
            MSG_CREDIT => Ok(Control::Credit {
                recvs_posted: u64_at(8),
                consumed: u64_at(16),
            }),
            _ => Err(ChannelError::Protocol("unknown control message")),
        }
    }
}

/// Work and traffic of one connection, for the transport's cost accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounters {
    /// Work requests posted (sends, writes and receives).
    pub work_requests: u64,
    /// Doorbells rung: one per post call (the verbs take one request per call).
    pub doorbells: u64,
    /// Completion entries polled.
    pub completions: u64,
    pub data_writes: u64,
    pub control_sends: u64,
    /// Sends and writes posted signalled (each costs a completion entry).
    pub signalled: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// A signalled send not yet completed, with what its completion frees.
#[derive(Debug, Clone, Copy)]
struct Signalled {
    wr_id: u64,
    /// Send-queue slots posted up to and including it.
    sq_posted: u64,
    /// Staging bytes written up to and including it.
    written: u64,
}

/// The non-blocking byte stream over one queue pair. It makes progress when
/// [`Channel::progress`] is called, typically after the queue pair's event descriptor became
/// readable; [`AsyncRdmaStream`] drives it from a tokio event loop.
pub struct Channel {
    qp: Arc<dyn QueuePair>,
    config: ChannelConfig,
    ring: Arc<dyn MemoryRegion>,
    staging: Arc<dyn MemoryRegion>,
    recv_slots: Arc<dyn MemoryRegion>,
    send_slots: Arc<dyn MemoryRegion>,
    free_send_slots: Vec<u32>,
    remote: Option<RemoteRing>,
    hello_sent: bool,
    /// Messages (sends and writes) sent, each consuming a receive of the peer.
    msgs_sent: u64,
    /// Receives the peer has posted in all, as it last told.
    peer_recvs_posted: u64,
    /// Bytes written into the peer's ring.
    written: u64,
    /// Bytes the peer has consumed from its ring, as it last told.
    peer_consumed: u64,
    /// Bytes copied into the staging ring.
    staged: u64,
    /// Staging bytes whose writes have completed.
    staging_freed: u64,
    sq_posted: u64,
    sq_freed: u64,
    signalled: VecDeque<Signalled>,
    writes_since_signal: u32,
    unsignalled_bytes: u64,
    /// A flush waits: the write that empties the staging ring is signalled.
    flush_wanted: bool,
    write_seq: u64,
    /// The drain marker posted at teardown has completed: every send before it has too.
    drained: bool,
    /// Bytes the peer has written into our ring.
    received: u64,
    consumed: u64,
    recvs_posted: u64,
    recvs_outstanding: u32,
    msgs_received: u64,
    reported_recvs: u64,
    reported_consumed: u64,
    /// The queue pair left `Connected`.
    broken: bool,
    /// The first real failure (not a flush), which ends the stream with an error.
    fault: Option<ChannelError>,
    polled: Vec<Completion>,
    counters: ChannelCounters,
    torn_down: bool,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("peer", &self.qp.peer_addr())
            .field("state", &self.qp.state())
            .field("counters", &self.counters)
            .finish()
    }
}

impl Channel {
    /// Connects to `addr`: the returned channel is established once the peer's HELLO arrived
    /// ([`Channel::is_open`]).
    pub fn connect(
        provider: &dyn Provider,
        addr: SocketAddr,
        config: ChannelConfig,
    ) -> Result<Channel, ChannelError> {
        config.validate()?;
        let mut made = None;
        let mut failure = None;
        let qp = provider.connect(addr, config.params(), &mut |qp| {
            Channel::prepare(qp.clone(), config)
                .map(|channel| made = Some(channel))
                .map_err(|err| {
                    let verbs = match &err {
                        ChannelError::Verbs(err) => err.clone(),
                        _ => VerbsError::NotConnected(QpState::Error),
                    };
                    failure = Some(err);
                    verbs
                })
        });
        match qp {
            Ok(_) => made.ok_or(ChannelError::NotEstablished),
            Err(err) => Err(failure.unwrap_or(ChannelError::Verbs(err))),
        }
    }

    /// Accepts the next connection request waiting at `listener`, if any.
    pub fn accept(
        listener: &dyn Listener,
        config: ChannelConfig,
    ) -> Result<Option<Channel>, ChannelError> {
        config.validate()?;
        let mut made = None;
        let qp = listener.accept(config.params(), &mut |qp| {
            Channel::prepare(qp.clone(), config)
                .map(|channel| made = Some(channel))
                .map_err(|err| match err {
                    ChannelError::Verbs(err) => err,
                    _ => VerbsError::NotConnected(QpState::Error),
                })
        })?;
        Ok(qp.and(made))
    }

    /// Registers the connection's memory and posts every receive, before the peer can send.
    fn prepare(qp: Arc<dyn QueuePair>, config: ChannelConfig) -> Result<Channel, ChannelError> {
        let local = Access::LOCAL_WRITE;
        let ring = qp.register(config.ring_bytes as usize, local | Access::REMOTE_WRITE)?;
        let mut regions = vec![ring.clone()];
        let rest = (|| {
            let staging = qp.register(config.staging_bytes as usize, Access::NONE)?;
            regions.push(staging.clone());
            let recv_slots = qp.register(config.rq_depth as usize * CONTROL_SLOT, local)?;
            regions.push(recv_slots.clone());
            let send_slots =
                qp.register(CONTROL_SEND_SLOTS as usize * CONTROL_SLOT, Access::NONE)?;
            regions.push(send_slots.clone());
            Ok::<_, VerbsError>((staging, recv_slots, send_slots))
        })();
        let (staging, recv_slots, send_slots) = match rest {
            Ok(regions) => regions,
            Err(err) => {
                for region in &regions {
                    let _ = qp.deregister(region);
                }
                return Err(err.into());
            }
        };
        let mut channel = Channel {
            qp,
            config,
            ring,
            staging,
            recv_slots,
            send_slots,
            free_send_slots: (0..CONTROL_SEND_SLOTS).rev().collect(),
            remote: None,
            hello_sent: false,
            msgs_sent: 0,
            peer_recvs_posted: 0,
            written: 0,
            peer_consumed: 0,
            staged: 0,
            staging_freed: 0,
            sq_posted: 0,
            sq_freed: 0,
            signalled: VecDeque::new(),
            writes_since_signal: 0,
            unsignalled_bytes: 0,
            flush_wanted: false,
            write_seq: 0,
            drained: false,
            received: 0,
            consumed: 0,
            recvs_posted: 0,
            recvs_outstanding: 0,
            msgs_received: 0,
            reported_recvs: u64::from(config.rq_depth),
            reported_consumed: 0,
            broken: false,
            fault: None,
            polled: Vec::with_capacity(POLL_BATCH),
            counters: ChannelCounters::default(),
            torn_down: false,
        };
        for slot in 0..config.rq_depth {
            channel.post_recv(slot)?;
        }
        Ok(channel)
    }

    /// The queue pair's completion channel, to wait on.
    pub fn event_fd(&self) -> BorrowedFd<'_> {
        self.qp.event_fd()
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.qp.peer_addr()
    }

    pub fn counters(&self) -> ChannelCounters {
        self.counters
    }

    /// Both HELLOs exchanged: data may flow.
    pub fn is_open(&self) -> bool {
        self.remote.is_some() && self.hello_sent && !self.broken
    }

    /// The connection is gone (disconnected or in error).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Bytes waiting to be read.
    pub fn readable(&self) -> usize {
        (self.received - self.consumed) as usize
    }

    /// Every byte written has been delivered into the peer's ring.
    pub fn is_flushed(&self) -> bool {
        self.written == self.staged && self.staging_freed == self.staged
    }

    /// Takes completions and connection events, reposts receives, posts what waits to be
    /// written and returns credits. Call after the event descriptor became readable (having
    /// acknowledged its events first) and after reading or writing.
    pub fn progress(&mut self) -> Result<(), ChannelError> {
        loop {
            let mut polled = std::mem::take(&mut self.polled);
            let n = self.qp.poll_cq(&mut polled, POLL_BATCH);
            self.counters.completions += n as u64;
            let result = polled.drain(..).try_for_each(|c| self.on_completion(c));
            self.polled = polled;
            if let Err(err) = result {
                self.fail(err);
            }
            if n < POLL_BATCH {
                break;
            }
        }
        match self.qp.state() {
            QpState::Connecting => return Ok(()),
            QpState::Connected => {}
            QpState::Error | QpState::Disconnected => self.broken = true,
        }
        if self.broken {
            return Ok(());
        }
        if !self.hello_sent {
            let hello = Control::Hello {
                rq_depth: self.config.rq_depth,
                ring_len: self.config.ring_bytes,
                rkey: self.ring.rkey(),
                ring_addr: self.ring.addr(),
            };
            if self.send_control(hello)? {
                self.hello_sent = true;
            }
        }
        self.post_writes()?;
        self.return_credits()?;
        Ok(())
    }

    /// The error that ended the stream, if it ended with one.
    pub fn fault(&self) -> Option<&ChannelError> {
        self.fault.as_ref()
    }

    fn fail(&mut self, err: ChannelError) {
        tracing::debug!(%err, peer = ?self.qp.peer_addr(), "RDMA connection failed");
        if self.fault.is_none() {
            self.fault = Some(err);
        }
        self.broken = true;
        self.qp.disconnect();
    }

    fn on_completion(&mut self, c: Completion) -> Result<(), ChannelError> {
        let kind = WrKind::decode(c.wr_id).ok_or(ChannelError::Protocol("unknown wr_id"))?;
        let failed = c.status != WcStatus::Success;
        if failed && c.status != WcStatus::WrFlush {
            self.fail(ChannelError::WorkRequest {
                wr_id: c.wr_id,
                status: c.status,
            });
        }
        match kind {
            WrKind::Recv(slot) => {
                self.recvs_outstanding -= 1;
                if failed {
                    return Ok(());
                }
                self.msgs_received += 1;
                match c.opcode {
                    WcOpcode::RecvRdmaWithImm => {
                        let len = u64::from(c.imm.unwrap_or(0));
                        if self.received + len - self.consumed > u64::from(self.config.ring_bytes) {
                            return Err(ChannelError::Protocol("write past the ring's free space"));
                        }
                        self.received += len;
                        self.counters.bytes_received += len;
                    }
                    _ => {
                        let mut message = [0u8; CONTROL_SLOT];
                        self.recv_slots
                            .read(slot as usize * CONTROL_SLOT, &mut message);
                        self.on_control(Control::decode(
                            &message[..c.byte_len.min(CONTROL_SLOT as u32) as usize],
                        )?)?;
                    }
                }
                if !self.broken {
                    self.post_recv(slot)?;
                }
            }
            WrKind::Control(slot) => {
                self.free_send_slots.push(slot);
                self.send_completed(c.wr_id);
            }
            WrKind::Write(_) => self.send_completed(c.wr_id),
            WrKind::Drain => self.drained = true,
        }
        Ok(())
    }

    fn on_control(&mut self, message: Control) -> Result<(), ChannelError> {
        match message {
            Control::Hello {
                rq_depth,
                ring_len,
                rkey,
                ring_addr,
            } => {
                if self.remote.is_some() {
                    return Err(ChannelError::Protocol("second HELLO"));
                }
                if rq_depth < 2 || ring_len == 0 {
                    return Err(ChannelError::Protocol("HELLO with an unusable ring"));
                }
                self.remote = Some(RemoteRing {
                    addr: ring_addr,
                    rkey,
                    len: u64::from(ring_len),
                });
                self.peer_recvs_posted = u64::from(rq_depth);
            }
            Control::Credit {
                recvs_posted,
                consumed,
            } => {
                if self.remote.is_none() {
                    return Err(ChannelError::Protocol("CREDIT before HELLO"));
                }
                if consumed > self.written {
                    return Err(ChannelError::Protocol("CREDIT for bytes never written"));
                }
                self.peer_recvs_posted = self.peer_recvs_posted.max(recvs_posted);
                self.peer_consumed = self.peer_consumed.max(consumed);
            }
        }
        Ok(())
    }

    /// A signalled send completed (or any send was flushed): frees what it covers.
    fn send_completed(&mut self, wr_id: u64) {
        if let Some(at) = self.signalled.iter().position(|s| s.wr_id == wr_id) {
            let covered = self.signalled.drain(..=at).next_back().expect("one entry");
            self.sq_freed = covered.sq_posted;
            self.staging_freed = covered.written;
        }
    }

    fn post_recv(&mut self, slot: u32) -> Result<(), ChannelError> {
        let wr = RecvWr {
            wr_id: WrKind::Recv(slot).encode(),
            sge: Some(Sge {
                addr: self.recv_slots.addr() + (slot as usize * CONTROL_SLOT) as u64,
                len: CONTROL_SLOT as u32,
                lkey: self.recv_slots.lkey(),
            }),
        };
        self.counters.work_requests += 1;
        self.counters.doorbells += 1;
        self.qp.post_recv(wr)?;
        self.recvs_posted += 1;
        self.recvs_outstanding += 1;
        Ok(())
    }

    fn credits(&self) -> u64 {
        self.peer_recvs_posted.saturating_sub(self.msgs_sent)
    }

    fn sq_in_use(&self) -> u64 {
        self.sq_posted - self.sq_freed
    }

    fn post_send(&mut self, wr: SendWr) -> Result<(), ChannelError> {
        self.counters.work_requests += 1;
        self.counters.doorbells += 1;
        self.qp.post_send(wr)?;
        self.msgs_sent += 1;
        self.sq_posted += 1;
        if wr.signaled {
            self.counters.signalled += 1;
            self.signalled.push_back(Signalled {
                wr_id: wr.wr_id,
                sq_posted: self.sq_posted,
                written: self.written,
            });
        }
        Ok(())
    }

    /// Sends a control message if a slot, a send-queue entry and (after the HELLO) a receive
    /// credit allow; returns whether it went.
    fn send_control(&mut self, message: Control) -> Result<bool, ChannelError> {
        let needs_credit = self.hello_sent;
        if (needs_credit && self.credits() == 0)
            || self.sq_in_use() >= u64::from(self.config.sq_depth)
        {
            return Ok(false);
        }
        let Some(slot) = self.free_send_slots.pop() else {
            return Ok(false);
        };
        let offset = slot as usize * CONTROL_SLOT;
        self.send_slots.write(offset, &message.encode());
        let wr = SendWr {
            wr_id: WrKind::Control(slot).encode(),
            sge: Sge {
                addr: self.send_slots.addr() + offset as u64,
                len: CONTROL_SLOT as u32,
                lkey: self.send_slots.lkey(),
            },
            op: SendOp::Send,
            signaled: true,
        };
        if let Err(err) = self.post_send(wr) {
            self.free_send_slots.push(slot);
            return Err(err);
        }
        self.counters.control_sends += 1;
        Ok(true)
    }

    /// Posts writes of staged bytes as far as receive credits, ring space and the send queue
    /// allow, one receive credit and one send-queue entry always kept for a CREDIT.
    fn post_writes(&mut self) -> Result<(), ChannelError> {
        let Some(remote) = self.remote else {
            return Ok(());
        };
        let staging_len = u64::from(self.config.staging_bytes);
        while self.written < self.staged
            && self.credits() >= 2
            && self.sq_in_use() + 2 <= u64::from(self.config.sq_depth)
        {
            let space = remote.len - (self.written - self.peer_consumed);
            if space == 0 {
                break;
            }
            let pending = self.staged - self.written;
            let remote_at = self.written % remote.len;
            let staging_at = self.written % staging_len;
            let len = pending
                .min(space)
                .min(remote.len - remote_at)
                .min(staging_len - staging_at)
                .min(u64::from(self.config.max_write));
            let signaled = (len == pending && self.flush_wanted)
                || self.writes_since_signal + 1 >= self.config.signal_every
                || self.unsignalled_bytes + len >= staging_len / 2
                || self.sq_in_use() + 3 > u64::from(self.config.sq_depth);
            self.write_seq += 1;
            let wr = SendWr {
                wr_id: WrKind::Write(self.write_seq).encode(),
                sge: Sge {
                    addr: self.staging.addr() + staging_at,
                    len: len as u32,
                    lkey: self.staging.lkey(),
                },
                op: SendOp::WriteWithImm {
                    remote_addr: remote.addr + remote_at,
                    rkey: remote.rkey,
                    imm: len as u32,
                },
                signaled,
            };
            self.written += len;
            if let Err(err) = self.post_send(wr) {
                self.written -= len;
                return Err(err);
            }
            self.counters.data_writes += 1;
            self.counters.bytes_sent += len;
            if signaled {
                self.writes_since_signal = 0;
                self.unsignalled_bytes = 0;
                self.flush_wanted = false;
            } else {
                self.writes_since_signal += 1;
                self.unsignalled_bytes += len;
            }
        }
        Ok(())
    }

    /// Asks for the completion that shows every byte written so far delivered: the last
    /// write is signalled, or — when everything is already posted unsignalled — a CREDIT goes,
    /// whose completion covers the writes before it. Call until [`Channel::is_flushed`].
    pub fn flush(&mut self) -> Result<(), ChannelError> {
        if self.broken || !self.is_open() || self.is_flushed() {
            return Ok(());
        }
        if self
            .signalled
            .back()
            .is_some_and(|s| s.written == self.written)
            && self.written == self.staged
        {
            return Ok(());
        }
        if self.written < self.staged {
            self.flush_wanted = true;
            return self.post_writes();
        }
        let credit = Control::Credit {
            recvs_posted: self.recvs_posted,
            consumed: self.consumed,
        };
        if self.send_control(credit)? {
            self.reported_recvs = self.recvs_posted;
            self.reported_consumed = self.consumed;
        }
        Ok(())
    }

    /// Returns receives and ring space once the peer's view of either is down to half.
    fn return_credits(&mut self) -> Result<(), ChannelError> {
        if self.remote.is_none() || !self.hello_sent {
            return Ok(());
        }
        let unreported_recvs = self.recvs_posted - self.reported_recvs;
        let unreported_bytes = self.consumed - self.reported_consumed;
        let peer_view_recvs = self.reported_recvs.saturating_sub(self.msgs_received);
        let peer_view_space =
            u64::from(self.config.ring_bytes) - (self.received - self.reported_consumed);
        let due = (unreported_recvs > 0 && peer_view_recvs <= u64::from(self.config.rq_depth) / 2)
            || (unreported_bytes > 0 && peer_view_space <= u64::from(self.config.ring_bytes) / 2);
        if !due {
            return Ok(());
        }
        let credit = Control::Credit {
            recvs_posted: self.recvs_posted,
            consumed: self.consumed,
        };
        if self.send_control(credit)? {
            self.reported_recvs = self.recvs_posted;
            self.reported_consumed = self.consumed;
        }
        Ok(())
    }

    /// Copies received bytes into `out`; returns how many (0 when none wait).
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, ChannelError> {
        let ring_len = u64::from(self.config.ring_bytes);
        let mut done = 0;
        while done < out.len() && self.consumed < self.received {
            let at = self.consumed % ring_len;
            let n = (out.len() - done)
                .min((self.received - self.consumed) as usize)
                .min((ring_len - at) as usize);
            self.ring.read(at as usize, &mut out[done..done + n]);
            done += n;
            self.consumed += n as u64;
        }
        if done > 0 && !self.broken {
            self.return_credits()?;
        }
        Ok(done)
    }

    /// Copies as much of `bytes` as the staging ring has room for and posts writes; returns
    /// how many bytes were taken (0 when the ring is full).
    pub fn write(&mut self, bytes: &[u8]) -> Result<usize, ChannelError> {
        if self.broken {
            return Err(self.broken_error());
        }
        let staging_len = u64::from(self.config.staging_bytes);
        let mut done = 0;
        while done < bytes.len() {
            let free = staging_len - (self.staged - self.staging_freed);
            if free == 0 {
                break;
            }
            let at = self.staged % staging_len;
            let n = (bytes.len() - done)
                .min(free as usize)
                .min((staging_len - at) as usize);
            self.staging.write(at as usize, &bytes[done..done + n]);
            done += n;
            self.staged += n as u64;
        }
        if self.is_open() {
            self.post_writes()?;
        }
        Ok(done)
    }

    fn broken_error(&self) -> ChannelError {
        match &self.fault {
            Some(ChannelError::WorkRequest { wr_id, status }) => ChannelError::WorkRequest {
                wr_id: *wr_id,
                status: *status,
            },
            Some(ChannelError::Protocol(what)) => ChannelError::Protocol(what),
            _ => ChannelError::Verbs(VerbsError::NotConnected(self.qp.state())),
        }
    }

    /// Ends the connection now; the peer sees the end after the bytes already delivered.
    pub fn disconnect(&mut self) {
        self.qp.disconnect();
        self.broken = true;
    }

    /// Every posted work request has completed or been flushed: the memory may go.
    fn quiescent(&self) -> bool {
        self.recvs_outstanding == 0 && self.drained
    }

    /// Disconnects, takes the flushed completions, and deregisters the memory once nothing
    /// names it; with work still outstanding (a NIC flushing slowly) the memory is left
    /// registered rather than freed under the NIC, and that is logged.
    fn teardown(&mut self) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        self.disconnect();
        // An unsignalled send that completed leaves no trace, so the end of the send queue is
        // marked, as `ib_drain_sq` does: a signalled request posted on the broken queue pair
        // completes (flushed) after everything posted before it.
        self.drained = self.sq_posted == 0;
        if !self.drained {
            let marker = SendWr {
                wr_id: WrKind::Drain.encode(),
                sge: Sge {
                    addr: self.send_slots.addr(),
                    len: 0,
                    lkey: self.send_slots.lkey(),
                },
                op: SendOp::Send,
                signaled: true,
            };
            if let Err(err) = self.qp.post_send(marker) {
                tracing::error!(%err, "cannot post the drain marker of a closing RDMA connection");
            }
        }
        let mut polled = Vec::new();
        for _ in 0..1000 {
            polled.clear();
            if self.qp.poll_cq(&mut polled, POLL_BATCH) == 0 {
                if self.quiescent() {
                    break;
                }
                std::thread::yield_now();
                continue;
            }
            for c in polled.drain(..) {
                let _ = self.on_completion(c);
            }
        }
        if !self.quiescent() {
            tracing::error!(
                recvs = self.recvs_outstanding,
                "RDMA connection torn down with work outstanding: its memory stays registered"
            );
            return;
        }
        for region in [
            &self.ring,
            &self.staging,
            &self.recv_slots,
            &self.send_slots,
        ] {
            if let Err(err) = self.qp.deregister(region) {
                tracing::error!(%err, "cannot deregister a connection's memory");
            }
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// A [`Channel`] as a tokio stream: `AsyncRead + AsyncWrite`, woken by the queue pair's
/// completion channel through the runtime's reactor like a socket.
pub struct AsyncRdmaStream {
    events: EventSource,
    channel: Channel,
}

impl std::fmt::Debug for AsyncRdmaStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.channel.fmt(f)
    }
}

impl AsyncRdmaStream {
    /// Wraps a channel; must be called inside the tokio runtime that will drive it.
    pub fn new(channel: Channel) -> io::Result<Self> {
        let events = EventSource::register(channel.event_fd())?;
        Ok(Self { events, channel })
    }

    /// Connects and waits until both sides' HELLOs are through.
    pub async fn connect(
        provider: &dyn Provider,
        addr: SocketAddr,
        config: ChannelConfig,
    ) -> io::Result<Self> {
        let channel = Channel::connect(provider, addr, config)?;
        let mut stream = Self::new(channel)?;
        std::future::poll_fn(|cx| stream.poll_open(cx)).await?;
        Ok(stream)
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.channel.peer_addr()
    }

    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            self.channel.progress()?;
            if self.channel.is_open() {
                return Poll::Ready(Ok(()));
            }
            if self.channel.is_broken() {
                let err = match self.channel.fault() {
                    Some(_) => self.channel.broken_error(),
                    None => ChannelError::NotEstablished,
                };
                return Poll::Ready(Err(err.into()));
            }
            ready!(self.poll_events(cx))?;
        }
    }

    /// Waits for the completion channel; when it fired, consumes its events so the next
    /// `progress` sees everything that caused them.
    fn poll_events(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.events.poll_fired(cx, || self.channel.qp.ack_events()))?;
        Poll::Ready(Ok(()))
    }

    fn end_of_stream(&self) -> io::Result<()> {
        match self.channel.fault() {
            None => Ok(()),
            Some(_) => Err(self.channel.broken_error().into()),
        }
    }
}

impl AsyncRead for AsyncRdmaStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            this.channel.progress()?;
            if this.channel.readable() > 0 {
                let n = this.channel.read(buf.initialize_unfilled())?;
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.channel.is_broken() {
                // Everything delivered before the end has been read: end of stream.
                return Poll::Ready(this.end_of_stream());
            }
            ready!(this.poll_events(cx))?;
        }
    }
}

impl AsyncWrite for AsyncRdmaStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            this.channel.progress()?;
            let n = this.channel.write(bytes)?;
            if n > 0 || bytes.is_empty() {
                return Poll::Ready(Ok(n));
            }
            ready!(this.poll_events(cx))?;
        }
    }

    /// Waits until every byte written has landed in the peer's ring.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            this.channel.progress()?;
            this.channel.flush()?;
            if this.channel.is_flushed() {
                return Poll::Ready(Ok(()));
            }
            if this.channel.is_broken() {
                return Poll::Ready(Err(this.channel.broken_error().into()));
            }
            ready!(this.poll_events(cx))?;
        }
    }

    /// Delivers what was written, then disconnects.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = ready!(self.as_mut().poll_flush(cx));
        self.channel.disconnect();
        Poll::Ready(flushed)
    }
}

/// A blocking stream over the emulated or a real provider, for clients and tests that are not
/// async: it drives an [`AsyncRdmaStream`] on its own single-threaded runtime.
pub struct BlockingRdmaStream {
    stream: AsyncRdmaStream,
    runtime: tokio::runtime::Runtime,
    read_timeout: Option<Duration>,
}

impl BlockingRdmaStream {
    pub fn connect(
        provider: &dyn Provider,
        addr: SocketAddr,
        config: ChannelConfig,
        timeout: Duration,
    ) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let stream = runtime.block_on(async {
            tokio::time::timeout(timeout, AsyncRdmaStream::connect(provider, addr, config))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "RDMA connection timed out"))?
        })?;
        Ok(Self {
            stream,
            runtime,
            read_timeout: None,
        })
    }

    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    pub fn channel(&self) -> &Channel {
        self.stream.channel()
    }

    /// Delivers what was written and disconnects.
    pub fn shutdown(&mut self) -> io::Result<()> {
        self.runtime.block_on(self.stream.shutdown())
    }
}

/// Runs `work` on `runtime`, failing with `WouldBlock` (as a socket's read timeout does) after
/// `timeout`.
fn block_on_with_timeout<T>(
    runtime: &tokio::runtime::Runtime,
    work: impl Future<Output = io::Result<T>>,
    timeout: Option<Duration>,
) -> io::Result<T> {
    match timeout {
        None => runtime.block_on(work),
        Some(limit) => runtime.block_on(async {
            tokio::time::timeout(limit, work)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::WouldBlock, "read timed out"))?
        }),
    }
}

impl io::Read for BlockingRdmaStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Self {
            stream,
            runtime,
            read_timeout,
        } = self;
        block_on_with_timeout(runtime, stream.read(buf), *read_timeout)
    }
}

impl io::Write for BlockingRdmaStream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let Self {
            stream, runtime, ..
        } = self;
        block_on_with_timeout(runtime, stream.write(bytes), None)
    }

    fn flush(&mut self) -> io::Result<()> {
        let Self {
            stream, runtime, ..
        } = self;
        block_on_with_timeout(runtime, stream.flush(), None)
    }
}

/// A listener in a tokio event loop: yields established [`Channel`]s, which the caller may
/// hand to another runtime and wrap there in an [`AsyncRdmaStream`].
pub struct RdmaListener {
    events: EventSource,
    listener: Box<dyn Listener>,
    config: ChannelConfig,
}

impl RdmaListener {
    /// Listens on `addr` through `provider`; must be called inside a runtime.
    pub fn bind(
        provider: &dyn Provider,
        addr: SocketAddr,
        config: ChannelConfig,
    ) -> io::Result<Self> {
        config.validate()?;
        let listener = provider.listen(addr).map_err(ChannelError::from)?;
        let events = EventSource::register(listener.event_fd())?;
        Ok(Self {
            events,
            listener,
            config,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// The next connection. A request whose setup fails (out of memory to register, the
    /// client gone) is logged and skipped.
    pub async fn accept(&self) -> Channel {
        std::future::poll_fn(|cx| loop {
            match Channel::accept(&*self.listener, self.config) {
                Ok(Some(channel)) => return Poll::Ready(channel),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(%err, "an RDMA connection request could not be accepted");
                    continue;
                }
            }
            match ready!(self.events.poll_fired(cx, || self.listener.ack_events())) {
                Ok(()) => {}
                Err(err) => {
                    tracing::error!(%err, "the RDMA listener's event channel failed");
                    return Poll::Pending;
                }
            }
        })
        .await
    }
}
