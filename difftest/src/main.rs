//! `difftest`: lzcache against memcached on generated command streams.
//!
//! `difftest --secs 600` runs for ten minutes; `--seed N --streams 1` replays one stream.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lzcache_difftest::run::{run, Pair};

#[derive(Parser)]
#[command(about = "Compare lzcache's replies with memcached's on generated command streams")]
struct Cli {
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// First stream's seed (streams use consecutive seeds).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Streams to run at most.
    #[arg(long, default_value_t = u64::MAX)]
    streams: u64,
    /// Steps per stream.
    #[arg(long, default_value_t = 40)]
    steps: usize,
    /// Differences to minimise and report at most.
    #[arg(long, default_value_t = 20)]
    reports: usize,
    /// Instead of running: write the streams into this directory as fuzzing seeds (a byte
    /// choosing the split size, then the stream's bytes), one file per seed.
    #[arg(long)]
    dump: Option<std::path::PathBuf>,
}

fn dump(dir: &std::path::Path, cli: &Cli) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let streams = cli.streams.min(10_000);
    for seed in cli.seed..cli.seed.saturating_add(streams) {
        let mut bytes = vec![(seed % 251) as u8];
        for step in lzcache_difftest::gen::stream(seed, cli.steps) {
            bytes.extend(lzcache_difftest::gen::fill_cas(&step.bytes, b"1"));
        }
        std::fs::write(dir.join(format!("stream-{seed}")), bytes)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(dir) = &cli.dump {
        return match dump(dir, &cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("difftest: {}: {e}", dir.display());
                ExitCode::from(2)
            }
        };
    }
    let pair = match Pair::start() {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("difftest: {e}");
            return ExitCode::from(2);
        }
    };
    match run(
        &pair,
        cli.seed,
        cli.streams,
        cli.steps,
        Duration::from_secs(cli.secs),
        cli.reports,
    ) {
        Ok(summary) => {
            print!("{}", summary.report());
            if summary.differences.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("difftest: {e}");
            ExitCode::from(2)
        }
    }
}
