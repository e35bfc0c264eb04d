//! The parser over arbitrary bytes in arbitrary splits: no panic, every step consumes what it
//! says and no more than it was given, and the sequence of requests and errors is the same
//! however the bytes are split (the first byte of the input chooses the split size).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lzcache::protocol::{Framer, Limits, Parsed};

const LIMITS: Limits = Limits {
    item_size_max: 4096,
};

/// Feeds `input` to a framer `chunk` bytes at a time, as a connection's reads would, and
/// returns what it produced as text.
fn trace(input: &[u8], chunk: usize) -> Vec<String> {
    let mut framer = Framer::new();
    let mut buffer: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buffer.extend_from_slice(piece);
        let mut used = 0;
        loop {
            let step = framer.next(&buffer[used..], &LIMITS);
            assert!(
                step.consumed <= buffer.len() - used,
                "consumed past the input"
            );
            used += step.consumed;
            match step.parsed {
                Parsed::Incomplete => break,
                Parsed::Request { request, .. } => out.push(format!("{request:?}")),
                Parsed::Error { line, then, .. } => out.push(format!("{line} {then:?}")),
            }
        }
        buffer.drain(..used);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let whole = trace(input, input.len().max(1));
    let split = trace(input, usize::from(first % 64) + 1);
    // Past 2048 bytes without a newline the connection is closed, so for longer input the
    // answer depends on the reads (as memcached's does): only "no panic" is checked there.
    if input.len() > lzcache::protocol::LINE_MAX_LEN {
        return;
    }
    // A later request can depend on where an earlier one ended only through the stream
    // itself, so the two traces agree on every item both produced.
    let common = whole.len().min(split.len());
    assert_eq!(whole[..common], split[..common]);
});
