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
                    x.task.name().into(),
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
                Some(Block::Table(Table { caption: "External validation beside the CV estimates".into(), header: ["model", "task", "CV AUC [95% CI]", "external AUC [95% CI]", "external PR-AUC", "external Brier", "CV threshold", "external sens / spec"].map(String::from).to_vec(), rows, source: Some("external/metrics.csv".into()), marked: vec![] })),
            ]
            .into_iter()
            .flatten()
            .collect(),
        });
    }
    Ok(sections)
}
