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
    /// Predictions running at once at most; a permit is held by the work itself.
    pub(super) permits: std::sync::Arc<Semaphore>,
    /// Cancelled at shutdown: every request's work is a child of it.
    pub(super) stop: renal_imaging::cancel::Cancel,
    pub(super) timeout: Duration,
    pub(super) uploads: UploadSpace,
    /// The bundle's digest, for the audit log.
    pub(super) bundle_digest: String,
    /// Time allowed to receive a request's body.
    pub(super) body_timeout: Duration,
    /// The hospital's archive (`serve --pacs`), where a request may name a study.
    pub(super) pacs: Option<renal_dicomweb::Client>,
}

/// Where requests' uploads are stored (each request in a folder of its own below `dir`), and
/// the byte budget every request's held bytes share.
pub(crate) struct UploadSpace {
    /// The server's private upload folder.
    pub(super) dir: PathBuf,
    /// Upload bytes on disk for the requests in flight, and the most allowed.
    pub(super) inflight: std::sync::Arc<AtomicU64>,
    pub(super) max_inflight: u64,
}

impl UploadSpace {
    pub(crate) fn new(dir: PathBuf, max_inflight: u64) -> UploadSpace {
        UploadSpace {
            dir,
            inflight: std::sync::Arc::new(AtomicU64::new(0)),
            max_inflight,
        }
    }
}
