//! Feature tables for the learners: allow-listed pre-operative clinical features, the computed
//! tumor size and any joined columns (e.g. image embeddings), for the labelled cases.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use renal_cohort::{check_feature, Cohort};
use renal_imaging::CaseMeasurements;
use renal_learn::Matrix;

pub use crate::engine::experiment::SizeSource;

/// Name of the computed size column (largest axial diameter of the index tumor, mm).
pub const SIZE: &str = "tumor_size_mm";
/// The name of the size column after `log_size`.
pub const LOG_SIZE: &str = "log_tumor_size_mm";
/// Name of the radiologist's size column (`radiographic_size_cm` x 10, mm).
pub const RADIOGRAPHIC_SIZE: &str = "radiographic_size_mm";
/// The name of the radiographic size column after `log_size`.
pub const LOG_RADIOGRAPHIC_SIZE: &str = "log_radiographic_size_mm";

/// Prefix of the shape columns.
pub const SHAPE_PREFIX: &str = "shape_";

/// The `shape` input group: the index tumor's shape from the mask measurements, plus the
/// tumor/kidney volume ratio, the number of tumor components and the cyst fraction.
pub const SHAPE_COLUMNS: [&str; 9] = [
    "shape_volume_ml",
    "shape_sphericity",
    "shape_elongation",
    "shape_flatness",
    "shape_surface_volume_ratio",
    "shape_maximum_3d_diameter_mm",
    "shape_tumor_kidney_ratio",
    "shape_n_components",
    "shape_cyst_fraction",
];

/// The value of a shape column for one case's measurements (`None` for an unknown name).
pub fn shape_value(m: &CaseMeasurements, name: &str) -> Option<f64> {
    let s = &m.index_tumor().shape;
    Some(match name {
        "shape_volume_ml" => s.mesh_volume_ml(),
        "shape_sphericity" => s.sphericity,
        "shape_elongation" => s.elongation,
        "shape_flatness" => s.flatness,
        "shape_surface_volume_ratio" => s.surface_volume_ratio,
        "shape_maximum_3d_diameter_mm" => s.maximum_3d_diameter_mm,
        "shape_tumor_kidney_ratio" => m.tumor_kidney_ratio,
        "shape_n_components" => m.components.len() as f64,
        "shape_cyst_fraction" => m.cyst_fraction(),
        _ => return None,
    })
}

/// Replaces the size column (measured or radiographic) by its natural log (sizes floored at
/// 1e-3 mm, missing values stay missing), renamed; a table without a size column is left as it is.
pub fn apply_log_size(t: &mut FeatureTable) {
    for (name, logged) in [(SIZE, LOG_SIZE), (RADIOGRAPHIC_SIZE, LOG_RADIOGRAPHIC_SIZE)] {
        if let Some(j) = t.x.names.iter().position(|n| n == name) {
            for i in 0..t.x.rows {
                let v = &mut t.x.data[i * t.x.cols + j];
                *v = v.max(1e-3).ln();
            }
            t.x.names[j] = logged.into();
        }
    }
}

/// A learner-ready table.
#[derive(Debug, Clone)]
pub struct FeatureTable {
    pub case_ids: Vec<String>,
    /// NaN marks a missing value (imputed in-fold by the pipeline).
    pub x: Matrix,
    /// Class index per row (benign 0, indolent 1, aggressive 2).
    pub y: Vec<usize>,
    /// Requested columns left out because they are constant over the cohort.
    pub dropped_constant: Vec<String>,
}

/// What goes into the table.
#[derive(Debug, Clone, Default)]
pub struct FeatureSpec {
    /// Clinical feature names; each must pass the leakage guard.
    pub clinical: Vec<String>,
    /// The tumor size column, if any.
    pub size: SizeSource,
    /// Joined columns (`Case::extra`) whose name starts with this prefix.
    pub extra_prefix: Option<String>,
    /// The shape group ([`SHAPE_COLUMNS`]), from the mask measurements.
    pub shape: bool,
}

impl FeatureSpec {
    /// Every allow-listed clinical feature recorded for at least one case (a size field is not
    /// a clinical feature), plus the measured size.
    pub fn all_clinical_and_size(cohort: &Cohort) -> Self {
        let clinical = renal_cohort::ALLOWED
            .iter()
            .map(|s| s.name.to_string())
            .filter(|n| !renal_cohort::is_size_field(n))
            .filter(|n| {
                cohort
                    .cases
                    .iter()
                    .any(|c| c.clinical.names().any(|x| x == n))
            })
            .collect();
        FeatureSpec {
            clinical,
            size: SizeSource::Mask,
            extra_prefix: None,
            shape: false,
        }
    }
}

/// Builds the table for the labelled cases (those without a measurement are left out when the
/// size is requested: they were excluded with their reason when measured). Columns constant
/// over the cohort are dropped and listed.
pub fn build(
    cohort: &Cohort,
    meas: &BTreeMap<String, CaseMeasurements>,
    spec: &FeatureSpec,
) -> Result<FeatureTable> {
    let (ids, y, names, rows) = collect(cohort, meas, spec)?;
    // Drop columns that are constant (or all missing) over the cohort: they carry nothing.
    let keep: Vec<usize> = (0..names.len())
        .filter(|&j| {
            let vals: Vec<f64> = rows.iter().map(|r| r[j]).filter(|v| !v.is_nan()).collect();
            vals.windows(2).any(|w| w[0] != w[1])
        })
        .collect();
    let dropped_constant: Vec<String> = (0..names.len())
        .filter(|j| !keep.contains(j))
        .map(|j| names[j].clone())
        .collect();
    finish(ids, y, &names, &rows, &keep, dropped_constant)
}

/// Builds the table with exactly the columns `wanted` (e.g. a training cohort's columns, for
/// scoring an external cohort); a column the cohort lacks entirely is all missing.
pub fn build_with_columns(
    cohort: &Cohort,
    meas: &BTreeMap<String, CaseMeasurements>,
    spec: &FeatureSpec,
    wanted: &[String],
) -> Result<FeatureTable> {
    let (ids, y, mut names, mut rows) = collect(cohort, meas, spec)?;
    for w in wanted {
        if !names.contains(w) {
            names.push(w.clone());
            rows.iter_mut().for_each(|r| r.push(f64::NAN));
        }
    }
    let keep: Vec<usize> = wanted
        .iter()
        .filter_map(|w| names.iter().position(|n| n == w))
        .collect();
    finish(ids, y, &names, &rows, &keep, Vec::new())
}

fn finish(
    case_ids: Vec<String>,
    y: Vec<usize>,
    names: &[String],
    rows: &[Vec<f64>],
    keep: &[usize],
    dropped_constant: Vec<String>,
) -> Result<FeatureTable> {
    let rows: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| keep.iter().map(|&j| r[j]).collect())
        .collect();
    let names: Vec<String> = keep.iter().map(|&j| names[j].clone()).collect();
    let x = Matrix::from_rows(&rows, Some(names))?;
    Ok(FeatureTable {
        case_ids,
        x,
        y,
        dropped_constant,
    })
}

#[allow(clippy::type_complexity)]
fn collect(
    cohort: &Cohort,
    meas: &BTreeMap<String, CaseMeasurements>,
    spec: &FeatureSpec,
) -> Result<(Vec<String>, Vec<usize>, Vec<String>, Vec<Vec<f64>>)> {
    for name in &spec.clinical {
        check_feature(name)?;
    }
    let mut names: Vec<String> = spec.clinical.clone();
    let extra_names: Vec<String> = match &spec.extra_prefix {
        Some(p) => cohort
            .cases
            .first()
            .map(|c| {
                c.extra
                    .keys()
                    .filter(|k| k.starts_with(p.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    };
    names.extend(extra_names.iter().cloned());
    if spec.shape {
        names.extend(SHAPE_COLUMNS.iter().map(|s| s.to_string()));
    }
    match spec.size {
        SizeSource::Mask => names.push(SIZE.into()),
        SizeSource::Radiographic => names.push(RADIOGRAPHIC_SIZE.into()),
        SizeSource::None => {}
    }
    let mut rows = Vec::new();
    let mut ids = Vec::new();
    let mut y = Vec::new();
    for c in &cohort.cases {
        let Some(label) = c.label else { continue };
        let m = meas.get(&c.id);
        // A case without measurements was excluded with its reason when measured.
        if spec.shape && m.is_none() {
            continue;
        }
        let size = match spec.size {
            SizeSource::Mask => match meas.get(&c.id) {
                Some(m) => Some(m.index_tumor().axial_diameter_mm),
                // Excluded with its reason when measured.
                None => continue,
            },
            // Missing stays missing: imputed in-fold.
            SizeSource::Radiographic => Some(c.clinical.radiographic_size_mm().unwrap_or(f64::NAN)),
            SizeSource::None => None,
        };
        let mut r: Vec<f64> = spec
            .clinical
            .iter()
            .map(|n| c.clinical.get(n).unwrap_or(f64::NAN))
            .collect();
        r.extend(
            extra_names
                .iter()
                .map(|n| c.extra.get(n).copied().unwrap_or(f64::NAN)),
        );
        if let (true, Some(m)) = (spec.shape, m) {
            r.extend(
                SHAPE_COLUMNS
                    .iter()
                    .map(|n| shape_value(m, n).unwrap_or(f64::NAN)),
            );
        }
        if let Some(s) = size {
            r.push(s);
        }
        rows.push(r);
        ids.push(c.id.clone());
        y.push(label.index());
    }
    if rows.is_empty() {
        bail!("no labelled case has the requested features");
    }
    Ok((ids, y, names, rows))
}

/// The inputs a person reads: names in words.
pub fn input_words(names: &[String]) -> Vec<String> {
    let word = |n: &str| -> String {
        if n == SIZE || n == LOG_SIZE {
            return "tumor size measured on the mask".into();
        }
        if n == RADIOGRAPHIC_SIZE || n == LOG_RADIOGRAPHIC_SIZE {
            return decapitalise(&renal_cohort::words::label(
                renal_cohort::RADIOGRAPHIC_SIZE_CM,
            ));
        }
        if let Some(rest) = n.strip_prefix(SHAPE_PREFIX) {
            return format!("tumor shape: {}", rest.replace('_', " "));
        }
        if let Some(rest) = n.strip_prefix(crate::engine::experiment::EMBEDDING_PREFIX) {
            return format!("image feature {rest}");
        }
        decapitalise(&renal_cohort::words::label(n))
    };
    names.iter().map(|n| word(n)).collect()
}

/// A label inside a sentence: its first letter lowercased, unless it starts an acronym
/// ("Body-mass index" -> "body-mass index"; "eGFR", "AIDS" stay).
fn decapitalise(label: &str) -> String {
    let mut c = label.chars();
    match (c.next(), c.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase() => {
            a.to_lowercase().chain(label.chars().skip(1)).collect()
        }
        _ => label.to_string(),
    }
}
