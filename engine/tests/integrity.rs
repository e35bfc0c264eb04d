//! A value damaged in memory is never served: flip bits inside stored values (raw and
//! compressed) and check every read path answers with a miss, counts it and drops the item.

mod common;

use common::{default_server, Client, Rng};

/// Flips one bit of the stored bytes of `key` directly in the store.
fn flip_bit(server: &lzcache::ServerHandle, key: &str, bit: usize) {
    let found = server
        .cache()
        .store
        .with_stored_bytes_mut(key.as_bytes(), |bytes| {
            let bit = bit % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
        });
    assert!(found, "{key} is not stored");
}

/// One way of reading a value; true when it was served.
type ReadPath = dyn Fn(&mut Client, &str) -> bool;

#[test]
fn flipped_bits_are_never_served() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    let mut rng = Rng(99);
    let compressible = rng.text(8192);
    let random = rng.bytes(3000);
    let small = b"12345".to_vec();
    let mut errors = 0;
    for (name, value) in [
        ("text", &compressible),
        ("noise", &random),
        ("small", &small),
    ] {
        // Every read command, each on a freshly stored copy.
        let reads: [&ReadPath; 4] = [
            &|c, k| c.get(k).is_some(),
            &|c, k| {
                c.send(format!("mg {k} v\r\n").as_bytes());
                c.read_line() != b"EN\r\n"
            },
            &|c, k| {
                c.send(format!("gat 100 {k}\r\n").as_bytes());
                c.read_line() != b"END\r\n"
            },
            &|c, k| {
                c.send(format!("append {k} 0 0 1\r\nz\r\n").as_bytes());
                c.read_line() != b"NOT_STORED\r\n"
            },
        ];
        for (i, read) in reads.iter().enumerate() {
            for bit in [0usize, 13, 4099, 65000] {
                let key = format!("{name}-{i}-{bit}");
                c.set(&key, value);
                assert_eq!(c.get(&key).as_ref(), Some(value), "intact value is served");
                flip_bit(&s, &key, bit);
                assert!(!read(&mut c, &key), "{key}: a damaged value was served");
                errors += 1;
                // The item is gone, not just hidden.
                assert!(c.get(&key).is_none());
                c.exchange(format!("me {key}\r\n").as_bytes(), b"EN\r\n");
            }
        }
    }
    assert_eq!(c.stat("crc_errors"), errors.to_string());
}

#[test]
fn values_of_every_size_round_trip_exactly() {
    let s = default_server();
    let mut c = Client::connect(s.addr());
    let mut rng = Rng(5);
    let mut sizes: Vec<usize> = (0..=130).collect();
    sizes.extend([255, 256, 1000, 4095, 4096, 65535, 65536, 100_000, 1 << 20]);
    for size in sizes {
        for (kind, value) in [
            ("t", rng.text(size)),
            ("r", rng.bytes(size)),
            ("z", vec![0u8; size]),
        ] {
            let key = format!("{kind}{size}");
            c.set(&key, &value);
            assert_eq!(c.get(&key).unwrap(), value, "{key}");
        }
    }
    assert_eq!(c.stat("crc_errors"), "0");
}
