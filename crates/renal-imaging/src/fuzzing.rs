//! Entry points for coverage-guided fuzzing of parts of the readers that a whole file reaches
//! only through much else (`renal_triage::fuzz` targets `rtstruct` and `jp2`): arbitrary bytes
//! in, an answer or an error out; a panic or a hang is a bug. Not an API.

use std::path::Path;

use crate::dicom::parse::err;
use crate::error::Result;

/// A fixed grid for the contours: 64 x 64 pixels, 8 slices.
const GRID: [usize; 3] = [64, 64, 8];

/// RT structure set contour geometry: `data`'s first byte is the number of points per contour
/// (0: one contour of every point), the rest are points as three little-endian f32 (voxel
/// coordinates, any value: NaN, infinities, 1e30), put through the checks and rasterisation a
/// structure set's contours go through. The number of pixels filled.
pub fn rtstruct_geometry(data: &[u8]) -> Result<usize> {
    let what = Path::new("contours");
    let (&per, rest) = data.split_first().ok_or_else(|| err(what, "empty"))?;
    let points: Vec<[f64; 3]> = rest
        .chunks_exact(12)
        .map(|c| {
            let f = |k: usize| {
                let b = [c[4 * k], c[4 * k + 1], c[4 * k + 2], c[4 * k + 3]];
                f32::from_le_bytes(b) as f64
            };
            [f(0), f(1), f(2)]
        })
        .collect();
    let per = if per == 0 {
        points.len().max(1)
    } else {
        per as usize
    };
    let contours: Vec<Vec<[f64; 3]>> = points.chunks(per).map(<[_]>::to_vec).collect();
    crate::dicom::rtstruct::rasterise_voxel_contours(&contours, GRID).map_err(|f| err(what, f))
}

/// One JPEG 2000 frame (a codestream or a JP2 file) through the codestream lookup, the header
/// checks and the decoder: `data`'s first two bytes are the frame's rows and columns (1 to
/// 256 each), the third whether samples are signed (odd) and 8 or 16 bits (bit 1), the rest
/// the frame. The decoded bytes' count.
pub fn jpeg2000_frame(data: &[u8]) -> Result<usize> {
    let [rows, columns, flags, frame @ ..] = data else {
        return Err(err(Path::new("frame"), "too short"));
    };
    let bits = if flags & 2 != 0 { 8 } else { 16 };
    crate::dicom::codecs::decode_frame(
        Path::new("frame"),
        crate::dicom::syntax::Pixels::Jpeg2000,
        frame,
        *rows as usize + 1,
        *columns as usize + 1,
        (bits, flags & 1 == 1),
    )
    .map(|v| v.len())
}
