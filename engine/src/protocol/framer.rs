//! Walking a connection's input request by request.
//!
//! [`parse`](super::parse) looks at one request; the [`Framer`] adds what must survive between
//! reads: a refused value that is still arriving and must be discarded, not parsed.

use super::{parse, Limits, Parsed, Then};

/// One step through the input.
#[derive(Debug)]
pub struct Step<'a> {
    /// Bytes of the input this step used up (discarded data, then the request or error).
    pub consumed: usize,
    /// What was found; [`Parsed::Incomplete`] when more input is needed.
    pub parsed: Parsed<'a>,
}

/// Splits a byte stream into requests across any number of reads.
#[derive(Debug, Default)]
pub struct Framer {
    /// Bytes of a refused value still to discard.
    swallow: usize,
}

impl Framer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next request or error at the start of `input` (the not yet consumed bytes). After an
    /// error that refuses a value, the value's bytes are discarded by the following steps.
    pub fn next<'a>(&mut self, input: &'a [u8], limits: &Limits) -> Step<'a> {
        let skipped = self.swallow.min(input.len());
        self.swallow -= skipped;
        if self.swallow > 0 {
            return Step {
                consumed: skipped,
                parsed: Parsed::Incomplete,
            };
        }
        let parsed = parse(&input[skipped..], limits);
        let len = match &parsed {
            Parsed::Incomplete => 0,
            Parsed::Request { len, .. } => *len,
            Parsed::Error { len, then, .. } => {
                if let Then::Swallow(n) | Then::SwallowAndDrop { swallow: n, .. } = then {
                    self.swallow = *n;
                }
                *len
            }
        };
        Step {
            consumed: skipped + len,
            parsed,
        }
    }
}
