//! The NIC probe through rdma-sys answers cleanly: devices, or why there are none.
#![cfg(feature = "rdma")]

use lzcache_rdma::sys::{probe, NicVerbs};
use lzcache_rdma::verbs::{Provider, VerbsError};

/// Whether the kernel exposes any RDMA device at all.
fn kernel_has_rdma_devices() -> bool {
    std::fs::read_dir("/sys/class/infiniband").is_ok_and(|mut d| d.next().is_some())
}

#[test]
fn the_probe_lists_devices_or_says_there_is_none() {
    match probe() {
        Ok(devices) => {
            assert!(
                kernel_has_rdma_devices(),
                "devices {devices:?} without /sys/class/infiniband"
            );
            assert!(!devices.is_empty());
        }
        Err(VerbsError::NoDevice(why)) => {
            assert!(
                !kernel_has_rdma_devices(),
                "the kernel has devices but the probe says: {why}"
            );
            assert!(
                why.contains("ibv_get_device_list") || why.contains("no RDMA device"),
                "{why}"
            );
        }
        Err(other) => panic!("unexpected probe error {other}"),
    }
}

#[test]
fn listening_without_a_device_fails_with_no_device() {
    let addr = "127.0.0.1:0".parse().unwrap();
    match NicVerbs.listen(addr) {
        Err(VerbsError::NoDevice(why)) => assert!(!kernel_has_rdma_devices(), "{why}"),
        // With a device, listening on loopback may work or fail in rdma_cm: either is an answer.
        Ok(_) | Err(VerbsError::Os { .. }) => assert!(kernel_has_rdma_devices()),
        Err(other) => panic!("unexpected error {other}"),
    }
}
