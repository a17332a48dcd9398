//! A volume from any of the formats read here, chosen by the file name: NIfTI (`.nii`,
//! `.nii.gz`, the default), NRRD (`.nrrd`, `.nhdr`, 3D Slicer's `.seg.nrrd`) and MetaImage
//! (`.mha`, `.mhd`). Every reader gives the same grid convention (NIfTI's RAS+ affine, axis 0
//! fastest), so a volume is the same whichever file it came from (`tests/formats.rs` checks
//! this on files written by SimpleITK and pynrrd).
//!
//! Masks may also be DICOM Segmentation objects or RT Structure Sets (`.dcm`, or any file
//! with the DICOM preamble), rebuilt on the grid of the CT series they reference
//! ([`crate::dicom::mask`]).
//!
//! A segmentation's segments named kidney, tumor (tumour) or cyst take the label values the
//! measurements expect (1, 2, 3, KiTS23's); a segment with another name is an error naming it,
//! unless a [`LabelMap`] says which label or segment is which ([`read_mask`]).

mod metaimage;
mod nrrd;
mod raw;

use std::path::Path;

use crate::error::Result;
use crate::labelmap::{segment_role, LabelMap};
use crate::nifti;
use crate::volume::{labels_from_values, Geometry, LabelVolume, Volume};
use raw::format_err;

/// The file formats read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Nifti,
    Nrrd,
    MetaImage,
    /// A DICOM SEG or RTSTRUCT (masks only; a CT series is a folder, read by `dicom`).
    Dicom,
}

/// The format of a file, by its name.
pub fn format_of(path: &Path) -> Format {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".nrrd") || name.ends_with(".nhdr") {
        Format::Nrrd
    } else if name.ends_with(".mha") || name.ends_with(".mhd") {
        Format::MetaImage
    } else if name.ends_with(".dcm")
        || (!name.contains(".nii") && crate::dicom::parse::is_part10(path))
    {
        Format::Dicom
    } else {
        Format::Nifti
    }
}

fn raster(path: &Path, f: Format) -> Result<raw::Raster> {
    match f {
        Format::Nrrd => nrrd::read(path),
        _ => metaimage::read(path),
    }
}

/// An intensity image (e.g. CT in HU) as f32.
pub fn read_scalar(path: &Path) -> Result<Volume<f32>> {
    let f = format_of(path);
    match f {
        Format::Nifti => return nifti::read_scalar(path),
        Format::Dicom => return crate::dicom::read_slice_volume(path),
        _ => {}
    }
    let r = raster(path, f)?;
    // The limit holds for what is decoded: a float32 volume, whatever the stored type (1 MiB
    // of gzip holding 256 MiB of uint8 voxels would otherwise become 1 GiB of floats).
    crate::limits::check_grid(path, &r.geometry.dims.map(|d| d as u64), 4)?;
    let mut out = vec![0f32; r.geometry.len()];
    r.for_each(|i, v| out[i] = v as f32);
    Volume::new(r.geometry, out)
}

/// A label map (segmentation or mask): integer values in 0..=255; a segmentation's named
/// segments mapped to kidney 1, tumor 2, cyst 3.
pub fn read_labels(path: &Path) -> Result<LabelVolume> {
    read_mask(path, &[], None)
}

/// A mask in any format read here, with kidney 1, tumor 2, cyst 3: a DICOM SEG or RTSTRUCT
/// rebuilt on its referenced CT series (looked for in `references`, then beside the file);
/// with `map`, the labels or segments it names take their roles and the others are background.
pub fn read_mask(
    path: &Path,
    references: &[std::path::PathBuf],
    map: Option<&LabelMap>,
) -> Result<LabelVolume> {
    let f = format_of(path);
    let mut v = match f {
        Format::Dicom => return crate::dicom::mask::read_dicom_mask(path, references, map),
        Format::Nifti => nifti::read_labels(path)?,
        _ => {
            let r = raster(path, f)?;
            let mut v = if r.elem == raw::Elem::U8 {
                // Already labels: the decoded bytes become the volume (no second buffer).
                let n = r.geometry.len();
                let mut bytes = r.bytes;
                bytes.truncate(n);
                Volume::new(r.geometry.clone(), bytes)?
            } else {
                labels_from_values(path, r.geometry.clone(), |f| r.for_each(f))?
            };
            if !r.segments.is_empty() {
                let mut roles = [0u8; 256];
                for (value, name) in &r.segments {
                    let role = segment_role(map, *value as u32, &[name])
                        .map_err(|d| format_err(path, d))?;
                    roles[*value as usize] = role.unwrap_or(0);
                }
                v.data.iter_mut().for_each(|x| *x = roles[*x as usize]);
                return Ok(v);
            }
            v
        }
    };
    if let Some(m) = map {
        if m.names_only() {
            return Err(format_err(
                path,
                format!("the label map `{m}` names segments, but this file is a plain label map without segment names: give label values (e.g. tumor=2)"),
            ));
        }
        m.relabel(&mut v.data);
    }
    Ok(v)
}

/// The grid of a file (NIfTI: from the header alone; the others: from the whole file).
pub fn read_geometry(path: &Path) -> Result<Geometry> {
    match format_of(path) {
        Format::Nifti => Ok(nifti::read_header(path)?.geometry),
        Format::Dicom => Ok(read_labels(path)?.geometry),
        f => Ok(raster(path, f)?.geometry),
    }
}
