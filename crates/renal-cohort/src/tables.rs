//! Feature tables (`case_id` + numeric columns, e.g. image embeddings) and label tables
//! (`case_id,label`), so that a cohort can be just features and labels.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cohort::{Case, Cohort};
use crate::error::{CohortError, Result};
use crate::label::Label;

/// A numeric table keyed by case id. Empty cells are missing (NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureTable {
    pub columns: Vec<String>,
    pub rows: BTreeMap<String, Vec<f64>>,
}

/// Opens a CSV and returns the reader with its header, trimmed.
pub(crate) fn open_csv(path: &Path) -> Result<(csv::Reader<std::fs::File>, Vec<String>)> {
    let f = std::fs::File::open(path).map_err(|source| CohortError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(f);
    let header = rdr
        .headers()
        .map_err(|e| csv_err(path, e))?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    Ok((rdr, header))
}

/// A CSV error naming the file and line.
pub(crate) fn csv_err(path: &Path, e: csv::Error) -> CohortError {
    CohortError::Csv {
        path: path.to_path_buf(),
        line: e.position().map(|p| p.line()).unwrap_or(0),
        detail: e.to_string(),
    }
}

/// The index of a required column, or an error naming the file and the column.
pub(crate) fn require_column(path: &Path, header: &[String], names: &[&str]) -> Result<usize> {
    header
        .iter()
        .position(|h| names.contains(&h.as_str()))
        .ok_or_else(|| CohortError::MissingColumn {
            path: path.to_path_buf(),
            column: names[0].into(),
        })
}

/// Reads a feature table. The first column is the case id (named `case_id` or `CaseName`).
/// A non-numeric cell or a duplicate case id is an error naming the file, line and column.
pub fn read_feature_table(path: &Path) -> Result<FeatureTable> {
    let (mut rdr, header) = open_csv(path)?;
    match header.first().map(String::as_str) {
        Some("case_id" | "CaseName") => {}
        _ => {
            return Err(CohortError::MissingColumn {
                path: path.to_path_buf(),
                column: "case_id (or CaseName) as the first column".into(),
            })
        }
    }
    let columns = header[1..].to_vec();
    let mut rows = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_err(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let id = rec.get(0).unwrap_or("").trim().to_string();
        let mut vals = Vec::with_capacity(columns.len());
        for (c, cell) in rec.iter().skip(1).enumerate() {
            let t = cell.trim();
            let v = if t.is_empty() {
                f64::NAN
            } else {
                match t.parse::<f64>() {
                    Ok(v) if v.is_finite() => v,
                    _ => {
                        return Err(CohortError::NonNumeric {
                            path: path.to_path_buf(),
                            line,
                            column: columns[c].clone(),
                            value: t.to_string(),
                        })
                    }
                }
            };
            vals.push(v);
        }
        if rows.insert(id.clone(), vals).is_some() {
            return Err(CohortError::DuplicateCase {
                path: path.to_path_buf(),
                case: id,
            });
        }
    }
    Ok(FeatureTable { columns, rows })
}

/// Reads a labels table `case_id,label`.
pub fn read_labels_table(path: &Path) -> Result<BTreeMap<String, Label>> {
    let (mut rdr, header) = open_csv(path)?;
    let id = require_column(path, &header, &["case_id", "CaseName"])?;
    let lab = require_column(path, &header, &["label"])?;
    let mut out = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_err(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let case = rec.get(id).unwrap_or("").trim().to_string();
        let l = Label::parse(rec.get(lab).unwrap_or("")).map_err(|e| CohortError::Csv {
            path: path.to_path_buf(),
            line,
            detail: format!("case `{case}`: {e}"),
        })?;
        if out.insert(case.clone(), l).is_some() {
            return Err(CohortError::DuplicateCase {
                path: path.to_path_buf(),
                case,
            });
        }
    }
    Ok(out)
}

/// Joins a feature table onto a cohort: each case gets the table's columns in `extra` (with
/// `prefix`); a case without a row is excluded with the reason. Rows for unknown cases are
/// ignored and counted in the return value.
pub fn join_features(
    cohort: &mut Cohort,
    table: &FeatureTable,
    prefix: &str,
    source: &Path,
) -> usize {
    let mut missing = Vec::new();
    for case in &mut cohort.cases {
        match table.rows.get(&case.id) {
            Some(vals) => {
                for (c, v) in table.columns.iter().zip(vals) {
                    case.extra.insert(format!("{prefix}{c}"), *v);
                }
            }
            None => missing.push(case.id.clone()),
        }
    }
    for id in missing {
        cohort.exclude(&id, format!("no row in feature table {}", source.display()));
    }
    let known: std::collections::BTreeSet<&str> =
        cohort.cases.iter().map(|c| c.id.as_str()).collect();
    let unknown = table
        .rows
        .keys()
        .filter(|k| !known.contains(k.as_str()))
        .count();
    if unknown > 0 {
        tracing::warn!(unknown, file = %source.display(), "feature rows for cases not in the cohort were ignored");
    }
    unknown
}

/// A cohort made of a feature table and a labels table only.
pub fn cohort_from_tables(features: &Path, labels: &Path) -> Result<Cohort> {
    let table = read_feature_table(features)?;
    let labels_map = read_labels_table(labels)?;
    let mut cohort = Cohort {
        source: features.display().to_string(),
        ..Default::default()
    };
    for (id, vals) in &table.rows {
        let mut case = Case::new(id);
        match labels_map.get(id) {
            Some(l) => {
                case.label = Some(*l);
                case.label_source = Some("labels table".into());
            }
            None => {
                cohort.excluded.push(crate::cohort::Exclusion {
                    case: id.clone(),
                    reason: format!("no label in {}", labels.display()),
                });
                continue;
            }
        }
        for (c, v) in table.columns.iter().zip(vals) {
            case.extra.insert(c.clone(), *v);
        }
        cohort.cases.push(case);
    }
    for id in labels_map.keys().filter(|k| !table.rows.contains_key(*k)) {
        cohort.excluded.push(crate::cohort::Exclusion {
            case: id.clone(),
            reason: format!("labelled but no row in {}", features.display()),
        });
    }
    Ok(cohort)
}
