//! Cooperative cancellation: work that a caller gave up on (a server request past its time
//! limit, a server shutting down) stops at its next check instead of running to the end.
//!
//! A caller enters a [`Cancel`] token for the current thread ([`Cancel::enter`]); the readers,
//! the measurements and other long loops call [`check`] between units of work (a slice, a
//! chunk of a compressed stream) and return [`ImagingError::Cancelled`] once the token (or
//! any of its parents) is cancelled. Outside an entered scope [`check`] always succeeds, so the
//! CLI pays one thread-local read per unit of work and nothing else.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{ImagingError, Result};

/// A cancellation token: cancelled by [`Cancel::cancel`] on it or on any parent.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    flag: AtomicBool,
    parent: Option<Cancel>,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// A token cancelled with this one (a request's, under its server's).
    pub fn child(&self) -> Cancel {
        Cancel(Arc::new(Inner {
            flag: AtomicBool::new(false),
            parent: Some(self.clone()),
        }))
    }

    pub fn cancel(&self) {
        self.0.flag.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.flag.load(Ordering::Relaxed)
            || self.0.parent.as_ref().is_some_and(Cancel::is_cancelled)
    }

    /// Makes this token the current thread's until the guard is dropped.
    pub fn enter(&self) -> Entered {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        Entered { previous }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Cancel>> = const { RefCell::new(None) };
}

/// The current thread's token while alive; the previous one again when dropped.
#[must_use = "the token is the thread's only while the guard lives"]
pub struct Entered {
    previous: Option<Cancel>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The current thread's token, to enter on the threads of a parallel loop.
pub fn current() -> Option<Cancel> {
    CURRENT.with(|c| c.borrow().clone())
}

/// `Err(Cancelled)` once the current thread's token is cancelled.
pub fn check() -> Result<()> {
    let cancelled = CURRENT.with(|c| c.borrow().as_ref().is_some_and(Cancel::is_cancelled));
    if cancelled {
        Err(ImagingError::Cancelled)
    } else {
        Ok(())
    }
}

/// A reader that stops with an error once the current thread's token is cancelled (a long
/// decompression stops within one read call); the caller tells the cause with [`check`].
pub struct Checked<R>(pub R);

impl<R: std::io::Read> std::io::Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if check().is_err() {
            return Err(std::io::Error::other("cancelled"));
        }
        self.0.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_parent_stops_the_entered_child_and_only_inside_its_scope() {
        let server = Cancel::new();
        let request = server.child();
        assert!(check().is_ok());
        {
            let _in = request.enter();
            assert!(check().is_ok());
            server.cancel();
            assert!(matches!(check(), Err(ImagingError::Cancelled)));
        }
        // Outside the scope nothing is cancelled.
        assert!(check().is_ok());
        assert!(request.is_cancelled());
        assert!(!Cancel::new().is_cancelled());
    }
}
