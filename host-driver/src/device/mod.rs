//! Device backends: the CacheAccelerator behind the [`Codec`] API.
//!
//! [`DeviceCodec`] is one code path for every device: it encodes jobs as frames, gives each a
//! wire tag, keeps the jobs in flight, matches results to them by tag, and fails a job whose
//! result does not come within its timeout (marking the device unresponsive). Below it a
//! [`DeviceLink`] moves bytes: [`sim::SimLink`] (the Verilated top on its own thread) or
//! [`xdma::XdmaLink`] (a card through the XDMA driver).

pub mod defs;
pub mod link;
pub mod protocol;
#[cfg(feature = "sim")]
pub mod sim;
pub mod xdma;

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::codec::{Codec, CodecError, Completion, Job, JobOp, JobStatus, Pending};
pub use link::{DeviceLink, Received};
use protocol::{job_frame, parse_result, JobHeader};

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

/// Which device a name means: `sim` or `xdma:<N>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    Sim,
    Xdma(u32),
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sim" => Ok(Self::Sim),
            _ => s
                .strip_prefix("xdma:")
                .and_then(|n| n.parse().ok())
                .map(Self::Xdma)
                .ok_or_else(|| format!("unknown device {s:?} (sim, xdma:<N>)")),
        }
    }
}

/// Opens a device and checks that it is a CacheAccelerator.
pub fn open(spec: &DeviceSpec) -> io::Result<DeviceCodec> {
    let link: Box<dyn DeviceLink> = match spec {
        #[cfg(feature = "sim")]
        DeviceSpec::Sim => Box::new(sim::SimLink::start(sim::FaultPlan::none())?),
        #[cfg(not(feature = "sim"))]
        DeviceSpec::Sim => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "built without the `sim` feature",
            ))
        }
        DeviceSpec::Xdma(n) => Box::new(xdma::XdmaLink::open(*n, 1 << 20)?),
    };
    DeviceCodec::new(link)
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

/// Where a job's completion goes: with its cycle count (accelctl, benches) or without (the
/// codec API).
enum Reply {
    Timed(Sender<(Completion, Option<u64>)>),
    Plain(Sender<Completion>),
}

impl Reply {
    fn send(self, completion: Completion, cycles: Option<u64>) {
        // A caller that stopped waiting (timed out) drops its receiver: nothing to do.
        let _ = match self {
            Reply::Timed(tx) => tx.send((completion, cycles)).map_err(|_| ()),
            Reply::Plain(tx) => tx.send(completion).map_err(|_| ()),
        };
    }
}

enum Request {
    Job {
        header: JobHeader,
        frame: Vec<u8>,
        user_tag: u64,
        reply: Reply,
        timeout: Duration,
    },
    ReadReg(u32, Sender<io::Result<u32>>),
    WriteReg(u32, u32, Sender<io::Result<()>>),
}

struct InFlight {
    user_tag: u64,
    opcode: u8,
    reply: Reply,
    deadline: Instant,
}

/// A CacheAccelerator as a [`Codec`]. One I/O thread owns the link.
pub struct DeviceCodec {
    name: String,
    info: DeviceInfo,
    requests: Option<Sender<Request>>,
    in_flight: Arc<AtomicUsize>,
    responsive: Arc<AtomicBool>,
    counters: Arc<DeviceCounters>,
    max_in_flight: usize,
    next_tag: AtomicU64,
    timeout_per_byte: Box<dyn Fn(usize) -> Duration + Send + Sync>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceCodec {
    /// Takes over `link`: reads and checks the identification registers, enables the
    /// device, and starts the I/O thread.
    pub fn new(mut link: Box<dyn DeviceLink>) -> io::Result<Self> {
        let info = read_info(link.as_mut())?;
        link.write_reg(u32::from(defs::REG_CONTROL), 1 << defs::CONTROL_ENABLE_BIT)?;
        let name = link.name();
        let probe: Vec<Duration> = [0usize, 1 << 10, 1 << 20]
            .iter()
            .map(|&b| link.timeout_for(b))
            .collect();
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
        // Timeouts grow linearly with the job size, as the link says.
        let base = probe[0];
        let per_byte = (probe[2].saturating_sub(base)).as_nanos() as f64 / (1 << 20) as f64;
        Ok(Self {
            name,
            info,
            requests: Some(tx),
            in_flight,
            responsive,
            counters,
            max_in_flight: 64,
            next_tag: AtomicU64::new(1),
            timeout_per_byte: Box::new(move |bytes| {
                base + Duration::from_nanos((per_byte * bytes as f64) as u64)
            }),
            thread: Some(thread),
        })
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    pub fn counters(&self) -> &DeviceCounters {
        &self.counters
    }

    /// Jobs sent and not yet answered.
    pub fn queue_depth(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// False once a job went unanswered past its timeout (until a later result arrives).
    pub fn is_responsive(&self) -> bool {
        self.responsive.load(Ordering::Relaxed)
    }

    /// How long a job with `bytes` of input or output may take.
    pub fn timeout_for(&self, bytes: usize) -> Duration {
        (self.timeout_per_byte)(bytes)
    }

    fn request(&self, request: Request) -> Result<(), CodecError> {
        self.requests
            .as_ref()
            .ok_or_else(|| CodecError::Disconnected("device closed".into()))?
            .send(request)
            .map_err(|_| CodecError::Disconnected(format!("{} I/O thread has ended", self.name)))
    }

    pub fn read_reg(&self, offset: u32) -> Result<u32, CodecError> {
        let (tx, rx) = mpsc::channel();
        self.request(Request::ReadReg(offset, tx))?;
        rx.recv()
            .map_err(|_| CodecError::Disconnected("no register reply".into()))?
            .map_err(CodecError::Io)
    }

    pub fn write_reg(&self, offset: u32, value: u32) -> Result<(), CodecError> {
        let (tx, rx) = mpsc::channel();
        self.request(Request::WriteReg(offset, value, tx))?;
        rx.recv()
            .map_err(|_| CodecError::Disconnected("no register reply".into()))?
            .map_err(CodecError::Io)
    }

    /// Submits a job; the receiver gets its completion and the device cycles it took, when
    /// the link counts them.
    pub fn submit_timed(
        &self,
        job: Job,
    ) -> Result<Receiver<(Completion, Option<u64>)>, CodecError> {
        let (tx, rx) = mpsc::channel();
        self.enqueue(job, Reply::Timed(tx))?;
        Ok(rx)
    }

    fn enqueue(&self, job: Job, reply: Reply) -> Result<(), CodecError> {
        let limit = self.info.max_job as usize;
        let output_len = match job.op {
            JobOp::Decompress { raw_len, .. } => raw_len,
            _ => job.input.len(),
        };
        if job.input.len() > limit || output_len > limit {
            reply.send(failed(job.tag, JobStatus::TooLarge), None);
            return Ok(());
        }
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(CodecError::Busy);
        }
        let wire_tag = self.next_tag.fetch_add(1, Ordering::Relaxed) as u32;
        let header = JobHeader::for_op(&job.op, wire_tag, job.input.len());
        let frame = job_frame(&header, &job.input);
        let timeout = self.timeout_for(job.input.len().max(output_len));
        self.counters.submitted.fetch_add(1, Ordering::Relaxed);
        let sent = self.request(Request::Job {
            header,
            frame,
            user_tag: job.tag,
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
        let (tx, rx) = mpsc::channel();
        self.enqueue(job, Reply::Plain(tx))?;
        Ok(Pending::waiting(rx))
    }

    fn run(&self, job: Job, timeout: Duration) -> Result<Completion, CodecError> {
        let rx = self.submit_timed(job)?;
        rx.recv_timeout(timeout)
            .map(|(completion, _)| completion)
            .map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => CodecError::Timeout(timeout),
                mpsc::RecvTimeoutError::Disconnected => {
                    CodecError::Disconnected("device reply channel closed".into())
                }
            })
    }
}

fn failed(tag: u64, status: JobStatus) -> Completion {
    Completion {
        tag,
        status,
        output: Vec::new(),
        crc64: 0,
        crc_valid: false,
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
    Ok(DeviceInfo {
        name: link.name(),
        id,
        version: link.read_reg(u32::from(defs::REG_VERSION))?,
        compress_engines: (caps >> defs::CAPS_COMPRESS_LSB) as u8,
        decompress_engines: (caps >> defs::CAPS_DECOMPRESS_LSB) as u8,
        beat_bytes: (caps >> defs::CAPS_BEAT_BYTES_LSB) as u8,
        history: link.read_reg(u32::from(defs::REG_HISTORY))?,
        max_job: link.read_reg(u32::from(defs::REG_MAX_JOB))?,
    })
}

/// The thread that owns the link: sends jobs, receives results, enforces timeouts.
struct IoThread {
    link: Box<dyn DeviceLink>,
    in_flight: Arc<AtomicUsize>,
    responsive: Arc<AtomicBool>,
    counters: Arc<DeviceCounters>,
    jobs: HashMap<u32, InFlight>,
}

impl IoThread {
    fn run(mut self, requests: Receiver<Request>) {
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
                        eprintln!("lzcache: {}: {e}", self.link.name());
                        self.fail_all();
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
                frame,
                user_tag,
                reply,
                timeout,
            } => {
                let sent = self.link.send(&frame);
                let job = InFlight {
                    user_tag,
                    opcode: header.opcode,
                    reply,
                    deadline: Instant::now() + timeout,
                };
                if sent.is_err() {
                    self.finish(job, failed(user_tag, JobStatus::DeviceError), None);
                    self.responsive.store(false, Ordering::Relaxed);
                } else {
                    self.jobs.insert(header.tag, job);
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
        let Ok((header, output)) = parse_result(&received.frame) else {
            self.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
            return;
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
            output: output.to_vec(),
            crc64: header.crc,
            crc_valid: header.crc_valid,
        };
        if let Some(cycles) = received.cycles {
            self.counters.cycles.fetch_add(cycles, Ordering::Relaxed);
        }
        self.finish(job, completion, received.cycles);
    }

    fn finish(&mut self, job: InFlight, completion: Completion, cycles: Option<u64>) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.counters.completed.fetch_add(1, Ordering::Relaxed);
        job.reply.send(completion, cycles);
    }

    /// Fails the jobs past their deadline: the device did not answer them.
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
                let user_tag = job.user_tag;
                self.finish(job, failed(user_tag, JobStatus::DeviceError), None);
            }
        }
    }

    fn fail_all(&mut self) {
        let jobs: Vec<InFlight> = self.jobs.drain().map(|(_, job)| job).collect();
        for job in jobs {
            let user_tag = job.user_tag;
            self.finish(job, failed(user_tag, JobStatus::DeviceError), None);
        }
    }
}
