//! The byte transport under a device: frames to the card, frames from it, and registers.
//! Everything above it (job encoding, tags, timeouts) is one code path for every device.

use std::io;
use std::time::Duration;

use std::sync::Arc;

use bytes::Bytes;

use super::faults::InjectedFaults;
use super::protocol::BEAT_BYTES;

/// A result frame from the card, and the clock cycles the job took when the transport can
/// count them (the simulator does).
#[derive(Debug)]
pub struct Received {
    pub frame: Vec<u8>,
    pub cycles: Option<u64>,
}

/// A connection to one CacheAccelerator.
pub trait DeviceLink: Send + 'static {
    /// A name for logs: `sim`, `xdma:0`.
    fn name(&self) -> String;
    /// Sends one job frame on the host-to-card stream: the header beat, then the payload from
    /// the next beat. The link writes both from where they are (it may keep `payload`, a
    /// reference, until the frame has gone).
    fn send(&mut self, header: &[u8; BEAT_BYTES], payload: &Bytes) -> io::Result<()>;
    /// The next result frame, waiting at most `timeout`.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>>;
    /// Reads a 32-bit register at a byte offset of the register block.
    fn read_reg(&mut self, offset: u32) -> io::Result<u32>;
    /// Writes a 32-bit register.
    fn write_reg(&mut self, offset: u32, value: u32) -> io::Result<()>;
    /// How long a job of `bytes` may take before the device counts as not answering (the
    /// default deadline; its fixed part can be set in the device options).
    fn timeout_for(&self, bytes: usize) -> Duration;
    /// The faults this link injects, when it is a simulation that does.
    fn injected_faults(&self) -> Option<Arc<InjectedFaults>> {
        None
    }
}
