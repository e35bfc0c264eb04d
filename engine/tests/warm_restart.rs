//! Warm restart (`-e PATH`): a clean shutdown keeps every item for the next start with the same
//! file and limits; a damaged file loses only the damaged items; anything else starts empty.

mod common;

use common::{until_checked, Binary, Client, Dir, Rng};

/// Stores `count` values (compressible text of 2 KiB, random 100 B, and one in a hundred a
/// random 200 KiB value, held in pieces; varied flags, some with a TTL) and returns them with
/// their CAS.
fn fill(c: &mut Client, count: usize) -> Vec<(String, Vec<u8>, u32, u64)> {
    let mut rng = Rng(5);
    (0..count)
        .map(|i| {
            let key = format!("item:{i}");
            let value = if i % 2 == 0 {
                rng.text(2048)
            } else {
                rng.bytes(100)
            };
            let flags = (i * 7919) as u32;
            let ttl = if i % 10 == 0 { 3600 } else { 0 };
            let mut request = format!("set {key} {flags} {ttl} {}\r\n", value.len()).into_bytes();
            request.extend_from_slice(&value);
            request.extend_from_slice(b"\r\n");
            c.exchange(&request, b"STORED\r\n");
            let (_, cas) = c.gets(&key).unwrap();
            (key, value, flags, cas)
        })
        .collect()
}

fn stat(c: &mut Client, args: &str, name: &str) -> u64 {
    c.stats(args)[name].parse().unwrap()
}

#[test]
fn a_clean_shutdown_keeps_every_item() {
    let dir = Dir::new("warm");
    let file = dir.file();
    let args = ["-m", "16", "-e", &file];
    let mut server = Binary::start(&args);
    let mut c = Client::connect(server.addr());
    let items = fill(&mut c, 3000);
    c.exchange(b"delete item:1\r\n", b"DELETED\r\n");
    assert!(server.stop_with("TERM").success());

    let started = std::time::Instant::now();
    let server = Binary::start(&args);
    let mut c = Client::connect(server.addr());
    c.exchange(b"mn\r\n", b"MN\r\n");
    eprintln!("serving again {:?} after the start", started.elapsed());
    until_checked(&mut c);
    assert_eq!(stat(&mut c, "slabs", "lz_restored_items"), 2999);
    assert_eq!(stat(&mut c, "slabs", "lz_restore_dropped"), 0);
    assert_eq!(stat(&mut c, "", "curr_items"), 2999);
    for (key, value, flags, cas) in &items {
        if key == "item:1" {
            assert!(c.get(key).is_none(), "a deleted item came back");
            continue;
        }
        c.send(format!("gets {key}\r\n").as_bytes());
        let header = String::from_utf8(c.read_line()).unwrap();
        assert_eq!(
            header,
            format!("VALUE {key} {flags} {} {cas}\r\n", value.len())
        );
        assert_eq!(&c.read_n(value.len() + 2)[..value.len()], &value[..]);
        assert_eq!(c.read_line(), b"END\r\n");
    }
    // TTLs kept their meaning, and new versions get new CAS values.
    c.send(b"mg item:0 t\r\n");
    let ttl: u64 = String::from_utf8(c.read_line()).unwrap()[4..]
        .trim()
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&ttl), "ttl {ttl}");
    c.set("new", b"value");
    let (_, cas) = c.gets("new").unwrap();
    assert!(items.iter().all(|(_, _, _, old)| *old < cas));
}

#[test]
fn a_damaged_memory_file_loses_only_the_damaged_items() {
    let dir = Dir::new("damaged");
    let file = dir.file();
    let args = ["-m", "16", "-e", &file];
    let mut server = Binary::start(&args);
    let mut c = Client::connect(server.addr());
    let items = fill(&mut c, 1000);
    assert!(server.stop_with("TERM").success());
    // Scribble over 64 bytes every 4 KiB of the first 256 KiB.
    let mut bytes = std::fs::read(&file).unwrap();
    for at in (4096..256 * 1024).step_by(4096) {
        bytes[at..at + 64].fill(0x5a);
    }
    std::fs::write(&file, &bytes).unwrap();

    let server = Binary::start(&args);
    let mut c = Client::connect(server.addr());
    until_checked(&mut c);
    let restored = stat(&mut c, "slabs", "lz_restored_items");
    let dropped = stat(&mut c, "slabs", "lz_restore_dropped");
    eprintln!("{restored} restored, {dropped} dropped");
    assert!(
        dropped > 0 && restored + dropped == 1000,
        "{restored} + {dropped}"
    );
    let mut served = 0;
    for (key, value, _, _) in &items {
        if let Some(got) = c.get(key) {
            assert_eq!(&got, value, "{key} served damaged");
            served += 1;
        }
    }
    assert_eq!(served, restored);
}

#[test]
fn without_a_clean_shutdown_or_with_other_limits_the_server_starts_empty() {
    let dir = Dir::new("cold");
    let file = dir.file();
    {
        let server = Binary::start(&["-m", "16", "-e", &file]);
        let mut c = Client::connect(server.addr());
        fill(&mut c, 100);
        // Dropped: killed, no clean shutdown.
    }
    let mut server = Binary::start(&["-m", "16", "-e", &file]);
    let mut c = Client::connect(server.addr());
    assert_eq!(stat(&mut c, "", "curr_items"), 0);
    fill(&mut c, 100);
    assert!(server.stop_with("USR1").success());
    // Another -m: not this layout.
    let server = Binary::start(&["-m", "32", "-e", &file]);
    let mut c = Client::connect(server.addr());
    assert_eq!(stat(&mut c, "", "curr_items"), 0);
    c.set("k", b"v");
    assert_eq!(c.get("k").unwrap(), b"v");
}
