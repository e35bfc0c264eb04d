//! memcached's text and meta protocols: turning bytes into requests. No I/O happens here.
//!
//! [`parse`] looks at the start of a connection's input buffer and says one of three things:
//! more bytes are needed, here is a request and how many bytes it took, or here is the error
//! line memcached would send and what to do with the bytes (skip them, swallow a data block
//! that follows, or close the connection). Requests borrow from the buffer: keys and values are
//! not copied until the store keeps them.

pub mod auth;
mod framer;
mod lookahead;
pub mod meta;
mod text;

pub use framer::{Framer, Step};
pub use lookahead::{keys_ahead, KeysAhead};
pub use meta::{MetaFlags, MetaMode};

/// Longest key memcached accepts.
pub const KEY_MAX_LEN: usize = 250;

/// More than this many bytes buffered without a newline close the connection, as in memcached,
/// unless they start a retrieval (`get`/`gets`/`gat`/`gats`/`mg`), whose key lists may be
/// long. A longer line whose newline has arrived is parsed like any other, as memcached does.
pub const LINE_MAX_LEN: usize = 2048;

/// Upper bound for retrieval lines, so a client cannot make the server buffer without limit.
/// memcached keeps reading a long `get` line (clients send multi-gets of ~18 000 keys, 128
/// KiB and more) and answers it whole, as here, up to this bound.
pub const RETRIEVAL_LINE_MAX_LEN: usize = 2 << 20;

/// Limits the parser enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest value accepted (`-I`).
    pub item_size_max: usize,
}

/// Which retrieval command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetKind {
    Get,
    Gets,
    /// `gat`: get and touch with this exptime.
    Gat(i64),
    /// `gats`: like `gat`, with CAS.
    Gats(i64),
}

impl GetKind {
    pub fn with_cas(self) -> bool {
        matches!(self, GetKind::Gets | GetKind::Gats(_))
    }

    pub fn touch(self) -> Option<i64> {
        match self {
            GetKind::Gat(t) | GetKind::Gats(t) => Some(t),
            _ => None,
        }
    }
}

/// Which storage command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas(u64),
}

/// Keys of a retrieval line, iterated without allocating.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a>(pub &'a [u8]);

impl<'a> Keys<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        words(self.0)
    }
}

/// Space-separated words, runs of spaces counting as one (memcached's tokenizer). The spaces
/// are found with memchr, a word at a time: every get scans its keys twice (when parsed, when
/// served), and keys are tens of bytes long.
pub fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = line;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        if !word.is_empty() {
            return Some(word);
        }
    })
}

/// One parsed request. Byte slices point into the connection's buffer.
///
/// A meta command's flags (about 170 bytes of options) are boxed: inline, they made every
/// request, text ones included, 208 bytes (a framer step 224) that were copied by `memmove`
/// calls on their way from the parser to the command. Boxed, a request is 64 bytes, moved
/// inline; under 100-byte text load `memmove` fell from 2.8 % to 1.4–1.8 % of the server's
/// user time (perf). Only meta commands pay an allocation for it, beside the one their
/// decoded key already takes.
#[derive(Debug)]
pub enum Request<'a> {
    Get {
        kind: GetKind,
        keys: Keys<'a>,
    },
    /// A retrieval line whose valid keys are followed by an invalid one: the valid keys are
    /// fetched for their side effects (access, touch, counters), and only the error is sent.
    GetRefused {
        kind: GetKind,
        keys: Keys<'a>,
    },
    Store {
        kind: StoreKind,
        key: &'a [u8],
        flags: u32,
        exptime: i64,
        data: &'a [u8],
        noreply: bool,
    },
    Delete {
        key: &'a [u8],
        noreply: bool,
    },
    Arith {
        incr: bool,
        key: &'a [u8],
        delta: u64,
        noreply: bool,
    },
    Touch {
        key: &'a [u8],
        exptime: i64,
        noreply: bool,
    },
    FlushAll {
        delay: i64,
        noreply: bool,
    },
    Stats {
        args: &'a [u8],
    },
    Version,
    Verbosity {
        level: u32,
        noreply: bool,
    },
    /// `slabs automove` and `slabs reassign`: the segment store has no slab classes, so the
    /// answer is memcached's for a valid request that has nothing to do (see `slabs`).
    Slabs {
        reply: &'static str,
        noreply: bool,
    },
    Quit,
    MetaGet {
        key: Vec<u8>,
        flags: Box<MetaFlags<'a>>,
    },
    MetaSet {
        key: Vec<u8>,
        data: &'a [u8],
        flags: Box<MetaFlags<'a>>,
    },
    MetaDelete {
        key: Vec<u8>,
        flags: Box<MetaFlags<'a>>,
    },
    MetaArith {
        key: Vec<u8>,
        flags: Box<MetaFlags<'a>>,
    },
    MetaDebug {
        key: Vec<u8>,
        flags: Box<MetaFlags<'a>>,
    },
    MetaNoop,
}

// The bound the boxing above keeps (a regression here puts the copies back).
const _: () = assert!(std::mem::size_of::<Request<'static>>() <= 64);
const _: () = assert!(std::mem::size_of::<Step<'static>>() <= 96);

/// What to do after sending an error line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    /// Go on with the next command.
    Continue,
    /// Discard this many more bytes (a value that is refused), then go on.
    Swallow(usize),
    /// A `set` refused as too large: discard its data and delete the key's current item, as
    /// memcached does, so the client cannot read back the value it meant to replace.
    SwallowAndDrop { swallow: usize, key: Vec<u8> },
    /// Close the connection after sending the line.
    Close,
}

/// The result of looking at the start of the buffer.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// The buffer does not hold a whole request yet.
    Incomplete,
    /// A request that took `len` bytes.
    Request { request: Request<'a>, len: usize },
    /// An error line (without CRLF) that took `len` bytes. `noreply` is set when the command
    /// asked for no reply, in which case memcached sends nothing.
    Error {
        line: &'static str,
        len: usize,
        then: Then,
        noreply: bool,
    },
}

pub const ERROR: &str = "ERROR";
pub const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";
pub const BAD_CHUNK: &str = "CLIENT_ERROR bad data chunk";
pub const TOO_LARGE: &str = "SERVER_ERROR object too large for cache";
pub const LINE_TOO_LONG: &str = "CLIENT_ERROR line too long";

/// Parses the request at the start of `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Parsed<'a> {
    let Some(newline) = memchr::memchr(b'\n', buf) else {
        return too_long_or_incomplete(buf);
    };

    let line_len = newline + 1;
    let line = &buf[..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (command, rest) = split_first_token(line);
    match command {
        b"mg" | b"ms" | b"md" | b"ma" | b"me" | b"mn" => {
            meta::parse(command, rest, buf, line_len, limits)
        }
        _ => text::parse(command, rest, buf, line_len, limits),
    }
}

fn too_long_or_incomplete(buf: &[u8]) -> Parsed<'_> {
    if is_retrieval(buf) {
        if buf.len() > RETRIEVAL_LINE_MAX_LEN {
            return error(LINE_TOO_LONG, buf.len(), Then::Close);
        }
    } else if buf.len() > LINE_MAX_LEN {
        return hang_up(buf.len());
    }
    Parsed::Incomplete
}

/// Closes the connection without a reply, as memcached does for an over-long command line
/// and for what looks like an HTTP request.
pub(crate) fn hang_up(len: usize) -> Parsed<'static> {
    Parsed::Error {
        line: "",
        len,
        then: Then::Close,
        noreply: true,
    }
}

fn is_retrieval(line: &[u8]) -> bool {
    [&b"get "[..], b"gets ", b"gat ", b"gats ", b"mg "]
        .iter()
        .any(|p| line.starts_with(p))
}

pub(crate) fn error(line: &'static str, len: usize, then: Then) -> Parsed<'static> {
    Parsed::Error {
        line,
        len,
        then,
        noreply: false,
    }
}

/// Splits off the first space-separated token; the rest has leading spaces removed.
pub(crate) fn split_first_token(line: &[u8]) -> (&[u8], &[u8]) {
    let line = trim_start(line);
    match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], trim_start(&line[i + 1..])),
        None => (line, &[]),
    }
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    s
}

/// A key memcached accepts: 1..=250 bytes. protocol.txt asks clients to send no control
/// characters, but memcached only splits on spaces and ends lines at LF, and real clients rely
/// on that (libmemcached's load generator `memcaslap` sends keys with control bytes), so
/// lzcache accepts any byte but the separators the wire format itself reserves.
pub fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= KEY_MAX_LEN && !key.iter().any(|&b| b == b' ' || b == b'\n')
}

/// Parses an unsigned decimal number, as memcached's `safe_strtoull` does: digits with an
/// optional leading `+`, no `-`, no spaces, no overflow.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    let s = s.strip_prefix(b"+").unwrap_or(s);
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Parses a signed decimal number (exptimes, delays), as `strtol` does: an optional sign,
/// digits, no overflow of 64 bits.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    match s {
        [b'-', digits @ ..] if !digits.starts_with(b"+") => parse_u64(digits)
            .and_then(|n| i64::try_from(n).ok())
            .map(|n| -n),
        _ => parse_u64(s).and_then(|n| i64::try_from(n).ok()),
    }
}

/// An exptime as memcached 1.6.18 reads it: a 64-bit `strtol`, then kept in a 32-bit int
/// (`4294967295` becomes -1, already expired; `4294967296` becomes 0, never).
pub fn parse_exptime(s: &[u8]) -> Option<i64> {
    parse_i64(s).map(|n| i64::from(n as i32))
}

/// Client flags as memcached 1.6.18 reads them: a 64-bit `strtoull`, kept in 32 bits.
pub fn parse_client_flags(s: &[u8]) -> Option<u32> {
    parse_u64(s).map(|n| n as u32)
}

/// A data block length as memcached reads it: a 32-bit `strtol` to which the CRLF's two bytes
/// must still fit (`2147483647` is refused, `-0` is 0).
pub fn parse_data_len(s: &[u8]) -> Option<usize> {
    parse_i64(s)
        .filter(|&n| (0..=i64::from(i32::MAX) - 2).contains(&n))
        .map(|n| n as usize)
}

pub fn parse_u32(s: &[u8]) -> Option<u32> {
    parse_u64(s).and_then(|n| u32::try_from(n).ok())
}

/// Where a data block of `len` bytes that starts at `start` ends, if the buffer holds it and
/// its CRLF; `Err` when the two bytes after the data are not CRLF.
pub(crate) fn data_block(buf: &[u8], start: usize, len: usize) -> Option<Result<usize, ()>> {
    let end = start.checked_add(len)?.checked_add(2)?;
    if buf.len() < end {
        return None;
    }
    if &buf[end - 2..end] == b"\r\n" {
        Some(Ok(end))
    } else {
        Some(Err(()))
    }
}

#[cfg(test)]
mod tests;
