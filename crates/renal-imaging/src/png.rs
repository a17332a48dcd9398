//! A minimal 8-bit grayscale PNG encoder (filter 0, zlib through flate2) for input previews.

use std::io::Write;

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// Encodes `pixels` (row-major, `width * height`, values clipped to [0, 1]) as a PNG.
pub fn encode_gray(width: usize, height: usize, pixels: &[f32]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(height * (width + 1));
    for r in 0..height {
        raw.push(0u8);
        for c in 0..width {
            let v = pixels.get(r * width + c).copied().unwrap_or(0.0);
            raw.push((v.clamp(0.0, 1.0) * 255.0).round() as u8);
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale, deflate, filter 0, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The channels of a case image side by side, separated by a 4-pixel white gap.
pub fn channels_strip(image: &crate::preprocess::CaseImage) -> (usize, usize, Vec<f32>) {
    let s = image.size;
    let n = image.channels.len().max(1);
    let gap = 4;
    let w = n * s + (n - 1) * gap;
    let mut px = vec![1.0f32; w * s];
    for c in 0..image.channels.len() {
        let plane = image.plane(c);
        for r in 0..s {
            for x in 0..s {
                px[r * w + c * (s + gap) + x] = plane[r * s + x];
            }
        }
    }
    (w, s, px)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_structure_and_pixels_decode_back() {
        let px = [0.0, 0.5, 1.0, 0.25];
        let b = encode_gray(2, 2, &px);
        assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&b[12..16], b"IHDR");
        // IDAT payload inflates to two filtered rows.
        let len = u32::from_be_bytes([b[33], b[34], b[35], b[36]]) as usize;
        assert_eq!(&b[37..41], b"IDAT");
        let mut d = flate2::read::ZlibDecoder::new(&b[41..41 + len]);
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut raw).unwrap();
        assert_eq!(raw, vec![0, 0, 128, 0, 255, 64]);
        assert_eq!(&b[b.len() - 8..b.len() - 4], b"IEND");
    }
}
