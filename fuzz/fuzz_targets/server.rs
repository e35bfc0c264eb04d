//! The whole server over arbitrary byte streams: one in-process lzcache (software codec); each
//! input is sent on a fresh connection in pieces, the replies are read until the server closes
//! or goes quiet, and the server must then still answer a new connection. No panic (a panic in
//! a connection task would end that task; the check below catches a dead server), no hang.
#![no_main]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;

fn server() -> SocketAddr {
    static SERVER: OnceLock<lzcache::ServerHandle> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            lzcache::start(lzcache::Config {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                threads: 1,
                memory_limit: 8 << 20,
                item_size_max: 64 << 10,
                ..lzcache::Config::default()
            })
            .expect("server starts")
        })
        .addr()
}

fuzz_target!(|data: &[u8]| {
    let addr = server();
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    for piece in input.chunks(usize::from(first % 32) + 1) {
        if stream.write_all(piece).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 65536];
    while let Ok(n) = stream.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    // The server is alive and in order.
    let mut probe = TcpStream::connect(addr).expect("server still accepts");
    probe
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    probe.write_all(b"mn\r\n").unwrap();
    let mut reply = [0u8; 4];
    probe.read_exact(&mut reply).expect("server still answers");
    assert_eq!(&reply, b"MN\r\n");
});
