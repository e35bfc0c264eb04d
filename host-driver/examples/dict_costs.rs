//! What a dictionary job costs, part by part, on 1 000 generated JSON-like records with a
//! 16 KiB trained dictionary: the training, the CRC-64 of a record, the bare liblz4 block
//! calls, the inline calls the server makes (a reused buffer, the CRC included), and the whole
//! job through the software codec (`execute`) and the codec API (`run`).
//!
//!     cargo run --release -p lzcache-driver --example dict_costs

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use lzcache_driver::dict::{json_records, train};
use lzcache_driver::{crc64, Codec, Dictionary, Job, SoftwareCodec};

const ROUNDS: usize = 200;

fn per_record(name: &str, records: usize, mut f: impl FnMut()) {
    let started = Instant::now();
    for _ in 0..ROUNDS {
        f();
    }
    let ns = started.elapsed().as_nanos() as f64 / (ROUNDS * records) as f64;
    println!("{name:<28} {ns:>7.0} ns per record");
}

fn main() {
    let started = Instant::now();
    let content = train(&json_records(4000, 1), 16 << 10).expect("training");
    println!("training on 4 000 records     {:?}", started.elapsed());
    let dict = Arc::new(Dictionary::new(1, content).expect("dictionary"));
    let records: Vec<Bytes> = json_records(1000, 2).into_iter().map(Bytes::from).collect();
    let blocks: Vec<Bytes> = records
        .iter()
        .map(|r| Bytes::from(dict.compress(r).expect("block")))
        .collect();
    let crcs: Vec<u64> = records.iter().map(|r| crc64::checksum(r)).collect();
    let n = records.len();
    let software = SoftwareCodec::new();
    let decompress = |i: usize| {
        Job::decompress(0, blocks[i].clone(), records[i].len(), crcs[i])
            .with_dict(Some(Arc::clone(&dict)))
    };
    let compress =
        |i: usize| Job::compress(0, records[i].clone()).with_dict(Some(Arc::clone(&dict)));

    per_record("crc64", n, || {
        records.iter().for_each(|r| {
            black_box(crc64::checksum(r));
        })
    });
    per_record("liblz4 compress", n, || {
        records.iter().for_each(|r| {
            black_box(dict.compress(r));
        })
    });
    per_record("liblz4 decompress", n, || {
        for (b, r) in blocks.iter().zip(&records) {
            black_box(dict.decompress(b, r.len()));
        }
    });
    let mut reply = Vec::new();
    per_record("compress inline", n, || {
        records.iter().for_each(|r| {
            reply.clear();
            black_box(software.compress_into(r, Some(&dict), &mut reply).ok());
        })
    });
    per_record("decompress inline", n, || {
        for ((b, r), crc) in blocks.iter().zip(&records).zip(&crcs) {
            reply.clear();
            let back = software.decompress_into(b, r.len(), Some(&dict), &mut reply);
            black_box(back == Ok(*crc));
        }
    });
    per_record("compress job (execute)", n, || {
        (0..n).for_each(|i| {
            black_box(software.execute(&compress(i)));
        })
    });
    per_record("decompress job (execute)", n, || {
        (0..n).for_each(|i| {
            black_box(software.execute(&decompress(i)));
        })
    });
    per_record("decompress job (run)", n, || {
        (0..n).for_each(|i| {
            black_box(software.run(decompress(i)).ok());
        })
    });
}
