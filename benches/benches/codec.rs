//! The software codec beside its peers, per value size: LZ4 compress and decompress against
//! the lz4 C library (level 1), CRC-64/NVME (crc-fast) against the `crc` crate.
//!
//! lzcache's side is the codec as the server calls it in software (a `Dispatcher` without a
//! device, which also counts the jobs for `stats`): inline (`Codec::compress_inline` /
//! `decompress_inline`) into a buffer reused from value to value — the store's scratch
//! buffer, the reply being built — with the CRC-64 of the raw bytes computed (compress) or
//! checked (decompress); the store's copy of a kept block is not in them. Values over 16 KiB
//! and every device job go through `Codec::submit` instead: the `lzcache-job` rows of the
//! dictionary groups time that (the job sharing its input by reference count, a fresh output
//! buffer, the already-resolved completion). `make bench` runs this and prints the
//! lzcache/peer ratios from criterion's estimates.
//!
//! `dict-compress` and `dict-decompress` time a batch of 1 000 JSON-like records (100–500 B)
//! with a 16 KiB trained dictionary: lzcache inline as above, through a job, and its dictionary
//! block codec alone (`Dictionary::compress`/`decompress`: the block in a fresh buffer, no
//! CRC), beside liblz4 with the dictionary attached to a reused stream, called from C with no
//! allocation per block and no CRC.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::Arc;

use lzcache_benches::lz4_dict_c::PeerDict;
use lzcache_benches::{crc_crate, lz4_c, text_input, VALUE_SIZES};

use lzcache_driver::dict::{json_records, train};
use lzcache_driver::{crc64, Codec, Dictionary, Dispatcher, Job};

fn codec(c: &mut Criterion) {
    let software = Dispatcher::software();
    for size in VALUE_SIZES {
        let input = text_input(size);
        let block = bytes::Bytes::from(lz4_flex::block::compress(&input));
        let crc = crc64::checksum(&input);

        let mut group = c.benchmark_group(format!("compress/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        let mut scratch = Vec::new();
        group.bench_function(BenchmarkId::new("lzcache", size), |b| {
            b.iter(|| {
                scratch.clear();
                software.compress_inline(&input, None, &mut scratch)
            })
        });
        group.bench_function(BenchmarkId::new("lz4-c", size), |b| {
            b.iter(|| lz4_c::compress(&input))
        });
        group.finish();

        let mut group = c.benchmark_group(format!("decompress/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        let mut reply = Vec::new();
        group.bench_function(BenchmarkId::new("lzcache", size), |b| {
            b.iter(|| {
                reply.clear();
                software.decompress_inline(&block, size, None, &mut reply) == Some(Ok(crc))
            })
        });
        group.bench_function(BenchmarkId::new("lz4-c", size), |b| {
            b.iter(|| lz4_c::decompress(&block, size))
        });
        group.finish();

        let mut group = c.benchmark_group(format!("crc64/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("lzcache", size), |b| {
            b.iter(|| crc64::checksum(&input))
        });
        group.bench_function(BenchmarkId::new("crc-crate", size), |b| {
            b.iter(|| crc_crate(&input))
        });
        group.finish();
    }
}

fn dictionary(c: &mut Criterion) {
    let software = Dispatcher::software();
    let dict = Arc::new(
        Dictionary::new(
            1,
            train(&json_records(4000, 1), 16 << 10).expect("training"),
        )
        .expect("dictionary"),
    );
    let mut peer = PeerDict::new(dict.content());
    let records: Vec<bytes::Bytes> = json_records(1000, 2)
        .into_iter()
        .map(bytes::Bytes::from)
        .collect();
    let total: usize = records.iter().map(|r| r.len()).sum();
    let blocks: Vec<(bytes::Bytes, usize, u64)> = records
        .iter()
        .map(|r| {
            let block = dict.compress(r).expect("block");
            (bytes::Bytes::from(block), r.len(), crc64::checksum(r))
        })
        .collect();
    let mut out = vec![0u8; 1024];
    // lzcache's reused buffer: the store's scratch buffer, the reply being built.
    let mut reply = Vec::new();

    let mut group = c.benchmark_group(format!("dict-compress/{total}"));
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function(BenchmarkId::new("lzcache", total), |b| {
        b.iter(|| {
            for r in &records {
                reply.clear();
                criterion::black_box(software.compress_inline(r, Some(&dict), &mut reply));
            }
        })
    });
    group.bench_function(BenchmarkId::new("lzcache-job", total), |b| {
        b.iter(|| {
            for r in &records {
                let job = Job::compress(0, r.clone()).with_dict(Some(Arc::clone(&dict)));
                criterion::black_box(software.run(job).ok());
            }
        })
    });
    group.bench_function(BenchmarkId::new("lzcache-block", total), |b| {
        b.iter(|| {
            for r in &records {
                criterion::black_box(dict.compress(r));
            }
        })
    });
    group.bench_function(BenchmarkId::new("lz4-c-attached", total), |b| {
        b.iter(|| {
            for r in &records {
                criterion::black_box(peer.compress(r, &mut out));
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("dict-decompress/{total}"));
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function(BenchmarkId::new("lzcache", total), |b| {
        b.iter(|| {
            for (block, len, crc) in &blocks {
                reply.clear();
                let crc_back = software.decompress_inline(block, *len, Some(&dict), &mut reply);
                criterion::black_box(crc_back == Some(Ok(*crc)));
            }
        })
    });
    group.bench_function(BenchmarkId::new("lzcache-job", total), |b| {
        b.iter(|| {
            for (block, len, crc) in &blocks {
                let job = Job::decompress(0, block.clone(), *len, *crc)
                    .with_dict(Some(Arc::clone(&dict)));
                criterion::black_box(software.run(job).ok());
            }
        })
    });
    group.bench_function(BenchmarkId::new("lzcache-block", total), |b| {
        b.iter(|| {
            for (block, len, _) in &blocks {
                criterion::black_box(dict.decompress(block, *len));
            }
        })
    });
    group.bench_function(BenchmarkId::new("lz4-c-attached", total), |b| {
        b.iter(|| {
            for (block, _, _) in &blocks {
                criterion::black_box(peer.decompress(block, &mut out));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, codec, dictionary);
criterion_main!(benches);
