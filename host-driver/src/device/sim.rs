//! The simulated device: the Verilated `cache_accelerator` on its own thread, driven through
//! the same streams and registers as a card, with fault injection for tests.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use lzcache_sim::{Beat, Dut};

use super::defs::{OP_DECOMPRESS, RES_BAD_OPCODE, RES_MALFORMED};
use super::link::{DeviceLink, Received};
use super::protocol::{ResultHeader, BEAT_BYTES};

/// The model `lzcache-sim` builds for the accelerator top.
pub const MODEL: &str = "cache_accelerator";

/// Faults the simulated device injects into its results, each with a probability per
/// result: an error status, a flipped output (or CRC) bit, no answer at all, or a stall of
/// the whole device. Written as `error=0.1,corrupt=0.05,drop=0.01,stall=0.02:50ms,seed=7`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    pub error: f64,
    pub corrupt: f64,
    pub drop: f64,
    pub stall: f64,
    pub stall_for: Duration,
    pub seed: u64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            error: 0.0,
            corrupt: 0.0,
            drop: 0.0,
            stall: 0.0,
            stall_for: Duration::from_millis(50),
            seed: 1,
        }
    }
}

impl FaultPlan {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut plan = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("fault {part:?}: expected key=value"))?;
            let probability = |v: &str| -> Result<f64, String> {
                let p: f64 = v
                    .parse()
                    .map_err(|_| format!("fault {key}: bad number {v:?}"))?;
                if (0.0..=1.0).contains(&p) {
                    Ok(p)
                } else {
                    Err(format!("fault {key}: probability {p} outside 0..1"))
                }
            };
            match key {
                "error" => plan.error = probability(value)?,
                "corrupt" => plan.corrupt = probability(value)?,
                "drop" => plan.drop = probability(value)?,
                "stall" => {
                    let (p, time) = value.split_once(':').unwrap_or((value, "50ms"));
                    plan.stall = probability(p)?;
                    let ms = time.trim_end_matches("ms");
                    plan.stall_for = Duration::from_millis(
                        ms.parse()
                            .map_err(|_| format!("fault stall: bad time {time:?}"))?,
                    );
                }
                "seed" => {
                    plan.seed = value
                        .parse()
                        .map_err(|_| format!("fault seed: {value:?}"))?
                }
                _ => {
                    return Err(format!(
                        "unknown fault {key:?} (error, corrupt, drop, stall, seed)"
                    ))
                }
            }
        }
        Ok(plan)
    }

    fn is_none(&self) -> bool {
        self.error == 0.0 && self.corrupt == 0.0 && self.drop == 0.0 && self.stall == 0.0
    }
}

enum Command {
    Frame(Vec<u8>),
    ReadReg(u32, Sender<io::Result<u32>>),
    WriteReg(u32, u32, Sender<io::Result<()>>),
}

/// A handle to the simulated device thread.
pub struct SimLink {
    base_timeout: Duration,
    commands: Sender<Command>,
    results: Receiver<Received>,
    faults: Arc<Mutex<FaultPlan>>,
    thread: Option<JoinHandle<()>>,
}

impl SimLink {
    /// Starts the model on its own thread.
    pub fn start(faults: FaultPlan) -> io::Result<Self> {
        let (commands, command_rx) = mpsc::channel();
        let (result_tx, results) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let faults = Arc::new(Mutex::new(faults));
        let plan = Arc::clone(&faults);
        let thread = thread::Builder::new()
            .name("lzcache-sim-device".into())
            .spawn(move || {
                // The model is made here: a Verilated context belongs to one thread.
                let dut = match Dut::new(MODEL) {
                    Ok(dut) => dut,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                SimDevice::new(dut, plan).run(command_rx, result_tx);
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                base_timeout: Duration::from_secs(5),
                commands,
                results,
                faults,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(io::Error::other(e)),
            Err(_) => Err(io::Error::other("simulator thread ended at start")),
        }
    }

    /// Sets the fixed part of every job's timeout (default 5 s), for tests of a device that
    /// stops answering.
    pub fn with_base_timeout(mut self, base: Duration) -> Self {
        self.base_timeout = base;
        self
    }

    /// Changes the faults injected from now on.
    pub fn fault_handle(&self) -> Arc<Mutex<FaultPlan>> {
        Arc::clone(&self.faults)
    }

    fn gone() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "simulator thread has ended")
    }
}

impl Drop for SimLink {
    fn drop(&mut self) {
        // Closing the command channel ends the thread.
        let (dead, _) = mpsc::channel();
        self.commands = dead;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl DeviceLink for SimLink {
    fn name(&self) -> String {
        "sim".into()
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.commands
            .send(Command::Frame(frame.to_vec()))
            .map_err(|_| Self::gone())
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>> {
        match self.results.recv_timeout(timeout) {
            Ok(received) => Ok(Some(received)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(Self::gone()),
        }
    }

    fn read_reg(&mut self, offset: u32) -> io::Result<u32> {
        let (tx, rx) = mpsc::channel();
        self.commands
            .send(Command::ReadReg(offset, tx))
            .map_err(|_| Self::gone())?;
        rx.recv().map_err(|_| Self::gone())?
    }

    fn write_reg(&mut self, offset: u32, value: u32) -> io::Result<()> {
        let (tx, rx) = mpsc::channel();
        self.commands
            .send(Command::WriteReg(offset, value, tx))
            .map_err(|_| Self::gone())?;
        rx.recv().map_err(|_| Self::gone())?
    }

    fn timeout_for(&self, bytes: usize) -> Duration {
        // A simulated cycle takes microseconds; a compress engine takes a byte per cycle.
        self.base_timeout + Duration::from_micros(20 * bytes as u64)
    }
}

/// The thread side: the model, the beats waiting to go in, the frame coming out.
struct SimDevice {
    dut: Dut,
    faults: Arc<Mutex<FaultPlan>>,
    rng: u64,
    input: VecDeque<Beat>,
    /// Whether the next input beat is a job header (its tag starts a cycle count).
    at_header: bool,
    started: HashMap<u32, u64>,
    output: Vec<u8>,
    outstanding: usize,
}

impl SimDevice {
    fn new(dut: Dut, faults: Arc<Mutex<FaultPlan>>) -> Self {
        let seed = faults.lock().map(|f| f.seed).unwrap_or(1);
        let mut device = Self {
            dut,
            faults,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            input: VecDeque::new(),
            at_header: true,
            started: HashMap::new(),
            output: Vec::new(),
            outstanding: 0,
        };
        device.dut.reset(8);
        device
    }

    fn run(mut self, commands: Receiver<Command>, results: Sender<Received>) {
        loop {
            let busy = !self.input.is_empty() || self.outstanding > 0;
            let command = if busy {
                match commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            } else {
                match commands.recv() {
                    Ok(c) => Some(c),
                    Err(_) => return,
                }
            };
            match command {
                Some(Command::Frame(frame)) => self.queue(&frame),
                Some(Command::ReadReg(offset, reply)) => {
                    let value = self.dut.axil_read(offset).map_err(io::Error::other);
                    let _ = reply.send(value);
                }
                Some(Command::WriteReg(offset, value, reply)) => {
                    let done = self.dut.axil_write(offset, value).map_err(io::Error::other);
                    let _ = reply.send(done);
                }
                None => {}
            }
            if self.input.is_empty() && self.outstanding == 0 {
                continue;
            }
            for _ in 0..512 {
                if let Some(received) = self.cycle() {
                    if let Some(received) = self.inject(received) {
                        if results.send(received).is_err() {
                            return;
                        }
                    }
                    break;
                }
            }
        }
    }

    fn queue(&mut self, frame: &[u8]) {
        self.input
            .extend(lzcache_sim::axis::frame_to_beats(frame, BEAT_BYTES));
        self.outstanding += 1;
    }

    /// One clock cycle; a result frame when its last beat came out.
    fn cycle(&mut self) -> Option<Received> {
        let beat = self.input.front().cloned();
        let now = self.dut.cycles();
        let cycle = self.dut.cycle(beat.as_ref(), true);
        if let (Some(beat), true) = (beat, cycle.input_ready) {
            if self.at_header {
                let tag = u32::from_le_bytes(beat.data[4..8].try_into().expect("4 bytes"));
                self.started.insert(tag, now);
            }
            self.at_header = beat.last;
            self.input.pop_front();
        }
        let out = cycle.output?;
        let kept = out.keep.count_ones() as usize;
        self.output.extend_from_slice(&out.data[..kept]);
        if !out.last {
            return None;
        }
        self.outstanding = self.outstanding.saturating_sub(1);
        let frame = std::mem::take(&mut self.output);
        let cycles = (frame.len() >= 8)
            .then(|| u32::from_le_bytes(frame[4..8].try_into().expect("4 bytes")))
            .and_then(|tag| self.started.remove(&tag))
            .map(|start| self.dut.cycles() - start);
        Some(Received { frame, cycles })
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        p > 0.0 && (self.rng >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// Applies the fault plan to a result on its way to the host.
    fn inject(&mut self, mut received: Received) -> Option<Received> {
        let plan = self.faults.lock().map(|p| p.clone()).unwrap_or_default();
        if plan.is_none() {
            return Some(received);
        }
        if self.chance(plan.stall) {
            thread::sleep(plan.stall_for);
        }
        if self.chance(plan.drop) {
            return None;
        }
        let Ok(mut header) = ResultHeader::decode(&received.frame) else {
            return Some(received);
        };
        if self.chance(plan.error) {
            header.status = if header.opcode == OP_DECOMPRESS {
                RES_MALFORMED
            } else {
                RES_BAD_OPCODE
            };
            header.output_len = 0;
            header.crc_valid = false;
            received.frame = header.encode().to_vec();
        } else if self.chance(plan.corrupt) {
            let output = received.frame.len() - BEAT_BYTES;
            let bit = (self.rng % (8 * output.max(8) as u64)) as usize;
            if output > 0 {
                received.frame[BEAT_BYTES + bit / 8] ^= 1 << (bit % 8);
            } else {
                header.crc ^= 1 << (bit % 64);
                received.frame = header.encode().to_vec();
            }
        }
        Some(received)
    }
}
