//! The NIfTI-1 and NIfTI-2 headers: datatypes, byte order, scaling and the affine (sform,
//! else qform, else pixdim).

use std::path::Path;

use crate::error::{ImagingError, Result};
use crate::volume::Geometry;

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
    pub(crate) fn from_code(code: i64) -> Option<Self> {
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

pub(crate) struct Reader<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) le: bool,
}

// The header's bytes are read without a panicking access (the callers check the header's
// length first; a read past it would give zeros, which the field checks refuse).
#[deny(clippy::indexing_slicing)]
impl Reader<'_> {
    pub(crate) fn bytes<const N: usize>(&self, off: usize) -> [u8; N] {
        let mut a = crate::bytes::arr_at::<N>(self.b, off).unwrap_or([0u8; N]);
        if !self.le {
            a.reverse();
        }
        a
    }
    pub(crate) fn i16(&self, off: usize) -> i16 {
        i16::from_le_bytes(self.bytes(off))
    }
    pub(crate) fn i32(&self, off: usize) -> i32 {
        i32::from_le_bytes(self.bytes(off))
    }
    pub(crate) fn i64(&self, off: usize) -> i64 {
        i64::from_le_bytes(self.bytes(off))
    }
    pub(crate) fn f32(&self, off: usize) -> f64 {
        f32::from_le_bytes(self.bytes(off)) as f64
    }
    pub(crate) fn f64(&self, off: usize) -> f64 {
        f64::from_le_bytes(self.bytes(off))
    }
}

pub(crate) fn not_nifti(path: &Path, detail: impl Into<String>) -> ImagingError {
    ImagingError::NotNifti {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

pub(crate) fn invalid(path: &Path, field: &'static str, value: impl ToString) -> ImagingError {
    ImagingError::InvalidHeader {
        path: path.to_path_buf(),
        field,
        value: value.to_string(),
    }
}

/// Raw header values, independent of the NIfTI version.
pub(crate) struct RawHeader {
    pub(crate) version: u8,
    pub(crate) dim: [i64; 8],
    pub(crate) datatype: i64,
    pub(crate) pixdim: [f64; 8],
    pub(crate) vox_offset: f64,
    pub(crate) scl_slope: f64,
    pub(crate) scl_inter: f64,
    pub(crate) qform_code: i64,
    pub(crate) sform_code: i64,
    pub(crate) quatern: [f64; 3],
    pub(crate) qoffset: [f64; 3],
    pub(crate) srow: [[f64; 4]; 3],
}

#[deny(clippy::indexing_slicing)]
pub(crate) fn raw_header(path: &Path, b: &[u8]) -> Result<RawHeader> {
    let first = crate::bytes::arr::<4>(b).filter(|_| b.len() >= 348);
    let Some(first) = first else {
        return Err(not_nifti(
            path,
            format!("{} bytes, shorter than a header", b.len()),
        ));
    };
    let s1le = i32::from_le_bytes(first);
    let s1be = i32::from_be_bytes(first);
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
    let layout = if version == 1 {
        let magic = b.get(344..348).unwrap_or_default();
        if magic != b"n+1\0" && magic != b"ni1\0" {
            return Err(not_nifti(path, "missing the NIfTI-1 magic `n+1` / `ni1`"));
        }
        &NIFTI1
    } else {
        if b.len() < 540 {
            return Err(not_nifti(path, "NIfTI-2 header truncated"));
        }
        let magic = b.get(4..8).unwrap_or_default();
        if magic != b"n+2\0" && magic != b"ni2\0" {
            return Err(not_nifti(path, "missing the NIfTI-2 magic `n+2` / `ni2`"));
        }
        &NIFTI2
    };
    Ok(layout.read(&r, version))
}

/// Where a header version keeps each field, and how wide its integers and floats are.
pub(crate) struct Layout {
    /// `dim[8]` and its integer width.
    dim: (usize, usize),
    datatype: usize,
    /// `pixdim[8]`; then every float field has this width.
    pixdim: usize,
    float: usize,
    /// `vox_offset` (a float in NIfTI-1, an int64 in NIfTI-2).
    vox_offset: (usize, bool),
    /// `scl_slope`, `scl_inter` follow each other.
    scl: usize,
    /// `qform_code`, `sform_code` and their integer width.
    codes: (usize, usize),
    /// `quatern_b..d`, `qoffset_x..z`, then `srow_x..z` (4 each), consecutive floats.
    quatern: usize,
}

/// nifti1.h: a 348-byte header, 16-bit dims, 32-bit floats.
pub(crate) const NIFTI1: Layout = Layout {
    dim: (40, 2),
    datatype: 70,
    pixdim: 76,
    float: 4,
    vox_offset: (108, true),
    scl: 112,
    codes: (252, 2),
    quatern: 256,
};

/// nifti2.h: a 540-byte header, 64-bit dims and offsets, 64-bit floats.
pub(crate) const NIFTI2: Layout = Layout {
    dim: (16, 8),
    datatype: 12,
    pixdim: 104,
    float: 8,
    vox_offset: (168, false),
    scl: 176,
    codes: (344, 4),
    quatern: 352,
};

impl Layout {
    fn int(r: &Reader, off: usize, width: usize) -> i64 {
        match width {
            2 => r.i16(off) as i64,
            4 => r.i32(off) as i64,
            _ => r.i64(off),
        }
    }

    fn float(&self, r: &Reader, off: usize) -> f64 {
        if self.float == 4 {
            r.f32(off)
        } else {
            r.f64(off)
        }
    }

    fn read(&self, r: &Reader, version: u8) -> RawHeader {
        let (w, f) = (self.dim.1, self.float);
        let dim = std::array::from_fn(|i| Self::int(r, self.dim.0 + w * i, w));
        let pixdim = std::array::from_fn(|i| self.float(r, self.pixdim + f * i));
        let q = |k: usize| self.float(r, self.quatern + f * k);
        let srow = std::array::from_fn(|row| std::array::from_fn(|c| q(6 + 4 * row + c)));
        let vox_offset = match self.vox_offset {
            (off, true) => self.float(r, off),
            (off, false) => r.i64(off) as f64,
        };
        RawHeader {
            version,
            dim,
            datatype: r.i16(self.datatype) as i64,
            pixdim,
            vox_offset,
            scl_slope: self.float(r, self.scl),
            scl_inter: self.float(r, self.scl + f),
            qform_code: Self::int(r, self.codes.0, self.codes.1),
            sform_code: Self::int(r, self.codes.0 + self.codes.1, self.codes.1),
            quatern: [q(0), q(1), q(2)],
            qoffset: [q(3), q(4), q(5)],
            srow,
        }
    }
}

pub(crate) fn qform_affine(h: &RawHeader) -> [[f64; 4]; 3] {
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
    // Every later size computation is within these bounds (no overflow, no huge allocation).
    crate::limits::check_grid(path, &dims.map(|d| d as u64), datatype.size() as u64)?;
    if !h.vox_offset.is_finite() || h.vox_offset < 0.0 || h.vox_offset > 1e12 {
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

pub(crate) fn raw_header_le(b: &[u8]) -> bool {
    matches!(
        crate::bytes::arr::<4>(b).map(i32::from_le_bytes),
        Some(348 | 540)
    )
}

#[deny(clippy::indexing_slicing)]
pub(crate) fn voxel_bytes<'a>(path: &Path, h: &NiftiHeader, b: &'a [u8]) -> Result<&'a [u8]> {
    let expected = h.geometry.len() * h.datatype.size();
    h.vox_offset
        .checked_add(expected)
        .and_then(|end| b.get(h.vox_offset..end))
        .ok_or_else(|| ImagingError::Truncated {
            path: path.to_path_buf(),
            expected,
            offset: h.vox_offset,
            found: b.len().saturating_sub(h.vox_offset),
        })
}

/// Calls `f(index, value)` for every stored value, converted to f64 (scaling not applied).
pub(crate) fn for_each_value(h: &NiftiHeader, data: &[u8], mut f: impl FnMut(usize, f64)) {
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
