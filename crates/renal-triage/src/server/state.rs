//! What every request handler shares: the bundle, the limits and the upload folder.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::model::bundle::Bundle;

pub(crate) struct AppState {
    pub(super) bundle: Bundle,
    /// Largest accepted body, bytes.
    pub(super) max_body: usize,
    pub(super) permits: Semaphore,
    pub(super) timeout: Duration,
    pub(super) uploads: PathBuf,
    pub(super) counter: AtomicU64,
}
