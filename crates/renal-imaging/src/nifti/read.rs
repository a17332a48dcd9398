//! Reading: gzip or plain bytes, the header, the voxels with their scaling.

use std::io::Read;
use std::path::Path;

use crate::error::{ImagingError, Result};
use crate::volume::{labels_from_values, LabelVolume, Volume};

use super::header::*;

/// The largest NIfTI header (NIfTI-2), read before anything else.
const HEADER_MAX: usize = 540;

/// Reads a NIfTI file's bytes (header, extensions, voxels), decompressing a gzip stream only
/// as far as its header says the voxels go: the buffer is sized from the header (checked
/// against [`crate::limits`]) and a stream that inflates beyond it is not followed, so a
/// small file cannot take more memory than its declared grid. A non-regular file is refused.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = crate::limits::read_file(path)?;
    if !(raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        // Plain: the file's own size is the bound (checked when it was opened).
        return Ok(raw);
    }
    gunzip_declared(path, &raw)
}

/// The decompressed bytes of a gzipped NIfTI file, up to the end of its declared voxels.
fn gunzip_declared(path: &Path, raw: &[u8]) -> Result<Vec<u8>> {
    let gz = |e: std::io::Error| ImagingError::Gzip {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let mut head = Vec::with_capacity(HEADER_MAX);
    flate2::read::MultiGzDecoder::new(raw)
        .take(HEADER_MAX as u64)
        .read_to_end(&mut head)
        .map_err(gz)?;
    let h = parse_header(path, &head)?;
    let total = h
        .vox_offset
        .checked_add(voxel_len(path, &h)?)
        .ok_or_else(|| invalid(path, "vox_offset", h.vox_offset))?;
    // Fast path: libdeflate, when the gzip trailer's size (ISIZE, modulo 2^32) is what the
    // header declares (or a little more: extensions, padding).
    if raw.len() >= 18 {
        let n = raw.len();
        let isize = u32::from_le_bytes([raw[n - 4], raw[n - 3], raw[n - 2], raw[n - 1]]) as usize;
        if isize >= total && isize - total <= 1 << 16 {
            let mut out = vec![0u8; isize];
            let mut d = libdeflater::Decompressor::new();
            if let Ok(written) = d.gzip_decompress(raw, &mut out) {
                if written == isize {
                    return Ok(out);
                }
            }
        }
    }
    // Streaming, stopped at the declared end (multi-member streams, files over 4 GiB).
    let mut out = Vec::with_capacity(total);
    flate2::read::MultiGzDecoder::new(raw)
        .take(total as u64)
        .read_to_end(&mut out)
        .map_err(gz)?;
    Ok(out)
}

/// Bytes of a header's voxels, within the limits.
fn voxel_len(path: &Path, h: &NiftiHeader) -> Result<usize> {
    let d = h.geometry.dims.map(|v| v as u64);
    crate::limits::check_grid(path, &d, h.datatype.size() as u64)
}

/// Reads a header only: only the file's start is read and decompressed.
pub fn read_header(path: &Path) -> Result<NiftiHeader> {
    let (f, _) = crate::limits::open_regular(path, None)?;
    let mut f = std::io::BufReader::new(f);
    let mut magic = [0u8; 2];
    let mut head = Vec::with_capacity(HEADER_MAX);
    let io = |source| ImagingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let n = f.read(&mut magic).map_err(io)?;
    head.extend_from_slice(&magic[..n]);
    if head == [0x1f, 0x8b] {
        let r = std::io::Read::chain(&magic[..], f);
        head.clear();
        flate2::read::MultiGzDecoder::new(r)
            .take(HEADER_MAX as u64)
            .read_to_end(&mut head)
            .map_err(|e| ImagingError::Gzip {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
    } else {
        f.take((HEADER_MAX - n) as u64)
            .read_to_end(&mut head)
            .map_err(io)?;
    }
    parse_header(path, &head)
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
