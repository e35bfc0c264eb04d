//! Emulated verbs: an in-process fabric with the semantics of reliable-connection queue pairs,
//! so the transport and the server above it are tested here, where there is no NIC and no
//! RDMA stack in the kernel.
//!
//! What it models, and how:
//!
//! * **Memory regions** with a local and a remote key, bounds and access flags; every posted
//!   work request pins the regions it names, and deregistering a pinned region is refused.
//!   Regions left registered when their queue pair goes away stay counted
//!   ([`Fabric::registered_regions`]), so a test sees a leak.
//! * **RC queue pairs** connected through an address table (listen, connect, accept), with
//!   send- and receive-queue depths; SEND and WRITE_WITH_IMM each consume one posted receive
//!   of the peer, in order.
//! * **The wire**: one thread executes posted sends. Within a queue pair they run in posting
//!   order; across queue pairs the next one is chosen by a seeded generator, so traffic of
//!   different connections interleaves differently per seed (reordering across, never within,
//!   a queue pair); [`Fabric::with_delays`] also holds each send a seeded random time, so a
//!   connection's traffic overtakes another's by more than one message.
//! * **Receiver not ready**: a send that finds no posted receive waits for one, retrying every
//!   [`RNR_TIMER`] up to the queue pair's `rnr_retry` (7: without end), then fails with
//!   `RnrRetryExceeded`.
//! * **Errors**: a bad local key or range, a remote key or range or access the peer refuses,
//!   a SEND longer than the receive — the request completes with its status, the queue pair
//!   goes to `Error`, its peer to `Disconnected`, and all outstanding work of both is flushed
//!   (`WrFlush`), as after a fatal error on a NIC.
//! * **Unsignalled sends** complete without an entry; their send-queue slots come back when a
//!   later signalled send completes.
//! * **Completion channels** are file descriptors (one end of a socket pair), readable while
//!   events wait, so the transport's event loop is the same as with a NIC.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

use crate::verbs::{
    Access, Completion, Listener, MemoryRegion, Prepare, Provider, QpParams, QpState, QueuePair,
    RecvWr, SendOp, SendWr, VerbsError, WcOpcode, WcStatus,
};

/// How long a send waits between retries when the peer has no receive posted.
pub const RNR_TIMER: Duration = Duration::from_millis(1);

/// `rnr_retry` value meaning "retry without end".
const RNR_INFINITE: u8 = 7;

/// The readable end of a socket pair stands in for a completion channel's descriptor.
struct Notifier {
    tx: UnixStream,
    rx: UnixStream,
}

impl Notifier {
    fn new() -> Self {
        let (tx, rx) = UnixStream::pair().expect("socket pair for a completion channel");
        tx.set_nonblocking(true).expect("non-blocking notifier");
        rx.set_nonblocking(true).expect("non-blocking notifier");
        Self { tx, rx }
    }

    fn notify(&self) {
        // A full pipe already makes the descriptor readable: nothing is lost by ignoring it.
        let _ = (&self.tx).write(&[1]);
    }

    fn drain(&self) {
        let mut sink = [0u8; 64];
        while matches!((&self.rx).read(&mut sink), Ok(n) if n > 0) {}
    }
}

struct Region {
    addr: u64,
    lkey: u32,
    rkey: u32,
    access: Access,
    bytes: Mutex<Vec<u8>>,
}

impl Region {
    fn range(&self, addr: u64, len: u32) -> Option<usize> {
        let offset = addr.checked_sub(self.addr)?;
        let end = offset.checked_add(u64::from(len))?;
        let size = self.bytes.lock().unwrap().len() as u64;
        (end <= size).then_some(offset as usize)
    }
}

impl MemoryRegion for Region {
    fn addr(&self) -> u64 {
        self.addr
    }
    fn len(&self) -> usize {
        self.bytes.lock().unwrap().len()
    }
    fn lkey(&self) -> u32 {
        self.lkey
    }
    fn rkey(&self) -> u32 {
        self.rkey
    }
    fn write(&self, offset: usize, bytes: &[u8]) -> bool {
        let mut memory = self.bytes.lock().unwrap();
        match memory.get_mut(offset..offset.saturating_add(bytes.len())) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
    fn read(&self, offset: usize, out: &mut [u8]) -> bool {
        let memory = self.bytes.lock().unwrap();
        match memory.get(offset..offset.saturating_add(out.len())) {
            Some(src) => {
                out.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
}

struct RegionEntry {
    region: Arc<Region>,
    owner: u64,
    /// Posted work requests naming it.
    pinned: u32,
}

struct QpCore {
    params: QpParams,
    state: QpState,
    peer: Option<u64>,
    peer_addr: Option<SocketAddr>,
    /// Posted sends not yet executed by the wire, in order.
    sends: VecDeque<SendWr>,
    /// Send-queue slots in use: posted and not given back by a signalled completion.
    sq_used: u32,
    /// Executed unsignalled sends whose slots wait for the next signalled completion.
    unsignaled: u32,
    recvs: VecDeque<RecvWr>,
    cq: VecDeque<Completion>,
    /// Retries left and the time of the next one, while the head send waits for a receive.
    rnr: Option<(u8, Instant)>,
    /// When the head send may go, once the wire drew its delay.
    hold: Option<Instant>,
    notifier: Arc<Notifier>,
}

struct PendingListener {
    requests: VecDeque<u64>,
    notifier: Arc<Notifier>,
}

struct State {
    qps: HashMap<u64, QpCore>,
    listeners: HashMap<SocketAddr, PendingListener>,
    regions: HashMap<u32, RegionEntry>,
    next_id: u64,
    next_key: u32,
    next_addr: u64,
    rng: XorShiftRng,
    /// Each send waits a seeded random time up to this before it goes.
    max_delay: Duration,
    stopped: bool,
    work_requests: u64,
    completions: u64,
}

struct Shared {
    state: Mutex<State>,
    wire: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Stops the wire when the last [`Fabric`] handle goes.
struct WireGuard(Arc<Shared>);

impl Drop for WireGuard {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
        self.0.wire.notify_all();
    }
}

/// An in-process RDMA fabric: the address table, the memory regions and the wire.
#[derive(Clone)]
pub struct Fabric {
    shared: Arc<Shared>,
    _wire: Arc<WireGuard>,
}

impl std::fmt::Debug for Fabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("emulated RDMA fabric")
    }
}

impl Fabric {
    /// A fabric whose cross-connection interleaving follows `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_delays(seed, Duration::ZERO)
    }

    /// A fabric that also delays each send by a seeded random time up to `max_delay`, so
    /// connections overtake one another (a queue pair's own sends stay in order).
    pub fn with_delays(seed: u64, max_delay: Duration) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                qps: HashMap::new(),
                listeners: HashMap::new(),
                regions: HashMap::new(),
                next_id: 1,
                next_key: 0x100,
                next_addr: 0x1000_0000,
                rng: XorShiftRng::seed_from_u64(seed),
                max_delay,
                stopped: false,
                work_requests: 0,
                completions: 0,
            }),
            wire: Condvar::new(),
        });
        let wire = shared.clone();
        std::thread::Builder::new()
            .name("rdma-emulated-wire".into())
            .spawn(move || run_wire(&wire))
            .expect("the emulated wire's thread");
        Self {
            _wire: Arc::new(WireGuard(shared.clone())),
            shared,
        }
    }

    /// Regions registered and not deregistered, on every queue pair (live or gone).
    pub fn registered_regions(&self) -> usize {
        self.shared.lock().regions.len()
    }

    /// Bytes of those regions.
    pub fn registered_bytes(&self) -> usize {
        let state = self.shared.lock();
        state.regions.values().map(|e| e.region.len()).sum()
    }

    /// Queue pairs whose handle is still alive.
    pub fn live_queue_pairs(&self) -> usize {
        self.shared.lock().qps.len()
    }

    /// Work requests posted and completion entries produced since the fabric was made.
    pub fn counts(&self) -> (u64, u64) {
        let state = self.shared.lock();
        (state.work_requests, state.completions)
    }

    fn new_qp(&self, params: QpParams) -> Arc<EmulatedQp> {
        let notifier = Arc::new(Notifier::new());
        let mut state = self.shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.qps.insert(
            id,
            QpCore {
                params,
                state: QpState::Connecting,
                peer: None,
                peer_addr: None,
                sends: VecDeque::new(),
                sq_used: 0,
                unsignaled: 0,
                recvs: VecDeque::new(),
                cq: VecDeque::new(),
                rnr: None,
                hold: None,
                notifier: notifier.clone(),
            },
        );
        Arc::new(EmulatedQp {
            shared: self.shared.clone(),
            id,
            notifier,
        })
    }
}

impl Provider for Fabric {
    fn name(&self) -> &'static str {
        "emulated"
    }

    fn listen(&self, addr: SocketAddr) -> Result<Box<dyn Listener>, VerbsError> {
        let notifier = Arc::new(Notifier::new());
        let mut state = self.shared.lock();
        if state.listeners.contains_key(&addr) {
            return Err(VerbsError::AddrInUse(addr));
        }
        state.listeners.insert(
            addr,
            PendingListener {
                requests: VecDeque::new(),
                notifier: notifier.clone(),
            },
        );
        Ok(Box::new(EmulatedListener {
            fabric: self.clone(),
            addr,
            notifier,
        }))
    }

    fn connect(
        &self,
        addr: SocketAddr,
        params: QpParams,
        prepare: Prepare<'_>,
    ) -> Result<Arc<dyn QueuePair>, VerbsError> {
        let qp = self.new_qp(params);
        let handle: Arc<dyn QueuePair> = qp.clone();
        prepare(&handle)?;
        let id = qp.id;
        let mut state = self.shared.lock();
        let Some(listener) = state.listeners.get_mut(&addr) else {
            return Err(VerbsError::ConnectionRefused(addr));
        };
        listener.requests.push_back(id);
        listener.notifier.notify();
        if let Some(core) = state.qps.get_mut(&id) {
            core.peer_addr = Some(addr);
        }
        Ok(handle)
    }
}

struct EmulatedListener {
    fabric: Fabric,
    addr: SocketAddr,
    notifier: Arc<Notifier>,
}

impl Listener for EmulatedListener {
    fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn event_fd(&self) -> BorrowedFd<'_> {
        self.notifier.rx.as_fd()
    }

    fn ack_events(&self) {
        self.notifier.drain();
    }

    fn accept(
        &self,
        params: QpParams,
        prepare: Prepare<'_>,
    ) -> Result<Option<Arc<dyn QueuePair>>, VerbsError> {
        loop {
            let client = {
                let mut state = self.fabric.shared.lock();
                let Some(listener) = state.listeners.get_mut(&self.addr) else {
                    return Ok(None);
                };
                match listener.requests.pop_front() {
                    Some(client) => client,
                    None => return Ok(None),
                }
            };
            let qp = self.fabric.new_qp(params);
            let handle: Arc<dyn QueuePair> = qp.clone();
            prepare(&handle)?;
            let mut state = self.fabric.shared.lock();
            let client_addr = SocketAddr::from(([10, 0, 0, 1], (client % 60000) as u16 + 1024));
            let established = match state.qps.get_mut(&client) {
                Some(core) if core.state == QpState::Connecting => {
                    core.state = QpState::Connected;
                    core.peer = Some(qp.id);
                    core.notifier.notify();
                    true
                }
                _ => false,
            };
            if !established {
                // The client gave up before it was accepted: try the next request.
                continue;
            }
            let core = state.qps.get_mut(&qp.id).expect("the new queue pair");
            core.state = QpState::Connected;
            core.peer = Some(client);
            core.peer_addr = Some(client_addr);
            core.notifier.notify();
            return Ok(Some(handle));
        }
    }
}

impl Drop for EmulatedListener {
    fn drop(&mut self) {
        let mut state = self.fabric.shared.lock();
        if let Some(listener) = state.listeners.remove(&self.addr) {
            for client in listener.requests {
                set_broken(&mut state, client, QpState::Disconnected);
            }
        }
    }
}

/// A queue pair of the emulated fabric. Dropping it destroys the queue pair (the peer sees a
/// disconnect); regions still registered stay counted as leaked.
struct EmulatedQp {
    shared: Arc<Shared>,
    id: u64,
    notifier: Arc<Notifier>,
}

impl EmulatedQp {
    fn with_core<T>(&self, f: impl FnOnce(&mut State, u64) -> T) -> T {
        let mut state = self.shared.lock();
        f(&mut state, self.id)
    }
}

impl QueuePair for EmulatedQp {
    fn register(&self, len: usize, access: Access) -> Result<Arc<dyn MemoryRegion>, VerbsError> {
        self.with_core(|state, id| {
            let key = state.next_key;
            state.next_key += 1;
            let addr = state.next_addr;
            // Page-aligned addresses with a gap, so an off-by-one range names no region.
            state.next_addr += (len as u64).div_ceil(4096) * 4096 + 4096;
            let region = Arc::new(Region {
                addr,
                lkey: key,
                rkey: key ^ 0x4000_0000,
                access,
                bytes: Mutex::new(vec![0u8; len]),
            });
            state.regions.insert(
                key,
                RegionEntry {
                    region: region.clone(),
                    owner: id,
                    pinned: 0,
                },
            );
            Ok(region as Arc<dyn MemoryRegion>)
        })
    }

    fn deregister(&self, region: &Arc<dyn MemoryRegion>) -> Result<(), VerbsError> {
        self.with_core(|state, id| {
            let lkey = region.lkey();
            match state.regions.get(&lkey) {
                Some(entry) if entry.owner == id => {
                    if entry.pinned > 0 {
                        tracing::error!(
                            lkey,
                            pinned = entry.pinned,
                            "deregistering a region with work outstanding"
                        );
                        return Err(VerbsError::RegionBusy(lkey));
                    }
                    state.regions.remove(&lkey);
                    Ok(())
                }
                _ => Err(VerbsError::UnknownRegion(lkey)),
            }
        })
    }

    fn post_send(&self, wr: SendWr) -> Result<(), VerbsError> {
        self.with_core(|state, id| {
            let core = state.qps.get_mut(&id).expect("a live queue pair");
            match core.state {
                QpState::Connecting => return Err(VerbsError::NotConnected(core.state)),
                QpState::Connected => {}
                QpState::Error | QpState::Disconnected => {
                    core.cq.push_back(flushed(wr.wr_id, send_opcode(&wr)));
                    core.notifier.notify();
                    state.work_requests += 1;
                    state.completions += 1;
                    return Ok(());
                }
            }
            if core.sq_used >= core.params.sq_depth {
                return Err(VerbsError::SendQueueFull(core.sq_used));
            }
            core.sq_used += 1;
            core.sends.push_back(wr);
            pin(state, wr.sge.lkey, 1);
            state.work_requests += 1;
            self.shared.wire.notify_one();
            Ok(())
        })
    }

    fn post_recv(&self, wr: RecvWr) -> Result<(), VerbsError> {
        self.with_core(|state, id| {
            let core = state.qps.get_mut(&id).expect("a live queue pair");
            if matches!(core.state, QpState::Error | QpState::Disconnected) {
                core.cq.push_back(flushed(wr.wr_id, WcOpcode::Recv));
                core.notifier.notify();
                state.work_requests += 1;
                state.completions += 1;
                return Ok(());
            }
            if core.recvs.len() as u32 >= core.params.rq_depth {
                return Err(VerbsError::RecvQueueFull(core.recvs.len() as u32));
            }
            core.recvs.push_back(wr);
            let peer = core.peer;
            if let Some(sge) = wr.sge {
                pin(state, sge.lkey, 1);
            }
            state.work_requests += 1;
            // A peer send waiting for a receive may go now.
            if peer
                .and_then(|p| state.qps.get(&p))
                .is_some_and(|p| !p.sends.is_empty())
            {
                self.shared.wire.notify_one();
            }
            Ok(())
        })
    }

    fn poll_cq(&self, out: &mut Vec<Completion>, max: usize) -> usize {
        self.with_core(|state, id| {
            let core = state.qps.get_mut(&id).expect("a live queue pair");
            let n = max.min(core.cq.len());
            out.extend(core.cq.drain(..n));
            n
        })
    }

    fn state(&self) -> QpState {
        self.with_core(|state, id| state.qps[&id].state)
    }

    fn event_fd(&self) -> BorrowedFd<'_> {
        self.notifier.rx.as_fd()
    }

    fn ack_events(&self) {
        self.notifier.drain();
    }

    fn disconnect(&self) {
        self.with_core(|state, id| {
            let peer = state.qps.get(&id).and_then(|core| core.peer);
            set_broken(state, id, QpState::Disconnected);
            if let Some(peer) = peer {
                set_broken(state, peer, QpState::Disconnected);
            }
        });
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.with_core(|state, id| state.qps[&id].peer_addr)
    }
}

impl Drop for EmulatedQp {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        let peer = state.qps.get(&self.id).and_then(|core| core.peer);
        set_broken(&mut state, self.id, QpState::Disconnected);
        if let Some(peer) = peer {
            set_broken(&mut state, peer, QpState::Disconnected);
        }
        state.qps.remove(&self.id);
    }
}

fn send_opcode(wr: &SendWr) -> WcOpcode {
    match wr.op {
        SendOp::Send => WcOpcode::Send,
        SendOp::WriteWithImm { .. } => WcOpcode::RdmaWrite,
    }
}

fn flushed(wr_id: u64, opcode: WcOpcode) -> Completion {
    Completion {
        wr_id,
        status: WcStatus::WrFlush,
        opcode,
        byte_len: 0,
        imm: None,
    }
}

fn pin(state: &mut State, lkey: u32, delta: i32) {
    if let Some(entry) = state.regions.get_mut(&lkey) {
        entry.pinned = entry.pinned.saturating_add_signed(delta);
    }
}

/// Moves a queue pair to `Error` or `Disconnected` (once) and flushes all it has outstanding.
fn set_broken(state: &mut State, id: u64, to: QpState) {
    let Some(core) = state.qps.get_mut(&id) else {
        return;
    };
    if matches!(core.state, QpState::Error | QpState::Disconnected) {
        return;
    }
    core.state = to;
    core.rnr = None;
    let sends: Vec<SendWr> = core.sends.drain(..).collect();
    let recvs: Vec<RecvWr> = core.recvs.drain(..).collect();
    for wr in &sends {
        core.cq.push_back(flushed(wr.wr_id, send_opcode(wr)));
    }
    for wr in &recvs {
        core.cq.push_back(flushed(wr.wr_id, WcOpcode::Recv));
    }
    core.sq_used = 0;
    core.unsignaled = 0;
    core.notifier.notify();
    state.completions += (sends.len() + recvs.len()) as u64;
    for wr in &sends {
        pin(state, wr.sge.lkey, -1);
    }
    for sge in recvs.iter().filter_map(|wr| wr.sge) {
        pin(state, sge.lkey, -1);
    }
}

/// The wire: executes the head send of a queue pair chosen by the seeded generator among those
/// that can make progress, until the fabric is dropped.
fn run_wire(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.stopped {
            return;
        }
        let now = Instant::now();
        let mut ready: Vec<u64> = state
            .qps
            .iter()
            .filter(|(_, core)| {
                core.state == QpState::Connected
                    && !core.sends.is_empty()
                    && core.rnr.is_none_or(|(_, at)| at <= now)
                    && core.hold.is_none_or(|at| at <= now)
            })
            .map(|(&id, _)| id)
            .collect();
        ready.sort_unstable();
        if ready.is_empty() {
            let next_retry = state
                .qps
                .values()
                .filter(|core| !core.sends.is_empty())
                .filter_map(|core| match (core.rnr.map(|(_, at)| at), core.hold) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                })
                .min();
            state = match next_retry {
                Some(at) => {
                    shared
                        .wire
                        .wait_timeout(state, at.saturating_duration_since(now))
                        .unwrap()
                        .0
                }
                None => shared.wire.wait(state).unwrap(),
            };
            continue;
        }
        let pick = ready[(state.rng.next_u32() as usize) % ready.len()];
        if !state.max_delay.is_zero() && state.qps[&pick].hold.is_none() {
            let nanos = state.max_delay.as_nanos() as u64;
            let delay =
                Duration::from_nanos(u64::from(state.rng.next_u32()) * nanos / u64::from(u32::MAX));
            state.qps.get_mut(&pick).expect("a ready queue pair").hold = Some(now + delay);
            continue;
        }
        execute_head(&mut state, pick);
        if let Some(core) = state.qps.get_mut(&pick) {
            // The next send draws its own delay (an RNR wait keeps the current one).
            if core.rnr.is_none() {
                core.hold = None;
            }
        }
    }
}

/// What became of a queue pair's head send.
enum Outcome {
    Done {
        local: Completion,
        remote: Option<Completion>,
    },
    /// The peer had no receive posted.
    NotReady,
    /// Failed: the sender's completion, and whether the peer's receive failed too.
    Failed {
        local: Completion,
        remote: Option<Completion>,
    },
}

fn execute_head(state: &mut State, id: u64) {
    let core = &state.qps[&id];
    let wr = *core.sends.front().expect("a queue pair with a send");
    let Some(peer) = core.peer else {
        set_broken(state, id, QpState::Disconnected);
        return;
    };
    let recv = state.qps.get(&peer).and_then(|p| p.recvs.front().copied());
    let outcome = transfer(state, id, peer, &wr, recv);
    match outcome {
        Outcome::NotReady => {
            let core = state.qps.get_mut(&id).expect("the sender");
            let retry = core.params.rnr_retry;
            let left = match core.rnr {
                None => retry,
                Some((left, _)) => left,
            };
            if retry != RNR_INFINITE && left == 0 {
                core.rnr = None;
                let failed = Completion {
                    wr_id: wr.wr_id,
                    status: WcStatus::RnrRetryExceeded,
                    opcode: send_opcode(&wr),
                    byte_len: 0,
                    imm: None,
                };
                fail(state, id, peer, &wr, failed, None);
            } else {
                let left = if retry == RNR_INFINITE {
                    left
                } else {
                    left - 1
                };
                core.rnr = Some((left, Instant::now() + RNR_TIMER));
            }
        }
        Outcome::Done { local, remote } => {
            let core = state.qps.get_mut(&id).expect("the sender");
            core.sends.pop_front();
            core.rnr = None;
            if wr.signaled {
                core.sq_used -= 1 + core.unsignaled;
                core.unsignaled = 0;
                core.cq.push_back(local);
                core.notifier.notify();
                state.completions += 1;
            } else {
                core.unsignaled += 1;
            }
            pin(state, wr.sge.lkey, -1);
            if let Some(remote) = remote {
                let receiver = state.qps.get_mut(&peer).expect("the receiver");
                let taken = receiver.recvs.pop_front();
                receiver.cq.push_back(remote);
                receiver.notifier.notify();
                state.completions += 1;
                if let Some(sge) = taken.and_then(|r| r.sge) {
                    pin(state, sge.lkey, -1);
                }
            }
        }
        Outcome::Failed { local, remote } => fail(state, id, peer, &wr, local, remote),
    }
}

/// A failed send: its completion (and the peer's failed receive, if any), then both queue
/// pairs broken and flushed.
fn fail(
    state: &mut State,
    id: u64,
    peer: u64,
    wr: &SendWr,
    local: Completion,
    remote: Option<Completion>,
) {
    if let Some(core) = state.qps.get_mut(&id) {
        core.sends.pop_front();
        core.cq.push_back(local);
        state.completions += 1;
    }
    pin(state, wr.sge.lkey, -1);
    if let Some(remote) = remote {
        if let Some(receiver) = state.qps.get_mut(&peer) {
            let taken = receiver.recvs.pop_front();
            receiver.cq.push_back(remote);
            state.completions += 1;
            if let Some(sge) = taken.and_then(|r| r.sge) {
                pin(state, sge.lkey, -1);
            }
        }
    }
    set_broken(state, id, QpState::Error);
    set_broken(state, peer, QpState::Disconnected);
}

/// A send that arrived: the sender's completion and the receive it consumed.
fn delivered(wr: &SendWr, recv_wr_id: u64, opcode: WcOpcode, imm: Option<u32>) -> Outcome {
    Outcome::Done {
        local: Completion {
            wr_id: wr.wr_id,
            status: WcStatus::Success,
            opcode: send_opcode(wr),
            byte_len: wr.sge.len,
            imm: None,
        },
        remote: Some(Completion {
            wr_id: recv_wr_id,
            status: WcStatus::Success,
            opcode,
            byte_len: wr.sge.len,
            imm,
        }),
    }
}

/// Moves the bytes of one send, checking keys, ranges and access as a NIC would.
fn transfer(state: &State, id: u64, peer: u64, wr: &SendWr, recv: Option<RecvWr>) -> Outcome {
    let error = |status| Completion {
        wr_id: wr.wr_id,
        status,
        opcode: send_opcode(wr),
        byte_len: 0,
        imm: None,
    };
    let local = state
        .regions
        .get(&wr.sge.lkey)
        .filter(|entry| entry.owner == id)
        .and_then(|entry| {
            entry
                .region
                .range(wr.sge.addr, wr.sge.len)
                .map(|at| (&entry.region, at))
        });
    let Some((source, source_at)) = local else {
        return Outcome::Failed {
            local: error(WcStatus::LocalProtection),
            remote: None,
        };
    };
    let Some(recv) = recv else {
        return Outcome::NotReady;
    };
    let mut payload = vec![0u8; wr.sge.len as usize];
    source.read(source_at, &mut payload);
    match wr.op {
        SendOp::Send => {
            let target = recv.sge.and_then(|sge| {
                let entry = state.regions.get(&sge.lkey).filter(|e| e.owner == peer)?;
                let at = entry.region.range(sge.addr, sge.len)?;
                entry
                    .region
                    .access
                    .contains(Access::LOCAL_WRITE)
                    .then_some((&entry.region, at, sge.len))
            });
            let recv_failure = |status| Completion {
                wr_id: recv.wr_id,
                status,
                opcode: WcOpcode::Recv,
                byte_len: 0,
                imm: None,
            };
            match target {
                Some((region, at, len)) if len >= wr.sge.len => {
                    region.write(at, &payload);
                }
                Some(_) => {
                    return Outcome::Failed {
                        local: error(WcStatus::RemoteInvalidRequest),
                        remote: Some(recv_failure(WcStatus::LocalLength)),
                    }
                }
                None => {
                    return Outcome::Failed {
                        local: error(WcStatus::RemoteInvalidRequest),
                        remote: Some(recv_failure(WcStatus::LocalProtection)),
                    }
                }
            }
            delivered(wr, recv.wr_id, WcOpcode::Recv, None)
        }
        SendOp::WriteWithImm {
            remote_addr,
            rkey,
            imm,
        } => {
            let target = state
                .regions
                .values()
                .find(|entry| entry.region.rkey == rkey && entry.owner == peer)
                .filter(|entry| entry.region.access.contains(Access::REMOTE_WRITE))
                .and_then(|entry| {
                    entry
                        .region
                        .range(remote_addr, wr.sge.len)
                        .map(|at| (&entry.region, at))
                });
            let Some((region, at)) = target else {
                return Outcome::Failed {
                    local: error(WcStatus::RemoteAccess),
                    remote: None,
                };
            };
            region.write(at, &payload);
            delivered(wr, recv.wr_id, WcOpcode::RecvRdmaWithImm, Some(imm))
        }
    }
}
