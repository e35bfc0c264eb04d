//! The meta commands (`mg`, `ms`, `md`, `ma`, `me`, `mn`) and their flags.
//!
//! A meta command is `<cmd> <key> <flag>*`, where each flag is one character optionally followed
//! by a token (`T30`, `Oabc`). Return flags are echoed in the order the client gave them, so the
//! raw flag list is kept next to the parsed options.

use base64::Engine as _;

use super::{
    data_block, error, parse_i64, parse_u32, parse_u64, valid_key, Limits, Parsed, Request, Then,
    BAD_CHUNK, BAD_FORMAT, ERROR, KEY_MAX_LEN, TOO_LARGE,
};

/// Storage mode of `ms` (`M` flag) or arithmetic mode of `ma`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaMode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Incr,
    Decr,
}

/// The parsed flags of one meta command.
#[derive(Debug, Default, Clone)]
pub struct MetaFlags<'a> {
    /// The flag tokens as sent, for echoing return flags in order.
    pub raw: &'a [u8],
    /// The key as sent (base64 when `base64`), for the `k` return flag.
    pub key_as_sent: &'a [u8],
    pub base64: bool,
    pub return_cas: bool,
    pub compare_cas: Option<u64>,
    pub return_flags: bool,
    pub client_flags: Option<u32>,
    pub return_hit: bool,
    pub invalidate: bool,
    pub return_key: bool,
    pub return_last_access: bool,
    pub mode: Option<MetaMode>,
    pub vivify: Option<i64>,
    pub opaque: Option<&'a [u8]>,
    pub quiet: bool,
    pub return_size: bool,
    pub return_ttl: bool,
    pub ttl: Option<i64>,
    pub return_value: bool,
    pub recache: Option<i64>,
    pub no_bump: bool,
    pub initial: Option<u64>,
    pub delta: Option<u64>,
}

const INVALID_FLAG: &str = "CLIENT_ERROR invalid flag";
const DUPLICATE_FLAG: &str = "CLIENT_ERROR duplicate flag";
/// `md` and `ma` do not tell an unknown flag from a repeated one.
const INVALID_OR_DUPLICATE_FLAG: &str = "CLIENT_ERROR invalid or duplicate flag";
const BAD_TOKEN: &str = "CLIENT_ERROR bad token in command line format";
const BAD_MODE: &str = "CLIENT_ERROR invalid mode for ms M token";
const BAD_M_LENGTH: &str = "CLIENT_ERROR incorrect length for M token";
const BAD_INITIAL: &str = "CLIENT_ERROR invalid numeric initial value";
const BAD_DELTA: &str = "CLIENT_ERROR invalid numeric delta value";
const BAD_KEY_ENCODING: &str = "CLIENT_ERROR error decoding key";

/// Parses one meta command. `rest` is the line after the command name.
pub(super) fn parse<'a>(
    command: &[u8],
    rest: &'a [u8],
    buf: &'a [u8],
    line_len: usize,
    limits: &Limits,
) -> Parsed<'a> {
    if command == b"mn" {
        return Parsed::Request {
            request: Request::MetaNoop,
            len: line_len,
        };
    }
    let (key_token, after_key) = super::split_first_token(rest);
    if key_token.is_empty() {
        return error(ERROR, line_len, Then::Continue);
    }
    // The key's length is checked before anything else (and an `ms` so refused does not
    // swallow its data block: memcached has not read the length yet).
    if key_token.len() > KEY_MAX_LEN {
        return error(BAD_FORMAT, line_len, Then::Continue);
    }
    if command == b"ms" {
        return parse_meta_set(key_token, after_key, buf, line_len, limits);
    }
    let flags = match parse_flags(command, after_key, key_token) {
        Ok(flags) => flags,
        Err(line) => return error(line, line_len, Then::Continue),
    };
    let key = match decode_key(key_token, flags.base64) {
        Ok(key) => key,
        Err(line) => return error(line, line_len, Then::Continue),
    };
    let request = match command {
        b"mg" => Request::MetaGet { key, flags },
        b"md" => Request::MetaDelete { key, flags },
        b"ma" => Request::MetaArith { key, flags },
        _ => Request::MetaDebug { key, flags },
    };
    Parsed::Request {
        request,
        len: line_len,
    }
}

/// `ms <key> <datalen> <flag>*` and its data block. Once the length is known, a refused
/// request swallows its data block, as memcached does, so the data is not taken for commands.
fn parse_meta_set<'a>(
    key_token: &'a [u8],
    after_key: &'a [u8],
    buf: &'a [u8],
    line_len: usize,
    limits: &Limits,
) -> Parsed<'a> {
    let (datalen, flag_tokens) = super::split_first_token(after_key);
    let Some(len) = super::parse_data_len(datalen) else {
        return error(BAD_FORMAT, line_len, Then::Continue);
    };
    let swallow = len.saturating_add(2);
    let refuse = |line| error(line, line_len, Then::Swallow(swallow));
    let flags = match parse_flags(b"ms", flag_tokens, key_token) {
        Ok(flags) => flags,
        Err(line) => return refuse(line),
    };
    let key = match decode_key(key_token, flags.base64) {
        Ok(key) => key,
        Err(line) => return refuse(line),
    };
    if len > limits.item_size_max {
        let then = match flags.mode {
            None | Some(MetaMode::Set) => Then::SwallowAndDrop { swallow, key },
            Some(_) => Then::Swallow(swallow),
        };
        return error(TOO_LARGE, line_len, then);
    }
    let end = match data_block(buf, line_len, len) {
        None => return Parsed::Incomplete,
        Some(Err(())) => return error(BAD_CHUNK, line_len + len + 2, Then::Continue),
        Some(Ok(end)) => end,
    };
    Parsed::Request {
        request: Request::MetaSet {
            key,
            data: &buf[line_len..line_len + len],
            flags,
        },
        len: end,
    }
}

impl MetaFlags<'_> {
    /// Whether a `t` flag comes before the `N` flag: memcached answers flags in their order,
    /// so such a `t` describes the miss (-1), not the item `N` then creates.
    pub fn ttl_asked_before_vivify(&self) -> bool {
        self.comes_before(b't', b'N')
    }

    /// Whether a `t` flag comes before the `T` flag: such a `t` reports the TTL the item had
    /// before `T` changed it.
    pub fn ttl_asked_before_touch(&self) -> bool {
        self.comes_before(b't', b'T')
    }

    /// Whether the `T` flag comes before the `R` flag: such an `R` compares the TTL `T` set,
    /// not the one the item had (memcached applies the flags in order).
    pub fn recache_after_touch(&self) -> bool {
        self.comes_before(b'T', b'R')
    }

    /// On an `mg` that vivifies (`N`): the exptime the new item gets and the one a `t` flag
    /// reports. memcached applies `T` and `N` in flag order to the item it creates (which starts
    /// with no expiry): the later of the two wins, and `t` reports what was set before it.
    pub fn vivified_exptimes(&self) -> (i64, Option<i64>) {
        let position = |flag| self.position(flag);
        let (n_at, t_at, ttl_at) = (position(b'N'), position(b'T'), position(b't'));
        let set_at = [(n_at, self.vivify), (t_at, self.ttl)];
        let last_before = |limit: Option<usize>| {
            set_at
                .iter()
                .filter_map(|&(at, value)| Some((at?, value?)))
                .filter(|&(at, _)| limit.is_none_or(|limit| at < limit))
                .max_by_key(|&(at, _)| at)
                .map(|(_, value)| value)
        };
        let stored = last_before(None).unwrap_or(0);
        let reported = ttl_at.map(|_| last_before(ttl_at).unwrap_or(0));
        (stored, reported)
    }

    fn position(&self, flag: u8) -> Option<usize> {
        super::words(self.raw).position(|t| t[0] == flag)
    }

    fn comes_before(&self, first: u8, second: u8) -> bool {
        matches!((self.position(first), self.position(second)), (Some(a), Some(b)) if a < b)
    }
}

fn decode_key(token: &[u8], base64: bool) -> Result<Vec<u8>, &'static str> {
    if !base64 {
        return if valid_key(token) {
            Ok(token.to_vec())
        } else {
            Err(BAD_FORMAT)
        };
    }
    if token.len() > KEY_MAX_LEN * 4 / 3 + 4 {
        return Err(BAD_FORMAT);
    }
    match base64::engine::general_purpose::STANDARD.decode(token) {
        Ok(key) if !key.is_empty() && key.len() <= KEY_MAX_LEN => Ok(key),
        _ => Err(BAD_KEY_ENCODING),
    }
}

/// Which flags each command accepts, as memcached 1.6.18 does: one common set, whose flags a
/// command does not use are accepted and ignored (`mg k C5` is a plain `mg`). Later
/// memcached versions added `E` (set the CAS) and `x` (remove the value); 1.6.18 refuses them.
fn allowed(command: &[u8]) -> &'static [u8] {
    match command {
        b"mg" | b"ms" => b"bcfhklqstuvCDFIJLMNOPRT",
        b"md" | b"ma" => b"cfhklqstuvCDFIJLMNOPRT",
        _ => b"b",
    }
}

/// Which of the accepted flags each command acts on.
fn used(command: &[u8]) -> &'static [u8] {
    match command {
        b"mg" => b"bcfhklOqstvNRTu",
        b"ms" => b"bcCFIkOqsTM",
        b"md" => b"CIkOqT",
        b"ma" => b"cCJDNkOqtTMv",
        _ => b"",
    }
}

/// The error lines for an unknown and for a repeated flag.
fn flag_errors(command: &[u8]) -> (&'static str, &'static str) {
    match command {
        b"md" | b"ma" => (INVALID_OR_DUPLICATE_FLAG, INVALID_OR_DUPLICATE_FLAG),
        _ => (INVALID_FLAG, DUPLICATE_FLAG),
    }
}

/// Bad flag values met so far on a meta line, as memcached's pre-parse records them: the scan
/// goes on after one, and the last that names a message names the error.
#[derive(Default)]
struct BadValue {
    found: bool,
    message: Option<&'static str>,
}

impl BadValue {
    /// A flag's value: a bad one (`None`) is recorded with its message (`F` has none); a good
    /// one is kept only when the command acts on the flag.
    fn check<T>(
        &mut self,
        value: Option<T>,
        acts: bool,
        message: Option<&'static str>,
    ) -> Option<T> {
        if value.is_none() {
            self.found = true;
            self.message = message.or(self.message);
        }
        value.filter(|_| acts)
    }
}

fn parse_flags<'a>(
    command: &[u8],
    tokens: &'a [u8],
    key_token: &'a [u8],
) -> Result<Box<MetaFlags<'a>>, &'static str> {
    let mut f = MetaFlags {
        raw: tokens,
        key_as_sent: key_token,
        ..MetaFlags::default()
    };
    let mut seen = [false; 128];
    let (invalid, duplicate) = flag_errors(command);
    // memcached checks every token before acting on any, in this order: an unknown or
    // repeated flag ends the line at once; a bad value (in any flag of the common set, used
    // by this command or not) is noted and the scan goes on, so a later repeat still wins and
    // the last bad value names the error (`F` names none: the command's default). `md` and
    // `ma` answer any of these with one line. Mode letters and the opaque's length are judged
    // only once every token has passed.
    let mut bad = BadValue::default();
    let mut mode_arg: Option<&[u8]> = None;
    for token in super::words(tokens) {
        let flag = token[0];
        let arg = &token[1..];
        if !flag.is_ascii_alphabetic() || !allowed(command).contains(&flag) {
            return Err(invalid);
        }
        if std::mem::replace(&mut seen[usize::from(flag)], true) {
            return Err(duplicate);
        }
        let acts = used(command).contains(&flag);
        match flag {
            b'C' => f.compare_cas = bad.check(parse_u64(arg), acts, Some(BAD_TOKEN)),
            b'F' => f.client_flags = bad.check(parse_u32(arg), acts, None),
            b'N' => f.vivify = bad.check(parse_i64(arg), acts, Some(BAD_TOKEN)),
            b'T' => f.ttl = bad.check(parse_i64(arg), acts, Some(BAD_TOKEN)),
            b'R' => f.recache = bad.check(parse_i64(arg), acts, Some(BAD_TOKEN)),
            b'J' => f.initial = bad.check(parse_u64(arg), acts, Some(BAD_INITIAL)),
            b'D' => f.delta = bad.check(parse_u64(arg), acts, Some(BAD_DELTA)),
            b'M' => mode_arg = bad.check((arg.len() == 1).then_some(arg), acts, Some(BAD_M_LENGTH)),
            // Accepted but meaningless for this command: ignored, as memcached does.
            _ if !acts => {}
            b'b' => f.base64 = true,
            b'c' => f.return_cas = true,
            b'f' => f.return_flags = true,
            b'h' => f.return_hit = true,
            b'I' => f.invalidate = true,
            b'k' => f.return_key = true,
            b'l' => f.return_last_access = true,
            b'O' => f.opaque = Some(arg),
            b'q' => f.quiet = true,
            b's' => f.return_size = true,
            b't' => f.return_ttl = true,
            b'v' => f.return_value = true,
            b'u' => f.no_bump = true,
            _ => return Err(INVALID_FLAG),
        }
    }
    if bad.found {
        return Err(match command {
            b"md" | b"ma" => INVALID_OR_DUPLICATE_FLAG,
            _ => bad.message.unwrap_or(BAD_FORMAT),
        });
    }
    if let Some(arg) = mode_arg {
        f.mode = Some(parse_mode(command, arg)?);
    }
    if f.opaque.is_some_and(|opaque| opaque.len() > 32) {
        return Err("CLIENT_ERROR opaque token too long");
    }
    // memcached's append and prepend read a compare-CAS of 0 as none (every other use
    // compares it: a set with `C0` finds no such version).
    if matches!(f.mode, Some(MetaMode::Append | MetaMode::Prepend)) && f.compare_cas == Some(0) {
        f.compare_cas = None;
    }
    Ok(Box::new(f))
}

fn parse_mode(command: &[u8], arg: &[u8]) -> Result<MetaMode, &'static str> {
    let [mode] = arg else {
        return Err(BAD_MODE);
    };
    // Mode letters are upper case only in memcached 1.6.18 (`Ms` is refused there).
    let mode = match (command, *mode) {
        (b"ms", b'S') => MetaMode::Set,
        (b"ms", b'E') => MetaMode::Add,
        (b"ms", b'R') => MetaMode::Replace,
        (b"ms", b'A') => MetaMode::Append,
        (b"ms", b'P') => MetaMode::Prepend,
        (b"ma", b'I' | b'+') => MetaMode::Incr,
        (b"ma", b'D' | b'-') => MetaMode::Decr,
        (b"ma", _) => return Err("CLIENT_ERROR invalid mode for ma M token"),
        _ => return Err(BAD_MODE),
    };
    Ok(mode)
}
