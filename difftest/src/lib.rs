//! # lzcache-difftest
//!
//! Differential testing against memcached itself: the same generated command streams (valid
//! and invalid text and meta commands, split writes, pipelines, garbage) go to memcached 1.6.18
//! and to lzcache, and the replies are compared byte for byte after normalising only what must
//! differ (CAS values by rank, `VERSION`, seconds-based meta fields). A differing stream is
//! shrunk to the steps that matter and reported with its seed, so it replays exactly.
//!
//! [`gen`] makes streams, [`wire`] exchanges a step with one server, [`run`] runs both and
//! shrinks differences.

pub mod gen;
pub mod run;
pub mod wire;
