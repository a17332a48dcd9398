//! The cohort (Table 1, exclusions) and the tumor measurements (size agreement with the
//! radiologists, inter-annotator reliability).

use std::path::Path;

use anyhow::Result;
use renal_report::{Block, Section, Table};

use crate::engine::cohort_outputs::{FeatureIcc, MeshConvention, SizeAgreement};
use crate::engine::reproduce::Outcome;
use crate::report::blocks::write_svg;
use crate::report::charts::bland_altman_chart;

/// Table 1 and the excluded cases.
pub(super) fn cohort(o: &Outcome) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    let c = &o.cohort;
    sections.push(Section {
        id: "cohort".into(),
        title: "Cohort (Table 1)".into(),
        blocks: vec![
            Block::Table(Table {
                caption: "Table 1. Cohort characteristics by class".into(),
                header: [
                    "characteristic",
                    "overall",
                    "benign",
                    "indolent",
                    "aggressive",
                ]
                .map(String::from)
                .to_vec(),
                rows: c.table1.iter().map(|r| r.to_vec()).collect(),
                source: Some("cohort/table1.csv".into()),
                marked: vec![],
            }),
            Block::Table(Table {
                caption: format!("Excluded cases ({})", c.excluded.len()),
                header: vec!["case".into(), "reason".into()],
                rows: c
                    .excluded
                    .iter()
                    .map(|e| vec![e.case.clone(), e.reason.clone()])
                    .collect(),
                source: Some("cohort/excluded.csv".into()),
                marked: vec![],
            }),
        ],
    });
    sections.push(recorded_values(o));
    Ok(sections)
}

/// The labelling policy and the recorded values read as missing.
fn recorded_values(o: &Outcome) -> Section {
    let c = &o.cohort;
    let assumed = c.blank_assumed;
    let policy = match o.blank_modifier {
        renal_cohort::BlankModifier::Absent => format!(
            "Blank pathology modifiers (necrosis, sarcomatoid features, T stage) were read as absent (`--blank-modifier absent`): pathology reports mention them when present. The class of {assumed} case(s) depended on that reading (Table 1; their rule in cohort/labels.csv says which field)."
        ),
        renal_cohort::BlankModifier::Exclude => "Blank pathology modifiers excluded the case when its class depended on them (`--blank-modifier exclude`).".into(),
    };
    let n_cases = c.with_notes;
    let mut blocks = vec![
        Block::Text(policy),
        Block::Text(format!(
            "A feature value that cannot be read never excludes a case: it is missing, imputed within the training folds like any missing value. {n_cases} case(s) had at least one such value: recorded as unknown (e.g. `not_found_in_emr`, recognised by rule), outside the field's vocabulary, text for a number, or implausible. Every one is listed in cohort/warnings.csv."
        )),
    ];
    if !c.unreadable.is_empty() {
        blocks.push(Block::Text(format!(
            "Warning: no case has a readable value for {}; the feature is constant after imputation and carries no information.",
            c.unreadable.join(", ")
        )));
    }
    blocks.push(Block::Table(Table {
        caption: "Recorded values read as missing, per feature".into(),
        header: [
            "feature",
            "source field",
            "why",
            "cases",
            "values (up to 3)",
        ]
        .map(String::from)
        .to_vec(),
        rows: c
            .notes
            .iter()
            .map(|n| {
                vec![
                    n.feature.clone(),
                    n.field.clone(),
                    n.kind.name().into(),
                    n.cases.to_string(),
                    n.values.clone(),
                ]
            })
            .collect(),
        source: Some("cohort/warnings.csv".into()),
        marked: vec![],
    }));
    Section {
        id: "recorded-values".into(),
        title: "Labelling policy and recorded values".into(),
        blocks,
    }
}

/// Size agreement and annotator ICC.
pub(super) fn measurements(o: &Outcome, out: &Path) -> Result<Vec<Section>> {
    let a = &o.agreement;
    let f3 = |v: f64| format!("{v:.3}");
    let mut blocks = Vec::new();
    blocks.push(Block::Text(match &a.size {
        SizeAgreement::Computed {
            n,
            pearson_r,
            bland_altman,
            mesh_vertex_convention,
            ..
        } => {
            let (mesh_r, mesh_bias) = match mesh_vertex_convention {
                MeshConvention::Computed {
                    pearson_r,
                    bias_mm,
                    ..
                } => (f3(*pearson_r), f3(*bias_mm)),
                MeshConvention::Failed { .. } => ("-".into(), "-".into()),
            };
            format!(
                "Computed size (largest axial diameter of the index tumor between voxel centres) against the radiologists' size on {n} cases: Pearson r = {}, Bland-Altman bias {} mm (limits of agreement {} to {} mm). With the mesh-vertex convention of pyradiomics: r = {mesh_r}, bias {mesh_bias} mm.",
                f3(*pearson_r),
                f3(bland_altman.bias_mm),
                f3(bland_altman.limits_of_agreement_mm[0]),
                f3(bland_altman.limits_of_agreement_mm[1]),
            )
        }
        SizeAgreement::Failed { n, error } => format!(
            "Computed size against the radiologists' size on {n} cases: not computed ({error})."
        ),
    }));
    if let Some(ch) = bland_altman_chart(a) {
        let svg = ch.render();
        write_svg(out, "bland_altman.svg", &svg)?;
        blocks.push(Block::Figure {
            caption:
                "Bland-Altman plot of the tumor size (dashed: bias and 95% limits of agreement)"
                    .into(),
            svg,
            source: Some("cohort/agreement.json".into()),
        });
    }
    let ann = &a.annotators;
    let rows: Vec<Vec<String>> = ann
        .features
        .iter()
        .map(|(k, v)| match v {
            FeatureIcc::Computed { icc_3_1, ci95, .. } => {
                vec![k.clone(), f3(*icc_3_1), f3(ci95[0]), f3(ci95[1])]
            }
            FeatureIcc::Failed { .. } => vec![k.clone(), "-".into(), "-".into(), "-".into()],
        })
        .collect();
    blocks.push(Block::Table(Table {
        caption: format!(
            "Inter-annotator ICC(3,1) of the shape features ({} instances x {} annotators; mean ICC {})",
            ann.instances,
            ann.raters,
            ann.mean_icc_3_1.map(f3).unwrap_or_else(|| "-".into())
        ),
        header: ["feature", "ICC(3,1)", "ci95_low", "ci95_high"]
            .map(String::from)
            .to_vec(),
        rows,
        source: Some("cohort/agreement.json".into()),
        marked: vec![],
    }));
    Ok(vec![Section {
        id: "measurements".into(),
        title: "Tumor measurements: agreement and reliability".into(),
        blocks,
    }])
}
