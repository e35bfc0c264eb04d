//! Parser tests: specific requests, and properties over random bytes (no panic, bounded
//! consumption, and the same result however the input is split).

use proptest::prelude::*;

use super::*;

const LIMITS: Limits = Limits {
    item_size_max: 1 << 20,
};

fn request(buf: &[u8]) -> (Request<'_>, usize) {
    match parse(buf, &LIMITS) {
        Parsed::Request { request, len } => (request, len),
        other => panic!("expected a request from {buf:?}, got {other:?}"),
    }
}

#[test]
fn storage_command_waits_for_its_data() {
    assert!(matches!(
        parse(b"set k 0 0 5\r\nab", &LIMITS),
        Parsed::Incomplete
    ));
    assert!(matches!(
        parse(b"set k 0 0 5\r\nabcde\r", &LIMITS),
        Parsed::Incomplete
    ));
    let (req, len) = request(b"set k 1 2 5\r\nabcde\r\nget k\r\n");
    assert_eq!(len, 20);
    match req {
        Request::Store {
            kind,
            key,
            flags,
            exptime,
            data,
            noreply,
        } => {
            assert_eq!(kind, StoreKind::Set);
            assert_eq!(
                (key, flags, exptime, data, noreply),
                (&b"k"[..], 1, 2, &b"abcde"[..], false)
            );
        }
        other => panic!("{other:?}"),
    }
}

proptest! {
    /// Keys are the line's words between runs of spaces, whatever the spacing: as memcached's
    /// tokenizer splits them.
    #[test]
    fn keys_are_the_words_between_spaces(words in proptest::collection::vec("[a-z:0-9]{1,12}", 0..6),
                                         gaps in proptest::collection::vec(1usize..4, 7)) {
        let mut line = " ".repeat(gaps[6] - 1);
        for (word, gap) in words.iter().zip(&gaps) {
            line.push_str(word);
            line.push_str(&" ".repeat(*gap));
        }
        let keys: Vec<&[u8]> = Keys(line.as_bytes()).iter().collect();
        let expected: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        prop_assert_eq!(keys, expected);
    }
}

#[test]
fn bare_newlines_are_accepted() {
    let (req, len) = request(b"get a b\nrest");
    assert_eq!(len, 8);
    match req {
        Request::Get { kind, keys } => {
            assert_eq!(kind, GetKind::Get);
            assert_eq!(keys.iter().collect::<Vec<_>>(), vec![&b"a"[..], b"b"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_large_values_are_refused_before_their_data_arrives() {
    match parse(b"set k 0 0 2000000\r\n", &LIMITS) {
        Parsed::Error {
            line, len, then, ..
        } => {
            assert_eq!(line, TOO_LARGE);
            assert_eq!(len, 19);
            assert_eq!(
                then,
                Then::SwallowAndDrop {
                    swallow: 2_000_002,
                    key: b"k".to_vec()
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn over_long_lines_close() {
    let line = vec![b'x'; LINE_MAX_LEN + 1];
    assert!(matches!(
        parse(&line, &LIMITS),
        Parsed::Error {
            then: Then::Close,
            ..
        }
    ));
    let mut get = b"get ".to_vec();
    get.extend(vec![b'k'; LINE_MAX_LEN + 1]);
    assert!(matches!(parse(&get, &LIMITS), Parsed::Incomplete));
}

#[test]
fn meta_flags_are_parsed() {
    let (req, _) = request(b"mg key v c f k O123 T30 N10 R5 q\r\n");
    match req {
        Request::MetaGet { key, flags } => {
            assert_eq!(key, b"key");
            assert!(flags.return_value && flags.return_cas && flags.return_flags);
            assert!(flags.return_key && flags.quiet);
            assert_eq!(flags.opaque, Some(&b"123"[..]));
            assert_eq!(
                (flags.ttl, flags.vivify, flags.recache),
                (Some(30), Some(10), Some(5))
            );
        }
        other => panic!("{other:?}"),
    }
    let (req, len) = request(b"ms a 2 MA F5 I\r\nhi\r\n");
    assert_eq!(len, 20);
    match req {
        Request::MetaSet { key, data, flags } => {
            assert_eq!((&key[..], data), (&b"a"[..], &b"hi"[..]));
            assert_eq!(flags.mode, Some(MetaMode::Append));
            assert_eq!(flags.client_flags, Some(5));
            assert!(flags.invalidate);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn numbers() {
    assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_u64(b"18446744073709551616"), None);
    assert_eq!(parse_u64(b""), None);
    // As memcached's strtoull/strtol: a leading `+` is taken, `-` only where signed.
    assert_eq!(parse_u64(b"+1"), Some(1));
    assert_eq!(parse_u64(b"-1"), None);
    assert_eq!(parse_u64(b"++1"), None);
    assert_eq!(parse_i64(b"-5"), Some(-5));
    assert_eq!(parse_i64(b"-+5"), None);
    assert_eq!(parse_u32(b"4294967296"), None);
    // What memcached 1.6.18 keeps of them (checked against it by the differential test).
    assert_eq!(parse_client_flags(b"4294967296"), Some(0));
    assert_eq!(parse_client_flags(b"18446744073709551615"), Some(u32::MAX));
    assert_eq!(parse_exptime(b"4294967295"), Some(-1));
    assert_eq!(parse_exptime(b"4294967296"), Some(0));
    assert_eq!(parse_exptime(b"9223372036854775808"), None);
    assert_eq!(parse_data_len(b"-0"), Some(0));
    assert_eq!(parse_data_len(b"-1"), None);
    assert_eq!(parse_data_len(b"2147483645"), Some(2_147_483_645));
    assert_eq!(parse_data_len(b"2147483646"), None);
}

/// Runs the parser the way a connection does, over `input` delivered in `chunks`; returns a
/// printable trace of everything it produced.
fn drive(input: &[u8], chunk_sizes: &[usize]) -> Vec<String> {
    let mut trace = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut offered = 0;
    let mut framer = Framer::new();
    let mut sizes = chunk_sizes.iter().cycle();
    loop {
        let mut consumed = 0;
        loop {
            let step = framer.next(&buf[consumed..], &LIMITS);
            assert!(step.consumed <= buf.len() - consumed);
            consumed += step.consumed;
            match step.parsed {
                Parsed::Incomplete => break,
                Parsed::Request { request, len } => {
                    assert!(len > 0 && len <= step.consumed);
                    trace.push(format!("{request:?}"));
                }
                Parsed::Error { line, then, .. } => {
                    trace.push(format!("{line} {then:?}"));
                    if then == Then::Close {
                        return trace;
                    }
                }
            }
        }
        buf.drain(..consumed);
        // The buffer never holds more than a line plus the largest value.
        assert!(buf.len() <= RETRIEVAL_LINE_MAX_LEN + LIMITS.item_size_max + 2 + 64);
        if offered == input.len() {
            trace.push(format!("left {}", buf.len()));
            return trace;
        }
        let n = (*sizes.next().unwrap()).max(1).min(input.len() - offered);
        buf.extend_from_slice(&input[offered..offered + n]);
        offered += n;
    }
}

/// Fragments of valid and invalid commands, so random inputs reach deep into the parser.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"get k\r\n".to_vec()),
        Just(b"set k 0 0 3\r\nabc\r\n".to_vec()),
        Just(b"set k 0 0 3 noreply\r\n".to_vec()),
        Just(b"cas k 0 0 1 99\r\nx\r\n".to_vec()),
        Just(b"incr k 5\r\n".to_vec()),
        Just(b"gat 10 k j\r\n".to_vec()),
        Just(b"ms k 2 T1 F3 MA\r\nhi\r\n".to_vec()),
        Just(b"mg k v c f k O1 q b\r\n".to_vec()),
        Just(b"ma k N0 J5 D2 MD\r\n".to_vec()),
        Just(b"md k I T5 x q\r\n".to_vec()),
        Just(b"mn\r\n".to_vec()),
        Just(b"flush_all 5 noreply\r\n".to_vec()),
        Just(b"set k 0 0 99999999\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b" ".to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = drive(&bytes, &[bytes.len().max(1)]);
    }

    #[test]
    fn splitting_the_input_does_not_change_the_result(
        parts in prop::collection::vec(fragment(), 1..20),
        chunks in prop::collection::vec(1usize..40, 1..8),
    ) {
        let input: Vec<u8> = parts.concat();
        let whole = drive(&input, &[input.len().max(1)]);
        let split = drive(&input, &chunks);
        prop_assert_eq!(whole, split);
    }
}
