//! The verbs the transport needs, as a trait: what `ibv_*` and `rdma_cm` give an RC connection,
//! cut down to the calls the stream uses, so that a NIC's verbs and the emulated ones are
//! interchangeable and everything above this file can be tested on a machine without RDMA.
//!
//! The shapes follow libibverbs: memory regions with local and remote keys and access flags,
//! work requests with a 64-bit `wr_id` and a scatter entry, completions with a status, queue
//! pairs whose send and receive queues have fixed depths, and a completion channel that is a
//! file descriptor — readable when completions or connection events wait — so an event loop
//! waits on it like on a socket.

use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

/// Access rights of a memory region (`IBV_ACCESS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access(u32);

impl Access {
    /// The NIC may write it locally (receives land in it).
    pub const LOCAL_WRITE: Access = Access(1);
    /// A peer may RDMA-write it.
    pub const REMOTE_WRITE: Access = Access(2);
    /// A peer may RDMA-read it.
    pub const REMOTE_READ: Access = Access(4);
    pub const NONE: Access = Access(0);

    pub fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn bits(self) -> u32 {
        self.0
    }
}

impl std::ops::BitOr for Access {
    type Output = Access;
    fn bitor(self, rhs: Access) -> Access {
        Access(self.0 | rhs.0)
    }
}

/// Registered memory: what the NIC may read and write without the CPU. The CPU side reads and
/// writes it through copies at offsets, so the owner never holds a reference the NIC could
/// write under.
pub trait MemoryRegion: Send + Sync {
    /// The address work requests name it by (a virtual address on a NIC).
    fn addr(&self) -> u64;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn lkey(&self) -> u32;
    fn rkey(&self) -> u32;
    /// Copies `bytes` in at `offset`; false when the range is outside the region.
    fn write(&self, offset: usize, bytes: &[u8]) -> bool;
    /// Copies out from `offset` into `out`; false when the range is outside the region.
    fn read(&self, offset: usize, out: &mut [u8]) -> bool;
}

/// One scatter/gather entry: `len` bytes at `addr` of the region whose local key is `lkey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sge {
    pub addr: u64,
    pub len: u32,
    pub lkey: u32,
}

/// What a send-queue work request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOp {
    /// Consumes one of the peer's posted receives and lands in its buffer.
    Send,
    /// Writes into the peer's region (`rkey`, at `remote_addr`) and consumes one of its
    /// posted receives, whose completion carries `imm`.
    WriteWithImm {
        remote_addr: u64,
        rkey: u32,
        imm: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWr {
    pub wr_id: u64,
    pub sge: Sge,
    pub op: SendOp,
    /// Whether it completes with a completion entry; an unsignalled request's send-queue slot
    /// is given back when a later signalled one completes (as on a NIC).
    pub signaled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvWr {
    pub wr_id: u64,
    /// Where a SEND lands; a WRITE_WITH_IMM lands in the written region and needs none.
    pub sge: Option<Sge>,
}

/// `ibv_wc_status`, the cases the transport tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WcStatus {
    Success,
    /// A SEND longer than the receive buffer it landed in.
    LocalLength,
    /// A local scatter entry outside its region, or a key that is not registered.
    LocalProtection,
    /// The peer's region, key or access flags refused an RDMA write.
    RemoteAccess,
    /// The peer's receive was too short for a SEND.
    RemoteInvalidRequest,
    /// The peer had no receive posted, through every retry.
    RnrRetryExceeded,
    /// Flushed: the queue pair was in error or disconnected when the request's turn came.
    WrFlush,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WcOpcode {
    Send,
    RdmaWrite,
    Recv,
    RecvRdmaWithImm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    pub wr_id: u64,
    pub status: WcStatus,
    pub opcode: WcOpcode,
    pub byte_len: u32,
    pub imm: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QpState {
    /// Created and connecting: receives may be posted, sends wait.
    Connecting,
    Connected,
    /// A work request failed; everything outstanding was flushed.
    Error,
    /// Either side disconnected; everything outstanding was flushed.
    Disconnected,
}

/// Queue depths and retry policy of a queue pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QpParams {
    pub sq_depth: u32,
    pub rq_depth: u32,
    /// Retries when the peer has no receive posted; 7 means without end (as in the spec).
    pub rnr_retry: u8,
}

/// Errors of the verbs calls themselves (a failed work request is a [`Completion`] instead).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VerbsError {
    #[error("no RDMA device: {0}")]
    NoDevice(String),
    #[error("address in use: {0}")]
    AddrInUse(SocketAddr),
    #[error("connection refused by {0}")]
    ConnectionRefused(SocketAddr),
    #[error("the send queue is full ({0} work requests outstanding)")]
    SendQueueFull(u32),
    #[error("the receive queue is full ({0} receives posted)")]
    RecvQueueFull(u32),
    #[error("the queue pair is not connected ({0:?})")]
    NotConnected(QpState),
    #[error("memory region with lkey {0:#x} still has work outstanding")]
    RegionBusy(u32),
    #[error("memory region with lkey {0:#x} is not registered here")]
    UnknownRegion(u32),
    #[error("{call} failed: errno {errno}")]
    Os { call: &'static str, errno: i32 },
}

/// A connected (or connecting) reliable-connection queue pair, with its protection domain
/// and completion queue: one per transport connection.
pub trait QueuePair: Send + Sync {
    /// Registers `len` bytes of zeroed memory with `access` in this connection's domain.
    fn register(&self, len: usize, access: Access) -> Result<Arc<dyn MemoryRegion>, VerbsError>;
    /// Deregisters a region; refused while a posted work request still names it.
    fn deregister(&self, region: &Arc<dyn MemoryRegion>) -> Result<(), VerbsError>;
    fn post_send(&self, wr: SendWr) -> Result<(), VerbsError>;
    fn post_recv(&self, wr: RecvWr) -> Result<(), VerbsError>;
    /// Moves up to `max` completions into `out`; returns how many.
    fn poll_cq(&self, out: &mut Vec<Completion>, max: usize) -> usize;
    fn state(&self) -> QpState;
    /// The completion channel: readable when completions or a state change wait.
    fn event_fd(&self) -> BorrowedFd<'_>;
    /// Consumes the channel's pending events (so it blocks again until the next).
    fn ack_events(&self);
    /// Ends the connection: both sides see `Disconnected`, outstanding work is flushed.
    fn disconnect(&self);
    fn peer_addr(&self) -> Option<SocketAddr>;
}

/// Called with a new queue pair before the connection is established, so receives are posted
/// before the peer can send (as between `rdma_create_qp` and `rdma_accept`/`rdma_connect`).
pub type Prepare<'a> = &'a mut dyn FnMut(&Arc<dyn QueuePair>) -> Result<(), VerbsError>;

/// A listening endpoint (`rdma_listen` on an `rdma_cm` id).
pub trait Listener: Send + Sync {
    fn local_addr(&self) -> SocketAddr;
    /// Readable when connection requests wait.
    fn event_fd(&self) -> BorrowedFd<'_>;
    fn ack_events(&self);
    /// Accepts the next waiting request, if any: creates its queue pair, calls `prepare`,
    /// then establishes it.
    fn accept(
        &self,
        params: QpParams,
        prepare: Prepare<'_>,
    ) -> Result<Option<Arc<dyn QueuePair>>, VerbsError>;
}

/// Where connections come from: a NIC's verbs or the emulated fabric.
pub trait Provider: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    fn listen(&self, addr: SocketAddr) -> Result<Box<dyn Listener>, VerbsError>;
    /// Creates a queue pair, calls `prepare`, and sends a connection request to `addr`; the
    /// queue pair reports `Connected` (or `Disconnected` if refused) on its channel.
    fn connect(
        &self,
        addr: SocketAddr,
        params: QpParams,
        prepare: Prepare<'_>,
    ) -> Result<Arc<dyn QueuePair>, VerbsError>;
}
