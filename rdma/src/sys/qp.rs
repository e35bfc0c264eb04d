//! One NIC connection's verbs objects: protection domain, memory regions, one completion queue
//! (for sends and receives) with its completion channel, and the RC queue pair.
//!
//! The [`QueuePair`] trait's single event descriptor is an epoll instance holding the
//! completion channel's descriptor and the connection's `rdma_cm` channel's: readable when a
//! completion or a connection event waits. [`QueuePair::ack_events`] takes both — CQ events
//! are acknowledged and the CQ re-armed (`ibv_req_notify_cq`), connection events move the
//! state — and the transport then polls the CQ, so a completion that arrived between the last
//! poll and the re-arm is seen by that poll.
//!
//! Memory regions are page-aligned heap buffers registered with `ibv_reg_mr`; the CPU reads
//! and writes them only through copies at offsets, at ranges the transport's protocol keeps
//! away from the NIC (ring space the peer was not granted, staging bytes already completed).

use std::alloc::Layout;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::{Arc, Mutex};

use rdma_sys::{
    ibv_access_flags, ibv_comp_channel, ibv_cq, ibv_mr, ibv_pd, ibv_qp_cap, ibv_qp_init_attr,
    ibv_qp_type, ibv_recv_wr, ibv_send_flags, ibv_send_wr, ibv_sge, ibv_wc, ibv_wc_flags,
    ibv_wc_opcode, ibv_wc_status, ibv_wr_opcode, rdma_cm_event_type, rdma_cm_id,
};

use super::cm::{set_nonblocking, CmId, EventChannel};
use super::{check, os_error};
use crate::verbs::{
    Access, Completion, MemoryRegion, QpParams, QpState, QueuePair, RecvWr, SendOp, SendWr,
    VerbsError, WcOpcode, WcStatus,
};

const PAGE: usize = 4096;
/// Completions taken per `ibv_poll_cq` call.
const POLL_CHUNK: usize = 32;

/// A registered, page-aligned buffer.
struct NicRegion {
    buf: *mut u8,
    layout: Layout,
    len: usize,
    lkey: u32,
    rkey: u32,
}

// SAFETY: the buffer is owned by the region and freed only on drop (its `ibv_mr` handle is
// kept by the queue pair, which deregisters it).
unsafe impl Send for NicRegion {}
// SAFETY: shared access goes through `write`/`read`, which copy at caller-chosen offsets; the
// transport never lets two parties (CPU or NIC) touch one range at once.
unsafe impl Sync for NicRegion {}

impl MemoryRegion for NicRegion {
    fn addr(&self) -> u64 {
        self.buf as u64
    }
    fn len(&self) -> usize {
        self.len
    }
    fn lkey(&self) -> u32 {
        self.lkey
    }
    fn rkey(&self) -> u32 {
        self.rkey
    }
    fn write(&self, offset: usize, bytes: &[u8]) -> bool {
        if offset
            .checked_add(bytes.len())
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: the range is inside the buffer (checked above) and does not overlap `bytes`,
        // which the caller owns; no reference to the buffer exists (see the Sync note).
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.buf.add(offset), bytes.len()) };
        true
    }
    fn read(&self, offset: usize, out: &mut [u8]) -> bool {
        if offset
            .checked_add(out.len())
            .is_none_or(|end| end > self.len)
        {
            return false;
        }
        // SAFETY: as in `write`, in the other direction.
        unsafe { ptr::copy_nonoverlapping(self.buf.add(offset), out.as_mut_ptr(), out.len()) };
        true
    }
}

impl Drop for NicRegion {
    fn drop(&mut self) {
        // SAFETY: allocated in `NicQp::register` with this layout, freed once; the region was
        // deregistered (or its queue pair and domain destroyed) before its last handle went.
        unsafe { std::alloc::dealloc(self.buf, self.layout) };
    }
}

/// Raw verbs objects of one connection.
struct Objects {
    pd: *mut ibv_pd,
    comp: *mut ibv_comp_channel,
    cq: *mut ibv_cq,
}

/// A NIC queue pair with its domain, completion queue and connection id.
pub(super) struct NicQp {
    objects: Objects,
    // Drop order below: the id (and its queue pair) before the channel.
    id: CmId,
    cm: EventChannel,
    epoll: OwnedFd,
    state: Mutex<QpState>,
    regions: Mutex<HashMap<u32, usize>>,
    peer: Option<SocketAddr>,
}

// SAFETY: the verbs objects are thread-safe per libibverbs (posting, polling and event calls
// may come from any thread); mutable state of our own is behind mutexes.
unsafe impl Send for NicQp {}
// SAFETY: as above.
unsafe impl Sync for NicQp {}

impl NicQp {
    /// Creates the domain, completion channel and queue, and the RC queue pair on `id`.
    pub(super) fn create(
        id: CmId,
        cm: EventChannel,
        params: QpParams,
        peer: Option<SocketAddr>,
    ) -> Result<Self, VerbsError> {
        // SAFETY: the id was resolved or came from a connect request: its verbs context is set.
        let context = unsafe { (*id.0).verbs };
        // SAFETY: a live device context.
        let pd = unsafe { rdma_sys::ibv_alloc_pd(context) };
        if pd.is_null() {
            return Err(os_error("ibv_alloc_pd"));
        }
        let mut objects = Objects {
            pd,
            comp: ptr::null_mut(),
            cq: ptr::null_mut(),
        };
        let built = (|| {
            // SAFETY: a live device context.
            objects.comp = unsafe { rdma_sys::ibv_create_comp_channel(context) };
            if objects.comp.is_null() {
                return Err(os_error("ibv_create_comp_channel"));
            }
            let depth = (params.sq_depth + params.rq_depth) as i32;
            // SAFETY: a live context and completion channel; no CQ context.
            objects.cq = unsafe {
                rdma_sys::ibv_create_cq(context, depth, ptr::null_mut(), objects.comp, 0)
            };
            if objects.cq.is_null() {
                return Err(os_error("ibv_create_cq"));
            }
            // SAFETY: a live CQ; arms it for the first completion.
            check("ibv_req_notify_cq", unsafe {
                rdma_sys::ibv_req_notify_cq(objects.cq, 0)
            })?;
            let mut attr = ibv_qp_init_attr {
                qp_context: ptr::null_mut(),
                send_cq: objects.cq,
                recv_cq: objects.cq,
                srq: ptr::null_mut(),
                cap: ibv_qp_cap {
                    // One more than the transport posts: the drain marker at teardown.
                    max_send_wr: params.sq_depth + 1,
                    max_recv_wr: params.rq_depth,
                    max_send_sge: 1,
                    max_recv_sge: 1,
                    max_inline_data: 0,
                },
                qp_type: ibv_qp_type::IBV_QPT_RC,
                sq_sig_all: 0,
            };
            // SAFETY: a live id, domain and CQ; `attr` outlives the call.
            check("rdma_create_qp", unsafe {
                rdma_sys::rdma_create_qp(id.0, objects.pd, &mut attr)
            })?;
            // SAFETY: the completion channel is live.
            let comp_fd = unsafe { (*objects.comp).fd };
            set_nonblocking(comp_fd, "fcntl(completion channel)")?;
            let epoll = epoll_of(&[comp_fd, cm.fd()])?;
            Ok(epoll)
        })();
        let epoll = match built {
            Ok(epoll) => epoll,
            Err(err) => {
                destroy(&objects, None);
                return Err(err);
            }
        };
        Ok(Self {
            objects,
            id,
            cm,
            epoll,
            state: Mutex::new(QpState::Connecting),
            regions: Mutex::new(HashMap::new()),
            peer,
        })
    }

    pub(super) fn cm_id(&self) -> *mut rdma_cm_id {
        self.id.0
    }

    fn qp(&self) -> *mut rdma_sys::ibv_qp {
        // SAFETY: `rdma_create_qp` set the id's queue pair, which lives as long as `self`.
        unsafe { (*self.id.0).qp }
    }

    fn set_state(&self, to: QpState) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !matches!(*state, QpState::Error | QpState::Disconnected) {
            *state = to;
        }
    }
}

/// An epoll instance watching `fds` for input: one descriptor for two event sources.
fn epoll_of(fds: &[RawFd]) -> Result<OwnedFd, VerbsError> {
    // SAFETY: no pointers; the result is checked.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(os_error("epoll_create1"));
    }
    // SAFETY: a fresh descriptor we own.
    let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
    for &fd in fds {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: live descriptors and a valid event struct.
        if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
            return Err(os_error("epoll_ctl"));
        }
    }
    Ok(epoll)
}

/// Destroys the verbs objects in reverse order of creation (the queue pair first, if made).
fn destroy(objects: &Objects, id: Option<&CmId>) {
    // SAFETY: each object is live (or null, skipped) and destroyed once; the queue pair goes
    // before the CQ it uses, the CQ before its channel, all before the domain.
    unsafe {
        if let Some(id) = id {
            if !(*id.0).qp.is_null() {
                rdma_sys::rdma_destroy_qp(id.0);
            }
        }
        if !objects.cq.is_null() {
            rdma_sys::ibv_destroy_cq(objects.cq);
        }
        if !objects.comp.is_null() {
            rdma_sys::ibv_destroy_comp_channel(objects.comp);
        }
        rdma_sys::ibv_dealloc_pd(objects.pd);
    }
}

fn access_flags(access: Access) -> i32 {
    let mut flags = 0;
    if access.contains(Access::LOCAL_WRITE) {
        flags |= ibv_access_flags::IBV_ACCESS_LOCAL_WRITE.0;
    }
    if access.contains(Access::REMOTE_WRITE) {
        flags |= ibv_access_flags::IBV_ACCESS_REMOTE_WRITE.0;
    }
    if access.contains(Access::REMOTE_READ) {
        flags |= ibv_access_flags::IBV_ACCESS_REMOTE_READ.0;
    }
    flags as i32
}

fn status(status: ibv_wc_status::Type) -> WcStatus {
    match status {
        ibv_wc_status::IBV_WC_SUCCESS => WcStatus::Success,
        ibv_wc_status::IBV_WC_LOC_LEN_ERR => WcStatus::LocalLength,
        ibv_wc_status::IBV_WC_LOC_PROT_ERR => WcStatus::LocalProtection,
        ibv_wc_status::IBV_WC_REM_ACCESS_ERR => WcStatus::RemoteAccess,
        ibv_wc_status::IBV_WC_REM_INV_REQ_ERR => WcStatus::RemoteInvalidRequest,
        ibv_wc_status::IBV_WC_RNR_RETRY_EXC_ERR => WcStatus::RnrRetryExceeded,
        ibv_wc_status::IBV_WC_WR_FLUSH_ERR => WcStatus::WrFlush,
        // Every other failure is as fatal to the connection; the transport tells them apart
        // only by flush or not.
        _ => WcStatus::RemoteInvalidRequest,
    }
}

impl QueuePair for NicQp {
    fn register(&self, len: usize, access: Access) -> Result<Arc<dyn MemoryRegion>, VerbsError> {
        let layout =
            Layout::from_size_align(len.max(1).next_multiple_of(PAGE), PAGE).map_err(|_| {
                VerbsError::Os {
                    call: "register",
                    errno: libc::EINVAL,
                }
            })?;
        // SAFETY: a non-zero size.
        let buf = unsafe { std::alloc::alloc_zeroed(layout) };
        if buf.is_null() {
            return Err(VerbsError::Os {
                call: "register",
                errno: libc::ENOMEM,
            });
        }
        // SAFETY: a live domain and a buffer of at least `len` bytes that outlives the region.
        let mr =
            unsafe { rdma_sys::ibv_reg_mr(self.objects.pd, buf.cast(), len, access_flags(access)) };
        if mr.is_null() {
            let err = os_error("ibv_reg_mr");
            // SAFETY: allocated above with this layout, never registered.
            unsafe { std::alloc::dealloc(buf, layout) };
            return Err(err);
        }
        // SAFETY: a registered region's keys are set by `ibv_reg_mr`.
        let (lkey, rkey) = unsafe { ((*mr).lkey, (*mr).rkey) };
        self.regions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(lkey, mr as usize);
        Ok(Arc::new(NicRegion {
            buf,
            layout,
            len,
            lkey,
            rkey,
        }))
    }

    fn deregister(&self, region: &Arc<dyn MemoryRegion>) -> Result<(), VerbsError> {
        let lkey = region.lkey();
        let Some(mr) = self
            .regions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&lkey)
        else {
            return Err(VerbsError::UnknownRegion(lkey));
        };
        // SAFETY: a region registered here, deregistered once; the transport deregisters only
        // after every work request naming it completed or was flushed.
        check("ibv_dereg_mr", unsafe {
            rdma_sys::ibv_dereg_mr(mr as *mut ibv_mr)
        })
    }

    fn post_send(&self, wr: SendWr) -> Result<(), VerbsError> {
        let mut sge = ibv_sge {
            addr: wr.sge.addr,
            length: wr.sge.len,
            lkey: wr.sge.lkey,
        };
        // SAFETY: all-zero is a valid `ibv_send_wr` (null pointers, no flags).
        let mut request: ibv_send_wr = unsafe { std::mem::zeroed() };
        request.wr_id = wr.wr_id;
        request.sg_list = &mut sge;
        request.num_sge = i32::from(wr.sge.len > 0);
        request.send_flags = if wr.signaled {
            ibv_send_flags::IBV_SEND_SIGNALED.0
        } else {
            0
        };
        match wr.op {
            SendOp::Send => request.opcode = ibv_wr_opcode::IBV_WR_SEND,
            SendOp::WriteWithImm {
                remote_addr,
                rkey,
                imm,
            } => {
                request.opcode = ibv_wr_opcode::IBV_WR_RDMA_WRITE_WITH_IMM;
                request.imm_data_invalidated_rkey_union.imm_data = imm.to_be();
                request.wr.rdma.remote_addr = remote_addr;
                request.wr.rdma.rkey = rkey;
            }
        }
        let mut bad = ptr::null_mut();
        // SAFETY: a live queue pair; `request` and `sge` outlive the call (the NIC copies the
        // descriptor when posting); the buffer named by `sge` is registered.
        let ret = unsafe { rdma_sys::ibv_post_send(self.qp(), &mut request, &mut bad) };
        match ret {
            0 => Ok(()),
            libc::ENOMEM => Err(VerbsError::SendQueueFull(0)),
            errno => Err(VerbsError::Os {
                call: "ibv_post_send",
                errno,
            }),
        }
    }

    fn post_recv(&self, wr: RecvWr) -> Result<(), VerbsError> {
        let mut sge = wr.sge.map(|sge| ibv_sge {
            addr: sge.addr,
            length: sge.len,
            lkey: sge.lkey,
        });
        let mut request = ibv_recv_wr {
            wr_id: wr.wr_id,
            next: ptr::null_mut(),
            sg_list: sge.as_mut().map_or(ptr::null_mut(), |s| s as *mut ibv_sge),
            num_sge: i32::from(sge.is_some()),
        };
        let mut bad = ptr::null_mut();
        // SAFETY: as in `post_send`.
        let ret = unsafe { rdma_sys::ibv_post_recv(self.qp(), &mut request, &mut bad) };
        match ret {
            0 => Ok(()),
            libc::ENOMEM => Err(VerbsError::RecvQueueFull(0)),
            errno => Err(VerbsError::Os {
                call: "ibv_post_recv",
                errno,
            }),
        }
    }

    fn poll_cq(&self, out: &mut Vec<Completion>, max: usize) -> usize {
        let mut taken = 0;
        while taken < max {
            // SAFETY: all-zero is a valid `ibv_wc`.
            let mut entries: [ibv_wc; POLL_CHUNK] = unsafe { std::mem::zeroed() };
            let want = (max - taken).min(POLL_CHUNK) as i32;
            // SAFETY: a live CQ and room for `want` entries.
            let n = unsafe { rdma_sys::ibv_poll_cq(self.objects.cq, want, entries.as_mut_ptr()) };
            if n <= 0 {
                break;
            }
            for wc in &entries[..n as usize] {
                let with_imm = wc.wc_flags & ibv_wc_flags::IBV_WC_WITH_IMM.0 != 0;
                let completion = Completion {
                    wr_id: wc.wr_id,
                    status: status(wc.status),
                    opcode: match wc.opcode {
                        ibv_wc_opcode::IBV_WC_SEND => WcOpcode::Send,
                        ibv_wc_opcode::IBV_WC_RDMA_WRITE => WcOpcode::RdmaWrite,
                        ibv_wc_opcode::IBV_WC_RECV_RDMA_WITH_IMM => WcOpcode::RecvRdmaWithImm,
                        _ => WcOpcode::Recv,
                    },
                    byte_len: wc.byte_len,
                    // SAFETY: the union holds the immediate when the flag says so.
                    imm: with_imm.then(|| {
                        u32::from_be(unsafe { wc.imm_data_invalidated_rkey_union.imm_data })
                    }),
                };
                if !matches!(completion.status, WcStatus::Success | WcStatus::WrFlush) {
                    self.set_state(QpState::Error);
                }
                out.push(completion);
            }
            taken += n as usize;
        }
        taken
    }

    fn state(&self) -> QpState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn event_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    fn ack_events(&self) {
        let mut events = 0;
        loop {
            let mut cq = ptr::null_mut();
            let mut context = ptr::null_mut();
            // SAFETY: a live, non-blocking completion channel and valid out-pointers.
            if unsafe { rdma_sys::ibv_get_cq_event(self.objects.comp, &mut cq, &mut context) } != 0
            {
                break;
            }
            events += 1;
        }
        if events > 0 {
            // SAFETY: acknowledges exactly the events taken above, on their CQ; then re-arms.
            unsafe {
                rdma_sys::ibv_ack_cq_events(self.objects.cq, events);
                rdma_sys::ibv_req_notify_cq(self.objects.cq, 0);
            }
        }
        while let Ok(Some(event)) = self.cm.next_event(|event| event.event) {
            match event {
                rdma_cm_event_type::RDMA_CM_EVENT_ESTABLISHED => self.set_state(QpState::Connected),
                rdma_cm_event_type::RDMA_CM_EVENT_DISCONNECTED
                | rdma_cm_event_type::RDMA_CM_EVENT_REJECTED
                | rdma_cm_event_type::RDMA_CM_EVENT_UNREACHABLE
                | rdma_cm_event_type::RDMA_CM_EVENT_CONNECT_ERROR
                | rdma_cm_event_type::RDMA_CM_EVENT_DEVICE_REMOVAL
                | rdma_cm_event_type::RDMA_CM_EVENT_TIMEWAIT_EXIT => {
                    self.set_state(QpState::Disconnected)
                }
                _ => {}
            }
        }
    }

    fn disconnect(&self) {
        // SAFETY: a live id; disconnecting moves the queue pair to error, which flushes its work.
        unsafe { rdma_sys::rdma_disconnect(self.id.0) };
        self.set_state(QpState::Disconnected);
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

impl Drop for NicQp {
    fn drop(&mut self) {
        let leftover: Vec<usize> = self
            .regions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, mr)| mr)
            .collect();
        if !leftover.is_empty() {
            tracing::error!(
                regions = leftover.len(),
                "NIC queue pair destroyed with memory still registered"
            );
        }
        destroy(&self.objects, Some(&self.id));
        for mr in leftover {
            // SAFETY: the queue pair is gone, so no work names the region any more.
            unsafe { rdma_sys::ibv_dereg_mr(mr as *mut ibv_mr) };
        }
    }
}
