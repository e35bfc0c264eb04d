//! The codec API: jobs, completions and the trait every backend implements.
//!
//! A job's input and a completion's output are [`Bytes`]: a value travels from the server's
//! buffer to a device link and back by reference count, not by copy. Where copies remain they
//! are counted in the docs of the path that makes them ([`crate::device`], [`crate::dispatch`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::oneshot;

use crate::dict::Dictionary;

/// What a job asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOp {
    /// Compress the input into one LZ4 block; the completion carries the CRC of the input.
    Compress,
    /// Decompress one LZ4 block that must produce exactly `raw_len` bytes whose CRC-64/NVME is
    /// `expected_crc`. The completion says whether the CRC matched.
    Decompress { raw_len: usize, expected_crc: u64 },
    /// Only compute the CRC-64/NVME of the input.
    Checksum,
}

/// One unit of work. The tag is chosen by the submitter and comes back in the completion, so a
/// device that completes out of order can still be matched up. Cloning a job shares its input.
#[derive(Debug, Clone)]
pub struct Job {
    pub tag: u64,
    pub op: JobOp,
    pub input: Bytes,
    /// The preset dictionary the block is (to be) made with: its matches may reach into it.
    pub dict: Option<Arc<Dictionary>>,
}

impl Job {
    pub fn compress(tag: u64, input: impl Into<Bytes>) -> Self {
        Self {
            tag,
            op: JobOp::Compress,
            input: input.into(),
            dict: None,
        }
    }

    pub fn decompress(
        tag: u64,
        block: impl Into<Bytes>,
        raw_len: usize,
        expected_crc: u64,
    ) -> Self {
        Self {
            tag,
            op: JobOp::Decompress {
                raw_len,
                expected_crc,
            },
            input: block.into(),
            dict: None,
        }
    }

    pub fn checksum(tag: u64, input: impl Into<Bytes>) -> Self {
        Self {
            tag,
            op: JobOp::Checksum,
            input: input.into(),
            dict: None,
        }
    }

    /// The same job with its block made with (or decoded against) `dict`.
    pub fn with_dict(mut self, dict: Option<Arc<Dictionary>>) -> Self {
        self.dict = dict;
        self
    }

    /// The larger of the input and the expected output: what a job's cost and deadline scale
    /// with.
    pub fn size(&self) -> usize {
        match self.op {
            JobOp::Decompress { raw_len, .. } => raw_len.max(self.input.len()),
            _ => self.input.len(),
        }
    }
}

/// How a job ended. Everything but `Ok` and `Incompressible` means the output must not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// The job did what it was asked.
    Ok,
    /// Compression produced a block no smaller than the input; the output holds that block
    /// anyway, and the caller usually stores the value raw instead.
    Incompressible,
    /// The input is not a valid LZ4 block (bad offset, truncated sequence, trailing bytes…).
    Malformed,
    /// The block decodes to more or fewer bytes than the expected raw length.
    LengthMismatch,
    /// The job exceeds a limit of the backend (input or output too large).
    TooLarge,
    /// The device reported an internal error.
    DeviceError,
    /// The backend cannot run this kind of job (a block with a preset dictionary on a device
    /// that loads none).
    Unsupported,
}

/// The answer to a job.
#[derive(Debug, Clone)]
pub struct Completion {
    pub tag: u64,
    pub status: JobStatus,
    /// Compressed block, raw bytes, or empty for a checksum job or an error.
    pub output: Bytes,
    /// CRC-64/NVME of the raw data: the input of a compress or checksum job, the output of a
    /// decompress job.
    pub crc64: u64,
    /// For a decompress job: the output's CRC equals the expected one. Always true otherwise.
    pub crc_valid: bool,
}

impl Completion {
    /// True when the output may be used (for decompression, this includes the CRC check).
    pub fn is_good(&self) -> bool {
        matches!(self.status, JobStatus::Ok | JobStatus::Incompressible) && self.crc_valid
    }

    /// A completion that carries no output: a job refused or failed by the backend.
    pub fn failed(tag: u64, status: JobStatus) -> Self {
        Self {
            tag,
            status,
            output: Bytes::new(),
            crc64: 0,
            crc_valid: false,
        }
    }
}

/// What an inline compression ([`Codec::compress_inline`]) appended to its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compressed {
    /// Bytes of the block.
    pub block_len: usize,
    /// CRC-64/NVME of the input.
    pub crc64: u64,
}

impl Compressed {
    /// How a compress job with this block would end.
    pub fn status(&self, input_len: usize) -> JobStatus {
        if self.block_len >= input_len {
            JobStatus::Incompressible
        } else {
            JobStatus::Ok
        }
    }
}

/// Failures of the transport, as opposed to a job that completed with a bad status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("codec backend is busy (queue full)")]
    Busy,
    #[error("codec backend did not complete the job within {0:?}")]
    Timeout(Duration),
    #[error("codec backend {0} is gone")]
    Disconnected(String),
    #[error("codec backend I/O error: {0}")]
    Io(String),
}

impl From<std::io::Error> for CodecError {
    fn from(err: std::io::Error) -> Self {
        Self::Io(err.to_string())
    }
}

/// What a submitted job ends in.
pub type Outcome = Result<Completion, CodecError>;

/// A submitted job whose completion may not have arrived yet. It is a [`Future`], so an event
/// loop awaits it while serving other work, and it can be waited on by a thread that has
/// nothing else to do ([`Pending::wait`]). It always resolves: a backend that cannot answer
/// resolves it with an error by its own deadline.
pub struct Pending {
    state: PendingState,
}

enum PendingState {
    Ready(Option<Outcome>),
    Channel(oneshot::Receiver<Outcome>),
    Future(Pin<Box<dyn Future<Output = Outcome> + Send>>),
}

/// The backend's side of a [`Pending`]: resolving it wakes whoever awaits the job.
pub struct Completer {
    sender: oneshot::Sender<Outcome>,
}

impl Completer {
    /// Resolves the job. A caller that went away (its connection closed) is not an error.
    pub fn complete(self, outcome: Outcome) {
        let _ = self.sender.send(outcome);
    }
}

impl Pending {
    /// A job that completed during submission (the software backend does this).
    pub fn ready(outcome: Outcome) -> Self {
        Self {
            state: PendingState::Ready(Some(outcome)),
        }
    }

    /// A job that a backend thread will complete through the returned [`Completer`].
    pub fn channel() -> (Completer, Self) {
        let (sender, receiver) = oneshot::channel();
        (
            Completer { sender },
            Self {
                state: PendingState::Channel(receiver),
            },
        )
    }

    /// A job whose outcome is computed by a future (a dispatcher that checks a device answer
    /// and falls back to software does this).
    pub fn from_future(future: impl Future<Output = Outcome> + Send + 'static) -> Self {
        Self {
            state: PendingState::Future(Box::pin(future)),
        }
    }

    /// True when the outcome is already known (no waiting involved).
    pub fn is_ready(&self) -> bool {
        matches!(self.state, PendingState::Ready(_))
    }

    /// Blocks the calling thread until the job resolves. For tools and tests; the server
    /// awaits instead.
    pub fn wait(self) -> Outcome {
        match self.state {
            // No executor for an answer already here (the software backend's every job).
            PendingState::Ready(Some(outcome)) => outcome,
            _ => futures_executor::block_on(self),
        }
    }
}

impl Future for Pending {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.get_mut();
        match &mut this.state {
            PendingState::Ready(outcome) => Poll::Ready(
                outcome
                    .take()
                    .unwrap_or_else(|| Err(CodecError::Disconnected("(polled twice)".into()))),
            ),
            PendingState::Channel(receiver) => Pin::new(receiver).poll(cx).map(|received| {
                received.unwrap_or_else(|_| Err(CodecError::Disconnected("(job dropped)".into())))
            }),
            PendingState::Future(future) => future.as_mut().poll(cx),
        }
    }
}

/// One line of a backend's statistics: name and value.
pub type CodecStat = (String, String);

/// A compression and checksum engine. Implementations are shared between server threads.
pub trait Codec: Send + Sync {
    /// A short name for logs and stats (`software`, `sim`, `xdma:0`).
    fn name(&self) -> &str;

    /// Hands a job to the backend. Never blocks: a backend that cannot take more work returns
    /// `Busy` so the caller can choose another path, and a job taken is answered by the
    /// backend's own deadline at the latest.
    fn submit(&self, job: Job) -> Result<Pending, CodecError>;

    /// Compresses `input` (with `dict` if given) on the calling thread, appending the block to
    /// `out`, a buffer the caller reuses — when this backend would run the job in software
    /// anyway. The server stores values this way: no job, no output buffer per value, no
    /// completion. `None` (the default) means "submit a job instead"; on `Some(Err(_))` `out` is
    /// as it was. See [`crate::SoftwareCodec::compress_into`].
    fn compress_inline(
        &self,
        _input: &[u8],
        _dict: Option<&Dictionary>,
        _out: &mut Vec<u8>,
    ) -> Option<Result<Compressed, JobStatus>> {
        None
    }

    /// Decodes `block` to its `raw_len` bytes (with `dict` as its history if given) on the
    /// calling thread, appending them to `out` and returning their CRC-64 for the caller to
    /// check — when this backend would run the job in software anyway. The server serves a
    /// small compressed value this way, from the store straight into the reply. `None` (the
    /// default) means "submit a job instead"; on `Some(Err(_))` `out` is as it was. See
    /// [`crate::SoftwareCodec::decompress_into`].
    fn decompress_inline(
        &self,
        _block: &[u8],
        _raw_len: usize,
        _dict: Option<&Dictionary>,
        _out: &mut Vec<u8>,
    ) -> Option<Result<u64, JobStatus>> {
        None
    }

    /// Submits and blocks until the job resolves: for tools and tests.
    fn run(&self, job: Job) -> Outcome {
        self.submit(job)?.wait()
    }

    /// Counters for the server's `stats` command (none by default).
    fn stats(&self) -> Vec<CodecStat> {
        Vec::new()
    }
}
