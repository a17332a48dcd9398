//! The last line against a bug: a panic inside one case's (or one request's) work is caught
//! at that boundary and becomes that case's failure, "internal error" with a report id, so
//! one bad case never loses a cohort. The panic's message goes to the log under the same id
//! (for the developers), never to a response; the parsers themselves return errors, and
//! reaching this is a bug to report.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// A short id tying a user-facing "internal error" to its log line.
pub fn report_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let h = renal_cohort::io::sha256_hex(format!("{t}-{n}-{}", std::process::id()).as_bytes());
    h[..12].to_string()
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// A panic, contained: "internal error" with the id of the log line that holds its message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("internal error (a bug, contained; report id {report_id}: please report it with the log)")]
pub struct Internal {
    pub report_id: String,
}

/// Runs `f`; a panic becomes [`Internal`] (with a report id), logged with `what` (a case id or
/// a request id, never patient values).
pub fn contain<T, E: From<Internal>>(what: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let id = report_id();
        tracing::error!(report_id = %id, case = %what, panic = %panic_text(p.as_ref()), "internal error contained");
        Err(E::from(Internal { report_id: id }))
    })
}
