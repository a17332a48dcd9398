//! Reading: gzip or plain bytes, the header, the voxels with their scaling.

use std::io::Read;
use std::path::Path;

use crate::error::{ImagingError, Result};
use crate::volume::{labels_from_values, LabelVolume, Volume};

use super::header::*;

/// The largest NIfTI header (NIfTI-2), read before anything else.
const HEADER_MAX: usize = 540;

/// Compressed files up to this size are read whole and inflated by libdeflate (fast); larger
/// ones are inflated as a stream from the file (the compressed bytes never all in memory).
const WHOLE_GZIP_MAX: u64 = 64 << 20;

/// A file opened for reading from its first byte, after a peek at its gzip magic.
type Opened = std::io::Chain<std::io::Cursor<Vec<u8>>, std::io::BufReader<std::fs::File>>;

/// Opens a regular file (anything else is refused): the reader, whether the file is gzip,
/// and its length.
fn open(path: &Path) -> Result<(Opened, bool, u64)> {
    let (f, len) = crate::limits::open_regular(path, None)?;
    let mut f = std::io::BufReader::new(f);
    let mut magic = Vec::with_capacity(2);
    (&mut f)
        .take(2)
        .read_to_end(&mut magic)
        .map_err(read_error(path, false))?;
    let gzip = magic == [0x1f, 0x8b];
    Ok((std::io::Cursor::new(magic).chain(f), gzip, len))
}

/// The error of a failed read: an I/O error, or for an inflated stream a gzip error.
fn read_error(path: &Path, gzip: bool) -> impl Fn(std::io::Error) -> ImagingError + '_ {
    move |e| {
        if gzip {
            ImagingError::Gzip {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }
        } else {
            ImagingError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    }
}

/// Reads a NIfTI file's bytes (header, extensions, voxels): the header first, then only as
/// far as it says the voxels go, into a buffer sized from it (checked against
/// [`crate::limits`]). A gzip stream that inflates beyond the declared end is not followed,
/// and a plain file's surplus is not read, so no file takes more memory than its declared
/// grid (plus, for a gzip file under 64 MiB, its compressed bytes). A non-regular file is
/// refused.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let (mut r, gzip, len) = open(path)?;
    if !gzip {
        return read_declared(path, r, false);
    }
    if len <= WHOLE_GZIP_MAX {
        let mut raw = Vec::with_capacity(len as usize);
        r.read_to_end(&mut raw).map_err(read_error(path, false))?;
        return gunzip_declared(path, &raw);
    }
    read_declared(path, flate2::read::MultiGzDecoder::new(r), true)
}

/// The header's bytes (at most the largest header) read from `r`, and the header parsed.
fn read_head(path: &Path, r: &mut impl Read, gzip: bool) -> Result<(Vec<u8>, NiftiHeader)> {
    let mut head = Vec::with_capacity(HEADER_MAX);
    r.take(HEADER_MAX as u64)
        .read_to_end(&mut head)
        .map_err(read_error(path, gzip))?;
    let h = parse_header(path, &head)?;
    Ok((head, h))
}

/// The header, then the declared rest, from a reader (a plain file or a gzip stream).
fn read_declared(path: &Path, mut r: impl Read, gzip: bool) -> Result<Vec<u8>> {
    let (head, h) = read_head(path, &mut r, gzip)?;
    read_rest(path, r, head, declared_end(path, &h)?, gzip)
}

/// Continues `out` (what was read so far) from `r` up to `total` bytes, and no further.
fn read_rest(
    path: &Path,
    r: impl Read,
    mut out: Vec<u8>,
    total: usize,
    gzip: bool,
) -> Result<Vec<u8>> {
    out.reserve(total.saturating_sub(out.len()));
    let read = crate::cancel::Checked(r)
        .take(total.saturating_sub(out.len()) as u64)
        .read_to_end(&mut out);
    if let Err(e) = read {
        crate::cancel::check()?;
        return Err(read_error(path, gzip)(e));
    }
    Ok(out)
}

/// Where a header's voxels end (header, extensions and voxels), within the limits: the
/// voxels within the volume limit, and the extensions before them at most 16 MiB (a huge
/// `vox_offset` would otherwise size the buffer; found by fuzzing).
fn declared_end(path: &Path, h: &NiftiHeader) -> Result<usize> {
    const MAX_EXTENSIONS: usize = 16 << 20;
    if h.vox_offset > MAX_EXTENSIONS {
        return Err(invalid(path, "vox_offset", h.vox_offset));
    }
    h.vox_offset
        .checked_add(voxel_len(path, h)?)
        .ok_or_else(|| invalid(path, "vox_offset", h.vox_offset))
}

/// The decompressed bytes of a (small) gzipped NIfTI file held whole, up to the end of its
/// declared voxels.
fn gunzip_declared(path: &Path, raw: &[u8]) -> Result<Vec<u8>> {
    let mut stream = flate2::read::MultiGzDecoder::new(raw);
    let (head, h) = read_head(path, &mut stream, true)?;
    let total = declared_end(path, &h)?;
    // Fast path: libdeflate, when the gzip trailer's size (ISIZE, modulo 2^32) is what the
    // header declares (or a little more: extensions, padding).
    if let Some(&[a, b, c, d]) = raw.len().checked_sub(4).and_then(|n| raw.get(n..)) {
        let isize = u32::from_le_bytes([a, b, c, d]) as usize;
        if raw.len() >= 18 && isize >= total && isize - total <= 1 << 16 {
            let mut out = vec![0u8; isize];
            let mut d = libdeflater::Decompressor::new();
            if let Ok(written) = d.gzip_decompress(raw, &mut out) {
                if written == isize {
                    return Ok(out);
                }
            }
        }
    }
    // The stream, from where the header ended.
    read_rest(path, stream, head, total, true)
}

/// Bytes of a header's voxels, within the limits.
fn voxel_len(path: &Path, h: &NiftiHeader) -> Result<usize> {
    let d = h.geometry.dims.map(|v| v as u64);
    crate::limits::check_grid(path, &d, h.datatype.size() as u64)
}

/// Reads a header only: only the file's start is read and decompressed.
pub fn read_header(path: &Path) -> Result<NiftiHeader> {
    let (mut r, gzip, _) = open(path)?;
    let (_, h) = if gzip {
        read_head(path, &mut flate2::read::MultiGzDecoder::new(r), true)?
    } else {
        read_head(path, &mut r, false)?
    };
    Ok(h)
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
    // The limit holds for the float32 volume this decodes to, checked from the header alone.
    let h = read_header(path)?;
    crate::limits::check_grid(path, &h.geometry.dims.map(|d| d as u64), 4)?;
    let b = read_maybe_gzip(path)?;
    let h = parse_header(path, &b)?;
    let data = voxel_bytes(path, &h, &b)?;
    let (slope, inter) = h.scaling.unwrap_or((1.0, 0.0));
    let mut out = vec![0f32; h.geometry.len()];
    for_each_value(&h, data, |i, v| out[i] = (v * slope + inter) as f32);
    Volume::new(h.geometry, out)
}
