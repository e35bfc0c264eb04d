//! memcached's ASCII authentication (`-Y authfile`), compared reply for reply with memcached
//! 1.6.18 started with the same authfile.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{server, Client};
use lzcache::protocol::auth::AuthFile;
use lzcache::Config;

const AUTHFILE: &[u8] = b"alice:secret\nbob:hunter2:with:colons\n";

/// memcached with `-Y` on a free loopback port.
struct Memcached {
    child: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn memcached_with_auth() -> Memcached {
    let dir = std::env::temp_dir().join(format!("lzcache-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("authfile");
    std::fs::write(&file, AUTHFILE).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("memcached")
        .args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-u",
            "root",
            "-Y",
        ])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("memcached 1.6.18 runs here (make test installs it)");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "memcached did not start");
        std::thread::yield_now();
    }
    Memcached {
        child,
        addr,
        _dir: TempDir(dir),
    }
}

fn lzcache_with_auth() -> lzcache::ServerHandle {
    server(Config {
        auth: Some(Arc::new(AuthFile::parse(AUTHFILE).unwrap())),
        ..Config::default()
    })
}

/// One connection to each server; every step is sent to both, and a step that expects an
/// answer reads one line from each.
struct Pair {
    streams: [BufReader<TcpStream>; 2],
}

impl Pair {
    fn connect(a: SocketAddr, b: SocketAddr) -> Pair {
        let open = |addr| {
            let s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.set_nodelay(true).unwrap();
            BufReader::new(s)
        };
        Pair {
            streams: [open(a), open(b)],
        }
    }

    /// Sends `bytes`; with `answered`, reads and compares one reply line.
    fn step(&mut self, bytes: &[u8], answered: bool) -> String {
        let mut lines = Vec::new();
        for stream in &mut self.streams {
            stream.get_mut().write_all(bytes).unwrap();
        }
        if !answered {
            return String::new();
        }
        for stream in &mut self.streams {
            let mut line = String::new();
            stream
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("after {bytes:?}: {e}"));
            lines.push(line);
        }
        assert_eq!(
            lines[0],
            lines[1],
            "memcached and lzcache differ after {:?}",
            String::from_utf8_lossy(bytes)
        );
        lines.remove(0)
    }

    /// `auth_cmds` and `auth_errors` of each server.
    fn auth_stats(&mut self) -> Vec<(String, String)> {
        let mut both = Vec::new();
        for stream in &mut self.streams {
            stream.get_mut().write_all(b"stats\r\n").unwrap();
            let (mut cmds, mut errors) = (String::new(), String::new());
            loop {
                let mut line = String::new();
                stream.read_line(&mut line).unwrap();
                if line == "END\r\n" {
                    break;
                }
                if let Some(v) = line.strip_prefix("STAT auth_cmds ") {
                    cmds = v.trim_end().to_string();
                }
                if let Some(v) = line.strip_prefix("STAT auth_errors ") {
                    errors = v.trim_end().to_string();
                }
            }
            both.push((cmds, errors));
        }
        both
    }
}

#[test]
fn replies_match_memcached_before_and_after_authenticating() {
    let memcached = memcached_with_auth();
    let lzcache = lzcache_with_auth();
    let mut pair = Pair::connect(memcached.addr, lzcache.addr());
    let steps: &[(&[u8], bool)] = &[
        (b"get foo\r\n", true),
        (b"version\r\n", true),
        (b"mg foo v\r\n", true),
        (b"quit\r\n", true),
        (b"garbage here\r\n", true),
        // One request per step: memcached answers a burst with its last reply only.
        (b"add a 0 0 12\r\n", true),
        (b"alice secret\r\n", true),
        (b"set\r\n", true),
        (b"set a 0 0 -1\r\n", true),
        (b"set x 0 0 5\r\nhello\r\n", true),
        (b"set a 0 0 12\r\nalice wrongg\r\n", true),
        (b"set a 0 0 12\r\nnobody heree\r\n", true),
        (b"set a 0 0 12\r\nalice secretXY", true),
        (b"get foo\r\n", true),
        (b"set a 0 0 4\r\n", false),
        (b"al", false),
        (b"i \r\n", true),
        (b"set b 0 0 23\r\nbob hunter2:with:colons\r\n", true),
        // Authenticated from here: the usual protocol.
        (b"get foo\r\n", true),
        (b"set k 0 0 1\r\nv\r\n", true),
        (b"delete k\r\n", true),
        (b"set a 0 0 12\r\nalice secret\r\n", true),
    ];
    let replies: Vec<String> = steps
        .iter()
        .map(|&(bytes, answered)| pair.step(bytes, answered))
        .collect();
    assert_eq!(replies[0], "CLIENT_ERROR unauthenticated\r\n");
    assert_eq!(replies[17], "STORED\r\n");
    assert_eq!(replies[18], "END\r\n");
    let stats = pair.auth_stats();
    assert_eq!(
        stats[0], stats[1],
        "auth_cmds and auth_errors (memcached, lzcache)"
    );
    assert_eq!(stats[1], ("3".to_string(), "2".to_string()));
}

#[test]
fn each_pipelined_unauthenticated_request_gets_its_reply() {
    // A deliberate difference: memcached answers such a burst with its last reply only.
    let lzcache = lzcache_with_auth();
    let mut c = Client::connect_tcp(lzcache.addr());
    c.send(b"get a\r\nget b\r\nset a 0 0 12\r\nalice secret\r\nget a\r\n");
    assert_eq!(c.read_line(), b"CLIENT_ERROR unauthenticated\r\n");
    assert_eq!(c.read_line(), b"CLIENT_ERROR unauthenticated\r\n");
    assert_eq!(c.read_line(), b"STORED\r\n");
    assert_eq!(c.read_line(), b"END\r\n");
}

#[test]
fn an_oversized_token_or_line_closes_the_connection() {
    let lzcache = lzcache_with_auth();
    let mut c = Client::connect_tcp(lzcache.addr());
    c.send(b"set a 0 0 100000\r\n");
    assert!(c.is_closed());
    let mut c = Client::connect_tcp(lzcache.addr());
    c.send(&[b'x'; 3000]);
    assert!(c.is_closed());
    let mut c = Client::connect_tcp(lzcache.addr());
    c.exchange(b"set a 0 0 12\r\nalice secret\r\n", b"STORED\r\n");
}
