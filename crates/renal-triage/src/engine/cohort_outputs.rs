//! The cohort's outputs: Table 1, labels, exclusions, features, measurements, components and
//! the agreement figures (computed size vs the radiologists' size; inter-annotator ICC).

use std::collections::BTreeMap;

use anyhow::Result;
use renal_cohort::{Cohort, Label, NoteKind, ALLOWED};
use renal_imaging::CaseMeasurements;
use renal_stats::{bland_altman, icc, pearson, IccForm};
use serde::Serialize;

use crate::engine::measure::{annotator_shapes, InstanceRatings, ICC_FEATURES};
use crate::output::{cell, write_csv, write_json};

fn mean_sd(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    Some((
        m,
        (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    ))
}

/// Table 1 rows: (characteristic, overall, benign, indolent, aggressive).
fn table1(cohort: &Cohort) -> Vec<[String; 5]> {
    let groups: [Vec<&renal_cohort::Case>; 4] = [
        cohort.cases.iter().collect(),
        cohort
            .cases
            .iter()
            .filter(|c| c.label == Some(Label::Benign))
            .collect(),
        cohort
            .cases
            .iter()
            .filter(|c| c.label == Some(Label::Indolent))
            .collect(),
        cohort
            .cases
            .iter()
            .filter(|c| c.label == Some(Label::Aggressive))
            .collect(),
    ];
    let mut rows = Vec::new();
    let row = |name: &str, f: &dyn Fn(&[&renal_cohort::Case]) -> String| -> [String; 5] {
        [
            name.to_string(),
            f(&groups[0]),
            f(&groups[1]),
            f(&groups[2]),
            f(&groups[3]),
        ]
    };
    rows.push(row("n", &|g| g.len().to_string()));
    for (name, feat) in [
        ("age, years (mean ± sd)", "age"),
        ("BMI, kg/m2 (mean ± sd)", "bmi"),
        (
            "radiographic size, cm (mean ± sd)",
            renal_cohort::RADIOGRAPHIC_SIZE_CM,
        ),
    ] {
        rows.push(row(name, &|g| {
            let xs: Vec<f64> = g.iter().filter_map(|c| c.clinical.get(feat)).collect();
            let missing = g.len() - xs.len();
            match mean_sd(&xs) {
                Some((m, s)) if missing > 0 => format!("{m:.1} ± {s:.1} ({missing} missing)"),
                Some((m, s)) => format!("{m:.1} ± {s:.1}"),
                None => "-".into(),
            }
        }));
    }
    rows.push(row("male sex, n (%)", &|g| {
        let n = g
            .iter()
            .filter(|c| c.clinical.get("sex_male") == Some(1.0))
            .count();
        format!("{n} ({:.1}%)", 100.0 * n as f64 / g.len().max(1) as f64)
    }));
    rows.push(row("class from a blank modifier read as absent, n", &|g| {
        g.iter()
            .filter(|c| !c.blank_assumed.is_empty())
            .count()
            .to_string()
    }));
    rows.push(row("cases with values read as missing, n", &|g| {
        g.iter().filter(|c| !c.notes.is_empty()).count().to_string()
    }));
    // Histology in words (two spellings of one subtype are one row), in alphabetical order;
    // each case's read once.
    let words: BTreeMap<&str, String> = cohort
        .cases
        .iter()
        .filter_map(|c| {
            let h = c.descriptive.histology.as_deref()?;
            Some((c.id.as_str(), renal_cohort::bhindi::Subtype::words_of(h)))
        })
        .collect();
    let mut hist: Vec<&String> = words.values().collect();
    hist.sort_by_key(|h| (h.to_lowercase(), *h));
    hist.dedup();
    for h in hist {
        rows.push(row(&format!("histology: {h}"), &|g| {
            g.iter()
                .filter(|c| words.get(c.id.as_str()) == Some(h))
                .count()
                .to_string()
        }));
    }
    rows
}

/// Recorded values read as missing, counted per feature: `(feature, source field, kind,
/// cases, example values)`, sorted.
fn note_summary(cohort: &Cohort) -> Vec<NoteSummary> {
    let mut by: BTreeMap<(String, String, NoteKind), (usize, Vec<String>)> = BTreeMap::new();
    for (_, n) in cohort.notes() {
        let e = by
            .entry((n.feature.clone(), n.field.clone(), n.kind))
            .or_default();
        e.0 += 1;
        if !e.1.contains(&n.value) && e.1.len() < 3 {
            e.1.push(n.value.clone());
        }
    }
    by.into_iter()
        .map(|((feature, field, kind), (cases, vals))| NoteSummary {
            feature,
            field,
            kind,
            cases,
            values: vals.join(" | "),
        })
        .collect()
}

/// The recorded values of one feature and source field read as missing for one reason.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteSummary {
    pub feature: String,
    pub field: String,
    pub kind: NoteKind,
    /// Cases with such a value.
    pub cases: usize,
    /// Up to three of the values, ` | `-separated.
    pub values: String,
}

/// What the report says of the cohort, computed once by the engine: Table 1, the excluded
/// cases (sorted), the recorded values read as missing and the labelling policy's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortSummary {
    pub table1: Vec<[String; 5]>,
    pub excluded: Vec<renal_cohort::Exclusion>,
    pub notes: Vec<NoteSummary>,
    /// Features recorded in some case but readable in none.
    pub unreadable: Vec<String>,
    /// Cases whose class rests on a blank pathology modifier read as absent.
    pub blank_assumed: usize,
    /// Cases with at least one value read as missing.
    pub with_notes: usize,
}

impl CohortSummary {
    pub fn of(cohort: &Cohort) -> CohortSummary {
        let mut excluded = cohort.excluded.clone();
        excluded.sort();
        CohortSummary {
            table1: table1(cohort),
            excluded,
            notes: note_summary(cohort),
            unreadable: unreadable_features(cohort),
            blank_assumed: cohort
                .cases
                .iter()
                .filter(|c| !c.blank_assumed.is_empty())
                .count(),
            with_notes: cohort.cases.iter().filter(|c| !c.notes.is_empty()).count(),
        }
    }
}

/// Features recorded in some case but with no readable value in any: each is all missing
/// (imputed in-fold to a constant), which the caller should hear about.
fn unreadable_features(cohort: &Cohort) -> Vec<String> {
    let mut noted: Vec<String> = cohort.notes().map(|(_, n)| n.feature.clone()).collect();
    noted.sort();
    noted.dedup();
    noted
        .into_iter()
        .filter(|f| cohort.cases.iter().all(|c| c.clinical.get(f).is_none()))
        .collect()
}

/// Writes `warnings.csv` (one row per case and field read as missing) and logs a warning per
/// feature that has no readable value at all.
fn write_warnings(cohort: &Cohort, summary: &CohortSummary, out: &std::path::Path) -> Result<()> {
    let mut rows: Vec<Vec<String>> = cohort
        .notes()
        .map(|(id, n)| {
            vec![
                id.to_string(),
                n.feature.clone(),
                n.field.clone(),
                n.value.clone(),
                n.kind.name().to_string(),
            ]
        })
        .collect();
    rows.sort();
    write_csv(
        &out.join("warnings.csv"),
        &[
            "case_id",
            "feature",
            "field",
            "value",
            "read_as_missing_because",
        ],
        &rows,
    )?;
    for n in &summary.notes {
        if n.kind.is_warning() {
            tracing::warn!(
                feature = n.feature,
                field = n.field,
                cases = n.cases,
                values = n.values,
                reason = n.kind.name(),
                "recorded values read as missing"
            );
        }
    }
    for f in &summary.unreadable {
        tracing::warn!(feature = %f, "no case has a readable value for this feature: it is all missing");
    }
    Ok(())
}

/// Pearson r and Bland-Altman of the computed size against the radiologists' size.
///
/// Field order is alphabetical so that `agreement.json` keeps the layout it had when it was
/// written from an untyped (sorted) JSON map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlandAltmanMm {
    pub bias_mm: f64,
    pub difference: String,
    pub limits_of_agreement_mm: [f64; 2],
    pub sd_mm: f64,
}

/// The same comparison with the diameter between mesh vertices (pyradiomics' convention).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MeshConvention {
    Computed {
        bias_mm: f64,
        limits_of_agreement_mm: [f64; 2],
        pearson_r: f64,
        sd_mm: f64,
    },
    Failed {
        error: String,
    },
}

/// Computed size against the radiologists' size.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SizeAgreement {
    Computed {
        bland_altman: BlandAltmanMm,
        measure: String,
        mesh_vertex_convention: MeshConvention,
        n: usize,
        /// (computed, radiographic) per case, mm.
        pairs: Vec<[f64; 2]>,
        pearson_r: f64,
        reference: String,
    },
    Failed {
        error: String,
        n: usize,
    },
}

/// ICC(3,1) of one shape feature across annotators.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FeatureIcc {
    Computed {
        ci95: [f64; 2],
        f: f64,
        icc_3_1: f64,
        pval: f64,
    },
    Failed {
        error: String,
    },
}

/// Inter-annotator reliability of the shape features.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnnotatorAgreement {
    pub features: BTreeMap<String, FeatureIcc>,
    pub form: String,
    pub instances: usize,
    pub mean_icc_3_1: Option<f64>,
    pub raters: usize,
}

/// Size agreement and annotator reliability, as written to `cohort/agreement.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    pub annotators: AnnotatorAgreement,
    pub size: SizeAgreement,
}

impl Agreement {
    /// Pearson r of the computed vs radiographic size, when computed.
    pub fn size_r(&self) -> Option<f64> {
        match &self.size {
            SizeAgreement::Computed { pearson_r, .. } => Some(*pearson_r),
            SizeAgreement::Failed { .. } => None,
        }
    }

    /// Bland-Altman of the computed vs radiographic size, when computed.
    pub fn size_bland_altman(&self) -> Option<&BlandAltmanMm> {
        match &self.size {
            SizeAgreement::Computed { bland_altman, .. } => Some(bland_altman),
            SizeAgreement::Failed { .. } => None,
        }
    }
}

fn mesh_convention(ours_mesh: &[f64], radiologist: &[f64]) -> MeshConvention {
    match (
        pearson(ours_mesh, radiologist),
        bland_altman(ours_mesh, radiologist),
    ) {
        (Ok(r), Ok(ba)) => MeshConvention::Computed {
            bias_mm: ba.bias,
            limits_of_agreement_mm: ba.limits,
            pearson_r: r,
            sd_mm: ba.sd,
        },
        (Err(e), _) | (_, Err(e)) => MeshConvention::Failed {
            error: e.to_string(),
        },
    }
}

fn size_agreement(cohort: &Cohort, meas: &BTreeMap<String, CaseMeasurements>) -> SizeAgreement {
    let mut ours = Vec::new();
    let mut ours_mesh = Vec::new();
    let mut radiologist = Vec::new();
    for c in &cohort.cases {
        if let (Some(m), Some(r)) = (meas.get(&c.id), c.clinical.radiographic_size_mm()) {
            ours.push(m.index_tumor().axial_diameter_mm);
            ours_mesh.push(m.index_tumor().shape.maximum_2d_diameter_mm[m.axial_axis]);
            radiologist.push(r);
        }
    }
    // The same diameter between mesh vertices (pyradiomics' Maximum2DDiameter in the axial
    // plane), which adds about one in-plane pixel of half-voxel margins.
    let mesh = mesh_convention(&ours_mesh, &radiologist);
    match (
        pearson(&ours, &radiologist),
        bland_altman(&ours, &radiologist),
    ) {
        (Ok(r), Ok(ba)) => SizeAgreement::Computed {
            bland_altman: BlandAltmanMm {
                bias_mm: ba.bias,
                difference: "computed - radiographic (mm)".into(),
                limits_of_agreement_mm: ba.limits,
                sd_mm: ba.sd,
            },
            measure: "largest axial in-plane diameter of the index tumor (voxel centres), mm"
                .into(),
            mesh_vertex_convention: mesh,
            n: ours.len(),
            pairs: ours
                .iter()
                .zip(&radiologist)
                .map(|(a, b)| [*a, *b])
                .collect(),
            pearson_r: r,
            reference: "radiographic_size (cm x 10)".into(),
        },
        (Err(e), _) | (_, Err(e)) => SizeAgreement::Failed {
            error: e.to_string(),
            n: ours.len(),
        },
    }
}

fn annotator_agreement(k: usize, rated: &[InstanceRatings]) -> AnnotatorAgreement {
    let mut features = BTreeMap::new();
    let mut iccs = Vec::new();
    for (name, f) in ICC_FEATURES {
        let rows: Vec<Vec<f64>> = rated
            .iter()
            .map(|r| r.annotators.iter().map(f).collect())
            .collect();
        let v = match icc(&rows, IccForm::Icc3) {
            Ok(v) => {
                iccs.push(v.icc);
                FeatureIcc::Computed {
                    ci95: v.ci95,
                    f: v.f,
                    icc_3_1: v.icc,
                    pval: v.pval,
                }
            }
            Err(e) => FeatureIcc::Failed {
                error: e.to_string(),
            },
        };
        features.insert(name.to_string(), v);
    }
    let mean_icc_3_1 = (!iccs.is_empty()).then(|| iccs.iter().sum::<f64>() / iccs.len() as f64);
    AnnotatorAgreement {
        features,
        form: "ICC(3,1) two-way mixed, consistency, single rater".into(),
        instances: rated.len(),
        mean_icc_3_1,
        raters: k,
    }
}

/// Size agreement (computed index-tumor axial diameter vs radiographic size, mm) and
/// inter-annotator ICC(3,1) per shape feature, from the annotators' shapes (measured by
/// [`annotator_shapes`], or gathered from a sharded run's work folder).
pub fn agreement_with(
    cohort: &Cohort,
    meas: &BTreeMap<String, CaseMeasurements>,
    k: usize,
    rated: &[InstanceRatings],
) -> Agreement {
    Agreement {
        annotators: annotator_agreement(k, rated),
        size: size_agreement(cohort, meas),
    }
}

/// Writes the cohort tables (Table 1, labels, exclusions, features, measurements) and the
/// agreement figures into `out`; `summary` is the cohort's ([`CohortSummary::of`], computed
/// once by the caller, which prints or reports it too). Returns the agreement JSON.
pub fn write_cohort_outputs(
    cohort: &Cohort,
    summary: &CohortSummary,
    meas: &BTreeMap<String, CaseMeasurements>,
    out: &std::path::Path,
) -> Result<Agreement> {
    let (k, rated) = annotator_shapes(cohort);
    write_cohort_outputs_with(cohort, summary, meas, k, &rated, out)
}

/// [`write_cohort_outputs`] with the annotators' shapes already measured.
pub fn write_cohort_outputs_with(
    cohort: &Cohort,
    summary: &CohortSummary,
    meas: &BTreeMap<String, CaseMeasurements>,
    k: usize,
    rated: &[InstanceRatings],
    out: &std::path::Path,
) -> Result<Agreement> {
    write_csv(
        &out.join("table1.csv"),
        &[
            "characteristic",
            "overall",
            "benign",
            "indolent",
            "aggressive",
        ],
        &summary
            .table1
            .iter()
            .map(|r| r.to_vec())
            .collect::<Vec<_>>(),
    )?;
    let labels: Vec<Vec<String>> = cohort
        .cases
        .iter()
        .filter_map(|c| {
            c.label.map(|l| {
                vec![
                    c.id.clone(),
                    l.name().into(),
                    l.index().to_string(),
                    c.label_source.clone().unwrap_or_default(),
                ]
            })
        })
        .collect();
    write_csv(
        &out.join("labels.csv"),
        &["case_id", "label", "label_index", "rule"],
        &labels,
    )?;
    write_csv(
        &out.join("excluded.csv"),
        &["case_id", "reason"],
        &summary
            .excluded
            .iter()
            .map(|e| vec![e.case.clone(), e.reason.clone()])
            .collect::<Vec<_>>(),
    )?;
    write_warnings(cohort, summary, out)?;
    crate::output::test_pause_at("cohort-half-written");
    // Features: every allow-listed field any case has, then the computed size.
    let names: Vec<&str> = ALLOWED
        .iter()
        .map(|s| s.name)
        .filter(|n| {
            cohort
                .cases
                .iter()
                .any(|c| c.clinical.names().any(|x| x == *n))
        })
        .collect();
    let mut header = vec!["case_id"];
    header.extend(&names);
    header.push("tumor_size_mm");
    let feats: Vec<Vec<String>> = cohort
        .cases
        .iter()
        .map(|c| {
            let mut r = vec![c.id.clone()];
            r.extend(names.iter().map(|n| cell(c.clinical.get(n))));
            r.push(cell(
                meas.get(&c.id).map(|m| m.index_tumor().axial_diameter_mm),
            ));
            r
        })
        .collect();
    write_csv(&out.join("features.csv"), &header, &feats)?;
    write_measurements(cohort, meas, out)?;
    let agree = agreement_with(cohort, meas, k, rated);
    write_json(&out.join("agreement.json"), &agree)?;
    Ok(agree)
}

fn write_measurements(
    cohort: &Cohort,
    meas: &BTreeMap<String, CaseMeasurements>,
    out: &std::path::Path,
) -> Result<()> {
    let header = [
        "case_id",
        "n_components",
        "axial_axis",
        "spacing_mm",
        "tumor_size_mm",
        "axial_slice",
        "index_voxel_volume_ml",
        "index_mesh_volume_ml",
        "index_surface_area_mm2",
        "index_sphericity",
        "index_maximum_3d_diameter_mm",
        "index_major_axis_mm",
        "index_minor_axis_mm",
        "index_least_axis_mm",
        "index_elongation",
        "index_flatness",
        "tumor_voxel_volume_ml",
        "tumor_mesh_volume_ml",
        "kidney_volume_ml",
        "kidney_parenchyma_ml",
        "tumor_kidney_ratio",
        "radiographic_size_mm",
    ];
    let mut rows = Vec::new();
    let mut comp_rows = Vec::new();
    for c in &cohort.cases {
        let Some(m) = meas.get(&c.id) else { continue };
        let t = m.index_tumor();
        let s = &t.shape;
        let f = |x: f64| format!("{x}");
        rows.push(vec![
            c.id.clone(),
            m.components.len().to_string(),
            m.axial_axis.to_string(),
            format!(
                "{} {} {}",
                m.spacing_mm[0], m.spacing_mm[1], m.spacing_mm[2]
            ),
            f(t.axial_diameter_mm),
            t.axial_diameter_slice.to_string(),
            f(s.voxel_volume_ml()),
            f(s.mesh_volume_ml()),
            f(s.surface_area_mm2),
            f(s.sphericity),
            f(s.maximum_3d_diameter_mm),
            f(s.major_axis_length_mm),
            f(s.minor_axis_length_mm),
            f(s.least_axis_length_mm),
            f(s.elongation),
            f(s.flatness),
            f(m.whole_tumor.voxel_volume_ml()),
            f(m.whole_tumor.mesh_volume_ml()),
            f(m.kidney_volume_ml),
            f(m.kidney_parenchyma_ml),
            f(m.tumor_kidney_ratio),
            cell(c.clinical.radiographic_size_mm()),
        ]);
        for t in &m.components {
            comp_rows.push(vec![
                c.id.clone(),
                t.rank.to_string(),
                t.shape.voxel_count.to_string(),
                f(t.axial_diameter_mm),
                f(t.shape.voxel_volume_ml()),
                f(t.shape.mesh_volume_ml()),
                f(t.shape.maximum_3d_diameter_mm),
                f(t.shape.sphericity),
                format!(
                    "{:.3} {:.3} {:.3}",
                    t.centroid_world_mm[0], t.centroid_world_mm[1], t.centroid_world_mm[2]
                ),
            ]);
        }
    }
    write_csv(&out.join("measurements.csv"), &header, &rows)?;
    write_csv(
        &out.join("components.csv"),
        &[
            "case_id",
            "rank",
            "voxels",
            "axial_diameter_mm",
            "voxel_volume_ml",
            "mesh_volume_ml",
            "maximum_3d_diameter_mm",
            "sphericity",
            "centroid_world_mm",
        ],
        &comp_rows,
    )
}
