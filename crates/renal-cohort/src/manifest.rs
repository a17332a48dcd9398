//! A generic cohort manifest (CSV), for any hospital's data.
//!
//! One row per case. Columns (header names; all but `case_id` optional):
//!
//! | column | meaning |
//! |---|---|
//! | `case_id` | unique case identifier |
//! | any allow-listed feature (`age`, `sex_male`, `bmi`, `diabetes`, `pack_years`, ...) | pre-operative values; empty = missing; an unreadable value (unknown, text, implausible) = missing with a note ([`crate::vocab`]) |
//! | `sex` | `male`/`female` (or `m`/`f`), mapped to `sex_male` |
//! | `malignant`, `histologic_subtype`, `isup_grade`, `pathology_t_stage`, `tumor_necrosis`, `sarcomatoid_features`, `pathologic_size_cm` | histology, labelled by the Bhindi rules |
//! | `label` | explicit class (`benign`/`indolent`/`aggressive` or `0`/`1`/`2`); wins over histology |
//! | `mask` | segmentation/mask path, relative to the manifest's folder: NIfTI, NRRD (`.seg.nrrd`), MetaImage, or a DICOM SEG / RTSTRUCT file (rebuilt on the case's CT series) |
//! | `label_map` | which mask labels or segments are the kidney, tumor and cyst, e.g. `kidney=1,tumor=2,cyst=3` or `tumor=Lesion` (default: KiTS23's values, or the segments' names) |
//! | `ct_<phase>` | CT phase paths (e.g. `ct_arterial`, `ct_venous`), relative to the manifest's folder |
//!
//! Paths must exist and stay inside the manifest's folder. Other columns are ignored (they can
//! never become features: see [`crate::fields`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::bhindi::{BlankModifier, Histology};
use crate::cohort::{Case, Cohort, Exclusion};
use crate::error::{CaseError, Result};
use crate::fields::spec;
use crate::label::Label;
use crate::tables::{csv_err, open_csv, require_column};
use crate::vocab::number_from_text;
use crate::words::{self, read_level};

fn parse_bool(field: &str, s: &str) -> Result<Option<bool>, CaseError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "na" | "nan" => Ok(None),
        "true" | "1" | "yes" | "y" => Ok(Some(true)),
        "false" | "0" | "no" | "n" => Ok(Some(false)),
        other => Err(CaseError::value(field, format!("`{other}`"), "true/false")),
    }
}

fn parse_num(field: &str, s: &str) -> Result<Option<f64>, CaseError> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("na") {
        return Ok(None);
    }
    t.parse::<f64>()
        .map(Some)
        .map_err(|_| CaseError::value(field, format!("`{t}`"), "a number"))
}

/// Resolves a manifest path: relative to `base`, existing, and not escaping it.
pub fn resolve_inside(base: &Path, rel: &str, field: &str) -> Result<PathBuf, CaseError> {
    let p = Path::new(rel.trim());
    if p.is_absolute() {
        return Err(CaseError::AbsolutePath {
            field: field.to_string(),
            path: rel.to_string(),
        });
    }
    let joined = base.join(p);
    let canon = joined.canonicalize().map_err(|_| CaseError::NoFile {
        field: field.to_string(),
        path: joined.clone(),
    })?;
    let base_canon = base.canonicalize().map_err(|e| CaseError::Folder {
        path: base.to_path_buf(),
        detail: e.to_string(),
    })?;
    if !canon.starts_with(&base_canon) {
        return Err(CaseError::EscapesFolder {
            field: field.to_string(),
            path: rel.to_string(),
        });
    }
    Ok(canon)
}

fn parse_row(
    base: &Path,
    header: &[String],
    row: &csv::StringRecord,
    case: &mut Case,
    blank: BlankModifier,
) -> Result<(), CaseError> {
    let mut hist = Histology::default();
    let mut any_hist = false;
    let mut label: Option<Label> = None;
    for (name, value) in header.iter().zip(row.iter()) {
        let v = value.trim();
        match name.as_str() {
            "case_id" => {}
            "sex" => {
                let s = v.to_ascii_lowercase();
                case.descriptive.sex = (!s.is_empty()).then(|| s.clone());
                case.read_feature("sex_male", "sex", v, read_level(words::SEX, v))?;
            }
            "label" if !v.is_empty() => label = Some(Label::parse(v)?),
            "malignant" => {
                hist.malignant = parse_bool(name, v)?;
                any_hist = true;
            }
            "histologic_subtype" => {
                hist.subtype = (!v.is_empty()).then(|| v.to_string());
                case.descriptive.histology = hist.subtype.clone();
                any_hist = true;
            }
            "isup_grade" => {
                hist.isup_grade = match parse_num(name, v)? {
                    Some(g) if [1.0, 2.0, 3.0, 4.0].contains(&g) => Some(g as u8),
                    Some(g) => return Err(CaseError::value("isup_grade", g, "1-4")),
                    None => None,
                };
            }
            "pathology_t_stage" => {
                hist.t_stage = (!v.is_empty() && v != "na").then(|| v.to_string())
            }
            "tumor_necrosis" => hist.necrosis = parse_bool(name, v)?,
            "sarcomatoid_features" => hist.sarcomatoid = parse_bool(name, v)?,
            "pathologic_size_cm" => hist.pathologic_size_cm = parse_num(name, v)?,
            "mask" if !v.is_empty() => case.images.mask = Some(resolve_inside(base, v, name)?),
            "label_map" if !v.is_empty() => {
                case.images.label_map = Some(v.parse().map_err(CaseError::LabelMap)?)
            }
            n if n.starts_with("ct_") && !v.is_empty() => {
                let phase = n["ct_".len()..].to_string();
                case.images
                    .phases
                    .push((phase, resolve_inside(base, v, n)?));
            }
            n => {
                if let Some(s) = spec(n) {
                    let reading = match words::levels(s.name) {
                        Some(table) => read_level(table, v),
                        None => number_from_text(v),
                    };
                    case.read_feature(n, n, v, reading)?;
                }
            }
        }
    }
    if any_hist {
        case.histology = Some(hist);
    }
    match label {
        Some(l) => {
            case.label = Some(l);
            case.label_source = Some("explicit label".into());
        }
        None if case.histology.is_some() => case.label_from_histology(blank)?,
        None => {}
    }
    Ok(())
}

/// Loads a manifest CSV with the default blank-modifier policy ([`BlankModifier::Absent`]).
pub fn load_manifest(path: &Path) -> Result<Cohort> {
    load_manifest_with(path, BlankModifier::default())
}

/// Loads a manifest CSV. A row whose label cannot be decided, or with a bad path, excludes
/// that case with the reason; a feature value that cannot be read is missing with a note (see
/// [`crate::vocab`]); a missing `case_id` column or an unreadable file is an error.
pub fn load_manifest_with(path: &Path, blank: BlankModifier) -> Result<Cohort> {
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let (mut rdr, header) = open_csv(path)?;
    let id_col = require_column(path, &header, &["case_id"])?;
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_err(path, e))?;
        rows.push(rec);
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *counts
            .entry(r.get(id_col).unwrap_or("").trim().to_string())
            .or_default() += 1;
    }
    let mut cohort = Cohort {
        source: path.display().to_string(),
        ..Default::default()
    };
    for (i, r) in rows.iter().enumerate() {
        let id = r.get(id_col).unwrap_or("").trim().to_string();
        let line = i + 2;
        if id.is_empty() {
            cohort.excluded.push(Exclusion {
                case: format!("line {line}"),
                reason: "empty case_id".into(),
            });
            continue;
        }
        if let Err(reason) = crate::cohort::check_case_id(&id) {
            cohort.excluded.push(Exclusion {
                case: format!("line {line}"),
                reason: reason.to_string(),
            });
            continue;
        }
        if counts[&id] > 1 {
            cohort.excluded.push(Exclusion {
                case: id.clone(),
                reason: format!(
                    "duplicate case id ({} rows in {})",
                    counts[&id],
                    path.display()
                ),
            });
            continue;
        }
        let mut case = Case::new(&id);
        match parse_row(&base, &header, r, &mut case, blank) {
            Ok(()) => cohort.cases.push(case),
            Err(reason) => cohort.excluded.push(Exclusion {
                case: id,
                reason: format!("line {line}: {reason}"),
            }),
        }
    }
    for e in &cohort.excluded {
        tracing::warn!(case = %e.case, reason = %e.reason, "case excluded");
    }
    Ok(cohort)
}
