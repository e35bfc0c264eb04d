//! The C peer of the dictionary codec (`csrc/lz4_dict_peer.c`): liblz4 with the dictionary
//! attached to a reused working stream, no allocation per block. Every `unsafe` of the benches
//! is here.

use std::ffi::{c_char, c_int, c_void};
use std::ptr::NonNull;

// The symbols it calls come from the liblz4 lz4-sys links.
use lz4_sys as _;

extern "C" {
    fn peer_dict_new(dict: *const c_char, size: c_int) -> *mut c_void;
    fn peer_dict_free(peer: *mut c_void);
    fn peer_dict_compress(
        peer: *mut c_void,
        src: *const c_char,
        n: c_int,
        dst: *mut c_char,
        cap: c_int,
    ) -> c_int;
    fn peer_dict_decompress(
        src: *const c_char,
        n: c_int,
        dst: *mut c_char,
        cap: c_int,
        dict: *const c_char,
        size: c_int,
    ) -> c_int;
}

/// A prepared dictionary and a working stream, used from one thread.
pub struct PeerDict {
    raw: NonNull<c_void>,
    dict: Vec<u8>,
}

impl PeerDict {
    pub fn new(dict: &[u8]) -> Self {
        let dict = dict.to_vec();
        // SAFETY: `dict` is valid for its length and kept (unmoved: a Vec's heap buffer) as
        // long as the peer, which points into it.
        let raw = unsafe { peer_dict_new(dict.as_ptr().cast(), dict.len() as c_int) };
        Self {
            raw: NonNull::new(raw).expect("liblz4 allocates its streams"),
            dict,
        }
    }

    /// Compresses `src` into `dst` (sized by the caller to LZ4's bound); the block's length.
    pub fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> usize {
        // SAFETY: the peer is ours and used by one thread (`&mut self`); `src` and `dst` are
        // valid for their lengths; liblz4 writes at most `cap` bytes.
        let n = unsafe {
            peer_dict_compress(
                self.raw.as_ptr(),
                src.as_ptr().cast(),
                src.len() as c_int,
                dst.as_mut_ptr().cast(),
                dst.len() as c_int,
            )
        };
        assert!(n > 0, "liblz4 compresses");
        n as usize
    }

    /// Decodes `block` into `dst`; the bytes written.
    pub fn decompress(&self, block: &[u8], dst: &mut [u8]) -> usize {
        // SAFETY: the buffers are valid for their lengths; the safe decoder stays inside them.
        let n = unsafe {
            peer_dict_decompress(
                block.as_ptr().cast(),
                block.len() as c_int,
                dst.as_mut_ptr().cast(),
                dst.len() as c_int,
                self.dict.as_ptr().cast(),
                self.dict.len() as c_int,
            )
        };
        assert!(n >= 0, "liblz4 decodes");
        n as usize
    }
}

impl Drop for PeerDict {
    fn drop(&mut self) {
        // SAFETY: created by peer_dict_new, freed once.
        unsafe { peer_dict_free(self.raw.as_ptr()) };
    }
}
