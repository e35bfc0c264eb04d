//! Real data: generated files of the kinds real data has, and every file of `../shared/corpus`
//! when that directory is present, cut into values of several sizes, stored and read back exactly through a live
//! server, and held in less memory than raw.

mod common;

use std::path::Path;

use common::{default_server, Client, Rng};

/// Generated files, then the corpus files when present.
fn files() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read(e.path()).unwrap())
                })
                .collect()
        })
        .unwrap_or_default();
    if files.is_empty() {
        eprintln!("{} not present: the generated files only", dir.display());
    }
    files.sort();
    let mut rng = Rng(2024);
    let mut all = vec![
        ("gen-text".into(), rng.text(400 << 10)),
        ("gen-random".into(), rng.bytes(64 << 10)),
        ("gen-text-2".into(), rng.text(200 << 10)),
    ];
    all.extend(files);
    all
}

#[test]
fn corpus_values_round_trip_and_shrink() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    let mut files = 0;
    for (name, data) in self::files() {
        files += 1;
        for size in [100usize, 4096, 65536] {
            for (i, value) in data.chunks(size).take(40).enumerate() {
                let key = format!("{name}:{size}:{i}");
                c.set(&key, value);
                assert_eq!(c.get(&key).as_deref(), Some(value), "{key}");
            }
        }
    }
    assert!(files > 0);
    let stats = c.stats("");
    let raw: u64 = stats["lz_value_bytes_raw"].parse().unwrap();
    let held: u64 = stats["lz_value_bytes_held"].parse().unwrap();
    eprintln!("corpus: {raw} raw bytes held in {held}");
    assert!(
        held * 10 < raw * 9,
        "compression should save over 10% on the corpus"
    );
    assert_eq!(stats["crc_errors"], "0");
}
