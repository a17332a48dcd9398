//! What NRRD and MetaImage files have in common once their headers are read: a 3D grid, an
//! element type, a byte order and the voxel bytes (decompressed).

use std::path::{Path, PathBuf};

use crate::error::{ImagingError, Result};
use crate::volume::Geometry;

/// A voxel's storage type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Elem {
    pub fn size(self) -> usize {
        match self {
            Elem::I8 | Elem::U8 => 1,
            Elem::I16 | Elem::U16 => 2,
            Elem::I32 | Elem::U32 | Elem::F32 => 4,
            Elem::F64 => 8,
        }
    }
}

/// A decoded file: its grid (RAS+ affine, as NIfTI's), voxel type and bytes, and, for a
/// segmentation, its segments' names by label value.
#[derive(Debug, Clone)]
pub struct Raster {
    pub path: PathBuf,
    pub geometry: Geometry,
    pub elem: Elem,
    pub big_endian: bool,
    pub bytes: Vec<u8>,
    pub segments: Vec<(u8, String)>,
}

pub fn format_err(path: &Path, detail: impl std::fmt::Display) -> ImagingError {
    ImagingError::Format {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// The RAS+ affine of a grid given in a patient space: the axes' direction vectors (each the
/// spacing times the unit direction) and the origin, in LPS (`lps = true`, DICOM's and ITK's
/// convention) or RAS.
pub fn affine_from(dirs: [[f64; 3]; 3], origin: [f64; 3], lps: bool) -> [[f64; 4]; 3] {
    let flip = |r: usize| if lps && r < 2 { -1.0 } else { 1.0 };
    let mut a = [[0.0; 4]; 3];
    for (r, row) in a.iter_mut().enumerate() {
        for (c, d) in dirs.iter().enumerate() {
            row[c] = flip(r) * d[r];
        }
        row[3] = flip(r) * origin[r];
    }
    a
}

impl Raster {
    /// A decoded file, once its bytes are checked to hold the grid's voxels.
    pub fn new(
        path: &Path,
        geometry: Geometry,
        (elem, big_endian): (Elem, bool),
        bytes: Vec<u8>,
        segments: Vec<(u8, String)>,
    ) -> Result<Raster> {
        let r = Raster {
            path: path.to_path_buf(),
            geometry,
            elem,
            big_endian,
            bytes,
            segments,
        };
        r.check_size()?;
        Ok(r)
    }

    /// Checks that the bytes hold exactly the grid's voxels.
    fn check_size(&self) -> Result<()> {
        let want = self.geometry.len() * self.elem.size();
        if self.bytes.len() < want {
            return Err(ImagingError::Truncated {
                path: self.path.clone(),
                expected: want,
                offset: 0,
                found: self.bytes.len(),
            });
        }
        Ok(())
    }

    /// Calls `f(index, value)` for every voxel, in file order (axis 0 fastest).
    pub fn for_each(&self, mut f: impl FnMut(usize, f64)) {
        let n = self.geometry.len();
        let s = self.elem.size();
        let be = self.big_endian;
        macro_rules! each {
            ($t:ty) => {
                for (i, c) in self.bytes[..n * s].chunks_exact(s).enumerate() {
                    let mut a = [0u8; std::mem::size_of::<$t>()];
                    a.copy_from_slice(c);
                    let v = if be {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    };
                    f(i, v as f64);
                }
            };
        }
        match self.elem {
            Elem::I8 => each!(i8),
            Elem::U8 => each!(u8),
            Elem::I16 => each!(i16),
            Elem::U16 => each!(u16),
            Elem::I32 => each!(i32),
            Elem::U32 => each!(u32),
            Elem::F32 => each!(f32),
            Elem::F64 => each!(f64),
        }
    }
}

/// zlib or gzip decompression of a data block (MetaImage writes zlib, NRRD gzip), stopping
/// after `limit` bytes: the voxels the header announces, so that a small file cannot expand
/// into more memory than its grid needs (a surplus is an error of [`Raster::check_size`]'s kind).
pub fn inflate(path: &Path, raw: &[u8], gzip: bool, limit: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let max = crate::limits::get().0;
    if limit as u64 > max {
        return Err(crate::error::ImagingError::TooLarge {
            path: path.to_path_buf(),
            detail: format!(
                "{limit} bytes of voxels are over the limit of {} MiB per volume (--max-volume-mib)",
                max >> 20
            ),
        });
    }
    let mut out = Vec::new();
    let cap = limit.saturating_add(1) as u64;
    let r = if gzip {
        crate::cancel::Checked(flate2::read::MultiGzDecoder::new(raw))
            .take(cap)
            .read_to_end(&mut out)
    } else {
        crate::cancel::Checked(flate2::read::ZlibDecoder::new(raw))
            .take(cap)
            .read_to_end(&mut out)
    };
    if r.is_err() {
        crate::cancel::check()?;
    }
    r.map_err(|e| ImagingError::Gzip {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    Ok(out)
}

/// The voxel count of a grid of `dims`, each in 1..=2^31 and the product within memory's reach
/// (at most 2^34 voxels), or an error naming the field.
pub fn voxel_count(path: &Path, field: &str, dims: &[f64]) -> Result<[usize; 3]> {
    let ok = |d: f64| d.fract() == 0.0 && (1.0..=2f64.powi(31)).contains(&d);
    if dims.len() != 3 || !dims.iter().all(|&d| ok(d)) {
        return Err(format_err(
            path,
            format!("`{field}` = {dims:?}: three whole sizes of at least 1 expected"),
        ));
    }
    let d = [dims[0] as usize, dims[1] as usize, dims[2] as usize];
    crate::limits::check_grid(path, &d.map(|v| v as u64), 1)?;
    Ok(d)
}

/// `"a b c"` (or `"(a,b,c)"`) as numbers, naming the field on error.
pub fn numbers(path: &Path, field: &str, s: &str) -> Result<Vec<f64>> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format_err(path, format!("`{field}`: `{t}` is not a finite number")))
        })
        .collect()
}

/// A header's detached data file, which must lie in the header's folder or below it (a name
/// like `../../etc/x` or an absolute path is refused: a header must not make this tool read
/// files elsewhere), reached without a symbolic link (a link in the header's folder could
/// point anywhere: the rule is on the file read, not on its name).
pub fn detached(header: &Path, name: &str) -> Result<std::path::PathBuf> {
    let rel = Path::new(name);
    let inside = rel.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    if name.is_empty() || !inside {
        return Err(format_err(
            header,
            format!("data file `{name}`: must be a file in the header's folder (no absolute path, no `..`)"),
        ));
    }
    let base = header.parent().unwrap_or(Path::new("."));
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let mut at = base.to_path_buf();
    for c in rel.components() {
        if let std::path::Component::Normal(part) = c {
            at.push(part);
            let link = std::fs::symlink_metadata(&at)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false);
            if link {
                return Err(format_err(
                    header,
                    format!("data file `{name}`: {} is a symbolic link; a detached data file must be a file in the header's folder itself", at.display()),
                ));
            }
        }
    }
    if std::fs::symlink_metadata(&at).is_err() {
        return Err(format_err(
            header,
            format!("data file `{name}`: no such file in the header's folder"),
        ));
    }
    Ok(at)
}
