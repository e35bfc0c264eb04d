//! Dictionary blocks against the other LZ4 implementations, and bad input.

use super::*;

fn records(n: usize, seed: u64) -> Vec<Vec<u8>> {
    json_records(n, seed)
}

fn trained() -> Dictionary {
    let content = train(&records(4000, 7), 16 << 10).expect("training");
    Dictionary::new(3, content).expect("dictionary")
}

#[test]
fn trained_dictionary_compresses_small_records_and_round_trips() {
    let dict = trained();
    assert!(
        dict.len() > 1024 && dict.len() <= 16 << 10,
        "{}",
        dict.len()
    );
    let (mut raw, mut plain, mut with) = (0, 0, 0);
    for record in records(500, 99) {
        let block = dict.compress(&record).expect("block");
        assert_eq!(
            dict.decompress(&block, record.len()).as_deref(),
            Some(&record[..])
        );
        raw += record.len();
        plain += lz4_flex::block::compress(&record).len();
        with += block.len();
    }
    // Held-out records: the dictionary must at least halve what plain LZ4 keeps.
    assert!(
        with * 2 < plain,
        "raw {raw} plain {plain} with dictionary {with}"
    );
}

#[test]
fn dictionary_blocks_interoperate_with_lz4_flex() {
    let dict = trained();
    for record in records(200, 5) {
        let ours = dict.compress(&record).unwrap();
        let flex = lz4_flex::block::decompress_with_dict(&ours, record.len(), dict.content());
        assert_eq!(flex.as_deref().ok(), Some(&record[..]));
        let theirs = lz4_flex::block::compress_with_dict(&record, dict.content());
        assert_eq!(
            dict.decompress(&theirs, record.len()).as_deref(),
            Some(&record[..])
        );
    }
}

#[test]
fn a_block_decoded_without_its_dictionary_or_damaged_is_an_error() {
    let dict = trained();
    let other = Dictionary::new(4, vec![b'x'; 4096]).unwrap();
    let record = &records(1, 11)[0];
    let block = dict.compress(record).unwrap();
    // Against the wrong dictionary it decodes to other bytes (which the CRC catches) or fails.
    assert_ne!(
        other.decompress(&block, record.len()).as_deref(),
        Some(&record[..])
    );
    assert_eq!(dict.decompress(&block, record.len() + 1), None);
    assert_eq!(
        dict.decompress(&block[..block.len() - 1], record.len()),
        None
    );
    let mut x = 1u64;
    for _ in 0..2000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut bad = block.clone();
        let at = (x >> 33) as usize % bad.len();
        bad[at] ^= 1 << ((x >> 60) & 7);
        // Never a panic or a wrong length; the bytes may differ (the CRC's job).
        if let Some(out) = dict.decompress(&bad, record.len()) {
            assert_eq!(out.len(), record.len());
        }
    }
}

#[test]
fn ids_and_lengths_are_checked() {
    assert_eq!(
        Dictionary::new(0, vec![1u8; 10]).unwrap_err(),
        DictError::ReservedId
    );
    assert_eq!(
        Dictionary::new(1, Vec::new()).unwrap_err(),
        DictError::BadLength(0)
    );
    assert!(Dictionary::new(1, vec![0u8; MAX_DICT_LEN + 1]).is_err());
    assert!(Dictionary::new(1, vec![0u8; MAX_DICT_LEN]).is_ok());
}

#[test]
fn training_on_too_little_fails_cleanly() {
    assert!(train(&[b"abc".to_vec()], 4096).is_err());
}

/// The decode window (dictionary as the output's prefix) answers exactly as liblz4's
/// external-dictionary path does, block for block — valid, damaged or random — while the
/// thread switches between dictionaries of every size up to 64 KiB (the prefix path's limit
/// cases) and values cross the window's size limit.
#[test]
fn the_decode_window_answers_as_the_external_dictionary_path() {
    let trained = trained();
    let small = Dictionary::new(5, b"abc".to_vec()).unwrap();
    let full = Dictionary::new(6, records(400, 3).concat()[..MAX_DICT_LEN].to_vec()).unwrap();
    let odd = Dictionary::new(7, records(400, 4).concat()[..MAX_DICT_LEN - 1].to_vec()).unwrap();
    let mut values = records(30, 12);
    values.push(records(400, 13).concat()[..window::WINDOW_VALUE_MAX + 100].to_vec());
    let mut x = 7u64;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let mut decoded = 0;
    for round in 0..400 {
        let dict = [&trained, &small, &full, &odd][round % 4];
        let value = &values[next() as usize % values.len()];
        let mut block = dict.compress(value).unwrap();
        match round % 3 {
            0 => {}
            1 => {
                let at = next() as usize % block.len();
                block[at] ^= 1 << (next() & 7);
            }
            _ => block = (0..next() % 64).map(|_| next() as u8).collect(),
        }
        let len = if round % 5 == 4 {
            value.len() + 1
        } else {
            value.len()
        };
        let mut by_window = b"head".to_vec();
        let mut external = b"head".to_vec();
        let window_ok = dict.decompress_into(&block, len, &mut by_window);
        let external_ok = ffi::decompress_into(
            &block,
            len,
            ffi::History::Apart(dict.content()),
            &mut external,
        );
        assert_eq!(
            (window_ok, &by_window),
            (external_ok, &external),
            "round {round}"
        );
        if round % 3 == 0 && len == value.len() {
            assert!(window_ok);
            assert_eq!(&by_window[4..], &value[..]);
            decoded += 1;
        }
    }
    assert!(decoded > 90, "{decoded}");
}
