//! The C calls behind dictionary blocks and training: liblz4 1.10 (built and linked by
//! `lz4-sys`) and zstd's dictionary builder (`zstd-sys`). Every `unsafe` of the dictionary path
//! is here.
//!
//! liblz4 is used rather than lz4_flex for dictionary compression because lz4_flex re-hashes the
//! dictionary on every block (about 10 µs per small value at 16 KiB); liblz4 hashes it once into
//! a stream that each block's working stream attaches to without copying.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};
use std::ptr::NonNull;
use std::sync::Arc;

use lz4_sys::LZ4StreamEncode;

extern "C" {
    fn LZ4_loadDictSlow(stream: *mut LZ4StreamEncode, dict: *const c_char, size: c_int) -> c_int;
    fn LZ4_resetStream_fast(stream: *mut LZ4StreamEncode);
    fn LZ4_attach_dictionary(working: *mut LZ4StreamEncode, dict: *const LZ4StreamEncode);
    fn LZ4_compress_fast_continue(
        stream: *mut LZ4StreamEncode,
        src: *const c_char,
        dst: *mut c_char,
        src_size: c_int,
        dst_capacity: c_int,
        acceleration: c_int,
    ) -> c_int;
    fn LZ4_decompress_safe_usingDict(
        src: *const c_char,
        dst: *mut c_char,
        src_size: c_int,
        dst_capacity: c_int,
        dict: *const c_char,
        dict_size: c_int,
    ) -> c_int;
}

/// An LZ4 stream owned by Rust: created by liblz4, freed on drop.
struct Stream(NonNull<LZ4StreamEncode>);

impl Stream {
    fn new() -> Self {
        // SAFETY: LZ4_createStream takes no arguments and returns an initialised stream or
        // NULL when out of memory (handled as an allocation failure).
        let raw = unsafe { lz4_sys::LZ4_createStream() };
        match NonNull::new(raw) {
            Some(stream) => Self(stream),
            None => std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u8; 16416]>()),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: the pointer came from LZ4_createStream and is freed exactly once, here.
        unsafe { lz4_sys::LZ4_freeStream(self.0.as_ptr()) };
    }
}

/// A dictionary hashed once for compression: the stream liblz4 prepared from `content`, which it
/// keeps pointing into (so the content is owned here and never moves).
pub(super) struct PreparedDict {
    stream: Stream,
    content: Arc<[u8]>,
}

// SAFETY: after `prepare` the stream is only read: LZ4_attach_dictionary references it in place
// and never writes it (liblz4 documents the dictionary stream as unchanged by compression), and
// the content it points into is immutable shared memory. So it may be used from any thread, by
// several at once.
unsafe impl Send for PreparedDict {}
// SAFETY: as above: concurrent use is read-only.
unsafe impl Sync for PreparedDict {}

impl PreparedDict {
    /// Hashes the last 64 KiB of `content` (all LZ4 offsets can reach) into a stream.
    pub(super) fn prepare(content: Arc<[u8]>) -> Self {
        let stream = Stream::new();
        let len = content.len().min(c_int::MAX as usize) as c_int;
        // SAFETY: the stream is valid and exclusively ours; `content` is valid for `len` bytes
        // and outlives the stream (both are owned by the returned value, and the Arc's bytes do
        // not move).
        unsafe { LZ4_loadDictSlow(stream.0.as_ptr(), content.as_ptr().cast(), len) };
        Self { stream, content }
    }

    pub(super) fn content(&self) -> &[u8] {
        &self.content
    }

    /// One LZ4 block of `input` that may reference the dictionary; `None` if `input` is too
    /// large for liblz4 (2 GiB).
    pub(super) fn compress(&self, input: &[u8]) -> Option<Vec<u8>> {
        let src_len = c_int::try_from(input.len()).ok()?;
        // SAFETY: LZ4_compressBound is a pure function of its argument.
        let bound = unsafe { lz4_sys::LZ4_compressBound(src_len) };
        if bound <= 0 {
            return None;
        }
        let mut out = vec![0u8; bound as usize];
        WORKING.with(|working| {
            let working = working.borrow_mut();
            // SAFETY: `working` is this thread's own stream, borrowed exclusively; the
            // dictionary stream stays valid and unchanged for the call (we hold `&self`);
            // `input` is readable for `src_len` bytes and `out` writable for `bound`, which is
            // what LZ4 needs in the worst case.
            let written = unsafe {
                LZ4_resetStream_fast(working.0.as_ptr());
                LZ4_attach_dictionary(working.0.as_ptr(), self.stream.0.as_ptr());
                LZ4_compress_fast_continue(
                    working.0.as_ptr(),
                    input.as_ptr().cast(),
                    out.as_mut_ptr().cast(),
                    src_len,
                    bound,
                    1,
                )
            };
            // Detach, so the working stream keeps no reference to a dictionary that may go.
            // SAFETY: NULL unsets the dictionary, as documented.
            unsafe { LZ4_attach_dictionary(working.0.as_ptr(), std::ptr::null()) };
            (written > 0).then(|| {
                out.truncate(written as usize);
                out
            })
        })
    }
}

thread_local! {
    /// Each thread's working stream (16 KiB): reset per block, which is far cheaper than
    /// creating one.
    static WORKING: RefCell<Stream> = RefCell::new(Stream::new());
}

/// Decodes one LZ4 block whose matches may reach into `dict` (the history before the value);
/// `None` if the block is malformed or does not decode to exactly `raw_len` bytes.
pub(super) fn decompress_using_dict(block: &[u8], raw_len: usize, dict: &[u8]) -> Option<Vec<u8>> {
    let src_len = c_int::try_from(block.len()).ok()?;
    let cap = c_int::try_from(raw_len).ok()?;
    let dict_len = c_int::try_from(dict.len()).ok()?;
    let mut out = vec![0u8; raw_len];
    // SAFETY: `block` is readable for `src_len` bytes, `out` writable for `cap`, `dict`
    // readable for `dict_len`. LZ4_decompress_safe_usingDict is liblz4's bounds-checked
    // decoder: on malformed input it returns a negative value and never reads or writes
    // outside those buffers.
    let written = unsafe {
        LZ4_decompress_safe_usingDict(
            block.as_ptr().cast(),
            out.as_mut_ptr().cast(),
            src_len,
            cap,
            dict.as_ptr().cast(),
            dict_len,
        )
    };
    (written >= 0 && written as usize == raw_len).then_some(out)
}

/// Bytes of zstd's header (magic, id, entropy tables) at the start of a trained dictionary; what
/// follows is the raw content, which is what LZ4 uses. `None` if `dict` is no zstd dictionary.
pub(super) fn zstd_dict_header_len(dict: &[u8]) -> Option<usize> {
    // SAFETY: `dict` is readable for its length; the function only parses it.
    let len =
        unsafe { zstd_sys::ZDICT_getDictHeaderSize(dict.as_ptr() as *const c_void, dict.len()) };
    // SAFETY: ZDICT_isError only inspects the code.
    let failed = unsafe { zstd_sys::ZDICT_isError(len) } != 0;
    (!failed && len <= dict.len()).then_some(len)
}
