//! The software codec beside its peers, per value size: LZ4 compress and decompress against
//! the lz4 C library (level 1), CRC-64/NVME (crc-fast) against the `crc` crate.
//!
//! lzcache's side goes through the codec API as the server calls it (`Codec::submit`, whose
//! job shares the input by reference count, then the already-resolved completion).
//! `make bench` runs this and prints the lzcache/peer ratios from criterion's estimates.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lzcache_benches::{crc_crate, lz4_c, text_input, VALUE_SIZES};

use lzcache_driver::{crc64, Codec, Job, SoftwareCodec};

fn codec(c: &mut Criterion) {
    let software = SoftwareCodec::new();
    for size in VALUE_SIZES {
        let input = text_input(size);
        let shared = bytes::Bytes::from(input.clone());
        let block = bytes::Bytes::from(lz4_flex::block::compress(&input));
        let crc = crc64::checksum(&input);

        let mut group = c.benchmark_group(format!("compress/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("lzcache", size), |b| {
            b.iter(|| software.run(Job::compress(0, shared.clone())))
        });
        group.bench_function(BenchmarkId::new("lz4-c", size), |b| {
            b.iter(|| lz4_c::compress(&input))
        });
        group.finish();

        let mut group = c.benchmark_group(format!("decompress/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("lzcache", size), |b| {
            b.iter(|| software.run(Job::decompress(0, block.clone(), size, crc)))
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

criterion_group!(benches, codec);
criterion_main!(benches);
