//! Clients that misbehave do not hurt the others: a thousand idle or half-sent connections,
//! a client that pipelines requests and never reads its replies (the server stops reading
//! it rather than buffering without bound), and memcached's idle timeout. The server runs as
//! its own process so its resident memory is measured alone.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{rss_mib, Binary, Client, Rng};

/// The slowest of `n` set+get round trips on a fresh connection.
fn worst_round_trip(server: &Binary, n: usize) -> Duration {
    let mut c = Client::connect(server.addr());
    let mut worst = Duration::ZERO;
    for i in 0..n {
        let t = Instant::now();
        let key = format!("probe{i}");
        c.exchange(
            format!("set {key} 0 0 2\r\nok\r\n").as_bytes(),
            b"STORED\r\n",
        );
        c.exchange(
            format!("get {key}\r\n").as_bytes(),
            format!("VALUE {key} 0 2\r\nok\r\nEND\r\n").as_bytes(),
        );
        worst = worst.max(t.elapsed());
    }
    worst
}

#[test]
fn a_thousand_idle_and_half_sent_connections_do_not_delay_a_client() {
    let server = Binary::start(&["-c", "1100"]);
    let baseline = worst_round_trip(&server, 50);
    let mut held = Vec::new();
    for i in 0..1000 {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        match i % 4 {
            // A value announced and never finished.
            0 => s.write_all(b"set half 0 0 100\r\nabc").unwrap(),
            // A command line without its newline.
            1 => s.write_all(b"get somewhere-in-the-middle-of-a-ke").unwrap(),
            // Idle.
            _ => {}
        }
        held.push(s);
    }
    let mut c = Client::connect(server.addr());
    assert!(c.stat("curr_connections").parse::<u64>().unwrap() >= 1001);
    let worst = worst_round_trip(&server, 200);
    eprintln!("round trip: worst {worst:?} with 1000 connections held (alone: {baseline:?})");
    assert!(
        worst < Duration::from_millis(250).max(baseline * 10),
        "a round trip took {worst:?} with 1000 idle connections held"
    );
    drop(held);
}

#[test]
fn a_client_that_never_reads_is_stopped_not_buffered() {
    let server = Binary::start(&["-m", "64"]);
    let mut c = Client::connect(server.addr());
    let big = Rng(9).bytes(256 << 10);
    c.set("big", &big);
    let before = rss_mib(server.pid());
    // Ask for 4 GiB of replies and read none of them: the socket buffers fill, the server
    // stops reading this client, and our writes stop being accepted.
    let mut greedy = TcpStream::connect(server.addr()).unwrap();
    greedy.set_nonblocking(true).unwrap();
    let request = b"get big\r\n".repeat(1024);
    let mut sent = 0usize;
    let mut refused_for = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match greedy.write(&request) {
            Ok(n) => {
                sent += n;
                refused_for = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Refused for a while on end: the server has stopped reading.
                if refused_for.elapsed() > Duration::from_millis(500) {
                    break;
                }
                std::thread::yield_now();
            }
            Err(e) => panic!("write: {e}"),
        }
        assert!(Instant::now() < deadline, "the server kept reading");
        assert!(
            sent < 16 << 20,
            "16 MiB of requests accepted: the server buffers replies"
        );
    }
    let requests = sent / b"get big\r\n".len();
    let after = rss_mib(server.pid());
    eprintln!(
        "{requests} requests accepted ({} MiB of replies asked), RSS {before:.1} -> {after:.1} MiB",
        requests as u64 * (256 + 1) / 1024
    );
    assert!(
        after < before + 32.0,
        "resident memory grew from {before:.1} to {after:.1} MiB"
    );
    // Everyone else is still served.
    let worst = worst_round_trip(&server, 50);
    assert!(worst < Duration::from_millis(250), "round trip {worst:?}");
    // The greedy client, once it reads, gets whole, correct replies.
    greedy.set_nonblocking(false).unwrap();
    let expected = format!("VALUE big 0 {}\r\n", 256 << 10);
    let mut header = vec![0u8; expected.len()];
    greedy.read_exact(&mut header).unwrap();
    assert_eq!(header, expected.as_bytes());
    let mut value = vec![0u8; big.len()];
    greedy.read_exact(&mut value).unwrap();
    assert!(value == big, "the first reply's value is intact");
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let server = Binary::start(&["-o", "idle_timeout=1"]);
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let n = idle.read(&mut buf).unwrap_or(0);
    let waited = start.elapsed();
    assert_eq!(n, 0, "closed without a reply");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(8),
        "closed after {waited:?}"
    );
    let mut c = Client::connect(server.addr());
    assert!(c.stat("idle_kicks").parse::<u64>().unwrap() >= 1);
}
