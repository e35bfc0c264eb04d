//! # lzcache-driver
//!
//! The codec API of lzcache: the one interface through which the cache server compresses,
//! decompresses and checksums values, and the backends behind it.
//!
//! * [`Codec`] is the trait the server calls. Submission and completion are separate
//!   ([`Codec::submit`] returns a [`Pending`], a future) because a device answers later than
//!   it is asked: an FPGA in microseconds, the simulator in milliseconds. The software backend
//!   completes inline, so its [`Pending`] is already resolved.
//! * [`Dispatcher`] is the codec the server uses: per job software or a device, with the
//!   checks, fallback and circuit breaker that keep a faulty device from ever producing a
//!   wrong value; [`dispatch::open`] opens it from a [`CodecSpec`] (`auto`, `software`,
//!   `sim`, `xdma:<N>`).
//! * [`SoftwareCodec`] is the reference backend: the LZ4 *block* format through `lz4_flex` and
//!   CRC-64/NVME through `crc-fast` (carry-less-multiply SIMD).
//! * [`dict`] holds preset dictionaries (liblz4 with a prepared table) and their training
//!   (zstd's builder): a job may name one, and only software runs such jobs so far.
//! * [`crc64`] holds the checksum every other part of lzcache agrees on.
//!
//! * [`device`] puts the CacheAccelerator behind the same trait: [`device::DeviceCodec`] (jobs,
//!   tags, timeouts, registers) over a byte transport — the simulated device (`sim`, the
//!   Verilated top) or a card through the XDMA driver (`xdma:<N>`).
//!
//! What this crate is not: it holds no cache state and does no networking.

pub mod codec;
pub mod compressibility;
pub mod crc64;
pub mod device;
pub mod dict;
pub mod dispatch;
pub mod software;

pub use codec::{
    Codec, CodecError, CodecStat, Completer, Completion, Compressed, Job, JobOp, JobStatus,
    Outcome, Pending,
};
pub use dict::{DictError, Dictionary};
pub use dispatch::{CodecSpec, DispatchConfig, Dispatcher, Prefer};
pub use software::SoftwareCodec;
