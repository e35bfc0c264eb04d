//! The store against memcached's outcomes, its memory layout, its eviction policy and a model.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::value::StoredValue;

fn value_of(bytes: &[u8]) -> StoredValue {
    StoredValue {
        bytes: Arc::from(bytes),
        raw_len: bytes.len() as u32,
        crc: lzcache_driver::crc64::checksum(bytes),
        compressed: false,
        dict: 0,
    }
}

fn item(len: usize, expiry: u32) -> Item {
    Item::new(value_of(&vec![7u8; len]), 0, expiry, 10)
}

/// Stores an item of `len` bytes under `key` (at time 10), expiring at `expiry` (0: never).
fn set(s: &Store, key: &str, len: usize, expiry: u32) -> Outcome {
    s.store(
        key.as_bytes(),
        item(len, expiry),
        Condition::Always,
        10,
        None,
    )
}

/// A store sized for small records: 64 KiB segments.
fn small_records(limit: usize, seed: u64) -> Store {
    Store::with_layout(limit, Layout::new(limit), seed)
}

/// Segments in use or free, the index and the ghost fit the limit.
fn assert_within_limit(s: &Store) {
    let t = s.totals();
    let arena = (t.segments - t.segments_retired) * t.segment_size;
    assert!(
        arena + t.index_bytes + t.ghost_bytes <= s.limit(),
        "{arena} + {} + {} over {}",
        t.index_bytes,
        t.ghost_bytes,
        s.limit()
    );
    assert!(t.segment_bytes_used <= arena);
}

fn queue_of_key(s: &Store, key: &[u8]) -> Option<Queue> {
    let hash = s.hash(key);
    let mut shard = s.lock(shard_of(hash));
    let (pos, _) = s.find(&mut shard, hash, key, 10)?;
    Some(s.queue_of(shard.index.offset(pos) as usize))
}

#[test]
fn conditions_map_to_memcached_outcomes() {
    let s = Store::new(1 << 20);
    assert_eq!(
        s.store(b"k", item(1, 0), Condition::Exists, 10, None),
        Outcome::NotStored
    );
    let Outcome::Done(cas) = s.store(b"k", item(1, 0), Condition::Absent, 10, None) else {
        panic!("add failed");
    };
    assert_eq!(
        s.store(b"k", item(1, 0), Condition::Absent, 10, None),
        Outcome::NotStored
    );
    assert_eq!(
        s.store(b"k", item(1, 0), Condition::CasEquals(cas + 100), 10, None),
        Outcome::Exists
    );
    assert!(matches!(
        s.store(b"k", item(1, 0), Condition::CasEquals(cas), 10, None),
        Outcome::Done(_)
    ));
    assert_eq!(
        s.store(b"x", item(1, 0), Condition::CasEquals(1), 10, None),
        Outcome::NotFound
    );
    assert!(matches!(s.delete(b"k", 10, None), Outcome::Done(_)));
    assert_eq!(s.delete(b"k", 10, None), Outcome::NotFound);
    assert_eq!(s.used(), 0);
}

#[test]
fn items_come_back_with_every_field() {
    let s = Store::new(1 << 20);
    let mut it = Item::new(value_of(b"hello"), 0xdead_beef, 500, 10);
    it.value.compressed = true;
    it.value.raw_len = 4000;
    s.store(b"key", it, Condition::Always, 10, None);
    let got = s.get(b"key", 12).unwrap();
    assert_eq!(&got.value.bytes[..], b"hello");
    assert_eq!(
        (got.flags, got.expiry, got.value.raw_len),
        (0xdead_beef, 500, 4000)
    );
    assert!(got.value.compressed && !got.fetched);
    assert_eq!(got.last_access, 12);
    let again = s.get(b"key", 15).unwrap();
    assert!(again.fetched);
    assert_eq!(again.cas, got.cas);
}

#[test]
fn expired_items_are_absent() {
    let s = Store::new(1 << 20);
    s.store(b"k", item(1, 20), Condition::Always, 10, None);
    assert!(s.get(b"k", 19).is_some());
    assert!(s.get(b"k", 20).is_none());
    assert_eq!(s.used(), 0);
}

#[test]
fn a_first_expiry_rewrites_the_record_and_keeps_the_cas() {
    let s = Store::new(1 << 20);
    let Outcome::Done(cas) = s.store(b"k", item(50, 0), Condition::Always, 10, None) else {
        panic!()
    };
    let got = s.fetch(b"k", 11, Some(30)).unwrap();
    assert_eq!((got.expiry, got.cas), (30, cas));
    assert_eq!(s.get(b"k", 29).unwrap().expiry, 30);
    // A second touch fits in place.
    s.fetch(b"k", 12, Some(40));
    assert_eq!(s.get(b"k", 39).unwrap().cas, cas);
    assert!(s.get(b"k", 40).is_none());
    assert_eq!(s.totals().items, 0);
}

#[test]
fn memory_bound_holds_and_newest_items_survive() {
    let limit = 256 * 1024;
    let s = Store::new(limit);
    let l = s.layout();
    assert!(l.segments * l.segment_size + s.totals().index_bytes + s.totals().ghost_bytes <= limit);
    for i in 0..20_000u32 {
        set(&s, &format!("key{i}"), 100, 0);
        assert!(s.totals().segment_bytes_used <= l.segments * l.segment_size);
    }
    assert!(s.get(b"key19999", 10).is_some());
    assert!(s.get(b"key0", 10).is_none());
    assert!(s.counters.evictions.load(Ordering::Relaxed) > 10_000);
    assert!(s.counters.segments_reclaimed.load(Ordering::Relaxed) > 10);
}

#[test]
fn the_crawler_sweeps_every_expired_item() {
    let s = Store::new(64 << 20);
    for i in 0..50_000u32 {
        let expiry = if i % 2 == 0 { 20 } else { 0 };
        set(&s, &format!("k{i}"), 10, expiry);
    }
    let mut total = 0;
    for _ in 0..200 {
        total += s.crawl_expired(30, 64);
    }
    assert_eq!(total, 25_000);
    assert_eq!(s.totals().items, 25_000);
    assert!(s.get(b"k1", 30).is_some());
}

#[test]
fn a_segment_whose_records_all_expired_is_freed_whole() {
    let s = small_records(4 << 20, 1);
    for i in 0..5_000u32 {
        set(&s, &format!("short{i}"), 100, 20);
    }
    for i in 0..5_000u32 {
        set(&s, &format!("long{i}"), 100, 0);
    }
    let free_before = s.totals().segments_free;
    s.crawl_expired(30, 0);
    let t = s.totals();
    assert!(
        t.segments_free > free_before,
        "{} -> {}",
        free_before,
        t.segments_free
    );
    assert!(s.counters.segments_reclaimed.load(Ordering::Relaxed) >= 5);
    assert_eq!(
        t.items,
        5_000 + 5_000 - s.counters.reclaimed.load(Ordering::Relaxed) as usize
    );
}

#[test]
fn a_working_set_survives_a_scan() {
    // 1 MiB: about 7 000 items of 100 bytes; 1 000 hot keys read between every 10 cold inserts.
    let s = small_records(1 << 20, 3);
    let hot: Vec<String> = (0..1000).map(|i| format!("hot{i:05}")).collect();
    for key in &hot {
        set(&s, key, 100, 0);
    }
    for i in 0..50_000u32 {
        if i % 10 == 0 {
            for key in &hot {
                s.get(key.as_bytes(), 10);
            }
        }
        set(&s, &format!("scan{i:05}"), 100, 0);
    }
    let kept = hot
        .iter()
        .filter(|k| s.get(k.as_bytes(), 10).is_some())
        .count();
    assert!(
        kept >= 990,
        "only {kept} of 1000 hot keys survived a scan of 50 000"
    );
}

#[test]
fn evicted_keys_that_return_go_to_main() {
    let s = small_records(1 << 20, 5);
    for i in 0..20_000u32 {
        set(&s, &format!("k{i}"), 100, 0);
    }
    // Keys evicted from the small queue leave a ghost; storing one again puts it in main.
    let returning: Vec<String> = (0..20_000u32)
        .map(|i| format!("k{i}"))
        .filter(|k| {
            queue_of_key(&s, k.as_bytes()).is_none() && s.ghost.contains(s.hash(k.as_bytes()))
        })
        .take(10)
        .collect();
    assert_eq!(returning.len(), 10, "evicted keys should be remembered");
    for key in &returning {
        set(&s, key, 100, 0);
        assert_eq!(queue_of_key(&s, key.as_bytes()), Some(Queue::Main), "{key}");
    }
    let fresh = (0..)
        .map(|i| format!("brand-new{i}"))
        .find(|k| !s.ghost.contains(s.hash(k.as_bytes())))
        .unwrap();
    set(&s, &fresh, 100, 0);
    assert_eq!(queue_of_key(&s, fresh.as_bytes()), Some(Queue::Small));
}

#[test]
fn an_item_larger_than_a_segment_is_refused() {
    let s = Store::new(64 * 1024);
    s.store(b"small", item(10, 0), Condition::Always, 10, None);
    assert_eq!(
        s.store(b"huge", item(64 * 1024, 0), Condition::Always, 10, None),
        Outcome::NoMemory
    );
    assert!(
        s.get(b"small", 10).is_some(),
        "a refused item evicts nothing"
    );
}

#[test]
fn a_value_just_stored_is_never_its_own_victim() {
    let value_len = 64 * 1024;
    let s = Store::new(4 * value_len + 4096);
    for i in 0..500u32 {
        let key = format!("big{i}");
        assert!(matches!(set(&s, &key, value_len, 0), Outcome::Done(_)));
        assert!(
            s.get(key.as_bytes(), 10).is_some(),
            "{key} evicted by its own insertion"
        );
    }
}

#[test]
fn referenced_items_get_a_second_chance() {
    for seed in 0..20 {
        let s = Store::with_seed(64 * 1024, seed);
        s.store(b"hot", item(100, 0), Condition::Always, 10, None);
        for i in 0..5_000u32 {
            assert!(
                s.get(b"hot", 10).is_some(),
                "seed {seed}: hot key evicted at {i}"
            );
            set(&s, &format!("cold{i}"), 100, 0);
        }
    }
}

#[test]
fn the_index_grows_into_the_arena_for_small_items() {
    // Records of ~30 bytes: the index doubles as they come, retiring segments for its memory;
    // the limit holds throughout and the store holds far more items than memcached's 96-byte
    // chunks would.
    let limit = 1 << 20;
    let s = small_records(limit, 9);
    for i in 0..100_000u32 {
        set(&s, &format!("t{i}"), 8, 0);
        if i % 1000 == 0 {
            assert_within_limit(&s);
        }
    }
    let t = s.totals();
    assert!(t.segments_retired > 0 && t.index_bytes > 64 * 4 * 64);
    assert!(t.items * 96 >= limit * 3 / 2, "{} items", t.items);
    assert!(s.get(b"t99999", 10).is_some());
    assert_within_limit(&s);
}

/// Items of 100 bytes under 10-byte keys a store of `limit` holds after a stream of 3× as many.
fn hundred_byte_items_held(limit: usize) -> usize {
    let s = Store::new(limit);
    let n = (limit / 128 * 3) as u32;
    for i in 0..n {
        let value = [i as u8; 100];
        let it = Item::new(value_of(&value), 0, 0, 10);
        s.store(
            format!("key:{i:06}").as_bytes(),
            it,
            Condition::Always,
            10,
            None,
        );
    }
    s.totals().items
}

#[test]
fn a_hundred_byte_item_is_charged_less_than_memcached() {
    // memcached 1.6.18 charges a 192-byte chunk for a 10-byte key and a 100-byte value.
    for (mib, floor) in [(16, 12), (64, 13)] {
        let limit = mib << 20;
        let items = hundred_byte_items_held(limit);
        let memcached = limit / 192;
        println!(
            "-m {mib}: {items} items of 100 bytes, memcached's chunks {memcached}: {:.2}x",
            items as f64 / memcached as f64
        );
        assert!(
            items * 10 >= memcached * floor,
            "-m {mib}: {items} items, memcached {memcached}"
        );
    }
}

#[test]
fn flush_empties_everything() {
    let s = small_records(1 << 20, 2);
    for i in 0..10_000u32 {
        set(&s, &format!("k{i}"), 100, 0);
    }
    s.flush();
    let t = s.totals();
    assert_eq!((t.items, t.bytes, t.segments_free), (0, 0, t.segments));
    assert_eq!((t.segments_retired, t.index_bytes), (0, 64 * 4 * 64));
    assert!(s.get(b"k9999", 10).is_none());
    s.store(b"again", item(10, 0), Condition::Always, 10, None);
    assert!(s.get(b"again", 10).is_some());
}

#[test]
fn writers_and_readers_on_many_threads_see_only_their_keys_bytes() {
    let s = Arc::new(small_records(2 << 20, 4));
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for i in 0..40_000u32 {
                    let k = (i * 7 + t) % 3000;
                    let key = format!("key{k}");
                    if i % 3 == 0 {
                        let value = format!("{key}:{t}:{i}:{}", "x".repeat((i % 200) as usize));
                        let it = Item::new(value_of(value.as_bytes()), k, 0, 10);
                        s.store(key.as_bytes(), it, Condition::Always, 10, None);
                    } else if let Some(got) = s.get(key.as_bytes(), 10) {
                        let text = std::str::from_utf8(&got.value.bytes).unwrap();
                        assert!(text.starts_with(&format!("{key}:")), "{key} holds {text}");
                        assert_eq!(got.flags, k);
                        assert_eq!(
                            got.value.crc,
                            lzcache_driver::crc64::checksum(&got.value.bytes)
                        );
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// One step of a random operation sequence.
#[derive(Debug, Clone)]
enum Op {
    Set(u8, u16),
    Add(u8, u16),
    Cas(u8, u16),
    Delete(u8),
    Get(u8),
    Touch(u8, u8),
    Crawl,
    Advance(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..40u8, 0..3000u16).prop_map(|(k, n)| Op::Set(k, n)),
        1 => (0..40u8, 0..3000u16).prop_map(|(k, n)| Op::Add(k, n)),
        1 => (0..40u8, 0..3000u16).prop_map(|(k, n)| Op::Cas(k, n)),
        1 => (0..40u8).prop_map(Op::Delete),
        4 => (0..40u8).prop_map(Op::Get),
        1 => (0..40u8, 0..5u8).prop_map(|(k, t)| Op::Touch(k, t)),
        1 => Just(Op::Crawl),
        1 => (0..3u8).prop_map(Op::Advance),
    ]
}

/// What the model knows of a key: its last stored value, CAS and expiry, or that it is gone
/// (deleted, or found evicted or expired).
#[derive(Debug, Clone)]
struct Known {
    value: Vec<u8>,
    cas: u64,
    expiry: u32,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_store_behaves_like_a_map_that_may_forget(ops in proptest::collection::vec(op(), 1..400), seed in 0..1000u64) {
        // Small enough that values of up to 3000 bytes evict each other.
        let s = small_records(160 * 1024, seed);
        let mut model: HashMap<u8, Option<Known>> = HashMap::new();
        let mut cas_seen = HashSet::new();
        let mut now = 10u32;
        let value = |k: u8, n: u16| {
            let mut v = format!("{k}:{n}:").into_bytes();
            v.resize(n as usize + v.len(), k);
            v
        };
        for op in ops {
            match op {
                Op::Set(k, n) | Op::Add(k, n) | Op::Cas(k, n) => {
                    let v = value(k, n);
                    let known = model.get(&k).cloned().flatten();
                    let condition = match op {
                        Op::Set(..) => Condition::Always,
                        Op::Add(..) => Condition::Absent,
                        _ => Condition::CasEquals(known.as_ref().map_or(12345, |kn| kn.cas)),
                    };
                    let expiry = if n % 5 == 0 { now + 2 } else { 0 };
                    let it = Item::new(value_of(&v), u32::from(k), expiry, now);
                    let outcome = s.store(&[k], it, condition, now, None);
                    match outcome {
                        Outcome::Done(cas) => {
                            prop_assert!(cas_seen.insert(cas), "CAS {} given twice", cas);
                            model.insert(k, Some(Known { value: v, cas, expiry }));
                        }
                        // Not stored: add met an item (which must then be live and known), or
                        // a CAS met an evicted one.
                        Outcome::NotStored => {
                            prop_assert!(matches!(op, Op::Add(..)));
                            prop_assert!(known.is_some(), "add refused for a key never stored");
                        }
                        Outcome::NotFound | Outcome::Exists => prop_assert!(matches!(op, Op::Cas(..))),
                        Outcome::NoMemory => prop_assert!(false, "no memory for {} bytes", v.len()),
                    }
                    if matches!(outcome, Outcome::NotFound) {
                        model.insert(k, None);
                    }
                }
                Op::Delete(k) => {
                    s.delete(&[k], now, None);
                    model.insert(k, None);
                }
                Op::Get(k) | Op::Touch(k, _) => {
                    let new_expiry = match op {
                        Op::Touch(_, t) => Some(if t == 0 { 0 } else { now + u32::from(t) }),
                        _ => None,
                    };
                    let got = s.fetch(&[k], now, new_expiry);
                    match (got, model.get(&k).cloned().flatten()) {
                        (Some(got), Some(known)) => {
                            prop_assert_eq!(&got.value.bytes[..], &known.value[..]);
                            prop_assert_eq!(got.cas, known.cas);
                            prop_assert_eq!(got.flags, u32::from(k));
                            let expiry = new_expiry.unwrap_or(known.expiry);
                            model.insert(k, Some(Known { expiry, ..known }));
                        }
                        (Some(got), None) => prop_assert!(false, "key {} came back: {:?}", k, got.value.bytes),
                        // Evicted, or expired: either way gone from now on.
                        (None, Some(_)) => {
                            model.insert(k, None);
                        }
                        (None, None) => {}
                    }
                }
                Op::Crawl => {
                    s.crawl_expired(now, 4);
                }
                Op::Advance(secs) => now += u32::from(secs),
            }
            // An item past its expiry is never returned.
            for (&k, known) in &model {
                if let Some(known) = known {
                    if known.expiry != 0 && known.expiry <= now {
                        prop_assert!(s.access(&[k], now, |_| ()).is_none(), "key {} outlived its expiry", k);
                    }
                }
            }
            let t = s.totals();
            prop_assert!(t.segment_bytes_used <= s.layout().segments * s.layout().segment_size);
        }
    }
}

/// A deterministic Zipf(0.99) sampler over `n` ranks (inverse CDF by binary search).
struct Zipf {
    cdf: Vec<f64>,
    state: u64,
}

impl Zipf {
    fn new(n: usize, s: f64, seed: u64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for rank in 1..=n {
            total += 1.0 / (rank as f64).powf(s);
            cdf.push(total);
        }
        cdf.iter_mut().for_each(|c| *c /= total);
        Self {
            cdf,
            state: seed | 1,
        }
    }

    fn next(&mut self) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let u = (self.state >> 11) as f64 / (1u64 << 53) as f64;
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// Value size of key `k` in the mixed-size trace: 50 B to 4 KiB, small ones most common.
fn trace_size(k: usize) -> usize {
    let h = (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    match h % 10 {
        0..=5 => 50 + (h % 200) as usize,
        6..=8 => 250 + (h % 750) as usize,
        _ => 1000 + (h % 3096) as usize,
    }
}

/// memcached 1.6.18's charge for an item: its slab chunk (48-byte header, 8-byte CAS, key with
/// its terminator, value with CRLF; classes from 96 bytes growing by 1.25, 8-byte aligned).
fn memcached_chunk(key_len: usize, value_len: usize) -> usize {
    let need = 48 + 8 + key_len + 1 + value_len + 2;
    let mut chunk = 96usize;
    while chunk < need {
        chunk = ((chunk as f64 * 1.25) as usize).div_ceil(8) * 8;
    }
    chunk
}

/// An exact LRU over the same bytes, charging memcached's chunks: the reference policy.
fn lru_hit_ratio(trace: &[usize], budget: usize) -> f64 {
    use std::collections::BTreeMap;
    let mut last_use: HashMap<usize, u64> = HashMap::new();
    let mut by_age: BTreeMap<u64, usize> = BTreeMap::new();
    let (mut used, mut hits) = (0usize, 0usize);
    for (t, &k) in trace.iter().enumerate() {
        let t = t as u64;
        if let Some(old) = last_use.insert(k, t) {
            by_age.remove(&old);
            hits += 1;
        } else {
            used += memcached_chunk(format!("key:{k}").len(), trace_size(k));
            while used > budget {
                let (_, victim) = by_age.pop_first().unwrap();
                last_use.remove(&victim);
                used -= memcached_chunk(format!("key:{victim}").len(), trace_size(victim));
            }
        }
        by_age.insert(t, k);
    }
    hits as f64 / trace.len() as f64
}

#[test]
fn zipf_hit_ratio_is_at_least_lru_at_memcacheds_charge() {
    // 100 000 keys of mixed sizes, Zipf(0.99), a cache of a tenth of the key space's bytes,
    // cache-aside (a miss stores the value). Values are random bytes (stored raw).
    let keys = 100_000;
    let key_space: usize = (0..keys).map(trace_size).sum();
    let budget = key_space / 10;
    let mut zipf = Zipf::new(keys, 0.99, 42);
    let trace: Vec<usize> = (0..1_000_000).map(|_| zipf.next()).collect();
    let s = small_records(budget, 8);
    let mut hits = 0;
    let payload: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for &k in &trace {
        let key = format!("key:{k}");
        if s.get(key.as_bytes(), 10).is_some() {
            hits += 1;
        } else {
            let it = Item::new(value_of(&payload[..trace_size(k)]), 0, 0, 10);
            s.store(key.as_bytes(), it, Condition::Always, 10, None);
        }
    }
    let ratio = hits as f64 / trace.len() as f64;
    let lru = lru_hit_ratio(&trace, budget);
    println!("Zipf(0.99), 100 000 keys, cache 10 % of their bytes: lzcache {ratio:.4}, LRU at memcached's charge {lru:.4}");
    assert!(ratio >= lru, "hit ratio {ratio:.4} below LRU's {lru:.4}");
}

#[test]
fn the_prefetch_hint_follows_the_shards_index_when_it_grows() {
    let s = Store::new(16 << 20);
    let key = b"hinted";
    let si = shard_of(s.hash(key));
    let location = |s: &Store| s.lock(si).index.location();
    let first = location(&s);
    assert!(s.get(key, 0).is_none());
    assert_eq!(s.bucket_hints.hint(si), first);
    // Enough keys that every shard's index grows (and moves).
    for i in 0..20_000 {
        assert!(matches!(
            set(&s, &format!("key:{i}"), 10, 0),
            Outcome::Done(_)
        ));
    }
    let grown = location(&s);
    assert_ne!(grown, first);
    assert!(s.get(key, 0).is_none());
    assert_eq!(s.bucket_hints.hint(si), grown);
}

#[test]
fn record_prefetches_change_nothing_and_never_wait_for_a_held_lock() {
    let s = Store::new(16 << 20);
    for i in 0..1_000 {
        assert!(matches!(
            set(&s, &format!("key:{i}"), 10, 0),
            Outcome::Done(_)
        ));
    }
    let key = b"key:7";
    let before = s.get(key, 0).expect("stored");
    let hash = s.prefetch(key);
    assert_eq!(hash, s.hash(key));
    s.prefetch_records(hash);
    s.prefetch_records(s.prefetch(b"absent"));
    {
        // Another holder of the shard's lock (here this very thread: a wait would never end).
        let _held = s.lock(shard_of(hash));
        s.prefetch_records(hash);
    }
    let after = s.get(key, 0).expect("still stored");
    assert_eq!(
        (&*after.value.bytes, after.cas),
        (&*before.value.bytes, before.cas)
    );
    assert!(s.get(b"absent", 0).is_none());
}
