//! `lzcache`: the server binary.

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = lzcache::Cli::parse();
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("lzcache: {message}");
            return std::process::ExitCode::from(64);
        }
    };
    let level = match config.verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let listen = config.listen;
    let server = match lzcache::start(config) {
        Ok(server) => server,
        Err(err) => {
            eprintln!("lzcache: cannot start on {listen}: {err}");
            return std::process::ExitCode::from(71);
        }
    };
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a single-threaded runtime for signal handling");
    signals.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        // memcached's graceful shutdown signal.
        let mut usr1 = signal(SignalKind::user_defined1()).expect("SIGUSR1 handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
            _ = usr1.recv() => {},
        }
    });
    tracing::info!("shutting down");
    server.shutdown();
    std::process::ExitCode::SUCCESS
}
