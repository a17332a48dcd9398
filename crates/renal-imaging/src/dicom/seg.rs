//! DICOM Segmentation objects (binary, fractional and label-map SEG) rebuilt on the referenced
//! CT's grid.
//!
//! A SEG stores frames only where a segment is present, each with its plane position (and the
//! orientation and pixel spacing, per frame or shared). Each frame is placed on the CT's grid:
//! its first pixel and its row and column steps must fall on the grid's voxel lattice (within
//! 1% of a voxel; any axis order or flip of the CT is accepted), and every set pixel must lie
//! inside the grid. A frame that does not is an error naming the frame and its segment.
//! Fractional frames count a pixel in from half the maximum fractional value. Overlapping
//! segments resolve by [`crate::labelmap::precedence`].

use std::path::Path;

use crate::dicom::parse::{err, frames, group, malformed, DataSet, Fault};
use crate::dicom::syntax::{Pixels, Syntax};
use crate::dicom::tags::{
    BITS_ALLOCATED, CODE_MEANING, COLUMNS, MAX_FRACTIONAL, NUMBER_OF_FRAMES, ORIENTATION,
    PER_FRAME_GROUPS, PIXEL_DATA, PIXEL_MEASURES, PIXEL_SPACING, PLANE_ORIENTATION, PLANE_POSITION,
    POSITION, PROPERTY_TYPE, REFERENCED_SEGMENT, ROWS, SEGMENTATION_TYPE, SEGMENT_IDENTIFICATION,
    SEGMENT_LABEL, SEGMENT_NUMBER, SEGMENT_SEQUENCE, SHARED_GROUPS,
};
use crate::error::Result;
use crate::labelmap::{precedence, segment_role, LabelMap};
use crate::volume::{Geometry, LabelVolume, Volume};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Binary,
    Fractional(u32),
    LabelMap,
}

/// Where one frame lies on a grid: the continuous voxel index of its first pixel and the
/// index steps of one column and one row.
pub(crate) struct Placement {
    pub origin: [f64; 3],
    pub col_step: [f64; 3],
    pub row_step: [f64; 3],
}

/// The placement of a plane (LPS position, orientation, spacing) on `grid`.
pub(crate) fn place(
    grid: &Geometry,
    position: &[f64],
    orientation: &[f64],
    spacing: &[f64],
) -> std::result::Result<Placement, Fault> {
    let ras = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let p = ras([position[0], position[1], position[2]]);
    let idx = |q: [f64; 3]| {
        grid.index_of(q)
            .ok_or_else(|| malformed("the CT's affine is singular"))
    };
    let origin = idx(p)?;
    let step = |dir: [f64; 3], mm: f64| -> std::result::Result<[f64; 3], Fault> {
        let d = ras(dir);
        let q = idx([p[0] + d[0] * mm, p[1] + d[1] * mm, p[2] + d[2] * mm])?;
        Ok([q[0] - origin[0], q[1] - origin[1], q[2] - origin[2]])
    };
    let o = orientation;
    // Pixel Spacing is (between rows, between columns).
    Ok(Placement {
        origin,
        col_step: step([o[0], o[1], o[2]], spacing[1])?,
        row_step: step([o[3], o[4], o[5]], spacing[0])?,
    })
}

impl Placement {
    /// Whether the frame lies on the grid's lattice: integer origin, unit axis steps.
    pub fn on_lattice(&self) -> bool {
        let near = |x: f64| (x - x.round()).abs() < 0.01;
        let unit = |s: &[f64; 3]| {
            s.iter().all(|&x| near(x)) && s.iter().map(|x| x.round().abs()).sum::<f64>() == 1.0
        };
        self.origin.iter().all(|&x| near(x)) && unit(&self.col_step) && unit(&self.row_step)
    }

    /// The voxel of pixel (row, column), if inside `dims`.
    pub fn voxel(&self, row: usize, col: usize, dims: [usize; 3]) -> Option<[usize; 3]> {
        let mut v = [0usize; 3];
        for a in 0..3 {
            let x =
                (self.origin[a] + self.col_step[a] * col as f64 + self.row_step[a] * row as f64)
                    .round();
            if x < 0.0 || x >= dims[a] as f64 {
                return None;
            }
            v[a] = x as usize;
        }
        Some(v)
    }
}

/// The segments' roles, by segment number (index), `None` for background segments.
fn segment_roles(path: &Path, data: &DataSet, map: Option<&LabelMap>) -> Result<Vec<Option<u8>>> {
    let mut roles = vec![None; 1];
    for s in data.seq(SEGMENT_SEQUENCE) {
        let n = s
            .us(SEGMENT_NUMBER, "SegmentNumber")
            .map_err(|d| err(path, d))?;
        if n == 0 {
            continue; // a label-map SEG may describe its background as segment 0
        }
        let label = s.text(SEGMENT_LABEL).unwrap_or_default();
        let meaning = s
            .seq(PROPERTY_TYPE)
            .first()
            .and_then(|c| c.text(CODE_MEANING))
            .unwrap_or_default();
        let role = segment_role(map, n as u32, &[&label, &meaning]).map_err(|d| err(path, d))?;
        if roles.len() <= n {
            roles.resize(n + 1, None);
        }
        roles[n] = role;
    }
    if roles.len() == 1 {
        return Err(err(path, "the SEG has no SegmentSequence (0062,0002)"));
    }
    Ok(roles)
}

/// Rebuilds a SEG's segments on `grid` as a label map (kidney 1, tumor 2, cyst 3).
pub(crate) fn read(
    path: &Path,
    data: &DataSet,
    syntax: Syntax,
    grid: &Geometry,
    map: Option<&LabelMap>,
) -> Result<LabelVolume> {
    let e = |d: Fault| err(path, d);
    let kind = match data.text(SEGMENTATION_TYPE).as_deref() {
        Some("BINARY") => Kind::Binary,
        Some("FRACTIONAL") => {
            let max = data
                .us(MAX_FRACTIONAL, "MaximumFractionalValue")
                .map_err(e)?;
            Kind::Fractional(max.max(1) as u32)
        }
        Some("LABELMAP") => Kind::LabelMap,
        other => {
            return Err(err(
                path,
                format!("SegmentationType {other:?} is not BINARY, FRACTIONAL or LABELMAP"),
            ))
        }
    };
    let roles = segment_roles(path, data, map)?;
    let rows = data.us(ROWS, "Rows").map_err(e)?;
    let cols = data.us(COLUMNS, "Columns").map_err(e)?;
    let n = data.int(NUMBER_OF_FRAMES, "NumberOfFrames").map_err(e)?;
    let bits = data.us(BITS_ALLOCATED, "BitsAllocated").map_err(e)?;
    let per_frame = data.seq(PER_FRAME_GROUPS);
    if n < 1 || per_frame.len() as i64 != n {
        return Err(err(
            path,
            format!(
                "{n} frames but {} per-frame functional groups",
                per_frame.len()
            ),
        ));
    }
    let n = n as usize;
    let shared = data.seq(SHARED_GROUPS).first();
    crate::limits::check_grid(path, &[rows as u64, cols as u64, n as u64], 2)?;
    let pixels = frame_pixels(path, data, syntax, kind, bits, (rows, cols), n)?;
    let mut out = vec![0u8; grid.len()];
    for (f, fg) in per_frame.iter().enumerate() {
        let at = |d: Fault| err(path, d.at(format!("frame {}", f + 1)));
        let segment = match kind {
            Kind::LabelMap => 0,
            _ => group(fg, shared, SEGMENT_IDENTIFICATION)
                .ok_or(Fault::Absent("SegmentIdentificationSequence"))
                .and_then(|g| g.us(REFERENCED_SEGMENT, "ReferencedSegmentNumber"))
                .map_err(at)?,
        };
        let pl = frame_placement(grid, fg, shared).map_err(at)?;
        let what = format!("frame {} (segment {segment})", f + 1);
        if !pl.on_lattice() {
            return Err(err(path, format!("{what}: not on the referenced CT's grid (its first pixel falls at voxel {:.2?})", pl.origin)));
        }
        for r in 0..rows {
            for c in 0..cols {
                let value = pixels.get(f, r * cols + c);
                let seg = if kind == Kind::LabelMap {
                    value as usize
                } else {
                    segment
                };
                if value == 0 {
                    continue;
                }
                let role = match roles.get(seg) {
                    Some(Some(role)) => *role,
                    Some(None) => continue,
                    None => {
                        return Err(err(
                            path,
                            format!("{what}: segment {seg} is not in the SegmentSequence"),
                        ))
                    }
                };
                let v = pl.voxel(r, c, grid.dims).ok_or_else(|| {
                    err(path, format!("{what}: pixel (row {r}, column {c}) lies outside the referenced CT's grid"))
                })?;
                let i = grid.index(v[0], v[1], v[2]);
                if precedence(role) > precedence(out[i]) {
                    out[i] = role;
                }
            }
        }
    }
    Volume::new(grid.clone(), out)
}

fn frame_placement(
    grid: &Geometry,
    fg: &DataSet,
    shared: Option<&DataSet>,
) -> std::result::Result<Placement, Fault> {
    let position = group(fg, shared, PLANE_POSITION)
        .ok_or(Fault::Absent("PlanePositionSequence"))?
        .ds(POSITION, "ImagePositionPatient", 3)?;
    let orientation = group(fg, shared, PLANE_ORIENTATION)
        .ok_or(Fault::Absent("PlaneOrientationSequence"))?
        .ds(ORIENTATION, "ImageOrientationPatient", 6)?;
    let spacing = group(fg, shared, PIXEL_MEASURES)
        .ok_or(Fault::Absent("PixelMeasuresSequence"))?
        .ds(PIXEL_SPACING, "PixelSpacing", 2)?;
    place(grid, &position, &orientation, &spacing)
}

/// The frames' pixel values: 0/1 for binary, else the stored value with fractional values
/// thresholded at half the maximum.
struct FramePixels {
    data: Vec<Vec<u8>>,
    kind: Kind,
    bits: usize,
    per_frame: usize,
    /// Binary frames packed one after the other, not byte-aligned (native pixel data).
    packed: bool,
}

// The frames' bytes come from the file: read without a panicking access (`frame_pixels`
// checks every frame's length; a byte past one would read as background).
#[deny(clippy::indexing_slicing)]
impl FramePixels {
    fn get(&self, f: usize, p: usize) -> u32 {
        let byte = |frame: usize, i: usize| {
            self.data
                .get(frame)
                .and_then(|d| d.get(i))
                .copied()
                .unwrap_or(0)
        };
        let v = match (self.bits, self.packed) {
            (1, true) => {
                let bit = f * self.per_frame + p;
                ((byte(0, bit / 8) >> (bit % 8)) & 1) as u32
            }
            (1, false) => ((byte(f, p / 8) >> (p % 8)) & 1) as u32,
            (16, _) => u16::from_le_bytes([byte(f, 2 * p), byte(f, 2 * p + 1)]) as u32,
            _ => byte(f, p) as u32,
        };
        match self.kind {
            Kind::Fractional(max) => u32::from(2 * v >= max),
            _ => v,
        }
    }
}

fn frame_pixels(
    path: &Path,
    data: &DataSet,
    syntax: Syntax,
    kind: Kind,
    bits: usize,
    (rows, cols): (usize, usize),
    n: usize,
) -> Result<FramePixels> {
    let per_frame = rows * cols;
    let ok = match kind {
        Kind::Binary => bits == 1,
        Kind::Fractional(_) => bits == 8,
        Kind::LabelMap => bits == 8 || bits == 16,
    };
    if !ok {
        return Err(err(
            path,
            format!("BitsAllocated {bits} does not fit the segmentation type"),
        ));
    }
    let v = data
        .e
        .get(&PIXEL_DATA)
        .ok_or_else(|| err(path, Fault::Absent("PixelData")))?;
    let frame_bytes = (per_frame * bits).div_ceil(8);
    let packed = syntax.pixels == Pixels::Native && bits == 1;
    let mut frames_v = if packed {
        let total = (n * per_frame).div_ceil(8);
        frames(v, 1, total)
    } else {
        frames(v, n, frame_bytes)
    }
    .map_err(|d| err(path, d))?;
    match syntax.pixels {
        Pixels::Native => {
            if syntax.big && bits == 16 {
                frames_v
                    .iter_mut()
                    .for_each(|f| f.chunks_exact_mut(2).for_each(|c| c.swap(0, 1)));
            }
        }
        p if bits > 1 => {
            for f in frames_v.iter_mut() {
                *f = crate::dicom::codecs::decode_frame(path, p, f, rows, cols, (bits, false))?;
            }
        }
        _ => return Err(err(
            path,
            "a compressed binary SEG is not read here; decompress it first (e.g. dcmtk's dcmdrle)",
        )),
    }
    if frames_v.iter().any(|f| f.len() < frame_bytes) && !packed {
        return Err(err(path, "a frame is shorter than Rows x Columns"));
    }
    Ok(FramePixels {
        data: frames_v,
        kind,
        bits,
        per_frame,
        packed,
    })
}
