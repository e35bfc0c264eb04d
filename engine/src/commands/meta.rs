//! The meta commands.

use std::io::Write as _;

use super::text::{ArithError, Concat};
use super::Cache;
use crate::protocol::{MetaFlags, MetaMode};
use crate::stats::Stats;
use crate::store::{Condition, Item, ItemSnapshot, Outcome};

/// Item facts a return flag may ask for.
#[derive(Default)]
struct Facts {
    cas: Option<u64>,
    flags: Option<u32>,
    hit_before: Option<bool>,
    last_access_ago: Option<u32>,
    size: Option<usize>,
    ttl: Option<i64>,
}

/// Recache/stale state flags appended after the requested ones.
#[derive(Default)]
struct Markers {
    win: bool,
    stale: bool,
    already_won: bool,
}

impl Cache {
    pub(super) async fn meta_get(&self, key: &[u8], flags: &MetaFlags<'_>, out: &mut Vec<u8>) {
        Stats::incr(&self.stats.cmd_meta);
        Stats::incr(&self.stats.cmd_get);
        let now = self.clock.now();
        let new_expiry = flags.ttl.map(|t| self.clock.expiry(t));
        if new_expiry.is_some() {
            Stats::incr(&self.stats.cmd_touch);
        }
        let mut markers = Markers::default();
        let mut vivified = false;
        let mut old_expiry = 0;
        let found = self.store.access(key, now, |item| {
            old_expiry = item.expiry;
            if let Some(expiry) = new_expiry {
                item.expiry = expiry;
            }
            let snapshot = item.clone();
            // memcached applies the flags in order: `R` compares the TTL a `T` before it set,
            // or the one the item had (the flag order is looked up only when `R` is there).
            let due_for_recache = flags.recache.is_some_and(|threshold| {
                let expiry = if flags.recache_after_touch() {
                    item.expiry
                } else {
                    old_expiry
                };
                expiry != 0 && i64::from(expiry) - i64::from(now) < threshold
            });
            markers.stale = item.stale;
            if item.win_sent {
                markers.already_won = true;
            } else if item.stale || due_for_recache {
                markers.win = true;
                item.win_sent = true;
            }
            if !flags.no_bump {
                item.touch_for_eviction();
                item.fetched = true;
                item.last_access = now;
            }
            snapshot
        });
        let item = match found {
            Some(item) => item,
            None => match self.vivify(key, flags) {
                Some(item) => {
                    markers.win = true;
                    vivified = true;
                    item
                }
                None => {
                    Stats::incr(&self.stats.get_misses);
                    if !flags.quiet {
                        out.extend_from_slice(b"EN");
                        write_return_flags(out, flags, &Facts::default(), &Markers::default());
                    }
                    return;
                }
            },
        };
        let value = if flags.return_value {
            match self.decode_for_serving(key, &item).await {
                Some(raw) => Some(raw),
                None => {
                    Stats::incr(&self.stats.get_misses);
                    if !flags.quiet {
                        out.extend_from_slice(b"EN\r\n");
                    }
                    return;
                }
            }
        } else {
            None
        };
        Stats::incr(&self.stats.get_hits);
        let facts = Facts {
            cas: Some(item.cas),
            flags: Some(item.flags),
            hit_before: Some(item.fetched),
            last_access_ago: Some(now.saturating_sub(item.last_access)),
            size: Some(item.value.raw_len as usize),
            // memcached answers the flags in their order: a `t` before `N` saw no item yet.
            ttl: Some(if vivified {
                let (_, reported) = flags.vivified_exptimes();
                self.clock
                    .ttl_remaining(self.clock.expiry(reported.unwrap_or(0)))
            } else if flags.ttl_asked_before_touch() {
                self.clock.ttl_remaining(old_expiry)
            } else {
                self.clock.ttl_remaining(new_expiry.unwrap_or(item.expiry))
            }),
        };
        match &value {
            Some(raw) => {
                let _ = write!(out, "VA {}", raw.len());
            }
            None => out.extend_from_slice(b"HD"),
        }
        write_return_flags(out, flags, &facts, &markers);
        if let Some(raw) = value {
            out.extend_from_slice(&raw);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// `mg … N<ttl>`: creates an empty item on a miss so one client can fill it.
    fn vivify(&self, key: &[u8], flags: &MetaFlags<'_>) -> Option<ItemSnapshot> {
        flags.vivify?;
        let (ttl, _) = flags.vivified_exptimes();
        let now = self.clock.now();
        let value = self.encode_empty();
        let mut item = Item::new(value, 0, self.clock.expiry(ttl), now);
        item.win_sent = true;
        // The `mg` that creates the item is its first fetch, as in memcached.
        item.fetched = true;
        match self
            .store
            .store(key, item.clone(), Condition::Absent, now, None)
        {
            Outcome::Done(cas) => {
                item.cas = cas;
                // This request's own answer: no earlier hit.
                item.fetched = false;
                Some(item)
            }
            _ => None,
        }
    }

    pub(super) async fn meta_set(
        &self,
        key: &[u8],
        data: &[u8],
        flags: &MetaFlags<'_>,
        out: &mut Vec<u8>,
    ) {
        Stats::incr(&self.stats.cmd_meta);
        Stats::incr(&self.stats.cmd_set);
        let mode = flags.mode.unwrap_or(MetaMode::Set);
        let (code, cas) = match mode {
            MetaMode::Append | MetaMode::Prepend => {
                match self
                    .concat(key, data, mode == MetaMode::Append, flags.compare_cas)
                    .await
                {
                    Concat::Stored(cas) => ("HD", Some(cas)),
                    Concat::Exists => ("EX", None),
                    Concat::NotStored if flags.vivify.is_some() => {
                        let ttl = flags.vivify.unwrap_or(0);
                        self.meta_store(key, data, 0, ttl, Condition::Absent, flags)
                            .await
                    }
                    Concat::NotStored => ("NS", None),
                    Concat::TooLarge => (super::text::NO_MEMORY, None),
                }
            }
            _ => {
                let condition = match (mode, flags.compare_cas) {
                    // memcached's add ignores a compare-CAS.
                    (MetaMode::Add, _) => Condition::Absent,
                    (_, Some(cas)) => Condition::CasEquals(cas),
                    (MetaMode::Replace, None) => Condition::Exists,
                    _ => Condition::Always,
                };
                let client_flags = flags.client_flags.unwrap_or(0);
                let ttl = flags.ttl.unwrap_or(0);
                self.meta_store(key, data, client_flags, ttl, condition, flags)
                    .await
            }
        };
        if code == "HD" && flags.quiet {
            return;
        }
        if code == super::text::NO_MEMORY {
            out.extend_from_slice(code.as_bytes());
            out.extend_from_slice(b"\r\n");
            return;
        }
        out.extend_from_slice(code.as_bytes());
        // A store that did not happen still answers `c`, with 0, as memcached does.
        let facts = Facts {
            cas: Some(cas.unwrap_or(0)),
            ..Facts::default()
        };
        write_return_flags(out, flags, &facts, &Markers::default());
    }

    /// Stores for `ms`, including invalidation: with `I`, a compare-CAS older than the item's
    /// still stores, but the item is marked stale — keeping the TTL of the item it replaces
    /// and whether that item's recache win was already handed out, as memcached does (the
    /// stale value is a placeholder until the winner's fresh set, not a new item).
    async fn meta_store(
        &self,
        key: &[u8],
        data: &[u8],
        client_flags: u32,
        ttl: i64,
        condition: Condition,
        flags: &MetaFlags<'_>,
    ) -> (&'static str, Option<u64>) {
        let value = self.encode(data).await;
        let now = self.clock.now();
        let mut item = Item::new(value, client_flags, self.clock.expiry(ttl), now);
        let mut outcome = self.store.store(key, item.clone(), condition, now, None);
        if let (Outcome::Exists, true, Condition::CasEquals(given)) =
            (outcome, flags.invalidate, condition)
        {
            if let Some(current) = self.peek(key) {
                // A compare-CAS of 0 is no version at all: memcached answers EX, never stale.
                if given != 0 && given < current.cas {
                    item.stale = true;
                    item.expiry = current.expiry;
                    item.win_sent = current.win_sent;
                    outcome =
                        self.store
                            .store(key, item, Condition::CasEquals(current.cas), now, None);
                }
            }
        }
        match outcome {
            Outcome::Done(cas) => ("HD", Some(cas)),
            Outcome::NotStored => ("NS", None),
            Outcome::Exists => ("EX", None),
            Outcome::NotFound => ("NF", None),
            Outcome::NoMemory => (super::text::NO_MEMORY, None),
        }
    }

    pub(super) fn meta_delete(&self, key: &[u8], flags: &MetaFlags<'_>, out: &mut Vec<u8>) {
        Stats::incr(&self.stats.cmd_meta);
        let now = self.clock.now();
        let code = if flags.invalidate {
            self.meta_invalidate(key, flags, now)
        } else {
            match self.store.delete(key, now, flags.compare_cas) {
                Outcome::Done(_) => "HD",
                Outcome::Exists => "EX",
                _ => "NF",
            }
        };
        let counter = match code {
            "HD" => &self.stats.delete_hits,
            _ => &self.stats.delete_misses,
        };
        Stats::incr(counter);
        if flags.quiet && code == "HD" {
            return;
        }
        out.extend_from_slice(code.as_bytes());
        write_return_flags(out, flags, &Facts::default(), &Markers::default());
    }

    /// `md … I` marks the item stale (the next `mg` wins the right to recache it).
    fn meta_invalidate(&self, key: &[u8], flags: &MetaFlags<'_>, now: u32) -> &'static str {
        let Some(old) = self.peek(key) else {
            return "NF";
        };
        if flags.compare_cas.is_some_and(|cas| cas != old.cas) {
            return "EX";
        }
        let expiry = flags.ttl.map_or(old.expiry, |t| self.clock.expiry(t));
        let mut item = Item::new(old.value.clone(), old.flags, expiry, now);
        item.stale = flags.invalidate;
        item.fetched = old.fetched;
        match self
            .store
            .store(key, item, Condition::CasEquals(old.cas), now, None)
        {
            Outcome::Done(_) => "HD",
            Outcome::Exists => "EX",
            _ => "NF",
        }
    }

    pub(super) async fn meta_arith(&self, key: &[u8], flags: &MetaFlags<'_>, out: &mut Vec<u8>) {
        Stats::incr(&self.stats.cmd_meta);
        let incr = flags.mode != Some(MetaMode::Decr);
        let delta = flags.delta.unwrap_or(1);
        let mut result = self
            .apply_delta(key, incr, delta, flags.compare_cas, flags.ttl)
            .await;
        let mut vivified = false;
        if let (Err(ArithError::NotFound), Some(ttl)) = (&result, flags.vivify) {
            let initial = flags.initial.unwrap_or(0);
            let outcome = self
                .store_value(
                    key,
                    initial.to_string().as_bytes(),
                    0,
                    ttl,
                    Condition::Absent,
                )
                .await;
            result = match outcome {
                Outcome::Done(cas) => {
                    vivified = true;
                    Ok((initial, cas))
                }
                // Someone created it first: apply the delta to theirs.
                _ => self.apply_delta(key, incr, delta, None, flags.ttl).await,
            };
        }
        let (value, cas) = match result {
            Ok(done) => done,
            Err(ArithError::NotFound) => {
                out.extend_from_slice(b"NF");
                write_return_flags(out, flags, &Facts::default(), &Markers::default());
                return;
            }
            Err(ArithError::Exists) => {
                out.extend_from_slice(b"EX");
                write_return_flags(out, flags, &Facts::default(), &Markers::default());
                return;
            }
            Err(ArithError::NonNumeric) => {
                out.extend_from_slice(
                    b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
                );
                return;
            }
        };
        let ttl = if vivified && flags.ttl_asked_before_vivify() {
            Some(-1)
        } else {
            self.peek(key)
                .map(|item| self.clock.ttl_remaining(item.expiry))
        };
        let facts = Facts {
            cas: Some(cas),
            ttl,
            ..Facts::default()
        };
        let text = value.to_string();
        if flags.quiet && !vivified {
            // Quiet success, as in memcached 1.6.18 — which still answers an `ma` that
            // created its item.
            return;
        }
        if flags.return_value {
            let _ = write!(out, "VA {}", text.len());
        } else {
            out.extend_from_slice(b"HD");
        }
        write_return_flags(out, flags, &facts, &Markers::default());
        if flags.return_value {
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    pub(super) fn meta_debug(&self, key: &[u8], flags: &MetaFlags<'_>, out: &mut Vec<u8>) {
        Stats::incr(&self.stats.cmd_meta);
        let now = self.clock.now();
        let Some(item) = self.peek(key) else {
            out.extend_from_slice(b"EN\r\n");
            return;
        };
        out.extend_from_slice(b"ME ");
        out.extend_from_slice(flags.key_as_sent);
        let _ = write!(
            out,
            " exp={} la={} cas={} fetch={} cls=1 size={} lz4={} raw={}\r\n",
            self.clock.ttl_remaining(item.expiry),
            now.saturating_sub(item.last_access),
            item.cas,
            if item.fetched { "yes" } else { "no" },
            crate::store::record_size(key.len(), &item),
            if item.value.compressed { "yes" } else { "no" },
            item.value.raw_len,
        );
    }
}

/// Appends the requested return flags in the order the client gave them, then Z/X/W in
/// memcached's order, then CRLF.
fn write_return_flags(out: &mut Vec<u8>, flags: &MetaFlags<'_>, facts: &Facts, markers: &Markers) {
    for token in crate::protocol::words(flags.raw) {
        match token[0] {
            b'k' => {
                out.extend_from_slice(b" k");
                out.extend_from_slice(flags.key_as_sent);
                if flags.base64 {
                    out.extend_from_slice(b" b");
                }
            }
            b'O' => {
                out.extend_from_slice(b" ");
                out.extend_from_slice(token);
            }
            b'c' => {
                if let Some(cas) = facts.cas {
                    let _ = write!(out, " c{cas}");
                }
            }
            b'f' => {
                if let Some(f) = facts.flags {
                    let _ = write!(out, " f{f}");
                }
            }
            b'h' => {
                if let Some(h) = facts.hit_before {
                    let _ = write!(out, " h{}", u8::from(h));
                }
            }
            b'l' => {
                if let Some(l) = facts.last_access_ago {
                    let _ = write!(out, " l{l}");
                }
            }
            b's' => {
                if let Some(s) = facts.size {
                    let _ = write!(out, " s{s}");
                }
            }
            b't' => {
                if let Some(t) = facts.ttl {
                    let _ = write!(out, " t{t}");
                }
            }
            _ => {}
        }
    }
    if markers.already_won {
        out.extend_from_slice(b" Z");
    }
    if markers.stale {
        out.extend_from_slice(b" X");
    }
    if markers.win {
        out.extend_from_slice(b" W");
    }
    out.extend_from_slice(b"\r\n");
}
