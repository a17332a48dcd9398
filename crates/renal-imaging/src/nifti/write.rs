//! Writing: any datatype, optional scaling, gzip.

use std::path::{Path, PathBuf};

use crate::error::{ImagingError, Result};
use crate::volume::Geometry;

use super::header::*;

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
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename
/// (a reader never sees half a file).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| ImagingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
