//! CT series from DICOM: a small Part 10 reader (implicit and explicit VR little endian,
//! explicit VR big endian, deflated, RLE Lossless, lossless JPEG) and writer (uncompressed
//! little endian), and the series assembly (slice order, spacing, orientation, rescale to HU).
//!
//! # Geometry
//! DICOM positions are in patient LPS millimetres; volumes here are NIfTI RAS+ (x and y negated).
//! Voxel `(i, j, k)` is column `i`, row `j` of the `k`-th slice in the order of the slices'
//! positions projected on the normal `row_cosines x column_cosines`; the affine's third column is
//! the mean step between consecutive positions, which must be even (a missing slice is an error,
//! not a silently stretched volume).
//!
//! Of the compressed (encapsulated) transfer syntaxes, RLE Lossless ([`crate::dicom::codecs::rle`]) and
//! lossless JPEG (process 14, [`crate::dicom::codecs::ljpeg`]) are decoded; the others (JPEG baseline and
//! extended, JPEG-LS, JPEG 2000) are refused with an error naming the file and the transfer
//! syntax.

use std::path::{Path, PathBuf};

use crate::dicom::syntax::{Pixels, Syntax, EXPLICIT_LE, IMPLICIT_LE};
use crate::error::{ImagingError, Result};
use crate::volume::{Geometry, Volume};

const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";

pub(crate) use crate::dicom::parse::Tag;
use crate::dicom::parse::{err, long_vr, DataSet, Fault};
use crate::dicom::tags::{
    BITS_ALLOCATED, COLUMNS, GRID_FRAME_OFFSETS, INTERCEPT, NUMBER_OF_FRAMES, ORIENTATION,
    PER_FRAME_GROUPS, PIXEL_DATA, PIXEL_MEASURES, PIXEL_REPRESENTATION, PIXEL_SPACING,
    PIXEL_VALUE_TRANSFORMATION, PLANE_ORIENTATION, PLANE_POSITION, POSITION, ROWS, SAMPLES,
    SERIES_UID, SHARED_GROUPS, SLOPE,
};

/// One slice of a CT series, with its pixels in HU.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomSlice {
    pub path: PathBuf,
    pub series_uid: String,
    /// Image Position (Patient), LPS mm.
    pub position: [f64; 3],
    /// Image Orientation (Patient): row direction cosines, then column direction cosines.
    pub orientation: [f64; 6],
    /// Row spacing (between rows), column spacing (between columns), mm.
    pub pixel_spacing: [f64; 2],
    pub rows: usize,
    pub columns: usize,
    /// HU, row-major (`row * columns + column`).
    pub hu: Vec<f32>,
}

/// How a file's stored samples become HU.
struct Samples {
    bits: usize,
    signed: bool,
}

impl Samples {
    fn of(e: &DataSet, path: &Path) -> Result<Samples> {
        let at = |d: Fault| err(path, d);
        let samples =
            e.e.get(&SAMPLES)
                .map(|_| e.us(SAMPLES, "SamplesPerPixel"))
                .transpose()
                .map_err(at)?;
        if samples.unwrap_or(1) != 1 {
            return Err(err(
                path,
                "only single-sample (grayscale) images are supported",
            ));
        }
        let bits = e.us(BITS_ALLOCATED, "BitsAllocated").map_err(at)?;
        if bits == 1 {
            return Err(err(
                path,
                "BitsAllocated 1: a bit-packed image is not read as an image here (only a DICOM SEG's binary frames are bit-packed)",
            ));
        }
        if !(bits == 8 || bits == 16 || bits == 32) {
            return Err(err(
                path,
                format!("BitsAllocated {bits}: 8, 16 or 32 expected"),
            ));
        }
        let signed = e
            .us(PIXEL_REPRESENTATION, "PixelRepresentation")
            .map_err(at)?
            == 1;
        Ok(Samples { bits, signed })
    }

    /// One frame's native samples (little endian), rescaled to HU.
    fn hu(&self, path: &Path, px: &[u8], n: usize, slope: f64, intercept: f64) -> Result<Vec<f32>> {
        if slope == 0.0 {
            return Err(err(path, "RescaleSlope is 0"));
        }
        if px.len() < n * self.bits / 8 {
            return Err(err(
                path,
                format!(
                    "pixel data: {} bytes for {n} pixels at {} bits",
                    px.len(),
                    self.bits
                ),
            ));
        }
        let f = |raw: f64| (raw * slope + intercept) as f32;
        // One loop per sample type (no per-voxel dispatch).
        Ok(match (self.bits, self.signed) {
            (8, false) => px[..n].iter().map(|&b| f(b as f64)).collect(),
            (8, true) => px[..n].iter().map(|&b| f(b as i8 as f64)).collect(),
            (16, false) => px[..2 * n]
                .chunks_exact(2)
                .map(|c| f(u16::from_le_bytes([c[0], c[1]]) as f64))
                .collect(),
            (16, true) => px[..2 * n]
                .chunks_exact(2)
                .map(|c| f(i16::from_le_bytes([c[0], c[1]]) as f64))
                .collect(),
            (_, false) => px[..4 * n]
                .chunks_exact(4)
                .map(|c| f(u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
                .collect(),
            (_, true) => px[..4 * n]
                .chunks_exact(4)
                .map(|c| f(i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
                .collect(),
        })
    }
}

/// One frame's stored bytes as native little-endian samples.
fn native_frame(
    path: &Path,
    syntax: Syntax,
    frame: Vec<u8>,
    rows: usize,
    columns: usize,
    samples: &Samples,
) -> Result<Vec<u8>> {
    let bits = samples.bits;
    Ok(match syntax.pixels {
        Pixels::Native if syntax.big && bits > 8 => {
            let mut f = frame;
            f.chunks_exact_mut(bits / 8).for_each(|c| c.reverse());
            f
        }
        Pixels::Native => frame,
        p => crate::dicom::codecs::decode_frame(
            path,
            p,
            &frame,
            rows,
            columns,
            (bits, samples.signed),
        )?,
    })
}

/// Reads a single-frame Part 10 file (a multi-frame file is an error: see [`read_slices`]).
pub fn read_slice(path: &Path) -> Result<DicomSlice> {
    let mut v = read_slices(path)?;
    if v.len() != 1 {
        return Err(err(
            path,
            format!("{} frames in one file: read it as a series", v.len()),
        ));
    }
    Ok(v.remove(0))
}

/// The functional groups of an enhanced multi-frame image: the per-frame items and the
/// shared one.
struct Groups<'a> {
    per_frame: &'a [DataSet],
    shared: Option<&'a DataSet>,
}

impl Groups<'_> {
    /// An element of frame `f`'s functional group `group` (per-frame, else shared), else the
    /// top-level element (single-frame files keep them there).
    fn value<'b>(&'b self, top: &'b DataSet, f: usize, group: Tag, tag: Tag) -> &'b DataSet {
        let g = self
            .per_frame
            .get(f)
            .and_then(|pf| crate::dicom::parse::group(pf, self.shared, group));
        match g {
            Some(g) if g.e.contains_key(&tag) => g,
            _ => top,
        }
    }
}

impl Groups<'_> {
    /// Frame `f`'s plane position and orientation (of `n` frames; a classic multi-frame
    /// image's frames moved along the plane's normal by their grid `offsets`). A single image
    /// without a plane position or orientation (as secondary-capture and some exporters write)
    /// is placed as other readers place it: at the origin, axial. Pixel spacing is never
    /// assumed: it sets every size measured.
    fn plane(
        &self,
        top: &DataSet,
        f: usize,
        n: usize,
        offsets: Option<&[f64]>,
    ) -> std::result::Result<([f64; 3], [f64; 6]), Fault> {
        let value = |group: Tag, tag: Tag, name: &str, k: usize, default: &[f64]| {
            let d = self.value(top, f, group, tag);
            if n == 1 && !d.e.contains_key(&tag) {
                Ok(default.to_vec())
            } else {
                d.ds(tag, name, k)
            }
        };
        let p = value(
            PLANE_POSITION,
            POSITION,
            "ImagePositionPatient",
            3,
            &[0.0; 3],
        )?;
        let o = value(
            PLANE_ORIENTATION,
            ORIENTATION,
            "ImageOrientationPatient",
            6,
            &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        )?;
        let o = [o[0], o[1], o[2], o[3], o[4], o[5]];
        let normal = cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
        let d = offsets.and_then(|off| off.get(f).copied()).unwrap_or(0.0);
        Ok(([0, 1, 2].map(|a| p[a] + d * normal[a]), o))
    }
}

/// The number of frames and, for a classic multi-frame image (RT Dose, NM: no per-frame
/// functional groups), their GridFrameOffsetVector; a multi-frame image whose frames have no
/// positions is an error.
fn frame_layout(data: &DataSet, groups: &Groups, path: &Path) -> Result<(usize, Option<Vec<f64>>)> {
    let n = frame_count(data, path)?;
    let offsets = match data.e.contains_key(&GRID_FRAME_OFFSETS) {
        true if n > 1 && groups.per_frame.is_empty() => Some(
            data.ds(GRID_FRAME_OFFSETS, "GridFrameOffsetVector", n as usize)
                .map_err(|d| err(path, d))?,
        ),
        _ => None,
    };
    if !(1..=100_000).contains(&n)
        || (n > 1 && groups.per_frame.len() as i64 != n && offsets.is_none())
    {
        return Err(err(
            path,
            format!(
                "NumberOfFrames {n} with {} per-frame functional groups and no GridFrameOffsetVector (3004,000C): the frames have no positions",
                groups.per_frame.len()
            ),
        ));
    }
    Ok((n as usize, offsets))
}

/// NumberOfFrames (1 when absent).
fn frame_count(data: &crate::dicom::parse::DataSet, path: &Path) -> Result<i64> {
    if data.e.contains_key(&NUMBER_OF_FRAMES) {
        data.int(NUMBER_OF_FRAMES, "NumberOfFrames")
            .map_err(|d| err(path, d))
    } else {
        Ok(1)
    }
}

/// Reads one Part 10 file: its slice, or one slice per frame of an enhanced (or legacy
/// converted enhanced) multi-frame image, each with its own plane position, orientation,
/// pixel spacing and rescale from the functional groups.
pub fn read_slices(path: &Path) -> Result<Vec<DicomSlice>> {
    let crate::dicom::parse::Part10 { syntax, mut data } = crate::dicom::parse::read_file(path)?;
    let floats = [(0x7FE0, 0x0008), (0x7FE0, 0x0009)];
    if floats.iter().any(|t| data.e.contains_key(t)) {
        return Err(err(
            path,
            "Float Pixel Data (7FE0,0008) or Double Float Pixel Data (7FE0,0009): a parametric map, not a CT image; not read here (unsupported)",
        ));
    }
    let pixel = data
        .e
        .remove(&PIXEL_DATA)
        .ok_or_else(|| err(path, "missing element PixelData (7FE0,0010)"))?;
    let rows = data.us(ROWS, "Rows").map_err(|d| err(path, d))?;
    let columns = data.us(COLUMNS, "Columns").map_err(|d| err(path, d))?;
    let samples = Samples::of(&data, path)?;
    let groups = Groups {
        per_frame: data.seq(PER_FRAME_GROUPS),
        shared: data.seq(SHARED_GROUPS).first(),
    };
    let (n, offsets) = frame_layout(&data, &groups, path)?;
    // Decoded as f32 HU: bounded before any frame is decoded.
    crate::limits::check_grid(path, &[rows as u64, columns as u64, n as u64], 4)?;
    let frame_bytes = rows * columns * samples.bits / 8;
    let frames = match pixel {
        // One native frame: the bytes as read, not copied.
        crate::dicom::parse::Value::Bytes(b) if n == 1 && b.len() >= frame_bytes => vec![b],
        p => crate::dicom::parse::frames(&p, n, frame_bytes).map_err(|d| err(path, d))?,
    };
    // A file without a series (a single image, as some tools export) is a series of its own.
    let series_uid = data.text(SERIES_UID).unwrap_or_default();
    let mut out = Vec::with_capacity(n);
    for (f, frame) in frames.into_iter().enumerate() {
        let fpath = if n > 1 {
            PathBuf::from(format!("{} (frame {})", path.display(), f + 1))
        } else {
            path.to_path_buf()
        };
        let at = |d: Fault| err(&fpath, d);
        let num = |group: Tag, tag: Tag, name: &str, k: usize| {
            groups
                .value(&data, f, group, tag)
                .ds(tag, name, k)
                .map_err(at)
        };
        let (p, o) = groups.plane(&data, f, n, offsets.as_deref()).map_err(at)?;
        let s = num(PIXEL_MEASURES, PIXEL_SPACING, "PixelSpacing", 2)?;
        let rescale = |tag: Tag, name: &str, default: f64| {
            let d = groups.value(&data, f, PIXEL_VALUE_TRANSFORMATION, tag);
            if d.e.contains_key(&tag) {
                d.ds(tag, name, 1).map(|v| v[0]).map_err(at)
            } else {
                Ok(default)
            }
        };
        let slope = rescale(SLOPE, "RescaleSlope", 1.0)?;
        let intercept = rescale(INTERCEPT, "RescaleIntercept", 0.0)?;
        let native = native_frame(&fpath, syntax, frame, rows, columns, &samples)?;
        let hu = samples.hu(&fpath, &native, rows * columns, slope, intercept)?;
        out.push(DicomSlice {
            path: fpath,
            series_uid: series_uid.clone(),
            position: p,
            orientation: o,
            pixel_spacing: [s[0], s[1]],
            rows,
            columns,
            hu,
        });
    }
    Ok(out)
}

/// A single DICOM file as a volume (one slice, or the frames of a multi-frame image).
pub fn read_slice_volume(path: &Path) -> Result<Volume<f32>> {
    assemble(path, read_slices(path)?)
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The files of a series folder, sorted by name (none is an error).
pub(crate) fn series_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ImagingError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err(dir, "no DICOM file in the folder"));
    }
    Ok(files)
}

/// Reads every file of a folder as one CT series (files that are not DICOM are an error too:
/// a series folder should hold the series only). The volume limit holds for the series as a
/// whole: the decoded slices are counted as they come, and decoding stops once they pass it
/// (a folder of many small compressed files is refused after the limit's worth, not after
/// all of them).
pub fn read_series(dir: &Path) -> Result<Volume<f32>> {
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    let files = series_files(dir)?;
    let (max_bytes, _) = crate::limits::get();
    let used = AtomicU64::new(0);
    let token = crate::cancel::current();
    // Files decoded in parallel (compressed syntaxes cost most here); the order is the files'.
    let per_file = files
        .par_iter()
        .map(|f| {
            let _entered = token.as_ref().map(crate::cancel::Cancel::enter);
            crate::cancel::check()?;
            if used.load(Ordering::Relaxed) > max_bytes {
                return Err(series_too_large(dir, max_bytes));
            }
            let slices = read_slices(f)?;
            let bytes: u64 = slices.iter().map(|s| s.hu.len() as u64 * 4).sum();
            if used.fetch_add(bytes, Ordering::Relaxed) + bytes > max_bytes {
                return Err(series_too_large(dir, max_bytes));
            }
            Ok(slices)
        })
        .collect::<Result<Vec<_>>>()?;
    let slices: Vec<DicomSlice> = per_file.into_iter().flatten().collect();
    assemble(dir, slices)
}

fn series_too_large(dir: &Path, max_bytes: u64) -> ImagingError {
    ImagingError::TooLarge {
        path: dir.to_path_buf(),
        detail: format!(
            "the series' decoded slices pass the limit of {} MiB per volume (--max-volume-mib)",
            max_bytes >> 20
        ),
    }
}

/// Checks that the slices are one series with one size, orientation and pixel spacing.
fn check_one_series(dir: &Path, slices: &[DicomSlice]) -> Result<()> {
    let first = slices.first().ok_or_else(|| err(dir, "no slice"))?;
    let mut uids: Vec<&str> = slices.iter().map(|s| s.series_uid.as_str()).collect();
    uids.sort();
    uids.dedup();
    if uids.len() > 1 {
        return Err(err(
            dir,
            format!(
                "the folder mixes {} series: {}",
                uids.len(),
                uids.join(", ")
            ),
        ));
    }
    for s in slices {
        if s.rows != first.rows
            || s.columns != first.columns
            || s.orientation
                .iter()
                .zip(&first.orientation)
                .any(|(a, b)| (a - b).abs() > 1e-4)
            || (s.pixel_spacing[0] - first.pixel_spacing[0]).abs() > 1e-4
            || (s.pixel_spacing[1] - first.pixel_spacing[1]).abs() > 1e-4
        {
            return Err(err(
                &s.path,
                "size, orientation or pixel spacing differs from the series' first slice",
            ));
        }
    }
    Ok(())
}

/// Sorts the slices along `normal` and checks their spacing is even (no duplicate, no gap).
fn sort_and_check_spacing(slices: &mut [DicomSlice], normal: [f64; 3]) -> Result<()> {
    slices.sort_by(|a, b| dot(a.position, normal).total_cmp(&dot(b.position, normal)));
    let n = slices.len();
    let proj: Vec<f64> = slices.iter().map(|s| dot(s.position, normal)).collect();
    let step = if n > 1 {
        (proj[n - 1] - proj[0]) / (n - 1) as f64
    } else {
        1.0
    };
    for w in 1..n {
        let d = proj[w] - proj[w - 1];
        if d.abs() < 1e-6 {
            return Err(err(
                &slices[w].path,
                format!("same slice position as {}", slices[w - 1].path.display()),
            ));
        }
        if (d - step).abs() > 0.01 * step.abs().max(0.1) + 1e-3 {
            return Err(err(
                &slices[w].path,
                format!(
                    "uneven slice spacing: {d:.3} mm after {}, the series averages {step:.3} mm (a missing slice?)",
                    slices[w - 1].path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The RAS affine of sorted slices (DICOM is LPS: x and y negated).
fn series_affine(slices: &[DicomSlice], normal: [f64; 3]) -> [[f64; 4]; 3] {
    let first = &slices[0];
    let n = slices.len();
    let o = first.orientation;
    let (row_dir, col_dir) = ([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    let ras = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let (dr, dc) = (first.pixel_spacing[0], first.pixel_spacing[1]);
    let c0 = ras(row_dir); // increasing column index moves along the row direction
    let c1 = ras(col_dir);
    let s0 = first.position;
    let c2 = if n > 1 {
        let last = slices[n - 1].position;
        ras([
            (last[0] - s0[0]) / (n - 1) as f64,
            (last[1] - s0[1]) / (n - 1) as f64,
            (last[2] - s0[2]) / (n - 1) as f64,
        ])
    } else {
        ras(normal)
    };
    let t = ras(s0);
    [
        [c0[0] * dc, c1[0] * dr, c2[0], t[0]],
        [c0[1] * dc, c1[1] * dr, c2[1], t[1]],
        [c0[2] * dc, c1[2] * dr, c2[2], t[2]],
    ]
}

/// Sorts slices along the normal, checks they form one even grid and builds the volume.
pub fn assemble(dir: &Path, mut slices: Vec<DicomSlice>) -> Result<Volume<f32>> {
    check_one_series(dir, &slices)?;
    let first = &slices[0];
    let o = first.orientation;
    let normal = cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    if (dot(normal, normal) - 1.0).abs() > 1e-3 {
        return Err(err(
            &first.path,
            "ImageOrientationPatient is not orthonormal",
        ));
    }
    sort_and_check_spacing(&mut slices, normal)?;
    let geometry = Geometry {
        dims: [slices[0].columns, slices[0].rows, slices.len()],
        affine: series_affine(&slices, normal),
    };
    crate::limits::check_grid(dir, &geometry.dims.map(|d| d as u64), 4)?;
    let mut data = Vec::with_capacity(geometry.len());
    for s in &slices {
        data.extend_from_slice(&s.hu);
    }
    Volume::new(geometry, data)
}

// ------------------------------------------------------------------------------------ writing

pub(crate) fn push_element(out: &mut Vec<u8>, tag: Tag, vr: &[u8; 2], value: &[u8]) {
    let mut v = value.to_vec();
    if v.len() % 2 == 1 {
        v.push(if vr == b"UI" || vr == b"OB" { 0 } else { b' ' });
    }
    out.extend_from_slice(&tag.0.to_le_bytes());
    out.extend_from_slice(&tag.1.to_le_bytes());
    out.extend_from_slice(vr);
    if long_vr(vr) {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(v.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(&v);
}

pub(crate) fn ds_text(v: &[f64]) -> Vec<u8> {
    v.iter()
        .map(|x| {
            // DS values are at most 16 characters.
            let s = format!("{x:.6}");
            let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
            if s.len() > 16 {
                format!("{x:.3e}")
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("\\")
        .into_bytes()
}

/// What [`write_series`] puts in the files besides the pixels.
#[derive(Debug, Clone)]
pub struct SeriesInfo {
    pub patient_id: String,
    pub study_uid: String,
    pub series_uid: String,
    /// Stored value = round((HU - intercept) / slope), as unsigned 16-bit.
    pub rescale_intercept: f64,
    pub rescale_slope: f64,
    /// Write implicit VR little endian instead of explicit.
    pub implicit: bool,
}

/// One element, in the series' transfer syntax (implicit VR: no VR field, padded to even).
fn put(out: &mut Vec<u8>, implicit: bool, t: Tag, vr: &[u8; 2], v: &[u8]) {
    if !implicit {
        return push_element(out, t, vr, v);
    }
    let mut v = v.to_vec();
    if v.len() % 2 == 1 {
        v.push(if vr == b"UI" { 0 } else { b' ' });
    }
    out.extend_from_slice(&t.0.to_le_bytes());
    out.extend_from_slice(&t.1.to_le_bytes());
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    out.extend_from_slice(&v);
}

/// Slice `k`'s stored pixels: `(HU - intercept) / slope`, rounded, clamped to u16.
fn stored_pixels(vol: &Volume<f32>, k: usize, info: &SeriesInfo) -> Vec<u8> {
    let [nx, ny, _] = vol.geometry.dims;
    let mut px = Vec::with_capacity(nx * ny * 2);
    for j in 0..ny {
        for i in 0..nx {
            let hu = vol.get(i, j, k) as f64;
            let stored = ((hu - info.rescale_intercept) / info.rescale_slope)
                .round()
                .clamp(0.0, u16::MAX as f64) as u16;
            px.extend_from_slice(&stored.to_le_bytes());
        }
    }
    px
}

/// The data set of slice `k` (CT image: identifiers, geometry, pixel module, rescale, pixels).
fn slice_dataset(vol: &Volume<f32>, k: usize, info: &SeriesInfo, sop: &str) -> Vec<u8> {
    let g = &vol.geometry;
    let sp = g.spacing_mm();
    let lps = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let col = |c: usize| [g.affine[0][c], g.affine[1][c], g.affine[2][c]];
    let unit = |v: [f64; 3], s: f64| [v[0] / s, v[1] / s, v[2] / s];
    let (r, c) = (lps(unit(col(0), sp[0])), lps(unit(col(1), sp[1])));
    let pos = lps(g.world([0.0, 0.0, k as f64]));
    let [nx, ny, _] = g.dims;
    let mut ds = Vec::new();
    let mut e = |t: Tag, vr: &[u8; 2], v: &[u8]| put(&mut ds, info.implicit, t, vr, v);
    e((0x0008, 0x0016), b"UI", CT_IMAGE_STORAGE.as_bytes());
    e((0x0008, 0x0018), b"UI", sop.as_bytes());
    e((0x0008, 0x0060), b"CS", b"CT");
    e((0x0010, 0x0020), b"LO", info.patient_id.as_bytes());
    e((0x0020, 0x000D), b"UI", info.study_uid.as_bytes());
    e(SERIES_UID, b"UI", info.series_uid.as_bytes());
    e((0x0020, 0x0013), b"IS", (k + 1).to_string().as_bytes());
    e(POSITION, b"DS", &ds_text(&pos));
    e(
        ORIENTATION,
        b"DS",
        &ds_text(&[r[0], r[1], r[2], c[0], c[1], c[2]]),
    );
    e(SAMPLES, b"US", &1u16.to_le_bytes());
    e((0x0028, 0x0004), b"CS", b"MONOCHROME2");
    e(ROWS, b"US", &(ny as u16).to_le_bytes());
    e(COLUMNS, b"US", &(nx as u16).to_le_bytes());
    e(PIXEL_SPACING, b"DS", &ds_text(&[sp[1], sp[0]]));
    e(BITS_ALLOCATED, b"US", &16u16.to_le_bytes());
    e((0x0028, 0x0101), b"US", &16u16.to_le_bytes());
    e((0x0028, 0x0102), b"US", &15u16.to_le_bytes());
    e(PIXEL_REPRESENTATION, b"US", &0u16.to_le_bytes());
    e(INTERCEPT, b"DS", &ds_text(&[info.rescale_intercept]));
    e(SLOPE, b"DS", &ds_text(&[info.rescale_slope]));
    e(PIXEL_DATA, b"OW", &stored_pixels(vol, k, info));
    ds
}

/// A Part 10 file: preamble, DICM, the file meta group (explicit VR little endian), the data set.
pub(crate) fn part10(sop_class: &str, sop: &str, implicit: bool, dataset: &[u8]) -> Vec<u8> {
    let ts = if implicit { IMPLICIT_LE } else { EXPLICIT_LE };
    let mut meta = Vec::new();
    push_element(&mut meta, (0x0002, 0x0001), b"OB", &[0, 1]);
    push_element(&mut meta, (0x0002, 0x0002), b"UI", sop_class.as_bytes());
    push_element(&mut meta, (0x0002, 0x0003), b"UI", sop.as_bytes());
    push_element(&mut meta, (0x0002, 0x0010), b"UI", ts.as_bytes());
    push_element(
        &mut meta,
        (0x0002, 0x0012),
        b"UI",
        b"1.2.826.0.1.3680043.10.1",
    );
    let mut file = vec![0u8; 128];
    file.extend_from_slice(b"DICM");
    let len = (meta.len() as u32).to_le_bytes();
    push_element(&mut file, (0x0002, 0x0000), b"UL", &len);
    file.extend_from_slice(&meta);
    file.extend_from_slice(dataset);
    file
}

/// Writes a volume as a CT series (one file per slice along axis 2, named by a scrambled
/// instance order so that readers must sort by position). Axes 0 and 1 must be orthogonal.
pub fn write_series(dir: &Path, vol: &Volume<f32>, info: &SeriesInfo) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| ImagingError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for k in 0..vol.geometry.dims[2] {
        let sop = format!("{}.{}", info.series_uid, k + 1);
        let file = part10(
            CT_IMAGE_STORAGE,
            &sop,
            info.implicit,
            &slice_dataset(vol, k, info, &sop),
        );
        // Scrambled names: the slice order must come from the positions.
        let name = format!("IM{:05}.dcm", (k * 7919 + 13) % 100_003);
        let path = dir.join(name);
        std::fs::write(&path, &file).map_err(|source| ImagingError::Io {
            path: path.clone(),
            source,
        })?;
        paths.push(path);
    }
    Ok(paths)
}
