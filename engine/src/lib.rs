//! # lzcache
//!
//! A memcached-compatible cache server whose values are LZ4-compressed and protected by a
//! CRC-64/NVME checksum from the moment they arrive until they are served.
//!
//! Layers, each knowing only the one below:
//!
//! * [`server`] accepts connections; [`event_loop`] runs a worker's sockets;
//!   [`connection`] moves bytes between a socket and the parser;
//! * [`protocol`] turns bytes into requests (text and meta protocols) and does no I/O;
//! * [`commands`] executes requests and composes memcached's exact replies;
//! * [`value`] compresses and checks values through the codec API of `lzcache-driver`, whose
//!   dispatcher chooses software or a device per value;
//! * [`store`] holds items within a memory bound, with eviction, expiry and CAS.
//!
//! What it is not: a persistent store, a replicated one, or a binary-protocol server (memcached
//! deprecated that protocol; the meta protocol replaces it).

pub mod attempt_gate;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connection;
pub mod dict;
pub mod event_loop;
pub mod protocol;
pub mod server;
pub mod stats;
pub mod store;
pub mod tls;
pub mod value;

pub use commands::Cache;
pub use config::{Cli, Config};
pub use server::{start, start_with_codec, ServerHandle};
