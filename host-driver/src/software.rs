//! The software backend: `lz4_flex` for the LZ4 block format, `crc-fast` for CRC-64/NVME, and
//! liblz4 for blocks with a preset dictionary ([`crate::dict`]).
//!
//! It completes every job inline during [`Codec::submit`]. lz4_flex is built with its fast
//! (internally `unsafe`) block code and its `checked-decode` bounds checks: a malformed block is
//! an error, never a read or write out of bounds (the property tests feed it random blocks).
//! The safe-only build measured 10-25 % slower (`make bench`).

use bytes::Bytes;

use lz4_flex::block::{get_maximum_output_size, DecompressError};

use crate::codec::{Codec, CodecError, Completion, Compressed, Job, JobOp, JobStatus, Pending};
use crate::crc64;
use crate::dict::Dictionary;

/// The largest raw value the software path accepts; far above any item size the server allows,
/// it only keeps a hostile expected length from allocating without bound.
pub const MAX_RAW_LEN: usize = 1 << 30;

/// The reference codec. Stateless, so one instance serves every thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct SoftwareCodec;

impl SoftwareCodec {
    pub fn new() -> Self {
        Self
    }

    /// Runs one job to completion on the calling thread.
    pub fn execute(&self, job: &Job) -> Completion {
        match job.op {
            JobOp::Compress => compress(job),
            JobOp::Decompress {
                raw_len,
                expected_crc,
            } => decompress(job, raw_len, expected_crc),
            JobOp::Checksum => Completion {
                tag: job.tag,
                status: JobStatus::Ok,
                output: Bytes::new(),
                crc64: crc64::checksum(&job.input),
                crc_valid: true,
            },
        }
    }

    /// A compress job without the job: appends one LZ4 block of `input` (made with `dict` if
    /// given) to `out`, a buffer the caller reuses, and says how long it is and the CRC-64 of
    /// `input`. The block may be no shorter than `input` (the caller then keeps `input` raw).
    /// On an error `out` is as it was.
    pub fn compress_into(
        &self,
        input: &[u8],
        dict: Option<&Dictionary>,
        out: &mut Vec<u8>,
    ) -> Result<Compressed, JobStatus> {
        let block_len = match dict {
            Some(dict) => dict.compress_into(input, out).ok_or(JobStatus::TooLarge)?,
            None => {
                let start = out.len();
                out.resize(start + get_maximum_output_size(input.len()), 0);
                match lz4_flex::block::compress_into(input, &mut out[start..]) {
                    Ok(len) => {
                        out.truncate(start + len);
                        len
                    }
                    Err(_) => {
                        out.truncate(start);
                        return Err(JobStatus::TooLarge);
                    }
                }
            }
        };
        Ok(Compressed {
            block_len,
            crc64: crc64::checksum(input),
        })
    }

    /// A decompress job without the job: appends the `raw_len` bytes `block` decodes to (with
    /// `dict` as its history if given) to `out` and returns their CRC-64, which the caller
    /// compares with the one it keeps. On an error `out` is as it was.
    pub fn decompress_into(
        &self,
        block: &[u8],
        raw_len: usize,
        dict: Option<&Dictionary>,
        out: &mut Vec<u8>,
    ) -> Result<u64, JobStatus> {
        if raw_len > MAX_RAW_LEN {
            return Err(JobStatus::TooLarge);
        }
        let start = out.len();
        match dict {
            Some(dict) => {
                if !dict.decompress_into(block, raw_len, out) {
                    // liblz4 does not say why; the length is checked on the block's own terms.
                    return Err(JobStatus::Malformed);
                }
            }
            None => {
                // `decompress_into` fails rather than write past the `raw_len` bytes it is given.
                out.resize(start + raw_len, 0);
                let status = match lz4_flex::block::decompress_into(block, &mut out[start..]) {
                    Ok(len) if len == raw_len => None,
                    Ok(_) => Some(JobStatus::LengthMismatch),
                    Err(err) => Some(flex_error_status(err)),
                };
                if let Some(status) = status {
                    out.truncate(start);
                    return Err(status);
                }
            }
        }
        Ok(crc64::checksum(&out[start..]))
    }
}

fn compress(job: &Job) -> Completion {
    let (block, done) = match job.dict.as_deref() {
        // lz4_flex sizes and fills its own buffer (not zeroed first, as `compress_into`'s is).
        None => {
            let block = lz4_flex::block::compress(&job.input);
            let done = Compressed {
                block_len: block.len(),
                crc64: crc64::checksum(&job.input),
            };
            (block, done)
        }
        dict => {
            let mut block = Vec::new();
            match SoftwareCodec.compress_into(&job.input, dict, &mut block) {
                Ok(done) => (block, done),
                Err(status) => return Completion::failed(job.tag, status),
            }
        }
    };
    Completion {
        tag: job.tag,
        status: done.status(job.input.len()),
        output: Bytes::from(block),
        crc64: done.crc64,
        crc_valid: true,
    }
}

fn decompress(job: &Job, raw_len: usize, expected_crc: u64) -> Completion {
    let decoded = match job.dict.as_deref() {
        // lz4_flex sizes its output to `raw_len` (not zeroed first, as `decompress_into`'s is)
        // and fails rather than write past it.
        None if raw_len <= MAX_RAW_LEN => match lz4_flex::block::decompress(&job.input, raw_len) {
            Ok(output) if output.len() == raw_len => {
                let crc = crc64::checksum(&output);
                Ok((output, crc))
            }
            Ok(_) => Err(JobStatus::LengthMismatch),
            Err(err) => Err(flex_error_status(err)),
        },
        dict => {
            let mut output = Vec::new();
            SoftwareCodec
                .decompress_into(&job.input, raw_len, dict, &mut output)
                .map(|crc| (output, crc))
        }
    };
    match decoded {
        Ok((output, crc)) => Completion {
            tag: job.tag,
            status: JobStatus::Ok,
            output: Bytes::from(output),
            crc64: crc,
            crc_valid: crc == expected_crc,
        },
        Err(status) => Completion::failed(job.tag, status),
    }
}

/// A block lz4_flex refused: one that needs more room than the raw length is the wrong length.
fn flex_error_status(err: DecompressError) -> JobStatus {
    match err {
        DecompressError::OutputTooSmall { .. } => JobStatus::LengthMismatch,
        _ => JobStatus::Malformed,
    }
}

impl Codec for SoftwareCodec {
    fn name(&self) -> &str {
        "software"
    }

    fn compress_inline(
        &self,
        input: &[u8],
        dict: Option<&Dictionary>,
        out: &mut Vec<u8>,
    ) -> Option<Result<Compressed, JobStatus>> {
        Some(self.compress_into(input, dict, out))
    }

    fn decompress_inline(
        &self,
        block: &[u8],
        raw_len: usize,
        dict: Option<&Dictionary>,
        out: &mut Vec<u8>,
    ) -> Option<Result<u64, JobStatus>> {
        Some(self.decompress_into(block, raw_len, dict, out))
    }

    fn submit(&self, job: Job) -> Result<Pending, CodecError> {
        Ok(Pending::ready(Ok(self.execute(&job))))
    }
}
