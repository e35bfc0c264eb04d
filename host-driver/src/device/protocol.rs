//! Job and result frames of the CacheAccelerator: encoding a job for the host-to-card stream
//! and decoding a result from the card-to-host stream. Pure functions over bytes, shared by
//! every transport.

use super::defs::*;
use crate::codec::{JobOp, JobStatus};

/// Bytes of a stream beat, and of a job or result header.
pub const BEAT_BYTES: usize = 64;

/// One job as the device sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobHeader {
    pub opcode: u8,
    pub tag: u32,
    pub input_len: u32,
    pub raw_len: u32,
    pub expected_crc: u64,
    /// Compress, decompress: the preset dictionary the block is or was made with (0: none).
    /// Load: its id.
    pub dict_id: u32,
    /// Load: the engine, of the kind `load_compress` says, that takes the dictionary.
    pub engine: u8,
    /// Load: into a compress engine (else a decompress engine).
    pub load_compress: bool,
}

impl JobHeader {
    pub fn for_op(op: &JobOp, tag: u32, input_len: usize) -> Self {
        let (opcode, raw_len, expected_crc) = match *op {
            JobOp::Compress => (OP_COMPRESS, 0, 0),
            JobOp::Decompress {
                raw_len,
                expected_crc,
            } => (OP_DECOMPRESS, raw_len as u32, expected_crc),
            JobOp::Checksum => (OP_CHECKSUM, 0, 0),
        };
        Self {
            opcode,
            tag,
            input_len: input_len as u32,
            raw_len,
            expected_crc,
            dict_id: 0,
            engine: 0,
            load_compress: false,
        }
    }

    /// A load of `len` bytes of preset dictionary `dict_id` into decompress engine `engine`.
    pub fn load_dict(tag: u32, engine: u8, dict_id: u32, len: usize) -> Self {
        Self {
            opcode: OP_LOAD_DICT,
            tag,
            input_len: len as u32,
            raw_len: 0,
            expected_crc: 0,
            dict_id,
            engine,
            load_compress: false,
        }
    }

    /// The same into compress engine `engine`.
    pub fn load_compress_dict(tag: u32, engine: u8, dict_id: u32, len: usize) -> Self {
        Self {
            load_compress: true,
            ..Self::load_dict(tag, engine, dict_id, len)
        }
    }

    pub fn encode(&self) -> [u8; BEAT_BYTES] {
        let mut beat = [0u8; BEAT_BYTES];
        beat[0..2].copy_from_slice(&JOB_MAGIC.to_le_bytes());
        put(&mut beat, HDR_OPCODE_LSB, &[self.opcode]);
        put(&mut beat, HDR_TAG_LSB, &self.tag.to_le_bytes());
        put(&mut beat, HDR_INPUT_LEN_LSB, &self.input_len.to_le_bytes());
        put(&mut beat, HDR_RAW_LEN_LSB, &self.raw_len.to_le_bytes());
        put(&mut beat, HDR_CRC_LSB, &self.expected_crc.to_le_bytes());
        put(&mut beat, HDR_DICT_ID_LSB, &self.dict_id.to_le_bytes());
        put(&mut beat, HDR_ENGINE_LSB, &[self.engine]);
        if self.load_compress {
            let bit = usize::from(HDR_LOAD_COMPRESS_BIT);
            beat[bit / 8] |= 1 << (bit % 8);
        }
        beat
    }
}

/// A whole host-to-card frame: the header beat, then the payload from the next beat.
pub fn job_frame(header: &JobHeader, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(BEAT_BYTES + payload.len());
    frame.extend_from_slice(&header.encode());
    frame.extend_from_slice(payload);
    frame
}

/// A result header as the device sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultHeader {
    pub opcode: u8,
    pub status: u8,
    pub tag: u32,
    pub output_len: u32,
    pub crc: u64,
    pub crc_valid: bool,
    /// The engine's own status code (diagnostics).
    pub engine_status: u8,
    /// Which engine ran the job.
    pub engine: u8,
}

/// Why a card-to-host frame is not a result.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("result frame of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("result header has magic {0:#06x}")]
    Magic(u16),
    #[error("result says {expected} output bytes but {actual} followed")]
    Length { expected: usize, actual: usize },
}

impl ResultHeader {
    pub fn decode(beat: &[u8]) -> Result<Self, FrameError> {
        if beat.len() < BEAT_BYTES {
            return Err(FrameError::Short(beat.len()));
        }
        let magic = u16::from_le_bytes([beat[0], beat[1]]);
        if magic != RESULT_MAGIC {
            return Err(FrameError::Magic(magic));
        }
        Ok(Self {
            opcode: get::<1>(beat, RES_OPCODE_LSB)[0],
            status: get::<1>(beat, RES_STATUS_LSB)[0],
            tag: u32::from_le_bytes(get(beat, RES_TAG_LSB)),
            output_len: u32::from_le_bytes(get(beat, RES_OUTPUT_LEN_LSB)),
            crc: u64::from_le_bytes(get(beat, RES_CRC_LSB)),
            crc_valid: beat[usize::from(RES_CRC_VALID_BIT) / 8] >> (RES_CRC_VALID_BIT % 8) & 1 == 1,
            engine_status: get::<1>(beat, RES_ENGINE_STATUS_LSB)[0],
            engine: get::<1>(beat, RES_ENGINE_LSB)[0],
        })
    }

    /// Encodes a result header (the simulator's fault injection rewrites results with it).
    pub fn encode(&self) -> [u8; BEAT_BYTES] {
        let mut beat = [0u8; BEAT_BYTES];
        beat[0..2].copy_from_slice(&RESULT_MAGIC.to_le_bytes());
        put(&mut beat, RES_OPCODE_LSB, &[self.opcode]);
        put(&mut beat, RES_STATUS_LSB, &[self.status]);
        put(&mut beat, RES_TAG_LSB, &self.tag.to_le_bytes());
        put(
            &mut beat,
            RES_OUTPUT_LEN_LSB,
            &self.output_len.to_le_bytes(),
        );
        put(&mut beat, RES_CRC_LSB, &self.crc.to_le_bytes());
        if self.crc_valid {
            beat[usize::from(RES_CRC_VALID_BIT) / 8] |= 1 << (RES_CRC_VALID_BIT % 8);
        }
        put(&mut beat, RES_ENGINE_STATUS_LSB, &[self.engine_status]);
        put(&mut beat, RES_ENGINE_LSB, &[self.engine]);
        beat
    }

    /// The codec API's status for this result.
    pub fn job_status(&self) -> JobStatus {
        match self.status {
            RES_OK => JobStatus::Ok,
            RES_INCOMPRESSIBLE => JobStatus::Incompressible,
            RES_MALFORMED => JobStatus::Malformed,
            RES_LENGTH => JobStatus::LengthMismatch,
            RES_TOO_LARGE => JobStatus::TooLarge,
            // No engine holds the block's dictionary (a load failed, or the device was reset).
            RES_NO_DICT => JobStatus::Unsupported,
            _ => JobStatus::DeviceError,
        }
    }
}

/// Splits a card-to-host frame into its header and output.
pub fn parse_result(frame: &[u8]) -> Result<(ResultHeader, &[u8]), FrameError> {
    let header = ResultHeader::decode(frame)?;
    let output = &frame[BEAT_BYTES..];
    if output.len() != header.output_len as usize {
        return Err(FrameError::Length {
            expected: header.output_len as usize,
            actual: output.len(),
        });
    }
    Ok((header, output))
}

fn put(beat: &mut [u8; BEAT_BYTES], lsb: u16, bytes: &[u8]) {
    let at = usize::from(lsb) / 8;
    beat[at..at + bytes.len()].copy_from_slice(bytes);
}

fn get<const N: usize>(beat: &[u8], lsb: u16) -> [u8; N] {
    let at = usize::from(lsb) / 8;
    beat[at..at + N].try_into().expect("field inside the beat")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_header_fields_land_where_the_rtl_reads_them() {
        let header = JobHeader::for_op(
            &JobOp::Decompress {
                raw_len: 0x0102_0304,
                expected_crc: 0x1122_3344_5566_7788,
            },
            0xA1B2_C3D4,
            0x0506_0708,
        );
        let beat = header.encode();
        assert_eq!(&beat[0..2], &JOB_MAGIC.to_le_bytes());
        assert_eq!(beat[2], OP_DECOMPRESS);
        assert_eq!(&beat[4..8], &0xA1B2_C3D4u32.to_le_bytes());
        assert_eq!(&beat[8..12], &0x0506_0708u32.to_le_bytes());
        assert_eq!(&beat[12..16], &0x0102_0304u32.to_le_bytes());
        assert_eq!(&beat[16..24], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert!(beat[24..].iter().all(|&b| b == 0));

        let load = JobHeader::load_dict(9, 1, 0xCAFE_F00D, 16384).encode();
        assert_eq!(load[2], OP_LOAD_DICT);
        assert_eq!(&load[8..12], &16384u32.to_le_bytes());
        assert_eq!(&load[24..28], &0xCAFE_F00Du32.to_le_bytes());
        assert_eq!(load[28], 1);
        assert_eq!(load[29], 0, "a decompress engine's load");
        let load = JobHeader::load_compress_dict(9, 0, 5, 4096).encode();
        assert_eq!(
            (load[28], load[29]),
            (0, 1),
            "a compress engine's load: bit 232"
        );
    }

    #[test]
    fn result_headers_round_trip_and_bad_frames_are_refused() {
        let header = ResultHeader {
            opcode: OP_COMPRESS,
            status: RES_INCOMPRESSIBLE,
            tag: 77,
            output_len: 3,
            crc: 0xDEAD_BEEF_0BAD_F00D,
            crc_valid: true,
            engine_status: 1,
            engine: 2,
        };
        let mut frame = header.encode().to_vec();
        frame.extend_from_slice(b"abc");
        let (decoded, output) = parse_result(&frame).unwrap();
        assert_eq!(decoded, header);
        assert_eq!(output, b"abc");
        assert_eq!(decoded.job_status(), JobStatus::Incompressible);
        assert_eq!(
            parse_result(&frame[..66]),
            Err(FrameError::Length {
                expected: 3,
                actual: 2
            })
        );
        assert_eq!(parse_result(&frame[..10]), Err(FrameError::Short(10)));
        frame[0] ^= 1;
        assert!(matches!(parse_result(&frame), Err(FrameError::Magic(_))));
    }
}
