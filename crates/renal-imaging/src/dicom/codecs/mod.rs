//! The compressed DICOM pixel encodings decoded through libraries: JPEG baseline and extended
//! with 8-bit samples (`jpeg-decoder`), JPEG-LS lossless and near-lossless (CharLS), JPEG 2000
//! lossless and lossy (OpenJPEG's Rust port, through `jpeg2k`). Each gives one frame's samples
//! as native little-endian bytes of the data set's BitsAllocated, after checking the
//! codestream's size against Rows x Columns (so a hostile header cannot claim a huge image).
//! A library that panics on a malformed codestream is contained: the frame is an error.
//!
//! Not decoded: JPEG with 12-bit samples (process 4; `jpeg-decoder` reads 8-bit DCT only) and
//! HTJ2K; those are refused naming the file and what to do.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

pub(crate) mod ljpeg;
pub(crate) mod rle;

use std::path::Path;

use crate::dicom::parse::err;
use crate::dicom::syntax::Pixels;
use crate::error::Result;

/// One encapsulated frame decoded to native little-endian samples of `bits` (8 or 16).
pub(crate) fn decode_frame(
    path: &Path,
    pixels: Pixels,
    frame: &[u8],
    rows: usize,
    columns: usize,
    (bits, signed): (usize, bool),
) -> Result<Vec<u8>> {
    if bits == 32 && !matches!(pixels, Pixels::Native | Pixels::Rle) {
        return Err(err(
            path,
            "32-bit samples in a JPEG, JPEG-LS or JPEG 2000 frame: not read here (unsupported)",
        ));
    }
    match pixels {
        Pixels::Native => Ok(frame.to_vec()),
        Pixels::Rle => {
            crate::dicom::codecs::rle::decode_frame(path, frame, rows * columns, bits / 8)
        }
        Pixels::LosslessJpeg => {
            crate::dicom::codecs::ljpeg::decode_frame(path, frame, rows, columns, bits / 8)
        }
        Pixels::Jpeg => jpeg(path, frame, rows, columns, bits),
        Pixels::JpegLs => jpeg_ls(path, frame, rows, columns, bits),
        Pixels::Jpeg2000 => jpeg_2000(path, frame, rows, columns, (bits, signed)),
    }
}

/// Runs a decoder, turning a panic inside the library into an error.
fn contained<T>(path: &Path, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(err(
            path,
            format!("{what}: the decoder failed on this codestream"),
        ))
    })
}

fn check_size(
    path: &Path,
    what: &str,
    got: (usize, usize),
    rows: usize,
    columns: usize,
) -> Result<()> {
    if got != (columns, rows) {
        return Err(err(
            path,
            format!(
                "{what}: the codestream holds {}x{} pixels, the data set says {columns}x{rows}",
                got.0, got.1
            ),
        ));
    }
    Ok(())
}

/// JPEG baseline or extended (DCT, Huffman) with 8-bit samples.
fn jpeg(path: &Path, data: &[u8], rows: usize, columns: usize, bits: usize) -> Result<Vec<u8>> {
    contained(path, "JPEG", || {
        let jerr = |e: jpeg_decoder::Error| {
            let s = e.to_string();
            if s.to_ascii_lowercase().contains("precision") {
                err(path, format!("JPEG: {s}: 12-bit JPEG Extended is not decoded here; decompress the series first, e.g. with dcmtk's dcmdjpeg"))
            } else {
                err(path, format!("JPEG: {s}"))
            }
        };
        let mut d = jpeg_decoder::Decoder::new(data);
        d.read_info().map_err(jerr)?;
        let info = d.info().ok_or_else(|| err(path, "JPEG: no frame header"))?;
        check_size(
            path,
            "JPEG",
            (info.width as usize, info.height as usize),
            rows,
            columns,
        )?;
        if info.pixel_format != jpeg_decoder::PixelFormat::L8 || bits != 8 {
            return Err(err(
                path,
                format!("JPEG: {:?} samples with BitsAllocated {bits}: only 8-bit grayscale lossy JPEG is decoded here (12-bit JPEG Extended is not; decompress the series first, e.g. with dcmtk's dcmdjpeg)", info.pixel_format),
            ));
        }
        d.decode().map_err(jerr)
    })
}

/// JPEG-LS, lossless or near-lossless.
fn jpeg_ls(path: &Path, data: &[u8], rows: usize, columns: usize, bits: usize) -> Result<Vec<u8>> {
    let mut c = charls::CharLS::default();
    let info = c
        .get_frame_info(data)
        .map_err(|e| err(path, format!("JPEG-LS: {e}")))?;
    check_size(
        path,
        "JPEG-LS",
        (info.width as usize, info.height as usize),
        rows,
        columns,
    )?;
    let sample_bytes = if info.bits_per_sample <= 8 { 1 } else { 2 };
    if info.component_count != 1 || sample_bytes != bits / 8 {
        return Err(err(
            path,
            format!(
                "JPEG-LS: {} components of {} bits, the data set says 1 of {bits}",
                info.component_count, info.bits_per_sample
            ),
        ));
    }
    // A fresh decoder: CharLS keeps state from reading the header.
    let mut c = charls::CharLS::default();
    let mut out = c
        .decode(data)
        .map_err(|e| err(path, format!("JPEG-LS: {e}")))?;
    if sample_bytes == 2 && cfg!(target_endian = "big") {
        out.chunks_exact_mut(2).for_each(|p| p.swap(0, 1));
    }
    Ok(out)
}

/// The JPEG 2000 codestream of a frame: the frame itself when it is a bare codestream (SOC
/// then SIZ at its first byte), or the contents of the `jp2c` box of a JP2 file, found by
/// walking the file's boxes (ISO/IEC 15444-1 Annex I) — never the first SOC+SIZ-looking bytes
/// anywhere, which may sit inside another box (an `xml ` box carrying a decoy header whose
/// size would be checked while OpenJPEG decoded the real one). Only this codestream is given
/// to the decoder, so what is checked is what is decoded.
fn j2k_codestream<'a>(path: &Path, data: &'a [u8]) -> Result<&'a [u8]> {
    const SOC_SIZ: [u8; 4] = [0xFF, 0x4F, 0xFF, 0x51];
    const JP2_SIGNATURE: [u8; 12] = [0, 0, 0, 12, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A];
    if data.get(..4) == Some(&SOC_SIZ[..]) {
        return Ok(data);
    }
    if data.get(..12) != Some(&JP2_SIGNATURE[..]) {
        return Err(err(
            path,
            "JPEG 2000: the frame is neither a codestream (SOC, SIZ at its start) nor a JP2 file",
        ));
    }
    let mut at = 0usize;
    while at < data.len() {
        let head = data
            .get(at..at + 8)
            .ok_or_else(|| err(path, "JPEG 2000: a JP2 box header is cut"))?;
        let len32 = crate::bytes::arr_at::<4>(head, 0).map_or(0, u32::from_be_bytes) as u64;
        let kind = head.get(4..8).unwrap_or_default();
        let (start, end) = match len32 {
            // To the end of the file.
            0 => (at + 8, data.len() as u64),
            // An extended length follows.
            1 => {
                let xl = data
                    .get(at + 8..at + 16)
                    .and_then(|b| crate::bytes::arr_at::<8>(b, 0))
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| err(path, "JPEG 2000: a JP2 box header is cut"))?;
                (at + 16, (at as u64).saturating_add(xl))
            }
            n => (at + 8, (at as u64).saturating_add(n)),
        };
        if end > data.len() as u64 || (end as usize) < start {
            return Err(err(
                path,
                format!("JPEG 2000: the JP2 box at byte {at} runs past the frame's end"),
            ));
        }
        let body = data.get(start..end as usize).unwrap_or_default();
        if kind == b"jp2c" {
            if body.get(..4) != Some(&SOC_SIZ[..]) {
                return Err(err(
                    path,
                    "JPEG 2000: the JP2 file's codestream box does not start with SOC, SIZ",
                ));
            }
            return Ok(body);
        }
        at = end as usize;
    }
    Err(err(
        path,
        "JPEG 2000: the JP2 file has no codestream box (jp2c)",
    ))
}

/// The codestream's image and tile sizes (its SIZ segment, at the codestream's start) checked
/// before OpenJPEG sees it: the image must be the frame's Rows x Columns, with one component
/// and at most 4,096 tiles (fuzzing found 1.8 kB codestreams declaring 1.7 million columns, or
/// 58,000 tiles, that kept the decoder busy for minutes), and its samples' signedness and
/// precision what the data set says (Pixel Representation, Bits Allocated): a codestream that
/// disagrees would decode to other values than the data set means, so it is refused by name.
fn check_j2k_header(
    path: &Path,
    code: &[u8],
    rows: usize,
    columns: usize,
    (bits, signed): (usize, bool),
) -> Result<()> {
    let siz = code
        .get(4..4 + 41)
        .ok_or_else(|| err(path, "JPEG 2000: the SIZ segment is cut"))?;
    let u32_at = |k: usize| crate::bytes::arr_at::<4>(siz, k).map_or(0, u32::from_be_bytes) as u64;
    let (x, y, xo, yo) = (u32_at(4), u32_at(8), u32_at(12), u32_at(16));
    let (xt, yt, xto, yto) = (u32_at(20), u32_at(24), u32_at(28), u32_at(32));
    let comps = crate::bytes::arr_at::<2>(siz, 36).map_or(0, u16::from_be_bytes);
    let width = x.saturating_sub(xo);
    let height = y.saturating_sub(yo);
    let tiles = if xt == 0 || yt == 0 || xto > xo || yto > yo {
        u64::MAX
    } else {
        x.saturating_sub(xto)
            .div_ceil(xt)
            .saturating_mul(y.saturating_sub(yto).div_ceil(yt))
    };
    if width != columns as u64 || height != rows as u64 || comps != 1 || tiles > 4096 {
        return Err(err(
            path,
            format!(
                "JPEG 2000: the codestream declares a {width} x {height} image in {} tiles with {comps} components, not this frame's {columns} x {rows} in one component",
                if tiles == u64::MAX { "invalid".to_string() } else { tiles.to_string() }
            ),
        ));
    }
    let ssiz = siz.get(38).copied().unwrap_or(0);
    let (code_signed, precision) = (ssiz & 0x80 != 0, (ssiz & 0x7F) as usize + 1);
    if code_signed != signed || precision > bits {
        let word = |s: bool| if s { "signed" } else { "unsigned" };
        return Err(err(
            path,
            format!(
                "JPEG 2000: the codestream holds {} {precision}-bit samples, but Pixel Representation and Bits Allocated say {} {bits}-bit: the values would be read otherwise than the data set means (unsupported)",
                word(code_signed),
                word(signed)
            ),
        ));
    }
    Ok(())
}

/// JPEG 2000 (a J2K codestream or a JP2 file), lossless or lossy.
fn jpeg_2000(
    path: &Path,
    data: &[u8],
    rows: usize,
    columns: usize,
    (bits, signed): (usize, bool),
) -> Result<Vec<u8>> {
    let code = j2k_codestream(path, data)?;
    check_j2k_header(path, code, rows, columns, (bits, signed))?;
    contained(path, "JPEG 2000", || {
        let img =
            jpeg2k::Image::from_bytes(code).map_err(|e| err(path, format!("JPEG 2000: {e}")))?;
        let comps = img.components();
        let c = match comps {
            [c] => c,
            _ => {
                return Err(err(
                    path,
                    format!("JPEG 2000: {} components, 1 expected", comps.len()),
                ))
            }
        };
        check_size(
            path,
            "JPEG 2000",
            (c.width() as usize, c.height() as usize),
            rows,
            columns,
        )?;
        let mut out = Vec::with_capacity(rows * columns * bits / 8);
        for &v in c.data() {
            match bits {
                8 => out.push(v as u8),
                _ => out.extend_from_slice(&(v as u16).to_le_bytes()),
            }
        }
        Ok(out)
    })
}
