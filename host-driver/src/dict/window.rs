//! Each thread's decode window: a dictionary's content with room for one value after it.
//!
//! liblz4 decodes a dictionary block fastest when the dictionary lies right before the output
//! in memory (it is then simply the output's prefix); against a dictionary elsewhere it takes
//! its external-dictionary path, which copies every match that reaches into the dictionary
//! apart. On 1 000 JSON-like records of 100–500 B with a 16 KiB dictionary, decoding each into
//! a fresh buffer through the window runs at 1.21× liblz4's external-dictionary decode called
//! from C into a reused buffer, and at 0.99× before the window (`cargo bench -p
//! lzcache-benches --bench codec -- dict`, the `dict-decompress (block)` row); copying the
//! value out of the window costs a few nanoseconds of that. The window keeps
//! the last dictionary used on the thread, so the dictionary is copied in only when another
//! one is used.

use std::cell::RefCell;

use super::ffi::{self, History};
use super::Dictionary;

/// Values up to this size decode in the window; larger ones (beyond any dictionary value the
/// server makes) decode against the dictionary in place, where the copy would cost more.
pub(super) const WINDOW_VALUE_MAX: usize = 64 << 10;

/// Which dictionary a window holds: its id, length and CRC — a CRC-64 collision between two
/// dictionaries with the same id and length would still be caught by each value's own CRC.
type Held = (u32, usize, u64);

#[derive(Default)]
struct Window {
    /// The dictionary's content; a value is decoded after it, copied out and cut off.
    buf: Vec<u8>,
    held: Option<Held>,
}

thread_local! {
    static WINDOW: RefCell<Window> = RefCell::new(Window::default());
}

/// Decodes `block` (made with `dict`) to its `raw_len` bytes, appended to `out`; false with
/// `out` as it was if the block is malformed or of another length.
pub(super) fn decompress_into(
    dict: &Dictionary,
    block: &[u8],
    raw_len: usize,
    out: &mut Vec<u8>,
) -> bool {
    if raw_len > WINDOW_VALUE_MAX {
        return ffi::decompress_into(block, raw_len, History::Apart(dict.content()), out);
    }
    WINDOW.with(|window| {
        let mut window = window.borrow_mut();
        let held = (dict.id(), dict.len(), dict.crc());
        if window.held != Some(held) {
            window.buf.clear();
            window.buf.extend_from_slice(dict.content());
            window.held = Some(held);
        }
        let decoded = ffi::decompress_into(block, raw_len, History::Prefix, &mut window.buf);
        if decoded {
            out.extend_from_slice(&window.buf[dict.len()..]);
            window.buf.truncate(dict.len());
        }
        decoded
    })
}
