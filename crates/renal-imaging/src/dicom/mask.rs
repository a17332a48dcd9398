//! Masks stored as DICOM: Segmentation objects ([`crate::dicom::seg`]) and RT Structure Sets
//! ([`crate::dicom::rtstruct`]), each rebuilt on the grid of the CT series it references.
//!
//! The referenced series (by its Series Instance UID) is looked for in the folders the caller
//! gives (a case's CT phases), then in the folders beside the mask file and beside its folder
//! (a PACS export puts each series in its own folder). A series that is not found is an error
//! naming the UID and where it was looked for.

use std::path::{Path, PathBuf};

use crate::dicom;
use crate::dicom::parse::{err, read_file, DataSet, Fault};
use crate::dicom::tags::{
    REFERENCED_SERIES, RT_REFERENCED_FRAME, RT_REFERENCED_SERIES, RT_REFERENCED_STUDY, SERIES_UID,
    SOP_CLASS,
};
use crate::error::Result;
use crate::labelmap::LabelMap;
use crate::volume::{Geometry, LabelVolume};

const SEG_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.4";
const LABELMAP_SEG_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.7";
const RTSTRUCT_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.481.3";
/// At most this many folders are opened while looking for a referenced series.
const MAX_CANDIDATES: usize = 256;

/// Whether a file is a DICOM Part 10 file (by its preamble).
pub fn is_dicom(path: &Path) -> bool {
    crate::dicom::parse::is_part10(path)
}

/// A DICOM SEG or RTSTRUCT file parsed, whether it is an RTSTRUCT, and the Series Instance
/// UID of the image series it was drawn on; any other SOP class is an error.
fn read_mask_file(path: &Path) -> Result<(crate::dicom::parse::Part10, bool, String)> {
    let p = read_file(path)?;
    let sop = p.data.text(SOP_CLASS).unwrap_or_default();
    let rt = sop == RTSTRUCT_STORAGE;
    if !rt && sop != SEG_STORAGE && sop != LABELMAP_SEG_STORAGE {
        return Err(err(
            path,
            format!("SOP class `{sop}` is neither a Segmentation nor an RT Structure Set: a mask given as DICOM must be one of them"),
        ));
    }
    let uid = referenced_series(&p.data, rt).map_err(|d| err(path, d))?;
    Ok((p, rt, uid))
}

/// A DICOM SEG or RTSTRUCT file as a label map (kidney 1, tumor 2, cyst 3) on the grid of
/// the CT series it references, found among `references` or beside the file.
pub fn read_dicom_mask(
    path: &Path,
    references: &[PathBuf],
    map: Option<&LabelMap>,
) -> Result<LabelVolume> {
    let (p, rt, uid) = read_mask_file(path)?;
    let grid = find_series(path, &uid, references)?;
    if rt {
        crate::dicom::rtstruct::read(path, &p.data, &grid, map)
    } else {
        crate::dicom::seg::read(path, &p.data, p.syntax, &grid, map)
    }
}

/// The Series Instance UID of the image series a SEG or RTSTRUCT file was drawn on (what
/// must be beside it, or among a case's CT phases, to rebuild it).
pub fn referenced_series_of(path: &Path) -> Result<String> {
    Ok(read_mask_file(path)?.2)
}

/// The Series Instance UID a SEG or an RTSTRUCT refers to.
fn referenced_series(data: &DataSet, rt: bool) -> std::result::Result<String, Fault> {
    let item = if rt {
        data.item(RT_REFERENCED_FRAME, "ReferencedFrameOfReferenceSequence")?
            .item(RT_REFERENCED_STUDY, "RTReferencedStudySequence")?
            .item(RT_REFERENCED_SERIES, "RTReferencedSeriesSequence")?
    } else {
        data.item(REFERENCED_SERIES, "ReferencedSeriesSequence")?
    };
    item.req_text(SERIES_UID, "SeriesInstanceUID")
}

/// The Series Instance UID of a folder's first DICOM file, if it has one.
fn series_of(dir: &Path) -> Option<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let first = files.first()?;
    read_file(first).ok()?.data.text(SERIES_UID)
}

/// Folders beside `path` and beside its folder (not recursing further).
fn neighbours(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let parent = path.parent().unwrap_or(Path::new("."));
    for dir in [Some(parent), parent.parent()].into_iter().flatten() {
        if let Ok(rd) = std::fs::read_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) {
            let mut sub: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect();
            sub.sort();
            out.extend(sub);
        }
    }
    out
}

/// The grid of the series `uid`: among `references` first, then beside `path`.
fn find_series(path: &Path, uid: &str, references: &[PathBuf]) -> Result<Geometry> {
    let mut looked = Vec::new();
    let candidates = references
        .iter()
        .filter(|r| r.is_dir())
        .cloned()
        .chain(neighbours(path));
    for dir in candidates.take(MAX_CANDIDATES) {
        if series_of(&dir).as_deref() == Some(uid) {
            return Ok(dicom::read_series(&dir)?.geometry);
        }
        looked.push(dir.display().to_string());
    }
    looked.dedup();
    Err(err(
        path,
        format!(
            "the referenced CT series {uid} was not found (looked in {}); give its folder as the case's CT, or put it beside the segmentation",
            if looked.is_empty() { "no folder".to_string() } else { looked.join(", ") }
        ),
    ))
}
