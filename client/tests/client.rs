//! The client against lzcache over TCP and the emulated verbs, and against memcached itself;
//! the bench's load loop checks every hit and reports what it did.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lzcache_client::load::{self, Workload};
use lzcache_client::{Client, Connected, Error, Item, StoreMode, Stored, Transport};
use lzcache_rdma::verbs::Provider;
use lzcache_rdma::Fabric;

fn lzcache_server(fabric: Option<&Fabric>) -> lzcache::ServerHandle {
    let rdma: Option<Arc<dyn Provider>> = fabric.map(|f| Arc::new(f.clone()) as Arc<dyn Provider>);
    lzcache::start(lzcache::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 2,
        rdma_listen: rdma
            .is_some()
            .then(|| SocketAddr::from(([127, 0, 0, 1], 0))),
        rdma,
        ..lzcache::Config::default()
    })
    .expect("server starts")
}

/// Every command of the client, with the replies memcached gives.
fn exercise(c: &mut Client) {
    assert!(!c.delete("k").unwrap());
    assert_eq!(c.set("k", b"hello", 7, 0).unwrap(), Stored::Stored);
    assert_eq!(
        c.get("k").unwrap(),
        Some(Item {
            key: "k".into(),
            flags: 7,
            value: b"hello".to_vec(),
            cas: None
        })
    );
    let cas = c.gets("k").unwrap().unwrap().cas.unwrap();
    assert_eq!(
        c.store(StoreMode::Cas(cas + 1), "k", b"x", 0, 0).unwrap(),
        Stored::Exists
    );
    assert_eq!(
        c.store(StoreMode::Cas(cas), "k", b"world", 0, 0).unwrap(),
        Stored::Stored
    );
    assert_eq!(
        c.store(StoreMode::Add, "k", b"no", 0, 0).unwrap(),
        Stored::NotStored
    );
    assert_eq!(
        c.store(StoreMode::Replace, "missing", b"no", 0, 0).unwrap(),
        Stored::NotStored
    );
    assert_eq!(
        c.store(StoreMode::Append, "k", b"!", 0, 0).unwrap(),
        Stored::Stored
    );
    assert_eq!(
        c.store(StoreMode::Prepend, "k", b">", 0, 0).unwrap(),
        Stored::Stored
    );
    assert_eq!(c.get("k").unwrap().unwrap().value, b">world!");
    assert_eq!(c.set("n", b"41", 0, 0).unwrap(), Stored::Stored);
    assert_eq!(c.incr("n", 1).unwrap(), Some(42));
    assert_eq!(c.incr("n", -50).unwrap(), Some(0));
    assert_eq!(c.incr("nothing", 1).unwrap(), None);
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.set("big", &big, 0, 0).unwrap(), Stored::Stored);
    assert!(c.get("big").unwrap().unwrap().value == big);
    let hits = c.get_multi(&["k", "absent", "n"]).unwrap();
    assert_eq!(
        hits.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        ["k", "n"]
    );
    assert!(c.delete("k").unwrap());
    // Meta commands.
    let set = c.meta("ms", "m", &["T0", "F5"], Some(b"meta")).unwrap();
    assert_eq!(set.code, "HD");
    let got = c.meta("mg", "m", &["v", "f"], None).unwrap();
    assert_eq!(
        (
            got.code.as_str(),
            got.value.as_deref(),
            got.flags.as_slice()
        ),
        ("VA", Some(&b"meta"[..]), &["f5".to_string()][..])
    );
    assert_eq!(c.meta("mg", "absent", &["v"], None).unwrap().code, "EN");
    assert_eq!(c.meta("mn", "", &[], None).unwrap().code, "MN");
    // Pipelined: 100 sets and 100 gets in one send, answers in order.
    for i in 0..100 {
        c.queue_store(
            StoreMode::Set,
            &format!("p{i}"),
            i,
            0,
            format!("v{i}").as_bytes(),
        );
    }
    for i in 0..100 {
        c.queue_get(&[&format!("p{i}")], false);
    }
    for _ in 0..100 {
        assert_eq!(c.read_stored().unwrap(), Stored::Stored);
    }
    for i in 0..100 {
        let item = c.read_items().unwrap().pop().unwrap();
        assert_eq!((item.flags, item.value), (i, format!("v{i}").into_bytes()));
    }
    // A server error is an error with its line, and the connection goes on.
    assert_eq!(c.set("text", b"abc", 0, 0).unwrap(), Stored::Stored);
    match c.incr("text", 1) {
        Err(Error::Server(line)) => assert!(line.starts_with("CLIENT_ERROR"), "{line}"),
        other => panic!("incr of a non-number was answered {other:?}"),
    }
    assert_eq!(c.meta("mn", "", &[], None).unwrap().code, "MN");
    assert!(c.version().unwrap().starts_with("1.6"));
}

#[test]
fn every_command_against_lzcache_over_tcp() {
    let server = lzcache_server(None);
    let mut c = Client::connect(server.addr(), &Transport::Tcp).unwrap();
    assert_eq!(c.transport(), Connected::Tcp);
    exercise(&mut c);
}

#[test]
fn every_command_against_lzcache_over_the_emulated_verbs() {
    let fabric = Fabric::new(3);
    let server = lzcache_server(Some(&fabric));
    let mut c = Client::connect(server.addr(), &Transport::Rdma(Arc::new(fabric.clone()))).unwrap();
    assert_eq!(c.transport(), Connected::Rdma);
    exercise(&mut c);
}

#[test]
fn every_command_against_memcached() {
    let memcached = lzcache_difftest::run::Memcached::start()
        .expect("memcached 1.6.18 runs here (make test installs it)");
    let mut c = Client::connect(memcached.addr, &Transport::Tcp).unwrap();
    exercise(&mut c);
}

#[test]
fn rdma_that_cannot_be_set_up_falls_back_to_tcp_on_the_same_address() {
    let fabric = Fabric::new(4);
    // The server listens on TCP only: the RDMA connection is refused.
    let server = lzcache_server(None);
    let mut c = Client::connect(server.addr(), &Transport::Rdma(Arc::new(fabric))).unwrap();
    assert_eq!(c.transport(), Connected::TcpFallback);
    assert_eq!(c.set("k", b"v", 0, 0).unwrap(), Stored::Stored);
}

#[test]
fn the_load_loop_checks_every_hit_over_both_transports() {
    let fabric = Fabric::new(5);
    let server = lzcache_server(Some(&fabric));
    let workload = Workload {
        connections: 3,
        keys: 300,
        sizes: vec![(10, 5), (2000, 3), (40_000, 1)],
        gets_per_set: 3.0,
        pipeline: 4,
        duration: Duration::from_millis(300),
        seed: 9,
    };
    for transport in [Transport::Tcp, Transport::Rdma(Arc::new(fabric.clone()))] {
        load::preload(server.addr(), &transport, &workload).unwrap();
        let report = load::run(server.addr(), &transport, &workload).unwrap();
        assert!(report.gets > 0 && report.sets > 0, "{report:?}");
        assert_eq!(
            report.hits, report.gets,
            "every key was preloaded and fits in memory"
        );
        assert_eq!(report.fallbacks, 0);
        assert_eq!(
            report.latency.len(),
            (report.gets + report.sets).div_ceil(4)
        );
    }
}
