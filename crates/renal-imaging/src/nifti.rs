//! NIfTI-1 and NIfTI-2 reading and writing (plain or gzip), from the raw bytes.
//!
//! We parse the header ourselves rather than trusting a library's array conversion: the scaling
//! fields are handled explicitly (`scl_slope == 0` means "no scaling" per the NIfTI-1 standard;
//! a NaN or infinite slope is an error naming the field), every integer and float datatype is
//! accepted, and the affine comes from the sform when `sform_code > 0`, else the qform when
//! `qform_code > 0`, else `pixdim` (nibabel's order of preference).
//!
//! Data are column-major on disk (axis 0 fastest), which is also our in-memory order
//! (see [`crate::volume`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{ImagingError, Result};
use crate::volume::{Geometry, LabelVolume, Volume};

/// Voxel datatypes of the NIfTI standard that we read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
}

impl DataType {
    fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            2 => DataType::U8,
            256 => DataType::I8,
            512 => DataType::U16,
            4 => DataType::I16,
            768 => DataType::U32,
            8 => DataType::I32,
            1280 => DataType::U64,
            1024 => DataType::I64,
            16 => DataType::F32,
            64 => DataType::F64,
            _ => return None,
        })
    }

    /// The NIfTI datatype code.
    pub fn code(self) -> i16 {
        match self {
            DataType::U8 => 2,
            DataType::I8 => 256,
            DataType::U16 => 512,
            DataType::I16 => 4,
            DataType::U32 => 768,
            DataType::I32 => 8,
            DataType::U64 => 1280,
            DataType::I64 => 1024,
            DataType::F32 => 16,
            DataType::F64 => 64,
        }
    }

    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            DataType::U8 | DataType::I8 => 1,
            DataType::U16 | DataType::I16 => 2,
            DataType::U32 | DataType::I32 | DataType::F32 => 4,
            DataType::U64 | DataType::I64 | DataType::F64 => 8,
        }
    }
}

/// The header fields we use.
#[derive(Debug, Clone)]
pub struct NiftiHeader {
    /// 1 or 2.
    pub version: u8,
    pub geometry: Geometry,
    pub datatype: DataType,
    pub vox_offset: usize,
    /// The scaling to apply, already resolved: `None` when the file stores unscaled values.
    pub scaling: Option<(f64, f64)>,
    pub little_endian: bool,
}

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

fn gunzip(path: &Path, raw: &[u8]) -> Result<Vec<u8>> {
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

struct Reader<'a> {
    b: &'a [u8],
    le: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, off: usize) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.b[off..off + N]);
        if !self.le {
            a.reverse();
        }
        a
    }
    fn i16(&self, off: usize) -> i16 {
        i16::from_le_bytes(self.bytes(off))
    }
    fn i32(&self, off: usize) -> i32 {
        i32::from_le_bytes(self.bytes(off))
    }
    fn i64(&self, off: usize) -> i64 {
        i64::from_le_bytes(self.bytes(off))
    }
    fn f32(&self, off: usize) -> f64 {
        f32::from_le_bytes(self.bytes(off)) as f64
    }
    fn f64(&self, off: usize) -> f64 {
        f64::from_le_bytes(self.bytes(off))
    }
}

fn not_nifti(path: &Path, detail: impl Into<String>) -> ImagingError {
    ImagingError::NotNifti {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn invalid(path: &Path, field: &'static str, value: impl ToString) -> ImagingError {
    ImagingError::InvalidHeader {
        path: path.to_path_buf(),
        field,
        value: value.to_string(),
    }
}

/// Raw header values, independent of the NIfTI version.
struct RawHeader {
    version: u8,
    dim: [i64; 8],
    datatype: i64,
    pixdim: [f64; 8],
    vox_offset: f64,
    scl_slope: f64,
    scl_inter: f64,
    qform_code: i64,
    sform_code: i64,
    quatern: [f64; 3],
    qoffset: [f64; 3],
    srow: [[f64; 4]; 3],
}

fn raw_header(path: &Path, b: &[u8]) -> Result<RawHeader> {
    if b.len() < 348 {
        return Err(not_nifti(
            path,
            format!("{} bytes, shorter than a header", b.len()),
        ));
    }
    let s1le = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let s1be = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let (version, le) = match (s1le, s1be) {
        (348, _) => (1u8, true),
        (_, 348) => (1, false),
        (540, _) => (2, true),
        (_, 540) => (2, false),
        _ => {
            return Err(not_nifti(
                path,
                format!("sizeof_hdr is {s1le}, not 348 or 540"),
            ))
        }
    };
    let r = Reader { b, le };
    if version == 1 {
        let magic = &b[344..348];
        if magic != b"n+1\0" && magic != b"ni1\0" {
            return Err(not_nifti(path, "missing the NIfTI-1 magic `n+1` / `ni1`"));
        }
        let mut dim = [0i64; 8];
        let mut pixdim = [0f64; 8];
        for i in 0..8 {
            dim[i] = r.i16(40 + 2 * i) as i64;
            pixdim[i] = r.f32(76 + 4 * i);
        }
        let mut srow = [[0.0; 4]; 3];
        for (row, s) in srow.iter_mut().enumerate() {
            for (c, v) in s.iter_mut().enumerate() {
                *v = r.f32(280 + 16 * row + 4 * c);
            }
        }
        Ok(RawHeader {
            version,
            dim,
            datatype: r.i16(70) as i64,
            pixdim,
            vox_offset: r.f32(108),
            scl_slope: r.f32(112),
            scl_inter: r.f32(116),
            qform_code: r.i16(252) as i64,
            sform_code: r.i16(254) as i64,
            quatern: [r.f32(256), r.f32(260), r.f32(264)],
            qoffset: [r.f32(268), r.f32(272), r.f32(276)],
            srow,
        })
    } else {
        if b.len() < 540 {
            return Err(not_nifti(path, "NIfTI-2 header truncated"));
        }
        if &b[4..8] != b"n+2\0" && &b[4..8] != b"ni2\0" {
            return Err(not_nifti(path, "missing the NIfTI-2 magic `n+2` / `ni2`"));
        }
        let mut dim = [0i64; 8];
        let mut pixdim = [0f64; 8];
        for i in 0..8 {
            dim[i] = r.i64(16 + 8 * i);
            pixdim[i] = r.f64(104 + 8 * i);
        }
        let mut srow = [[0.0; 4]; 3];
        for (row, s) in srow.iter_mut().enumerate() {
            for (c, v) in s.iter_mut().enumerate() {
                *v = r.f64(400 + 32 * row + 8 * c);
            }
        }
        Ok(RawHeader {
            version,
            dim,
            datatype: r.i16(12) as i64,
            pixdim,
            vox_offset: r.i64(168) as f64,
            scl_slope: r.f64(176),
            scl_inter: r.f64(184),
            qform_code: r.i32(344) as i64,
            sform_code: r.i32(348) as i64,
            quatern: [r.f64(352), r.f64(360), r.f64(368)],
            qoffset: [r.f64(376), r.f64(384), r.f64(392)],
            srow,
        })
    }
}

fn qform_affine(h: &RawHeader) -> [[f64; 4]; 3] {
    let [b, c, d] = h.quatern;
    let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
    let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
    let (i, j, k) = (h.pixdim[1], h.pixdim[2], h.pixdim[3] * qfac);
    let rot = [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ];
    let mut m = [[0.0; 4]; 3];
    for r in 0..3 {
        m[r][0] = rot[r][0] * i;
        m[r][1] = rot[r][1] * j;
        m[r][2] = rot[r][2] * k;
        m[r][3] = h.qoffset[r];
    }
    m
}

/// Parses and validates a header from the (decompressed) file bytes.
pub fn parse_header(path: &Path, b: &[u8]) -> Result<NiftiHeader> {
    let h = raw_header(path, b)?;
    let ndim = h.dim[0];
    if !(1..=7).contains(&ndim) {
        return Err(invalid(path, "dim[0]", ndim));
    }
    let mut dims = [1usize; 3];
    for a in 0..3 {
        if (a as i64) < ndim {
            let d = h.dim[a + 1];
            if d < 1 {
                return Err(invalid(
                    path,
                    "dim",
                    format!("{:?}", &h.dim[..=ndim as usize]),
                ));
            }
            dims[a] = d as usize;
        }
    }
    for a in 4..=(ndim as usize) {
        if h.dim[a] > 1 {
            return Err(ImagingError::Unsupported {
                path: path.to_path_buf(),
                field: "dim",
                value: format!(
                    "{:?} (a 4D or higher image; one 3D volume expected)",
                    &h.dim[..=ndim as usize]
                ),
            });
        }
    }
    let datatype = DataType::from_code(h.datatype).ok_or_else(|| ImagingError::Unsupported {
        path: path.to_path_buf(),
        field: "datatype",
        value: h.datatype.to_string(),
    })?;
    if !h.vox_offset.is_finite() || h.vox_offset < 0.0 {
        return Err(invalid(path, "vox_offset", h.vox_offset));
    }
    let min_offset = if h.version == 1 { 348.0 } else { 540.0 };
    let vox_offset = (h.vox_offset.max(min_offset)) as usize;
    let scaling = if h.scl_slope == 0.0 {
        // NIfTI-1: "If the scl_slope field is nonzero, then each voxel value ... should be scaled".
        None
    } else if !h.scl_slope.is_finite() {
        return Err(invalid(path, "scl_slope", h.scl_slope));
    } else if !h.scl_inter.is_finite() {
        return Err(invalid(path, "scl_inter", h.scl_inter));
    } else if h.scl_slope == 1.0 && h.scl_inter == 0.0 {
        None
    } else {
        Some((h.scl_slope, h.scl_inter))
    };
    let affine = if h.sform_code > 0 {
        h.srow
    } else if h.qform_code > 0 {
        qform_affine(&h)
    } else {
        let mut m = [[0.0; 4]; 3];
        for (a, row) in m.iter_mut().enumerate() {
            row[a] = h.pixdim[a + 1];
        }
        m
    };
    if affine.iter().flatten().any(|v| !v.is_finite()) {
        return Err(invalid(path, "affine (sform/qform)", format!("{affine:?}")));
    }
    let geometry = Geometry { dims, affine };
    let sp = geometry.spacing_mm();
    if sp.iter().any(|&s| s <= 0.0) {
        return Err(invalid(
            path,
            "pixdim / affine",
            format!("zero spacing {sp:?}"),
        ));
    }
    Ok(NiftiHeader {
        version: h.version,
        geometry,
        datatype,
        vox_offset,
        scaling,
        little_endian: raw_header_le(b),
    })
}

fn raw_header_le(b: &[u8]) -> bool {
    let s = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    s == 348 || s == 540
}

fn voxel_bytes<'a>(path: &Path, h: &NiftiHeader, b: &'a [u8]) -> Result<&'a [u8]> {
    let expected = h.geometry.len() * h.datatype.size();
    let found = b.len().saturating_sub(h.vox_offset);
    if found < expected {
        return Err(ImagingError::Truncated {
            path: path.to_path_buf(),
            expected,
            offset: h.vox_offset,
            found,
        });
    }
    Ok(&b[h.vox_offset..h.vox_offset + expected])
}

/// Calls `f(index, value)` for every stored value, converted to f64 (scaling not applied).
fn for_each_value(h: &NiftiHeader, data: &[u8], mut f: impl FnMut(usize, f64)) {
    macro_rules! each {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            for (i, c) in data.chunks_exact(N).enumerate() {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                let v = if h.little_endian {
                    <$t>::from_le_bytes(a)
                } else {
                    <$t>::from_be_bytes(a)
                };
                f(i, v as f64);
            }
        }};
    }
    match h.datatype {
        DataType::U8 => each!(u8),
        DataType::I8 => each!(i8),
        DataType::U16 => each!(u16),
        DataType::I16 => each!(i16),
        DataType::U32 => each!(u32),
        DataType::I32 => each!(i32),
        DataType::U64 => each!(u64),
        DataType::I64 => each!(i64),
        DataType::F32 => each!(f32),
        DataType::F64 => each!(f64),
    }
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
    let mut out = vec![0u8; h.geometry.len()];
    let mut bad: Option<(usize, f64)> = None;
    for_each_value(&h, data, |i, v| {
        let s = v * slope + inter;
        if s.fract() == 0.0 && (0.0..=255.0).contains(&s) {
            out[i] = s as u8;
        } else if bad.is_none() {
            bad = Some((i, s));
        }
    });
    if let Some((index, value)) = bad {
        return Err(ImagingError::InvalidLabel {
            path: path.to_path_buf(),
            value,
            index,
        });
    }
    Volume::new(h.geometry, out)
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

/// A value type that can be written as NIfTI voxels.
pub trait NiftiValue: Copy {
    const DATATYPE: DataType;
    fn put(self, out: &mut Vec<u8>);
}

macro_rules! nifti_value {
    ($t:ty, $dt:expr) => {
        impl NiftiValue for $t {
            const DATATYPE: DataType = $dt;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
nifti_value!(u8, DataType::U8);
nifti_value!(i8, DataType::I8);
nifti_value!(u16, DataType::U16);
nifti_value!(i16, DataType::I16);
nifti_value!(u32, DataType::U32);
nifti_value!(i32, DataType::I32);
nifti_value!(u64, DataType::U64);
nifti_value!(i64, DataType::I64);
nifti_value!(f32, DataType::F32);
nifti_value!(f64, DataType::F64);

/// Options for [`write_nifti`].
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub gzip: bool,
    pub scl_slope: f32,
    pub scl_inter: f32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            gzip: true,
            scl_slope: 1.0,
            scl_inter: 0.0,
        }
    }
}

/// Encodes a NIfTI-1 file (sform = the affine, code 1 "scanner"; qform unset).
pub fn encode_nifti<T: NiftiValue>(
    geometry: &Geometry,
    data: &[T],
    opts: WriteOptions,
) -> Result<Vec<u8>> {
    if data.len() != geometry.len() {
        return Err(ImagingError::InvalidGeometry {
            what: "write_nifti".into(),
            detail: format!("{} values for grid {:?}", data.len(), geometry.dims),
        });
    }
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    let put_i16 =
        |h: &mut Vec<u8>, off: usize, v: i16| h[off..off + 2].copy_from_slice(&v.to_le_bytes());
    let put_f32 =
        |h: &mut Vec<u8>, off: usize, v: f32| h[off..off + 4].copy_from_slice(&v.to_le_bytes());
    let dims: Vec<i16> = geometry.dims.iter().map(|&d| d as i16).collect();
    put_i16(&mut h, 40, 3);
    for a in 0..3 {
        put_i16(&mut h, 42 + 2 * a, dims[a]);
    }
    for a in 4..8 {
        put_i16(&mut h, 40 + 2 * a, 1);
    }
    put_i16(&mut h, 70, T::DATATYPE.code());
    put_i16(&mut h, 72, (T::DATATYPE.size() * 8) as i16);
    let sp = geometry.spacing_mm();
    put_f32(&mut h, 76, 1.0);
    for a in 0..3 {
        put_f32(&mut h, 80 + 4 * a, sp[a] as f32);
    }
    put_f32(&mut h, 108, 352.0);
    put_f32(&mut h, 112, opts.scl_slope);
    put_f32(&mut h, 116, opts.scl_inter);
    h[123] = 2; // xyzt_units: mm
    put_i16(&mut h, 254, 1);
    for r in 0..3 {
        for c in 0..4 {
            put_f32(&mut h, 280 + 16 * r + 4 * c, geometry.affine[r][c] as f32);
        }
    }
    h[344..348].copy_from_slice(b"n+1\0");
    h.reserve(data.len() * T::DATATYPE.size());
    for &v in data {
        v.put(&mut h);
    }
    if !opts.gzip {
        return Ok(h);
    }
    let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::fastest());
    let mut out = vec![0u8; c.gzip_compress_bound(h.len())];
    let n = c
        .gzip_compress(&h, &mut out)
        .map_err(|e| ImagingError::Gzip {
            path: PathBuf::from("<memory>"),
            detail: e.to_string(),
        })?;
    out.truncate(n);
    Ok(out)
}

/// Writes a NIfTI-1 file atomically (temporary file in the same folder, then rename).
pub fn write_nifti<T: NiftiValue>(
    path: &Path,
    geometry: &Geometry,
    data: &[T],
    opts: WriteOptions,
) -> Result<()> {
    let bytes = encode_nifti(geometry, data, opts)?;
    let io = |source| ImagingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom() -> Geometry {
        Geometry {
            dims: [3, 4, 5],
            affine: [
                [0.0, 0.0, -0.75, 10.0],
                [0.0, -0.75, 0.0, 20.0],
                [2.5, 0.0, 0.0, -30.0],
            ],
        }
    }

    fn labels() -> Vec<u8> {
        (0..60).map(|i| (i % 4) as u8).collect()
    }

    fn roundtrip<T: NiftiValue>(conv: impl Fn(u8) -> T, gzip: bool) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.nii.gz");
        let data: Vec<T> = labels().into_iter().map(conv).collect();
        write_nifti(
            &p,
            &geom(),
            &data,
            WriteOptions {
                gzip,
                ..Default::default()
            },
        )
        .unwrap();
        let v = read_labels(&p).unwrap();
        assert_eq!(v.data, labels());
        assert_eq!(v.geometry.dims, [3, 4, 5]);
        assert_eq!(v.geometry.spacing_mm(), [2.5, 0.75, 0.75]);
        assert_eq!(v.geometry.affine[0][3], 10.0);
    }

    #[test]
    fn labels_read_from_every_dtype() {
        roundtrip(|v| v, true);
        roundtrip(|v| v as i8, false);
        roundtrip(|v| v as u16, true);
        roundtrip(|v| v as i16, true);
        roundtrip(|v| v as u32, true);
        roundtrip(|v| v as i32, false);
        roundtrip(|v| v as u64, true);
        roundtrip(|v| v as i64, true);
        roundtrip(|v| v as f32, true);
        roundtrip(|v| v as f64, true);
    }

    #[test]
    fn scaling_is_applied_and_zero_slope_means_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ct.nii");
        let data: Vec<i16> = (0..60).collect();
        let opts = WriteOptions {
            gzip: false,
            scl_slope: 2.0,
            scl_inter: -1024.0,
        };
        write_nifti(&p, &geom(), &data, opts).unwrap();
        let v = read_scalar(&p).unwrap();
        assert_eq!(v.data[0], -1024.0);
        assert_eq!(v.data[59], 59.0 * 2.0 - 1024.0);
        let opts = WriteOptions {
            gzip: false,
            scl_slope: 0.0,
            scl_inter: 5.0,
        };
        write_nifti(&p, &geom(), &data, opts).unwrap();
        let v = read_scalar(&p).unwrap();
        assert_eq!(
            v.data[59], 59.0,
            "scl_slope 0 means unscaled, intercept ignored"
        );
    }

    #[test]
    fn nan_slope_is_an_error_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ct.nii.gz");
        let data: Vec<i16> = (0..60).collect();
        let opts = WriteOptions {
            gzip: true,
            scl_slope: f32::NAN,
            scl_inter: 0.0,
        };
        write_nifti(&p, &geom(), &data, opts).unwrap();
        let e = read_scalar(&p).unwrap_err().to_string();
        assert!(e.contains("scl_slope") && e.contains("ct.nii.gz"), "{e}");
    }

    #[test]
    fn non_integral_label_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.nii.gz");
        let mut data: Vec<f32> = labels().into_iter().map(|v| v as f32).collect();
        data[7] = 1.5;
        write_nifti(&p, &geom(), &data, WriteOptions::default()).unwrap();
        let e = read_labels(&p).unwrap_err().to_string();
        assert!(e.contains("1.5") && e.contains("index 7"), "{e}");
    }

    #[test]
    fn truncated_and_corrupt_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.nii.gz");
        let bytes = encode_nifti(&geom(), &labels(), WriteOptions::default()).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_labels(&p).unwrap_err();
        assert!(matches!(e, ImagingError::Gzip { .. }), "{e}");
        assert!(e.to_string().contains("m.nii.gz"));
        // Uncompressed but short of voxel data.
        let raw = encode_nifti(
            &geom(),
            &labels(),
            WriteOptions {
                gzip: false,
                ..Default::default()
            },
        )
        .unwrap();
        let p2 = dir.path().join("short.nii");
        std::fs::write(&p2, &raw[..raw.len() - 10]).unwrap();
        assert!(matches!(
            read_labels(&p2).unwrap_err(),
            ImagingError::Truncated { .. }
        ));
        // Garbage after a valid gzip magic.
        let p3 = dir.path().join("bad.nii.gz");
        std::fs::write(
            &p3,
            [
                0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
            ],
        )
        .unwrap();
        assert!(matches!(
            read_labels(&p3).unwrap_err(),
            ImagingError::Gzip { .. }
        ));
    }

    #[test]
    fn non_nifti_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.nii");
        std::fs::write(&p, b"case_id,label\ncase_1,benign\n").unwrap();
        let e = read_labels(&p).unwrap_err();
        assert!(matches!(e, ImagingError::NotNifti { .. }), "{e}");
        let p = dir.path().join("big.nii");
        std::fs::write(&p, vec![7u8; 400]).unwrap();
        assert!(matches!(
            read_labels(&p).unwrap_err(),
            ImagingError::NotNifti { .. }
        ));
    }

    #[test]
    fn qform_only_file_gives_rotation_times_pixdim() {
        // Identity quaternion, pixdim (2, 3, 4), qfac -1 flips the third axis.
        let mut h = encode_nifti(
            &geom(),
            &labels(),
            WriteOptions {
                gzip: false,
                ..Default::default()
            },
        )
        .unwrap();
        h[254..256].copy_from_slice(&0i16.to_le_bytes());
        h[252..254].copy_from_slice(&1i16.to_le_bytes());
        for (a, v) in [-1.0f32, 2.0, 3.0, 4.0].iter().enumerate() {
            h[76 + 4 * a..80 + 4 * a].copy_from_slice(&v.to_le_bytes());
        }
        for off in [256, 260, 264, 268, 272, 276] {
            h[off..off + 4].copy_from_slice(&0f32.to_le_bytes());
        }
        let hd = parse_header(Path::new("q.nii"), &h).unwrap();
        assert_eq!(hd.geometry.affine[0][0], 2.0);
        assert_eq!(hd.geometry.affine[1][1], 3.0);
        assert_eq!(hd.geometry.affine[2][2], -4.0);
    }
}
