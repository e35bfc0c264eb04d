//! The classic text commands (`set`, `get`, `incr`, …).

use super::{
    data_block, error, parse_client_flags, parse_data_len, parse_exptime, parse_i64, parse_u32,
    parse_u64, valid_key, GetKind, Keys, Limits, Parsed, Request, StoreKind, Then, BAD_CHUNK,
    BAD_FORMAT, ERROR, KEY_MAX_LEN, TOO_LARGE,
};

const BAD_EXPTIME: &str = "CLIENT_ERROR invalid exptime argument";

/// Parses one text command whose line (without newline) is `command rest` and which took
/// `line_len` bytes of `buf` including the newline.
pub(super) fn parse<'a>(
    command: &[u8],
    rest: &'a [u8],
    buf: &'a [u8],
    line_len: usize,
    limits: &Limits,
) -> Parsed<'a> {
    // The retrievals, most requests, come first: they need no argument array, only the keys.
    match command {
        b"get" => return retrieval(GetKind::Get, rest, line_len),
        b"gets" => return retrieval(GetKind::Gets, rest, line_len),
        _ => {}
    }
    // No other command reads more than 8 arguments; a fixed array keeps the parse
    // allocation-free.
    let mut slots: [&'a [u8]; 8] = [&[]; 8];
    let mut count = 0;
    for token in super::words(rest).take(8) {
        slots[count] = token;
        count += 1;
    }
    let args = &slots[..count];
    let done = |request| Parsed::Request {
        request,
        len: line_len,
    };
    let bad = |noreply| Parsed::Error {
        line: BAD_FORMAT,
        len: line_len,
        then: Then::Continue,
        noreply,
    };
    match command {
        b"gat" | b"gats" => {
            let (exptime, keys) = super::split_first_token(rest);
            if exptime.is_empty() {
                return error(ERROR, line_len, Then::Continue);
            }
            let Some(exptime) = parse_exptime(exptime) else {
                return error(BAD_EXPTIME, line_len, Then::Continue);
            };
            let kind = if command == b"gat" {
                GetKind::Gat(exptime)
            } else {
                GetKind::Gats(exptime)
            };
            // memcached answers a `gat` without keys with an empty result.
            if keys.is_empty() {
                return done(Request::Get {
                    kind,
                    keys: Keys(keys),
                });
            }
            retrieval(kind, keys, line_len)
        }
        b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" => {
            storage(command, args, buf, line_len, limits)
        }
        b"delete" => {
            // memcached accepts a legacy time argument only when it is 0. A lone `noreply`
            // is the key.
            let noreply = args.len() > 1 && args.last() == Some(&&b"noreply"[..]);
            let n = args.len() - usize::from(noreply);
            match args.first() {
                Some(key) if n == 1 || (n == 2 && args[1] == b"0") => {
                    if !valid_key(key) {
                        return bad(noreply);
                    }
                    done(Request::Delete { key, noreply })
                }
                Some(_) => Parsed::Error {
                    line: "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
                    len: line_len,
                    then: Then::Continue,
                    noreply,
                },
                None => error(ERROR, line_len, Then::Continue),
            }
        }
        b"incr" | b"decr" => {
            // As memcached: two or three tokens, and a last `noreply` silences the reply even
            // where the delta belongs.
            if args.len() != 2 && args.len() != 3 {
                return error(ERROR, line_len, Then::Continue);
            }
            let noreply = args.last() == Some(&&b"noreply"[..]);
            if !valid_key(args[0]) {
                return bad(noreply);
            }
            let Some(delta) = parse_u64(args[1]) else {
                return Parsed::Error {
                    line: "CLIENT_ERROR invalid numeric delta argument",
                    len: line_len,
                    then: Then::Continue,
                    noreply,
                };
            };
            done(Request::Arith {
                incr: command == b"incr",
                key: args[0],
                delta,
                noreply,
            })
        }
        b"touch" => {
            if args.len() != 2 && args.len() != 3 {
                return error(ERROR, line_len, Then::Continue);
            }
            let noreply = args.last() == Some(&&b"noreply"[..]);
            if !valid_key(args[0]) {
                return bad(noreply);
            }
            let Some(exptime) = parse_exptime(args[1]) else {
                return Parsed::Error {
                    line: BAD_EXPTIME,
                    len: line_len,
                    then: Then::Continue,
                    noreply,
                };
            };
            done(Request::Touch {
                key: args[0],
                exptime,
                noreply,
            })
        }
        b"flush_all" => {
            let noreply = args.last() == Some(&&b"noreply"[..]);
            let n = args.len() - usize::from(noreply);
            let delay = match n {
                0 => 0,
                1 => match parse_i64(args[0]) {
                    Some(d) => d,
                    None => {
                        return Parsed::Error {
                            line: BAD_EXPTIME,
                            len: line_len,
                            then: Then::Continue,
                            noreply,
                        }
                    }
                },
                _ => return error(ERROR, line_len, Then::Continue),
            };
            done(Request::FlushAll { delay, noreply })
        }
        b"stats" => done(Request::Stats { args: rest }),
        // memcached 1.6 answers `version` whatever follows it.
        b"version" => done(Request::Version),
        b"verbosity" => {
            // As memcached: one or two arguments; a trailing `noreply` silences even the
            // error for a missing level.
            if args.is_empty() || args.len() > 2 {
                return error(ERROR, line_len, Then::Continue);
            }
            let noreply = args.last() == Some(&&b"noreply"[..]);
            match parse_u32(args[0]) {
                Some(level) => done(Request::Verbosity { level, noreply }),
                None => bad(noreply),
            }
        }
        b"slabs" => slabs(args, line_len),
        b"quit" => done(Request::Quit),
        // memcached hangs up on what looks like an HTTP request, without a byte.
        _ if args.last().is_some_and(|t| t.starts_with(b"HTTP/")) => super::hang_up(line_len),
        _ => error(ERROR, line_len, Then::Continue),
    }
}

/// memcached 1.6.18's largest slab class at its default settings (`-f 1.25 -n 48 -I 1m`):
/// `slabs reassign` names classes 0 (the global page pool) to this.
const SLAB_CLASS_LARGEST: i32 = 39;

/// `slabs automove <0|1|2>`, `slabs automove ratio <r>` and `slabs reassign <src> <dst>`,
/// answered as memcached answers them with the same arguments. lzcache's segment store has no
/// slab classes: automove settings are accepted and change nothing, and a reassignment
/// between valid classes finds no spare page to move (memcached's answer for a class with
/// fewer than two pages). Numbers are read as memcached reads them: automove's level as an
/// unsigned 32-bit integer (a larger one wraps), class ids as 32-bit signed.
fn slabs<'a>(args: &[&'a [u8]], line_len: usize) -> Parsed<'a> {
    let reply = |line: &'static str, noreply: bool| Parsed::Request {
        request: Request::Slabs {
            reply: line,
            noreply,
        },
        len: line_len,
    };
    match args {
        [b"automove", rest @ ..] if !rest.is_empty() => {
            let noreply = args.last() == Some(&&b"noreply"[..]);
            if rest[0] == b"ratio" {
                let ratio = rest
                    .get(1)
                    .and_then(|r| std::str::from_utf8(r).ok())
                    .and_then(|r| r.parse::<f64>().ok());
                return reply(if ratio.is_some() { "OK" } else { ERROR }, noreply);
            }
            match parse_u64(rest[0]).map(|level| level as u32) {
                None => reply(BAD_FORMAT, noreply),
                Some(0..=2) => reply("OK", noreply),
                Some(_) => reply(ERROR, noreply),
            }
        }
        [b"reassign", src, dst] => {
            let (Some(src), Some(dst)) = (parse_i64(src), parse_i64(dst)) else {
                return reply(BAD_FORMAT, false);
            };
            let (src, dst) = (src as i32, dst as i32);
            let class = 0..=SLAB_CLASS_LARGEST;
            let line = if src == dst {
                "SAME src and dst class are identical"
            } else if !class.contains(&src) || !class.contains(&dst) {
                // memcached's src -1 ("any class") finds none to take from here too.
                "BADCLASS invalid src or dst class id"
            } else {
                "NOSPARE source class has no spare pages"
            };
            reply(line, false)
        }
        _ => error(ERROR, line_len, Then::Continue),
    }
}

fn retrieval(kind: GetKind, keys: &[u8], line_len: usize) -> Parsed<'_> {
    let all = keys;
    let keys = Keys(keys);
    let mut any = false;
    for key in keys.iter() {
        // `valid_key` less its scan for spaces and newlines: a key split from the line at
        // its spaces, before its newline, has neither.
        if key.len() > KEY_MAX_LEN {
            if !any {
                return error(BAD_FORMAT, line_len, Then::Continue);
            }
            // memcached has fetched the keys before the bad one (and touched them, for
            // `gat`) when it finds it; it then answers only the error.
            let before = key.as_ptr() as usize - all.as_ptr() as usize;
            return Parsed::Request {
                request: super::Request::GetRefused {
                    kind,
                    keys: Keys(&all[..before]),
                },
                len: line_len,
            };
        }
        any = true;
    }
    if !any {
        return error(ERROR, line_len, Then::Continue);
    }
    Parsed::Request {
        request: super::Request::Get { kind, keys },
        len: line_len,
    }
}

/// `set|add|replace|append|prepend <key> <flags> <exptime> <bytes> [noreply]` and
/// `cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]`, followed by the data block.
fn storage<'a>(
    command: &[u8],
    args: &[&'a [u8]],
    buf: &'a [u8],
    line_len: usize,
    limits: &Limits,
) -> Parsed<'a> {
    let is_cas = command == b"cas";
    let fixed = if is_cas { 5 } else { 4 };
    // As memcached: the token count picks the form, one extra token is ignored, and a last
    // token `noreply` silences the reply even when it stands where a field belongs.
    if args.len() != fixed && args.len() != fixed + 1 {
        return error(ERROR, line_len, Then::Continue);
    }
    let noreply = args.last() == Some(&&b"noreply"[..]);
    let bad = |line| Parsed::Error {
        line,
        len: line_len,
        then: Then::Continue,
        noreply,
    };
    let key = args[0];
    let (Some(flags), Some(exptime), Some(len)) = (
        parse_client_flags(args[1]),
        parse_exptime(args[2]),
        parse_data_len(args[3]),
    ) else {
        return bad(BAD_FORMAT);
    };
    if !valid_key(key) {
        return bad(BAD_FORMAT);
    }
    let cas = if is_cas {
        match parse_u64(args[4]) {
            Some(c) => c,
            None => return bad(BAD_FORMAT),
        }
    } else {
        0
    };
    if len > limits.item_size_max {
        let swallow = len.saturating_add(2);
        let then = if command == b"set" {
            Then::SwallowAndDrop {
                swallow,
                key: key.to_vec(),
            }
        } else {
            Then::Swallow(swallow)
        };
        return Parsed::Error {
            line: TOO_LARGE,
            len: line_len,
            then,
            noreply,
        };
    }
    let end = match data_block(buf, line_len, len) {
        None => return Parsed::Incomplete,
        Some(Err(())) => {
            return Parsed::Error {
                line: BAD_CHUNK,
                len: line_len + len + 2,
                then: Then::Continue,
                noreply,
            }
        }
        Some(Ok(end)) => end,
    };
    let kind = match command {
        b"set" => StoreKind::Set,
        b"add" => StoreKind::Add,
        b"replace" => StoreKind::Replace,
        b"append" => StoreKind::Append,
        b"prepend" => StoreKind::Prepend,
        _ => StoreKind::Cas(cas),
    };
    Parsed::Request {
        request: Request::Store {
            kind,
            key,
            flags,
            exptime,
            data: &buf[line_len..line_len + len],
            noreply,
        },
        len: end,
    }
}
