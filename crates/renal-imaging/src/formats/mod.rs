//! A volume from any of the formats read here, chosen by the file name: NIfTI (`.nii`,
//! `.nii.gz`, the default), NRRD (`.nrrd`, `.nhdr`, 3D Slicer's `.seg.nrrd`) and MetaImage
//! (`.mha`, `.mhd`). Every reader gives the same grid convention (NIfTI's RAS+ affine, axis 0
//! fastest), so a volume is the same whichever file it came from (`tests/formats.rs` checks
//! this on files written by SimpleITK and pynrrd).
//!
//! A segmentation's segments named kidney, tumor (tumour) or cyst take the label values the
//! measurements expect (1, 2, 3, KiTS23's); a segment with another name is an error naming it.

mod metaimage;
mod nrrd;
mod raw;

use std::path::Path;

use crate::error::Result;
use crate::nifti;
use crate::volume::{labels_from_values, Geometry, LabelVolume, Volume};
use raw::format_err;

/// The file formats read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Nifti,
    Nrrd,
    MetaImage,
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
    if f == Format::Nifti {
        return nifti::read_scalar(path);
    }
    let r = raster(path, f)?;
    let mut out = vec![0f32; r.geometry.len()];
    r.for_each(|i, v| out[i] = v as f32);
    Volume::new(r.geometry, out)
}

/// The label value the measurements use for a segment's name (kidney 1, tumor 2, cyst 3).
fn label_for(path: &Path, value: u8, name: &str) -> Result<u8> {
    let n = name.to_ascii_lowercase();
    if n.contains("cyst") {
        Ok(3)
    } else if n.contains("tumor") || n.contains("tumour") {
        Ok(2)
    } else if n.contains("kidney") {
        Ok(1)
    } else {
        Err(format_err(
            path,
            format!("segment `{name}` (label {value}): not a kidney, tumor or cyst segment; name the segments so, or export a label map with kidney = 1, tumor = 2, cyst = 3"),
        ))
    }
}

/// A label map (segmentation or mask): integer values in 0..=255; a segmentation's named
/// segments mapped to kidney 1, tumor 2, cyst 3.
pub fn read_labels(path: &Path) -> Result<LabelVolume> {
    let f = format_of(path);
    if f == Format::Nifti {
        return nifti::read_labels(path);
    }
    let r = raster(path, f)?;
    let mut v = labels_from_values(path, r.geometry.clone(), |f| r.for_each(f))?;
    if !r.segments.is_empty() {
        let mut map = [0u8; 256];
        for (value, name) in &r.segments {
            map[*value as usize] = label_for(path, *value, name)?;
        }
        v.data.iter_mut().for_each(|x| *x = map[*x as usize]);
    }
    Ok(v)
}

/// The grid of a file (NIfTI: from the header alone; the others: from the whole file).
pub fn read_geometry(path: &Path) -> Result<Geometry> {
    match format_of(path) {
        Format::Nifti => Ok(nifti::read_header(path)?.geometry),
        f => Ok(raster(path, f)?.geometry),
    }
}
