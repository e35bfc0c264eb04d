//! Test support: a server on a loopback port and a client that checks replies byte for byte.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lzcache::{Config, ServerHandle};
use lzcache_rdma::verbs::Provider;
use lzcache_rdma::{BlockingRdmaStream, ChannelConfig, Fabric};

/// The transport [`Client::connect`] uses: TCP, or RDMA over the emulated verbs when
/// `LZCACHE_TEST_TRANSPORT=rdma-emulated` (so every protocol test runs over both).
pub fn rdma_emulated() -> bool {
    std::env::var("LZCACHE_TEST_TRANSPORT").is_ok_and(|t| t == "rdma-emulated")
}

/// The emulated fabric servers and clients of this test process share; its interleaving of
/// connections follows `LZCACHE_TEST_RDMA_SEED` (default 1), and each send is held up to
/// `LZCACHE_TEST_RDMA_DELAY_US` microseconds (default 0).
pub fn fabric() -> &'static Fabric {
    static FABRIC: OnceLock<Fabric> = OnceLock::new();
    FABRIC.get_or_init(|| {
        let seed = std::env::var("LZCACHE_TEST_RDMA_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let delay_us = std::env::var("LZCACHE_TEST_RDMA_DELAY_US")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Fabric::with_delays(seed, Duration::from_micros(delay_us))
    })
}

/// Starts a server on 127.0.0.1 with an OS-chosen port; over RDMA too (on the same address of
/// the emulated fabric) when the tests run over RDMA.
pub fn server(config: Config) -> ServerHandle {
    let (rdma_listen, rdma) = if rdma_emulated() {
        let provider: Arc<dyn Provider> = Arc::new(fabric().clone());
        (Some(SocketAddr::from(([127, 0, 0, 1], 0))), Some(provider))
    } else {
        (config.rdma_listen, config.rdma.clone())
    };
    let server = lzcache::start(Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 2,
        rdma_listen,
        rdma,
        ..config
    })
    .expect("server starts");
    if rdma_emulated() {
        assert_eq!(
            server.rdma_addr(),
            Some(server.addr()),
            "RDMA listener runs"
        );
    }
    server
}

/// The server binary as its own process, on an OS-chosen port (`-p 0`): the port is read from
/// the address it logs, so tests running in parallel never race for a port.
pub struct Binary {
    child: Child,
    pub port: u16,
    /// Every log line so far, and a signal for each new one.
    log: Arc<(std::sync::Mutex<Vec<String>>, std::sync::Condvar)>,
}

impl Binary {
    /// Starts `lzcache -p 0 -t 2` with `args` added (`-t` in `args` replaces `-t 2`).
    pub fn start(args: &[&str]) -> Self {
        let threads: &[&str] = if args.contains(&"-t") {
            &[]
        } else {
            &["-t", "2"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_lzcache"))
            .args(["-p", "0"])
            .args(threads)
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lzcache binary runs");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let log = Arc::new((std::sync::Mutex::new(Vec::new()), std::sync::Condvar::new()));
        let kept = log.clone();
        // Keeps draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                kept.0.lock().unwrap().push(line.clone());
                kept.1.notify_all();
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server reports its address");
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Self { child, port, log }
    }

    /// Waits up to 10 s for a log line matching `wanted`; returns the log so far when none came.
    pub fn wait_for_log(&self, wanted: impl Fn(&str) -> bool) -> Result<String, Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (lines, more) = &*self.log;
        let mut lines = lines.lock().unwrap();
        loop {
            if let Some(line) = lines.iter().find(|l| wanted(l)) {
                return Ok(line.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(lines.clone());
            }
            lines = more.wait_timeout(lines, left).unwrap().0;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Sends `signal` (e.g. "TERM") and waits for the process to exit.
    pub fn stop_with(&mut self, signal: &str) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        self.child.wait().expect("server exits")
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory for one test's files (a memory file and what goes beside it), removed at
/// the end.
pub struct Dir(pub std::path::PathBuf);

impl Dir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("lzcache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// The memory file's path (`-e`).
    pub fn file(&self) -> String {
        self.path("items")
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits (by asking, not by sleeping) until the items of a warm restart have been checked.
pub fn until_checked(c: &mut Client) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.stats("slabs")["lz_restore_checking"] == "1" {
        assert!(Instant::now() < deadline, "restored items never checked");
    }
}

/// Resident memory of process `pid`, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

pub fn default_server() -> ServerHandle {
    server(Config::default())
}

/// A client's connection: a socket, or an RDMA stream over the emulated verbs.
pub enum Conn {
    Tcp(TcpStream),
    Rdma(Box<BlockingRdmaStream>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Rdma(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Rdma(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Rdma(s) => s.flush(),
        }
    }
}

/// A blocking client with a read timeout, so a missing reply fails the test instead of hanging.
pub struct Client {
    pub stream: Conn,
}

impl Client {
    /// Connects over the transport the tests run on ([`rdma_emulated`]).
    pub fn connect(addr: SocketAddr) -> Self {
        if rdma_emulated() {
            let mut stream = BlockingRdmaStream::connect(
                fabric(),
                addr,
                ChannelConfig::default(),
                Duration::from_secs(5),
            )
            .expect("RDMA connect");
            stream.set_read_timeout(Some(Duration::from_secs(5)));
            return Self {
                stream: Conn::Rdma(Box::new(stream)),
            };
        }
        Self::connect_tcp(addr)
    }

    pub fn connect_tcp(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream: Conn::Tcp(stream),
        }
    }

    /// The socket of a TCP client (tests of socket-level behaviour).
    pub fn tcp(&mut self) -> &mut TcpStream {
        match &mut self.stream {
            Conn::Tcp(s) => s,
            Conn::Rdma(_) => panic!("this test needs a TCP connection"),
        }
    }

    /// Sends `bytes`, ends this side of the stream, and waits for the server to close (TCP);
    /// over RDMA, which has no half-close, delivers the bytes and disconnects.
    pub fn send_and_end(&mut self, bytes: &[u8]) {
        match &mut self.stream {
            Conn::Tcp(s) => {
                let _ = s.write_all(bytes);
                let _ = s.shutdown(std::net::Shutdown::Write);
                let _ = s.read_to_end(&mut Vec::new());
            }
            Conn::Rdma(s) => {
                let _ = s.write_all(bytes);
                let _ = s.shutdown();
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads exactly `n` bytes.
    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.stream.read_exact(&mut buf).unwrap_or_else(|e| {
            panic!("reading {n} bytes: {e}");
        });
        buf
    }

    /// Reads one line including its CRLF.
    pub fn read_line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            match self.stream.read(&mut byte) {
                Ok(1) => line.push(byte[0]),
                Ok(_) => panic!(
                    "connection closed after {:?}",
                    String::from_utf8_lossy(&line)
                ),
                Err(e) => panic!(
                    "reading a line after {:?}: {e}",
                    String::from_utf8_lossy(&line)
                ),
            }
        }
        line
    }

    /// Sends `request` and asserts that the reply is exactly `expected`, then checks with a
    /// no-op that nothing more was sent.
    pub fn exchange(&mut self, request: &[u8], expected: &[u8]) {
        self.send(request);
        let got = self.read_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "request {:?}",
            String::from_utf8_lossy(&request[..request.len().min(200)])
        );
        self.send(b"mn\r\n");
        let tail = self.read_n(4);
        assert_eq!(
            String::from_utf8_lossy(&tail),
            "MN\r\n",
            "extra bytes after the reply to {:?}",
            String::from_utf8_lossy(&request[..request.len().min(200)])
        );
    }

    /// Runs a table of (request, exact reply).
    pub fn table(&mut self, cases: &[(&[u8], &[u8])]) {
        for (request, expected) in cases {
            self.exchange(request, expected);
        }
    }

    /// True when the server closed the connection (read returns 0) within the timeout.
    pub fn is_closed(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 256];
        while Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
        false
    }

    /// The value of one general `stats` entry.
    pub fn stat(&mut self, name: &str) -> String {
        self.stats("")
            .remove(name)
            .unwrap_or_else(|| panic!("no stat {name}"))
    }

    pub fn stats(&mut self, args: &str) -> std::collections::HashMap<String, String> {
        let cmd = if args.is_empty() {
            "stats\r\n".to_string()
        } else {
            format!("stats {args}\r\n")
        };
        self.send(cmd.as_bytes());
        let mut map = std::collections::HashMap::new();
        loop {
            let line = String::from_utf8(self.read_line()).unwrap();
            let line = line.trim_end();
            if line == "END" {
                return map;
            }
            let mut parts = line.splitn(3, ' ');
            assert_eq!(parts.next(), Some("STAT"), "bad stats line {line}");
            let name = parts.next().unwrap().to_string();
            map.insert(name, parts.next().unwrap_or("").to_string());
        }
    }

    /// `gets key` → (value, cas), or None on a miss.
    pub fn gets(&mut self, key: &str) -> Option<(Vec<u8>, u64)> {
        self.send(format!("gets {key}\r\n").as_bytes());
        let header = String::from_utf8(self.read_line()).unwrap();
        if header == "END\r\n" {
            return None;
        }
        let fields: Vec<&str> = header.trim_end().split(' ').collect();
        assert_eq!(fields[0], "VALUE");
        let len: usize = fields[3].parse().unwrap();
        let cas: u64 = fields[4].parse().unwrap();
        let mut data = self.read_n(len + 2);
        data.truncate(len);
        assert_eq!(self.read_line(), b"END\r\n");
        Some((data, cas))
    }

    /// `set` with flags 0 and no expiry; asserts STORED.
    pub fn set(&mut self, key: &str, value: &[u8]) {
        self.send(format!("set {key} 0 0 {}\r\n", value.len()).as_bytes());
        self.send(value);
        self.send(b"\r\n");
        assert_eq!(self.read_line(), b"STORED\r\n");
    }

    pub fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        self.gets(key).map(|(v, _)| v)
    }
}

/// Deterministic data generators (xorshift), so tests need no files.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Text-like data: words from a small vocabulary, which LZ4 compresses well.
    pub fn text(&mut self, n: usize) -> Vec<u8> {
        const WORDS: &[&str] = &[
            "cache",
            "value",
            "memory",
            "the",
            "of",
            "compressed",
            "server",
            "request",
            "key",
            "{\"id\":",
            "\"name\":",
            "lzcache",
            "and",
            "checksum",
            "block",
            "item",
            "\n",
        ];
        let mut out = Vec::with_capacity(n + 16);
        while out.len() < n {
            out.extend_from_slice(WORDS[(self.next() % WORDS.len() as u64) as usize].as_bytes());
            out.push(b' ');
        }
        out.truncate(n);
        out
    }
}
