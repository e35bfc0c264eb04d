//! The store's read path (`Store::read_in_place` plus the value's CRC check, what a `get` of a
//! small raw value does before writing the reply) beside `std::collections::HashMap` holding
//! the same keys and values, looked up and summed over the value: both sized far past the
//! processor's caches, keys read in a scattered order, so each get pays its cache misses as a
//! server's does. The ratio says how much the store's layout and checks cost over the plainest
//! in-memory map; changes to the index or the record layout show here first.
//!
//!   cargo bench -p lzcache-benches --bench store

use std::collections::HashMap;
use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lzcache::store::{Condition, Item, Store};
use lzcache::value::StoredValue;

/// Items in both maps: 100-byte values under 16-byte keys take ~150 MiB in the store.
const ITEMS: u64 = 1_000_000;
const VALUE_LEN: usize = 100;
const STORE_LIMIT: usize = 256 << 20;
const NOW: u32 = 10;

/// The key of item `i`, written into `buf`.
fn key(i: u64, buf: &mut [u8; 16]) -> &[u8] {
    let mut cursor = &mut buf[..];
    write!(cursor, "key:{i:012}").expect("16 bytes");
    &buf[..]
}

fn value(i: u64) -> Vec<u8> {
    (0..VALUE_LEN as u64)
        .map(|j| b'a' + ((i * 31 + j * 7) % 26) as u8)
        .collect()
}

/// A scattered walk over all items: a stride coprime to `ITEMS`.
fn nth_key(n: u64) -> u64 {
    (n.wrapping_mul(7_919_993)) % ITEMS
}

fn store_gets(c: &mut Criterion) {
    let store = Store::new(STORE_LIMIT);
    let mut map: HashMap<Vec<u8>, Vec<u8>> = HashMap::with_capacity(ITEMS as usize);
    let mut buf = [0u8; 16];
    for i in 0..ITEMS {
        let bytes = value(i);
        let stored = StoredValue {
            crc: lzcache_driver::crc64::checksum(&bytes),
            raw_len: bytes.len() as u32,
            bytes: Arc::from(bytes.as_slice()),
            compressed: false,
            dict: 0,
        };
        let k = key(i, &mut buf);
        store.store(
            k,
            Item::new(stored, 0, 0, NOW),
            Condition::Always,
            NOW,
            None,
        );
        map.insert(k.to_vec(), bytes);
    }
    let held = (0..1000)
        .filter(|&n| {
            let k = key(nth_key(n), &mut buf);
            store.read_in_place(k, NOW, |_| ()).is_some()
        })
        .count();
    assert!(held > 990, "the store kept {held} of 1000 sampled items");

    let mut group = c.benchmark_group("get, 100-byte values, 1 M items");
    group.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    group.bench_function("lzcache store (CRC checked)", |b| {
        b.iter(|| {
            n += 1;
            let k = key(nth_key(n), &mut buf);
            let len = store.read_in_place(k, NOW, |hit| {
                hit.value().map_or(0, |v| match v.checked_raw() {
                    Some(Ok(raw)) => raw.len(),
                    _ => 0,
                })
            });
            black_box(len)
        })
    });
    let mut n = 0u64;
    group.bench_function("std HashMap (value summed)", |b| {
        b.iter(|| {
            n += 1;
            let k = key(nth_key(n), &mut buf);
            let sum = map
                .get(k)
                .map_or(0u32, |v| v.iter().map(|&b| u32::from(b)).sum());
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group!(benches, store_gets);
criterion_main!(benches);
