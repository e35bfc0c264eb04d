//! Work requests and completions per get and per set of each value size over the RDMA
//! transport, counted on the emulated verbs (both sides of the connection together; every
//! work request is its own post call, so doorbells equal work requests).
//!
//! `cargo run --release -p lzcache-client --example rdma_costs`

use std::net::SocketAddr;
use std::sync::Arc;

use lzcache_client::{Client, Stored, Transport};
use lzcache_rdma::verbs::Provider;
use lzcache_rdma::{ChannelConfig, Fabric};

const OPS: u64 = 500;

fn main() {
    let fabric = Fabric::new(1);
    let provider: Arc<dyn Provider> = Arc::new(fabric.clone());
    let server = lzcache::start(lzcache::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 1,
        rdma_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        rdma: Some(provider.clone()),
        memory_limit: 1 << 30,
        ..lzcache::Config::default()
    })
    .expect("server starts");
    let mut client = Client::connect(server.addr(), &Transport::Rdma(provider)).expect("connect");
    println!(
        "registered per connection: {} bytes on each side",
        ChannelConfig::default().registered_bytes()
    );
    println!(
        "{:>9} {:>6} {:>14} {:>14}",
        "value B", "op", "WRs per op", "CQEs per op"
    );
    for size in [100usize, 1000, 10_000, 100_000, 1_000_000] {
        let value: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let before = fabric.counts();
        for i in 0..OPS {
            assert_eq!(
                client.set(&format!("k{size}:{i}"), &value, 0, 0).unwrap(),
                Stored::Stored
            );
        }
        let after_sets = fabric.counts();
        for i in 0..OPS {
            assert!(client.get(&format!("k{size}:{i}")).unwrap().unwrap().value == value);
        }
        let after_gets = fabric.counts();
        let per = |a: (u64, u64), b: (u64, u64)| {
            (
                (b.0 - a.0) as f64 / OPS as f64,
                (b.1 - a.1) as f64 / OPS as f64,
            )
        };
        let (set_wr, set_cqe) = per(before, after_sets);
        let (get_wr, get_cqe) = per(after_sets, after_gets);
        println!("{size:>9} {:>6} {set_wr:>14.2} {set_cqe:>14.2}", "set");
        println!("{size:>9} {:>6} {get_wr:>14.2} {get_cqe:>14.2}", "get");
    }
}
