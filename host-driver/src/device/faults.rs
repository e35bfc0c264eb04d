//! Faults a simulated device can inject, described in a device spec (`sim:drop=0.1,seed=3`).
//!
//! The plan is plain data, compiled with or without the simulator, so a spec naming faults is
//! parsed (and refused when wrong) the same way everywhere.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Why a fault plan was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultPlanError {
    #[error("fault {0:?}: expected key=value")]
    NotKeyValue(String),
    #[error("fault {key}: bad number {value:?}")]
    BadNumber { key: String, value: String },
    #[error("fault {key}: probability {value} outside 0..1")]
    OutOfRange { key: String, value: String },
    #[error("fault stall: bad time {0:?} (milliseconds, e.g. 50ms)")]
    BadTime(String),
    #[error("unknown fault {0:?} (error, corrupt, drop, stall, seed)")]
    Unknown(String),
}

/// Faults the simulated device injects into its results, each with a probability per
/// result: an error status, a flipped output (or CRC) bit, no answer at all, or a stall of
/// the whole device. Written as `error=0.1,corrupt=0.05,drop=0.01,stall=0.02:50ms,seed=7`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    pub error: f64,
    pub corrupt: f64,
    pub drop: f64,
    pub stall: f64,
    pub stall_for: Duration,
    pub seed: u64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            error: 0.0,
            corrupt: 0.0,
            drop: 0.0,
            stall: 0.0,
            stall_for: Duration::from_millis(50),
            seed: 1,
        }
    }
}

impl FaultPlan {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn parse(text: &str) -> Result<Self, FaultPlanError> {
        let mut plan = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| FaultPlanError::NotKeyValue(part.to_string()))?;
            let probability = |v: &str| -> Result<f64, FaultPlanError> {
                let p: f64 = v.parse().map_err(|_| FaultPlanError::BadNumber {
                    key: key.to_string(),
                    value: v.to_string(),
                })?;
                if (0.0..=1.0).contains(&p) {
                    Ok(p)
                } else {
                    Err(FaultPlanError::OutOfRange {
                        key: key.to_string(),
                        value: v.to_string(),
                    })
                }
            };
            match key {
                "error" => plan.error = probability(value)?,
                "corrupt" => plan.corrupt = probability(value)?,
                "drop" => plan.drop = probability(value)?,
                "stall" => {
                    let (p, time) = value.split_once(':').unwrap_or((value, "50ms"));
                    plan.stall = probability(p)?;
                    let ms = time.trim_end_matches("ms");
                    plan.stall_for = Duration::from_millis(
                        ms.parse()
                            .map_err(|_| FaultPlanError::BadTime(time.to_string()))?,
                    );
                }
                "seed" => {
                    plan.seed = value.parse().map_err(|_| FaultPlanError::BadNumber {
                        key: key.to_string(),
                        value: value.to_string(),
                    })?
                }
                _ => return Err(FaultPlanError::Unknown(key.to_string())),
            }
        }
        Ok(plan)
    }

    pub fn is_none(&self) -> bool {
        self.error == 0.0 && self.corrupt == 0.0 && self.drop == 0.0 && self.stall == 0.0
    }
}

/// Faults a simulated device has injected so far, for tests that must show a fault happened
/// (not only that it was survived).
#[derive(Debug, Default)]
pub struct InjectedFaults {
    pub errors: AtomicU64,
    pub corruptions: AtomicU64,
    pub drops: AtomicU64,
    pub stalls: AtomicU64,
}

impl InjectedFaults {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts as stats lines.
    pub fn stats(&self) -> Vec<(String, String)> {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        vec![
            ("lz_dev_injected_errors".into(), load(&self.errors)),
            (
                "lz_dev_injected_corruptions".into(),
                load(&self.corruptions),
            ),
            ("lz_dev_injected_drops".into(), load(&self.drops)),
            ("lz_dev_injected_stalls".into(), load(&self.stalls)),
        ]
    }
}
