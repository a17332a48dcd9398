//! DICOM RLE Lossless (transfer syntax 1.2.840.10008.1.2.5, PS3.5 Annex G): a frame is a
//! 64-byte header (the number of segments, then up to 15 segment offsets) and one PackBits
//! segment per byte plane, the most significant plane first. Decoded here to native little-endian
//! samples, so that the pixel module reads them as uncompressed data.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crate::bytes::arr_at;
use crate::error::{ImagingError, Result};

fn bad(path: &Path, detail: impl Into<String>) -> ImagingError {
    ImagingError::Dicom {
        path: path.to_path_buf(),
        detail: format!("RLE pixel data: {}", detail.into()),
    }
}

/// One PackBits segment, decoded to exactly `n` bytes (a longer run is the even-length
/// padding; a shorter one is an error).
fn packbits(path: &Path, seg: &[u8], n: usize, which: usize) -> Result<Vec<u8>> {
    // Two bytes of PackBits give at most 128: a segment too short for `n` bytes is refused
    // before any allocation.
    if n > seg.len().saturating_mul(64) {
        return Err(bad(
            path,
            format!("segment {which}: {} bytes cannot hold {n}", seg.len()),
        ));
    }
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while out.len() < n {
        let Some(&h) = seg.get(i) else { break };
        let h = h as i8;
        i += 1;
        if h >= 0 {
            let len = h as usize + 1;
            let lit = seg
                .get(i..i + len)
                .ok_or_else(|| bad(path, format!("segment {which}: a literal run past its end")))?;
            out.extend_from_slice(lit);
            i += len;
        } else if h != -128 {
            let b = *seg
                .get(i)
                .ok_or_else(|| bad(path, format!("segment {which}: a repeat run past its end")))?;
            out.extend(std::iter::repeat_n(b, (-(h as isize)) as usize + 1));
            i += 1;
        }
    }
    if out.len() < n {
        return Err(bad(
            path,
            format!(
                "segment {which} decodes to {} bytes, {n} expected",
                out.len()
            ),
        ));
    }
    out.truncate(n);
    Ok(out)
}

/// A frame of `pixels` samples of `bytes` bytes each (1 or 2), as little-endian samples.
pub(crate) fn decode_frame(
    path: &Path,
    frame: &[u8],
    pixels: usize,
    bytes: usize,
) -> Result<Vec<u8>> {
    let word = |k: usize| -> Option<usize> {
        arr_at::<4>(frame, 4 * k).map(|b| u32::from_le_bytes(b) as usize)
    };
    let segments = word(0).ok_or_else(|| bad(path, "no RLE header"))?;
    if segments != bytes {
        return Err(bad(
            path,
            format!(
                "{segments} segments for {bytes}-byte grayscale samples (one per byte expected)"
            ),
        ));
    }
    let mut planes = Vec::with_capacity(segments);
    for s in 0..segments {
        let start = word(1 + s).unwrap_or(0);
        let end = if s + 1 < segments {
            word(2 + s).unwrap_or(0)
        } else {
            frame.len()
        };
        let seg = frame
            .get(start..end)
            .filter(|_| start >= 64)
            .ok_or_else(|| {
                bad(
                    path,
                    format!("segment {s}: offsets {start}..{end} outside the frame"),
                )
            })?;
        planes.push(packbits(path, seg, pixels, s)?);
    }
    // Planes run from the most significant byte; samples are written little endian.
    let mut out = vec![0u8; pixels * bytes];
    for (p, plane) in planes.iter().enumerate() {
        let at = bytes - 1 - p;
        for (sample, &b) in out.chunks_exact_mut(bytes).zip(plane) {
            if let Some(o) = sample.get_mut(at) {
                *o = b;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PS3.5 G.3's PackBits rules on a hand-made frame of three 16-bit samples: 0x0102,
    /// 0x0102, 0x0304 (high bytes 01 01 03 as a repeat and a literal, low bytes 02 02 04).
    #[test]
    fn a_hand_encoded_frame_decodes_to_its_samples() {
        let mut f = vec![0u8; 64];
        f[0] = 2;
        f[4] = 64;
        let high = [0xFFu8, 0x01, 0x00, 0x03, 0x80]; // repeat 01 twice, literal 03, no-op
        let low = [0x02u8, 0x02, 0x02, 0x04];
        f[8] = (64 + high.len()) as u8;
        f.extend_from_slice(&high);
        f.extend_from_slice(&low);
        let p = Path::new("t.dcm");
        let out = decode_frame(p, &f, 3, 2).unwrap();
        assert_eq!(out, vec![0x02, 0x01, 0x02, 0x01, 0x04, 0x03]);
        // A segment that ends early, and a header claiming the wrong plane count.
        assert!(decode_frame(p, &f[..70], 3, 2).is_err());
        assert!(decode_frame(p, &f, 3, 1).is_err());
    }
}
