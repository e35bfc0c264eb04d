//! Layer 0: this machine's RDMA stack through rdma-sys (libibverbs), the only file that calls
//! it.
//!
//! What it covers today is the device probe: listing the RDMA devices (`ibv_get_device_list`)
//! and reporting, with the errno, why there are none — on a kernel without an RDMA stack the
//! call fails with `ENOSYS`. A server asked to listen over RDMA on such a machine fails that
//! listener with this message and keeps serving TCP.
//!
//! What it does not cover yet, and was never run on a NIC: protection domain, memory
//! registration, completion queue with its completion channel, RC queue pair creation and the
//! `rdma_cm` connection events. With a device present, [`NicVerbs`] says so instead of
//! pretending ([`VerbsError::Unsupported`]); the transport above is the one the emulated verbs
//! test, and these calls are to implement the same [`Provider`] trait.

use std::ffi::CStr;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::verbs::{Listener, Prepare, Provider, QpParams, QueuePair, VerbsError};

/// The RDMA devices of this machine, by name; [`VerbsError::NoDevice`] (with the errno when
/// the call failed) when there are none.
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

/// The verbs of this machine's NICs.
#[derive(Debug, Clone, Copy, Default)]
pub struct NicVerbs;

impl NicVerbs {
    fn unsupported(devices: Vec<String>) -> VerbsError {
        VerbsError::Unsupported(format!(
            "RDMA devices {devices:?} found, but this build's NIC verbs cover only the device probe \
             (queue pairs on a NIC are not implemented yet)"
        ))
    }
}

impl Provider for NicVerbs {
    fn name(&self) -> &'static str {
        "libibverbs"
    }

    fn listen(&self, _addr: SocketAddr) -> Result<Box<dyn Listener>, VerbsError> {
        Err(Self::unsupported(probe()?))
    }

    fn connect(
        &self,
        _addr: SocketAddr,
        _params: QpParams,
        _prepare: Prepare<'_>,
    ) -> Result<Arc<dyn QueuePair>, VerbsError> {
        Err(Self::unsupported(probe()?))
    }
}
