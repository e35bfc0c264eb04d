//! A board on this machine: the verilated board core (`rtl/board_core.v`: the UDP job bridge
//! and the 64-bit accelerator — everything of a board design inside LiteEth's UDP port)
//! behind a real UDP socket, so the `udp` link runs end to end without a board.
//!
//! The adapter plays LiteEth's part and nothing more: each datagram that arrives becomes a
//! frame of 32-bit words on the core's input (first byte in bits 7..0, padded to a word), and
//! each frame the core sends becomes a datagram to the address it names. It can lose,
//! duplicate and reorder datagrams in either direction, and put random idle cycles and
//! backpressure on both streams; the model checks the stream protocol of every output beat.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use lzcache_sim::axis::Rng;
use lzcache_sim::{Beat, Dut};

use super::defs::{UDP_KIND_JOB, UDP_KIND_RESULT};
use super::udp::datagram::{self, Header};

/// The model `lzcache-sim` builds for the board core.
pub const MODEL: &str = "board_core";

/// What the network does to datagrams, each with a probability per datagram, and the
/// handshakes on the core's streams. Written `loss=0.05,dup=0.02,reorder=0.05,idle=20,stall=20,seed=3`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetFaults {
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
    /// Percent of cycles the input word is held back.
    pub idle_percent: u32,
    /// Percent of cycles the output is not taken.
    pub stall_percent: u32,
    pub seed: u64,
}

impl NetFaults {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut faults = Self {
            seed: 1,
            ..Self::default()
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected key=value"))?;
            let probability = || match value.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
                _ => Err(format!("{key}: {value:?} is not a probability")),
            };
            let percent = || match value.parse::<u32>() {
                Ok(p) if p < 100 => Ok(p),
                _ => Err(format!("{key}: {value:?} is not a percentage below 100")),
            };
            match key {
                "loss" => faults.loss = probability()?,
                "dup" => faults.duplicate = probability()?,
                "reorder" => faults.reorder = probability()?,
                "idle" => faults.idle_percent = percent()?,
                "stall" => faults.stall_percent = percent()?,
                "seed" => faults.seed = value.parse().map_err(|_| format!("seed: {value:?}"))?,
                _ => {
                    return Err(format!(
                        "unknown key {key:?} (loss, dup, reorder, idle, stall, seed)"
                    ))
                }
            }
        }
        Ok(faults)
    }
}

/// What the adapter saw and did.
#[derive(Debug, Default)]
pub struct BoardStats {
    pub datagrams_in: AtomicU64,
    pub datagrams_out: AtomicU64,
    pub lost: AtomicU64,
    pub duplicated: AtomicU64,
    pub reordered: AtomicU64,
    /// Jobs whose whole result left the core, and the cycles from the first word of their
    /// first fragment entering the core to the last word of their result leaving it.
    pub jobs: AtomicU64,
    pub job_cycles: AtomicU64,
    /// Result datagrams the core sent; job fragments the adapter gave it.
    pub result_datagrams: AtomicU64,
    pub job_datagrams: AtomicU64,
}

impl BoardStats {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The simulated board, on its own thread until dropped.
pub struct BoardSim {
    addr: SocketAddr,
    stats: Arc<BoardStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BoardSim {
    /// Binds `bind` (port 0: any) and starts the model.
    pub fn start(bind: SocketAddr, faults: NetFaults) -> io::Result<Self> {
        let socket = UdpSocket::bind(bind)?;
        let addr = socket.local_addr()?;
        let stats = Arc::new(BoardStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let stats = Arc::clone(&stats);
            let stop = Arc::clone(&stop);
            thread::Builder::new()
                .name("lzcache-board-sim".into())
                .spawn(move || {
                    // A Verilated context belongs to the thread that made it.
                    let dut = match Dut::new(MODEL) {
                        Ok(dut) => dut,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    Adapter::new(dut, socket, faults, stats).run(&stop);
                })?
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                addr,
                stats,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(io::Error::other(e)),
            Err(_) => Err(io::Error::other("board simulator thread ended at start")),
        }
    }

    /// Where the board listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> &BoardStats {
        &self.stats
    }
}

impl Drop for BoardSim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Cycles run between looks at the socket while the core is busy.
const BURST: u32 = 256;
/// Cycles without input or output after which the core counts as idle (the adapter then
/// waits on the socket instead of clocking) when no job is in it.
const QUIET: u64 = 4096;
/// The same with jobs in it: far longer than the slowest job (a 16 KiB compression takes
/// about 25 000 cycles), so only a job the bridge dropped (its result never comes) ends up
/// waiting this long; it is then forgotten.
const QUIET_WITH_JOBS: u64 = 1 << 20;

struct Adapter {
    dut: Dut,
    socket: UdpSocket,
    faults: NetFaults,
    stats: Arc<BoardStats>,
    rng: Rng,
    input: VecDeque<Beat>,
    /// Per datagram queued: the beats it has and, for a job's first fragment, its tag.
    starts: VecDeque<(usize, Option<u32>)>,
    beats_into_datagram: usize,
    started: HashMap<u32, u64>,
    output: Vec<u8>,
    held_in: Option<Vec<u8>>,
    held_out: Option<(Vec<u8>, SocketAddr)>,
    quiet: u64,
    buffer: Vec<u8>,
}

impl Adapter {
    fn new(mut dut: Dut, socket: UdpSocket, faults: NetFaults, stats: Arc<BoardStats>) -> Self {
        dut.reset(8);
        let rng = Rng::new(faults.seed ^ 0xB0A2_D51A);
        Self {
            dut,
            socket,
            faults,
            stats,
            rng,
            input: VecDeque::new(),
            starts: VecDeque::new(),
            beats_into_datagram: 0,
            started: HashMap::new(),
            output: Vec::new(),
            held_in: None,
            held_out: None,
            quiet: QUIET,
            buffer: vec![0; 65_536],
        }
    }

    /// Whether the core has nothing left to do: no input, and quiet for long enough.
    fn idle(&self) -> bool {
        let quiet = if self.started.is_empty() {
            QUIET
        } else {
            QUIET_WITH_JOBS
        };
        self.input.is_empty() && self.quiet >= quiet
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn run(mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let idle = self.idle();
            // Idle: wait for a datagram (briefly, to see `stop`); busy: just look.
            let wait = if idle {
                Some(Duration::from_millis(2))
            } else {
                None
            };
            if self.take_datagrams(wait).is_err() {
                return;
            }
            if self.idle() {
                // Nothing more is coming out: a datagram held back to be reordered goes now,
                // and jobs the bridge dropped are not waited for.
                self.flush_held_out();
                self.started.clear();
                continue;
            }
            for _ in 0..BURST {
                self.cycle();
            }
        }
    }

    /// Receives what has arrived; with `wait`, blocks that long for the first datagram.
    fn take_datagrams(&mut self, wait: Option<Duration>) -> io::Result<()> {
        match wait {
            Some(timeout) => {
                self.socket.set_nonblocking(false)?;
                self.socket.set_read_timeout(Some(timeout))?;
            }
            None => self.socket.set_nonblocking(true)?,
        }
        loop {
            let len = match self.socket.recv_from(&mut self.buffer) {
                Ok((len, _)) => len,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // A datagram held back to be reordered goes in once nothing overtook it.
                    if let Some(held) = self.held_in.take() {
                        self.queue(&held);
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            self.socket.set_nonblocking(true)?;
            BoardStats::count(&self.stats.datagrams_in);
            let datagram = self.buffer[..len].to_vec();
            self.deliver_in(datagram);
        }
    }

    /// The network between host and board, inbound.
    fn deliver_in(&mut self, datagram: Vec<u8>) {
        if self.chance(self.faults.loss) {
            BoardStats::count(&self.stats.lost);
            return;
        }
        if self.chance(self.faults.duplicate) {
            BoardStats::count(&self.stats.duplicated);
            self.queue(&datagram);
        }
        if self.held_in.is_none() && self.chance(self.faults.reorder) {
            BoardStats::count(&self.stats.reordered);
            self.held_in = Some(datagram);
            return;
        }
        self.queue(&datagram);
        if let Some(held) = self.held_in.take() {
            self.queue(&held);
        }
    }

    /// A datagram as the UDP core presents it: 32-bit words, the last one flagged.
    fn queue(&mut self, datagram: &[u8]) {
        if datagram.is_empty() {
            return;
        }
        let words = datagram.len().div_ceil(4);
        for (i, chunk) in datagram.chunks(4).enumerate() {
            let mut data = chunk.to_vec();
            data.resize(4, 0);
            self.input.push_back(Beat {
                data,
                keep: 0xF,
                last: i + 1 == words,
                user: 0,
            });
        }
        let job = Header::decode(datagram).filter(|h| h.kind == UDP_KIND_JOB);
        if job.is_some() {
            BoardStats::count(&self.stats.job_datagrams);
        }
        let start = job.filter(|h| h.seq == 0).map(|h| h.tag);
        self.starts.push_back((words, start));
    }

    fn cycle(&mut self) {
        let present = !self.input.is_empty() && !self.rng.chance(self.faults.idle_percent);
        let ready = !self.rng.chance(self.faults.stall_percent);
        let beat = if present { self.input.front() } else { None }.cloned();
        let now = self.dut.cycles();
        let cycle = self.dut.cycle(beat.as_ref(), ready);
        let mut active = false;
        if beat.is_some() && cycle.input_ready {
            active = true;
            self.input.pop_front();
            if self.beats_into_datagram == 0 {
                if let Some(&(_, Some(tag))) = self.starts.front() {
                    self.started.insert(tag, now);
                }
            }
            self.beats_into_datagram += 1;
            if self
                .starts
                .front()
                .is_some_and(|&(n, _)| n == self.beats_into_datagram)
            {
                self.starts.pop_front();
                self.beats_into_datagram = 0;
            }
        }
        if let (true, Some(out)) = (ready, cycle.output) {
            active = true;
            self.output.extend_from_slice(&out.data[..4]);
            if out.last {
                let to =
                    SocketAddrV4::new(Ipv4Addr::from(out.user as u32), (out.user >> 32) as u16);
                let datagram = std::mem::take(&mut self.output);
                self.finished(&datagram);
                self.deliver_out(datagram, SocketAddr::V4(to));
            }
        }
        self.quiet = if active { 0 } else { self.quiet + 1 };
    }

    /// Counts a result datagram, and a job when it is its result's last.
    fn finished(&mut self, datagram: &[u8]) {
        let Some(header) = Header::decode(datagram) else {
            return;
        };
        if header.kind != UDP_KIND_RESULT {
            return;
        }
        BoardStats::count(&self.stats.result_datagrams);
        let end = usize::from(header.seq) * datagram::FRAGMENT + usize::from(header.len);
        if end >= header.total as usize {
            if let Some(start) = self.started.remove(&header.tag) {
                BoardStats::count(&self.stats.jobs);
                self.stats
                    .job_cycles
                    .fetch_add(self.dut.cycles() - start, Ordering::Relaxed);
            }
        }
    }

    /// The network, outbound.
    fn deliver_out(&mut self, datagram: Vec<u8>, to: SocketAddr) {
        if self.chance(self.faults.loss) {
            BoardStats::count(&self.stats.lost);
            return;
        }
        if self.chance(self.faults.duplicate) {
            BoardStats::count(&self.stats.duplicated);
            self.send(&datagram, to);
        }
        if self.held_out.is_none() && self.chance(self.faults.reorder) {
            BoardStats::count(&self.stats.reordered);
            self.held_out = Some((datagram, to));
            return;
        }
        self.send(&datagram, to);
        self.flush_held_out();
    }

    fn flush_held_out(&mut self) {
        if let Some((held, to)) = self.held_out.take() {
            self.send(&held, to);
        }
    }

    fn send(&self, datagram: &[u8], to: SocketAddr) {
        BoardStats::count(&self.stats.datagrams_out);
        // A host that went away is not the board's problem.
        let _ = self.socket.send_to(datagram, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_refuse_nonsense() {
        let f = NetFaults::parse("loss=0.1,dup=0.05,reorder=0.2,idle=30,stall=20,seed=9").unwrap();
        assert_eq!(f.loss, 0.1);
        assert_eq!(f.duplicate, 0.05);
        assert_eq!(f.reorder, 0.2);
        assert_eq!((f.idle_percent, f.stall_percent, f.seed), (30, 20, 9));
        assert!(NetFaults::parse("loss=2").is_err());
        assert!(NetFaults::parse("idle=100").is_err());
        assert!(NetFaults::parse("jitter=1").is_err());
        assert_eq!(NetFaults::parse("").unwrap().seed, 1);
    }
}
