//! AXI-Stream drivers: a source that inserts seeded random idle cycles, a sink that applies
//! seeded random backpressure, and a runner that streams frames through a [`Dut`].
//!
//! Every random choice comes from a seed that the run reports, so a failure can be replayed
//! exactly (see [`Traffic`]).

use std::collections::VecDeque;
use std::fmt;

use crate::dut::Dut;

/// One stream beat as the drivers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    pub data: Vec<u8>,
    /// One bit per byte lane.
    pub keep: u64,
    pub last: bool,
    /// Sideband (tuser, up to 128 bits): job parameters on an input frame's first beat, a
    /// completion (or a CRC) on an output frame's last beat.
    pub user: u128,
}

/// Splits `frame` into beats of `beat_bytes`, packed: full beats, then a partial last beat.
/// An empty frame is one beat with no bytes kept.
pub fn frame_to_beats(frame: &[u8], beat_bytes: usize) -> Vec<Beat> {
    if frame.is_empty() {
        return vec![Beat {
            data: vec![0; beat_bytes],
            keep: 0,
            last: true,
            user: 0,
        }];
    }
    let chunks = frame.len().div_ceil(beat_bytes);
    frame
        .chunks(beat_bytes)
        .enumerate()
        .map(|(i, chunk)| {
            let mut data = chunk.to_vec();
            data.resize(beat_bytes, 0);
            Beat {
                data,
                keep: lanes(chunk.len()),
                last: i + 1 == chunks,
                user: 0,
            }
        })
        .collect()
}

/// A keep mask with the low `n` lanes set.
pub fn lanes(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Seeded xorshift generator: tiny, deterministic, good enough for traffic patterns.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        percent > 0 && (self.next_u64() % 100) < u64::from(percent)
    }
}

/// How a run drives the handshakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    /// Percent of cycles in which the source holds tvalid low between beats.
    pub idle_percent: u32,
    /// Percent of cycles in which the sink holds tready low.
    pub stall_percent: u32,
    pub seed: u64,
}

impl Traffic {
    /// No idle cycles, no backpressure: the throughput configuration.
    pub const FULL_RATE: Traffic = Traffic {
        idle_percent: 0,
        stall_percent: 0,
        seed: 0,
    };

    /// {no idle, random idle} × {no backpressure, random backpressure}, seeded from `seed`
    /// (or `LZCACHE_SEED` when set, to replay a failure).
    pub fn matrix(seed: u64) -> [Traffic; 4] {
        let seed = std::env::var("LZCACHE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(seed);
        [(0, 0), (30, 0), (0, 30), (30, 30)].map(|(idle, stall)| Traffic {
            idle_percent: idle,
            stall_percent: stall,
            seed,
        })
    }
}

impl fmt::Display for Traffic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "idle {}% backpressure {}% (replay with LZCACHE_SEED={})",
            self.idle_percent, self.stall_percent, self.seed
        )
    }
}

/// Presents beats, keeping tvalid and the beat stable until accepted (AXI rule), with random
/// idle cycles between beats.
pub struct Source {
    beats: VecDeque<Beat>,
    rng: Rng,
    idle_percent: u32,
    presenting: bool,
}

impl Source {
    pub fn new(beats: impl IntoIterator<Item = Beat>, traffic: &Traffic) -> Self {
        Self {
            beats: beats.into_iter().collect(),
            rng: Rng::new(traffic.seed ^ 0x5EED_0001),
            idle_percent: traffic.idle_percent,
            presenting: false,
        }
    }

    /// The beat to present this cycle, if any.
    pub fn current(&mut self) -> Option<&Beat> {
        if !self.presenting && !self.beats.is_empty() {
            self.presenting = !self.rng.chance(self.idle_percent);
        }
        if self.presenting {
            self.beats.front()
        } else {
            None
        }
    }

    /// Records the handshake result of the cycle.
    pub fn advance(&mut self, accepted: bool) {
        if self.presenting && accepted {
            self.beats.pop_front();
            self.presenting = false;
        }
    }

    pub fn is_done(&self) -> bool {
        self.beats.is_empty()
    }
}

/// Applies random backpressure and collects output beats.
pub struct Sink {
    rng: Rng,
    stall_percent: u32,
    pub beats: Vec<Beat>,
}

impl Sink {
    pub fn new(traffic: &Traffic) -> Self {
        Self {
            rng: Rng::new(traffic.seed ^ 0x5EED_0002),
            stall_percent: traffic.stall_percent,
            beats: Vec::new(),
        }
    }

    pub fn ready(&mut self) -> bool {
        !self.rng.chance(self.stall_percent)
    }
}

/// What a streaming run produced.
#[derive(Debug)]
pub struct Run {
    pub output: Vec<Beat>,
    /// Cycles from the first cycle of the run to the cycle the last output beat was taken.
    pub cycles: u64,
}

/// Streams `beats` through `dut` under `traffic` until `expected_out` output beats arrived.
/// Panics (with the traffic and its seed) if that takes more than `max_cycles`.
pub fn run(
    dut: &mut Dut,
    beats: Vec<Beat>,
    expected_out: usize,
    traffic: &Traffic,
    max_cycles: u64,
) -> Run {
    let mut source = Source::new(beats, traffic);
    let mut sink = Sink::new(traffic);
    let start = dut.cycles();
    while sink.beats.len() < expected_out {
        assert!(
            dut.cycles() - start < max_cycles,
            "{}: no progress after {max_cycles} cycles ({} of {expected_out} beats out); {traffic}",
            dut.name(),
            sink.beats.len()
        );
        let ready = sink.ready();
        let input = source.current().cloned();
        let cycle = dut.cycle(input.as_ref(), ready);
        source.advance(input.is_some() && cycle.input_ready);
        if let (true, Some(beat)) = (ready, cycle.output) {
            sink.beats.push(beat);
        }
    }
    assert!(
        source.is_done(),
        "{}: output complete but input left over; {traffic}",
        dut.name()
    );
    Run {
        output: sink.beats,
        cycles: dut.cycles() - start,
    }
}

/// Streams `beats` through `dut` under `traffic` until `frames` output frames (beats with
/// tlast) arrived, for engines whose output length is not known in advance. Panics (with the
/// traffic and its seed) if that takes more than `max_cycles`.
pub fn run_frames(
    dut: &mut Dut,
    beats: Vec<Beat>,
    frames: usize,
    traffic: &Traffic,
    max_cycles: u64,
) -> Run {
    let mut source = Source::new(beats, traffic);
    let mut sink = Sink::new(traffic);
    let start = dut.cycles();
    let mut done = 0;
    // An engine may report a frame (an error) before it has taken all of the frame's input.
    while done < frames || !source.is_done() {
        assert!(
            dut.cycles() - start < max_cycles,
            "{}: no progress after {max_cycles} cycles ({done} of {frames} frames out, input \
             left: {}); {traffic}",
            dut.name(),
            !source.is_done()
        );
        let ready = sink.ready();
        let input = source.current().cloned();
        let cycle = dut.cycle(input.as_ref(), ready);
        source.advance(input.is_some() && cycle.input_ready);
        if let (true, Some(beat)) = (ready, cycle.output) {
            done += usize::from(beat.last);
            sink.beats.push(beat);
        }
    }
    assert_eq!(
        done,
        frames,
        "{}: more frames out than expected; {traffic}",
        dut.name()
    );
    Run {
        output: sink.beats,
        cycles: dut.cycles() - start,
    }
}
