//! The byte transport under a device: frames to the card, frames from it, and registers.
//! Everything above it (job encoding, tags, timeouts) is one code path for every device.

use std::io;
use std::time::Duration;

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
    /// Sends one job frame (header beat and payload) on the host-to-card stream.
    fn send(&mut self, frame: &[u8]) -> io::Result<()>;
    /// The next result frame, waiting at most `timeout`.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>>;
    /// Reads a 32-bit register at a byte offset of the register block.
    fn read_reg(&mut self, offset: u32) -> io::Result<u32>;
    /// Writes a 32-bit register.
    fn write_reg(&mut self, offset: u32, value: u32) -> io::Result<()>;
    /// How long a job of `bytes` may take before the device counts as not answering.
    fn timeout_for(&self, bytes: usize) -> Duration;
}
