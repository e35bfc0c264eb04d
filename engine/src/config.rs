//! Server settings: memcached's command-line flags where they apply, plus lzcache's own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use lzcache_driver::device::DeviceOptions;
use lzcache_driver::{CodecSpec, DispatchConfig, Prefer};
use lzcache_rdma::verbs::Provider;

use crate::dict::DictSettings;
use crate::protocol::auth::AuthFile;
use crate::tls::{Tls, TlsOptions};
use lzcache_rdma::ChannelConfig;

/// Default threshold for trying compression. LZ4 rarely saves 1/8 of a value shorter than
/// this (its block header, literal-length bytes and 5-byte literal tail eat the gain), and
/// per-item overhead dominates such values anyway; values from here up often shrink.
pub const DEFAULT_COMPRESS_MIN: usize = 64;

/// Settings of one server instance.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Bytes of items the cache may hold (`-m`, given in MiB).
    pub memory_limit: usize,
    /// Open connections allowed (`-c`).
    pub max_connections: usize,
    /// Worker threads (`-t`).
    pub threads: usize,
    /// Largest value accepted (`-I`).
    pub item_size_max: usize,
    /// A connection that sends nothing for this long is closed (`-o idle_timeout=SECONDS`);
    /// never when `None`, memcached's default.
    pub idle_timeout: Option<Duration>,
    pub verbosity: u8,
    /// Values at least this long are tried for compression.
    pub compress_min: usize,
    /// Codec path: software, a device, or a card when one is found (`--accel`).
    pub accel: CodecSpec,
    /// How the dispatcher chooses and checks the device path.
    pub dispatch: DispatchConfig,
    /// The device's deadline and queue (`--accel-timeout-ms`).
    pub device: DeviceOptions,
    /// Items live in this file and survive a clean shutdown (`-e`, memcached's memory file).
    pub memory_file: Option<std::path::PathBuf>,
    /// TLS on the TCP listener (`-Z` with `-o ssl_*`).
    pub tls: Option<Tls>,
    /// Users of memcached's ASCII authentication (`-Y authfile`); none: no authentication.
    pub auth: Option<Arc<AuthFile>>,
    /// Also serve over RDMA on this address (`--rdma-listen`); port 0 means the TCP port.
    pub rdma_listen: Option<SocketAddr>,
    /// Where RDMA connections come from: a NIC's verbs or, in tests, the emulated fabric.
    /// `None` with `rdma_listen` set fails that listener (this build has no RDMA verbs).
    pub rdma: Option<Arc<dyn Provider>>,
    /// Ring sizes and queue depths of each RDMA connection.
    pub rdma_channel: ChannelConfig,
    /// Trained dictionaries for small values (`--dict`, `--dict-size`, …).
    pub dict: DictSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 11211)),
            memory_limit: 64 << 20,
            max_connections: 1024,
            threads: 4,
            item_size_max: 1 << 20,
            idle_timeout: None,
            verbosity: 0,
            compress_min: DEFAULT_COMPRESS_MIN,
            accel: CodecSpec::Software,
            dispatch: DispatchConfig::default(),
            device: DeviceOptions::default(),
            memory_file: None,
            tls: None,
            auth: None,
            rdma_listen: None,
            rdma: None,
            rdma_channel: ChannelConfig::default(),
            dict: DictSettings::default(),
        }
    }
}

/// lzcache: a memcached-compatible cache whose values are LZ4-compressed and CRC-64/NVME-checked.
#[derive(Debug, Parser)]
#[command(name = "lzcache", version, about)]
pub struct Cli {
    /// TCP port to listen on.
    #[arg(short = 'p', long = "port", default_value_t = 11211)]
    pub port: u16,
    /// Interface to listen on.
    #[arg(short = 'l', long = "listen", default_value = "127.0.0.1")]
    pub listen: std::net::IpAddr,
    /// Item memory in megabytes.
    #[arg(short = 'm', long = "memory-limit", default_value_t = 64)]
    pub memory_mb: usize,
    /// Max simultaneous connections.
    #[arg(short = 'c', long = "conn-limit", default_value_t = 1024)]
    pub max_connections: usize,
    /// Number of worker threads.
    #[arg(short = 't', long = "threads", default_value_t = 4)]
    pub threads: usize,
    /// Max item size, with an optional k or m suffix (memcached's -I).
    #[arg(short = 'I', long = "max-item-size", default_value = "1m", value_parser = parse_size)]
    pub item_size_max: usize,
    /// Memory file: items are kept in this file (put it on tmpfs or DAX) and served again
    /// after a clean shutdown (SIGTERM or SIGUSR1) and a start with the same -e and -m.
    #[arg(short = 'e', long = "memory-file")]
    pub memory_file: Option<std::path::PathBuf>,
    /// Serve TLS on the TCP port (memcached's `-Z`), with `-o ssl_chain_cert=FILE` and
    /// optionally `ssl_key`, `ssl_ca_cert`, `ssl_verify_mode`.
    #[arg(short = 'Z', long = "enable-ssl")]
    pub enable_ssl: bool,
    /// Extended options, comma-separated, as memcached's `-o`: `idle_timeout=SECONDS`,
    /// `ssl_chain_cert=FILE`, `ssl_key=FILE`, `ssl_ca_cert=FILE`, `ssl_verify_mode=0..3`.
    #[arg(short = 'o', long = "extended")]
    pub extended: Vec<String>,
    /// Verbose logging; repeat for more.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Values of at least this many bytes are tried for LZ4 compression.
    #[arg(long = "compress-min", default_value_t = DEFAULT_COMPRESS_MIN)]
    pub compress_min: usize,
    /// Codec path: auto (a card when one is found, else software), software, xdma:<N>,
    /// udp:HOST[:PORT] (a board behind Ethernet, boards/; port 7440 when omitted), or
    /// sim / sim:<faults> (the simulated CacheAccelerator, in builds with the `sim` feature;
    /// faults for tests, e.g. `sim:error=0.1,corrupt=0.1,drop=0.05,stall=0.1:20ms`)
    #[arg(long = "accel", default_value = "auto")]
    pub accel: CodecSpec,
    /// While the device is healthy: the path expected to finish first, or always the device
    #[arg(long = "accel-prefer", value_enum, default_value = "fastest")]
    pub accel_prefer: Prefer,
    /// Share (0..1) of device-compressed blocks checked by decompressing them in software
    #[arg(long = "accel-verify", default_value_t = 1.0)]
    pub accel_verify: f64,
    /// Fixed part of a device job's deadline in ms, after which the job is redone in software
    /// (default: the device's own; the deadline grows with the job's size at the device's rate)
    #[arg(long = "accel-timeout-ms")]
    pub accel_timeout_ms: Option<u64>,
    /// Require memcached's ASCII authentication: FILE holds `user:password` lines, and a client
    /// authenticates with `set <any> 0 0 <n>` whose data is `<user> <password>`.
    #[arg(short = 'Y', long = "auth-file", value_name = "FILE")]
    pub auth_file: Option<std::path::PathBuf>,
    /// Also serve the text and meta protocols over RDMA (RC queue pairs set up by rdma_cm) on
    /// ADDR:PORT. A missing device fails this listener only; TCP keeps serving.
    #[arg(long = "rdma-listen", value_name = "ADDR:PORT")]
    pub rdma_listen: Option<SocketAddr>,
    /// Train LZ4 dictionaries on stored values and compress values up to 16 KiB with them
    #[arg(long = "dict", value_enum, default_value = "on")]
    pub dict: OnOff,
    /// Bytes of each trained dictionary (1k to 64k)
    #[arg(long = "dict-size", default_value = "16k", value_parser = parse_size)]
    pub dict_size: usize,
    /// Retrain at most every this many seconds while the ratio holds (sooner when it decays)
    #[arg(long = "dict-retrain-secs", default_value_t = 600)]
    pub dict_retrain_secs: u64,
    /// Start with the dictionaries of FILE (one written by --dict-export)
    #[arg(long = "dict-import", value_name = "FILE")]
    pub dict_import: Option<std::path::PathBuf>,
    /// Write the dictionaries to FILE whenever one is adopted (for --dict-import elsewhere)
    #[arg(long = "dict-export", value_name = "FILE")]
    pub dict_export: Option<std::path::PathBuf>,
}

/// A switch flag's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl Cli {
    pub fn into_config(self) -> Result<Config, String> {
        if self.threads == 0 || self.threads > 256 {
            return Err("-t must be between 1 and 256".into());
        }
        if self.memory_mb == 0 {
            return Err("-m must be at least 1".into());
        }
        if self.max_connections == 0 {
            return Err("-c must be at least 1".into());
        }
        let memory_limit = self
            .memory_mb
            .checked_mul(1 << 20)
            .ok_or("-m is too large")?;
        if self.item_size_max > memory_limit {
            return Err("-I cannot be larger than -m".into());
        }
        let mut idle_timeout = None;
        let mut tls_options = TlsOptions::default();
        for option in self.extended.iter().flat_map(|o| o.split(',')) {
            if let Some((name, value)) = option.split_once('=') {
                if tls_options.suboption(name, value)? {
                    continue;
                }
            }
            match option.split_once('=') {
                Some(("idle_timeout", secs)) => {
                    let secs: u64 = secs
                        .parse()
                        .map_err(|_| format!("idle_timeout: bad number {secs:?}"))?;
                    idle_timeout = (secs > 0).then(|| Duration::from_secs(secs));
                }
                _ => return Err(format!("Illegal suboption \"{option}\"")),
            }
        }
        if !(1024..=lzcache_driver::dict::MAX_DICT_LEN).contains(&self.dict_size) {
            return Err("--dict-size must be between 1k and 64k".into());
        }
        if self.dict_retrain_secs == 0 {
            return Err("--dict-retrain-secs must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.accel_verify) {
            return Err("--accel-verify must be between 0 and 1".into());
        }
        let tls = match self.enable_ssl {
            true => Some(Tls::new(tls_options)?),
            false if tls_options != TlsOptions::default() => {
                return Err("ssl_* options need -Z".into());
            }
            false => None,
        };
        Ok(Config {
            listen: SocketAddr::new(self.listen, self.port),
            memory_limit,
            max_connections: self.max_connections,
            threads: self.threads,
            item_size_max: self.item_size_max,
            idle_timeout,
            verbosity: self.verbose,
            compress_min: self.compress_min,
            accel: self.accel,
            dispatch: DispatchConfig {
                prefer: self.accel_prefer,
                verify: self.accel_verify,
                ..DispatchConfig::default()
            },
            device: DeviceOptions {
                timeout: self.accel_timeout_ms.map(Duration::from_millis),
                ..DeviceOptions::default()
            },
            memory_file: self.memory_file,
            tls,
            auth: match &self.auth_file {
                Some(path) => Some(Arc::new(AuthFile::load(path)?)),
                None => None,
            },
            rdma_listen: self.rdma_listen,
            rdma: lzcache_rdma::nic_provider(),
            rdma_channel: ChannelConfig::default(),
            dict: DictSettings {
                enabled: self.dict == OnOff::On,
                size: self.dict_size,
                retrain_interval: Duration::from_secs(self.dict_retrain_secs),
                import: self.dict_import,
                export: self.dict_export,
            },
        })
    }
}

/// Parses `1024`, `64k` or `1m` (case-insensitive), between 1 KiB and 1 GiB as memcached allows.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let lower = s.to_ascii_lowercase();
    let (digits, unit) = match lower.strip_suffix('k') {
        Some(d) => (d, 1 << 10),
        None => match lower.strip_suffix('m') {
            Some(d) => (d, 1 << 20),
            None => (lower.as_str(), 1),
        },
    };
    let n: usize = digits.parse().map_err(|_| format!("bad size '{s}'"))?;
    let bytes = n.checked_mul(unit).ok_or(format!("size '{s}' too large"))?;
    if !(1 << 10..=1 << 30).contains(&bytes) {
        return Err(format!("size '{s}' must be between 1k and 1024m"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("2048"), Ok(2048));
        assert!(parse_size("12").is_err());
        assert!(parse_size("2g").is_err());
    }

    #[test]
    fn defaults_match_memcached() {
        let cli = Cli::parse_from(["lzcache"]);
        let c = cli.into_config().unwrap();
        assert_eq!(c.listen, Config::default().listen);
        assert_eq!(c.memory_limit, 64 << 20);
        assert_eq!(c.item_size_max, 1 << 20);
    }
}
