//! The classic text commands.

use std::io::Write as _;

use super::{reply, Cache};
use crate::protocol::{GetKind, StoreKind};
use crate::stats::Stats;
use crate::store::{Condition, Item, ItemSnapshot, Outcome};
use crate::value::{StoredValue, ValueError};

/// Why an arithmetic command failed.
pub(super) enum ArithError {
    NotFound,
    NonNumeric,
    /// The compare-CAS given by a meta command did not match.
    Exists,
}

/// How a read-modify-write attempt ended.
pub(super) enum Concat {
    Stored(u64),
    NotStored,
    TooLarge,
    /// The compare-CAS given by a meta command did not match.
    Exists,
}

/// What a read found, in place or copied out of the store.
enum Found {
    /// A raw value, checked and written from its segment.
    Served,
    /// A value that failed its check, by the version's CAS.
    Corrupt(u64, ValueError),
    /// Flags, CAS and a copy of the value as held, to decode outside the shard lock; `None`
    /// when the value's pieces were not what its head says.
    Copied(u32, u64, Option<StoredValue>),
}

/// A `VALUE` block: `VALUE <key> <flags> <bytes>[ <cas>]`, the data, `\r\n`.
fn write_value(out: &mut Vec<u8>, key: &[u8], flags: u32, data: &[u8], cas: Option<u64>) {
    write_value_head(out, key, flags, data.len(), cas);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The `VALUE` line of a value of `len` bytes; its data and `\r\n` follow.
fn write_value_head(out: &mut Vec<u8>, key: &[u8], flags: u32, len: usize, cas: Option<u64>) {
    let mut numbers = itoa::Buffer::new();
    out.extend_from_slice(b"VALUE ");
    out.extend_from_slice(key);
    out.push(b' ');
    out.extend_from_slice(numbers.format(flags).as_bytes());
    out.push(b' ');
    out.extend_from_slice(numbers.format(len).as_bytes());
    if let Some(cas) = cas {
        out.push(b' ');
        out.extend_from_slice(numbers.format(cas).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

impl Cache {
    /// One key of `get`/`gets`/`gat`/`gats`: writes its `VALUE` block on a hit.
    pub async fn get_one(&self, kind: GetKind, key: &[u8], out: &mut Vec<u8>) {
        let now = self.clock.now();
        Stats::incr(&self.stats.cmd_get);
        let found = match kind.touch() {
            // A plain read: a small raw value is checked and written where it lies.
            None => self.store.read_in_place(key, now, |hit| {
                let Some(value) = hit.value() else {
                    return Found::Copied(hit.flags(), hit.cas(), None);
                };
                match value.checked_raw() {
                    Some(Ok(raw)) if raw.len() <= super::IN_PLACE_MAX => {
                        write_value(
                            out,
                            key,
                            hit.flags(),
                            raw,
                            kind.with_cas().then(|| hit.cas()),
                        );
                        Found::Served
                    }
                    Some(Err(err)) => Found::Corrupt(hit.cas(), err),
                    // A small compressed value is decoded into the reply where it lies, when
                    // the codec does that on this thread.
                    None if value.raw_len as usize <= super::IN_PLACE_MAX => {
                        let mark = out.len();
                        let cas = kind.with_cas().then(|| hit.cas());
                        write_value_head(out, key, hit.flags(), value.raw_len as usize, cas);
                        match self.values.decode_held_into(&value, out) {
                            Some(Ok(())) => {
                                out.extend_from_slice(b"\r\n");
                                Found::Served
                            }
                            Some(Err(err)) => {
                                out.truncate(mark);
                                Found::Corrupt(hit.cas(), err)
                            }
                            None => {
                                out.truncate(mark);
                                Found::Copied(hit.flags(), hit.cas(), Some(value.to_stored()))
                            }
                        }
                    }
                    _ => Found::Copied(hit.flags(), hit.cas(), Some(value.to_stored())),
                }
            }),
            Some(exptime) => {
                let item = self.store.fetch(key, now, Some(self.clock.expiry(exptime)));
                Stats::incr(&self.stats.cmd_touch);
                let counter = if item.is_some() {
                    &self.stats.touch_hits
                } else {
                    &self.stats.touch_misses
                };
                Stats::incr(counter);
                item.map(|item| Found::Copied(item.flags, item.cas, Some(item.value)))
            }
        };
        let served = match found {
            None => false,
            Some(Found::Served) => true,
            Some(Found::Corrupt(cas, err)) => {
                self.report_corrupt(key, cas, &err);
                false
            }
            Some(Found::Copied(flags, cas, value)) => {
                let raw = match value {
                    Some(value) => self.decode_stored(key, cas, &value).await,
                    None => {
                        self.report_corrupt(key, cas, &ValueError::BrokenPieces);
                        None
                    }
                };
                raw.map(|raw| write_value(out, key, flags, &raw, kind.with_cas().then_some(cas)))
                    .is_some()
            }
        };
        let counter = if served {
            &self.stats.get_hits
        } else {
            &self.stats.get_misses
        };
        Stats::incr(counter);
    }

    /// Closes a retrieval reply.
    pub fn end_get(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"END\r\n");
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn store_command(
        &self,
        kind: StoreKind,
        key: &[u8],
        flags: u32,
        exptime: i64,
        data: &[u8],
        noreply: bool,
        out: &mut Vec<u8>,
    ) {
        Stats::incr(&self.stats.cmd_set);
        let condition = match kind {
            StoreKind::Set => Condition::Always,
            StoreKind::Add => Condition::Absent,
            StoreKind::Replace => Condition::Exists,
            StoreKind::Cas(cas) => Condition::CasEquals(cas),
            StoreKind::Append | StoreKind::Prepend => {
                let line = match self
                    .concat(key, data, kind == StoreKind::Append, None)
                    .await
                {
                    Concat::Stored(_) => "STORED",
                    Concat::NotStored | Concat::Exists => "NOT_STORED",
                    Concat::TooLarge => NO_MEMORY,
                };
                return reply(out, noreply, line);
            }
        };
        let outcome = self.store_value(key, data, flags, exptime, condition).await;
        if let StoreKind::Cas(_) = kind {
            let counter = match outcome {
                Outcome::Done(_) => &self.stats.cas_hits,
                Outcome::Exists => &self.stats.cas_badval,
                _ => &self.stats.cas_misses,
            };
            Stats::incr(counter);
        }
        reply(out, noreply, outcome_line(outcome));
    }

    /// Encodes `data` and stores it as a new item.
    pub(super) async fn store_value(
        &self,
        key: &[u8],
        data: &[u8],
        flags: u32,
        exptime: i64,
        condition: Condition,
    ) -> Outcome {
        let value = self.encode(data).await;
        let now = self.clock.now();
        let item = Item::new(value, flags, self.clock.expiry(exptime), now);
        self.store.store(key, item, condition, now, None)
    }

    /// A live item without marking it fetched (for read-modify-write commands).
    pub(super) fn peek(&self, key: &[u8]) -> Option<ItemSnapshot> {
        self.store
            .access(key, self.clock.now(), |item| item.clone())
    }

    /// `append`/`prepend`: decode, join, re-encode, and store only if nobody changed the item
    /// meanwhile (retrying if someone did). Flags and expiry stay those of the existing item.
    pub(super) async fn concat(
        &self,
        key: &[u8],
        data: &[u8],
        append: bool,
        compare_cas: Option<u64>,
    ) -> Concat {
        loop {
            let Some(old) = self.peek(key) else {
                return Concat::NotStored;
            };
            if compare_cas.is_some_and(|cas| cas != old.cas) {
                return Concat::Exists;
            }
            let Some(raw) = self.decode_for_serving(key, &old).await else {
                return Concat::NotStored;
            };
            if raw.len() + data.len() > self.config.item_size_max {
                return Concat::TooLarge;
            }
            let joined = if append {
                [&raw[..], data].concat()
            } else {
                [data, &raw[..]].concat()
            };
            let value = self.encode(&joined).await;
            let now = self.clock.now();
            // A new version, not yet fetched (memcached's append allocates a new item).
            let item = Item::new(value, old.flags, old.expiry, now);
            match self
                .store
                .store(key, item, Condition::CasEquals(old.cas), now, None)
            {
                Outcome::Done(cas) => return Concat::Stored(cas),
                Outcome::Exists if compare_cas.is_none() => continue,
                Outcome::Exists => return Concat::Exists,
                Outcome::NoMemory => return Concat::TooLarge,
                _ => return Concat::NotStored,
            }
        }
    }

    pub(super) fn delete(&self, key: &[u8], noreply: bool, out: &mut Vec<u8>) {
        let outcome = self.store.delete(key, self.clock.now(), None);
        let (counter, line) = match outcome {
            Outcome::Done(_) => (&self.stats.delete_hits, "DELETED"),
            _ => (&self.stats.delete_misses, "NOT_FOUND"),
        };
        Stats::incr(counter);
        reply(out, noreply, line);
    }

    pub(super) async fn arith(
        &self,
        incr: bool,
        key: &[u8],
        delta: u64,
        noreply: bool,
        out: &mut Vec<u8>,
    ) {
        match self.apply_delta(key, incr, delta, None, None).await {
            Ok((value, _)) => {
                if !noreply {
                    let _ = write!(out, "{value}\r\n");
                }
            }
            Err(ArithError::NotFound) => reply(out, noreply, "NOT_FOUND"),
            Err(ArithError::NonNumeric) => reply(
                out,
                noreply,
                "CLIENT_ERROR cannot increment or decrement non-numeric value",
            ),
            Err(ArithError::Exists) => reply(out, noreply, "EXISTS"),
        }
    }

    /// `incr`/`decr`/`ma`: the new value and its CAS. Increments wrap at 2^64 and decrements
    /// stop at 0, as in memcached. `compare_cas` fails with `Exists` on a different version;
    /// `new_ttl` replaces the expiry.
    pub(super) async fn apply_delta(
        &self,
        key: &[u8],
        incr: bool,
        delta: u64,
        compare_cas: Option<u64>,
        new_ttl: Option<i64>,
    ) -> Result<(u64, u64), ArithError> {
        let (hits, misses) = if incr {
            (&self.stats.incr_hits, &self.stats.incr_misses)
        } else {
            (&self.stats.decr_hits, &self.stats.decr_misses)
        };
        loop {
            let Some(old) = self.peek(key) else {
                Stats::incr(misses);
                return Err(ArithError::NotFound);
            };
            if compare_cas.is_some_and(|cas| cas != old.cas) {
                return Err(ArithError::Exists);
            }
            let Some(raw) = self.decode_for_serving(key, &old).await else {
                Stats::incr(misses);
                return Err(ArithError::NotFound);
            };
            let Some(current) = parse_counter(&raw) else {
                return Err(ArithError::NonNumeric);
            };
            let next = if incr {
                current.wrapping_add(delta)
            } else {
                current.saturating_sub(delta)
            };
            let value = self.encode(&counter_bytes(next, raw.len())).await;
            let now = self.clock.now();
            let expiry = new_ttl.map_or(old.expiry, |t| self.clock.expiry(t));
            let mut item = Item::new(value, old.flags, expiry, now);
            item.fetched = old.fetched;
            match self
                .store
                .store(key, item, Condition::CasEquals(old.cas), now, None)
            {
                Outcome::Done(cas) => {
                    Stats::incr(hits);
                    return Ok((next, cas));
                }
                Outcome::Exists if compare_cas.is_none() => continue,
                Outcome::Exists => return Err(ArithError::Exists),
                _ => {
                    Stats::incr(misses);
                    return Err(ArithError::NotFound);
                }
            }
        }
    }

    pub(super) fn touch(&self, key: &[u8], exptime: i64, noreply: bool, out: &mut Vec<u8>) {
        Stats::incr(&self.stats.cmd_touch);
        let expiry = self.clock.expiry(exptime);
        let now = self.clock.now();
        let found = self
            .store
            .access(key, now, |item| {
                item.expiry = expiry;
                item.last_access = now;
                // memcached's touch fetches the item: `mg … h` reports it as hit since.
                item.fetched = true;
            })
            .is_some();
        let (counter, line) = if found {
            (&self.stats.touch_hits, "TOUCHED")
        } else {
            (&self.stats.touch_misses, "NOT_FOUND")
        };
        Stats::incr(counter);
        reply(out, noreply, line);
    }
}

/// A counter value as memcached reads it: decimal digits, optionally followed by spaces.
fn parse_counter(raw: &[u8]) -> Option<u64> {
    // As memcached's `safe_strtoull` on the stored bytes: C `isspace` bytes first are skipped,
    // a sign may follow, then at least one digit; what comes after the digits must start with
    // an `isspace` byte or a NUL, or be the value's end (the padding of an in-place rewrite,
    // or whatever a client stored). A minus sign negates modulo 2^64, and a result that is
    // then negative as a signed number is refused.
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = raw.iter().position(|&b| !is_space(b)).unwrap_or(raw.len());
    let unsigned = &raw[start..];
    let (negative, body) = match unsigned.split_first() {
        Some((b'-', body)) => (true, body),
        Some((b'+', body)) => (false, body),
        _ => (false, unsigned),
    };
    let end = body
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    match body.get(end) {
        None | Some(0) => {}
        Some(&b) if is_space(b) => {}
        Some(_) => return None,
    }
    let magnitude = body[..end].iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    if !negative {
        return Some(magnitude);
    }
    let value = magnitude.wrapping_neg();
    (i64::try_from(value).is_ok()).then_some(value)
}

/// The stored form of a counter. memcached rewrites a counter in place when the new number is
/// not longer than the old value, padding with spaces; clients see those bytes on `get`, so
/// lzcache does the same.
fn counter_bytes(value: u64, old_len: usize) -> Vec<u8> {
    let mut bytes = value.to_string().into_bytes();
    if bytes.len() < old_len {
        bytes.resize(old_len, b' ');
    }
    bytes
}

pub(super) const NO_MEMORY: &str = "SERVER_ERROR out of memory storing object";

pub(super) fn outcome_line(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Done(_) => "STORED",
        Outcome::NotStored => "NOT_STORED",
        Outcome::Exists => "EXISTS",
        Outcome::NotFound => "NOT_FOUND",
        Outcome::NoMemory => NO_MEMORY,
    }
}
