//! Running streams against lzcache and memcached side by side, and shrinking a stream that
//! makes them differ to the few steps that matter.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::gen::{self, Step};
use crate::wire::{Reply, Session};

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start memcached ({0}); it is installed by `make deps` (apt: memcached)")]
    Memcached(std::io::Error),
    #[error("memcached did not listen within 10 s")]
    MemcachedSilent,
    #[error("cannot start lzcache: {0}")]
    Lzcache(std::io::Error),
    #[error("cannot connect to {which}: {source}")]
    Connect {
        which: &'static str,
        source: std::io::Error,
    },
}

/// memcached 1.6.18 as the reference, on a loopback port.
pub struct Memcached {
    child: Child,
    pub addr: SocketAddr,
}

impl Memcached {
    /// Starts `memcached` with the settings lzcache runs with by default (`-m 64 -c 1024
    /// -I 1m`, one thread per core irrelevant to replies). A port is probed free first; if
    /// another process takes it meanwhile memcached exits and the next port is tried.
    pub fn start() -> Result<Self, RunError> {
        for _ in 0..20 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(RunError::Memcached)?
                .port();
            let mut child = Command::new("memcached")
                .args([
                    "-l",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "0",
                    "-m",
                    "64",
                ])
                .args(["-u", "root"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(RunError::Memcached)?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if std::net::TcpStream::connect(addr).is_ok() {
                    return Ok(Self { child, addr });
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(RunError::MemcachedSilent);
                }
                std::thread::yield_now();
            }
        }
        Err(RunError::MemcachedSilent)
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replays of a minimised stream that must all differ at its last step before it counts as a
/// difference. A stream that spans one server's clock tick but not the other's (an item set
/// with a one-second exptime, then read) differs on a fraction of replays equal to the time
/// it takes over a second — a few percent — and the minimiser, which keeps any removal after
/// which the stream still differs, can land on one by chance. Replays a few milliseconds
/// apart hit a tick independently, so four in a row leave ~1e-5 of such flukes, while a
/// difference in behaviour differs on every replay.
const CONFIRMATIONS: usize = 4;

/// The two servers under comparison.
pub struct Pair {
    memcached: Memcached,
    lzcache: lzcache::ServerHandle,
}

impl Pair {
    pub fn start() -> Result<Self, RunError> {
        let memcached = Memcached::start()?;
        let config = lzcache::Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            threads: 2,
            ..lzcache::Config::default()
        };
        let lzcache = lzcache::start(config).map_err(RunError::Lzcache)?;
        Ok(Self { memcached, lzcache })
    }

    fn sessions(&self) -> Result<(Session, Session), RunError> {
        let open = |which, addr| {
            Session::connect(addr).map_err(|source| RunError::Connect { which, source })
        };
        let mut reference = open("memcached", self.memcached.addr)?;
        let mut ours = open("lzcache", self.lzcache.addr())?;
        // Every stream starts from an empty cache.
        let flush = Step {
            bytes: b"flush_all\r\n".to_vec(),
            splits: vec![11],
        };
        reference.exchange(&flush);
        ours.exchange(&flush);
        Ok((reference, ours))
    }

    /// Runs `steps` on fresh connections; the first step whose replies differ, if any.
    pub fn first_difference(&self, steps: &[Step]) -> Result<Option<Difference>, RunError> {
        self.first_difference_traced(steps, &mut |_, _| {})
    }

    /// Like [`Pair::first_difference`], calling `seen` with each step and memcached's reply.
    pub fn first_difference_traced(
        &self,
        steps: &[Step],
        seen: &mut dyn FnMut(&Step, &Reply),
    ) -> Result<Option<Difference>, RunError> {
        let (mut reference, mut ours) = self.sessions()?;
        for (index, step) in steps.iter().enumerate() {
            let expected = reference.exchange(step);
            let got = ours.exchange(step);
            seen(step, &expected);
            if expected != got {
                return Ok(Some(Difference {
                    index,
                    expected,
                    got,
                }));
            }
            if expected.ends_stream() {
                break;
            }
        }
        Ok(None)
    }

    /// The shortest sub-stream (greedily, one step at a time) that still differs at its end;
    /// `None` when the stream, or what it shrinks to, does not differ on every replay (a
    /// timing-dependent difference).
    pub fn minimise(&self, steps: &[Step]) -> Result<Option<(Vec<Step>, Difference)>, RunError> {
        let Some(first) = self.first_difference(steps)? else {
            return Ok(None);
        };
        let mut kept: Vec<Step> = steps[..=first.index].to_vec();
        let mut difference = first;
        let mut i = 0;
        while i + 1 < kept.len() {
            let mut candidate = kept.clone();
            candidate.remove(i);
            match self.first_difference(&candidate)? {
                Some(d) if d.index + 1 == candidate.len() => {
                    kept = candidate;
                    difference = d;
                }
                _ => i += 1,
            }
        }
        if !self.differs_every_time(&kept, CONFIRMATIONS)? {
            return Ok(None);
        }
        Ok(Some((kept, difference)))
    }

    /// True when `steps` differ at their last step on each of `times` replays.
    fn differs_every_time(&self, steps: &[Step], times: usize) -> Result<bool, RunError> {
        for _ in 0..times {
            match self.first_difference(steps)? {
                Some(d) if d.index + 1 == steps.len() => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// Where two replies parted.
#[derive(Debug, Clone)]
pub struct Difference {
    pub index: usize,
    pub expected: Reply,
    pub got: Reply,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Summary {
    pub streams: u64,
    pub steps: u64,
    /// Steps memcached did not answer (a server waiting for data): each costs the wait.
    pub silent: u64,
    /// Connections memcached closed (an HTTP-looking line, `quit`, an over-long line).
    pub closed: u64,
    /// Minimised differing streams: (seed, steps, difference).
    pub differences: Vec<(u64, Vec<Step>, Difference)>,
    /// Streams that differed once and not on every replay: replies that depend on when a
    /// second ticks (memcached's `flush_all` and expiry work in whole seconds). Reported,
    /// not counted as differences.
    pub unreproduced: Vec<(u64, Difference)>,
}

impl Summary {
    /// A report of every difference, each replayable from its seed.
    pub fn report(&self) -> String {
        let mut out = format!(
            "{} streams, {} steps ({} unanswered, {} closing), {} differences, {} not reproduced\n",
            self.streams,
            self.steps,
            self.silent,
            self.closed,
            self.differences.len(),
            self.unreproduced.len()
        );
        for (seed, d) in &self.unreproduced {
            out.push_str(&format!(
                "-- seed {seed}: differed at step {} once, not on every replay\n   memcached: {}\n   lzcache:   {}\n",
                d.index,
                d.expected.show(),
                d.got.show()
            ));
        }
        for (seed, steps, d) in &self.differences {
            out.push_str(&format!(
                "-- seed {seed} (minimised to {} steps)\n",
                steps.len()
            ));
            for step in steps {
                out.push_str(&format!("   > {}\n", step.show()));
            }
            out.push_str(&format!("   memcached: {}\n", d.expected.show()));
            out.push_str(&format!("   lzcache:   {}\n", d.got.show()));
        }
        out
    }
}

/// Runs streams of `steps` steps from seeds `first_seed..` until `streams` are done or
/// `budget` has passed; keeps at most `max_reports` minimised differences.
pub fn run(
    pair: &Pair,
    first_seed: u64,
    streams: u64,
    steps: usize,
    budget: Duration,
    max_reports: usize,
) -> Result<Summary, RunError> {
    let started = Instant::now();
    let mut summary = Summary::default();
    for seed in first_seed..first_seed.saturating_add(streams) {
        if started.elapsed() >= budget {
            break;
        }
        let stream = gen::stream(seed, steps);
        summary.streams += 1;
        summary.steps += stream.len() as u64;
        let (mut silent, mut closed) = (0, 0);
        let found = pair.first_difference_traced(&stream, &mut |step, reply| match reply {
            Reply::Silent(_) => {
                silent += 1;
                if std::env::var_os("DIFFTEST_SHOW_SILENT").is_some() {
                    eprintln!("unanswered: {}", step.show());
                }
            }
            Reply::Closed(_) => closed += 1,
            Reply::Answered(_) => {}
        })?;
        summary.silent += silent;
        summary.closed += closed;
        if let Some(first) = found {
            match pair.minimise(&stream)? {
                Some(found) if summary.differences.len() < max_reports => {
                    summary.differences.push((seed, found.0, found.1));
                }
                Some(_) => {}
                None => summary.unreproduced.push((seed, first)),
            }
        }
    }
    Ok(summary)
}
