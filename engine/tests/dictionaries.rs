//! Trained dictionaries end to end: the server samples JSON-like records, trains and adopts a
//! dictionary, compresses new values with it and serves them back exactly; dictionaries survive
//! a warm restart, travel by export and import, and a lost or damaged one loses only the values
//! that need it — never serves wrong bytes.

mod common;

use std::time::{Duration, Instant};

use common::{until_checked, Binary, Client, Dir};
use lzcache_driver::dict::json_records;

/// A small dictionary, so the sample (16 × 4 KiB, one value in four kept) fills after about
/// 900 records of 300 bytes.
const ARGS: &[&str] = &["-m", "16", "--dict-size", "4k"];

fn stat(c: &mut Client, name: &str) -> u64 {
    c.stat(name).parse().unwrap()
}

fn set_all(c: &mut Client, prefix: &str, records: &[Vec<u8>]) {
    for (i, r) in records.iter().enumerate() {
        c.set(&format!("{prefix}:{i}"), r);
    }
}

/// Stores records until the server reports an adopted dictionary (asking, not sleeping).
fn until_adopted(c: &mut Client) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut round = 0;
    loop {
        let id = stat(c, "lz_dict_id");
        if id != 0 {
            return id;
        }
        assert!(Instant::now() < deadline, "no dictionary adopted");
        set_all(
            c,
            &format!("train{round}"),
            &json_records(500, 1000 + round),
        );
        round += 1;
    }
}

fn assert_all_served(c: &mut Client, prefix: &str, records: &[Vec<u8>]) {
    for (i, r) in records.iter().enumerate() {
        assert_eq!(
            c.get(&format!("{prefix}:{i}")).as_ref(),
            Some(r),
            "{prefix}:{i}"
        );
    }
}

#[test]
fn the_server_trains_a_dictionary_and_serves_values_compressed_with_it() {
    let server = Binary::start(ARGS);
    let mut c = Client::connect(server.addr());
    assert_eq!(c.stat("lz_dict"), "on");
    assert_eq!(stat(&mut c, "lz_dict_id"), 0);
    let id = until_adopted(&mut c);
    assert_eq!(id, 1);
    let records = json_records(2000, 7);
    set_all(&mut c, "rec", &records);
    assert_all_served(&mut c, "rec", &records);
    assert!(stat(&mut c, "lz_dict_items") >= 2000);
    assert!(stat(&mut c, "lz_dict_trainings") >= 1);
    let ratio: f64 = c.stat("lz_dict_ratio").parse().unwrap();
    let without: f64 = c.stat("lz_dict_ratio_without").parse().unwrap();
    assert!(
        ratio > 2.0 && without < 1.3,
        "ratio {ratio}, without {without}"
    );
    // Values change through the other commands as through set.
    c.exchange(b"append rec:5 0 0 3\r\nxyz\r\n", b"STORED\r\n");
    c.exchange(b"prepend rec:6 0 0 2\r\n[[\r\n", b"STORED\r\n");
    let appended = [&records[5][..], b"xyz"].concat();
    let prepended = [&b"[["[..], &records[6][..]].concat();
    assert_eq!(c.get("rec:5"), Some(appended));
    assert_eq!(c.get("rec:6"), Some(prepended));
    assert_eq!(stat(&mut c, "crc_errors"), 0);
}

/// On the simulated device: the driver loads the adopted dictionary into the compress and
/// the decompress engines, and the values are compressed with it and decompressed there.
#[cfg(feature = "sim")]
#[test]
fn values_made_with_a_dictionary_compress_and_decompress_on_the_device() {
    let args: Vec<&str> = ARGS
        .iter()
        .copied()
        .chain(["--accel", "sim", "--accel-prefer", "device"])
        .collect();
    let server = Binary::start(&args);
    let mut c = Client::connect(server.addr());
    until_adopted(&mut c);
    let records = json_records(300, 9);
    let before_sets = stat(&mut c, "lz_dev_jobs");
    set_all(&mut c, "dev", &records);
    let set_jobs = stat(&mut c, "lz_dev_jobs") - before_sets;
    let held_with_dict = stat(&mut c, "lz_dict_items");
    assert!(
        set_jobs >= 250,
        "{set_jobs} of 300 sets compressed on the device"
    );
    let before = stat(&mut c, "lz_dev_jobs");
    assert_all_served(&mut c, "dev", &records);
    let jobs = stat(&mut c, "lz_dev_jobs") - before;
    assert!(
        jobs >= 250 && held_with_dict >= 250,
        "{jobs} of 300 gets decompressed on the device ({held_with_dict} values hold the dictionary)"
    );
    assert_eq!(stat(&mut c, "lz_dev_fallbacks"), 0);
    assert_eq!(stat(&mut c, "crc_errors"), 0);
}

#[test]
fn with_dictionaries_off_nothing_is_trained() {
    let server = Binary::start(&["-m", "16", "--dict", "off"]);
    let mut c = Client::connect(server.addr());
    set_all(&mut c, "rec", &json_records(4000, 3));
    assert_eq!(c.stat("lz_dict"), "off");
    assert_eq!(stat(&mut c, "lz_dict_trainings"), 0);
    assert_eq!(stat(&mut c, "lz_dict_items"), 0);
    assert_eq!(stat(&mut c, "lz_dict_bytes"), 0);
}

#[test]
fn dictionaries_persist_with_the_memory_file_and_a_damaged_one_loses_only_its_values() {
    let dir = Dir::new("dicts-warm");
    let file = dir.file();
    let args: Vec<&str> = ARGS.iter().copied().chain(["-e", &file]).collect();
    let mut server = Binary::start(&args);
    let mut c = Client::connect(server.addr());
    until_adopted(&mut c);
    let records = json_records(1500, 11);
    set_all(&mut c, "rec", &records);
    let with_dict = stat(&mut c, "lz_dict_items");
    assert!(with_dict >= 1500);
    assert!(server.stop_with("TERM").success());

    // A clean restart: every value back, the dictionary with it.
    let mut server = Binary::start(&args);
    let mut c = Client::connect(server.addr());
    until_checked(&mut c);
    assert_eq!(c.stats("slabs")["lz_restore_dropped"], "0");
    assert_eq!(stat(&mut c, "lz_dict_id"), 1);
    assert_all_served(&mut c, "rec", &records);
    assert!(server.stop_with("TERM").success());

    // The dictionaries file damaged: the values needing it are dropped (counted), the rest
    // served, none wrong.
    let dicts = format!("{file}.dicts");
    let mut bytes = std::fs::read(&dicts).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&dicts, bytes).unwrap();
    let server = Binary::start(&args);
    let mut c = Client::connect(server.addr());
    until_checked(&mut c);
    let dropped: u64 = c.stats("slabs")["lz_restore_dropped"].parse().unwrap();
    assert_eq!(dropped, with_dict);
    assert_eq!(stat(&mut c, "lz_dict_items"), 0);
    for (i, r) in records.iter().enumerate() {
        if let Some(v) = c.get(&format!("rec:{i}")) {
            assert_eq!(&v, r);
        }
    }
    assert_eq!(stat(&mut c, "crc_errors"), 0);
}

#[test]
fn an_exported_dictionary_is_used_at_once_by_the_server_that_imports_it() {
    let dir = Dir::new("dicts-export");
    let exported = dir.path("fleet.dicts");
    let args: Vec<&str> = ARGS
        .iter()
        .copied()
        .chain(["--dict-export", &exported])
        .collect();
    let trainer = Binary::start(&args);
    let mut c = Client::connect(trainer.addr());
    let id = until_adopted(&mut c);
    // Written by a rename when the dictionary was adopted: whole once it exists.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::path::Path::new(&exported).exists() {
        assert!(Instant::now() < deadline, "no export written");
        std::thread::yield_now();
    }

    let importer = Binary::start(&["-m", "16", "--dict-import", &exported]);
    let mut c = Client::connect(importer.addr());
    assert_eq!(stat(&mut c, "lz_dict_id"), id);
    let records = json_records(300, 21);
    set_all(&mut c, "rec", &records);
    assert_all_served(&mut c, "rec", &records);
    assert_eq!(stat(&mut c, "lz_dict_trainings"), 0);
    assert!(stat(&mut c, "lz_dict_items") >= 300);

    // A damaged export is refused at start, with the reason.
    let mut bytes = std::fs::read(&exported).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let damaged = dir.path("damaged.dicts");
    std::fs::write(&damaged, bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lzcache"))
        .args(["-p", "0", "--dict-import", &damaged])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--dict-import") && stderr.contains("damaged"),
        "{stderr}"
    );
}
