//! The dispatcher: per job, software or device, and software whenever the device is missing,
//! busy or faulty. The server sees one [`Codec`]; everything about devices stays here.
//!
//! Why every device answer is checked before it is used: a cache must never serve a wrong
//! value, and a device can fail in ways its own status does not show. Checks that cost little
//! run always — the CRC of a decompressed value against the stored one, the CRC of a
//! compressed value's input against software's — and a configurable share of compressed
//! blocks is decompressed in software and compared with the input (all of them by default).
//! Any disagreement, error status, missed deadline or transport failure counts as a device
//! fault: the job is redone in software at once (so no request is lost, duplicated or answered
//! wrongly) and a circuit breaker sends all work to software, probing the device again after a
//! back-off that doubles up to 30 s while the faults continue. The probe is one job, granted
//! only to a job that goes to the device; a probe that ends without a verdict on the device —
//! declined (a dictionary the device does not hold), refused as busy, or given up by its
//! caller before the answer came — hands the probe to the next job instead of leaving the
//! breaker waiting for a verdict that will never come.
//!
//! Nothing here blocks. A device job's [`Pending`] is wrapped in a future that, when the
//! device answers, checks the answer and falls back to software on the thread that awaits it
//! — so the checks of many jobs run on the server's workers in parallel, and a device that
//! stops answering costs its own jobs their deadline (owned by the device backend) and a
//! software redo, nothing else.
//!
//! Copies of a value: none here. A job's input is shared (reference-counted) between the
//! device job and the software redo that may follow it.

mod counts;
mod spec;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::codec::Pending;
use crate::codec::{
    Codec, CodecError, CodecStat, Completion, Compressed, Job, JobOp, JobStatus, Outcome,
};
use crate::crc64;
use crate::device::DeviceCodec;
use crate::dict::Dictionary;
use crate::software::SoftwareCodec;
use counts::Counts;

pub use spec::{open, CodecSpec, DispatchOpenError};

/// What the dispatcher needs to know of a device besides the [`Codec`] API.
pub trait Accelerator: Codec {
    /// The largest job (input or output bytes) the device takes.
    fn max_job(&self) -> usize;
    /// Jobs submitted and not yet resolved.
    fn queue_depth(&self) -> usize;
    /// Whether the device runs this kind of job at all (by default: none with a preset
    /// dictionary).
    fn takes(&self, job: &Job) -> bool {
        job.dict.is_none()
    }
    /// A sentence for the start-up log.
    fn describe(&self) -> String {
        self.name().to_string()
    }
}

impl Accelerator for DeviceCodec {
    fn max_job(&self) -> usize {
        self.info().max_job as usize
    }

    fn queue_depth(&self) -> usize {
        DeviceCodec::queue_depth(self)
    }

    fn takes(&self, job: &Job) -> bool {
        DeviceCodec::takes(self, job)
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} compress, {} decompress engines)",
            self.info().name,
            self.info().compress_engines,
            self.info().decompress_engines
        )
    }
}

/// `--accel-prefer`: how a value's path is chosen while the device is healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Prefer {
    /// Whichever is expected to finish first, from job size, the device's queue depth and
    /// the measured speed of each path.
    Fastest,
    /// The device for every job it can take (software only as the fallback).
    Device,
}

/// Settings of the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    pub prefer: Prefer,
    /// Share of device-compressed blocks decompressed in software and compared (0..=1).
    pub verify: f64,
    /// First back-off of the circuit breaker.
    pub backoff: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            prefer: Prefer::Fastest,
            verify: 1.0,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Software jobs timed: one in this many. A job on a small value takes ~1 µs, and two clock
/// reads add ~5 % to it in a virtual machine (perf); the cost estimate and the latency figure
/// need a sample, not every job.
const SOFTWARE_TIMED_EVERY: u64 = 16;

/// Counters of one path.
#[derive(Debug, Default)]
struct PathStats {
    counts: Counts,
    /// Jobs timed (all device jobs, a sample of software ones) and their time in all.
    timed: AtomicU64,
    nanos: AtomicU64,
    /// Recent cost, nanoseconds per input byte, times 1024 (an exponential average).
    cost: AtomicU64,
}

impl PathStats {
    /// Counts a job.
    fn count(&self, job_bytes: usize, output: usize) {
        self.counts.add(job_bytes, output);
    }

    fn record(&self, job_bytes: usize, output: usize, elapsed: Duration) {
        self.count(job_bytes, output);
        self.time(job_bytes, elapsed);
    }

    /// Adds a timed job to the latency figure and the cost estimate.
    fn time(&self, job_bytes: usize, elapsed: Duration) {
        self.timed.fetch_add(1, Ordering::Relaxed);
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
        let timed = self.timed.load(Ordering::Relaxed);
        self.nanos.load(Ordering::Relaxed) / timed.max(1) / 1000
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
    /// Device errors on values software could not read either: the stored value was damaged
    /// and the device said so (not a device fault).
    damaged_values: AtomicU64,
    trips: AtomicU64,
}

#[derive(Debug)]
enum Breaker {
    Closed,
    Open { until: Instant, backoff: Duration },
    Probing { backoff: Duration },
}

/// Where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Software,
    /// On the device; `probe` when the job is the half-open breaker's one probe.
    Device {
        probe: bool,
    },
}

/// Hands a probe that ended without a verdict on the device back to the breaker when dropped
/// (after the probe's answer was used, or with the job's future when its caller gave up).
/// A verdict has by then closed or reopened the breaker, and the release does nothing.
struct ProbeRelease {
    inner: Option<Arc<Inner>>,
}

impl Drop for ProbeRelease {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.release_probe();
        }
    }
}

/// Why a device answer was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The device calls the input bad; software decides whether it is.
    Suspect,
    Busy,
    /// The device does not run this job (a dictionary it does not hold): no fault.
    Declined,
    Timeout,
    Error,
    Crc,
    Verify,
}

/// The server's codec: software and, when present, a device.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    software: SoftwareCodec,
    device: Option<Arc<dyn Accelerator>>,
    name: String,
    config: DispatchConfig,
    breaker: Mutex<Breaker>,
    software_stats: PathStats,
    device_stats: PathStats,
    faults: FaultStats,
    decisions: AtomicU64,
    /// Device-compressed blocks eligible for verification so far (the sampler's clock).
    verify_seen: AtomicU64,
}

impl Dispatcher {
    /// Software only.
    pub fn software() -> Self {
        Self::new(None, DispatchConfig::default())
    }

    pub fn new(device: Option<Arc<dyn Accelerator>>, config: DispatchConfig) -> Self {
        let name = device
            .as_ref()
            .map(|d| d.name().to_string())
            .unwrap_or_else(|| "software".into());
        Self {
            inner: Arc::new(Inner {
                software: SoftwareCodec::new(),
                device,
                name,
                config,
                breaker: Mutex::new(Breaker::Closed),
                software_stats: PathStats::default(),
                device_stats: PathStats::default(),
                faults: FaultStats::default(),
                decisions: AtomicU64::new(0),
                verify_seen: AtomicU64::new(0),
            }),
        }
    }

    /// A sentence for the start-up log saying which path is in use.
    pub fn describe(&self) -> String {
        match &self.inner.device {
            Some(device) => format!("codec: {} (software fallback)", device.describe()),
            None => "codec: software".into(),
        }
    }
}

impl Inner {
    /// Where this job runs. The breaker is asked last, so that its probe goes only to a job
    /// that is sent to the device.
    fn route(&self, device: &dyn Accelerator, job: &Job) -> Route {
        let bytes = job.size();
        if !device.takes(job) || bytes > device.max_job() || !self.prefers_device(device, bytes) {
            return Route::Software;
        }
        self.admit()
    }

    /// Whether the device is the path chosen for a job of `bytes`, were the breaker closed.
    fn prefers_device(&self, device: &dyn Accelerator, bytes: usize) -> bool {
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

    fn lock_breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The breaker's word on a job bound for the device.
    fn admit(&self) -> Route {
        let mut breaker = self.lock_breaker();
        match *breaker {
            Breaker::Closed => Route::Device { probe: false },
            Breaker::Open { until, backoff } if Instant::now() >= until => {
                // Half open: this one job probes the device.
                *breaker = Breaker::Probing { backoff };
                Route::Device { probe: true }
            }
            Breaker::Open { .. } | Breaker::Probing { .. } => Route::Software,
        }
    }

    /// A probe ended without a verdict (see [`ProbeRelease`]): the next job probes, with the
    /// back-off unchanged.
    fn release_probe(&self) {
        let mut breaker = self.lock_breaker();
        if let Breaker::Probing { backoff } = *breaker {
            *breaker = Breaker::Open {
                until: Instant::now(),
                backoff,
            };
        }
    }

    fn device_ok(&self) {
        let mut breaker = self.lock_breaker();
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
            Fault::Declined => {
                self.faults.fallbacks.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Fault::Suspect | Fault::Error => &self.faults.errors,
            Fault::Timeout => &self.faults.timeouts,
            Fault::Crc => &self.faults.crc_mismatches,
            Fault::Verify => &self.faults.verify_failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.faults.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.faults.trips.fetch_add(1, Ordering::Relaxed);
        let mut breaker = self.lock_breaker();
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
            ?fault,
            "device fault; software takes all work for {backoff:?}"
        );
    }

    fn breaker_state(&self) -> &'static str {
        match *self.lock_breaker() {
            Breaker::Closed => "closed",
            Breaker::Open { .. } => "open",
            Breaker::Probing { .. } => "probing",
        }
    }

    /// The software codec, when every job runs in software on the caller's thread: without a
    /// device (with one, software or device is chosen per job, which takes the job).
    fn inline_software(&self) -> Option<&SoftwareCodec> {
        self.device.is_none().then_some(&self.software)
    }

    fn run_software(&self, job: &Job) -> Completion {
        let stats = &self.software_stats;
        // The thread's job counter decides which jobs are timed, so its first one always is
        // (the estimate exists from then on).
        if !stats
            .counts
            .jobs_here()
            .is_multiple_of(SOFTWARE_TIMED_EVERY)
        {
            let done = self.software.execute(job);
            stats.count(job.size(), done.output.len());
            return done;
        }
        let start = Instant::now();
        let done = self.software.execute(job);
        stats.record(job.size(), done.output.len(), start.elapsed());
        done
    }

    /// Checks a device's answer to `job`; `Err` means software must redo the job.
    fn check(&self, job: &Job, outcome: Outcome, started: Instant) -> Result<Completion, Fault> {
        let done = match outcome {
            Ok(done) => done,
            Err(CodecError::Busy) => return Err(Fault::Busy),
            Err(CodecError::Timeout(_)) => return Err(Fault::Timeout),
            Err(_) => return Err(Fault::Error),
        };
        let elapsed = started.elapsed();
        match job.op {
            JobOp::Decompress { expected_crc, .. } => {
                if done.status == JobStatus::Unsupported {
                    return Err(Fault::Declined);
                }
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
                if done.status == JobStatus::Unsupported {
                    return Err(Fault::Declined);
                }
                if !matches!(done.status, JobStatus::Ok | JobStatus::Incompressible) {
                    return Err(Fault::Error);
                }
                if done.crc64 != crc64::checksum(&job.input) {
                    return Err(Fault::Crc);
                }
                if done.status == JobStatus::Ok && self.sample_verify() {
                    self.faults.verified.fetch_add(1, Ordering::Relaxed);
                    let back = match &job.dict {
                        Some(dict) => dict.decompress(&done.output, job.input.len()),
                        None => lz4_flex::block::decompress(&done.output, job.input.len()).ok(),
                    };
                    if back.as_deref() != Some(&job.input[..]) {
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
        self.device_stats
            .record(job.size(), done.output.len(), elapsed);
        Ok(done)
    }

    /// Whether the next device-compressed block is verified: exactly `verify` of them over any
    /// run of blocks (to within one), spread evenly.
    fn sample_verify(&self) -> bool {
        let share = self.config.verify.clamp(0.0, 1.0);
        let n = self.verify_seen.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * share).floor() > (n * share).floor()
    }

    /// The end of a device job: the checked answer, or software's.
    fn finish_device(&self, job: &Job, outcome: Outcome, started: Instant) -> Completion {
        match self.check(job, outcome, started) {
            Ok(done) => {
                self.device_ok();
                done
            }
            Err(Fault::Suspect) => {
                let done = self.run_software(job);
                if done.is_good() {
                    // Software reads the value fine: the device was wrong.
                    self.device_fault(Fault::Suspect);
                } else {
                    // The stored value itself is damaged; the device was right.
                    self.faults.damaged_values.fetch_add(1, Ordering::Relaxed);
                    self.device_ok();
                }
                done
            }
            Err(fault) => {
                self.device_fault(fault);
                self.run_software(job)
            }
        }
    }
}

impl Codec for Dispatcher {
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// Never `Busy` and never an error: a job the device cannot take runs in software.
    fn submit(&self, job: Job) -> Result<Pending, CodecError> {
        let inner = &self.inner;
        if let Some(device) = &inner.device {
            if let Route::Device { probe } = inner.route(device.as_ref(), &job) {
                // Dropped with the job's future, or here when the device refuses the job.
                let release = ProbeRelease {
                    inner: probe.then(|| Arc::clone(inner)),
                };
                let started = Instant::now();
                match device.submit(job.clone()) {
                    Ok(pending) => {
                        let inner = Arc::clone(inner);
                        return Ok(Pending::from_future(async move {
                            let _release = release;
                            let outcome = pending.await;
                            Ok(inner.finish_device(&job, outcome, started))
                        }));
                    }
                    Err(CodecError::Busy) => inner.device_fault(Fault::Busy),
                    Err(_) => inner.device_fault(Fault::Error),
                }
            }
        }
        Ok(Pending::ready(Ok(inner.run_software(&job))))
    }

    /// Inline only without a device ([`Inner::inline_software`]).
    fn compress_inline(
        &self,
        input: &[u8],
        dict: Option<&Dictionary>,
        out: &mut Vec<u8>,
    ) -> Option<Result<Compressed, JobStatus>> {
        let software = self.inner.inline_software()?;
        let done = software.compress_into(input, dict, out);
        let block_len = done.as_ref().map_or(0, |done| done.block_len);
        self.inner.software_stats.count(input.len(), block_len);
        Some(done)
    }

    /// Inline only without a device ([`Inner::inline_software`]).
    fn decompress_inline(
        &self,
        block: &[u8],
        raw_len: usize,
        dict: Option<&Dictionary>,
        out: &mut Vec<u8>,
    ) -> Option<Result<u64, JobStatus>> {
        let software = self.inner.inline_software()?;
        let done = software.decompress_into(block, raw_len, dict, out);
        let written = if done.is_ok() { raw_len } else { 0 };
        self.inner
            .software_stats
            .count(raw_len.max(block.len()), written);
        Some(done)
    }

    fn stats(&self) -> Vec<CodecStat> {
        let inner = &self.inner;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        let software = inner.software_stats.counts.totals();
        let mut out = vec![
            ("lz_accel".into(), inner.name.clone()),
            ("lz_sw_jobs".into(), software.jobs.to_string()),
            ("lz_sw_bytes_in".into(), software.bytes_in.to_string()),
            ("lz_sw_bytes_out".into(), software.bytes_out.to_string()),
            (
                "lz_sw_latency_us".into(),
                inner.software_stats.average_micros().to_string(),
            ),
        ];
        if let Some(device) = &inner.device {
            let dev = inner.device_stats.counts.totals();
            out.extend([
                ("lz_dev_state".into(), inner.breaker_state().to_string()),
                ("lz_dev_jobs".into(), dev.jobs.to_string()),
                ("lz_dev_bytes_in".into(), dev.bytes_in.to_string()),
                ("lz_dev_bytes_out".into(), dev.bytes_out.to_string()),
                (
                    "lz_dev_latency_us".into(),
                    inner.device_stats.average_micros().to_string(),
                ),
                (
                    "lz_dev_queue_depth".into(),
                    device.queue_depth().to_string(),
                ),
                ("lz_dev_fallbacks".into(), load(&inner.faults.fallbacks)),
                ("lz_dev_busy".into(), load(&inner.faults.busy)),
                ("lz_dev_errors".into(), load(&inner.faults.errors)),
                ("lz_dev_timeouts".into(), load(&inner.faults.timeouts)),
                (
                    "lz_dev_crc_mismatches".into(),
                    load(&inner.faults.crc_mismatches),
                ),
                ("lz_dev_verified".into(), load(&inner.faults.verified)),
                (
                    "lz_dev_verify_failures".into(),
                    load(&inner.faults.verify_failures),
                ),
                (
                    "lz_dev_damaged_values".into(),
                    load(&inner.faults.damaged_values),
                ),
                ("lz_dev_breaker_trips".into(), load(&inner.faults.trips)),
            ]);
            out.extend(device.stats());
        }
        out
    }
}
