//! An item as bytes in a segment: byte-packed, optional fields only when present.
//!
//! ```text
//! 0      header: RECORD | HEAD | COMPRESSED | HAS_FLAGS | HAS_EXPIRY | PIECE | HAS_DICT
//!        (never changes)
//! 1      key length (1..=250)
//! 2..6   last access (u32 LE, relative seconds)      rewritten in place
//! [6..10 expiry (u32 LE) when HAS_EXPIRY]            rewritten in place
//! varint held length; [varint raw length] when COMPRESSED; [varint dictionary id] when
//! HAS_DICT (a compressed value whose block needs that dictionary); [varint client flags] when
//! HAS_FLAGS
//! [varint value length] when HEAD
//! varint CAS
//! 8      CRC-64/NVME of the raw value
//! key, then the held value (raw, or one LZ4 block)
//! ```
//!
//! A 9-byte key with a 100-byte value and no flags or expiry takes 127 bytes. Only the two time
//! fields change after a record is written (under its shard's lock); everything else, the key
//! among it, is fixed, so the reclaimer can find a record's key without that lock. Whatever
//! changes a record's length (a first expiry, new flags) writes a new record. The policy bits
//! (hits, fetched, stale, win) live in the index slot, not here.
//!
//! A value too long to sit in one record (more than an eighth of a segment) is cut into
//! PIECE records, each with the item's key and CAS, and a HEAD record whose held bytes are the
//! pieces' arena offsets (8 bytes each, in order) and whose value length is the whole value's.
//! Only the head is in the index; a piece is live while its head is live and lists it.

/// Always set in a record's first byte: a zero byte is not a record.
const RECORD: u8 = 0x80;
const HEAD: u8 = 0x40;
const COMPRESSED: u8 = 0x20;
const PIECE: u8 = 0x04;
const HAS_FLAGS: u8 = 0x10;
const HAS_EXPIRY: u8 = 0x08;
const HAS_DICT: u8 = 0x02;

pub const LAST_ACCESS_AT: usize = 2;
pub const EXPIRY_AT: usize = 6;

/// The longest prefix before the key: header, key length, two times, six varints, CRC.
pub const MAX_PREFIX: usize = 2 + 4 + 4 + 10 + 5 + 5 + 5 + 10 + 10 + 8;

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole item.
    Inline,
    /// An item whose value is in pieces: its held bytes list them, `value_len` is the value's.
    Head { value_len: usize },
    /// Part of a value, owned by the head with the same key and CAS.
    Piece,
}

/// What a record holds, borrowed from the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub header: u8,
    pub kind: Kind,
    /// Zero when parsed without the time fields.
    pub last_access: u32,
    pub expiry: u32,
    pub raw_len: u32,
    /// The dictionary a compressed value's block was made with; 0 for none.
    pub dict: u32,
    pub client_flags: u32,
    pub cas: u64,
    pub crc: u64,
    pub key: &'a [u8],
    /// Empty when parsed without the value. A head's: its piece table.
    pub value: &'a [u8],
    /// Bytes of `value` in this record.
    pub held_len: usize,
    /// Bytes of the whole held value (a head's pieces together; else `held_len`).
    pub value_len: usize,
    /// Bytes the record takes.
    pub len: usize,
}

impl Record<'_> {
    /// A head's piece offsets.
    pub fn pieces(&self) -> impl Iterator<Item = u64> + '_ {
        let table = match self.kind {
            Kind::Head { .. } => self.value,
            _ => &[],
        };
        table
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
    }

    /// Where a head's piece table starts, from the record's start.
    pub fn value_at(&self) -> usize {
        self.len - self.held_len
    }

    pub fn compressed(&self) -> bool {
        self.header & COMPRESSED != 0
    }

    pub fn has_expiry_field(&self) -> bool {
        self.header & HAS_EXPIRY != 0
    }
}

/// The fields of a record to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    pub last_access: u32,
    pub expiry: u32,
    /// Write the expiry field even when `expiry` is 0 (so a later touch fits in place).
    pub expiry_field: bool,
    /// The raw length of a compressed value; `None` for a raw value.
    pub raw_len: Option<u32>,
    /// The dictionary of a compressed value's block; 0 for none (and for a raw value).
    pub dict: u32,
    pub client_flags: u32,
    pub cas: u64,
    pub crc: u64,
    pub kind: Kind,
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut [u8], at: &mut usize, mut v: u64) {
    while v >= 0x80 {
        out[*at] = (v as u8) | 0x80;
        *at += 1;
        v >>= 7;
    }
    out[*at] = v as u8;
    *at += 1;
}

/// Bytes a record with these fields, key and value takes.
pub fn encoded_len(fields: &Fields, key_len: usize, held_len: usize) -> usize {
    prefix_len(fields, held_len) + key_len + held_len
}

fn prefix_len(fields: &Fields, held_len: usize) -> usize {
    2 + 4
        + if fields.expiry_field || fields.expiry != 0 {
            4
        } else {
            0
        }
        + varint_len(held_len as u64)
        + fields.raw_len.map_or(0, |r| varint_len(r.into()))
        + if has_dict(fields) {
            varint_len(fields.dict.into())
        } else {
            0
        }
        + if fields.client_flags != 0 {
            varint_len(fields.client_flags.into())
        } else {
            0
        }
        + match fields.kind {
            Kind::Head { value_len } => varint_len(value_len as u64),
            _ => 0,
        }
        + varint_len(fields.cas)
        + 8
}

/// Only a compressed value names a dictionary.
fn has_dict(fields: &Fields) -> bool {
    fields.raw_len.is_some() && fields.dict != 0
}

/// A record's bytes up to its key; the key and the value follow.
pub struct Prefix {
    bytes: [u8; MAX_PREFIX],
    len: usize,
}

impl std::ops::Deref for Prefix {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The bytes before the key of a record with these fields.
pub fn prefix(fields: &Fields, key_len: usize, held_len: usize) -> Prefix {
    debug_assert!(key_len > 0 && key_len <= 255);
    let expiry_field = fields.expiry_field || fields.expiry != 0;
    let mut header = RECORD;
    if fields.raw_len.is_some() {
        header |= COMPRESSED;
    }
    if has_dict(fields) {
        header |= HAS_DICT;
    }
    if fields.client_flags != 0 {
        header |= HAS_FLAGS;
    }
    if expiry_field {
        header |= HAS_EXPIRY;
    }
    match fields.kind {
        Kind::Inline => {}
        Kind::Head { .. } => header |= HEAD,
        Kind::Piece => header |= PIECE,
    }
    let mut p = Prefix {
        bytes: [0; MAX_PREFIX],
        len: 0,
    };
    let b = &mut p.bytes;
    b[0] = header;
    b[1] = key_len as u8;
    b[2..6].copy_from_slice(&fields.last_access.to_le_bytes());
    let mut at = 6;
    if expiry_field {
        b[6..10].copy_from_slice(&fields.expiry.to_le_bytes());
        at = 10;
    }
    put_varint(b, &mut at, held_len as u64);
    if let Some(raw_len) = fields.raw_len {
        put_varint(b, &mut at, raw_len.into());
    }
    if has_dict(fields) {
        put_varint(b, &mut at, fields.dict.into());
    }
    if fields.client_flags != 0 {
        put_varint(b, &mut at, fields.client_flags.into());
    }
    if let Kind::Head { value_len } = fields.kind {
        put_varint(b, &mut at, value_len as u64);
    }
    put_varint(b, &mut at, fields.cas);
    b[at..at + 8].copy_from_slice(&fields.crc.to_le_bytes());
    p.len = at + 8;
    p
}

/// A lower bound of the length of the record whose first two bytes are `head` (every varint
/// one byte, no value): bytes that far are the record's own.
pub fn min_len(head: [u8; 2]) -> usize {
    let [header, key_len] = head;
    let flag = |bit: u8| usize::from(header & bit != 0);
    2 + 4
        + 4 * flag(HAS_EXPIRY)
        + 1
        + flag(COMPRESSED)
        + flag(HAS_DICT)
        + flag(HAS_FLAGS)
        + flag(HEAD)
        + 1
        + 8
        + usize::from(key_len)
}

/// What of a record to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    /// The fixed fields and the key: what may be read without the shard lock.
    Key,
    /// Everything.
    All,
}

/// Parses the record whose bytes `read(offset, len)` returns (offsets relative to the
/// record's start; `None` past the end of the segment). Reads exactly the bytes it needs, so
/// with [`Parts::Key`] it never touches the in-place fields. `None` for bytes that are not a
/// whole record.
pub fn parse<'a>(
    read: impl Fn(usize, usize) -> Option<&'a [u8]>,
    parts: Parts,
) -> Option<Record<'a>> {
    let head = read(0, 2)?;
    let (header, key_len) = (head[0], usize::from(head[1]));
    if header & RECORD == 0 || key_len == 0 {
        return None;
    }
    let u32_at =
        |at: usize| -> Option<u32> { Some(u32::from_le_bytes(read(at, 4)?.try_into().ok()?)) };
    let mut at = 6;
    let (mut last_access, mut expiry) = (0, 0);
    if parts == Parts::All {
        last_access = u32_at(LAST_ACCESS_AT)?;
    }
    if header & HAS_EXPIRY != 0 {
        if parts == Parts::All {
            expiry = u32_at(EXPIRY_AT)?;
        }
        at = 10;
    }
    let varint = |at: &mut usize| -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = read(*at, 1)?[0];
            *at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    };
    let held_len = usize::try_from(varint(&mut at)?).ok()?;
    let raw_len = if header & COMPRESSED != 0 {
        Some(u32::try_from(varint(&mut at)?).ok()?)
    } else {
        None
    };
    let dict = match (header & HAS_DICT != 0, header & COMPRESSED != 0) {
        (false, _) => 0,
        (true, true) => u32::try_from(varint(&mut at)?).ok().filter(|&d| d != 0)?,
        (true, false) => return None,
    };
    let client_flags = if header & HAS_FLAGS != 0 {
        u32::try_from(varint(&mut at)?).ok()?
    } else {
        0
    };
    let kind = match (header & HEAD != 0, header & PIECE != 0) {
        (false, false) => Kind::Inline,
        (true, false) => Kind::Head {
            value_len: usize::try_from(varint(&mut at)?).ok()?,
        },
        (false, true) => Kind::Piece,
        (true, true) => return None,
    };
    let value_len = match kind {
        Kind::Head { value_len } => value_len,
        _ => held_len,
    };
    let cas = varint(&mut at)?;
    let crc = u64::from_le_bytes(read(at, 8)?.try_into().ok()?);
    at += 8;
    let key = read(at, key_len)?;
    at += key_len;
    let value = match parts {
        Parts::All => read(at, held_len)?,
        Parts::Key => &[][..],
    };
    let raw_len = match raw_len {
        Some(r) => r,
        None => u32::try_from(value_len).ok()?,
    };
    Some(Record {
        header,
        kind,
        last_access,
        expiry,
        raw_len,
        dict,
        client_flags,
        cas,
        crc,
        key,
        value,
        held_len,
        value_len,
        len: at.checked_add(held_len)?,
    })
}

/// [`parse`] over a slice holding the record at its start.
#[cfg(test)]
pub fn decode(bytes: &[u8], parts: Parts) -> Option<Record<'_>> {
    parse(|at, len| bytes.get(at..at.checked_add(len)?), parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(raw_len: Option<u32>, client_flags: u32, expiry: u32, cas: u64) -> Fields {
        Fields {
            last_access: 77,
            expiry,
            expiry_field: false,
            raw_len,
            dict: 0,
            client_flags,
            cas,
            crc: 0x0123_4567_89ab_cdef,
            kind: Kind::Inline,
        }
    }

    #[test]
    fn a_compressed_value_names_its_dictionary_and_a_raw_one_never_does() {
        for dict in [1u32, 127, 128, u32::MAX] {
            let mut f = fields(Some(300), 9, 0, 5);
            f.dict = dict;
            let out = encode(&f, b"k", b"block");
            assert_eq!(encoded_len(&f, 1, 5), out.len());
            let r = decode(&out, Parts::All).unwrap();
            assert_eq!(
                (r.dict, r.raw_len, r.client_flags, r.value),
                (dict, 300, 9, &b"block"[..])
            );
            assert!(min_len([out[0], out[1]]) <= out.len());
            // A raw value's record carries no id, whatever the fields say.
            f.raw_len = None;
            let raw = encode(&f, b"k", b"block");
            assert_eq!(decode(&raw, Parts::All).unwrap().dict, 0);
            assert_eq!(encoded_len(&f, 1, 5), raw.len());
        }
        // A dictionary flag without compression, or id 0, is no record.
        let mut f = fields(Some(300), 0, 0, 5);
        f.dict = 2;
        let mut out = encode(&f, b"k", b"block");
        out[0] &= !COMPRESSED;
        assert_eq!(decode(&out, Parts::All), None);
    }

    fn encode(f: &Fields, key: &[u8], value: &[u8]) -> Vec<u8> {
        [&prefix(f, key.len(), value.len())[..], key, value].concat()
    }

    #[test]
    fn a_small_item_takes_127_bytes() {
        let f = fields(None, 0, 0, 100_000);
        assert_eq!(encode(&f, b"key:00001", &[5; 100]).len(), 127);
        assert_eq!(encoded_len(&f, 9, 100), 127);
    }

    #[test]
    fn records_round_trip_with_every_optional_field() {
        for (raw_len, client_flags, expiry, cas) in [
            (None, 0, 0, 1),
            (Some(4096), 0xffff_ffff, 12345, u64::MAX),
            (None, 7, 0, 1 << 40),
            (Some(1), 0, 1, 0),
        ] {
            let f = fields(raw_len, client_flags, expiry, cas);
            let out = encode(&f, b"k", b"value bytes");
            assert_eq!(encoded_len(&f, 1, 11), out.len());
            let r = decode(&out, Parts::All).unwrap();
            assert_eq!(r.len, out.len());
            assert_eq!((r.key, r.value), (&b"k"[..], &b"value bytes"[..]));
            assert_eq!(r.raw_len, raw_len.unwrap_or(11));
            assert_eq!(
                (r.client_flags, r.expiry, r.cas),
                (client_flags, expiry, cas)
            );
            assert_eq!(
                (r.last_access, r.crc, r.compressed()),
                (77, f.crc, raw_len.is_some())
            );
            let k = decode(&out, Parts::Key).unwrap();
            assert_eq!(
                (k.key, k.len, k.cas, k.value),
                (r.key, r.len, r.cas, &[][..])
            );
            assert_eq!((k.last_access, k.expiry), (0, 0));
        }
    }

    #[test]
    fn heads_list_their_pieces_and_pieces_say_what_they_are() {
        let mut f = fields(Some(5000), 0, 0, 42);
        f.kind = Kind::Head { value_len: 3000 };
        let table: Vec<u8> = [100u64, 2000]
            .iter()
            .flat_map(|o| o.to_le_bytes())
            .collect();
        let out = encode(&f, b"big", &table);
        let r = decode(&out, Parts::All).unwrap();
        assert_eq!(r.kind, Kind::Head { value_len: 3000 });
        assert_eq!((r.value_len, r.held_len, r.raw_len), (3000, 16, 5000));
        assert_eq!(r.pieces().collect::<Vec<_>>(), vec![100, 2000]);
        assert_eq!(&out[r.value_at()..], &table[..]);
        f.kind = Kind::Piece;
        let piece_bytes = encode(&f, b"big", b"part");
        let piece = decode(&piece_bytes, Parts::Key).unwrap();
        assert_eq!(
            (piece.kind, piece.cas, piece.key),
            (Kind::Piece, 42, &b"big"[..])
        );
    }

    #[test]
    fn min_len_never_passes_the_record() {
        for (raw_len, client_flags, expiry, cas) in [
            (None, 0, 0, 1),
            (Some(4096), u32::MAX, 7, u64::MAX),
            (None, 300, 0, 1 << 20),
        ] {
            for kind in [Kind::Inline, Kind::Piece, Kind::Head { value_len: 1 << 30 }] {
                let mut f = fields(raw_len, client_flags, expiry, cas);
                f.kind = kind;
                let out = encode(&f, b"some-key", b"");
                assert!(min_len([out[0], out[1]]) <= out.len(), "{f:?}");
            }
        }
    }

    #[test]
    fn truncated_or_foreign_bytes_are_not_records() {
        let out = encode(&fields(Some(9), 3, 5, 99), b"key", b"vvv");
        for cut in 0..out.len() {
            assert_eq!(decode(&out[..cut], Parts::All), None, "cut at {cut}");
        }
        assert_eq!(decode(&[0; 64], Parts::All), None);
        assert!(decode(&[0xff; 64], Parts::All).is_none());
    }
}
