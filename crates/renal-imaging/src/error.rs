use std::path::PathBuf;

/// Everything that can go wrong while reading or measuring an image.
///
/// Variants carry the evidence (file, field, shapes) so that a message names the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImagingError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: corrupt or truncated gzip stream ({detail})")]
    Gzip { path: PathBuf, detail: String },
    #[error("{path}: not a NIfTI file ({detail})")]
    NotNifti { path: PathBuf, detail: String },
    #[error("{path}: unsupported NIfTI field `{field}` = {value}")]
    Unsupported {
        path: PathBuf,
        field: &'static str,
        value: String,
    },
    #[error("{path}: invalid NIfTI header field `{field}` = {value}")]
    InvalidHeader {
        path: PathBuf,
        field: &'static str,
        value: String,
    },
    #[error("{path}: voxel data truncated: expected {expected} bytes after offset {offset}, found {found}")]
    Truncated {
        path: PathBuf,
        expected: usize,
        offset: usize,
        found: usize,
    },
    #[error(
        "{path}: voxel value {value} at index {index} is not a valid label (integers 0..=255)"
    )]
    InvalidLabel {
        path: PathBuf,
        value: f64,
        index: usize,
    },
    #[error("{what}: {detail}")]
    GeometryMismatch { what: String, detail: String },
    #[error("{what}: the mask has no voxels with label {label}")]
    EmptyMask { what: String, label: u8 },
    #[error("{path}: {detail}")]
    Dicom { path: PathBuf, detail: String },
    #[error("{what}: {detail}")]
    InvalidGeometry { what: String, detail: String },
    #[error("{path}: {detail}")]
    Format { path: PathBuf, detail: String },
    #[error("{what}: {count} voxels are not finite (NaN or infinite), the first at voxel {first:?}: a CT phase must hold a number in every voxel")]
    NonFiniteVoxels {
        what: String,
        count: usize,
        first: [usize; 3],
    },
    #[error("{path}: too large: {detail}")]
    TooLarge { path: PathBuf, detail: String },
    /// The caller gave up on the work ([`crate::cancel`]).
    #[error("cancelled: the work was given up (time limit or shutdown)")]
    Cancelled,
}

pub type Result<T, E = ImagingError> = std::result::Result<T, E>;
