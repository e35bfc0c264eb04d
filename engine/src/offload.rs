//! The offload dispatcher: per value, software or device, and software whenever the device
//! is missing, busy or faulty.
//!
//! Why every device answer is checked before it is used: a cache must never serve a wrong
//! value, and a device can fail in ways its own status does not show. Checks that cost little
//! run always — the CRC of a decompressed value against the stored one, the CRC of a
//! compressed value's input against software's — and a configurable share of compressed blocks
//! is decompressed in software and compared with the input (all of them by default). Any
//! disagreement, error status, timeout or transport failure counts as a device fault: the job
//! is redone in software at once (so no request is lost, duplicated or answered wrongly) and
//! a circuit breaker sends all work to software, probing the device again after a back-off
//! that doubles up to 30 s while the faults continue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lzcache_driver::device::{self, DeviceCodec, DeviceSpec};
use lzcache_driver::{crc64, Codec, CodecError, Completion, Job, JobOp, JobStatus, Pending};
use lzcache_driver::{CodecStat, SoftwareCodec};

/// `--accel`: which codec path the server may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccelChoice {
    /// A card when one is found, else software.
    Auto,
    Software,
    Device(DeviceSpec),
}

impl std::str::FromStr for AccelChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "software" => Ok(Self::Software),
            other => other
                .parse()
                .map(Self::Device)
                .map_err(|e| format!("{e}; or auto, software")),
        }
    }
}

/// `--accel-prefer`: how a value's path is chosen while the device is healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Prefer {
    /// Whichever is expected to finish first, from value size, the device's queue depth and
    /// the measured speed of each path.
    Fastest,
    /// The device for every value it can take (software only as the fallback).
    Device,
}

/// Settings of the dispatcher.
#[derive(Debug, Clone)]
pub struct OffloadConfig {
    pub prefer: Prefer,
    /// Share of device-compressed blocks decompressed in software and compared (0..=1).
    pub verify: f64,
    /// Fixed part of a device job's timeout (the device's own default when `None`).
    pub device_timeout: Option<Duration>,
    /// First back-off of the circuit breaker.
    pub backoff: Duration,
}

impl Default for OffloadConfig {
    fn default() -> Self {
        Self {
            prefer: Prefer::Fastest,
            verify: 1.0,
            device_timeout: None,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Opens the device `choice` names and wraps it with the software fallback. Returns the
/// dispatcher and a sentence for the start-up log saying which path is in use.
pub fn build(
    choice: &AccelChoice,
    config: OffloadConfig,
    faults: Option<&str>,
) -> Result<(Offload, String), String> {
    let device = match choice {
        AccelChoice::Software => None,
        AccelChoice::Auto => match device::xdma::cards().first() {
            Some(&n) => {
                Some(device::open(&DeviceSpec::Xdma(n)).map_err(|e| format!("xdma:{n}: {e}"))?)
            }
            None => None,
        },
        AccelChoice::Device(spec) => Some(open_device(spec, faults)?),
    };
    let note = match (&device, choice) {
        (Some(d), _) => format!(
            "codec: {} ({} compress, {} decompress engines; software fallback)",
            d.info().name,
            d.info().compress_engines,
            d.info().decompress_engines
        ),
        (None, AccelChoice::Auto) => "codec: software (no XDMA card found)".to_string(),
        (None, _) => "codec: software".to_string(),
    };
    Ok((Offload::new(device, config), note))
}

fn open_device(spec: &DeviceSpec, faults: Option<&str>) -> Result<DeviceCodec, String> {
    match (spec, faults) {
        (DeviceSpec::Sim, Some(plan)) => {
            let plan = device::sim::FaultPlan::parse(plan)?;
            let link = device::sim::SimLink::start(plan).map_err(|e| format!("sim: {e}"))?;
            DeviceCodec::new(Box::new(link)).map_err(|e| format!("sim: {e}"))
        }
        (_, Some(_)) => Err("fault injection exists only for the simulated device".into()),
        (spec, None) => device::open(spec).map_err(|e| format!("{spec:?}: {e}")),
    }
}

/// Counters of one path.
#[derive(Debug, Default)]
struct PathStats {
    jobs: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    nanos: AtomicU64,
    /// Recent cost, nanoseconds per input byte, times 1024 (an exponential average).
    cost: AtomicU64,
}

impl PathStats {
    fn record(&self, job_bytes: usize, output: usize, elapsed: Duration) {
        self.jobs.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(job_bytes as u64, Ordering::Relaxed);
        self.bytes_out.fetch_add(output as u64, Ordering::Relaxed);
        let nanos = elapsed.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        let sample = nanos.saturating_mul(1024) / job_bytes.max(64) as u64;
        let old = self.cost.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.cost.store(new.max(1), Ordering::Relaxed);
    }

    /// Expected nanoseconds for `bytes`, or `None` before any measurement.
    fn estimate(&self, bytes: usize) -> Option<u64> {
        let cost = self.cost.load(Ordering::Relaxed);
        (cost != 0).then(|| cost.saturating_mul(bytes.max(64) as u64) / 1024)
    }

    fn average_micros(&self) -> u64 {
        let jobs = self.jobs.load(Ordering::Relaxed);
        self.nanos.load(Ordering::Relaxed) / jobs.max(1) / 1000
    }
}

#[derive(Debug, Default)]
struct FaultStats {
    fallbacks: AtomicU64,
    busy: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    crc_mismatches: AtomicU64,
    verified: AtomicU64,
    verify_failures: AtomicU64,
    trips: AtomicU64,
}

#[derive(Debug)]
enum Breaker {
    Closed,
    Open { until: Instant, backoff: Duration },
    Probing { backoff: Duration },
}

/// Why a device answer was not used.
enum Fault {
    /// The device calls the input bad; software decides whether it is.
    Suspect,
    Busy,
    Timeout,
    Error,
    Crc,
    Verify,
}

/// The server's codec: software and, when present, a device.
pub struct Offload {
    software: SoftwareCodec,
    device: Option<Arc<DeviceCodec>>,
    name: String,
    config: OffloadConfig,
    breaker: Mutex<Breaker>,
    software_stats: PathStats,
    device_stats: PathStats,
    faults: FaultStats,
    decisions: AtomicU64,
}

impl Offload {
    pub fn new(device: Option<DeviceCodec>, config: OffloadConfig) -> Self {
        let name = device
            .as_ref()
            .map(|d| d.name().to_string())
            .unwrap_or_else(|| "software".into());
        Self {
            software: SoftwareCodec::new(),
            device: device.map(Arc::new),
            name,
            config,
            breaker: Mutex::new(Breaker::Closed),
            software_stats: PathStats::default(),
            device_stats: PathStats::default(),
            faults: FaultStats::default(),
            decisions: AtomicU64::new(0),
        }
    }

    /// Whether this job goes to the device.
    fn use_device(&self, device: &DeviceCodec, job: &Job) -> bool {
        let bytes = job_bytes(job);
        if bytes > device.info().max_job as usize || !self.breaker_allows() {
            return false;
        }
        match self.config.prefer {
            Prefer::Device => true,
            Prefer::Fastest => {
                // Now and then the slower-looking path runs, to keep its measurement fresh.
                let explore = self
                    .decisions
                    .fetch_add(1, Ordering::Relaxed)
                    .is_multiple_of(64);
                let queue = device.queue_depth() as u64 + 1;
                match (
                    self.device_stats.estimate(bytes),
                    self.software_stats.estimate(bytes),
                ) {
                    (Some(dev), Some(sw)) => (dev.saturating_mul(queue) < sw) != explore,
                    (None, _) => true,
                    (Some(_), None) => false,
                }
            }
        }
    }

    fn breaker_allows(&self) -> bool {
        let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        match *breaker {
            Breaker::Closed => true,
            Breaker::Open { until, backoff } if Instant::now() >= until => {
                // Half open: this one job probes the device.
                *breaker = Breaker::Probing { backoff };
                true
            }
            Breaker::Open { .. } | Breaker::Probing { .. } => false,
        }
    }

    fn device_ok(&self) {
        let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        if let Breaker::Probing { .. } = *breaker {
            *breaker = Breaker::Closed;
        }
    }

    fn device_fault(&self, fault: Fault) {
        let counter = match fault {
            Fault::Busy => {
                // A full queue is no fault: only this job goes elsewhere.
                self.faults.busy.fetch_add(1, Ordering::Relaxed);
                self.faults.fallbacks.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Fault::Suspect => unreachable!("resolved by software first"),
            Fault::Timeout => &self.faults.timeouts,
            Fault::Error => &self.faults.errors,
            Fault::Crc => &self.faults.crc_mismatches,
            Fault::Verify => &self.faults.verify_failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.faults.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.faults.trips.fetch_add(1, Ordering::Relaxed);
        let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        let backoff = match *breaker {
            Breaker::Closed => self.config.backoff,
            Breaker::Open { backoff, .. } | Breaker::Probing { backoff } => {
                (backoff * 2).min(Duration::from_secs(30))
            }
        };
        *breaker = Breaker::Open {
            until: Instant::now() + backoff,
            backoff,
        };
        tracing::warn!(
            device = %self.name,
            "device fault; software takes all work for {backoff:?}"
        );
    }

    fn breaker_state(&self) -> &'static str {
        match *self.breaker.lock().unwrap_or_else(|e| e.into_inner()) {
            Breaker::Closed => "closed",
            Breaker::Open { .. } => "open",
            Breaker::Probing { .. } => "probing",
        }
    }

    fn run_software(&self, job: Job) -> Completion {
        let bytes = job_bytes(&job);
        let start = Instant::now();
        let done = self.software.execute(&job);
        self.software_stats
            .record(bytes, done.output.len(), start.elapsed());
        done
    }

    /// Runs `job` on the device and checks the answer; `Err` means use software instead.
    fn run_device(&self, device: &DeviceCodec, job: &Job) -> Result<Completion, Fault> {
        let bytes = job_bytes(job);
        let mut timeout = device.timeout_for(bytes);
        if let Some(base) = self.config.device_timeout {
            timeout = timeout - device.timeout_for(0) + base;
        }
        let start = Instant::now();
        let done = match device.run(job.clone(), timeout) {
            Ok(done) => done,
            Err(CodecError::Busy) => return Err(Fault::Busy),
            Err(CodecError::Timeout(_)) => return Err(Fault::Timeout),
            Err(_) => return Err(Fault::Error),
        };
        let elapsed = start.elapsed();
        match job.op {
            JobOp::Decompress { expected_crc, .. } => {
                if done.status == JobStatus::DeviceError {
                    return Err(Fault::Error);
                }
                if done.status != JobStatus::Ok || !done.crc_valid {
                    return Err(Fault::Suspect);
                }
                if crc64::checksum(&done.output) != expected_crc {
                    return Err(Fault::Crc);
                }
            }
            JobOp::Compress => {
                if !matches!(done.status, JobStatus::Ok | JobStatus::Incompressible) {
                    return Err(Fault::Error);
                }
                if done.crc64 != crc64::checksum(&job.input) {
                    return Err(Fault::Crc);
                }
                if done.status == JobStatus::Ok && self.sample_verify() {
                    self.faults.verified.fetch_add(1, Ordering::Relaxed);
                    let back = lz4_flex::block::decompress(&done.output, job.input.len());
                    if back.ok().as_deref() != Some(job.input.as_slice()) {
                        return Err(Fault::Verify);
                    }
                }
            }
            JobOp::Checksum => {
                if done.status != JobStatus::Ok {
                    return Err(Fault::Error);
                }
            }
        }
        self.device_stats.record(bytes, done.output.len(), elapsed);
        Ok(done)
    }

    fn sample_verify(&self) -> bool {
        if self.config.verify >= 1.0 {
            return true;
        }
        let n = self.faults.verified.load(Ordering::Relaxed)
            + self.device_stats.jobs.load(Ordering::Relaxed);
        // Deterministic sampling: every k-th block.
        let every = (1.0 / self.config.verify.max(1e-9)).round().max(1.0) as u64;
        n.is_multiple_of(every)
    }
}

fn job_bytes(job: &Job) -> usize {
    match job.op {
        JobOp::Decompress { raw_len, .. } => raw_len.max(job.input.len()),
        _ => job.input.len(),
    }
}

impl Codec for Offload {
    fn name(&self) -> &str {
        &self.name
    }

    fn submit(&self, job: Job) -> Result<Pending, CodecError> {
        // Both paths finish before returning: the dispatcher never reports Busy, it falls back.
        Ok(Pending::ready(self.run(job, Duration::MAX)?))
    }

    fn run(&self, job: Job, _timeout: Duration) -> Result<Completion, CodecError> {
        if let Some(device) = &self.device {
            if self.use_device(device, &job) {
                match self.run_device(device, &job) {
                    Ok(done) => {
                        self.device_ok();
                        return Ok(done);
                    }
                    Err(Fault::Suspect) => {
                        let done = self.run_software(job);
                        if done.is_good() {
                            // Software reads the value fine: the device was wrong.
                            self.device_fault(Fault::Error);
                        } else {
                            // The stored value itself is damaged; the device was right.
                            self.device_ok();
                        }
                        return Ok(done);
                    }
                    Err(fault) => self.device_fault(fault),
                }
            }
        }
        Ok(self.run_software(job))
    }

    fn stats(&self) -> Vec<CodecStat> {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        let mut out = vec![
            ("lz_accel".into(), self.name.clone()),
            ("lz_sw_jobs".into(), load(&self.software_stats.jobs)),
            ("lz_sw_bytes_in".into(), load(&self.software_stats.bytes_in)),
            (
                "lz_sw_bytes_out".into(),
                load(&self.software_stats.bytes_out),
            ),
            (
                "lz_sw_latency_us".into(),
                self.software_stats.average_micros().to_string(),
            ),
        ];
        if let Some(device) = &self.device {
            out.extend([
                ("lz_dev_state".into(), self.breaker_state().to_string()),
                ("lz_dev_jobs".into(), load(&self.device_stats.jobs)),
                ("lz_dev_bytes_in".into(), load(&self.device_stats.bytes_in)),
                (
                    "lz_dev_bytes_out".into(),
                    load(&self.device_stats.bytes_out),
                ),
                (
                    "lz_dev_latency_us".into(),
                    self.device_stats.average_micros().to_string(),
                ),
                (
                    "lz_dev_queue_depth".into(),
                    device.queue_depth().to_string(),
                ),
                ("lz_dev_fallbacks".into(), load(&self.faults.fallbacks)),
                ("lz_dev_busy".into(), load(&self.faults.busy)),
                ("lz_dev_errors".into(), load(&self.faults.errors)),
                ("lz_dev_timeouts".into(), load(&self.faults.timeouts)),
                (
                    "lz_dev_crc_mismatches".into(),
                    load(&self.faults.crc_mismatches),
                ),
                ("lz_dev_verified".into(), load(&self.faults.verified)),
                (
                    "lz_dev_verify_failures".into(),
                    load(&self.faults.verify_failures),
                ),
                ("lz_dev_breaker_trips".into(), load(&self.faults.trips)),
            ]);
        }
        out
    }
}
