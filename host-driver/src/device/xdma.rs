//! A CacheAccelerator card behind the Xilinx XDMA driver (streaming mode).
//!
//! The driver exposes each card as character devices: `/dev/xdma<N>_user` (the AXI-Lite BAR,
//! mapped here with memmap2), `/dev/xdma<N>_h2c_<K>` (write a job frame: one transfer, `tlast`
//! at its end) and `/dev/xdma<N>_c2h_<K>` (read: one result frame per read, ended by `tlast`).
//! This is the thin transport only; job encoding, tags and timeouts are shared with the
//! simulator. No card exists on the development machines, so only its error paths are tested.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use memmap2::{MmapMut, MmapOptions};

use super::link::{DeviceLink, Received};
use super::protocol::BEAT_BYTES;

/// Size of the register window mapped from the user BAR.
const BAR_BYTES: usize = 4096;
/// DMA buffers are page aligned, as the XDMA driver transfers best from them.
const ALIGN: usize = 4096;

/// Character devices of card `n`, channel 0.
fn paths(n: u32) -> (PathBuf, PathBuf, PathBuf) {
    (
        PathBuf::from(format!("/dev/xdma{n}_user")),
        PathBuf::from(format!("/dev/xdma{n}_h2c_0")),
        PathBuf::from(format!("/dev/xdma{n}_c2h_0")),
    )
}

/// Card numbers with an XDMA user device, from `/dev` (sorted).
pub fn cards() -> Vec<u32> {
    let mut found: Vec<u32> = std::fs::read_dir("/dev")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("xdma")?
                        .strip_suffix("_user")?
                        .parse()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_unstable();
    found
}

fn open(path: &Path, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(!write || path.to_string_lossy().ends_with("_user"))
        .write(write)
        .open(path)
        .map_err(|e| {
            let hint = match e.kind() {
                io::ErrorKind::NotFound => {
                    "not found: is the xdma driver loaded and the card present?"
                }
                io::ErrorKind::PermissionDenied => {
                    "permission denied: run as root or give your user access with a udev rule"
                }
                _ => "cannot open",
            };
            io::Error::new(e.kind(), format!("{}: {hint} ({e})", path.display()))
        })
}

/// A page-aligned buffer for DMA.
struct DmaBuffer(MmapMut);

impl DmaBuffer {
    fn new(len: usize) -> io::Result<Self> {
        Ok(Self(
            MmapOptions::new()
                .len(len.div_ceil(ALIGN) * ALIGN)
                .map_anon()?,
        ))
    }
}

/// The mapped register BAR. All `unsafe` of the XDMA path is in its two accessors.
struct Bar(MmapMut);

impl Bar {
    fn read(&self, offset: u32) -> io::Result<u32> {
        let at = Self::check(offset)?;
        // SAFETY: `at` is 4-byte aligned and inside the mapping (checked); a volatile read of
        // a device register must not be elided or merged.
        Ok(unsafe { std::ptr::read_volatile(self.0.as_ptr().add(at) as *const u32) })
    }

    fn write(&mut self, offset: u32, value: u32) -> io::Result<()> {
        let at = Self::check(offset)?;
        // SAFETY: as in `read`; the mapping is writable and owned by this struct.
        unsafe { std::ptr::write_volatile(self.0.as_mut_ptr().add(at) as *mut u32, value) };
        Ok(())
    }

    fn check(offset: u32) -> io::Result<usize> {
        let at = offset as usize;
        if !at.is_multiple_of(4) || at + 4 > BAR_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("register offset {offset:#x} outside the BAR"),
            ));
        }
        Ok(at)
    }
}

/// An open card.
pub struct XdmaLink {
    card: u32,
    bar: Bar,
    h2c: File,
    send_buffer: DmaBuffer,
    results: Receiver<io::Result<Vec<u8>>>,
}

impl XdmaLink {
    /// Opens card `n`; `max_frame` is the largest result frame (header and output).
    pub fn open(card: u32, max_frame: usize) -> io::Result<Self> {
        let (user, h2c_path, c2h_path) = paths(card);
        let user_file = open(&user, true)?;
        // SAFETY (memmap2 contract): the BAR mapping is shared with the device, which may
        // change it at any time; it is only ever accessed through volatile reads and writes.
        let bar = unsafe { MmapOptions::new().len(BAR_BYTES).map_mut(&user_file)? };
        let h2c = open(&h2c_path, true)?;
        let mut c2h = open(&c2h_path, false)?;
        let (tx, results) = mpsc::channel();
        let mut receive_buffer = DmaBuffer::new(max_frame + BEAT_BYTES)?;
        thread::Builder::new()
            .name(format!("lzcache-xdma{card}-c2h"))
            .spawn(move || loop {
                // One read returns one frame: the driver ends the transfer at tlast. The frame
                // is copied out of the DMA buffer (the receive path's one copy) so the buffer
                // is free for the next transfer while the result is in use.
                let got = c2h
                    .read(&mut receive_buffer.0[..])
                    .map(|n| receive_buffer.0[..n].to_vec());
                let failed = got.is_err();
                if tx.send(got).is_err() || failed {
                    return;
                }
            })?;
        Ok(Self {
            card,
            bar: Bar(bar),
            h2c,
            send_buffer: DmaBuffer::new(max_frame + BEAT_BYTES)?,
            results,
        })
    }
}

impl DeviceLink for XdmaLink {
    fn name(&self) -> String {
        format!("xdma:{}", self.card)
    }

    /// The one copy of the send path: header and payload into the page-aligned DMA buffer.
    fn send(&mut self, header: &[u8; BEAT_BYTES], payload: &Bytes) -> io::Result<()> {
        let len = BEAT_BYTES + payload.len();
        if len > self.send_buffer.0.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "job frame too large",
            ));
        }
        self.send_buffer.0[..BEAT_BYTES].copy_from_slice(header);
        self.send_buffer.0[BEAT_BYTES..len].copy_from_slice(payload);
        self.h2c.write_all(&self.send_buffer.0[..len])
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>> {
        match self.results.recv_timeout(timeout) {
            Ok(Ok(frame)) => Ok(Some(Received {
                frame,
                cycles: None,
            })),
            Ok(Err(e)) => Err(e),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "card-to-host reader has ended",
            )),
        }
    }

    fn read_reg(&mut self, offset: u32) -> io::Result<u32> {
        self.bar.read(offset)
    }

    fn write_reg(&mut self, offset: u32, value: u32) -> io::Result<()> {
        self.bar.write(offset, value)
    }

    fn timeout_for(&self, bytes: usize) -> Duration {
        // PCIe round trip and queueing, plus the slowest engine (a byte per cycle at 250 MHz).
        Duration::from_millis(50) + Duration::from_nanos(8 * bytes as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_card_is_a_clear_error() {
        let missing = (0..64).find(|n| !cards().contains(n)).unwrap();
        let err = XdmaLink::open(missing, 1 << 20)
            .err()
            .expect("no such card");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let text = err.to_string();
        assert!(text.contains(&format!("/dev/xdma{missing}_user")), "{text}");
        assert!(text.contains("xdma driver"), "{text}");
    }

    #[test]
    fn register_offsets_outside_the_bar_are_refused() {
        assert!(Bar::check(0x24).is_ok());
        assert!(Bar::check(0x26).is_err());
        assert!(Bar::check(BAR_BYTES as u32).is_err());
    }
}
