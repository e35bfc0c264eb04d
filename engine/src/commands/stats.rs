//! `stats` and its sub-commands.

use std::io::Write as _;

use super::{version_string, Cache};

impl Cache {
    pub(super) fn stats_command(&self, args: &[u8], out: &mut Vec<u8>) {
        let args: Vec<&[u8]> = crate::protocol::words(args).collect();
        match args.as_slice() {
            [] => self.general_stats(out),
            [b"settings"] => self.settings_stats(out),
            [b"items"] => self.item_stats(out),
            [b"slabs"] => self.slab_stats(out),
            [b"reset"] => {
                self.stats.reset();
                out.extend_from_slice(b"RESET\r\n");
                return;
            }
            _ => {
                out.extend_from_slice(b"ERROR\r\n");
                return;
            }
        }
        out.extend_from_slice(b"END\r\n");
    }

    fn general_stats(&self, out: &mut Vec<u8>) {
        let (user, system) = rusage();
        let totals = self.store.totals();
        let store = &self.store.counters;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        stat(out, "pid", std::process::id());
        stat(out, "uptime", self.clock.uptime());
        stat(out, "time", self.clock.unix_now());
        stat(out, "version", version_string());
        stat(out, "pointer_size", usize::BITS);
        stat(out, "rusage_user", format!("{}.{:06}", user.0, user.1));
        stat(
            out,
            "rusage_system",
            format!("{}.{:06}", system.0, system.1),
        );
        stat(out, "max_connections", self.config.max_connections);
        for (name, value) in self.stats.snapshot() {
            if name == "crc_errors" || name.starts_with("values_") {
                continue;
            }
            stat(out, name, value);
        }
        stat(out, "limit_maxbytes", self.config.memory_limit);
        stat(out, "threads", self.config.threads);
        stat(out, "bytes", totals.bytes);
        stat(out, "curr_items", totals.items);
        stat(out, "total_items", load(&store.total_items));
        stat(out, "expired_unfetched", load(&store.expired_unfetched));
        stat(out, "evicted_unfetched", load(&store.evicted_unfetched));
        stat(out, "evictions", load(&store.evictions));
        stat(out, "reclaimed", load(&store.reclaimed));
        stat(out, "crawler_reclaimed", load(&store.crawler_reclaimed));
        // lzcache's own: how values are held and whether any failed their check.
        stat(out, "lz_codec", self.values.backend_name());
        stat(out, "lz_compress_min", self.values.compress_min());
        stat(out, "lz_items_compressed", totals.compressed_items);
        stat(out, "lz_value_bytes_raw", totals.raw_value_bytes);
        stat(out, "lz_value_bytes_held", totals.held_value_bytes);
        stat(
            out,
            "lz_values_compressed",
            self.stats.total(|c| &c.values_compressed),
        );
        stat(
            out,
            "lz_values_uncompressed",
            self.stats.total(|c| &c.values_uncompressed),
        );
        stat(
            out,
            "lz_values_passed_over",
            self.stats.total(|c| &c.values_passed_over),
        );
        stat(out, "crc_errors", self.stats.total(|c| &c.crc_errors));
        // Trained dictionaries: which is active, how trainings went, what they gained.
        for (name, value) in self.values.dictionaries().stats() {
            stat(out, name, value);
        }
        stat(
            out,
            "lz_dict_items",
            totals.dict_items.iter().sum::<usize>(),
        );
        // Per-path counters of the codec (software, device, fallbacks).
        for (name, value) in self.values.codec_stats() {
            stat(out, &name, value);
        }
    }

    fn settings_stats(&self, out: &mut Vec<u8>) {
        let c = &self.config;
        stat(out, "maxbytes", c.memory_limit);
        stat(out, "maxconns", c.max_connections);
        stat(out, "tcpport", c.listen.port());
        stat(out, "udpport", 0);
        stat(out, "inter", c.listen.ip());
        stat(out, "verbosity", self.verbosity());
        stat(out, "num_threads", c.threads);
        stat(out, "cas_enabled", "yes");
        stat(out, "evictions", "on");
        stat(out, "item_size_max", c.item_size_max);
        stat(out, "binding_protocol", "ascii");
        stat(out, "auth_enabled_sasl", "no");
        stat(
            out,
            "auth_enabled_ascii",
            if c.auth.is_some() { "yes" } else { "no" },
        );
        stat(out, "lz_compress_min", c.compress_min);
        stat(out, "lz_codec", self.values.backend_name());
        let dicts = self.values.dictionaries();
        stat(out, "lz_dict", if dicts.enabled() { "on" } else { "off" });
        stat(out, "lz_dict_target_size", dicts.settings().size);
        stat(
            out,
            "lz_dict_retrain_secs",
            dicts.settings().retrain_interval.as_secs(),
        );
    }

    /// lzcache has no slab classes: everything is reported as class 1.
    fn item_stats(&self, out: &mut Vec<u8>) {
        let totals = self.store.totals();
        if totals.items == 0 {
            return;
        }
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let store = &self.store.counters;
        stat(out, "items:1:number", totals.items);
        stat(out, "items:1:evicted", load(&store.evictions));
        stat(
            out,
            "items:1:evicted_unfetched",
            load(&store.evicted_unfetched),
        );
        stat(
            out,
            "items:1:expired_unfetched",
            load(&store.expired_unfetched),
        );
        stat(out, "items:1:reclaimed", load(&store.reclaimed));
        stat(out, "items:1:outofmemory", 0);
    }

    /// lzcache has segments, not slabs: `stats slabs` reports them as one class, then the
    /// segment figures (lz_*).
    fn slab_stats(&self, out: &mut Vec<u8>) {
        let t = self.store.totals();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let store = &self.store.counters;
        stat(out, "active_slabs", u8::from(t.items > 0));
        stat(
            out,
            "total_malloced",
            t.segment_bytes_used + t.index_bytes + t.ghost_bytes,
        );
        stat(out, "lz_segment_size", t.segment_size);
        stat(out, "lz_segments", t.segments);
        stat(out, "lz_segments_free", t.segments_free);
        stat(out, "lz_segments_small", t.segments_small);
        stat(out, "lz_segments_main", t.segments_main);
        stat(out, "lz_segment_bytes_used", t.segment_bytes_used);
        stat(out, "lz_live_record_bytes", t.bytes);
        stat(out, "lz_index_bytes", t.index_bytes);
        stat(out, "lz_index_slots", t.index_slots);
        stat(out, "lz_ghost_bytes", t.ghost_bytes);
        stat(
            out,
            "lz_segments_reclaimed",
            load(&store.segments_reclaimed),
        );
        stat(out, "lz_records_moved", load(&store.records_moved));
        stat(out, "lz_index_displaced", load(&store.index_displaced));
        stat(out, "lz_restored_items", load(&store.restored));
        stat(out, "lz_restore_dropped", load(&store.restore_dropped));
        stat(
            out,
            "lz_restore_checking",
            u8::from(self.store.verify_pending()),
        );
    }
}

fn stat(out: &mut Vec<u8>, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "STAT {name} {value}\r\n");
}

/// CPU time used by the process: ((user s, µs), (system s, µs)), read from /proc.
fn rusage() -> ((u64, u64), (u64, u64)) {
    let ticks_per_second = 100u64;
    let fields = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let after = fields.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let parts: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    let split = |ticks: u64| {
        (
            ticks / ticks_per_second,
            (ticks % ticks_per_second) * (1_000_000 / ticks_per_second),
        )
    };
    match parts.as_slice() {
        [user, system] => (split(*user), split(*system)),
        _ => ((0, 0), (0, 0)),
    }
}
