//! How much memory compression saves on real data.
//!
//! Cuts every file of a directory (default `../shared/corpus`) into values of `--value-size`
//! bytes, stores them in two stores — one compressing as the server does, one keeping every
//! value raw — and prints, per file and in total, the raw bytes, the bytes held, and the memory
//! charged (values plus per-item overhead) with and without compression.
//!
//! ```sh
//! cargo run --release -p lzcache --example corpus_savings -- [DIR] [--value-size 4096]
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use lzcache::config::DEFAULT_COMPRESS_MIN;
use lzcache::store::{Condition, Item, Store};
use lzcache::value::ValueCodec;
use lzcache_driver::SoftwareCodec;

struct Totals {
    raw: usize,
    held: usize,
    charged: usize,
    charged_raw: usize,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from("../shared/corpus");
    let mut value_size = 4096usize;
    while let Some(arg) = args.next() {
        if arg == "--value-size" {
            value_size = args
                .next()
                .and_then(|v| v.parse().ok())
                .expect("--value-size N");
        } else {
            dir = PathBuf::from(arg);
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let compressing = ValueCodec::new(Arc::new(SoftwareCodec::new()), DEFAULT_COMPRESS_MIN);
    let raw_only = ValueCodec::new(Arc::new(SoftwareCodec::new()), usize::MAX);
    // The software codec completes inline; a runtime only drives the (already ready) futures.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    println!("values of {value_size} bytes from {}", dir.display());
    println!(
        "{:<20} {:>10} {:>10} {:>7} {:>12} {:>12} {:>7}",
        "file", "raw", "held", "ratio", "charged", "charged_raw", "saved"
    );
    let mut all = Totals {
        raw: 0,
        held: 0,
        charged: 0,
        charged_raw: 0,
    };
    for file in files {
        let data = std::fs::read(&file).expect("readable file");
        let with = Store::new(usize::MAX);
        let without = Store::new(usize::MAX);
        let mut held = 0;
        for (i, value) in data.chunks(value_size).enumerate() {
            let key = format!("{}:{i}", file.display());
            let encoded = runtime.block_on(compressing.encode(value));
            held += encoded.held_len();
            with.store(
                key.as_bytes(),
                Item::new(encoded, 0, 0, 2),
                Condition::Always,
                2,
                None,
            );
            let plain = runtime.block_on(raw_only.encode(value));
            without.store(
                key.as_bytes(),
                Item::new(plain, 0, 0, 2),
                Condition::Always,
                2,
                None,
            );
        }
        let t = Totals {
            raw: data.len(),
            held,
            charged: with.used(),
            charged_raw: without.used(),
        };
        print_row(&file.file_name().unwrap().to_string_lossy(), &t);
        all.raw += t.raw;
        all.held += t.held;
        all.charged += t.charged;
        all.charged_raw += t.charged_raw;
    }
    print_row("total", &all);
}

fn print_row(name: &str, t: &Totals) {
    println!(
        "{:<20} {:>10} {:>10} {:>7.3} {:>12} {:>12} {:>6.1}%",
        name,
        t.raw,
        t.held,
        t.raw as f64 / t.held.max(1) as f64,
        t.charged,
        t.charged_raw,
        100.0 * (1.0 - t.charged as f64 / t.charged_raw.max(1) as f64)
    );
}
