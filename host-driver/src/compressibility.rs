//! A test that spots incompressible values for a fraction of what a failed compression costs.
//!
//! LZ4 finds nothing in data whose bytes are close to uniformly distributed — encrypted or
//! already-compressed values (images, archives), random payloads — unless the data repeats
//! itself at long range, yet a failed attempt is not cheap: LZ4's skip steps thin out its
//! probes but still hash a few hundred positions of a 2 KiB value (about 1 ns a byte on the
//! development machine). So before a value is compressed, a sample of its bytes is looked at:
//! when two sampled bytes are equal no more often than two bytes drawn from 192 equally likely
//! values would be, the value is kept raw. Uniform bytes collide with probability 1/256 (the
//! sample's estimate exceeded 1/192 for 8 of 20 000 random 2 KiB values, which are then merely
//! attempted; every 4 KiB piece of a JPEG photograph stayed under it). Compressible data
//! collides far more often: text, markup and JSON 1/36 or more in 4 KiB pieces of the corpus
//! files, and the densest compressible binary met so far, protocol buffers (`geo.protodata`,
//! which LZ4 shrinks by half), 1/105 at the least.
//!
//! Random text over a small alphabet (tokens, identifiers, base64 of encrypted data) is not
//! caught so: LZ4 cannot shrink it either, but its bytes collide (1/62 for alphanumerics) as
//! often as protocol buffers' do, so no byte statistic tells the two apart. A value whose bytes
//! collide at most 1/40 of the time (5.3 bits per byte or more) is [`Outlook::Doubtful`]: when
//! it is at least [`PROBE_MIN_LEN`] long, its first [`PROBE_LEN`] bytes are compressed alone
//! first (with the value's dictionary, if any), and unless that block saves a sixteenth
//! ([`probe_passed`]) the value is kept raw — a fraction of the failed attempt. Protocol
//! buffers, runs and other locally repetitive data pass the probe.
//!
//! The sample is 16 runs of 16 contiguous bytes spread over the value, so a value made of runs
//! or short repeated patterns shows them (as in btrfs's compression heuristic). The blind
//! spots, the first shared with that heuristic, each pinned by a test: a value whose bytes
//! look uniform but whose strings repeat farther apart than a sampled run — the same random
//! block stored twice, random 32-bit words drawn from a few hundred — is kept raw; and so is a
//! doubtful value whose first 512 bytes repeat little while the whole does (each of a few
//! hundred random bytes repeated four times: LZ4 saves 17 % of 4 KiB, 2 % of its probe).

/// Values shorter than this are always compressed: the attempt is cheap, and a short value's
/// savings come mostly from a preset dictionary, which byte frequencies cannot see.
pub const MIN_LEN: usize = 256;

/// Contiguous bytes per sampled run.
const RUN: usize = 16;

/// Runs sampled per value.
const RUNS: usize = 16;

/// Bytes sampled: `RUN * RUNS`.
const SAMPLED: usize = RUN * RUNS;

/// Pairs of sampled bytes.
const PAIRS: u32 = (SAMPLED * (SAMPLED - 1) / 2) as u32;

/// A value is kept raw when at most one in this many pairs of its sampled bytes are equal.
const UNIFORM_ALPHABET: u32 = 192;

/// A value is doubtful when at most one in this many pairs of its sampled bytes are equal.
const SMALL_ALPHABET: u32 = 40;

/// Doubtful values at least this long are probed before they are compressed: below it the
/// probe would save little of the attempt.
pub const PROBE_MIN_LEN: usize = 1024;

/// Bytes of a doubtful value compressed alone as its probe.
pub const PROBE_LEN: usize = 512;

/// What a value's sample says about compressing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outlook {
    /// Repeated bytes are common (or the value is short): compress it.
    Promising,
    /// Few repeated bytes: compress its probe first ([`probe`]), then the value if the probe
    /// passes.
    Doubtful,
    /// Bytes close to uniform: keep it raw.
    Incompressible,
}

/// Judges `data` by its sample (see the module's description); values shorter than
/// [`MIN_LEN`] are always [`Outlook::Promising`].
pub fn outlook(data: &[u8]) -> Outlook {
    if data.len() < MIN_LEN {
        return Outlook::Promising;
    }
    let mut seen = [0u16; 256];
    // Each sampled byte adds the pairs it makes with the equal bytes sampled before it.
    let mut equal_pairs = 0u32;
    let gap = (data.len() - RUN) / (RUNS - 1);
    for run in 0..RUNS {
        let start = run * gap;
        for &byte in &data[start..start + RUN] {
            let count = &mut seen[usize::from(byte)];
            equal_pairs += u32::from(*count);
            *count += 1;
        }
    }
    if equal_pairs * UNIFORM_ALPHABET <= PAIRS {
        Outlook::Incompressible
    } else if equal_pairs * SMALL_ALPHABET <= PAIRS {
        Outlook::Doubtful
    } else {
        Outlook::Promising
    }
}

/// The prefix of a doubtful value to compress first, when it is long enough to be probed.
pub fn probe(data: &[u8]) -> Option<&[u8]> {
    (data.len() >= PROBE_MIN_LEN).then(|| &data[..PROBE_LEN])
}

/// Whether a probe's block (`block_len` bytes for [`PROBE_LEN`]) saved at least a sixteenth:
/// then the whole value is compressed.
pub fn probe_passed(block_len: usize) -> bool {
    block_len + PROBE_LEN / 16 <= PROBE_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn looks_incompressible(data: &[u8]) -> bool {
        outlook(data) == Outlook::Incompressible
    }

    /// A xorshift stream: uniform bytes, reproducible.
    fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    fn lz4_saves(data: &[u8]) -> f64 {
        1.0 - lz4_flex::block::compress(data).len() as f64 / data.len() as f64
    }

    /// Values of the kinds a cache holds, each compressible by LZ4 or not.
    fn kinds(len: usize, seed: u64) -> Vec<(&'static str, Vec<u8>)> {
        let random = random_bytes(len, seed);
        let words = [
            "cache", "value", "the", "lzcache", "server", "of", "memory", "item",
        ];
        let text: Vec<u8> = random
            .iter()
            .flat_map(|&b| [words[usize::from(b) % words.len()].as_bytes(), b" "].concat())
            .take(len)
            .collect();
        let json: Vec<u8> = (0..)
            .flat_map(|i: u64| {
                format!(
                    "{{\"id\":{},\"name\":\"user{}\",\"ok\":true}},",
                    i * 7919,
                    i % 97
                )
                .into_bytes()
            })
            .take(len)
            .collect();
        let hex: Vec<u8> = random
            .iter()
            .flat_map(|b| format!("{b:02x}").into_bytes())
            .take(len)
            .collect();
        const ALPHANUMERIC: &[u8] =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let alphanumeric: Vec<u8> = random
            .iter()
            .map(|&b| ALPHANUMERIC[usize::from(b) % ALPHANUMERIC.len()])
            .collect();
        const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let base64: Vec<u8> = random
            .iter()
            .map(|&b| BASE64[usize::from(b) % 64])
            .collect();
        // Runs of one random byte each: uniform bytes, compressible as runs.
        let runs: Vec<u8> = random.iter().flat_map(|&b| [b; 8]).take(len).collect();
        // A random block of 12 bytes repeated: uniform-looking bytes, one long repeat.
        let short_period: Vec<u8> = random[..12].iter().copied().cycle().take(len).collect();
        let zeros_then_random: Vec<u8> = std::iter::repeat_n(0u8, len / 2)
            .chain(random[..len - len / 2].iter().copied())
            .collect();
        let records: Vec<u8> = (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> (8 * (i % 4))) as u8)
            .collect();
        vec![
            ("random", random),
            ("text", text),
            ("json", json),
            ("hex", hex),
            ("alphanumeric", alphanumeric),
            ("base64", base64),
            ("runs", runs),
            ("short period", short_period),
            ("zeros then random", zeros_then_random),
            ("records", records),
        ]
    }

    #[test]
    fn uniform_bytes_are_judged_incompressible_at_every_length_from_the_minimum() {
        for (i, len) in [MIN_LEN, 300, 1000, 4096, 65_536, 1 << 20]
            .into_iter()
            .enumerate()
        {
            for seed in 1..20u64 {
                let data = random_bytes(len, seed * 1000 + i as u64);
                assert!(lz4_saves(&data) <= 0.0, "random data compressed at {len}");
                assert!(
                    looks_incompressible(&data),
                    "{len} random bytes, seed {seed}"
                );
            }
        }
    }

    #[test]
    fn short_values_are_always_compressed() {
        for len in [0, 1, 16, 100, MIN_LEN - 1] {
            assert!(!looks_incompressible(&random_bytes(len, 7)));
        }
    }

    /// `../shared/corpus` cut into values, when it is present (the generated kinds are
    /// checked either way).
    fn corpus_values() -> Vec<(String, Vec<u8>)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut values = Vec::new();
        for entry in entries.flatten() {
            let Ok(data) = std::fs::read(entry.path()) else {
                continue;
            };
            for (i, value) in data.chunks(4096).enumerate() {
                values.push((
                    format!("{} chunk {i}", entry.path().display()),
                    value.to_vec(),
                ));
            }
        }
        values
    }

    #[test]
    fn a_value_lz4_shrinks_by_a_twentieth_is_never_judged_incompressible() {
        let mut values = corpus_values();
        for len in [MIN_LEN, 257, 511, 1500, 4096, 40_000] {
            for seed in 1..6u64 {
                for (kind, data) in kinds(len, seed) {
                    values.push((format!("{kind}, {len} bytes, seed {seed}"), data));
                }
            }
        }
        let mut judged_raw = 0;
        let mut probed = 0;
        for (name, data) in &values {
            // The decision the server makes: raw, probe then maybe compress, or compress.
            let compressed = match outlook(data) {
                Outlook::Incompressible => false,
                Outlook::Doubtful => match probe(data) {
                    Some(prefix) => {
                        probed += 1;
                        probe_passed(lz4_flex::block::compress(prefix).len())
                    }
                    None => true,
                },
                Outlook::Promising => true,
            };
            let kept = lz4_flex::block::compress(data).len() * 8 <= data.len() * 7;
            assert!(
                compressed || !kept,
                "{name}: LZ4 saves an eighth, yet kept raw"
            );
            let saves = lz4_saves(data);
            if saves >= 0.05 {
                assert!(
                    !looks_incompressible(data),
                    "{name}: LZ4 saves {saves:.2}, judged incompressible"
                );
            } else if looks_incompressible(data) {
                judged_raw += 1;
            }
        }
        // The test saw every answer: the random values (5 per length) were judged raw, the
        // small-alphabet ones of 1 KiB and more probed.
        assert!(
            judged_raw >= 30,
            "{judged_raw} values judged incompressible"
        );
        assert!(probed >= 30, "{probed} values probed");
    }

    #[test]
    fn small_alphabet_random_text_is_doubtful_and_fails_its_probe() {
        for len in [PROBE_MIN_LEN, 2000, 4096, 40_000] {
            for seed in 1..6u64 {
                for (kind, data) in kinds(len, seed) {
                    if kind == "alphanumeric" || kind == "base64" {
                        assert_eq!(outlook(&data), Outlook::Doubtful, "{kind} {len} {seed}");
                        let prefix = probe(&data).expect("long enough to probe");
                        let block = lz4_flex::block::compress(prefix);
                        assert!(!probe_passed(block.len()), "{kind} {len} {seed}");
                    }
                }
            }
        }
        // Shorter doubtful values are compressed without a probe.
        assert!(probe(&[b'a'; PROBE_MIN_LEN - 1]).is_none());
    }

    #[test]
    fn a_uniform_block_repeated_at_long_range_is_the_known_blind_spot() {
        let block = random_bytes(1000, 99);
        let data = block.repeat(4);
        assert!(lz4_saves(&data) > 0.7);
        assert!(looks_incompressible(&data));
    }

    #[test]
    fn four_byte_strings_from_a_small_set_recurring_far_apart_are_the_known_blind_spot() {
        // Random 32-bit words drawn from 256: uniform bytes, yet every word after the first
        // few hundred repeats one seen before.
        let words = random_bytes(1024, 17);
        let picks = random_bytes(1024, 18);
        let data: Vec<u8> = picks
            .iter()
            .flat_map(|&p| &words[usize::from(p) * 4..usize::from(p) * 4 + 4])
            .copied()
            .collect();
        assert!(lz4_saves(&data) > 0.125);
        assert!(looks_incompressible(&data));
        // Each of 1024 random bytes repeated four times: doubtful, and its first 512 bytes
        // (128 runs of 256 possible) hardly repeat, while the whole value does.
        let runs: Vec<u8> = picks.iter().flat_map(|&b| [b; 4]).collect();
        assert!(lz4_saves(&runs) > 0.125);
        assert_eq!(outlook(&runs), Outlook::Doubtful);
        let prefix = probe(&runs).expect("long enough to probe");
        assert!(!probe_passed(lz4_flex::block::compress(prefix).len()));
    }
}
