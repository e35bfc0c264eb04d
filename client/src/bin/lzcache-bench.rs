//! `lzcache-bench`: a memcached load generator over TCP or RDMA — ops/s and latency
//! percentiles of a get/set mix, every hit checked byte for byte, several targets side by
//! side in one run with their ratios to the first.
//!
//! A target is `ADDR` (a running lzcache or memcached) or `in-process` (an lzcache started
//! inside the bench; over RDMA — `--transport rdma` or `in-process:rdma` — it listens on the
//! emulated verbs, whose figures are the transport's software cost on this machine, not RDMA
//! latency).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use lzcache_client::load::{self, Report, Workload};
use lzcache_client::Transport;
use lzcache_rdma::verbs::Provider;
use lzcache_rdma::Fabric;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Kind {
    Tcp,
    Rdma,
}

#[derive(Debug, Parser)]
#[command(name = "lzcache-bench", version, about)]
struct Args {
    /// Targets: ADDR (host:port), or `in-process` (on --transport), `in-process:tcp`,
    /// `in-process:rdma`; the first is the reference of the ratios.
    #[arg(required = true)]
    targets: Vec<String>,
    #[arg(long, value_enum, default_value = "tcp")]
    transport: Kind,
    /// Connections per target, each on its own thread.
    #[arg(short, long, default_value_t = 4)]
    connections: usize,
    /// Seconds per target and round.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Rounds: the targets run in turn this many times, so drift on a noisy machine is shared.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    /// Value sizes and weights, SIZE:WEIGHT comma-separated.
    #[arg(long, default_value = "100:70,1000:25,10000:5")]
    sizes: String,
    /// Gets per set.
    #[arg(long, default_value_t = 9.0)]
    gets_per_set: f64,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn parse_sizes(text: &str) -> Result<Vec<(usize, u32)>, String> {
    text.split(',')
        .map(|part| {
            let (size, weight) = part.split_once(':').unwrap_or((part, "1"));
            Ok((
                size.trim()
                    .parse()
                    .map_err(|_| format!("bad size {size:?}"))?,
                weight
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad weight {weight:?}"))?,
            ))
        })
        .collect()
}

/// A target ready to be loaded: its address, transport and label (and the in-process server
/// that must live as long as it).
struct Target {
    label: String,
    addr: SocketAddr,
    transport: Transport,
    _server: Option<lzcache::ServerHandle>,
}

fn open(spec: &str, kind: Kind, fabric: &Fabric) -> Result<Target, String> {
    let provider = || -> Arc<dyn Provider> { Arc::new(fabric.clone()) };
    let in_process = match spec {
        "in-process" => Some(kind),
        "in-process:tcp" => Some(Kind::Tcp),
        "in-process:rdma" => Some(Kind::Rdma),
        _ => None,
    };
    if let Some(kind) = in_process {
        let rdma = kind == Kind::Rdma;
        let server = lzcache::start(lzcache::Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            threads: 2,
            rdma_listen: rdma.then(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            rdma: rdma.then(provider),
            ..lzcache::Config::default()
        })
        .map_err(|e| format!("in-process server: {e}"))?;
        let (transport, label) = if rdma {
            (
                Transport::Rdma(provider()),
                "in-process lzcache, emulated verbs (not RDMA latency)",
            )
        } else {
            (Transport::Tcp, "in-process lzcache, TCP")
        };
        return Ok(Target {
            label: label.into(),
            addr: server.addr(),
            transport,
            _server: Some(server),
        });
    }
    let addr: SocketAddr = spec
        .parse()
        .map_err(|_| format!("bad target {spec:?}: want host:port or in-process"))?;
    let transport = match kind {
        Kind::Tcp => Transport::Tcp,
        Kind::Rdma => match lzcache_rdma::nic_provider() {
            Some(provider) => Transport::Rdma(provider),
            None => return Err("this build has no RDMA verbs (feature rdma); use the in-process target for the emulated verbs".into()),
        },
    };
    Ok(Target {
        label: format!("{spec} ({kind:?})"),
        addr,
        transport,
        _server: None,
    })
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let sizes = match parse_sizes(&args.sizes) {
        Ok(sizes) if !sizes.is_empty() => sizes,
        Ok(_) | Err(_) => {
            eprintln!("lzcache-bench: --sizes wants SIZE:WEIGHT,…");
            return std::process::ExitCode::from(64);
        }
    };
    let workload = Workload {
        connections: args.connections.max(1),
        keys: args.keys.max(1),
        sizes,
        gets_per_set: args.gets_per_set,
        pipeline: args.pipeline.max(1),
        duration: Duration::from_secs_f64(args.secs),
        seed: args.seed,
    };
    let fabric = Fabric::new(args.seed);
    let mut targets = Vec::new();
    for spec in &args.targets {
        match open(spec, args.transport, &fabric) {
            Ok(target) => targets.push(target),
            Err(err) => {
                eprintln!("lzcache-bench: {err}");
                return std::process::ExitCode::from(69);
            }
        }
    }
    for target in &targets {
        if let Err(err) = load::preload(target.addr, &target.transport, &workload) {
            eprintln!("lzcache-bench: preloading {}: {err}", target.label);
            return std::process::ExitCode::from(70);
        }
    }
    let mut results: Vec<Vec<Report>> = targets.iter().map(|_| Vec::new()).collect();
    for _ in 0..args.rounds.max(1) {
        for (target, result) in targets.iter().zip(&mut results) {
            match load::run(target.addr, &target.transport, &workload) {
                Ok(report) => result.push(report),
                Err(err) => {
                    eprintln!("lzcache-bench: {}: {err}", target.label);
                    return std::process::ExitCode::from(70);
                }
            }
        }
    }
    println!(
        "{} connections, pipeline {}, {} keys, sizes {}, {} gets per set, {} s × {} rounds",
        workload.connections,
        workload.pipeline,
        workload.keys,
        args.sizes,
        workload.gets_per_set,
        args.secs,
        args.rounds
    );
    println!(
        "{:<58} {:>10} {:>7} {:>9} {:>9} {:>9} {:>7}",
        "target", "ops/s", "hit %", "p50 µs", "p99 µs", "p99.9 µs", "ratio"
    );
    let mut reference = None;
    for (target, reports) in targets.iter().zip(&results) {
        let mut merged = reports[0].latency.clone();
        for r in &reports[1..] {
            merged.add(&r.latency).expect("same bounds");
        }
        let ops: f64 = reports.iter().map(Report::ops_per_sec).sum::<f64>() / reports.len() as f64;
        let gets: u64 = reports.iter().map(|r| r.gets).sum();
        let hits: u64 = reports.iter().map(|r| r.hits).sum();
        let ratio = ops / *reference.get_or_insert(ops);
        let pct = |q: f64| merged.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{:<58} {:>10.0} {:>7.1} {:>9.1} {:>9.1} {:>9.1} {:>7.2}",
            target.label,
            ops,
            100.0 * hits as f64 / gets.max(1) as f64,
            pct(0.5),
            pct(0.99),
            pct(0.999),
            ratio
        );
        let fallbacks: usize = reports.iter().map(|r| r.fallbacks).sum();
        if fallbacks > 0 {
            println!("  ({fallbacks} connections fell back from RDMA to TCP)");
        }
    }
    std::process::ExitCode::SUCCESS
}
