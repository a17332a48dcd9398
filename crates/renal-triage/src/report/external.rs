//! External validation beside the CV estimates.

use anyhow::Result;
use renal_report::{Block, Section, Table};

use crate::engine::reproduce::Outcome;

/// The external cohort's results, when there is one.
pub(super) fn external(o: &Outcome) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    if let Some(e) = &o.external {
        let mut rows = Vec::new();
        for m in &e.models {
            for x in &m.metrics {
                let cv = o
                    .metrics
                    .iter()
                    .find(|(n, _)| n == &m.name)
                    .and_then(|(_, ms)| ms.iter().find(|y| y.task == x.task));
                rows.push(vec![
                    m.name.clone(),
                    x.task.words().into(),
                    cv.map(|c| {
                        format!("{:.3} [{:.3}, {:.3}]", c.auc, c.auc_ci95[0], c.auc_ci95[1])
                    })
                    .unwrap_or_default(),
                    format!("{:.3} [{:.3}, {:.3}]", x.auc, x.auc_ci95[0], x.auc_ci95[1]),
                    format!("{:.3}", x.pr_auc),
                    format!("{:.3}", x.brier),
                    x.threshold.map(|t| format!("{t:.3}")).unwrap_or_default(),
                    x.confusion
                        .map(|c| format!("{:.3} / {:.3}", c.sensitivity, c.specificity))
                        .unwrap_or_default(),
                ]);
            }
        }
        sections.push(Section {
            id: "external".into(),
            title: "External validation".into(),
            blocks: [
                Some(Block::Text(format!("Models tuned by CV on the development cohort, refit on all of it, and applied unchanged (thresholds from CV) to {} ({} cases, {} excluded).", e.source, e.cases, e.excluded.len()))),
                e.images.as_ref().map(|i| Block::Text(format!("Image models: the external cohort's inputs were made with the development cohort's specification ({i}) and embedded by the development encoder, frozen: the external images never trained the encoder (external/embeddings.csv)."))),
                (!e.skipped.is_empty()).then(|| Block::Text(format!("Not scored on the external cohort: {}.", e.skipped.iter().map(|(m, why)| format!("{m} ({why})")).collect::<Vec<_>>().join("; ")))),
                Some(Block::Table(Table { caption: "External validation beside the CV estimates".into(), header: ["Model", "Task", "CV ROC AUC [95% CI]", "External ROC AUC [95% CI]", "External PR AUC", "External Brier score", "CV threshold (Youden)", "External sensitivity / specificity"].map(String::from).to_vec(), rows, source: Some("external/metrics.csv".into()), marked: vec![] })),
                Some(Block::Table(coverage_table(e))),
            ]
            .into_iter()
            .flatten()
            .collect(),
        });
    }
    Ok(sections)
}

/// The conformal sets' coverage on the external cohort (calibrated on the development
/// cohort's out-of-fold predictions), as `validate` prints it.
fn coverage_table(e: &crate::engine::external::External) -> Table {
    let cell = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    let rows = e
        .models
        .iter()
        .flat_map(|m| {
            m.conformal.iter().map(|c| {
                vec![
                    m.name.clone(),
                    format!("{:.2}", c.coverage),
                    c.n.to_string(),
                    format!("{:.3}", c.empirical),
                    format!("{} (n = {})", cell(c.per_class[0]), c.per_class_n[0]),
                    format!("{} (n = {})", cell(c.per_class[1]), c.per_class_n[1]),
                    format!("{} (n = {})", cell(c.per_class[2]), c.per_class_n[2]),
                    format!("{:.2}", c.mean_set_size),
                ]
            })
        })
        .collect();
    Table {
        caption: "Conformal prediction sets on the external cohort: calibrated on the development cohort's out-of-fold predictions, the share of external cases whose set holds their class (overall and per class) and the mean set size".into(),
        header: ["Model", "Nominal coverage", "Cases", "Empirical coverage", "Benign covered", "Indolent covered", "Aggressive covered", "Mean set size"].map(String::from).to_vec(),
        rows,
        source: Some("external/conformal.csv".into()),
        marked: vec![],
    }
}
