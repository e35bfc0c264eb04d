//! # lzcache-rdma
//!
//! lzcache's RDMA transport. The design follows Valkey's RDMA transport: a reliable-connection
//! queue pair per client carries the unchanged memcached text and meta protocols as a byte
//! stream, each side RDMA-writing (WRITE_WITH_IMM, the immediate carrying the length) into a
//! receive ring the peer registered, with small SEND messages for the handshake and for
//! returning ring space and receive credits. Every command, error line and test of the TCP
//! server applies unchanged, and the server's connection code sees a stream like a socket.
//!
//! Layers, each knowing only the one below:
//!
//! * [`stream`] — the byte stream over a queue pair (ring framing with wrap, credits, registered
//!   buffers whose lifetime follows their completions) and its async adapter for the workers'
//!   event loops;
//! * [`verbs`] — the verbs the stream needs, as a trait;
//! * [`emulated`] — those verbs in process, with a NIC's semantics and its failures, for tests;
//! * `sys` (feature `rdma`) — a NIC's verbs through rdma-sys: today the device probe.
//!
//! One-sided reads of stored values (Pilaf, FaRM) were left out on purpose: they would expose the
//! storage format and bypass expiry, CAS and statistics.

pub mod emulated;
mod reactor;
pub mod stream;
#[cfg(feature = "rdma")]
pub mod sys;
pub mod verbs;

pub use emulated::Fabric;
pub use stream::{
    AsyncRdmaStream, BlockingRdmaStream, Channel, ChannelConfig, ChannelCounters, ChannelError,
    RdmaListener,
};
pub use verbs::{Provider, QueuePair};

/// The provider of this machine's RDMA NICs, in builds with the `rdma` feature; `None` in
/// builds without it.
pub fn nic_provider() -> Option<std::sync::Arc<dyn Provider>> {
    #[cfg(feature = "rdma")]
    return Some(std::sync::Arc::new(sys::NicVerbs));
    #[cfg(not(feature = "rdma"))]
    None
}
