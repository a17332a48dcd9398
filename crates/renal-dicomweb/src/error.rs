//! What can go wrong talking to an archive, in the archive's terms.

use std::path::PathBuf;

/// A DICOMweb error: each names the request (or the file) and says what the archive did.
#[derive(Debug, thiserror::Error)]
pub enum DicomWebError {
    #[error("{url}: `{url_given}` is not an http(s) URL")]
    BadUrl { url: String, url_given: String },
    #[error("{url}: the archive refused the credentials (HTTP {status}){hint}")]
    Unauthorized {
        url: String,
        status: u16,
        hint: &'static str,
    },
    #[error("{url}: not found in the archive (HTTP 404)")]
    NotFound { url: String },
    #[error("{url}: the archive answered HTTP {status}: {reason}")]
    Status {
        url: String,
        status: u16,
        reason: String,
    },
    #[error("{url}: no answer from the archive after {tries} tries: {detail}")]
    Unreachable {
        url: String,
        tries: u32,
        detail: String,
    },
    #[error("{url}: the archive's answer is not valid {what}: {detail}")]
    Malformed {
        url: String,
        what: &'static str,
        detail: String,
    },
    #[error("{url}: the answer exceeds the limit of {limit} bytes ({what}); raise --max-volume-mib if the archive's objects are this large")]
    TooLarge {
        url: String,
        what: &'static str,
        limit: u64,
    },
    #[error(
        "{url}: the archive refused to store {failed} of {sent} objects (HTTP {status}): {reasons}"
    )]
    StoreRefused {
        url: String,
        status: u16,
        sent: usize,
        failed: usize,
        reasons: String,
    },
    #[error("{}: {detail}", path.display())]
    Tls { path: PathBuf, detail: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DicomWebError {
    /// Whether trying again later may succeed (the archive down or overloaded), as opposed to
    /// an answer that will not change (4xx, a malformed or oversized answer).
    pub fn is_transient(&self) -> bool {
        matches!(self, DicomWebError::Unreachable { .. })
            || matches!(self, DicomWebError::Status { status, .. } if *status >= 500)
    }
}

pub type Result<T, E = DicomWebError> = std::result::Result<T, E>;
