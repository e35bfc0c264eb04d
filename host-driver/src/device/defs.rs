//! Register map, header layouts and status codes of the CacheAccelerator, generated at build
//! time from the RTL's own definitions (`rtl/cache_accelerator_defs.vh`, `rtl/*_status.vh`).
#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/defs.rs"));
