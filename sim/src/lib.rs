//! # lzcache-sim
//!
//! The lzcache RTL (`rtl/`), compiled by Verilator and driven from Rust. This crate is the
//! only part of lzcache that knows Verilator exists.
//!
//! * [`Dut`] owns one model instance and its simulation context; one clock cycle per call,
//!   with AXI-Stream beats in and out.
//! * [`axis`] has stream drivers with seeded random idle cycles (source) and backpressure
//!   (sink), and a runner that counts cycles exactly.
//! * Waveforms: set `LZCACHE_TRACE=<dir>` to write a VCD per model (see [`Dut::new`]).
//!
//! The models compiled in are listed by [`models`]; `build.rs` says which tops and parameters.
//! What it is not: a cycle-approximate performance model — it runs the real RTL.

pub mod axis;
mod dut;
mod ffi;

pub use axis::{Beat, Traffic};
pub use dut::{models, Cycle, Dut, SimError};
