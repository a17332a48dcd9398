//! Reading: gzip or plain bytes, the header, the voxels with their scaling.

use std::io::Read;
use std::path::Path;

use crate::error::{ImagingError, Result};
use crate::volume::{labels_from_values, LabelVolume, Volume};

use super::header::*;

/// Reads a whole file, decompressing it when it starts with the gzip magic bytes.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|source| ImagingError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        gunzip(path, &raw)
    } else {
        Ok(raw)
    }
}

pub(crate) fn gunzip(path: &Path, raw: &[u8]) -> Result<Vec<u8>> {
    // Fast path: libdeflate with the size from the gzip trailer (ISIZE, the size modulo 2^32).
    if raw.len() >= 18 {
        let n = raw.len();
        let isize = u32::from_le_bytes([raw[n - 4], raw[n - 3], raw[n - 2], raw[n - 1]]) as usize;
        // A plausible size only: a truncated file ends with arbitrary bytes.
        if isize > 0 && isize <= raw.len().saturating_mul(1100) {
            let mut out = vec![0u8; isize];
            let mut d = libdeflater::Decompressor::new();
            if let Ok(written) = d.gzip_decompress(raw, &mut out) {
                if written == isize {
                    return Ok(out);
                }
            }
        }
    }
    // Slow path (multi-member streams, files over 4 GiB) and precise error messages.
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .read_to_end(&mut out)
        .map_err(|e| ImagingError::Gzip {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    Ok(out)
}

/// Reads a header only (the file is still decompressed; headers are at the start).
pub fn read_header(path: &Path) -> Result<NiftiHeader> {
    let b = read_maybe_gzip(path)?;
    parse_header(path, &b)
}

/// Reads a label map (segmentation or mask): any datatype whose (scaled) values are integers
/// in 0..=255. A non-integral or out-of-range value is an error naming the voxel index.
pub fn read_labels(path: &Path) -> Result<LabelVolume> {
    let mut b = read_maybe_gzip(path)?;
    let h = parse_header(path, &b)?;
    if h.datatype == DataType::U8 && h.scaling.is_none() {
        // Fast path (KiTS23 and most label maps): drop the header in place, no second buffer.
        let n = voxel_bytes(path, &h, &b)?.len();
        b.copy_within(h.vox_offset..h.vox_offset + n, 0);
        b.truncate(n);
        return Volume::new(h.geometry, b);
    }
    let data = voxel_bytes(path, &h, &b)?;
    let (slope, inter) = h.scaling.unwrap_or((1.0, 0.0));
    let geometry = h.geometry.clone();
    labels_from_values(path, geometry, |f| {
        for_each_value(&h, data, |i, v| f(i, v * slope + inter))
    })
}

/// Reads an intensity image (e.g. CT in HU) as f32 with the scaling applied.
pub fn read_scalar(path: &Path) -> Result<Volume<f32>> {
    let b = read_maybe_gzip(path)?;
    let h = parse_header(path, &b)?;
    let data = voxel_bytes(path, &h, &b)?;
    let (slope, inter) = h.scaling.unwrap_or((1.0, 0.0));
    let mut out = vec![0f32; h.geometry.len()];
    for_each_value(&h, data, |i, v| out[i] = (v * slope + inter) as f32);
    Volume::new(h.geometry, out)
}
