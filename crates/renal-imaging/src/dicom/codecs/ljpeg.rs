//! Lossless JPEG (ITU T.81 process 14: DICOM's JPEG Lossless, transfer syntaxes
//! 1.2.840.10008.1.2.4.57 and .70 (selection value 1)), one grayscale component of 2 to 16
//! bits: Huffman-coded differences from a predicted sample (H.1). Decoded to little-endian
//! 16-bit (or 8-bit) samples for the pixel module. Restart intervals and several components are
//! refused by name.

// Not under the codecs' indexing denial, by choice (docs/fuzz.md): its segment reads are
// length-checked before they index, its pixel loop indexes a buffer sized from the frame header.
#![allow(clippy::indexing_slicing)]

use std::path::Path;

use crate::error::{ImagingError, Result};

fn bad(path: &Path, detail: impl Into<String>) -> ImagingError {
    ImagingError::Dicom {
        path: path.to_path_buf(),
        detail: format!("lossless JPEG pixel data: {}", detail.into()),
    }
}

/// A Huffman table in the decoding form of T.81 F.2.2.3.
#[derive(Clone, Default)]
struct Huffman {
    maxcode: [i32; 18],
    mincode: [i32; 17],
    valptr: [usize; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: Vec<u8>) -> Huffman {
        let mut h = Huffman {
            maxcode: [-1; 18],
            values,
            ..Huffman::default()
        };
        let (mut code, mut k) = (0i32, 0usize);
        for l in 1..=16 {
            let n = counts[l - 1] as usize;
            if n > 0 {
                h.valptr[l] = k;
                h.mincode[l] = code;
                code += n as i32;
                k += n;
                h.maxcode[l] = code - 1;
            }
            code <<= 1;
        }
        h.maxcode[17] = i32::MAX;
        h
    }
}

/// Entropy-coded bits, with the 0xFF00 stuffing removed; a marker ends the data.
struct Bits<'a> {
    d: &'a [u8],
    pos: usize,
    acc: u32,
    n: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> u32 {
        if self.n == 0 {
            let mut b = 0u32;
            if let Some(&x) = self.d.get(self.pos) {
                if x == 0xFF && self.d.get(self.pos + 1) == Some(&0) {
                    self.pos += 2;
                    b = 0xFF;
                } else if x != 0xFF {
                    self.pos += 1;
                    b = x as u32;
                }
            }
            self.acc = b;
            self.n = 8;
        }
        self.n -= 1;
        (self.acc >> self.n) & 1
    }

    fn bits(&mut self, k: u32) -> u32 {
        (0..k).fold(0, |v, _| (v << 1) | self.bit())
    }

    fn decode(&mut self, h: &Huffman) -> Option<u8> {
        let mut code = self.bit() as i32;
        let mut l = 1;
        while l <= 16 && code > h.maxcode[l] {
            code = (code << 1) | self.bit() as i32;
            l += 1;
        }
        if l > 16 {
            return None;
        }
        h.values
            .get(h.valptr[l] + (code - h.mincode[l]) as usize)
            .copied()
    }
}

/// The frame's header fields.
struct Frame {
    precision: u32,
    rows: usize,
    cols: usize,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 2)
        .map(|v| u16::from_be_bytes([v[0], v[1]]) as usize)
}

/// Decodes one lossless JPEG frame of `rows` x `cols` samples to little-endian samples of
/// `bytes` bytes (1 or 2).
pub(crate) fn decode_frame(
    path: &Path,
    data: &[u8],
    rows: usize,
    cols: usize,
    bytes: usize,
) -> Result<Vec<u8>> {
    if data.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err(bad(path, "no JPEG start-of-image marker"));
    }
    let mut tables: [Option<Huffman>; 4] = Default::default();
    let mut frame: Option<Frame> = None;
    let mut i = 2;
    loop {
        let marker = match data.get(i..i + 2) {
            Some([0xFF, m]) => *m,
            _ => return Err(bad(path, format!("no marker at byte {i}"))),
        };
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = be16(data, i + 2).ok_or_else(|| bad(path, "truncated marker segment"))?;
        let seg = data
            .get(i + 4..i + 2 + len)
            .filter(|_| len >= 2)
            .ok_or_else(|| bad(path, format!("marker 0x{marker:02X}: segment past the end")))?;
        match marker {
            0xC3 => {
                if seg.len() < 6 || seg[5] != 1 {
                    return Err(bad(path, "only one-component (grayscale) frames are read"));
                }
                frame = Some(Frame {
                    precision: seg[0] as u32,
                    rows: be16(seg, 1).unwrap_or(0),
                    cols: be16(seg, 3).unwrap_or(0),
                });
            }
            0xC0..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                return Err(bad(
                    path,
                    format!("SOF marker 0x{marker:02X}: not lossless (process 14) JPEG"),
                ));
            }
            0xC4 => {
                let mut k = 0;
                while k + 17 <= seg.len() {
                    let id = (seg[k] & 0x0F) as usize;
                    let mut counts = [0u8; 16];
                    counts.copy_from_slice(&seg[k + 1..k + 17]);
                    let n: usize = counts.iter().map(|&c| c as usize).sum();
                    let vals = seg
                        .get(k + 17..k + 17 + n)
                        .ok_or_else(|| bad(path, "Huffman table past its segment"))?;
                    *tables
                        .get_mut(id)
                        .ok_or_else(|| bad(path, "Huffman table id > 3"))? =
                        Some(Huffman::new(&counts, vals.to_vec()));
                    k += 17 + n;
                }
            }
            0xDD if be16(seg, 0).unwrap_or(0) != 0 => {
                return Err(bad(path, "restart intervals are not supported"));
            }
            0xDA => {
                let f = frame
                    .as_ref()
                    .ok_or_else(|| bad(path, "scan before the frame header"))?;
                if seg.len() < 6 || seg[0] != 1 {
                    return Err(bad(path, "only one-component scans are read"));
                }
                let table = tables
                    .get((seg[2] >> 4) as usize)
                    .and_then(|t| t.as_ref())
                    .ok_or_else(|| bad(path, "the scan's Huffman table is not defined"))?;
                let (predictor, pt) = (seg[3], (seg[5] & 0x0F) as u32);
                if f.rows != rows || f.cols != cols || !(2..=16).contains(&f.precision) {
                    return Err(bad(
                        path,
                        format!(
                            "a {}x{} frame of {} bits for a {rows}x{cols} image",
                            f.rows, f.cols, f.precision
                        ),
                    ));
                }
                let scan = &data[i + 2 + len..];
                return samples(path, scan, f, table, predictor, pt, bytes);
            }
            0xD9 => return Err(bad(path, "end of image before any scan")),
            _ => {}
        }
        i += 2 + len;
    }
}

/// The scan's samples (T.81 H.1.2: prediction, then the Huffman-coded difference modulo 2^16).
fn samples(
    path: &Path,
    scan: &[u8],
    f: &Frame,
    h: &Huffman,
    sv: u8,
    pt: u32,
    bytes: usize,
) -> Result<Vec<u8>> {
    if !(1..=7).contains(&sv) {
        return Err(bad(path, format!("predictor selection value {sv}")));
    }
    let (rows, cols) = (f.rows, f.cols);
    // Every sample takes at least one bit of Huffman code: a frame claiming more samples than
    // its data can hold is refused before any allocation.
    if rows * cols > scan.len().saturating_mul(8) {
        return Err(bad(
            path,
            format!(
                "{} bytes of scan data cannot hold {rows}x{cols} samples",
                scan.len()
            ),
        ));
    }
    let mut bits = Bits {
        d: scan,
        pos: 0,
        acc: 0,
        n: 0,
    };
    let mut s = vec![0u16; rows * cols];
    let initial = 1i32 << (f.precision - pt - 1);
    for r in 0..rows {
        for c in 0..cols {
            let at = |rr: usize, cc: usize| s[rr * cols + cc] as i32;
            let px = match (r, c) {
                (0, 0) => initial,
                (0, _) => at(0, c - 1),
                (_, 0) => at(r - 1, 0),
                _ => {
                    let (ra, rb, rc) = (at(r, c - 1), at(r - 1, c), at(r - 1, c - 1));
                    match sv {
                        1 => ra,
                        2 => rb,
                        3 => rc,
                        4 => ra + rb - rc,
                        5 => ra + ((rb - rc) >> 1),
                        6 => rb + ((ra - rc) >> 1),
                        _ => (ra + rb) >> 1,
                    }
                }
            };
            let ssss = bits.decode(h).ok_or_else(|| {
                bad(
                    path,
                    format!("an invalid Huffman code at row {r}, column {c}"),
                )
            })? as u32;
            let diff = match ssss {
                0 => 0,
                16 => 32768,
                1..=15 => {
                    let v = bits.bits(ssss) as i32;
                    if v < 1 << (ssss - 1) {
                        v - (1 << ssss) + 1
                    } else {
                        v
                    }
                }
                _ => return Err(bad(path, format!("difference category {ssss}"))),
            };
            s[r * cols + c] = (px + diff) as u16;
        }
    }
    let mut out = Vec::with_capacity(rows * cols * bytes);
    for v in s {
        let v = (v as u32) << pt;
        if bytes == 1 {
            out.push(v as u8);
        } else {
            out.extend_from_slice(&(v as u16).to_le_bytes());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made stream: SOI, SOF3 (16 bits, `rows` x `cols`, one component), one Huffman
    /// table whose only code (`0`, one bit) means "difference 0", SOS (predictor 1), `scan`.
    fn stream(rows: u16, cols: u16, scan: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, 0xD8, 0xFF, 0xC3, 0, 11, 16];
        s.extend_from_slice(&rows.to_be_bytes());
        s.extend_from_slice(&cols.to_be_bytes());
        s.extend_from_slice(&[1, 1, 0x11, 0]);
        s.extend_from_slice(&[0xFF, 0xC4, 0, 20, 0x00, 1]);
        s.extend_from_slice(&[0; 15]);
        s.push(0); // the value: category 0
        s.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0x00, 1, 0, 0]);
        s.extend_from_slice(scan);
        s.extend_from_slice(&[0xFF, 0xD9]);
        s
    }

    #[test]
    fn zero_differences_give_the_initial_prediction_everywhere() {
        // Four samples, four `0` codes: each is the first prediction, 2^(16 - 1).
        let out = decode_frame(Path::new("t.dcm"), &stream(2, 2, &[0x0F]), 2, 2, 2).unwrap();
        assert_eq!(out, [0x00, 0x80].repeat(4));
    }

    #[test]
    fn a_frame_larger_than_its_data_is_refused_before_allocating() {
        let e = decode_frame(
            Path::new("t.dcm"),
            &stream(60000, 60000, &[0]),
            60000,
            60000,
            2,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot hold 60000x60000 samples"), "{e}");
    }
}
