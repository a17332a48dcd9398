//! MetaImage (ITK's `.mha` with the data after the header, `.mhd` with a separate data file):
//! one 3D scalar volume, raw or zlib-compressed. MetaImage positions are in ITK's LPS patient
//! space; `TransformMatrix` (or `Orientation` / `Rotation`) holds each axis' direction
//! cosines in turn, as ITK's MetaImageIO reads them.
//!
//! Reference: the MetaIO documentation (itk.org, "MetaIO") and ITK's `itkMetaImageIO.cxx`.

use std::collections::BTreeMap;
use std::path::Path;

use super::raw::{affine_from, format_err, inflate, numbers, voxel_count, Elem, Raster};
use crate::error::{ImagingError, Result};
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

/// Reads a MetaImage file's grid and voxel bytes.
pub fn read(path: &Path) -> Result<Raster> {
    let raw = std::fs::read(path).map_err(|source| ImagingError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // Header lines up to and including `ElementDataFile = ...`.
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let mut at = 0;
    let mut data_file = None;
    while at < raw.len() {
        let end = raw[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| at + p);
        let line = std::str::from_utf8(&raw[at..end])
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
            data_file = Some(v);
            break;
        }
        keys.insert(k, v);
    }
    let data_file = data_file.ok_or_else(|| format_err(path, "no `ElementDataFile` line"))?;
    let key = |k: &str| {
        keys.get(k)
            .ok_or_else(|| format_err(path, format!("no `{k}`")))
    };
    if let Some(t) = keys.get("ObjectType").filter(|t| *t != "Image") {
        return Err(format_err(
            path,
            format!("`ObjectType` = `{t}`: an Image expected"),
        ));
    }
    if key("NDims")?.trim() != "3" {
        return Err(format_err(
            path,
            format!("`NDims` = {}: one 3D volume expected", key("NDims")?),
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
    let three = |k: &str, v: &str| -> Result<[f64; 3]> {
        let n = numbers(path, k, v)?;
        <[f64; 3]>::try_from(n.as_slice())
            .map_err(|_| format_err(path, format!("`{k}` does not hold 3 numbers")))
    };
    let dims = voxel_count(path, "DimSize", &three("DimSize", key("DimSize")?)?)?;
    let elem = elem(path, key("ElementType")?)?;
    let spacing = match keys
        .get("ElementSpacing")
        .or_else(|| keys.get("ElementSize"))
    {
        Some(s) => three("ElementSpacing", s)?,
        None => [1.0; 3],
    };
    let origin = match ["Offset", "Position", "Origin"]
        .iter()
        .find_map(|k| keys.get(*k).map(|v| (*k, v)))
    {
        Some((k, v)) => three(k, v)?,
        None => [0.0; 3],
    };
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
    let dirs: [[f64; 3]; 3] =
        std::array::from_fn(|a| std::array::from_fn(|r| cosines[a * 3 + r] * spacing[a]));
    let geometry = Geometry {
        dims,
        affine: affine_from(dirs, origin, true),
    };
    let block = match data_file.as_str() {
        "LOCAL" => raw[at.min(raw.len())..].to_vec(),
        name if name.starts_with("LIST") || name.contains('%') => {
            return Err(format_err(
                path,
                format!("`ElementDataFile` = `{name}`: a list of files is not supported"),
            ));
        }
        name => {
            let p = path.parent().unwrap_or(Path::new(".")).join(name);
            std::fs::read(&p).map_err(|source| ImagingError::Io { path: p, source })?
        }
    };
    let bytes = if truth(keys.get("CompressedData")) {
        inflate(
            path,
            &block,
            false,
            dims.iter().product::<usize>() * elem.size(),
        )?
    } else {
        block
    };
    let big_endian = truth(
        keys.get("ElementByteOrderMSB")
            .or_else(|| keys.get("BinaryDataByteOrderMSB")),
    );
    let r = Raster {
        path: path.to_path_buf(),
        geometry,
        elem,
        big_endian,
        bytes,
        segments: Vec::new(),
    };
    r.check_size()?;
    Ok(r)
}
