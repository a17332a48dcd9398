//! Predefined cross-validation splits, used exactly as given.
//!
//! Two formats:
//! - CSV `case_id,outer_fold[,inner_fold]`: outer fold `k` tests the cases with `outer_fold == k`
//!   and trains on the rest; within that training set, inner fold `i` validates on the training
//!   cases with `inner_fold == i`.
//! - The JSON layout of published code: a folder of `data-K/` (one per outer fold) holding
//!   `train_split.json`, `test_split.json` and, per inner fold `I`, `train_split_I.json` and
//!   `val_split_I.json`; each file is an object `case_id -> label (0/1/2)`.
//!
//! Every case must be in the cohort, in at most one outer test fold, and never in the training
//! and the test (or validation) set of the same fold; JSON labels must agree with the cohort's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::cohort::Cohort;
use crate::error::{CohortError, Result};
use crate::label::Label;
use crate::tables::{csv_err, open_csv, require_column};

/// One inner split of an outer training set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InnerFold {
    pub train: Vec<String>,
    pub val: Vec<String>,
}

/// One outer fold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OuterFold {
    pub train: Vec<String>,
    pub test: Vec<String>,
    /// Empty when the file gives no inner folds (the learner then makes its own).
    pub inner: Vec<InnerFold>,
}

/// Predefined nested splits.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Splits {
    pub outer: Vec<OuterFold>,
}

fn check_known(path: &Path, cohort: &Cohort, ids: &[String]) -> Result<()> {
    for id in ids {
        if cohort.get(id).is_none() {
            return Err(CohortError::UnknownCase {
                path: path.to_path_buf(),
                case: id.clone(),
            });
        }
    }
    Ok(())
}

fn check_disjoint(path: &Path, a: &[String], b: &[String], what: &str) -> Result<()> {
    let sa: BTreeSet<&String> = a.iter().collect();
    if let Some(c) = b.iter().find(|c| sa.contains(c)) {
        return Err(CohortError::InconsistentSplit {
            path: path.to_path_buf(),
            case: c.clone(),
            detail: format!("in both {what}"),
        });
    }
    Ok(())
}

/// Reads a split CSV and checks it against the cohort.
pub fn read_splits_csv(path: &Path, cohort: &Cohort) -> Result<Splits> {
    let (mut rdr, header) = open_csv(path)?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let id_c = require_column(path, &header, &["case_id"])?;
    let out_c = require_column(path, &header, &["outer_fold"])?;
    let in_c = col("inner_fold");
    let mut assign: BTreeMap<String, (usize, Option<usize>)> = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_err(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let id = rec.get(id_c).unwrap_or("").trim().to_string();
        let parse = |c: usize, name: &str| -> Result<usize> {
            let v = rec.get(c).unwrap_or("").trim();
            v.parse::<usize>().map_err(|_| CohortError::NonNumeric {
                path: path.to_path_buf(),
                line,
                column: name.into(),
                value: v.into(),
            })
        };
        let outer = parse(out_c, "outer_fold")?;
        let inner = match in_c {
            Some(c) if !rec.get(c).unwrap_or("").trim().is_empty() => Some(parse(c, "inner_fold")?),
            _ => None,
        };
        if let Some((prev, _)) = assign.insert(id.clone(), (outer, inner)) {
            let (first, second) = (prev.min(outer), prev.max(outer));
            return Err(CohortError::TwoTestFolds {
                path: path.to_path_buf(),
                case: id,
                first,
                second,
            });
        }
    }
    let ids: Vec<String> = assign.keys().cloned().collect();
    check_known(path, cohort, &ids)?;
    let outer_ids: BTreeSet<usize> = assign.values().map(|v| v.0).collect();
    let mut outer = Vec::new();
    for &k in &outer_ids {
        let test: Vec<String> = assign
            .iter()
            .filter(|(_, v)| v.0 == k)
            .map(|(id, _)| id.clone())
            .collect();
        let train: Vec<String> = assign
            .iter()
            .filter(|(_, v)| v.0 != k)
            .map(|(id, _)| id.clone())
            .collect();
        let inner_ids: BTreeSet<usize> = assign
            .iter()
            .filter(|(_, v)| v.0 != k)
            .filter_map(|(_, v)| v.1)
            .collect();
        let inner = inner_ids
            .iter()
            .map(|&i| {
                let val: Vec<String> = assign
                    .iter()
                    .filter(|(_, v)| v.0 != k && v.1 == Some(i))
                    .map(|(id, _)| id.clone())
                    .collect();
                let train_i: Vec<String> = train
                    .iter()
                    .filter(|id| !val.contains(id))
                    .cloned()
                    .collect();
                InnerFold {
                    train: train_i,
                    val,
                }
            })
            .collect();
        outer.push(OuterFold { train, test, inner });
    }
    Ok(Splits { outer })
}

fn read_split_json(path: &Path, cohort: &Cohort) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|source| CohortError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| CohortError::Json {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    let ids: Vec<String> = map.keys().cloned().collect();
    check_known(path, cohort, &ids)?;
    for (id, v) in &map {
        let label = Label::parse(v.to_string().trim_matches('"')).map_err(|e| {
            CohortError::InconsistentSplit {
                path: path.to_path_buf(),
                case: id.clone(),
                detail: e.to_string(),
            }
        })?;
        let ours = cohort.get(id).and_then(|c| c.label);
        if ours.is_some() && ours != Some(label) {
            return Err(CohortError::InconsistentSplit {
                path: path.to_path_buf(),
                case: id.clone(),
                detail: format!(
                    "label {} in the split file, {} in the cohort",
                    label.name(),
                    ours.map(Label::name).unwrap_or("none")
                ),
            });
        }
    }
    Ok(ids)
}

/// Reads the `data-K/` JSON layout and checks it against the cohort.
pub fn read_splits_json_dir(dir: &Path, cohort: &Cohort) -> Result<Splits> {
    let mut ks: Vec<(usize, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map_err(|source| CohortError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix("data-")
                .and_then(|k| k.parse::<usize>().ok())
                .map(|k| (k, e.path()))
        })
        .collect();
    ks.sort();
    if ks.is_empty() {
        return Err(CohortError::Invalid {
            path: dir.to_path_buf(),
            detail: "no data-K folders".into(),
        });
    }
    let mut outer = Vec::new();
    let mut test_fold_of: BTreeMap<String, usize> = BTreeMap::new();
    for (k, d) in &ks {
        let test = read_split_json(&d.join("test_split.json"), cohort)?;
        let train = read_split_json(&d.join("train_split.json"), cohort)?;
        check_disjoint(
            &d.join("train_split.json"),
            &train,
            &test,
            "train_split and test_split",
        )?;
        for id in &test {
            if let Some(prev) = test_fold_of.insert(id.clone(), *k) {
                return Err(CohortError::TwoTestFolds {
                    path: d.join("test_split.json"),
                    case: id.clone(),
                    first: prev,
                    second: *k,
                });
            }
        }
        let mut inner = Vec::new();
        for i in 0.. {
            let (tp, vp) = (
                d.join(format!("train_split_{i}.json")),
                d.join(format!("val_split_{i}.json")),
            );
            if !tp.is_file() && !vp.is_file() {
                if i == 0 {
                    // Allow 1-based inner numbering.
                    continue;
                }
                break;
            }
            let itrain = read_split_json(&tp, cohort)?;
            let val = read_split_json(&vp, cohort)?;
            check_disjoint(&vp, &itrain, &val, "inner train and validation")?;
            check_disjoint(&vp, &test, &val, "outer test and inner validation")?;
            check_disjoint(&tp, &test, &itrain, "outer test and inner train")?;
            inner.push(InnerFold { train: itrain, val });
        }
        outer.push(OuterFold { train, test, inner });
    }
    Ok(Splits { outer })
}

/// Reads either format: a `.csv` file or a folder of `data-K/`.
pub fn read_splits(path: &Path, cohort: &Cohort) -> Result<Splits> {
    if path.is_dir() {
        read_splits_json_dir(path, cohort)
    } else {
        read_splits_csv(path, cohort)
    }
}
