//! A completion channel's descriptor in tokio's reactor: the one place this crate hands a file
//! descriptor to the runtime.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A duplicate of a queue pair's (or listener's) event descriptor, registered for readability.
/// Owning the duplicate ties the registration's lifetime to this value and never to the queue
/// pair's: the descriptor stays open for as long as the reactor knows it.
pub(crate) struct EventSource(AsyncFd<OwnedFd>);

impl EventSource {
    /// Registers with the current runtime's reactor; must be called inside a runtime.
    pub(crate) fn register(fd: BorrowedFd<'_>) -> io::Result<Self> {
        let owned = fd.try_clone_to_owned()?;
        // SAFETY: `owned` is a valid descriptor this value owns; it is closed only when the
        // `AsyncFd` (which deregisters it first) is dropped, and `as_raw_fd` on an `OwnedFd`
        // always returns that same descriptor.
        let registered = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(Self(registered))
    }

    /// Ready once the descriptor was readable; then `acknowledge` consumes the events (so the
    /// next event makes it readable again) and the readiness is cleared. The caller then looks
    /// at the completion queue, which holds everything that caused the events.
    pub(crate) fn poll_fired(
        &self,
        cx: &mut Context<'_>,
        acknowledge: impl FnOnce(),
    ) -> Poll<io::Result<()>> {
        let mut guard = ready!(self.0.poll_read_ready(cx))?;
        acknowledge();
        guard.clear_ready();
        Poll::Ready(Ok(()))
    }
}
