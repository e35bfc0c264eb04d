//! Command streams: seeded, replayable sequences of valid and invalid text and meta commands.
//!
//! Each [`Step`] is one request as bytes plus how it is cut into writes. The generator favours
//! the edges where servers differ: key lengths 0, 1, 250 and 251, numbers at and past their
//! limits, `noreply`, missing and extra tokens, bad data chunks, long lines, binary bytes.
//! Exptimes are 0, negative or far away, so no reply depends on when a second ticks.

/// A small, fast, seedable generator (xorshift64*): streams must replay exactly from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Stands for "the CAS value this server last reported" in a request: CAS values differ
/// between servers, so a request that means to match one is completed per server when sent.
pub const CAS_MARK: &[u8] = b"\0CAS\0";

/// `bytes` with every [`CAS_MARK`] replaced by `cas`.
pub fn fill_cas(bytes: &[u8], cas: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(CAS_MARK.len()).position(|w| w == CAS_MARK) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(cas);
        rest = &rest[at + CAS_MARK.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// One request and the sizes of the writes it is sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub bytes: Vec<u8>,
    /// Lengths of the writes; they add up to `bytes.len()`.
    pub splits: Vec<usize>,
}

impl Step {
    fn whole(bytes: Vec<u8>) -> Self {
        let splits = vec![bytes.len()];
        Self { bytes, splits }
    }

    /// The request as a printable line for reports.
    pub fn show(&self) -> String {
        show(&self.bytes)
    }
}

/// Bytes with CR, LF and non-printing bytes escaped, shortened when long.
pub fn show(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(300) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > 300 {
        out.push_str(&format!("…({} bytes)", bytes.len()));
    }
    out
}

/// A stream of steps for one connection.
pub fn stream(seed: u64, len: usize) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let keys = key_pool(&mut rng);
    (0..len)
        .map(|_| {
            let bytes = request(&mut rng, &keys);
            let mut step = Step::whole(bytes);
            if rng.chance(15) {
                step.splits = random_splits(&mut rng, step.bytes.len());
            }
            step
        })
        .collect()
}

fn random_splits(rng: &mut Rng, len: usize) -> Vec<usize> {
    let mut splits = Vec::new();
    let mut left = len;
    while left > 0 {
        let n = (1 + rng.below(left as u64 / 2 + 1) as usize).min(left);
        splits.push(n);
        left -= n;
    }
    splits
}

/// A handful of keys per stream, so commands meet each other's items.
fn key_pool(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = (0..6).map(|i| format!("k{i}").into_bytes()).collect();
    keys.push(vec![b'a'; 250]);
    keys.push(format!("key:{}", rng.below(1000)).into_bytes());
    keys
}

fn key(rng: &mut Rng, keys: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(100) {
        0..=89 => rng.pick(keys).clone(),
        90..=92 => vec![b'b'; 251],
        93 => Vec::new(),
        94 => b"x".to_vec(),
        95..=96 => vec![b'k', 0x01, 0x7f, b'z'],
        _ => vec![b'c'; 1 + rng.below(300) as usize],
    }
}

fn number(rng: &mut Rng) -> String {
    rng.pick(&[
        "0",
        "1",
        "5",
        "42",
        "-1",
        "4294967295",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "abc",
        "12x",
        "+3",
        "",
    ])
    .to_string()
}

/// `k` if servers accept it as a key, else a pool key.
fn valid_or_default(k: &[u8]) -> &[u8] {
    if (1..=250).contains(&k.len()) && !k.iter().any(|&b| b <= b' ' || b == 0x7f) {
        k
    } else {
        b"k0"
    }
}

fn flags_valid(rng: &mut Rng) -> &'static str {
    const FLAGS: [&str; 4] = ["0", "1", "7", "65535"];
    FLAGS[rng.below(4) as usize]
}

fn exptime_valid(rng: &mut Rng) -> &'static str {
    const EXPTIMES: [&str; 4] = ["0", "0", "1000", "-1"];
    EXPTIMES[rng.below(4) as usize]
}

fn flags(rng: &mut Rng) -> String {
    if rng.chance(85) {
        rng.pick(&["0", "1", "7", "65535"]).to_string()
    } else {
        number(rng)
    }
}

fn exptime(rng: &mut Rng) -> String {
    if rng.chance(85) {
        rng.pick(&["0", "0", "1000", "-1"]).to_string()
    } else {
        number(rng)
    }
}

fn value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(10) {
        0 => 0,
        1..=6 => 1 + rng.below(40) as usize,
        7..=8 => 100 + rng.below(400) as usize,
        _ => 1000 + rng.below(3000) as usize,
    };
    if rng.chance(20) {
        (0..len).map(|_| rng.next_u64() as u8).collect()
    } else if rng.chance(10) {
        rng.below(1_000_000).to_string().into_bytes()
    } else {
        b"lzcache value "
            .iter()
            .cycle()
            .take(len)
            .copied()
            .collect()
    }
}

fn noreply(rng: &mut Rng) -> &'static str {
    if rng.chance(12) {
        " noreply"
    } else {
        ""
    }
}

fn line(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = parts.join(&b' ');
    out.extend_from_slice(b"\r\n");
    out
}

/// One request (possibly malformed).
fn request(rng: &mut Rng, keys: &[Vec<u8>]) -> Vec<u8> {
    let k = key(rng, keys);
    match rng.below(100) {
        0..=24 => storage(rng, &k),
        25..=44 => {
            let cmd = *rng.pick(&["get", "gets", "get", "gets"]);
            let mut parts: Vec<Vec<u8>> = vec![cmd.as_bytes().to_vec(), k];
            for _ in 0..rng.below(3) {
                parts.push(key(rng, keys));
            }
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            line(&refs)
        }
        45..=48 => {
            let cmd = *rng.pick(&["gat", "gats"]);
            line(&[cmd.as_bytes(), exptime(rng).as_bytes(), &k])
        }
        49..=54 => {
            let extra = match rng.below(10) {
                0 => " 0",
                1 => " 5",
                _ => "",
            };
            let mut l = b"delete ".to_vec();
            l.extend_from_slice(&k);
            l.extend_from_slice(extra.as_bytes());
            l.extend_from_slice(noreply(rng).as_bytes());
            l.extend_from_slice(b"\r\n");
            l
        }
        55..=60 => {
            let cmd = *rng.pick(&["incr", "decr"]);
            let delta = if rng.chance(80) {
                rng.pick(&["1", "5", "100"]).to_string()
            } else {
                number(rng)
            };
            let mut l = line(&[cmd.as_bytes(), &k, delta.as_bytes()]);
            insert_noreply(rng, &mut l);
            l
        }
        61..=63 => {
            let mut l = line(&[b"touch", &k, exptime(rng).as_bytes()]);
            insert_noreply(rng, &mut l);
            l
        }
        64..=79 => meta(rng, &k),
        80..=83 => misc(rng),
        _ => garbage(rng, &k),
    }
}

fn insert_noreply(rng: &mut Rng, l: &mut Vec<u8>) {
    let nr = noreply(rng);
    if !nr.is_empty() {
        l.truncate(l.len() - 2);
        l.extend_from_slice(nr.as_bytes());
        l.extend_from_slice(b"\r\n");
    }
}

fn storage(rng: &mut Rng, k: &[u8]) -> Vec<u8> {
    let cmd = *rng.pick(&[
        "set", "set", "set", "add", "replace", "append", "prepend", "cas",
    ]);
    let data = value(rng);
    // A refused line leaves its data to be read as a command line; past memcached's 2048-byte
    // line limit its answer depends on how its reads fall, so long values get a valid line.
    if data.len() > 1000 {
        let mut line = format!("{cmd} ").into_bytes();
        line.extend_from_slice(valid_or_default(k));
        line.extend_from_slice(
            format!(
                " {} {} {}",
                flags_valid(rng),
                exptime_valid(rng),
                data.len()
            )
            .as_bytes(),
        );
        if cmd == "cas" {
            line.push(b' ');
            line.extend_from_slice(CAS_MARK);
        }
        line.extend_from_slice(noreply(rng).as_bytes());
        line.extend_from_slice(b"\r\n");
        line.extend_from_slice(&data);
        line.extend_from_slice(b"\r\n");
        return line;
    }
    let len = if rng.chance(92) {
        data.len().to_string()
    } else {
        rng.pick(&["-1", "abc", "4294967295", "2147483648", "-0"])
            .to_string()
    };
    let mut parts: Vec<Vec<u8>> = vec![
        cmd.as_bytes().to_vec(),
        k.to_vec(),
        flags(rng).into_bytes(),
        exptime(rng).into_bytes(),
        len.into_bytes(),
    ];
    if cmd == "cas" {
        parts.push(if rng.chance(70) {
            CAS_MARK.to_vec()
        } else {
            number(rng).into_bytes()
        });
    }
    if rng.chance(5) {
        parts.remove(1 + rng.below(parts.len() as u64 - 1) as usize);
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let mut out = line(&refs);
    insert_noreply(rng, &mut out);
    // The data block: whole, or (rarely) with a bad terminator.
    {
        out.extend_from_slice(&data);
        if rng.chance(4) {
            // Not CRLF after the data: a bad chunk (the line still ends, so neither server
            // waits for more).
            out.extend_from_slice(b"XY\r\n");
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn meta(rng: &mut Rng, k: &[u8]) -> Vec<u8> {
    // With no key, the first flag would stand in the key's place (and a CAS completed per
    // server would make the keys differ).
    let k = if k.is_empty() { b"k0" } else { k };
    const GET_FLAGS: &[&str] = &[
        "v", "k", "f", "c", "s", "t", "h", "l", "q", "O123", "T30", "N30", "R30", "E5", "x",
    ];
    const SET_FLAGS: &[&str] = &[
        "c", "k", "q", "T0", "F5", "MA", "MP", "ME", "MS", "I", "C\0CAS\0", "Ma",
    ];
    let pick_flags = |rng: &mut Rng, from: &[&str]| -> String {
        let n = rng.below(4);
        (0..n)
            .map(|_| rng.pick(from).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut l = Vec::new();
    match rng.below(6) {
        0 | 1 => {
            l.extend_from_slice(b"mg ");
            l.extend_from_slice(k);
            let f = pick_flags(rng, GET_FLAGS);
            if !f.is_empty() {
                l.push(b' ');
                l.extend_from_slice(f.as_bytes());
            }
            l.extend_from_slice(b"\r\n");
        }
        2 | 3 => {
            let data = value(rng);
            l.extend_from_slice(b"ms ");
            // A refused `ms` key leaves a long value to be read as a command line (see
            // `storage`).
            l.extend_from_slice(if data.len() > 1000 {
                valid_or_default(k)
            } else {
                k
            });
            l.extend_from_slice(format!(" {}", data.len()).as_bytes());
            let f = pick_flags(rng, SET_FLAGS);
            if !f.is_empty() {
                l.push(b' ');
                l.extend_from_slice(f.as_bytes());
            }
            l.extend_from_slice(b"\r\n");
            l.extend_from_slice(&data);
            l.extend_from_slice(b"\r\n");
        }
        4 => {
            l.extend_from_slice(b"md ");
            l.extend_from_slice(k);
            let f = pick_flags(rng, &["q", "I", "T30", "x", "C\0CAS\0", "k"]);
            if !f.is_empty() {
                l.push(b' ');
                l.extend_from_slice(f.as_bytes());
            }
            l.extend_from_slice(b"\r\n");
        }
        _ => {
            l.extend_from_slice(b"ma ");
            l.extend_from_slice(k);
            let f = pick_flags(
                rng,
                &["v", "N30", "J5", "D3", "MI", "MD", "q", "t", "c", "Mi"],
            );
            if !f.is_empty() {
                l.push(b' ');
                l.extend_from_slice(f.as_bytes());
            }
            l.extend_from_slice(b"\r\n");
        }
    }
    l
}

fn misc(rng: &mut Rng) -> Vec<u8> {
    rng.pick(&[
        &b"mn\r\n"[..],
        b"flush_all\r\n",
        b"flush_all 0\r\n",
        b"flush_all noreply\r\n",
        b"flush_all abc\r\n",
        b"verbosity 1\r\n",
        b"verbosity\r\n",
        b"verbosity invalid\r\n",
        b"verbosity 1 noreply\r\n",
        b"slabs automove 1\r\n",
        b"slabs automove invalid\r\n",
        b"slabs automove 3 noreply\r\n",
        b"slabs reassign 1 2\r\n",
        b"slabs reassign -1 7\r\n",
        b"slabs reassign x 2\r\n",
        b"version\r\n",
        b"\r\n",
        b"   \r\n",
    ])
    .to_vec()
}

fn garbage(rng: &mut Rng, k: &[u8]) -> Vec<u8> {
    match rng.below(8) {
        0 => {
            let mut l: Vec<u8> = (0..1 + rng.below(20))
                .map(|_| b"abcdefghij XYZ0123"[rng.below(18) as usize])
                .collect();
            l.extend_from_slice(b"\r\n");
            l
        }
        1 => {
            let mut l: Vec<u8> = (0..1 + rng.below(30))
                .map(|_| rng.next_u64() as u8)
                .collect();
            l.retain(|&b| b != b'\n');
            l.extend_from_slice(b"\r\n");
            l
        }
        2 => line(&[b"set", k]),
        3 => line(&[b"get"]),
        4 => line(&[b"incr", k]),
        5 => line(&[b"SET", k, b"0", b"0", b"1"]),
        6 if rng.chance(30) => {
            // A long multi-get (about 128 KiB, as clients send): mostly misses, a few hits.
            let mut l = b"gets".to_vec();
            for i in 0..15_000 {
                l.push(b' ');
                if i % 1000 == 7 {
                    l.extend_from_slice(k);
                } else {
                    l.extend_from_slice(format!("miss:{i}").as_bytes());
                }
            }
            l.extend_from_slice(b"\r\n");
            l
        }
        6 => {
            let mut l = b"get ".to_vec();
            l.extend_from_slice(&vec![b'k'; 2100]);
            l.extend_from_slice(b"\r\n");
            l
        }
        _ => line(&[b"touch", k]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_replay_from_their_seed() {
        assert_eq!(stream(7, 50), stream(7, 50));
        assert_ne!(stream(7, 50), stream(8, 50));
        for step in stream(9, 200) {
            assert_eq!(step.splits.iter().sum::<usize>(), step.bytes.len());
        }
    }
}
