//! Resource limits on what one input may make this process allocate: a volume's voxels and
//! bytes, checked against its *header* before anything is allocated or decompressed, so that a
//! small file cannot expand into more memory than the limit (a gzip bomb stops at the size its
//! header declares), and input files that are not regular files (`/dev/zero`, a FIFO) are
//! refused before a byte is read.
//!
//! The limits are process-wide (one setting for a CLI run or a server), 2 GiB and 2^30 voxels
//! per volume by default; `renal-triage --max-volume-mib` changes the byte limit.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{ImagingError, Result};

/// Bytes one volume's voxels may take (as stored, and as decoded).
static MAX_BYTES: AtomicU64 = AtomicU64::new(2 << 30);
/// Voxels one volume may hold.
static MAX_VOXELS: AtomicU64 = AtomicU64::new(1 << 30);

/// The current limits: (bytes, voxels).
pub fn get() -> (u64, u64) {
    (
        MAX_BYTES.load(Ordering::Relaxed),
        MAX_VOXELS.load(Ordering::Relaxed),
    )
}

/// Sets the limits for the whole process.
pub fn set(max_bytes: u64, max_voxels: u64) {
    MAX_BYTES.store(max_bytes.max(1), Ordering::Relaxed);
    MAX_VOXELS.store(max_voxels.max(1), Ordering::Relaxed);
}

fn too_large(path: &Path, detail: String) -> ImagingError {
    ImagingError::TooLarge {
        path: path.to_path_buf(),
        detail,
    }
}

/// Checks a grid of `dims` with `bytes_per_voxel` against the limits (overflow-checked);
/// the voxel data's size in bytes.
pub fn check_grid(path: &Path, dims: &[u64], bytes_per_voxel: u64) -> Result<usize> {
    let (max_bytes, max_voxels) = get();
    let voxels = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .filter(|&v| v <= max_voxels)
        .ok_or_else(|| {
            too_large(
                path,
                format!(
                    "a grid of {dims:?} voxels is over the limit of {max_voxels} voxels per volume"
                ),
            )
        })?;
    let bytes = voxels
        .checked_mul(bytes_per_voxel)
        .filter(|&b| b <= max_bytes)
        .ok_or_else(|| {
            too_large(
                path,
                format!(
                    "{voxels} voxels of {bytes_per_voxel} bytes are over the limit of {} MiB per volume (--max-volume-mib)",
                    max_bytes >> 20
                ),
            )
        })?;
    usize::try_from(bytes).map_err(|_| too_large(path, format!("{bytes} bytes")))
}

/// Opens an input file, refusing anything but a regular file, and one larger than `max`
/// bytes (the limit by default); the file and its length.
pub fn open_regular(path: &Path, max: Option<u64>) -> Result<(std::fs::File, u64)> {
    let io = |source| ImagingError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Checked before opening too: opening a FIFO blocks until a writer comes.
    let not_regular = || ImagingError::Format {
        path: path.to_path_buf(),
        detail: "not a regular file (a device, FIFO or socket): refused".into(),
    };
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(not_regular());
    }
    let f = std::fs::File::open(path).map_err(io)?;
    let m = f.metadata().map_err(io)?;
    if !m.is_file() {
        return Err(ImagingError::Format {
            path: path.to_path_buf(),
            detail: "not a regular file (a device, FIFO or socket): refused".into(),
        });
    }
    let max = max.unwrap_or_else(|| get().0.saturating_add(1 << 20));
    if m.len() > max {
        return Err(too_large(
            path,
            format!(
                "{} bytes, over the limit of {} MiB for one input file",
                m.len(),
                max >> 20
            ),
        ));
    }
    Ok((f, m.len()))
}

/// Reads a whole input file (a regular file within the limit).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let (f, len) = open_regular(path, None)?;
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // At most the length seen (a file growing meanwhile is not followed).
    f.take(len)
        .read_to_end(&mut out)
        .map_err(|source| ImagingError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out)
}
