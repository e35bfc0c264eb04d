//! Device backends: the CacheAccelerator behind the [`Codec`] API.
//!
//! [`DeviceCodec`] is one code path for every device: it encodes jobs as frames, gives each a
//! wire tag, keeps the jobs in flight, matches results to them by tag, and fails a job whose
//! result does not come within its timeout (marking the device unresponsive). Below it a
//! [`DeviceLink`] moves bytes: [`sim::SimLink`] (the Verilated top on its own thread) or
//! [`xdma::XdmaLink`] (a card through the XDMA driver) or [`udp::UdpLink`] (a board behind
//! gigabit Ethernet).

#[cfg(feature = "sim")]
pub mod board_sim;
pub mod defs;
pub mod faults;
pub mod link;
pub mod protocol;
#[cfg(feature = "sim")]
pub mod sim;
pub mod udp;
pub mod xdma;

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::{
    Codec, CodecError, CodecStat, Completion, Job, JobOp, JobStatus, Outcome, Pending,
};
use crate::dict::Dictionary;
pub use faults::{FaultPlan, FaultPlanError, InjectedFaults};
pub use link::{DeviceLink, Received};
use protocol::{parse_result, JobHeader, BEAT_BYTES};

/// What the device says about itself (its self-describing registers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub name: String,
    pub id: u32,
    pub version: u32,
    pub compress_engines: u8,
    pub decompress_engines: u8,
    pub beat_bytes: u8,
    pub history: u32,
    pub max_job: u32,
    /// Largest preset dictionary a decompress engine holds (0: the device takes none).
    pub dict_size: u32,
    /// Largest preset dictionary a compress engine holds (0: they take none). A longer one's
    /// tail is loaded: the blocks made with it are blocks of the whole dictionary.
    pub compress_dict_size: u32,
}

impl DeviceInfo {
    pub fn version_string(&self) -> String {
        format!(
            "{}.{}.{}",
            self.version >> 24,
            (self.version >> 16) & 0xFF,
            self.version & 0xFFFF
        )
    }
}

/// Which device a name means: `sim`, `sim:<faults>` (see [`FaultPlan`]), `xdma:<N>` or
/// `udp:HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceSpec {
    /// The simulated CacheAccelerator, injecting the faults of the plan (none by default).
    Sim(FaultPlan),
    Xdma(u32),
    /// A board behind Ethernet, at `HOST[:PORT]`.
    Udp(String),
}

/// Why a device name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("unknown device {0:?} (sim, sim:<faults>, xdma:<N>, udp:HOST[:PORT])")]
    Unknown(String),
    #[error("sim faults: {0}")]
    Faults(#[from] FaultPlanError),
}

impl std::str::FromStr for DeviceSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        if s == "sim" {
            return Ok(Self::Sim(FaultPlan::none()));
        }
        if let Some(plan) = s.strip_prefix("sim:") {
            return Ok(Self::Sim(FaultPlan::parse(plan)?));
        }
        if let Some(host) = s.strip_prefix("udp:").filter(|h| !h.is_empty()) {
            return Ok(Self::Udp(host.to_string()));
        }
        s.strip_prefix("xdma:")
            .and_then(|n| n.parse().ok())
            .map(Self::Xdma)
            .ok_or_else(|| SpecError::Unknown(s.to_string()))
    }
}

/// Settings of a [`DeviceCodec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOptions {
    /// The fixed part of every job's deadline (the part that does not grow with the job's
    /// size); the link's own default when `None`. This is the one timeout of the device path.
    pub timeout: Option<Duration>,
    /// Jobs in flight before `submit` answers `Busy`.
    pub max_in_flight: usize,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        Self {
            timeout: None,
            max_in_flight: 64,
        }
    }
}

/// Why a device could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}: built without the `sim` feature (the Verilated model)")]
    NoSimulator(String),
    #[error("{device}: {source}")]
    Io {
        device: String,
        #[source]
        source: io::Error,
    },
}

/// Opens a device and checks that it is a CacheAccelerator.
pub fn open(spec: &DeviceSpec, options: DeviceOptions) -> Result<DeviceCodec, OpenError> {
    let name = spec.to_string();
    let io_error = |source| OpenError::Io {
        device: name.clone(),
        source,
    };
    let link: Box<dyn DeviceLink> = match spec {
        #[cfg(feature = "sim")]
        DeviceSpec::Sim(plan) => Box::new(sim::SimLink::start(plan.clone()).map_err(io_error)?),
        #[cfg(not(feature = "sim"))]
        DeviceSpec::Sim(_) => return Err(OpenError::NoSimulator(name)),
        DeviceSpec::Xdma(n) => Box::new(xdma::XdmaLink::open(*n, 1 << 20).map_err(io_error)?),
        DeviceSpec::Udp(host) => Box::new(udp::UdpLink::open(host).map_err(io_error)?),
    };
    DeviceCodec::with_options(link, options).map_err(io_error)
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sim(plan) if plan.is_none() => f.write_str("sim"),
            Self::Sim(_) => f.write_str("sim (with faults)"),
            Self::Xdma(n) => write!(f, "xdma:{n}"),
            Self::Udp(host) => write!(f, "udp:{host}"),
        }
    }
}

/// Where a codec's wire tags start: a value that differs from run to run, so a device (or a
/// network bridge that drops late repeats of the job it just ran) never takes a new job for
/// a previous run's.
fn initial_tag() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    u64::from(hasher.finish() as u32)
}

/// Counters of a device backend, for stats.
#[derive(Debug, Default)]
pub struct DeviceCounters {
    pub submitted: AtomicU64,
    pub completed: AtomicU64,
    pub timeouts: AtomicU64,
    pub bad_frames: AtomicU64,
    pub late_results: AtomicU64,
    pub cycles: AtomicU64,
}

/// Where a job's outcome goes, with the device cycles it took when the link counts them.
type Reply = Box<dyn FnOnce(Outcome, Option<u64>) + Send>;

/// The preset dictionary the engines of one kind hold, as far as this host knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DictState {
    None,
    /// Loads sent to every engine of the kind (jobs naming it queue behind them on the device).
    Loaded(u32),
    /// A load of this id failed: its jobs run in software, no reload is tried.
    Failed(u32),
}

/// Which engines a dictionary is loaded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EngineKind {
    Compress,
    Decompress,
}

enum Request {
    Job {
        header: JobHeader,
        payload: Bytes,
        user_tag: u64,
        reply: Reply,
        timeout: Duration,
    },
    ReadReg(u32, mpsc::Sender<io::Result<u32>>),
    WriteReg(u32, u32, mpsc::Sender<io::Result<()>>),
}

struct InFlight {
    user_tag: u64,
    opcode: u8,
    reply: Reply,
    deadline: Instant,
    timeout: Duration,
}

/// A CacheAccelerator as a [`Codec`]. One I/O thread owns the link.
///
/// Every job has exactly one deadline, set here from [`DeviceOptions::timeout`] and the
/// link's cost per byte, and enforced by the I/O thread: a job the device does not answer in
/// time resolves with [`CodecError::Timeout`] and leaves the in-flight count at once, so the
/// queue depth is the device's real backlog. Callers never wait on a timer of their own.
///
/// Copies of a value on this path: none from the caller's [`Bytes`] to the link, which writes
/// the header and payload from where they are (into its DMA buffer for xdma: one copy; into
/// the model's input stream, beat by beat, for the simulator); none from the result frame the
/// link received to the completion's output, a slice of that frame.
pub struct DeviceCodec {
    name: String,
    info: DeviceInfo,
    requests: Option<mpsc::Sender<Request>>,
    in_flight: Arc<AtomicUsize>,
    responsive: Arc<AtomicBool>,
    counters: Arc<DeviceCounters>,
    max_in_flight: usize,
    next_tag: AtomicU64,
    base_timeout: Duration,
    per_byte: f64,
    injected: Option<Arc<InjectedFaults>>,
    /// The dictionaries the compress and the decompress engines hold.
    compress_dict: Arc<Mutex<DictState>>,
    decompress_dict: Arc<Mutex<DictState>>,
    thread: Option<JoinHandle<()>>,
}

fn lock_dict(state: &Mutex<DictState>) -> MutexGuard<'_, DictState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl DeviceCodec {
    /// Takes over `link` with default options.
    pub fn new(link: Box<dyn DeviceLink>) -> io::Result<Self> {
        Self::with_options(link, DeviceOptions::default())
    }

    /// Takes over `link`: reads and checks the identification registers, enables the
    /// device, and starts the I/O thread.
    pub fn with_options(mut link: Box<dyn DeviceLink>, options: DeviceOptions) -> io::Result<Self> {
        let info = read_info(link.as_mut())?;
        link.write_reg(u32::from(defs::REG_CONTROL), 1 << defs::CONTROL_ENABLE_BIT)?;
        let name = link.name();
        let injected = link.injected_faults();
        // Deadlines grow linearly with the job size, at the link's rate.
        let link_base = link.timeout_for(0);
        let per_byte = link
            .timeout_for(1 << 20)
            .saturating_sub(link_base)
            .as_nanos() as f64
            / (1 << 20) as f64;
        let (tx, rx) = mpsc::channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let responsive = Arc::new(AtomicBool::new(true));
        let counters = Arc::new(DeviceCounters::default());
        let io = IoThread {
            link,
            in_flight: Arc::clone(&in_flight),
            responsive: Arc::clone(&responsive),
            counters: Arc::clone(&counters),
            jobs: HashMap::new(),
        };
        let thread = thread::Builder::new()
            .name(format!("lzcache-{name}-io"))
            .spawn(move || io.run(rx))?;
        Ok(Self {
            name,
            info,
            requests: Some(tx),
            in_flight,
            responsive,
            counters,
            max_in_flight: options.max_in_flight.max(1),
            next_tag: AtomicU64::new(initial_tag()),
            base_timeout: options.timeout.unwrap_or(link_base),
            per_byte,
            injected,
            compress_dict: Arc::new(Mutex::new(DictState::None)),
            decompress_dict: Arc::new(Mutex::new(DictState::None)),
            thread: Some(thread),
        })
    }

    /// Whether the device can run `job` at all: with a preset dictionary, a decompression
    /// when the decompress engines hold dictionaries that large, a compression when the
    /// compress engines take one (a longer one's tail is what they hold).
    pub fn takes(&self, job: &Job) -> bool {
        match (&job.dict, &job.op) {
            (None, _) => true,
            (Some(dict), JobOp::Decompress { .. }) => {
                self.info.decompress_engines > 0 && dict.len() <= self.info.dict_size as usize
            }
            (Some(_), JobOp::Compress) => {
                self.info.compress_engines > 0 && self.info.compress_dict_size > 0
            }
            (Some(_), JobOp::Checksum) => false,
        }
    }

    fn dict_state(&self, kind: EngineKind) -> &Arc<Mutex<DictState>> {
        match kind {
            EngineKind::Compress => &self.compress_dict,
            EngineKind::Decompress => &self.decompress_dict,
        }
    }

    /// Makes `dict` the dictionary of every engine of `kind` unless they hold a newer one,
    /// and says whether jobs naming it may go to the device. One dictionary per engine: the
    /// newest (the server's ids increase) is the one most values use, and older ones' values
    /// run in software rather than thrash the engines with reloads.
    fn ensure_loaded(&self, dict: &Dictionary, kind: EngineKind) -> bool {
        let mut state = lock_dict(self.dict_state(kind));
        match *state {
            DictState::Loaded(id) if id == dict.id() => return true,
            DictState::Loaded(id) | DictState::Failed(id) if id >= dict.id() => return false,
            _ => {}
        }
        // One copy of the dictionary (a compress engine's: its tail), shared by its loads.
        let (engines, held) = match kind {
            EngineKind::Compress => (self.info.compress_engines, self.info.compress_dict_size),
            EngineKind::Decompress => (self.info.decompress_engines, self.info.dict_size),
        };
        let content = dict.content();
        let payload =
            Bytes::copy_from_slice(&content[content.len().saturating_sub(held as usize)..]);
        let id = dict.id();
        for engine in 0..engines {
            let wire_tag = self.next_tag.fetch_add(1, Ordering::Relaxed) as u32;
            let shared = Arc::clone(self.dict_state(kind));
            let name = self.name.clone();
            let reply: Reply = Box::new(move |outcome, _| {
                if !matches!(&outcome, Ok(done) if done.status == JobStatus::Ok) {
                    tracing::warn!(device = %name, dict = id, engine, ?kind, ?outcome,
                        "dictionary load failed: its jobs run in software");
                    *lock_dict(&shared) = DictState::Failed(id);
                }
            });
            // Loads go ahead of the job that needs them, whatever the queue's depth.
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            let header = match kind {
                EngineKind::Compress => {
                    JobHeader::load_compress_dict(wire_tag, engine, id, payload.len())
                }
                EngineKind::Decompress => JobHeader::load_dict(wire_tag, engine, id, payload.len()),
            };
            let timeout = self.timeout_for(payload.len());
            if self
                .send(header, payload.clone(), 0, reply, timeout)
                .is_err()
            {
                *state = DictState::None;
                return false;
            }
        }
        *state = DictState::Loaded(id);
        true
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    pub fn counters(&self) -> &DeviceCounters {
        &self.counters
    }

    /// Jobs sent and not yet answered or expired.
    pub fn queue_depth(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// False once a job went unanswered past its deadline (until a later result arrives).
    pub fn is_responsive(&self) -> bool {
        self.responsive.load(Ordering::Relaxed)
    }

    /// The deadline of a job with `bytes` of input or output.
    pub fn timeout_for(&self, bytes: usize) -> Duration {
        self.base_timeout + Duration::from_nanos((self.per_byte * bytes as f64) as u64)
    }

    fn request(&self, request: Request) -> Result<(), CodecError> {
        self.requests
            .as_ref()
            .ok_or_else(|| CodecError::Disconnected(self.name.clone()))?
            .send(request)
            .map_err(|_| CodecError::Disconnected(self.name.clone()))
    }

    fn register_reply<T>(&self, rx: mpsc::Receiver<io::Result<T>>) -> Result<T, CodecError> {
        rx.recv()
            .map_err(|_| CodecError::Disconnected(self.name.clone()))?
            .map_err(CodecError::from)
    }

    pub fn read_reg(&self, offset: u32) -> Result<u32, CodecError> {
        let (tx, rx) = mpsc::channel();
        self.request(Request::ReadReg(offset, tx))?;
        self.register_reply(rx)
    }

    pub fn write_reg(&self, offset: u32, value: u32) -> Result<(), CodecError> {
        let (tx, rx) = mpsc::channel();
        self.request(Request::WriteReg(offset, value, tx))?;
        self.register_reply(rx)
    }

    /// Runs a job to its end, blocking, and returns the device cycles it took when the link
    /// counts them (the simulator does): for `accelctl` and the benchmarks.
    pub fn run_timed(&self, job: Job) -> Result<(Completion, Option<u64>), CodecError> {
        let (tx, rx) = futures_channel::oneshot::channel();
        self.enqueue(
            job,
            Box::new(move |outcome, cycles| {
                let _ = tx.send((outcome, cycles));
            }),
        )?;
        let (outcome, cycles) = futures_executor::block_on(rx)
            .map_err(|_| CodecError::Disconnected(self.name.clone()))?;
        Ok((outcome?, cycles))
    }

    fn enqueue(&self, job: Job, reply: Reply) -> Result<(), CodecError> {
        let limit = self.info.max_job as usize;
        let kind = match job.op {
            JobOp::Compress => EngineKind::Compress,
            _ => EngineKind::Decompress,
        };
        let dict_id = match &job.dict {
            None => 0,
            Some(dict) if self.takes(&job) && self.ensure_loaded(dict, kind) => dict.id(),
            Some(_) => {
                reply(
                    Ok(Completion::failed(job.tag, JobStatus::Unsupported)),
                    None,
                );
                return Ok(());
            }
        };
        // A device that answers "no such dictionary" lost it (a reset): the next job reloads.
        let reply: Reply = if dict_id == 0 {
            reply
        } else {
            let shared = Arc::clone(self.dict_state(kind));
            Box::new(move |outcome, cycles| {
                if matches!(&outcome, Ok(done) if done.status == JobStatus::Unsupported) {
                    let mut state = lock_dict(&shared);
                    if *state == DictState::Loaded(dict_id) {
                        *state = DictState::None;
                    }
                }
                reply(outcome, cycles)
            })
        };
        if job.size() > limit {
            reply(Ok(Completion::failed(job.tag, JobStatus::TooLarge)), None);
            return Ok(());
        }
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(CodecError::Busy);
        }
        let wire_tag = self.next_tag.fetch_add(1, Ordering::Relaxed) as u32;
        let mut header = JobHeader::for_op(&job.op, wire_tag, job.input.len());
        header.dict_id = dict_id;
        let timeout = self.timeout_for(job.size());
        self.send(header, job.input, job.tag, reply, timeout)
    }

    /// Hands a job, already counted in `in_flight`, to the I/O thread; takes the count back
    /// if the thread is gone.
    fn send(
        &self,
        header: JobHeader,
        payload: Bytes,
        user_tag: u64,
        reply: Reply,
        timeout: Duration,
    ) -> Result<(), CodecError> {
        self.counters.submitted.fetch_add(1, Ordering::Relaxed);
        let sent = self.request(Request::Job {
            header,
            payload,
            user_tag,
            reply,
            timeout,
        });
        if sent.is_err() {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
        sent
    }
}

impl Drop for DeviceCodec {
    fn drop(&mut self) {
        // A closed request channel ends the I/O thread.
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Codec for DeviceCodec {
    fn name(&self) -> &str {
        &self.name
    }

    fn submit(&self, job: Job) -> Result<Pending, CodecError> {
        let (completer, pending) = Pending::channel();
        self.enqueue(job, Box::new(move |outcome, _| completer.complete(outcome)))?;
        Ok(pending)
    }

    fn stats(&self) -> Vec<CodecStat> {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        let mut stats = vec![
            ("lz_dev_submitted".into(), load(&self.counters.submitted)),
            ("lz_dev_completed".into(), load(&self.counters.completed)),
            (
                "lz_dev_deadline_misses".into(),
                load(&self.counters.timeouts),
            ),
            ("lz_dev_bad_frames".into(), load(&self.counters.bad_frames)),
            (
                "lz_dev_late_results".into(),
                load(&self.counters.late_results),
            ),
        ];
        if let Some(injected) = &self.injected {
            stats.extend(injected.stats());
        }
        stats
    }
}

fn read_info(link: &mut dyn DeviceLink) -> io::Result<DeviceInfo> {
    let id = link.read_reg(u32::from(defs::REG_ID))?;
    if id != defs::ACCEL_ID {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: ID register is {id:#010x}, not a CacheAccelerator ({:#010x})",
                link.name(),
                defs::ACCEL_ID
            ),
        ));
    }
    let caps = link.read_reg(u32::from(defs::REG_CAPS))?;
    let dict_size = if caps >> defs::CAPS_DICT_BIT & 1 == 1 {
        link.read_reg(u32::from(defs::REG_DICT_SIZE))?
    } else {
        0
    };
    let compress_dict_size = if caps >> defs::CAPS_COMPRESS_DICT_BIT & 1 == 1 {
        link.read_reg(u32::from(defs::REG_COMPRESS_DICT_SIZE))?
    } else {
        0
    };
    Ok(DeviceInfo {
        name: link.name(),
        id,
        version: link.read_reg(u32::from(defs::REG_VERSION))?,
        compress_engines: (caps >> defs::CAPS_COMPRESS_LSB) as u8,
        decompress_engines: (caps >> defs::CAPS_DECOMPRESS_LSB) as u8,
        beat_bytes: (caps >> defs::CAPS_BEAT_BYTES_LSB) as u8,
        history: link.read_reg(u32::from(defs::REG_HISTORY))?,
        max_job: link.read_reg(u32::from(defs::REG_MAX_JOB))?,
        dict_size,
        compress_dict_size,
    })
}

/// The thread that owns the link: sends jobs, receives results, enforces deadlines.
struct IoThread {
    link: Box<dyn DeviceLink>,
    in_flight: Arc<AtomicUsize>,
    responsive: Arc<AtomicBool>,
    counters: Arc<DeviceCounters>,
    jobs: HashMap<u32, InFlight>,
}

impl IoThread {
    fn run(mut self, requests: mpsc::Receiver<Request>) {
        loop {
            // Wait for work when idle; poll while jobs are in flight.
            let first = if self.jobs.is_empty() {
                match requests.recv() {
                    Ok(r) => Some(r),
                    Err(_) => return,
                }
            } else {
                match requests.try_recv() {
                    Ok(r) => Some(r),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            };
            if let Some(request) = first {
                self.handle(request);
                while let Ok(request) = requests.try_recv() {
                    self.handle(request);
                }
            }
            if !self.jobs.is_empty() {
                match self.link.recv(Duration::from_millis(1)) {
                    Ok(Some(received)) => self.complete(received),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(device = %self.link.name(), error = %e, "device link failed");
                        self.fail_all(&e);
                        self.responsive.store(false, Ordering::Relaxed);
                    }
                }
                self.expire();
            }
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Job {
                header,
                payload,
                user_tag,
                reply,
                timeout,
            } => {
                let job = InFlight {
                    user_tag,
                    opcode: header.opcode,
                    reply,
                    deadline: Instant::now() + timeout,
                    timeout,
                };
                match self.link.send(&header.encode(), &payload) {
                    Ok(()) => {
                        self.jobs.insert(header.tag, job);
                    }
                    Err(e) => {
                        self.responsive.store(false, Ordering::Relaxed);
                        self.finish(job, Err(CodecError::from(e)), None);
                    }
                }
            }
            Request::ReadReg(offset, reply) => {
                let _ = reply.send(self.link.read_reg(offset));
            }
            Request::WriteReg(offset, value, reply) => {
                let _ = reply.send(self.link.write_reg(offset, value));
            }
        }
    }

    fn complete(&mut self, received: Received) {
        let frame = Bytes::from(received.frame);
        let header = match parse_result(&frame) {
            Ok((header, _)) => header,
            Err(_) => {
                self.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let Some(job) = self.jobs.remove(&header.tag) else {
            self.counters.late_results.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.responsive.store(true, Ordering::Relaxed);
        let status = if header.opcode == job.opcode {
            header.job_status()
        } else {
            JobStatus::DeviceError
        };
        let completion = Completion {
            tag: job.user_tag,
            status,
            output: frame.slice(BEAT_BYTES..),
            crc64: header.crc,
            crc_valid: header.crc_valid,
        };
        if let Some(cycles) = received.cycles {
            self.counters.cycles.fetch_add(cycles, Ordering::Relaxed);
        }
        self.finish(job, Ok(completion), received.cycles);
    }

    fn finish(&mut self, job: InFlight, outcome: Outcome, cycles: Option<u64>) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.counters.completed.fetch_add(1, Ordering::Relaxed);
        (job.reply)(outcome, cycles);
    }

    /// Resolves the jobs past their deadline: the device did not answer them.
    fn expire(&mut self) {
        let now = Instant::now();
        let expired: Vec<u32> = self
            .jobs
            .iter()
            .filter(|(_, job)| job.deadline <= now)
            .map(|(&tag, _)| tag)
            .collect();
        for tag in expired {
            if let Some(job) = self.jobs.remove(&tag) {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                self.responsive.store(false, Ordering::Relaxed);
                let timeout = job.timeout;
                self.finish(job, Err(CodecError::Timeout(timeout)), None);
            }
        }
    }

    fn fail_all(&mut self, error: &io::Error) {
        let jobs: Vec<InFlight> = self.jobs.drain().map(|(_, job)| job).collect();
        for job in jobs {
            self.finish(job, Err(CodecError::Io(error.to_string())), None);
        }
    }
}
