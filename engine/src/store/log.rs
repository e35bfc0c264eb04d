//! Which segment holds what: the free list, the small and main FIFOs of sealed segments, and the
//! one open ("active") segment of each queue that records are appended to. Pure bookkeeping,
//! behind the store's log lock; the bytes are in the [`super::arena::Arena`].

use std::collections::VecDeque;

/// Bytes at the start of every segment: magic, queue, sequence number.
pub const HEADER: usize = 16;
pub const MAGIC: u32 = u32::from_le_bytes(*b"LZSG");

/// S3-FIFO's two queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Probation: new keys.
    Small = 0,
    /// Keys hit while on probation, and keys the ghost remembers.
    Main = 1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Free,
    Active,
    Sealed,
    /// Taken off its FIFO by the reclaimer.
    Reclaiming,
    /// Out of use: its memory went to the index.
    Retired,
}

#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub state: State,
    pub queue: Queue,
    /// Bytes used, header included: records are at `HEADER..end`.
    pub end: usize,
    /// The latest expiry of its records, unless `immortal`: a record that never expires.
    pub max_expiry: u32,
    pub immortal: bool,
}

pub struct Log {
    size: usize,
    segments: Vec<Segment>,
    free: Vec<u32>,
    retired: usize,
    fifos: [VecDeque<u32>; 2],
    active: [Option<u32>; 2],
    /// The segment being compacted in place into the main queue's active one: only the
    /// reclaimer appends to it meanwhile, others' main appends go to the small queue.
    compacting: Option<u32>,
    next_seq: u64,
}

/// Where a new record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub segment: u32,
    /// Offset of the record within the segment.
    pub at: usize,
    /// The queue it was appended to (a main append may land in small during compaction).
    pub queue: Queue,
    /// Set when the segment was just opened: its header must be written.
    pub opened: Option<u64>,
}

impl Log {
    /// `count` free segments of `size` bytes.
    pub fn new(count: usize, size: usize) -> Self {
        let free_segment = Segment {
            state: State::Free,
            queue: Queue::Small,
            end: HEADER,
            max_expiry: 0,
            immortal: false,
        };
        Self {
            size,
            segments: vec![free_segment; count],
            free: (0..count as u32).rev().collect(),
            retired: 0,
            fifos: [VecDeque::new(), VecDeque::new()],
            active: [None, None],
            compacting: None,
            next_seq: 1,
        }
    }

    pub fn count(&self) -> usize {
        self.segments.len()
    }

    pub fn segment(&self, id: u32) -> &Segment {
        &self.segments[id as usize]
    }

    #[cfg(test)]
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    pub fn free_segments(&self) -> usize {
        self.free.len()
    }

    pub fn retired(&self) -> usize {
        self.retired
    }

    /// Takes a free segment out of use (its memory goes to the index). `None` when none is free.
    pub fn retire_free(&mut self) -> Option<u32> {
        let id = self.free.pop()?;
        self.segments[id as usize].state = State::Retired;
        self.retired += 1;
        Some(id)
    }

    /// Segments in a queue, its active one included.
    pub fn queue_len(&self, queue: Queue) -> usize {
        self.fifos[queue as usize].len() + usize::from(self.active[queue as usize].is_some())
    }

    /// Whether a record of `len` bytes can be appended to `queue` right now.
    #[cfg(test)]
    pub fn has_room(&self, queue: Queue, len: usize) -> bool {
        self.has_room_for(queue, &[len])
    }

    /// Whether records of these lengths, in this order, can be appended to `queue` now.
    pub fn has_room_for(&self, queue: Queue, lens: &[usize]) -> bool {
        let queue = self.redirect(queue);
        let mut room =
            self.active[queue as usize].map_or(0, |id| self.size - self.segments[id as usize].end);
        let mut free = self.free.len();
        for &len in lens {
            if len <= room {
                room -= len;
            } else if free > 0 && HEADER + len <= self.size {
                free -= 1;
                room = self.size - HEADER - len;
            } else {
                return false;
            }
        }
        true
    }

    fn redirect(&self, queue: Queue) -> Queue {
        if queue == Queue::Main && self.compacting.is_some() {
            Queue::Small
        } else {
            queue
        }
    }

    /// Reserves `len` bytes at the end of `queue`'s active segment, sealing it and opening a
    /// free one when it is full. `None` when no free segment is left: the caller reclaims one.
    pub fn append(&mut self, queue: Queue, len: usize, expiry: u32) -> Option<Slot> {
        debug_assert!(HEADER + len <= self.size);
        let queue = self.redirect(queue);
        let q = queue as usize;
        let mut opened = None;
        let id = match self.active[q] {
            Some(id) if self.segments[id as usize].end + len <= self.size => id,
            current => {
                if let Some(full) = current {
                    self.seal(full);
                }
                let id = self.free.pop()?;
                opened = Some(self.open(id, queue));
                id
            }
        };
        Some(self.reserve(id, queue, len, expiry, opened))
    }

    fn reserve(
        &mut self,
        id: u32,
        queue: Queue,
        len: usize,
        expiry: u32,
        opened: Option<u64>,
    ) -> Slot {
        let s = &mut self.segments[id as usize];
        let at = s.end;
        s.end += len;
        if expiry == 0 {
            s.immortal = true;
        } else {
            s.max_expiry = s.max_expiry.max(expiry);
        }
        Slot {
            segment: id,
            at,
            queue,
            opened,
        }
    }

    fn open(&mut self, id: u32, queue: Queue) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.segments[id as usize] = Segment {
            state: State::Active,
            queue,
            end: HEADER,
            max_expiry: 0,
            immortal: false,
        };
        self.active[queue as usize] = Some(id);
        seq
    }

    fn seal(&mut self, id: u32) {
        let s = &mut self.segments[id as usize];
        s.state = State::Sealed;
        self.fifos[s.queue as usize].push_back(id);
        if self.active[s.queue as usize] == Some(id) {
            self.active[s.queue as usize] = None;
        }
    }

    /// Records that a record in `id` now expires at `expiry` (a touch in place).
    pub fn note_expiry(&mut self, id: u32, expiry: u32) {
        let s = &mut self.segments[id as usize];
        if expiry == 0 {
            s.immortal = true;
        } else {
            s.max_expiry = s.max_expiry.max(expiry);
        }
    }

    /// The next segment to reclaim, taken off its FIFO: S3-FIFO's choice, from the small queue
    /// while it holds a tenth of the segments in use (or main is empty), else from main. When
    /// no segment is sealed, a full active one is sealed first.
    pub fn take_victim(&mut self) -> Option<u32> {
        if self.fifos.iter().all(VecDeque::is_empty) {
            for q in [Queue::Small, Queue::Main] {
                if let Some(id) = self.active[q as usize] {
                    if self.segments[id as usize].end > HEADER {
                        self.seal(id);
                    }
                }
            }
        }
        let in_use = self.count() - self.free.len() - self.retired;
        let small = self.queue_len(Queue::Small);
        let from_small =
            !self.fifos[0].is_empty() && (small * 10 >= in_use || self.fifos[1].is_empty());
        let id = if from_small {
            self.fifos[0].pop_front()
        } else {
            self.fifos[1].pop_front()
        }?;
        self.segments[id as usize].state = State::Reclaiming;
        Some(id)
    }

    /// Takes a sealed segment whose records have all expired by `now`, for the crawler.
    pub fn take_expired(&mut self, now: u32) -> Option<u32> {
        let expired = |s: &Segment| !s.immortal && s.max_expiry != 0 && s.max_expiry <= now;
        for q in 0..2 {
            if let Some(pos) = self.fifos[q]
                .iter()
                .position(|&id| expired(&self.segments[id as usize]))
            {
                let id = self.fifos[q].remove(pos)?;
                self.segments[id as usize].state = State::Reclaiming;
                return Some(id);
            }
        }
        None
    }

    /// Where a record that survives reclaiming `victim` goes: the main queue's active segment,
    /// a free one when that is full, else the victim itself, compacted in place (records
    /// already visited are gone or moved, so the write position never passes the read
    /// position). `None` never happens in the last case; it is kept for the caller's sake.
    pub fn append_survivor(&mut self, victim: u32, len: usize, expiry: u32) -> Option<Slot> {
        if self.compacting == Some(victim) {
            return Some(self.reserve(victim, Queue::Main, len, expiry, None));
        }
        let main = Queue::Main as usize;
        if let Some(id) = self.active[main] {
            if self.segments[id as usize].end + len <= self.size {
                return Some(self.reserve(id, Queue::Main, len, expiry, None));
            }
            self.seal(id);
        }
        if let Some(id) = self.free.pop() {
            let seq = self.open(id, Queue::Main);
            return Some(self.reserve(id, Queue::Main, len, expiry, Some(seq)));
        }
        let seq = self.open(victim, Queue::Main);
        self.compacting = Some(victim);
        Some(self.reserve(victim, Queue::Main, len, expiry, Some(seq)))
    }

    /// The reclaimer is done with `victim`: it is free again, or — when it was compacted in
    /// place — the main queue's active segment.
    pub fn finish_reclaim(&mut self, victim: u32) {
        if self.compacting == Some(victim) {
            self.compacting = None;
        } else {
            self.segments[victim as usize].state = State::Free;
            self.segments[victim as usize].end = HEADER;
            self.free.push(victim);
        }
    }

    /// Every segment free, none retired (`flush_all`).
    pub fn clear(&mut self) {
        *self = Self::new(self.count(), self.size);
    }

    /// Segments by state and queue, for `stats`.
    pub fn census(&self) -> Census {
        let mut c = Census {
            free: self.free.len(),
            retired: self.retired,
            ..Census::default()
        };
        for s in &self.segments {
            if matches!(s.state, State::Free | State::Retired) {
                continue;
            }
            c.used_bytes += s.end;
            match s.queue {
                Queue::Small => c.small += 1,
                Queue::Main => c.main += 1,
            }
        }
        c
    }
}

impl Log {
    /// The bookkeeping as bytes, for a warm restart (taken while nothing is being reclaimed).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.next_seq.to_le_bytes());
        for s in &self.segments {
            let state = match s.state {
                State::Free => 0u8,
                State::Active => 1,
                State::Sealed | State::Reclaiming => 2,
                State::Retired => 3,
            };
            out.extend_from_slice(&[state, s.queue as u8, u8::from(s.immortal)]);
            out.extend_from_slice(&(s.end as u32).to_le_bytes());
            out.extend_from_slice(&s.max_expiry.to_le_bytes());
        }
        for fifo in &self.fifos {
            out.extend_from_slice(&(fifo.len() as u32).to_le_bytes());
            fifo.iter()
                .for_each(|id| out.extend_from_slice(&id.to_le_bytes()));
        }
        for active in self.active {
            out.extend_from_slice(&active.unwrap_or(u32::MAX).to_le_bytes());
        }
    }

    /// The bookkeeping [`Log::encode`] wrote for `count` segments of `size` bytes; `None` when
    /// the bytes are not that (each segment must be in exactly one place).
    pub fn decode(bytes: &[u8], count: usize, size: usize) -> Option<Self> {
        let mut r = Reader(bytes);
        let mut log = Self::new(count, size);
        log.next_seq = r.u64()?;
        for s in log.segments.iter_mut() {
            let (state, queue, immortal) = (r.u8()?, r.u8()?, r.u8()?);
            s.state = match state {
                0 => State::Free,
                1 => State::Active,
                2 => State::Sealed,
                3 => State::Retired,
                _ => return None,
            };
            s.queue = if queue == 0 {
                Queue::Small
            } else {
                Queue::Main
            };
            s.immortal = immortal != 0;
            s.end = r.u32()? as usize;
            s.max_expiry = r.u32()?;
            if s.end < HEADER || s.end > size {
                return None;
            }
        }
        let mut placed = vec![false; count];
        let mut place = |id: u32, want: State, log: &Log| -> Option<()> {
            let slot = placed.get_mut(id as usize)?;
            (!*slot && log.segments[id as usize].state == want).then(|| *slot = true)
        };
        for q in 0..2 {
            let len = r.u32()? as usize;
            for _ in 0..len.min(count) {
                let id = r.u32()?;
                place(id, State::Sealed, &log)?;
                log.fifos[q].push_back(id);
            }
        }
        for q in 0..2 {
            let id = r.u32()?;
            if id != u32::MAX {
                place(id, State::Active, &log)?;
                log.active[q] = Some(id);
            }
        }
        log.free = (0..count as u32)
            .rev()
            .filter(|&id| log.segments[id as usize].state == State::Free)
            .collect();
        log.retired = log
            .segments
            .iter()
            .filter(|s| s.state == State::Retired)
            .count();
        let all_placed =
            log.free.len() + log.retired + placed.iter().filter(|&&p| p).count() == count;
        (all_placed && r.0.is_empty()).then_some(log)
    }
}

/// Little-endian reads off the front of a slice.
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Segment counts for `stats`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Census {
    pub free: usize,
    pub retired: usize,
    pub small: usize,
    pub main: usize,
    /// Bytes written into segments in use (live, dead and headers).
    pub used_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_fill_a_segment_then_open_the_next() {
        let mut log = Log::new(3, 1000);
        let a = log.append(Queue::Small, 500, 0).unwrap();
        assert_eq!((a.at, a.opened.is_some()), (HEADER, true));
        let b = log.append(Queue::Small, 484, 0).unwrap();
        assert_eq!((b.segment, b.at, b.opened), (a.segment, HEADER + 500, None));
        let c = log.append(Queue::Small, 10, 0).unwrap();
        assert_ne!(c.segment, a.segment);
        assert_eq!(log.queue_len(Queue::Small), 2);
        log.append(Queue::Main, 900, 0).unwrap();
        assert_eq!(log.free_count(), 0);
        assert!(!log.has_room(Queue::Main, 900));
        assert!(log.append(Queue::Main, 900, 0).is_none());
        // The small queue holds more than a tenth: its oldest segment goes first.
        assert_eq!(log.take_victim(), Some(a.segment));
    }

    #[test]
    fn survivors_compact_in_place_when_nothing_is_free() {
        let mut log = Log::new(2, 1000);
        let a = log.append(Queue::Small, 900, 0).unwrap();
        log.append(Queue::Main, 900, 0).unwrap();
        log.append(Queue::Small, 900, 0); // seals `a`, finds no free segment
        let victim = log.take_victim().unwrap();
        assert_eq!(victim, a.segment);
        let s = log.append_survivor(victim, 300, 0).unwrap();
        assert_eq!((s.segment, s.at), (victim, HEADER));
        // Meanwhile, writers' main appends go to small.
        assert!(!log.has_room(Queue::Main, 10));
        log.finish_reclaim(victim);
        assert_eq!(log.segment(victim).state, State::Active);
        assert_eq!(log.segment(victim).queue, Queue::Main);
        assert!(log.has_room(Queue::Main, 10));
    }

    #[test]
    fn the_bookkeeping_round_trips_and_garbage_is_refused() {
        let mut log = Log::new(4, 1000);
        log.append(Queue::Small, 900, 0).unwrap();
        log.append(Queue::Small, 900, 7).unwrap();
        log.append(Queue::Main, 100, 0).unwrap();
        let mut bytes = Vec::new();
        log.encode(&mut bytes);
        let back = Log::decode(&bytes, 4, 1000).unwrap();
        let mut again = Vec::new();
        back.encode(&mut again);
        assert_eq!(again, bytes);
        assert_eq!((back.free_count(), back.queue_len(Queue::Small)), (1, 2));
        assert!(Log::decode(&bytes, 5, 1000).is_none());
        assert!(Log::decode(&bytes[..bytes.len() - 1], 4, 1000).is_none());
    }

    #[test]
    fn a_segment_of_expired_records_is_found() {
        let mut log = Log::new(3, 1000);
        let a = log.append(Queue::Small, 900, 50).unwrap();
        log.append(Queue::Small, 900, 0).unwrap(); // seals `a`
        assert_eq!(log.take_expired(49), None);
        assert_eq!(log.take_expired(50), Some(a.segment));
        log.finish_reclaim(a.segment);
        assert_eq!(log.free_count(), 2);
    }
}
