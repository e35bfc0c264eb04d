//! Naming and opening the server's codec: `auto`, `software`, or a device spec.

use std::sync::Arc;

use super::{Accelerator, DispatchConfig, Dispatcher};
use crate::device::{self, DeviceOptions, DeviceSpec, OpenError, SpecError};

/// `--accel`: which codec path the server may use.
#[derive(Debug, Clone, PartialEq)]
pub enum CodecSpec {
    /// A card when one is found, else software.
    Auto,
    Software,
    Device(DeviceSpec),
}

impl std::str::FromStr for CodecSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s {
            "auto" => Ok(Self::Auto),
            "software" => Ok(Self::Software),
            other => other.parse().map(Self::Device),
        }
    }
}

/// Why the codec named could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DispatchOpenError {
    #[error(transparent)]
    Device(#[from] OpenError),
}

/// Opens the codec `spec` names, with the software fallback around any device. `auto` takes
/// the first XDMA card and falls back to software alone when there is none; it never picks
/// the simulator, which is for tests and must be named.
pub fn open(
    spec: &CodecSpec,
    config: DispatchConfig,
    options: DeviceOptions,
) -> Result<Dispatcher, DispatchOpenError> {
    let device: Option<Arc<dyn Accelerator>> = match spec {
        CodecSpec::Software => None,
        CodecSpec::Auto => match device::xdma::cards().first() {
            Some(&n) => Some(Arc::new(device::open(&DeviceSpec::Xdma(n), options)?)),
            None => None,
        },
        CodecSpec::Device(spec) => Some(Arc::new(device::open(spec, options)?)),
    };
    Ok(Dispatcher::new(device, config))
}
