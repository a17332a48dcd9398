//! MetaImage (ITK's `.mha` with the data after the header, `.mhd` with a separate data file):
//! one 3D scalar volume, raw or zlib-compressed. MetaImage positions are in ITK's LPS patient
//! space; `TransformMatrix` (or `Orientation` / `Rotation`) holds each axis' direction
//! cosines in turn, as ITK's MetaImageIO reads them.
//!
//! Reference: the MetaIO documentation (itk.org, "MetaIO") and ITK's `itkMetaImageIO.cxx`.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;

use super::raw::{affine_from, format_err, inflate, numbers, voxel_count, Elem, Raster};
use crate::error::Result;
use crate::volume::Geometry;

fn elem(path: &Path, t: &str) -> Result<Elem> {
    Ok(match t.trim() {
        "MET_CHAR" => Elem::I8,
        "MET_UCHAR" => Elem::U8,
        "MET_SHORT" => Elem::I16,
        "MET_USHORT" => Elem::U16,
        "MET_INT" | "MET_LONG" => Elem::I32,
        "MET_UINT" | "MET_ULONG" => Elem::U32,
        "MET_FLOAT" => Elem::F32,
        "MET_DOUBLE" => Elem::F64,
        other => {
            return Err(format_err(
                path,
                format!("`ElementType` = `{other}` is not supported"),
            ))
        }
    })
}

fn truth(s: Option<&String>) -> bool {
    s.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The header's `Key = Value` lines up to `ElementDataFile`, that file's name, and where the
/// data start.
fn header(path: &Path, raw: &[u8]) -> Result<(BTreeMap<String, String>, String, usize)> {
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let mut at = 0;
    while at < raw.len() {
        let end = raw
            .get(at..)
            .unwrap_or_default()
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| at + p);
        let line = std::str::from_utf8(raw.get(at..end).unwrap_or_default())
            .map_err(|_| format_err(path, "the header is not text (not a MetaImage file?)"))?
            .trim_end_matches('\r');
        at = end + 1;
        let (k, v) = line.split_once('=').ok_or_else(|| {
            format_err(
                path,
                format!("header line `{line}` is not `Key = Value` (not a MetaImage file?)"),
            )
        })?;
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        if k == "ElementDataFile" {
            return Ok((keys, v, at.min(raw.len())));
        }
        keys.insert(k, v);
    }
    Err(format_err(path, "no `ElementDataFile` line"))
}

/// The first of `names` present, as three numbers.
fn three(path: &Path, keys: &BTreeMap<String, String>, names: &[&str]) -> Result<Option<[f64; 3]>> {
    match names.iter().find_map(|k| keys.get(*k).map(|v| (*k, v))) {
        Some((k, v)) => {
            let n = numbers(path, k, v)?;
            <[f64; 3]>::try_from(n.as_slice())
                .map(Some)
                .map_err(|_| format_err(path, format!("`{k}` does not hold 3 numbers")))
        }
        None => Ok(None),
    }
}

/// The grid: sizes, spacing, origin and direction cosines (LPS).
fn geometry(path: &Path, keys: &BTreeMap<String, String>) -> Result<Geometry> {
    let sizes = three(path, keys, &["DimSize"])?.ok_or_else(|| format_err(path, "no `DimSize`"))?;
    let dims = voxel_count(path, "DimSize", &sizes)?;
    let spacing = three(path, keys, &["ElementSpacing", "ElementSize"])?.unwrap_or([1.0; 3]);
    let origin = three(path, keys, &["Offset", "Position", "Origin"])?.unwrap_or([0.0; 3]);
    let cosines = match ["TransformMatrix", "Orientation", "Rotation"]
        .iter()
        .find_map(|k| keys.get(*k).map(|v| (*k, v)))
    {
        Some((k, v)) => {
            let m = numbers(path, k, v)?;
            if m.len() != 9 {
                return Err(format_err(path, format!("`{k}` does not hold 9 numbers")));
            }
            m
        }
        None => vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
    };
    let mut dirs = [[0.0; 3]; 3];
    for ((row, c), s) in dirs.iter_mut().zip(cosines.chunks_exact(3)).zip(spacing) {
        for (d, x) in row.iter_mut().zip(c) {
            *d = x * s;
        }
    }
    Ok(Geometry {
        dims,
        affine: affine_from(dirs, origin, true),
    })
}

/// Checks the keys that make the file one 3D scalar image.
fn check_kind(path: &Path, keys: &BTreeMap<String, String>) -> Result<()> {
    if let Some(t) = keys.get("ObjectType").filter(|t| *t != "Image") {
        return Err(format_err(
            path,
            format!("`ObjectType` = `{t}`: an Image expected"),
        ));
    }
    let ndims = keys
        .get("NDims")
        .ok_or_else(|| format_err(path, "no `NDims`"))?;
    if ndims.trim() != "3" {
        return Err(format_err(
            path,
            format!("`NDims` = {ndims}: one 3D volume expected"),
        ));
    }
    if let Some(c) = keys
        .get("ElementNumberOfChannels")
        .filter(|c| c.trim() != "1")
    {
        return Err(format_err(
            path,
            format!("`ElementNumberOfChannels` = {c}: a scalar image expected"),
        ));
    }
    Ok(())
}

/// Reads a MetaImage file's grid and voxel bytes.
pub fn read(path: &Path) -> Result<Raster> {
    let raw = crate::limits::read_file(path)?;
    let (keys, data_file, at) = header(path, &raw)?;
    check_kind(path, &keys)?;
    let geometry = geometry(path, &keys)?;
    let elem = elem(
        path,
        keys.get("ElementType")
            .ok_or_else(|| format_err(path, "no `ElementType`"))?,
    )?;
    let block = match data_file.as_str() {
        "LOCAL" => raw.get(at..).unwrap_or_default().to_vec(),
        name if name.starts_with("LIST") || name.contains('%') => {
            return Err(format_err(
                path,
                format!("`ElementDataFile` = `{name}`: a list of files is not supported"),
            ));
        }
        name => {
            let p = super::raw::detached(path, name)?;
            crate::limits::read_file(&p)?
        }
    };
    let bytes = if truth(keys.get("CompressedData")) {
        inflate(path, &block, false, geometry.len() * elem.size())?
    } else {
        block
    };
    let big_endian = truth(
        keys.get("ElementByteOrderMSB")
            .or_else(|| keys.get("BinaryDataByteOrderMSB")),
    );
    Raster::new(path, geometry, (elem, big_endian), bytes, Vec::new())
}
