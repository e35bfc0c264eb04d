//! The dispatcher against a fake device whose every answer the test chooses: right, wrong,
//! an error status, a missed deadline, busy, declined, or held until the test releases it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::codec::Completer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Right,
    ErrorStatus,
    /// One output bit flipped (the CRC it reports stays right).
    Corrupt,
    Timeout,
    Busy,
    /// Not answered until [`FakeDevice::release`].
    Hold,
    /// Answered as a job the device does not run (`Unsupported`).
    Declined,
}

struct FakeDevice {
    mode: Mutex<Mode>,
    held: Mutex<Vec<(Job, Completer)>>,
    submitted: AtomicUsize,
}

impl FakeDevice {
    fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode: Mutex::new(mode),
            held: Mutex::new(Vec::new()),
            submitted: AtomicUsize::new(0),
        })
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn submitted(&self) -> usize {
        self.submitted.load(Ordering::Relaxed)
    }

    fn answer(job: &Job, mode: Mode) -> Outcome {
        let mut done = SoftwareCodec::new().execute(job);
        match mode {
            Mode::ErrorStatus => done.status = JobStatus::DeviceError,
            Mode::Corrupt => {
                let mut bytes = done.output.to_vec();
                let middle = bytes.len() / 2;
                if let Some(b) = bytes.get_mut(middle) {
                    *b ^= 0x10;
                }
                done.output = bytes.into();
            }
            Mode::Timeout => return Err(CodecError::Timeout(Duration::from_millis(5))),
            Mode::Declined => done.status = JobStatus::Unsupported,
            Mode::Right | Mode::Busy | Mode::Hold => {}
        }
        Ok(done)
    }

    /// Answers the held jobs, rightly, in the order of `order` (indices into the held list).
    fn release(&self, order: &[usize]) {
        let mut held: Vec<Option<(Job, Completer)>> =
            self.held.lock().unwrap().drain(..).map(Some).collect();
        for &i in order {
            let (job, completer) = held[i].take().expect("each held job released once");
            completer.complete(Self::answer(&job, Mode::Right));
        }
        assert!(
            held.iter().all(Option::is_none),
            "a held job was not released"
        );
    }
}

impl Codec for FakeDevice {
    fn name(&self) -> &str {
        "fake"
    }

    fn submit(&self, job: Job) -> Result<Pending, CodecError> {
        let mode = *self.mode.lock().unwrap();
        if mode == Mode::Busy {
            return Err(CodecError::Busy);
        }
        self.submitted.fetch_add(1, Ordering::Relaxed);
        if mode == Mode::Hold {
            let (completer, pending) = Pending::channel();
            self.held.lock().unwrap().push((job, completer));
            return Ok(pending);
        }
        Ok(Pending::ready(Self::answer(&job, mode)))
    }
}

impl Accelerator for FakeDevice {
    fn max_job(&self) -> usize {
        64 << 10
    }

    fn queue_depth(&self) -> usize {
        self.held.lock().unwrap().len()
    }

    /// Like a CacheAccelerator: compression with a preset dictionary too.
    fn takes(&self, job: &Job) -> bool {
        job.dict.is_none() || matches!(job.op, JobOp::Compress)
    }
}

fn dispatcher(device: &Arc<FakeDevice>, verify: f64, backoff: Duration) -> Dispatcher {
    let device: Arc<dyn Accelerator> = device.clone();
    Dispatcher::new(
        Some(device),
        DispatchConfig {
            prefer: Prefer::Device,
            verify,
            backoff,
        },
    )
}

fn stat(d: &Dispatcher, name: &str) -> u64 {
    let stats = d.stats();
    stats
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no stat {name}"))
        .1
        .parse()
        .unwrap()
}

fn text(i: usize) -> Vec<u8> {
    format!("value {i}: the quick brown fox jumps over the lazy dog; ")
        .repeat(8)
        .into_bytes()
}

/// Compresses through `d` and checks the block decodes to the input.
fn compress_ok(d: &Dispatcher, raw: &[u8]) -> Completion {
    let done = d
        .run(Job::compress(7, raw.to_vec()))
        .expect("never an error");
    assert_eq!(done.status, JobStatus::Ok);
    assert_eq!(done.crc64, crc64::checksum(raw));
    let back = lz4_flex::block::decompress(&done.output, raw.len()).unwrap();
    assert_eq!(back, raw);
    done
}

#[test]
fn right_answers_are_used_and_the_verified_share_is_exact() {
    for (verify, jobs, expected) in [
        (1.0, 200, 200),
        (0.5, 400, 200),
        (0.25, 1000, 250),
        (0.1, 1000, 100),
        (0.0, 300, 0),
    ] {
        let device = FakeDevice::new(Mode::Right);
        let d = dispatcher(&device, verify, Duration::ZERO);
        for i in 0..jobs {
            compress_ok(&d, &text(i));
        }
        assert_eq!(device.submitted(), jobs);
        assert_eq!(stat(&d, "lz_dev_jobs"), jobs as u64);
        assert_eq!(stat(&d, "lz_sw_jobs"), 0);
        assert_eq!(stat(&d, "lz_dev_verified"), expected, "verify {verify}");
        assert_eq!(stat(&d, "lz_dev_fallbacks"), 0);
    }
}

#[test]
fn a_device_error_is_redone_in_software_and_opens_the_breaker_until_a_probe_succeeds() {
    let device = FakeDevice::new(Mode::ErrorStatus);
    let d = dispatcher(&device, 1.0, Duration::from_secs(3600));
    compress_ok(&d, &text(1));
    assert_eq!(stat(&d, "lz_dev_errors"), 1);
    assert_eq!(stat(&d, "lz_sw_jobs"), 1);
    assert_eq!(stat(&d, "lz_dev_breaker_trips"), 1);
    assert_eq!(d.inner.breaker_state(), "open");
    // While open, nothing reaches the device.
    device.set(Mode::Right);
    for i in 0..10 {
        compress_ok(&d, &text(i));
    }
    assert_eq!(device.submitted(), 1);
    assert_eq!(stat(&d, "lz_sw_jobs"), 11);

    // With no back-off the next job probes, succeeds and closes the breaker.
    let device = FakeDevice::new(Mode::ErrorStatus);
    let d = dispatcher(&device, 1.0, Duration::ZERO);
    compress_ok(&d, &text(1));
    device.set(Mode::Right);
    compress_ok(&d, &text(2));
    assert_eq!(d.inner.breaker_state(), "closed");
    assert_eq!(device.submitted(), 2);
    assert_eq!(stat(&d, "lz_dev_jobs"), 1);
}

#[test]
fn a_probe_that_ends_without_a_verdict_hands_the_probe_to_the_next_job() {
    // Declined (a dictionary the device does not hold), refused as busy, or given up by its
    // caller before the device answered: none says whether the device works again.
    for undecided in [Mode::Declined, Mode::Busy, Mode::Hold] {
        let device = FakeDevice::new(Mode::ErrorStatus);
        let d = dispatcher(&device, 1.0, Duration::ZERO);
        compress_ok(&d, &text(1));
        assert_eq!(d.inner.breaker_state(), "open");
        device.set(undecided);
        if undecided == Mode::Hold {
            let probe = d.submit(Job::compress(7, text(2))).unwrap();
            assert_eq!(d.inner.breaker_state(), "probing");
            // One probe at a time: meanwhile the others run in software.
            compress_ok(&d, &text(3));
            assert_eq!(device.submitted(), 2);
            drop(probe);
        } else {
            compress_ok(&d, &text(2));
        }
        assert_eq!(d.inner.breaker_state(), "open", "after {undecided:?}");
        device.set(Mode::Right);
        let before = device.submitted();
        compress_ok(&d, &text(4));
        assert_eq!(device.submitted(), before + 1, "after {undecided:?}");
        assert_eq!(d.inner.breaker_state(), "closed", "after {undecided:?}");
    }
}

#[test]
fn a_job_sent_to_software_by_choice_leaves_the_probe_to_one_bound_for_the_device() {
    let device = FakeDevice::new(Mode::ErrorStatus);
    let accelerator: Arc<dyn Accelerator> = device.clone();
    let d = Dispatcher::new(
        Some(accelerator),
        DispatchConfig {
            prefer: Prefer::Fastest,
            verify: 1.0,
            backoff: Duration::ZERO,
        },
    );
    // The device looks far slower than software: only the exploring job of every 64 (the
    // first, then the 65th) goes to it.
    d.inner.device_stats.time(4096, Duration::from_secs(10));
    d.inner.software_stats.time(4096, Duration::from_micros(1));
    compress_ok(&d, &text(0));
    assert_eq!(device.submitted(), 1);
    assert_eq!(d.inner.breaker_state(), "open");
    device.set(Mode::Right);
    for i in 1..64 {
        compress_ok(&d, &text(i));
    }
    assert_eq!(device.submitted(), 1);
    assert_eq!(d.inner.breaker_state(), "open");
    // The next exploring job probes, and the device's right answer closes the breaker.
    compress_ok(&d, &text(64));
    assert_eq!(device.submitted(), 2);
    assert_eq!(d.inner.breaker_state(), "closed");
}

#[test]
fn wrong_answers_are_caught_and_never_returned() {
    let raw = text(3);
    let block = SoftwareCodec::new()
        .execute(&Job::compress(0, raw.clone()))
        .output;
    let crc = crc64::checksum(&raw);

    // A corrupted compressed block fails verification; software's block is returned.
    let device = FakeDevice::new(Mode::Corrupt);
    let d = dispatcher(&device, 1.0, Duration::ZERO);
    let done = compress_ok(&d, &raw);
    assert_eq!(done.output, block);
    assert_eq!(stat(&d, "lz_dev_verify_failures"), 1);

    // A corrupted decompressed value fails the CRC; software's bytes are returned.
    let done = d
        .run(Job::decompress(1, block.clone(), raw.len(), crc))
        .unwrap();
    assert!(done.is_good());
    assert_eq!(&done.output[..], &raw[..]);
    assert_eq!(stat(&d, "lz_dev_crc_mismatches"), 1);
    assert_eq!(stat(&d, "lz_dev_fallbacks"), 2);
}

#[test]
fn a_missed_deadline_or_a_full_queue_goes_to_software() {
    let device = FakeDevice::new(Mode::Timeout);
    let d = dispatcher(&device, 1.0, Duration::ZERO);
    compress_ok(&d, &text(1));
    assert_eq!(stat(&d, "lz_dev_timeouts"), 1);
    assert_eq!(stat(&d, "lz_dev_breaker_trips"), 1);

    // Busy is no fault: the job goes to software and the breaker stays closed.
    let device = FakeDevice::new(Mode::Busy);
    let d = dispatcher(&device, 1.0, Duration::from_secs(3600));
    for i in 0..5 {
        compress_ok(&d, &text(i));
    }
    assert_eq!(stat(&d, "lz_dev_busy"), 5);
    assert_eq!(stat(&d, "lz_dev_breaker_trips"), 0);
    assert_eq!(d.inner.breaker_state(), "closed");
    assert_eq!(stat(&d, "lz_sw_jobs"), 5);
}

#[test]
fn a_damaged_value_the_device_refuses_is_no_device_fault() {
    let device = FakeDevice::new(Mode::Right);
    let d = dispatcher(&device, 1.0, Duration::from_secs(3600));
    // Not an LZ4 block: the device says so, software agrees.
    let done = d.run(Job::decompress(1, vec![0xF0, 1, 2], 100, 0)).unwrap();
    assert!(!done.is_good());
    assert_eq!(stat(&d, "lz_dev_errors"), 0);
    assert_eq!(d.inner.breaker_state(), "closed");
    assert_eq!(stat(&d, "lz_sw_jobs"), 1);
}

fn poll_once(pending: &mut Pending) -> Poll<Outcome> {
    Pin::new(pending).poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn held_jobs_stay_pending_and_resolve_to_their_own_answers_in_any_order() {
    let device = FakeDevice::new(Mode::Hold);
    let d = dispatcher(&device, 1.0, Duration::ZERO);
    let inputs: Vec<Vec<u8>> = (0..8).map(text).collect();
    let mut pendings: Vec<Pending> = inputs
        .iter()
        .map(|raw| d.submit(Job::compress(0, raw.clone())).unwrap())
        .collect();
    for pending in &mut pendings {
        assert!(poll_once(pending).is_pending());
    }
    assert_eq!(stat(&d, "lz_dev_queue_depth"), 8);
    // Software keeps serving while the device holds its jobs.
    device.set(Mode::Busy);
    compress_ok(&d, &text(99));
    device.release(&[5, 2, 7, 0, 1, 6, 3, 4]);
    for (pending, raw) in pendings.into_iter().zip(&inputs) {
        let done = pending.wait().unwrap();
        let back = lz4_flex::block::decompress(&done.output, raw.len()).unwrap();
        assert_eq!(&back, raw);
    }
    assert_eq!(stat(&d, "lz_dev_jobs"), 8);
}

#[test]
fn dictionary_blocks_are_verified_with_their_dictionary() {
    let content: Vec<u8> = (0..20).flat_map(text).collect();
    let dict = Arc::new(crate::Dictionary::new(3, content).unwrap());
    let raw = text(25);
    let job = || Job::compress(7, raw.clone()).with_dict(Some(Arc::clone(&dict)));
    let device = FakeDevice::new(Mode::Right);
    let d = dispatcher(&device, 1.0, Duration::ZERO);

    // A right block made with the dictionary passes verification (decoded with it) and is
    // used: it needs the dictionary.
    let done = d.run(job()).unwrap();
    assert_eq!(done.status, JobStatus::Ok);
    assert_eq!(dict.decompress(&done.output, raw.len()), Some(raw.clone()));
    assert_ne!(
        lz4_flex::block::decompress(&done.output, raw.len()).ok(),
        Some(raw.clone())
    );
    assert_eq!(
        (stat(&d, "lz_dev_jobs"), stat(&d, "lz_dev_verified")),
        (1, 1)
    );
    assert_eq!(stat(&d, "lz_dev_verify_failures"), 0);

    // A corrupted one fails it; software's block is returned.
    device.set(Mode::Corrupt);
    let done = d.run(job()).unwrap();
    assert_eq!(dict.decompress(&done.output, raw.len()), Some(raw.clone()));
    assert_eq!(stat(&d, "lz_dev_verify_failures"), 1);
    assert_eq!(stat(&d, "lz_dev_fallbacks"), 1);
}

#[test]
fn work_runs_inline_without_a_device_and_as_jobs_with_one() {
    let raw = text(3);
    let software = Dispatcher::software();
    let mut out = Vec::new();
    let done = software
        .compress_inline(&raw, None, &mut out)
        .expect("no device: inline")
        .expect("compresses");
    assert_eq!(done.crc64, crc64::checksum(&raw));
    let mut back = Vec::new();
    let crc = software
        .decompress_inline(&out, raw.len(), None, &mut back)
        .expect("no device: inline")
        .expect("decodes");
    assert_eq!((crc, &back[..]), (done.crc64, &raw[..]));
    // Both count as software jobs, as submitted ones do.
    assert_eq!(stat(&software, "lz_sw_jobs"), 2);
    assert_eq!(
        stat(&software, "lz_sw_bytes_out"),
        (done.block_len + raw.len()) as u64
    );

    // With a device every job is the dispatcher's choice: the caller submits.
    let device = FakeDevice::new(Mode::Right);
    let d = dispatcher(&device, 0.0, Duration::from_secs(1));
    assert!(d.compress_inline(&raw, None, &mut Vec::new()).is_none());
    assert!(d
        .decompress_inline(&out, raw.len(), None, &mut Vec::new())
        .is_none());
    assert_eq!(stat(&d, "lz_sw_jobs"), 0);
}
