//! [`Dut`]: one Verilated model instance, owned by one thread.
//!
//! All `unsafe` of this crate is here: each call passes the handle this struct owns, which
//! stays valid until `Drop` frees it.

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ffi;
use crate::Beat;

/// Errors creating a model.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no model named {0:?} is compiled in (have: {1:?})")]
    UnknownModel(String, Vec<String>),
    #[error("cannot open waveform file {0}")]
    Trace(PathBuf),
    #[error(
        "model {0:?} was built without waveform support: rebuild with LZCACHE_SIM_TRACE=1 \
         (only the checksum models carry it by default)"
    )]
    TraceNotBuilt(String),
    #[error(
        "AXI-Lite access to {addr:#05x} failed: no register port, or no response in 64 cycles"
    )]
    Register { addr: u32 },
}

/// The result of one clock cycle.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// The input accepted the presented beat at this edge (`s_axis_tready`).
    pub input_ready: bool,
    /// The beat the model presented on its output this cycle, if any. It was transferred if
    /// the caller drove `m_axis_tready` high.
    pub output: Option<Beat>,
}

/// Names of the models compiled into this crate.
pub fn models() -> Vec<String> {
    // SAFETY: the shim returns static, NUL-terminated names for indices below the count.
    unsafe {
        (0..ffi::lz_model_count())
            .map(|i| {
                CStr::from_ptr(ffi::lz_model_name(i))
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

/// Waveform options: `LZCACHE_TRACE=<dir>` writes `<dir>/<model>-<n>.vcd` for every model
/// created (models built with waveform support: the checksum models, or every model when the
/// crate is built with `LZCACHE_SIM_TRACE=1`); `LZCACHE_TRACE_START` and `LZCACHE_TRACE_CYCLES` choose the window of cycles
/// (default: the first 100 000), since a trace of every cycle quickly reaches gigabytes.
fn trace_from_env(model: &str) -> Option<(PathBuf, u64, u64)> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::var_os("LZCACHE_TRACE")?;
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let path = Path::new(&dir).join(format!("{model}-{n}.vcd"));
    Some((
        path,
        number("LZCACHE_TRACE_START", 0),
        number("LZCACHE_TRACE_CYCLES", 100_000),
    ))
}

/// A running model. Not `Send`: a Verilated context belongs to the thread that made it.
pub struct Dut {
    raw: NonNull<ffi::lz_dut>,
    name: String,
    beat_bytes: usize,
    trace: Option<PathBuf>,
    /// The output beat presented last cycle and not taken (tvalid high, tready low): AXI-Stream
    /// requires the same beat, unchanged, until tready.
    held: Option<Beat>,
    _not_send: PhantomData<*const ()>,
}

impl Dut {
    /// Creates model `name`, tracing it if `LZCACHE_TRACE` is set.
    pub fn new(name: &str) -> Result<Self, SimError> {
        let c_name = CString::new(name).map_err(|_| unknown(name))?;
        // SAFETY: c_name is a valid C string for the duration of the call.
        let beat_bytes = unsafe { ffi::lz_model_beat_bytes(c_name.as_ptr()) };
        // SAFETY: as above; the shim returns NULL for an unknown name.
        let raw = NonNull::new(unsafe { ffi::lz_dut_new(c_name.as_ptr()) })
            .ok_or_else(|| unknown(name))?;
        let mut dut = Self {
            raw,
            name: name.to_string(),
            beat_bytes: beat_bytes as usize,
            trace: None,
            held: None,
            _not_send: PhantomData,
        };
        if let Some((path, start, cycles)) = trace_from_env(name) {
            dut.open_trace(&path, start, cycles)?;
            eprintln!("lzcache-sim: tracing {name} to {}", path.display());
        }
        Ok(dut)
    }

    /// Writes a VCD of the cycles `[start, start + cycles)` (counted from creation) to `path`,
    /// closing any waveform already open.
    pub fn open_trace(&mut self, path: &Path, start: u64, cycles: u64) -> Result<(), SimError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let c_path = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| SimError::Trace(path.to_path_buf()))?;
        // SAFETY: self.raw is live and c_path outlives the call.
        let status =
            unsafe { ffi::lz_dut_trace_open(self.raw.as_ptr(), c_path.as_ptr(), start, cycles) };
        match status {
            0 => {}
            -2 => return Err(SimError::TraceNotBuilt(self.name.clone())),
            _ => return Err(SimError::Trace(path.to_path_buf())),
        }
        self.trace = Some(path.to_path_buf());
        Ok(())
    }

    /// Flushes and closes the waveform, if one is open.
    pub fn close_trace(&mut self) {
        // SAFETY: self.raw is the live handle this struct owns.
        unsafe { ffi::lz_dut_trace_close(self.raw.as_ptr()) };
        self.trace = None;
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stream width in bytes.
    pub fn beat_bytes(&self) -> usize {
        self.beat_bytes
    }

    /// Where this model's waveform goes, if traced.
    pub fn trace_path(&self) -> Option<&Path> {
        self.trace.as_deref()
    }

    /// Holds reset for `cycles` cycles with idle inputs.
    pub fn reset(&mut self, cycles: u32) {
        // Reset may withdraw a beat.
        self.held = None;
        // SAFETY: self.raw is the live handle this struct owns.
        unsafe { ffi::lz_dut_reset(self.raw.as_ptr(), cycles) }
    }

    /// Drives reset for the following cycles (to reset in the middle of traffic).
    pub fn set_reset(&mut self, active: bool) {
        // Reset may withdraw a beat.
        self.held = None;
        // SAFETY: self.raw is the live handle this struct owns.
        unsafe { ffi::lz_dut_set_reset(self.raw.as_ptr(), i32::from(active)) }
    }

    /// `cycles` clock cycles with no input beat and the output not ready.
    pub fn tick(&mut self, cycles: u64) {
        for _ in 0..cycles {
            self.cycle(None, false);
        }
    }

    /// One clock cycle with `input` presented (None: tvalid low) and `m_axis_tready`.
    ///
    /// Checks the output's stream protocol on every cycle, whoever drives the model: once
    /// `tvalid` is high it stays high, with `tdata/tkeep/tlast/tuser` unchanged, until `tready`.
    /// A violation panics (this is the testbench's assertion) with the model, cycle and beats.
    pub fn cycle(&mut self, input: Option<&Beat>, output_ready: bool) -> Cycle {
        let mut s = ffi::lz_beat::default();
        if let Some(beat) = input {
            let n = beat.data.len().min(ffi::LZ_MAX_BEAT_BYTES as usize);
            s.data[..n].copy_from_slice(&beat.data[..n]);
            s.keep = beat.keep;
            s.user = [beat.user as u64, (beat.user >> 64) as u64];
            s.last = u8::from(beat.last);
            s.valid = 1;
        }
        let mut result = ffi::lz_cycle_result::default();
        // SAFETY: self.raw is live; s and result are valid for the call.
        unsafe { ffi::lz_dut_cycle(self.raw.as_ptr(), &s, i32::from(output_ready), &mut result) };
        let output = (result.m.valid != 0).then(|| Beat {
            data: result.m.data[..self.beat_bytes].to_vec(),
            keep: result.m.keep,
            last: result.m.last != 0,
            user: u128::from(result.m.user[0]) | u128::from(result.m.user[1]) << 64,
        });
        if let Some(held) = self.held.take() {
            assert!(
                output.as_ref() == Some(&held),
                "{}: AXI-Stream violation at cycle {}: a beat presented without tready changed or \
                 was withdrawn\n  was: {held:?}\n  now: {output:?}",
                self.name,
                self.cycles()
            );
        }
        if !output_ready {
            self.held.clone_from(&output);
        }
        Cycle {
            input_ready: result.s_ready != 0,
            output,
        }
    }

    /// Writes a 32-bit register over AXI4-Lite (streams idle meanwhile).
    pub fn axil_write(&mut self, addr: u32, data: u32) -> Result<(), SimError> {
        // SAFETY: self.raw is the live handle this struct owns.
        let rc = unsafe { ffi::lz_dut_axil_write(self.raw.as_ptr(), addr, data) };
        if rc == 0 {
            Ok(())
        } else {
            Err(SimError::Register { addr })
        }
    }

    /// Reads a 32-bit register over AXI4-Lite (streams idle meanwhile).
    pub fn axil_read(&mut self, addr: u32) -> Result<u32, SimError> {
        let mut data = 0u32;
        // SAFETY: self.raw is the live handle this struct owns; `data` outlives the call.
        let rc = unsafe { ffi::lz_dut_axil_read(self.raw.as_ptr(), addr, &mut data) };
        if rc == 0 {
            Ok(data)
        } else {
            Err(SimError::Register { addr })
        }
    }

    /// Rising edges since creation.
    pub fn cycles(&self) -> u64 {
        // SAFETY: self.raw is the live handle this struct owns.
        unsafe { ffi::lz_dut_cycles(self.raw.as_ptr()) }
    }
}

impl Drop for Dut {
    fn drop(&mut self) {
        // SAFETY: the handle is live and freed exactly once; the shim finishes the model and
        // closes its trace file.
        unsafe { ffi::lz_dut_free(self.raw.as_ptr()) }
    }
}

fn unknown(name: &str) -> SimError {
    SimError::UnknownModel(name.to_string(), models())
}
