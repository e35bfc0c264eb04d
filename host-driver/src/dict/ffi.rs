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

    /// Appends one LZ4 block of `input` that may reference the dictionary to `out` and returns
    /// its length; `None` (with `out` as it was) if `input` is too large for liblz4 (2 GiB).
    pub(super) fn compress_into(&self, input: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let src_len = c_int::try_from(input.len()).ok()?;
        // SAFETY: LZ4_compressBound is a pure function of its argument.
        let bound = unsafe { lz4_sys::LZ4_compressBound(src_len) };
        if bound <= 0 {
            return None;
        }
        // Written by liblz4 before it is read: no need to zero it.
        out.reserve(bound as usize);
        let start = out.len();
        WORKING.with(|working| {
            let working = working.borrow_mut();
            // SAFETY: `working` is this thread's own stream, borrowed exclusively; the
            // dictionary stream stays valid and unchanged for the call (we hold `&self`);
            // `input` is readable for `src_len` bytes and `out`'s spare capacity (reserved
            // above) writable for `bound`, which is what LZ4 needs in the worst case.
            let written = unsafe {
                LZ4_resetStream_fast(working.0.as_ptr());
                LZ4_attach_dictionary(working.0.as_ptr(), self.stream.0.as_ptr());
                LZ4_compress_fast_continue(
                    working.0.as_ptr(),
                    input.as_ptr().cast(),
                    out.as_mut_ptr().add(start).cast(),
                    src_len,
                    bound,
                    1,
                )
            };
            // Detach, so the working stream keeps no reference to a dictionary that may go.
            // SAFETY: NULL unsets the dictionary, as documented.
            unsafe { LZ4_attach_dictionary(working.0.as_ptr(), std::ptr::null()) };
            (written > 0 && written <= bound).then(|| {
                // SAFETY: liblz4 wrote exactly `written` bytes (≤ the reserved capacity) after
                // `start`.
                unsafe { out.set_len(start + written as usize) };
                written as usize
            })
        })
    }
}

thread_local! {
    /// Each thread's working stream (16 KiB): reset per block, which is far cheaper than
    /// creating one.
    static WORKING: RefCell<Stream> = RefCell::new(Stream::new());
}

/// Where a block's dictionary lies for [`decompress_into`].
pub(super) enum History<'a> {
    /// Anywhere in memory: liblz4's external-dictionary path.
    Apart(&'a [u8]),
    /// In the output buffer itself, before the value: its bytes so far are the dictionary,
    /// and liblz4 takes its fast prefix path.
    Prefix,
}

/// Decodes one LZ4 block whose matches may reach into `history` (the dictionary before the
/// value), appending the raw bytes to `out`. True if the block decodes to exactly `raw_len`
/// bytes; false with `out` as it was otherwise (malformed, or of another length).
pub(super) fn decompress_into(
    block: &[u8],
    raw_len: usize,
    history: History<'_>,
    out: &mut Vec<u8>,
) -> bool {
    out.reserve(raw_len);
    let start = out.len();
    let base = out.as_mut_ptr();
    let (dict_ptr, dict_len) = match history {
        History::Apart(dict) => (dict.as_ptr(), dict.len()),
        History::Prefix => (base.cast_const(), start),
    };
    let (Ok(src_len), Ok(cap), Ok(dict_len)) = (
        c_int::try_from(block.len()),
        c_int::try_from(raw_len),
        c_int::try_from(dict_len),
    ) else {
        return false;
    };
    // SAFETY: `block` is readable for `src_len` bytes; `out` holds `start` initialised bytes at
    // `base` and its spare capacity (reserved above, and `out` is not touched until the call
    // returns) is writable for `cap` bytes after them; the dictionary is readable for
    // `dict_len` bytes (a slice, or `out`'s own first `start` bytes). LZ4_decompress_safe_usingDict
    // is liblz4's bounds-checked decoder: on malformed input it returns a negative value and
    // never reads or writes outside those buffers (nor reads output it has not written).
    let written = unsafe {
        LZ4_decompress_safe_usingDict(
            block.as_ptr().cast(),
            base.add(start).cast(),
            src_len,
            cap,
            dict_ptr.cast(),
            dict_len,
        )
    };
    if written < 0 || written as usize != raw_len {
        return false;
    }
    // SAFETY: the decoder wrote all `raw_len` bytes after `start`.
    unsafe { out.set_len(start + raw_len) };
    true
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

/// Trains a zstd dictionary of at most `capacity` bytes on `samples` (concatenated, with each
/// one's length) with zstd's fastCover builder, choosing its segment size k and d ∈ {6, 8} on
/// a quarter of the samples held back. Its frequency table has 2^`f` entries: the builder's
/// default f = 20 takes 6 MiB of scratch per training, which glibc keeps resident in the
/// trainer thread's arena afterwards (8 MiB more RSS measured on a 16 MiB cache); f = 16
/// takes 384 KiB for samples of a few hundred KiB.
pub(super) fn train_fast_cover(
    samples: &[u8],
    sizes: &[usize],
    capacity: usize,
    f: u32,
) -> Result<Vec<u8>, String> {
    let count = u32::try_from(sizes.len()).map_err(|_| "too many samples".to_string())?;
    if sizes.iter().sum::<usize>() != samples.len() {
        return Err("sample sizes do not add up".into());
    }
    // SAFETY: the parameters are plain integers and a float, for which all-zero is each
    // field's "use the default".
    let mut params: zstd_sys::ZDICT_fastCover_params_t = unsafe { std::mem::zeroed() };
    params.f = f;
    params.steps = 4;
    params.nbThreads = 1;
    let mut out: Vec<u8> = Vec::with_capacity(capacity);
    // SAFETY: `out`'s spare capacity is writable for `capacity` bytes, `samples` readable for
    // the sum of `sizes` (checked above), `sizes` for `count` entries, `params` a valid struct
    // the builder may update with what it chose.
    let written = unsafe {
        zstd_sys::ZDICT_optimizeTrainFromBuffer_fastCover(
            out.as_mut_ptr().cast(),
            capacity,
            samples.as_ptr().cast(),
            sizes.as_ptr(),
            count,
            &mut params,
        )
    };
    // SAFETY: ZDICT_isError only inspects the code.
    if unsafe { zstd_sys::ZDICT_isError(written) } != 0 || written > capacity {
        // SAFETY: the returned name is a static C string for any error code.
        let name = unsafe { std::ffi::CStr::from_ptr(zstd_sys::ZDICT_getErrorName(written)) };
        return Err(name.to_string_lossy().into_owned());
    }
    // SAFETY: the builder wrote `written` bytes (≤ capacity) at the start.
    unsafe { out.set_len(written) };
    Ok(out)
}
