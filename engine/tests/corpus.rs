//! Real data: every file of `../shared/corpus` (when the directory is present), cut into values
//! of several sizes, stored and read back exactly through a live server, and held in less
//! memory than raw. Generated data covers the same paths in the other tests.

mod common;

use std::path::Path;

use common::{default_server, Client};

#[test]
fn corpus_values_round_trip_and_shrink() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "{} not present: corpus test has nothing to read",
            dir.display()
        );
        return;
    };
    let s = default_server();
    let mut c = Client::connect(s.addr());
    let mut files = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        files += 1;
        for size in [100usize, 4096, 65536] {
            for (i, value) in data.chunks(size).take(40).enumerate() {
                let key = format!("{}:{size}:{i}", path.file_name().unwrap().to_string_lossy());
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
