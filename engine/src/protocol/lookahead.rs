//! The keys a connection's next request will look up, read off its first line before it is
//! parsed, so that the server can start loading their index entries while it reads other
//! connections (see `crate::event_loop`).
//!
//! A guess, never an answer: a key seen here is only ever hashed for a prefetch. A malformed
//! or partial line yields some words or none, and the request's real parse decides everything.

/// Keys looked ahead per request at most: a multi-get's first few, the ones served first.
pub const KEYS_AHEAD: usize = 4;

/// The keys of the first request in `input` when it is one that looks keys up — `get` and
/// `gets` (up to [`KEYS_AHEAD`]), and `mg`, `ms`, `md`, `set`, `add`, `replace`, `delete`
/// (its one key); nothing for any other request or a first line not complete in `input`.
pub fn keys_ahead(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let line = memchr::memchr(b'\n', input).map_or(&[][..], |end| &input[..end]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut words = super::words(line);
    let keys = match words.next() {
        Some(b"get" | b"gets") => KEYS_AHEAD,
        Some(b"mg" | b"ms" | b"md" | b"set" | b"add" | b"replace" | b"delete") => 1,
        _ => 0,
    };
    words.take(keys)
}

/// The hashes of the keys looked ahead in one request, carried from the prefetch of their
/// index buckets to the prefetch of their records a little later.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeysAhead {
    hashes: [u64; KEYS_AHEAD],
    len: usize,
}

impl KeysAhead {
    /// Adds a key's hash; past [`KEYS_AHEAD`] keys it is not kept.
    pub fn push(&mut self, hash: u64) {
        if let Some(free) = self.hashes.get_mut(self.len) {
            *free = hash;
            self.len += 1;
        }
    }

    pub fn hashes(&self) -> &[u64] {
        &self.hashes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ahead(input: &[u8]) -> Vec<&[u8]> {
        keys_ahead(input).collect()
    }

    #[test]
    fn reads_the_keys_of_lookups_on_the_first_line() {
        assert_eq!(ahead(b"get foo\r\n"), [&b"foo"[..]]);
        assert_eq!(ahead(b"gets a  b c\r\nget z\r\n"), [&b"a"[..], b"b", b"c"]);
        assert_eq!(ahead(b"get 1 2 3 4 5 6\r\n"), [&b"1"[..], b"2", b"3", b"4"]);
        assert_eq!(ahead(b"mg key v f t\r\n"), [&b"key"[..]]);
        assert_eq!(ahead(b"set k 0 0 5\r\nhello\r\n"), [&b"k"[..]]);
        assert_eq!(ahead(b"delete k noreply\n"), [&b"k"[..]]);
    }

    #[test]
    fn keys_ahead_keep_the_first_hashes_up_to_the_limit() {
        let mut ahead = KeysAhead::default();
        assert!(ahead.hashes().is_empty());
        for hash in 1..=KEYS_AHEAD as u64 + 2 {
            ahead.push(hash);
        }
        assert_eq!(ahead.hashes(), (1..=KEYS_AHEAD as u64).collect::<Vec<_>>());
    }

    #[test]
    fn other_requests_and_partial_lines_give_none() {
        for input in [
            &b"get foo"[..],
            b"",
            b"\r\n",
            b"stats\r\n",
            b"incr k 1\r\n",
            b"GET foo\r\n",
            b"get\r\n",
            b"\xff\xfe get a\r\n",
        ] {
            assert!(ahead(input).is_empty(), "{input:?}");
        }
    }
}
