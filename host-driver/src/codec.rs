//! The codec API: jobs, completions and the trait every backend implements.

use std::sync::mpsc;
use std::time::Duration;

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
/// device that completes out of order can still be matched up.
#[derive(Debug, Clone)]
pub struct Job {
    pub tag: u64,
    pub op: JobOp,
    pub input: Vec<u8>,
}

impl Job {
    pub fn compress(tag: u64, input: Vec<u8>) -> Self {
        Self {
            tag,
            op: JobOp::Compress,
            input,
        }
    }

    pub fn decompress(tag: u64, block: Vec<u8>, raw_len: usize, expected_crc: u64) -> Self {
        Self {
            tag,
            op: JobOp::Decompress {
                raw_len,
                expected_crc,
            },
            input: block,
        }
    }

    pub fn checksum(tag: u64, input: Vec<u8>) -> Self {
        Self {
            tag,
            op: JobOp::Checksum,
            input,
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
}

/// The answer to a job.
#[derive(Debug, Clone)]
pub struct Completion {
    pub tag: u64,
    pub status: JobStatus,
    /// Compressed block, raw bytes, or empty for a checksum job or an error.
    pub output: Vec<u8>,
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
}

/// Failures of the transport, as opposed to a job that completed with a bad status.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("codec backend is busy (queue full)")]
    Busy,
    #[error("codec backend did not complete the job within {0:?}")]
    Timeout(Duration),
    #[error("codec backend is gone: {0}")]
    Disconnected(String),
    #[error("codec backend I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A submitted job whose completion may not have arrived yet.
pub struct Pending {
    state: PendingState,
}

enum PendingState {
    Ready(Completion),
    Waiting(mpsc::Receiver<Completion>),
}

impl Pending {
    /// A job that completed during submission (the software backend does this).
    pub fn ready(completion: Completion) -> Self {
        Self {
            state: PendingState::Ready(completion),
        }
    }

    /// A job whose completion will be sent on `receiver` by a backend thread.
    pub fn waiting(receiver: mpsc::Receiver<Completion>) -> Self {
        Self {
            state: PendingState::Waiting(receiver),
        }
    }

    /// The completion, if it has arrived, without blocking; `Err(self)` otherwise.
    pub fn try_take(self) -> Result<Completion, Self> {
        match self.state {
            PendingState::Ready(c) => Ok(c),
            PendingState::Waiting(rx) => match rx.try_recv() {
                Ok(c) => Ok(c),
                Err(_) => Err(Self {
                    state: PendingState::Waiting(rx),
                }),
            },
        }
    }

    /// Blocks until the completion arrives or `timeout` passes.
    pub fn wait(self, timeout: Duration) -> Result<Completion, CodecError> {
        match self.state {
            PendingState::Ready(c) => Ok(c),
            PendingState::Waiting(rx) => rx.recv_timeout(timeout).map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => CodecError::Timeout(timeout),
                mpsc::RecvTimeoutError::Disconnected => {
                    CodecError::Disconnected("completion channel closed".into())
                }
            }),
        }
    }
}

/// One line of a backend's statistics: name and value.
pub type CodecStat = (String, String);

/// A compression and checksum engine. Implementations are shared between server threads.
pub trait Codec: Send + Sync {
    /// A short name for logs and stats (`software`, `sim`, `xdma:0`).
    fn name(&self) -> &str;

    /// Hands a job to the backend. Returns `Busy` rather than blocking when the backend cannot
    /// take more work, so the caller can choose another path.
    fn submit(&self, job: Job) -> Result<Pending, CodecError>;

    /// Submits and waits: the convenience most callers want.
    fn run(&self, job: Job, timeout: Duration) -> Result<Completion, CodecError> {
        self.submit(job)?.wait(timeout)
    }

    /// Counters for the server's `stats` command (none by default).
    fn stats(&self) -> Vec<CodecStat> {
        Vec::new()
    }
}
