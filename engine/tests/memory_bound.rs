//! The memory bound: fill a server far past `-m` and check that the resident memory of the
//! lzcache process stays within a stated overhead of `-m`, while the newest keys are served.
//!
//! The server runs as its own process (the real binary) so its resident set is measured alone.

mod common;

use common::{rss_mib, Binary, Client, Rng};

/// Resident memory may exceed `-m` by this factor plus the fixed baseline below: allocator
/// rounding and fragmentation, per-thread arenas and socket buffers live outside the item count.
const RSS_FACTOR: f64 = 1.1;
const RSS_BASELINE_MIB: f64 = 16.0;

fn fill_and_check(value_len: usize, compressible: bool) {
    let memory_mb = 16;
    let server = Binary::start(&["-m", &memory_mb.to_string()]);
    let addr = ("127.0.0.1", server.port);
    let mut c = Client::connect(std::net::SocketAddr::from(([127, 0, 0, 1], addr.1)));
    let mut rng = Rng(11);
    // Write ten times the limit, in raw bytes.
    let total = 10 * (memory_mb << 20);
    let count = total / value_len;
    let mut batch = Vec::new();
    for i in 0..count {
        let value = if compressible {
            rng.text(value_len)
        } else {
            rng.bytes(value_len)
        };
        batch.extend_from_slice(format!("set key:{i} 0 0 {value_len} noreply\r\n").as_bytes());
        batch.extend_from_slice(&value);
        batch.extend_from_slice(b"\r\n");
        if batch.len() > 256 * 1024 {
            c.send(&batch);
            batch.clear();
        }
    }
    c.send(&batch);
    c.exchange(b"mn\r\n", b"MN\r\n");
    let stats = c.stats("");
    let bytes: usize = stats["bytes"].parse().unwrap();
    let items: usize = stats["curr_items"].parse().unwrap();
    let evictions: usize = stats["evictions"].parse().unwrap();
    assert!(
        bytes <= memory_mb << 20,
        "charged bytes {bytes} over the limit"
    );
    assert!(evictions > 0);
    // The newest keys are still there.
    for i in count - 20..count {
        assert!(
            c.get(&format!("key:{i}")).is_some(),
            "newest key {i} missing"
        );
    }
    assert!(c.get("key:0").is_none(), "oldest key should be evicted");
    let rss = rss_mib(server.pid());
    let bound = RSS_FACTOR * memory_mb as f64 + RSS_BASELINE_MIB;
    eprintln!(
        "value {value_len} B compressible={compressible}: {items} items held, {bytes} bytes charged, \
         {:.1} B/item, RSS {rss:.1} MiB (bound {bound:.1})",
        bytes as f64 / items as f64
    );
    assert!(rss <= bound, "RSS {rss:.1} MiB exceeds {bound:.1} MiB");
}

#[test]
fn small_values_stay_within_the_bound() {
    fill_and_check(100, false);
}

#[test]
fn large_compressible_values_stay_within_the_bound() {
    fill_and_check(4096, true);
}

#[test]
fn large_random_values_stay_within_the_bound() {
    fill_and_check(4096, false);
}
