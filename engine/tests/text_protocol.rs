//! Byte-exact tests of the text protocol on a loopback server. Every expected reply below was
//! checked against memcached 1.6.18 except where a comment says lzcache differs on purpose.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{default_server, server, Client};
use lzcache::Config;

#[test]
fn storage_commands() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"set k 5 0 3\r\nabc\r\n", b"STORED\r\n"),
        (b"get k\r\n", b"VALUE k 5 3\r\nabc\r\nEND\r\n"),
        (
            b"get k k nokey\r\n",
            b"VALUE k 5 3\r\nabc\r\nVALUE k 5 3\r\nabc\r\nEND\r\n",
        ),
        (b"add k 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
        (b"add fresh 3 0 1\r\nx\r\n", b"STORED\r\n"),
        (b"replace nokey 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
        (b"replace fresh 4 0 1\r\ny\r\n", b"STORED\r\n"),
        (b"get fresh\r\n", b"VALUE fresh 4 1\r\ny\r\nEND\r\n"),
        (b"append k 0 0 2\r\nde\r\n", b"STORED\r\n"),
        (b"prepend k 0 0 2\r\nzz\r\n", b"STORED\r\n"),
        // append/prepend keep the item's own flags.
        (b"get k\r\n", b"VALUE k 5 7\r\nzzabcde\r\nEND\r\n"),
        (b"append nokey 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
        (b"prepend nokey 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
        (b"cas nokey 0 0 1 5\r\nx\r\n", b"NOT_FOUND\r\n"),
        (b"set empty 0 0 0\r\n\r\n", b"STORED\r\n"),
        (b"get empty\r\n", b"VALUE empty 0 0\r\n\r\nEND\r\n"),
        (b"set k 4294967295 0 1\r\nx\r\n", b"STORED\r\n"),
        (b"get k\r\n", b"VALUE k 4294967295 1\r\nx\r\nEND\r\n"),
    ]);
}

/// A client that sends a long pipeline and then shuts down its side (as `nc` with a file
/// does) gets every reply, in order, and then the end of the stream: the peer's shutdown
/// arrives with requests still unread, and is not lost while they are served.
#[test]
fn a_pipeline_ended_by_shutdown_is_answered_in_full_then_closed() {
    let server = default_server();
    let mut c = Client::connect(server.addr());
    c.set("p", b"xyz");
    let mut socket = TcpStream::connect(server.addr()).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let gets = 50_000;
    // Larger than the socket buffers: the replies are read while it is being sent.
    let writer = {
        let mut out = socket.try_clone().unwrap();
        std::thread::spawn(move || {
            out.write_all(&b"get p\r\n".repeat(gets)).unwrap();
            out.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    let mut replies = Vec::new();
    socket
        .read_to_end(&mut replies)
        .expect("the server closes after the last reply");
    writer.join().unwrap();
    let expected = b"VALUE p 0 3\r\nxyz\r\nEND\r\n".repeat(gets);
    assert_eq!(replies.len(), expected.len(), "every reply, then the end");
    assert!(replies == expected, "the replies are whole and in order");
}

#[test]
fn noreply_sends_nothing() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"set k 0 0 1 noreply\r\na\r\n", b""),
        (b"add k 0 0 1 noreply\r\nb\r\n", b""),
        (b"replace k 0 0 1 noreply\r\nc\r\n", b""),
        (b"append k 0 0 1 noreply\r\nd\r\n", b""),
        (b"prepend k 0 0 1 noreply\r\ne\r\n", b""),
        (b"get k\r\n", b"VALUE k 0 3\r\necd\r\nEND\r\n"),
        (b"set n 0 0 1 noreply\r\n5\r\n", b""),
        (b"incr n 3 noreply\r\n", b""),
        (b"decr n 1 noreply\r\n", b""),
        (b"get n\r\n", b"VALUE n 0 1\r\n7\r\nEND\r\n"),
        (b"touch n 100 noreply\r\n", b""),
        (b"delete n noreply\r\n", b""),
        (b"get n\r\n", b"END\r\n"),
        (b"flush_all noreply\r\n", b""),
        (b"verbosity 1 noreply\r\n", b""),
        (b"verbosity noreply\r\n", b""),
        (b"get k\r\n", b"END\r\n"),
    ]);
    let (_, cas) = {
        c.set("c", b"v");
        c.gets("c").unwrap()
    };
    c.exchange(
        format!("cas c 0 0 1 {cas} noreply\r\nw\r\n").as_bytes(),
        b"",
    );
    c.exchange(
        format!("cas c 0 0 1 {cas} noreply\r\nx\r\n").as_bytes(),
        b"",
    );
    assert_eq!(c.get("c").unwrap(), b"w");
}

#[test]
fn cas_unique_changes_on_every_store() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.set("k", b"one");
    let (_, cas1) = c.gets("k").unwrap();
    c.exchange(
        format!("cas k 0 0 3 {cas1}\r\ntwo\r\n").as_bytes(),
        b"STORED\r\n",
    );
    c.exchange(
        format!("cas k 0 0 5 {cas1}\r\nthree\r\n").as_bytes(),
        b"EXISTS\r\n",
    );
    let (value, cas2) = c.gets("k").unwrap();
    assert_eq!(value, b"two");
    assert_ne!(cas1, cas2);
    c.exchange(
        b"gats 0 k\r\n",
        format!("VALUE k 0 3 {cas2}\r\ntwo\r\nEND\r\n").as_bytes(),
    );
    let stats = c.stats("");
    assert_eq!(stats["cas_hits"], "1");
    assert_eq!(stats["cas_badval"], "1");
}

#[test]
fn arithmetic() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"set n 0 0 2\r\n10\r\n", b"STORED\r\n"),
        (b"incr n 5\r\n", b"15\r\n"),
        (b"decr n 100\r\n", b"0\r\n"),
        // memcached rewrites a shrinking counter in place, padded with spaces.
        (b"get n\r\n", b"VALUE n 0 2\r\n0 \r\nEND\r\n"),
        (
            b"incr n 18446744073709551615\r\n",
            b"18446744073709551615\r\n",
        ),
        (b"incr n 2\r\n", b"1\r\n"),
        (
            b"incr n abc\r\n",
            b"CLIENT_ERROR invalid numeric delta argument\r\n",
        ),
        (
            b"decr n -1\r\n",
            b"CLIENT_ERROR invalid numeric delta argument\r\n",
        ),
        (b"incr n\r\n", b"ERROR\r\n"),
        (b"incr nokey 1\r\n", b"NOT_FOUND\r\n"),
        (b"set t 0 0 3\r\nabc\r\n", b"STORED\r\n"),
        (
            b"incr t 1\r\n",
            b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
    ]);
}

#[test]
fn touch_gat_delete_and_expiry() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"set k 0 0 1\r\nx\r\n", b"STORED\r\n"),
        (b"touch k 100\r\n", b"TOUCHED\r\n"),
        (b"touch nokey 10\r\n", b"NOT_FOUND\r\n"),
        (
            b"touch k abc\r\n",
            b"CLIENT_ERROR invalid exptime argument\r\n",
        ),
        (b"gat 100 k\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n"),
        (
            b"gat abc k\r\n",
            b"CLIENT_ERROR invalid exptime argument\r\n",
        ),
        (b"gat 100\r\n", b"END\r\n"),
        // A negative exptime, or an absolute time in the past, is already expired.
        (b"gat -1 k\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n"),
        (b"get k\r\n", b"END\r\n"),
        (b"set past 0 1000000000 1\r\nx\r\n", b"STORED\r\n"),
        (b"get past\r\n", b"END\r\n"),
        (b"set exp 0 -1 1\r\nx\r\n", b"STORED\r\n"),
        (b"get exp\r\n", b"END\r\n"),
        (b"set d 0 0 1\r\nx\r\n", b"STORED\r\n"),
        (b"delete d\r\n", b"DELETED\r\n"),
        (b"delete d\r\n", b"NOT_FOUND\r\n"),
        (b"set d 0 0 1\r\nx\r\n", b"STORED\r\n"),
        (b"delete d 0\r\n", b"DELETED\r\n"),
        (
            b"delete d 5\r\n",
            b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
        ),
        (
            b"delete a b c\r\n",
            b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
        ),
        (b"delete\r\n", b"ERROR\r\n"),
        (b"set soon 0 1 1\r\nx\r\n", b"STORED\r\n"),
        (b"get soon\r\n", b"VALUE soon 0 1\r\nx\r\nEND\r\n"),
    ]);
    // A second later (the server's clock moved forward, not the test's time) it has expired.
    s.cache().clock.advance(1);
    c.exchange(b"get soon\r\n", b"END\r\n");
}

#[test]
fn flush_all_now_and_delayed() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"set a 0 0 1\r\nx\r\n", b"STORED\r\n"),
        (
            b"flush_all abc\r\n",
            b"CLIENT_ERROR invalid exptime argument\r\n",
        ),
        (b"flush_all 0\r\n", b"OK\r\n"),
        (b"get a\r\n", b"END\r\n"),
        (b"set a 0 0 1\r\nx\r\n", b"STORED\r\n"),
        (b"flush_all -1\r\n", b"OK\r\n"),
        (b"get a\r\n", b"END\r\n"),
        (b"set a 0 0 1\r\nx\r\n", b"STORED\r\n"),
        (b"flush_all 2\r\n", b"OK\r\n"),
        (b"get a\r\n", b"VALUE a 0 1\r\nx\r\nEND\r\n"),
    ]);
    // Two seconds on, the delayed flush is due: the next command applies it.
    s.cache().clock.advance(2);
    c.table(&[
        (b"get a\r\n", b"END\r\n"),
        // Items stored after the delayed flush happened are kept.
        (b"set a 0 0 1\r\ny\r\n", b"STORED\r\n"),
        (b"get a\r\n", b"VALUE a 0 1\r\ny\r\nEND\r\n"),
    ]);
    // The malformed one is not counted.
    assert_eq!(c.stat("cmd_flush"), "3");
}

#[test]
fn malformed_commands_get_memcached_errors() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    let long_key = format!("set {} 0 0 1\r\nx\r\n", "a".repeat(251));
    let long_get = format!("get {}\r\n", "a".repeat(251));
    c.table(&[
        (b"foo\r\n", b"ERROR\r\n"),
        (b"\r\n", b"ERROR\r\n"),
        (b"GET k\r\n", b"ERROR\r\n"),
        (b"get\r\n", b"ERROR\r\n"),
        (b"gets\r\n", b"ERROR\r\n"),
        (
            long_key.as_bytes(),
            b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
        ),
        (
            long_get.as_bytes(),
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (
            b"set k 0 0 -1\r\n",
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (
            b"set k abc 0 1\r\nx\r\n",
            b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
        ),
        (b"set k 0 0 1 2 3\r\nx\r\n", b"ERROR\r\nERROR\r\n"),
        (b"set k 0 0\r\n", b"ERROR\r\n"),
        // The data block must end in CRLF; the rest is read as the next command.
        (
            b"set k 0 0 1\r\nxyz\r\n",
            b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
        ),
        (
            b"set k -1 0 1\r\nx\r\n",
            b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
        ),
        (b"verbosity\r\n", b"ERROR\r\n"),
        (b"verbosity 1 2 3\r\n", b"ERROR\r\n"),
        (
            b"verbosity abc\r\n",
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (
            b"version foo bar\r\n",
            format!("VERSION {}\r\n", lzcache::commands::version_string()).as_bytes(),
        ),
        (b"stats foo\r\n", b"ERROR\r\n"),
        (b"stats noreply\r\n", b"ERROR\r\n"),
        (b"stats reset\r\n", b"RESET\r\n"),
        // Control bytes in keys are accepted, as memcached accepts them (memcaslap sends them).
        (b"set a\x01b 0 0 1\r\nx\r\n", b"STORED\r\n"),
        (b"get a\x01b\r\n", b"VALUE a\x01b 0 1\r\nx\r\nEND\r\n"),
    ]);
}

#[test]
fn version_reads_as_memcached_1_6() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.send(b"version\r\n");
    let line = String::from_utf8(c.read_line()).unwrap();
    // memcapable and clients look at single characters: "VERSION 1.6..."
    assert!(line.starts_with("VERSION 1.6."), "{line}");
    assert_eq!(line.as_bytes()[8], b'1');
    assert_eq!(line.as_bytes()[10], b'6');
}

#[test]
fn too_large_values_are_swallowed_and_the_connection_goes_on() {
    let s = server(Config {
        item_size_max: 4096,
        ..Config::default()
    });
    let mut c = Client::connect(s.addr());
    c.set("big", b"old");
    c.set("other", b"old");
    c.send(b"set big 0 0 5000\r\n");
    assert_eq!(
        c.read_line(),
        b"SERVER_ERROR object too large for cache\r\n"
    );
    // The refused data may arrive in pieces; none of it is taken as commands.
    let data = vec![b'g'; 5000];
    for chunk in data.chunks(700) {
        c.send(chunk);
        std::thread::sleep(Duration::from_millis(2));
    }
    c.send(b"\r\n");
    // As in memcached, a refused `set` also deletes the value it meant to replace.
    c.exchange(b"get big\r\n", b"END\r\n");
    c.send(b"ms other 5000 T0\r\n");
    assert_eq!(
        c.read_line(),
        b"SERVER_ERROR object too large for cache\r\n"
    );
    c.send(&data);
    c.exchange(b"\r\n", b"");
    assert!(c.get("other").is_none());
    c.set("other", b"old");
    c.send(b"append other 0 0 5000\r\n");
    assert_eq!(
        c.read_line(),
        b"SERVER_ERROR object too large for cache\r\n"
    );
    c.send(&data);
    c.exchange(b"\r\n", b"");
    // Other storage commands leave the item alone.
    assert_eq!(c.get("other").unwrap(), b"old");
    // Exactly the limit is accepted.
    c.set("limit", &vec![b'x'; 4096]);
    assert_eq!(c.get("limit").unwrap().len(), 4096);
}

#[test]
fn over_long_lines_close_the_connection() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.send(format!("set {}", "a".repeat(3000)).as_bytes());
    assert!(c.is_closed());
    // A long multi-get line is fine.
    let mut c = Client::connect(s.addr());
    c.set("k1", b"v");
    let keys: Vec<String> = (0..400).map(|i| format!("key-number-{i}")).collect();
    c.exchange(
        format!("get {} k1\r\n", keys.join(" ")).as_bytes(),
        b"VALUE k1 0 1\r\nv\r\nEND\r\n",
    );
}

#[test]
fn quit_closes() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.send(b"quit\r\n");
    assert!(c.is_closed());
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..500 {
        request.extend_from_slice(
            format!("set k{i} {i} 0 {}\r\nv{i}\r\n", format!("v{i}").len()).as_bytes(),
        );
        expected.extend_from_slice(b"STORED\r\n");
        request.extend_from_slice(format!("get k{i}\r\n").as_bytes());
        expected.extend_from_slice(
            format!(
                "VALUE k{i} {i} {}\r\nv{i}\r\nEND\r\n",
                format!("v{i}").len()
            )
            .as_bytes(),
        );
    }
    c.exchange(&request, &expected);
}

#[test]
fn requests_split_across_reads_byte_by_byte() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    let request = b"set split 7 0 10\r\n0123456789\r\nget split\r\nmg split v f\r\n";
    for byte in request.iter() {
        c.send(&[*byte]);
        std::thread::sleep(Duration::from_micros(200));
    }
    let expected = b"STORED\r\nVALUE split 7 10\r\n0123456789\r\nEND\r\nVA 10 f7\r\n0123456789\r\n";
    assert_eq!(c.read_n(expected.len()), expected);
}

#[test]
fn a_one_mebibyte_value_in_small_pieces() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    let mut rng = common::Rng(7);
    let value = rng.text(1 << 20);
    c.send(format!("set big 1 0 {}\r\n", value.len()).as_bytes());
    for chunk in value.chunks(1000) {
        c.send(chunk);
    }
    c.send(b"\r\n");
    assert_eq!(c.read_line(), b"STORED\r\n");
    assert_eq!(c.get("big").unwrap(), value);
}

#[test]
fn connection_limit() {
    let s = server(Config {
        max_connections: 2,
        ..Config::default()
    });
    let mut a = Client::connect(s.addr());
    let mut b = Client::connect(s.addr());
    a.exchange(
        b"version\r\n",
        format!("VERSION {}\r\n", lzcache::commands::version_string()).as_bytes(),
    );
    b.exchange(b"get x\r\n", b"END\r\n");
    let mut third = Client::connect(s.addr());
    assert_eq!(third.read_line(), b"ERROR Too many open connections\r\n");
    assert!(third.is_closed());
    drop(a);
    // The slot frees once the server sees the close.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = Client::connect(s.addr());
        again.send(b"mn\r\n");
        if again.read_line() == b"MN\r\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(b.stat("rejected_connections").parse::<u64>().unwrap() >= 1);
}

#[test]
fn stats_report_settings_items_and_lzcache_counters() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    let mut rng = common::Rng(3);
    c.set("text", &rng.text(4096));
    c.set("noise", &rng.bytes(4096));
    assert_eq!(c.get("text").unwrap().len(), 4096);
    assert!(c.get("missing").is_none());
    let stats = c.stats("");
    assert_eq!(stats["curr_items"], "2");
    assert_eq!(stats["get_hits"], "1");
    assert_eq!(stats["get_misses"], "1");
    assert_eq!(stats["cmd_set"], "2");
    assert_eq!(stats["lz_items_compressed"], "1");
    assert_eq!(stats["lz_value_bytes_raw"], "8192");
    let held: usize = stats["lz_value_bytes_held"].parse().unwrap();
    assert!(held < 4096 + 2048, "text should compress well: {held}");
    assert_eq!(stats["crc_errors"], "0");
    assert_eq!(stats["limit_maxbytes"], (64u64 << 20).to_string());
    let settings = c.stats("settings");
    assert_eq!(settings["item_size_max"], "1048576");
    assert_eq!(settings["lz_codec"], "software");
    let items = c.stats("items");
    assert_eq!(items["items:1:number"], "2");
    let slabs = c.stats("slabs");
    assert!(slabs.contains_key("total_malloced"));
}

#[test]
fn random_garbage_never_takes_the_server_down() {
    let s = default_server();
    let mut rng = common::Rng(2024);
    let fragments: [&[u8]; 12] = [
        b"set k 0 0 3\r\nabc\r\n",
        b"get k\r\n",
        b"mg k v c f t s k O1 b q\r\n",
        b"ms a 5 I MA C3\r\n",
        b"ma k N0 J9 MD D3 v\r\n",
        b"md k I x T-1\r\n",
        b"incr k 99999999999999999999\r\n",
        b"gat -1 k k k\r\n",
        b"me k\r\n",
        b"\r\n\n\r",
        b"cas k 0 0 3 1\r\n",
        b"flush_all 0\r\n",
    ];
    for _ in 0..40 {
        let mut c = Client::connect(s.addr());
        let mut bytes = Vec::new();
        for _ in 0..30 {
            if rng.next().is_multiple_of(3) {
                let n = (rng.next() % 64) as usize;
                bytes.extend(rng.bytes(n));
            } else {
                let i = (rng.next() % 12) as usize;
                bytes.extend_from_slice(fragments[i]);
            }
        }
        // The server reads all of it (it closes once it sees our end of stream), and then
        // still answers a fresh connection.
        c.send_and_end(&bytes);
        let mut probe = Client::connect(s.addr());
        probe.exchange(b"mn\r\n", b"MN\r\n");
    }
}

#[test]
fn an_item_larger_than_memory_is_refused() {
    // -m 1 with -I 1m: a 1 MiB value plus its bookkeeping does not fit in 1 MiB.
    let s = server(Config {
        memory_limit: 1 << 20,
        ..Config::default()
    });
    let mut c = Client::connect(s.addr());
    c.set("small", b"kept");
    // Random bytes: they stay raw, so the item really needs more than 1 MiB.
    let big = common::Rng(17).bytes(1 << 20);
    let mut request = b"set big 0 0 1048576\r\n".to_vec();
    request.extend_from_slice(&big);
    request.extend_from_slice(b"\r\n");
    c.exchange(&request, b"SERVER_ERROR out of memory storing object\r\n");
    let mut meta = b"ms big 1048576 k\r\n".to_vec();
    meta.extend_from_slice(&big);
    meta.extend_from_slice(b"\r\n");
    c.exchange(&meta, b"SERVER_ERROR out of memory storing object\r\n");
    assert_eq!(c.get("small").unwrap(), b"kept");
}

#[test]
fn a_multiget_of_eighteen_thousand_keys_on_one_line_is_answered() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.set("hit:a", b"first");
    c.set("hit:b", b"second");
    // About 128 KiB of keys on one line, sent in pieces, as client libraries send multi-gets.
    let mut line = b"get".to_vec();
    for i in 0..18_700 {
        line.push(b' ');
        match i {
            10 => line.extend_from_slice(b"hit:a"),
            18_000 => line.extend_from_slice(b"hit:b"),
            _ => line.extend_from_slice(format!("miss:{i}").as_bytes()),
        }
    }
    line.extend_from_slice(b"\r\n");
    assert!(line.len() > 128 << 10);
    for piece in line.chunks(7000) {
        c.send(piece);
    }
    let expected = b"VALUE hit:a 0 5\r\nfirst\r\nVALUE hit:b 0 6\r\nsecond\r\nEND\r\n";
    assert_eq!(
        String::from_utf8_lossy(&c.read_n(expected.len())),
        String::from_utf8_lossy(expected)
    );
    c.exchange(b"mn\r\n", b"MN\r\n");
}

/// `slabs automove` and `slabs reassign` answer as memcached 1.6.18 does (replies recorded from
/// it); the segment store has no slab classes, so there is never a page to move.
#[test]
fn slabs_commands() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"slabs automove 1\r\n", b"OK\r\n"),
        (b"slabs automove 3\r\n", b"ERROR\r\n"),
        (
            b"slabs automove invalid\r\n",
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (
            b"slabs automove -1\r\n",
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (b"slabs automove 4294967297\r\n", b"OK\r\n"),
        (b"slabs automove ratio 0.5\r\n", b"OK\r\n"),
        (b"slabs automove ratio x\r\n", b"ERROR\r\n"),
        (b"slabs automove x noreply\r\n", b""),
        (b"slabs automove\r\n", b"ERROR\r\n"),
        (
            b"slabs reassign 1 2\r\n",
            b"NOSPARE source class has no spare pages\r\n",
        ),
        (
            b"slabs reassign 1 1\r\n",
            b"SAME src and dst class are identical\r\n",
        ),
        (
            b"slabs reassign -1 1\r\n",
            b"BADCLASS invalid src or dst class id\r\n",
        ),
        (
            b"slabs reassign 1 40\r\n",
            b"BADCLASS invalid src or dst class id\r\n",
        ),
        (
            b"slabs reassign x y\r\n",
            b"CLIENT_ERROR bad command line format\r\n",
        ),
        (b"slabs reassign 1 2 noreply\r\n", b"ERROR\r\n"),
        (b"slabs foo\r\n", b"ERROR\r\n"),
    ]);
}

/// A counter is read as memcached's `safe_strtoull` reads it: leading `isspace` bytes skipped,
/// a sign, digits, then a space, a NUL or the value's end (replies recorded from memcached
/// 1.6.18).
#[test]
fn counters_are_read_as_memcached_reads_them() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    c.table(&[
        (b"set n1 0 0 2\r\n\x0c3\r\n", b"STORED\r\n"),
        (b"incr n1 1\r\n", b"4\r\n"),
        (b"set n2 0 0 3\r\n9\x00L\r\n", b"STORED\r\n"),
        (b"decr n2 5\r\n", b"4\r\n"),
        (b"get n2\r\n", b"VALUE n2 0 3\r\n4  \r\nEND\r\n"),
        (b"set n3 0 0 2\r\n-0\r\n", b"STORED\r\n"),
        (b"incr n3 1\r\n", b"1\r\n"),
        (
            b"set n4 0 0 2\r\n-5\r\nincr n4 1\r\n",
            b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
        (b"set n5 0 0 3\r\n +7\r\n", b"STORED\r\n"),
        (b"incr n5 1\r\n", b"8\r\n"),
        (
            b"set n6 0 0 2\r\n7x\r\nincr n6 1\r\n",
            b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
    ]);
}
