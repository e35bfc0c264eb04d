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

/// A mapping of `len` bytes, zeroed on creation, shared by all threads.
pub struct Arena {
    map: MmapRaw,
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
    pub fn anonymous(len: usize) -> io::Result<Self> {
        let map = MmapOptions::new().len(len.max(1)).map_anon()?;
        Ok(Self {
            map: MmapRaw::from(map),
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

    /// The bytes at `at..at + len`.
    ///
    /// # Safety
    /// No other thread may write these bytes while the returned slice lives (the store's
    /// protocol: the caller holds the lock that owns the range).
    pub unsafe fn bytes(&self, at: usize, len: usize) -> &[u8] {
        self.check(at, len);
        // SAFETY: in bounds (checked above) of a mapping that lives as long as `self`; the
        // caller guarantees no concurrent writer.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(at), len) }
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
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.map.as_mut_ptr().add(at), data.len())
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
        unsafe { self.map.unchecked_advise_range(advice, at, len) }
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
            let base = self.map.as_mut_ptr();
            std::ptr::copy(base.add(from), base.add(to), len)
        }
    }
}
