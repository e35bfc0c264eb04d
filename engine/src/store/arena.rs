//! The one memory region every item lives in: a mapping of fixed-size segments, allocated once.
//!
//! All `unsafe` of the store is here. The arena hands out byte ranges by offset; who may read or
//! write which range at a time is the store's locking protocol (see [`super`]): a record is
//! written once under the log lock into space no index entry points to yet, later read or
//! updated in place only under the lock of the shard whose index points to it, and moved or
//! dropped by the reclaimer under that same shard lock. These functions check bounds, not that
//! protocol.

use std::io;

use memmap2::{MmapOptions, MmapRaw};

/// The size of an x86-64 / AArch64 (4 KiB granule) transparent huge page.
const HUGE_PAGE: usize = 2 << 20;

/// A mapping of `len` bytes, zeroed on creation, shared by all threads.
pub struct Arena {
    map: MmapRaw,
    /// Where the arena's byte 0 lies in the mapping: an anonymous arena starts at the first
    /// huge-page boundary in it.
    origin: usize,
    len: usize,
    file_backed: bool,
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena").field("len", &self.len).finish()
    }
}

impl Arena {
    /// An anonymous mapping: pages are only backed by memory once written, and start zeroed.
    ///
    /// The mapping asks for transparent huge pages (`MADV_HUGEPAGE`, as memcached's `-L` does for
    /// its slabs) and the arena starts on a 2 MiB boundary, so that every 2 MiB of items is one
    /// page: a `get` reads an index bucket and a record at random places of the arena, and with
    /// 4 KiB pages the record's read also missed the TLB (a nested page walk in a virtual
    /// machine), about a tenth of the server's own CPU per 100-byte `get` (`perf record` beside
    /// `memcaslap`). Where huge pages are off (`transparent_hugepage` `never`) the advice is
    /// kept but does nothing; the arena works the same.
    pub fn anonymous(len: usize) -> io::Result<Self> {
        let map = MmapOptions::new().len(len.max(1) + HUGE_PAGE).map_anon()?;
        let origin = map.as_ptr().align_offset(HUGE_PAGE);
        if let Err(err) = map.advise_range(memmap2::Advice::HugePage, origin, len.max(1)) {
            tracing::debug!(%err, "huge pages not available for the item arena");
        }
        Ok(Self {
            map: MmapRaw::from(map),
            origin,
            len,
            file_backed: false,
        })
    }

    /// A shared mapping of `path` (created, or resized to `len` when its length differs, in
    /// which case its contents are not items of this layout): items survive the process.
    /// Returns the arena and whether the file already had this length.
    pub fn file(path: &std::path::Path, len: usize) -> io::Result<(Self, bool)> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let same_length = file.metadata()?.len() == len as u64;
        if !same_length {
            file.set_len(len as u64)?;
        }
        // Populated at once: a restart reads every page, and faulting them in one by one
        // costs more than the reads.
        let map = MmapOptions::new().len(len).populate().map_raw(&file)?;
        Ok((
            Self {
                map,
                origin: 0,
                len,
                file_backed: true,
            },
            same_length,
        ))
    }

    /// Writes a file-backed arena's pages out (a no-op for an anonymous one).
    pub fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    fn check(&self, at: usize, len: usize) {
        assert!(
            at.checked_add(len).is_some_and(|end| end <= self.len),
            "arena access {at}+{len} past {}",
            self.len
        );
    }

    /// Where byte `at` lies in memory, as an integer: for a prefetch instruction only, never
    /// turned back into a pointer (no bounds are checked; a prefetch of any address is safe).
    pub fn address_of(&self, at: usize) -> usize {
        (self.map.as_ptr() as usize)
            .wrapping_add(self.origin)
            .wrapping_add(at)
    }

    /// The bytes at `at..at + len`.
    ///
    /// # Safety
    /// No other thread may write these bytes while the returned slice lives (the store's
    /// protocol: the caller holds the lock that owns the range).
    pub unsafe fn bytes(&self, at: usize, len: usize) -> &[u8] {
        self.check(at, len);
        // SAFETY: in bounds (checked above) of a mapping that lives as long as `self`; the
        // caller guarantees no concurrent writer.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(self.origin + at), len) }
    }

    /// Copies `data` to `at`.
    ///
    /// # Safety
    /// No other thread may read or write these bytes meanwhile (the caller holds the lock that
    /// owns the range, or the range is not yet reachable from the index).
    pub unsafe fn write(&self, at: usize, data: &[u8]) {
        self.check(at, data.len());
        // SAFETY: in bounds; `data` cannot overlap the mapping's range being written unless the
        // caller passed arena bytes, which `copy` exists for; exclusive access by contract.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.map.as_mut_ptr().add(self.origin + at),
                data.len(),
            )
        }
    }

    /// Gives the memory of `at..at + len` back to the system (the bytes read as zero after).
    ///
    /// # Safety
    /// No thread may read or write these bytes meanwhile, nor expect them kept (the range is a
    /// segment no index entry points to, taken out of use).
    pub unsafe fn release(&self, at: usize, len: usize) -> io::Result<()> {
        self.check(at, len);
        let advice = if self.file_backed {
            memmap2::UncheckedAdvice::Remove
        } else {
            memmap2::UncheckedAdvice::DontNeed
        };
        // SAFETY: in bounds; the caller guarantees nothing uses or needs these bytes.
        unsafe {
            self.map
                .unchecked_advise_range(advice, self.origin + at, len)
        }
    }

    /// Moves `len` bytes from `from` to `to` (the ranges may overlap).
    ///
    /// # Safety
    /// As for [`Arena::write`], for both ranges.
    pub unsafe fn copy(&self, from: usize, to: usize, len: usize) {
        self.check(from, len);
        self.check(to, len);
        // SAFETY: both ranges in bounds; `ptr::copy` allows overlap; exclusive by contract.
        unsafe {
            let base = self.map.as_mut_ptr().add(self.origin);
            std::ptr::copy(base.add(from), base.add(to), len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `VmFlags` line of the mapping that holds `addr`, from `/proc/self/smaps`.
    fn vm_flags_at(addr: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((start, end)) = range.split_once('-') {
                    if let (Ok(start), Ok(end)) = (
                        usize::from_str_radix(start, 16),
                        usize::from_str_radix(end, 16),
                    ) {
                        inside = (start..end).contains(&addr);
                        continue;
                    }
                }
            }
            if inside {
                if let Some(flags) = line.strip_prefix("VmFlags:") {
                    return flags.trim().to_string();
                }
            }
        }
        panic!("no mapping holds {addr:#x}");
    }

    #[test]
    fn an_anonymous_arena_starts_on_a_huge_page_and_asks_for_huge_pages() {
        let len = 8 << 20;
        let arena = Arena::anonymous(len).unwrap();
        let base = arena.map.as_ptr() as usize + arena.origin;
        assert_eq!(base % HUGE_PAGE, 0, "arena base {base:#x}");
        for at in [0, len - 1] {
            let flags = vm_flags_at(base + at);
            assert!(
                flags.split_whitespace().any(|f| f == "hg"),
                "no MADV_HUGEPAGE on the arena at {at}: {flags}"
            );
        }
        // The whole range is usable and zeroed, its ends included.
        // SAFETY: no other thread uses this arena.
        unsafe {
            assert_eq!(arena.bytes(len - 4, 4), &[0; 4]);
            arena.write(len - 4, b"tail");
            arena.copy(len - 4, 0, 4);
            assert_eq!(arena.bytes(0, 4), b"tail");
        }
    }
}
