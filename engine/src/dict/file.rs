//! The dictionaries file: how a server's dictionaries outlive it (warm restart writes one beside
//! the memory file) and travel to another server (`--dict-export` / `--dict-import`).
//!
//! ```text
//! "LZDICTS1"  u32 active id (0: none)  u32 next id  u32 count
//! count × { u32 id  u32 length  u64 CRC-64/NVME of the content  content }
//! u64 CRC-64/NVME of everything before it
//! ```
//! All integers little-endian. A file that fails any check is refused whole.

use std::io;
use std::path::Path;
use std::sync::Arc;

use lzcache_driver::{crc64, Dictionary};

const MAGIC: &[u8; 8] = b"LZDICTS1";

/// What a dictionaries file holds.
#[derive(Debug, Default)]
pub struct Saved {
    pub active: u32,
    pub next_id: u32,
    pub dicts: Vec<Arc<Dictionary>>,
}

pub fn encode(saved: &Saved) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&saved.active.to_le_bytes());
    out.extend_from_slice(&saved.next_id.to_le_bytes());
    out.extend_from_slice(&(saved.dicts.len() as u32).to_le_bytes());
    for dict in &saved.dicts {
        out.extend_from_slice(&dict.id().to_le_bytes());
        out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        out.extend_from_slice(&dict.crc().to_le_bytes());
        out.extend_from_slice(dict.content());
    }
    let crc = crc64::checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn bad(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

pub fn decode(bytes: &[u8]) -> io::Result<Saved> {
    let body_len = bytes
        .len()
        .checked_sub(8)
        .filter(|&n| n >= MAGIC.len() + 12)
        .ok_or_else(|| bad("too short for a dictionaries file"))?;
    let (body, tail) = bytes.split_at(body_len);
    if &body[..8] != MAGIC {
        return Err(bad("not a dictionaries file (bad magic)"));
    }
    if crc64::checksum(body) != u64::from_le_bytes(tail.try_into().unwrap_or_default()) {
        return Err(bad("dictionaries file is damaged (checksum mismatch)"));
    }
    let mut at = 8;
    let mut take = |n: usize| -> io::Result<&[u8]> {
        let part = body
            .get(at..at + n)
            .ok_or_else(|| bad("dictionaries file is truncated"))?;
        at += n;
        Ok(part)
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or_default());
    let active = u32_of(take(4)?);
    let next_id = u32_of(take(4)?);
    let count = u32_of(take(4)?) as usize;
    let mut dicts = Vec::new();
    for _ in 0..count {
        let id = u32_of(take(4)?);
        let len = u32_of(take(4)?) as usize;
        let crc = u64::from_le_bytes(take(8)?.try_into().unwrap_or_default());
        let dict = Dictionary::new(id, take(len)?.to_vec()).map_err(|e| bad(e.to_string()))?;
        if dict.crc() != crc {
            return Err(bad(format!(
                "dictionary {id} is damaged (checksum mismatch)"
            )));
        }
        if dicts.iter().any(|d: &Arc<Dictionary>| d.id() == id) {
            return Err(bad(format!("dictionary {id} appears twice")));
        }
        dicts.push(Arc::new(dict));
    }
    if active != 0 && !dicts.iter().any(|d| d.id() == active) {
        return Err(bad(format!(
            "active dictionary {active} is not in the file"
        )));
    }
    Ok(Saved {
        active,
        next_id,
        dicts,
    })
}

pub fn read(path: &Path) -> io::Result<Saved> {
    decode(&std::fs::read(path)?)
}

/// Writes `saved` to `path` whole or not at all (a temporary file renamed over it).
pub fn write(path: &Path, saved: &Saved) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, encode(saved))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> Saved {
        Saved {
            active: 3,
            next_id: 4,
            dicts: vec![
                Arc::new(Dictionary::new(2, b"first dictionary".to_vec()).unwrap()),
                Arc::new(Dictionary::new(3, vec![b'z'; 5000]).unwrap()),
            ],
        }
    }

    #[test]
    fn round_trips() {
        let back = decode(&encode(&saved())).unwrap();
        assert_eq!((back.active, back.next_id), (3, 4));
        let ids: Vec<_> = back.dicts.iter().map(|d| (d.id(), d.len())).collect();
        assert_eq!(ids, vec![(2, 16), (3, 5000)]);
        assert_eq!(back.dicts[0].content(), b"first dictionary");
    }

    #[test]
    fn any_damage_or_truncation_is_refused() {
        let bytes = encode(&saved());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in (0..bytes.len()).step_by(7) {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(decode(&bad).is_err(), "flip at {at}");
        }
    }
}
