//! What every request handler shares: the bundle (and its encoder's worker), the limits and
//! the upload folder.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::model::bundle::Bundle;
use crate::model::image::Embedder;

pub(crate) struct AppState {
    pub(super) bundle: Bundle,
    /// An image model's encoder, started once: kept alive in its own process (libtorch starts
    /// once) or in plain Rust in this one.
    pub(super) encoder: Option<Box<dyn Embedder + Send>>,
    /// Largest accepted body, bytes.
    pub(super) max_body: usize,
    pub(super) permits: Semaphore,
    pub(super) timeout: Duration,
    pub(super) uploads: UploadSpace,
    /// The bundle's digest, for the audit log.
    pub(super) bundle_digest: String,
    /// Time allowed to receive a request's body.
    pub(super) body_timeout: Duration,
}

/// Where requests' uploads are stored, and the byte budget they share.
pub(crate) struct UploadSpace {
    /// The server's private upload folder.
    pub(super) dir: PathBuf,
    /// Numbers the uploaded files.
    pub(super) counter: AtomicU64,
    /// Upload bytes on disk for the requests in flight, and the most allowed.
    pub(super) inflight: std::sync::Arc<AtomicU64>,
    pub(super) max_inflight: u64,
}

impl UploadSpace {
    pub(crate) fn new(dir: PathBuf, max_inflight: u64) -> UploadSpace {
        UploadSpace {
            dir,
            counter: AtomicU64::new(0),
            inflight: std::sync::Arc::new(AtomicU64::new(0)),
            max_inflight,
        }
    }
}
