//! Layer 0: this machine's RDMA stack through rdma-sys (libibverbs and librdmacm). These
//! files are the only ones that call it, and the only ones of the crate with `unsafe` besides
//! the reactor registration:
//!
//! * this file — the device probe and the [`Provider`];
//! * [`cm`] — `rdma_cm`: event channels, listening, address and route resolution, accepting
//!   and connecting;
//! * [`qp`] — one connection's protection domain, memory regions, completion queue with its
//!   completion channel, RC queue pair, posting and polling.
//!
//! **Never run on a NIC.** This machine has no RDMA device and its kernel no RDMA stack: the
//! probe runs here (and reports `ENOSYS` from `ibv_get_device_list`), everything after it is
//! compiled and reviewed against the libibverbs and librdmacm manuals only. The transport above
//! it is the one the emulated verbs test, so what is untested is exactly this layer's mapping
//! of the [`QueuePair`] trait onto the verbs.

mod cm;
mod qp;

use std::ffi::CStr;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::verbs::{Listener, Prepare, Provider, QpParams, QueuePair, VerbsError};

/// The RDMA devices of this machine, by name; [`VerbsError::NoDevice`] when there are none
/// (with the reason when the call failed).
pub fn probe() -> Result<Vec<String>, VerbsError> {
    let mut count: std::os::raw::c_int = 0;
    // SAFETY: `count` is a valid out-pointer for the duration of the call; the returned list
    // (or null) is owned by us until `ibv_free_device_list`.
    let list = unsafe { rdma_sys::ibv_get_device_list(&mut count) };
    if list.is_null() {
        let err = std::io::Error::last_os_error();
        return Err(VerbsError::NoDevice(format!(
            "ibv_get_device_list failed: {err}; the kernel has no RDMA stack or no device is bound"
        )));
    }
    let mut names = Vec::new();
    for index in 0..count.max(0) as usize {
        // SAFETY: the list holds `count` valid device pointers (null-terminated after them).
        let device = unsafe { *list.add(index) };
        if device.is_null() {
            break;
        }
        // SAFETY: a device of a live list has a NUL-terminated name owned by the library.
        let name = unsafe { CStr::from_ptr(rdma_sys::ibv_get_device_name(device)) };
        names.push(name.to_string_lossy().into_owned());
    }
    // SAFETY: `list` came from `ibv_get_device_list` and is freed once; no device pointer
    // from it is used afterwards (the names were copied).
    unsafe { rdma_sys::ibv_free_device_list(list) };
    if names.is_empty() {
        return Err(VerbsError::NoDevice("no RDMA device found".into()));
    }
    Ok(names)
}

/// The last OS error as a [`VerbsError`] naming the call.
fn os_error(call: &'static str) -> VerbsError {
    VerbsError::Os {
        call,
        errno: std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
    }
}

/// A verbs call's non-zero return (an errno, or -1 with errno set) as a [`VerbsError`].
fn check(call: &'static str, ret: std::os::raw::c_int) -> Result<(), VerbsError> {
    match ret {
        0 => Ok(()),
        -1 => Err(os_error(call)),
        errno => Err(VerbsError::Os {
            call,
            errno: errno.abs(),
        }),
    }
}

/// The verbs of this machine's NICs: RC queue pairs set up by `rdma_cm` on IP addresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct NicVerbs;

impl Provider for NicVerbs {
    fn name(&self) -> &'static str {
        "libibverbs"
    }

    fn listen(&self, addr: SocketAddr) -> Result<Box<dyn Listener>, VerbsError> {
        probe()?;
        Ok(Box::new(cm::NicListener::bind(addr)?))
    }

    fn connect(
        &self,
        addr: SocketAddr,
        params: QpParams,
        prepare: Prepare<'_>,
    ) -> Result<Arc<dyn QueuePair>, VerbsError> {
        probe()?;
        cm::connect(addr, params, prepare)
    }
}
