//! `rdma_cm` for the NIC verbs: an event channel and an id per listener and per connection.
//!
//! A listener's channel is non-blocking and its descriptor is what the server's event loop
//! waits on. An accepted connection's id is moved to a channel of its own (`rdma_migrate_id`)
//! so that its established and disconnected events reach its queue pair, not the listener.
//! A client resolves address and route with blocking waits (bounded by the resolution
//! timeouts), then connects; its channel turns non-blocking once the connection request is out.

use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, RawFd};
use std::ptr;
use std::sync::Arc;

use rdma_sys::{
    rdma_cm_event, rdma_cm_event_type, rdma_cm_id, rdma_conn_param, rdma_event_channel,
    rdma_port_space,
};

use super::qp::NicQp;
use super::{check, os_error};
use crate::verbs::{Listener, Prepare, QpParams, QueuePair, VerbsError};

/// How long address and route resolution may take.
const RESOLVE_TIMEOUT_MS: i32 = 2000;
const LISTEN_BACKLOG: i32 = 128;

/// An owned `rdma_event_channel`.
pub(super) struct EventChannel(*mut rdma_event_channel);

// SAFETY: an event channel is a file descriptor with a small struct around it; librdmacm's
// calls on it may come from any thread, and this crate serialises them per owner.
unsafe impl Send for EventChannel {}
// SAFETY: as above; shared references only read its descriptor.
unsafe impl Sync for EventChannel {}

impl EventChannel {
    pub(super) fn new() -> Result<Self, VerbsError> {
        // SAFETY: no arguments; the result is checked for null.
        let channel = unsafe { rdma_sys::rdma_create_event_channel() };
        if channel.is_null() {
            return Err(os_error("rdma_create_event_channel"));
        }
        Ok(Self(channel))
    }

    pub(super) fn raw(&self) -> *mut rdma_event_channel {
        self.0
    }

    pub(super) fn fd(&self) -> RawFd {
        // SAFETY: the channel is live for as long as `self`.
        unsafe { (*self.0).fd }
    }

    pub(super) fn borrowed_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor stays open until `self` is dropped, which outlives the borrow.
        unsafe { BorrowedFd::borrow_raw(self.fd()) }
    }

    pub(super) fn set_nonblocking(&self) -> Result<(), VerbsError> {
        set_nonblocking(self.fd(), "fcntl(rdma event channel)")
    }

    /// The next event, acknowledged after `handle` looked at it; `None` when none waits (on a
    /// non-blocking channel).
    pub(super) fn next_event<T>(
        &self,
        handle: impl FnOnce(&rdma_cm_event) -> T,
    ) -> Result<Option<T>, VerbsError> {
        let mut event: *mut rdma_cm_event = ptr::null_mut();
        // SAFETY: `event` is a valid out-pointer; the channel is live.
        if unsafe { rdma_sys::rdma_get_cm_event(self.0, &mut event) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(os_error("rdma_get_cm_event"));
        }
        // SAFETY: on success `event` points to an event owned by us until it is acknowledged.
        let result = handle(unsafe { &*event });
        // SAFETY: acknowledged once, after its last use.
        check("rdma_ack_cm_event", unsafe {
            rdma_sys::rdma_ack_cm_event(event)
        })?;
        Ok(Some(result))
    }
}

impl Drop for EventChannel {
    fn drop(&mut self) {
        // SAFETY: every id on this channel was destroyed before (owners drop ids first).
        unsafe { rdma_sys::rdma_destroy_event_channel(self.0) };
    }
}

pub(super) fn set_nonblocking(fd: RawFd, call: &'static str) -> Result<(), VerbsError> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(os_error(call));
    }
    Ok(())
}

/// A socket address in the layout `rdma_bind_addr` and `rdma_resolve_addr` read.
fn sockaddr(addr: SocketAddr) -> libc::sockaddr_storage {
    // SAFETY: all-zero is a valid `sockaddr_storage`.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: a `sockaddr_in` fits in a `sockaddr_storage`, which is aligned for it.
            unsafe { ptr::write(ptr::addr_of_mut!(storage).cast(), sin) };
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: as above, for `sockaddr_in6`.
            unsafe { ptr::write(ptr::addr_of_mut!(storage).cast(), sin6) };
        }
    }
    storage
}

/// An owned `rdma_cm_id` (destroyed after its queue pair, before its channel).
pub(super) struct CmId(pub(super) *mut rdma_cm_id);

// SAFETY: librdmacm allows calls on an id from any thread; its owner serialises them.
unsafe impl Send for CmId {}
// SAFETY: shared references only read the id's fields set at creation (verbs context).
unsafe impl Sync for CmId {}

impl CmId {
    fn new(channel: &EventChannel) -> Result<Self, VerbsError> {
        let mut id = ptr::null_mut();
        // SAFETY: a live channel, a valid out-pointer, no context; TCP port space for RC.
        let ret = unsafe {
            rdma_sys::rdma_create_id(
                channel.raw(),
                &mut id,
                ptr::null_mut(),
                rdma_port_space::RDMA_PS_TCP,
            )
        };
        check("rdma_create_id", ret)?;
        Ok(Self(id))
    }
}

impl Drop for CmId {
    fn drop(&mut self) {
        // SAFETY: its queue pair (if any) was destroyed first and its events were acknowledged.
        unsafe { rdma_sys::rdma_destroy_id(self.0) };
    }
}

/// The connection parameters both sides send: no RDMA reads, the queue pair's RNR policy.
fn conn_param(params: QpParams) -> rdma_conn_param {
    rdma_conn_param {
        private_data: ptr::null(),
        private_data_len: 0,
        responder_resources: 0,
        initiator_depth: 0,
        flow_control: 1,
        retry_count: 7,
        rnr_retry_count: params.rnr_retry.min(7),
        srq: 0,
        qp_num: 0,
    }
}

pub(super) struct NicListener {
    // Field order is drop order: the id before its channel. Kept for its lifetime: the id is
    // what listens.
    _listen_id: CmId,
    channel: EventChannel,
    addr: SocketAddr,
}

impl NicListener {
    pub(super) fn bind(addr: SocketAddr) -> Result<Self, VerbsError> {
        let channel = EventChannel::new()?;
        let id = CmId::new(&channel)?;
        let mut storage = sockaddr(addr);
        // SAFETY: a live id and an address of the right family in valid storage.
        check("rdma_bind_addr", unsafe {
            rdma_sys::rdma_bind_addr(id.0, ptr::addr_of_mut!(storage).cast())
        })?;
        // SAFETY: a bound id.
        check("rdma_listen", unsafe {
            rdma_sys::rdma_listen(id.0, LISTEN_BACKLOG)
        })?;
        channel.set_nonblocking()?;
        Ok(Self {
            _listen_id: id,
            channel,
            addr,
        })
    }
}

impl Listener for NicListener {
    fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn event_fd(&self) -> BorrowedFd<'_> {
        self.channel.borrowed_fd()
    }

    fn ack_events(&self) {
        // Events are taken one by one in `accept`; nothing to drain here.
    }

    fn accept(
        &self,
        params: QpParams,
        prepare: Prepare<'_>,
    ) -> Result<Option<Arc<dyn QueuePair>>, VerbsError> {
        loop {
            let request = self.channel.next_event(|event| {
                (event.event == rdma_cm_event_type::RDMA_CM_EVENT_CONNECT_REQUEST)
                    .then_some(event.id)
            })?;
            let id = match request {
                None => return Ok(None),
                // Other events of the listening id (address change, device removal): skipped.
                Some(None) => continue,
                Some(Some(id)) => CmId(id),
            };
            let channel = EventChannel::new()?;
            // SAFETY: the request's id is ours (its event was acknowledged) and the channel live.
            check("rdma_migrate_id", unsafe {
                rdma_sys::rdma_migrate_id(id.0, channel.raw())
            })?;
            channel.set_nonblocking()?;
            let qp = Arc::new(NicQp::create(id, channel, params, None)?);
            let handle: Arc<dyn QueuePair> = qp.clone();
            prepare(&handle)?;
            let mut param = conn_param(params);
            // SAFETY: a connect-request id with its queue pair created; `param` outlives the call.
            check("rdma_accept", unsafe {
                rdma_sys::rdma_accept(qp.cm_id(), &mut param)
            })?;
            return Ok(Some(handle));
        }
    }
}

/// Waits (blocking) for the next event of a client's channel and checks it is `expected`.
fn expect_event(
    channel: &EventChannel,
    expected: rdma_cm_event_type::Type,
    call: &'static str,
) -> Result<(), VerbsError> {
    let (event, status) = channel
        .next_event(|event| (event.event, event.status))?
        .ok_or(VerbsError::Os {
            call,
            errno: libc::EAGAIN,
        })?;
    if event == expected {
        return Ok(());
    }
    // An error event carries the reason as a negative errno; without one, the peer is
    // unreachable as far as this call can tell.
    let errno = if status != 0 {
        status.abs()
    } else {
        libc::EHOSTUNREACH
    };
    Err(VerbsError::Os { call, errno })
}

/// Resolves `addr`, creates the queue pair, lets `prepare` post its receives, and sends the
/// connection request; the queue pair reports `Connected` once the peer accepted.
pub(super) fn connect(
    addr: SocketAddr,
    params: QpParams,
    prepare: Prepare<'_>,
) -> Result<Arc<dyn QueuePair>, VerbsError> {
    let channel = EventChannel::new()?;
    let id = CmId::new(&channel)?;
    let mut storage = sockaddr(addr);
    // SAFETY: a live id, no source address, a destination in valid storage.
    check("rdma_resolve_addr", unsafe {
        rdma_sys::rdma_resolve_addr(
            id.0,
            ptr::null_mut(),
            ptr::addr_of_mut!(storage).cast(),
            RESOLVE_TIMEOUT_MS,
        )
    })?;
    expect_event(
        &channel,
        rdma_cm_event_type::RDMA_CM_EVENT_ADDR_RESOLVED,
        "rdma_resolve_addr",
    )?;
    // SAFETY: an id whose address resolved.
    check("rdma_resolve_route", unsafe {
        rdma_sys::rdma_resolve_route(id.0, RESOLVE_TIMEOUT_MS)
    })?;
    expect_event(
        &channel,
        rdma_cm_event_type::RDMA_CM_EVENT_ROUTE_RESOLVED,
        "rdma_resolve_route",
    )?;
    channel.set_nonblocking()?;
    let qp = Arc::new(NicQp::create(id, channel, params, Some(addr))?);
    let handle: Arc<dyn QueuePair> = qp.clone();
    prepare(&handle)?;
    let mut param = conn_param(params);
    // SAFETY: an id with its route resolved and queue pair created; `param` outlives the call.
    check("rdma_connect", unsafe {
        rdma_sys::rdma_connect(qp.cm_id(), &mut param)
    })?;
    Ok(handle)
}
