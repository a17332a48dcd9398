//! NRRD (`.nrrd` with attached data, `.nhdr` with a detached data file), including 3D Slicer's
//! segmentation files (`.seg.nrrd`: a label map whose `SegmentN_Name` / `SegmentN_LabelValue`
//! / `SegmentN_Layer` keys name the segments). Three spatial axes in an RAS or LPS patient
//! space; raw or gzip encoding; every integer and float type up to 32-bit integers and
//! doubles. Anything else (another space, encoding or dimension, segments on several layers,
//! which may overlap) is an error naming the file and the field.
//!
//! Reference: the NRRD file format, version 5 (teem.sourceforge.net/nrrd/format.html).
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;

use super::raw::{affine_from, format_err, inflate, numbers, voxel_count, Elem, Raster};
use crate::error::Result;
use crate::volume::Geometry;

fn elem(path: &Path, t: &str) -> Result<Elem> {
    Ok(match t.trim().to_ascii_lowercase().as_str() {
        "signed char" | "int8" | "int8_t" => Elem::I8,
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => Elem::U8,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => {
            Elem::I16
        }
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => Elem::U16,
        "int" | "signed int" | "int32" | "int32_t" => Elem::I32,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => Elem::U32,
        "float" => Elem::F32,
        "double" => Elem::F64,
        other => {
            return Err(format_err(
                path,
                format!("`type`: unsupported voxel type `{other}`"),
            ))
        }
    })
}

/// The header's fields (lower-case names) and key/value pairs, and where the data starts.
struct Header {
    fields: BTreeMap<String, String>,
    pairs: BTreeMap<String, String>,
    data_at: Option<usize>,
}

fn header(path: &Path, raw: &[u8]) -> Result<Header> {
    if !raw.starts_with(b"NRRD000") {
        return Err(format_err(
            path,
            "not a NRRD file (no `NRRD000X` magic line)",
        ));
    }
    // The header ends at the first empty line; a detached header may end with the file.
    let end = raw.windows(2).position(|w| w == b"\n\n");
    let text_end = end.unwrap_or(raw.len());
    let text = std::str::from_utf8(raw.get(..text_end).unwrap_or_default())
        .map_err(|_| format_err(path, "the header is not text"))?;
    let mut fields = BTreeMap::new();
    let mut pairs = BTreeMap::new();
    for line in text.lines().skip(1) {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some((k, v)) = line.split_once(":=") {
            pairs.insert(k.trim().to_string(), v.trim().to_string());
        } else if let Some((k, v)) = line.split_once(": ") {
            fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        } else {
            return Err(format_err(
                path,
                format!("header line `{line}` is neither `field: value` nor `key:=value`"),
            ));
        }
    }
    Ok(Header {
        fields,
        pairs,
        data_at: end.map(|e| e + 2),
    })
}

/// The segments of a Slicer segmentation: label value and name, on layer 0 only.
fn segments(path: &Path, pairs: &BTreeMap<String, String>) -> Result<Vec<(u8, String)>> {
    let mut out = Vec::new();
    for n in 0.. {
        let key = |k: &str| pairs.get(&format!("Segment{n}_{k}"));
        let Some(name) = key("Name") else { break };
        let layer = key("Layer").map(|s| s.trim()).unwrap_or("0");
        if layer != "0" {
            return Err(format_err(
                path,
                format!("segment {n} (`{name}`) is on layer {layer}: segments on several layers may overlap, which one label map cannot hold; export the segmentation as a label map"),
            ));
        }
        let value = key("LabelValue")
            .and_then(|v| v.trim().parse::<u8>().ok())
            .ok_or_else(|| {
                format_err(
                    path,
                    format!("segment {n} (`{name}`): no label value in 1..=255"),
                )
            })?;
        out.push((value, name.clone()));
    }
    Ok(out)
}

/// The three spatial axes' direction vectors, skipping a non-spatial (`none`) axis of size 1.
fn directions(
    path: &Path,
    f: &BTreeMap<String, String>,
    sizes: &[usize],
) -> Result<([[f64; 3]; 3], [usize; 3])> {
    let text = f.get("space directions").ok_or_else(|| {
        format_err(
            path,
            "no `space directions`: the voxel spacing and orientation are unknown",
        )
    })?;
    // Entries are `(x,y,z)` or `none`, separated by whitespace outside the parentheses.
    let mut depth = 0i32;
    let compact: String = text
        .chars()
        .filter(|&c| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            !(c.is_whitespace() && depth > 0)
        })
        .collect();
    let groups: Vec<&str> = compact.split_whitespace().collect();
    if groups.len() != sizes.len() {
        return Err(format_err(
            path,
            format!(
                "`space directions` has {} entries for {} axes",
                groups.len(),
                sizes.len()
            ),
        ));
    }
    let mut dirs = Vec::new();
    let mut dims = Vec::new();
    for (g, &n) in groups.iter().zip(sizes) {
        if *g == "none" {
            if n > 1 {
                return Err(format_err(path, format!("a non-spatial axis of size {n}: one 3D volume expected (a 4D image, or segments on several layers)")));
            }
            continue;
        }
        let v: [f64; 3] = numbers(path, "space directions", g)?
            .try_into()
            .map_err(|_| {
                format_err(
                    path,
                    format!("`space directions` entry `{g}` is not a 3-vector"),
                )
            })?;
        dirs.push(v);
        dims.push(n);
    }
    let axes = dirs.len();
    match (dirs.try_into(), dims.try_into()) {
        (Ok(dirs), Ok(dims)) => Ok((dirs, dims)),
        _ => Err(format_err(
            path,
            format!("{axes} spatial axes: a 3D volume expected"),
        )),
    }
}

/// The data block: the detached `data file`, or what follows the header's empty line.
fn data_block(path: &Path, h: &Header, raw: &[u8]) -> Result<Vec<u8>> {
    let f = &h.fields;
    if let Some(s) = f.get("byte skip").filter(|s| s.trim() != "0") {
        return Err(format_err(
            path,
            format!("`byte skip` = {s} is not supported"),
        ));
    }
    match f.get("data file").or_else(|| f.get("datafile")) {
        Some(name) => {
            if name.starts_with("LIST") || name.contains('%') {
                return Err(format_err(
                    path,
                    format!("`data file` = `{name}`: a list of data files is not supported"),
                ));
            }
            let p = super::raw::detached(path, name.trim())?;
            crate::limits::read_file(&p)
        }
        None => {
            let at = h.data_at.ok_or_else(|| {
                format_err(path, "no empty line after the header, and no `data file`")
            })?;
            Ok(raw.get(at..).unwrap_or_default().to_vec())
        }
    }
}

/// Reads a NRRD file's grid and voxel bytes.
pub fn read(path: &Path) -> Result<Raster> {
    let raw = crate::limits::read_file(path)?;
    let h = header(path, &raw)?;
    let f = &h.fields;
    let field = |k: &str| {
        f.get(k)
            .map(String::as_str)
            .ok_or_else(|| format_err(path, format!("no `{k}` field")))
    };
    let elem = elem(path, field("type")?)?;
    let sizes: Vec<f64> = numbers(path, "sizes", field("sizes")?)?;
    if sizes.is_empty()
        || sizes
            .iter()
            .any(|&v| v.fract() != 0.0 || !(1.0..=2f64.powi(31)).contains(&v))
    {
        return Err(format_err(
            path,
            format!("`sizes` = {sizes:?}: whole sizes of at least 1 expected"),
        ));
    }
    let sizes: Vec<usize> = sizes.iter().map(|&v| v as usize).collect();
    let lps = match field("space")?.trim().to_ascii_lowercase().as_str() {
        "left-posterior-superior" | "lps" => true,
        "right-anterior-superior" | "ras" => false,
        other => {
            return Err(format_err(
                path,
                format!("`space` = `{other}`: only RAS and LPS patient spaces are read"),
            ));
        }
    };
    let (dirs, dims) = directions(path, f, &sizes)?;
    let dims = voxel_count(path, "sizes", &dims.map(|d| d as f64))?;
    let origin = match f.get("space origin") {
        Some(o) => {
            let v: [f64; 3] = numbers(path, "space origin", o)?
                .try_into()
                .map_err(|_| format_err(path, "`space origin` is not a 3-vector"))?;
            v
        }
        None => [0.0; 3],
    };
    let big_endian = match f.get("endian").map(|s| s.trim()) {
        Some("big") => true,
        Some("little") | None => false,
        Some(other) => return Err(format_err(path, format!("`endian` = `{other}`"))),
    };
    let block = data_block(path, &h, &raw)?;
    let bytes = match field("encoding")?.trim().to_ascii_lowercase().as_str() {
        "raw" => block,
        "gzip" | "gz" => inflate(
            path,
            &block,
            true,
            dims.iter().product::<usize>() * elem.size(),
        )?,
        other => {
            return Err(format_err(
                path,
                format!("`encoding` = `{other}`: raw and gzip are read"),
            ));
        }
    };
    let geometry = Geometry {
        dims,
        affine: affine_from(dirs, origin, lps),
    };
    let segments = segments(path, &h.pairs)?;
    Raster::new(path, geometry, (elem, big_endian), bytes, segments)
}
