//! The simulated device: the Verilated `cache_accelerator` on its own thread, driven through
//! the same streams and registers as a card, with fault injection for tests.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bytes::Bytes;
use lzcache_sim::{Beat, Dut};

use super::defs::{OP_DECOMPRESS, RES_BAD_OPCODE, RES_MALFORMED};
use super::faults::{FaultPlan, InjectedFaults};
use super::link::{DeviceLink, Received};
use super::protocol::{ResultHeader, BEAT_BYTES};

/// The model `lzcache-sim` builds for the accelerator top.
pub const MODEL: &str = "cache_accelerator";

enum Command {
    Frame([u8; BEAT_BYTES], Bytes),
    ReadReg(u32, Sender<io::Result<u32>>),
    WriteReg(u32, u32, Sender<io::Result<()>>),
}

/// A handle to the simulated device thread.
pub struct SimLink {
    base_timeout: Duration,
    commands: Sender<Command>,
    results: Receiver<Received>,
    faults: Arc<Mutex<FaultPlan>>,
    injected: Arc<InjectedFaults>,
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
        let injected = Arc::new(InjectedFaults::default());
        let counts = Arc::clone(&injected);
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
                SimDevice::new(dut, plan, counts).run(command_rx, result_tx);
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                base_timeout: Duration::from_secs(5),
                commands,
                results,
                faults,
                injected,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(io::Error::other(e)),
            Err(_) => Err(io::Error::other("simulator thread ended at start")),
        }
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

    fn send(&mut self, header: &[u8; BEAT_BYTES], payload: &Bytes) -> io::Result<()> {
        self.commands
            .send(Command::Frame(*header, payload.clone()))
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

    fn injected_faults(&self) -> Option<Arc<InjectedFaults>> {
        Some(Arc::clone(&self.injected))
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
    injected: Arc<InjectedFaults>,
    rng: u64,
    input: VecDeque<Beat>,
    /// Whether the next input beat is a job header (its tag starts a cycle count).
    at_header: bool,
    started: HashMap<u32, u64>,
    output: Vec<u8>,
    outstanding: usize,
}

impl SimDevice {
    fn new(dut: Dut, faults: Arc<Mutex<FaultPlan>>, injected: Arc<InjectedFaults>) -> Self {
        let seed = faults.lock().map(|f| f.seed).unwrap_or(1);
        let mut device = Self {
            dut,
            faults,
            injected,
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
                Some(Command::Frame(header, payload)) => self.queue(&header, &payload),
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

    /// Turns a frame into the model's input beats: the header beat, then the payload from
    /// the next beat (the stream itself, not a staging copy of the frame).
    fn queue(&mut self, header: &[u8; BEAT_BYTES], payload: &[u8]) {
        self.input.push_back(Beat {
            data: header.to_vec(),
            keep: u64::MAX,
            last: payload.is_empty(),
            user: 0,
        });
        if !payload.is_empty() {
            self.input
                .extend(lzcache_sim::axis::frame_to_beats(payload, BEAT_BYTES));
        }
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
            InjectedFaults::count(&self.injected.stalls);
            thread::sleep(plan.stall_for);
        }
        if self.chance(plan.drop) {
            InjectedFaults::count(&self.injected.drops);
            return None;
        }
        let Ok(mut header) = ResultHeader::decode(&received.frame) else {
            return Some(received);
        };
        if self.chance(plan.error) {
            InjectedFaults::count(&self.injected.errors);
            header.status = if header.opcode == OP_DECOMPRESS {
                RES_MALFORMED
            } else {
                RES_BAD_OPCODE
            };
            header.output_len = 0;
            header.crc_valid = false;
            received.frame = header.encode().to_vec();
        } else if self.chance(plan.corrupt) {
            InjectedFaults::count(&self.injected.corruptions);
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
