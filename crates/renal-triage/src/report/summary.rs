//! The report's first section: the cohort in one sentence, the best model of each task with
//! its CI and operating point, and the caveats a reader must weigh; and its last: the
//! configuration, as an appendix.

use anyhow::Result;
use renal_cohort::{Label, Task};
use renal_report::{Block, Section};

use crate::engine::metrics::{percent, TaskMetrics};
use crate::engine::reproduce::Outcome;

/// The model with the highest pooled out-of-fold AUC on `task` (first on ties).
pub(super) fn best(o: &Outcome, task: Task) -> Option<(&str, &TaskMetrics)> {
    o.metrics
        .iter()
        .filter_map(|(n, ms)| ms.iter().find(|m| m.task == task).map(|m| (n.as_str(), m)))
        .fold(None, |b: Option<(&str, &TaskMetrics)>, c| match b {
            Some(b) if b.1.auc >= c.1.auc => Some(b),
            _ => Some(c),
        })
}

fn proportion(p: &renal_stats::Proportion) -> String {
    match p.ci95 {
        Some([lo, hi]) => format!(
            "{} (95% CI {}-{}, {} of {})",
            percent(p.estimate),
            percent(Some(lo)),
            percent(Some(hi)),
            p.k,
            p.n
        ),
        None => "undefined (no case)".into(),
    }
}

fn best_line(o: &Outcome, task: Task) -> Option<String> {
    let (name, m) = best(o, task)?;
    let mut s = format!(
        "{}: best {} with a ROC AUC of {:.3} (95% CI {:.3}-{:.3}) on {} cases ({} positive)",
        task.words(),
        name,
        m.auc,
        m.auc_ci95[0],
        m.auc_ci95[1],
        m.n,
        m.positives
    );
    if let Some(op) = &m.operating {
        if let Some(x) = &op.metrics {
            s.push_str(&format!(
                "; at {} its threshold gave a sensitivity of {} and a specificity of {}",
                op.rule.describe(),
                proportion(&x.sensitivity),
                proportion(&x.specificity)
            ));
        }
    }
    s.push('.');
    Some(s)
}

/// The caveats that hold for this run, in plain words.
fn caveats(o: &Outcome) -> Vec<String> {
    let cohort = &o.prepared.cohort;
    let count = |l: Label| cohort.cases.iter().filter(|c| c.label == Some(l)).count();
    let mut out = Vec::new();
    let benign = count(Label::Benign);
    out.push(format!(
        "Only {benign} benign cases: every malignant-vs-benign estimate (AUC, specificity, benign coverage) has a wide interval; read the intervals, not the point estimates."
    ));
    if o.metrics.len() > 1 {
        out.push(format!(
            "The best model of each task is picked from {} models on the same cross-validated predictions, so its AUC is optimistic; the paired DeLong tables (Holm-adjusted p-values) say which differences the data support.",
            o.metrics.len()
        ));
    }
    if o.encoder
        .as_ref()
        .is_some_and(|e| e.images.spec.kind == crate::engine::images::ChannelKind::LabelPlanes)
    {
        out.push("The image channels were made from the segmentation masks (this cohort has no CT intensities here): the image models see shape, not enhancement.".into());
    }
    out.push(match &o.external {
        Some(e) => format!(
            "External validation on {} ({} cases) is in its own section; its numbers, not the cross-validated ones, are what a new site should expect first.",
            e.source, e.cases
        ),
        None => "One development cohort and no external validation: performance at another hospital, scanner or population is unknown.".into(),
    });
    out.push("The operating points and prediction sets were learned on cross-validation folds of this cohort; their rates hold for a population like it.".into());
    out
}

/// The summary section (first in the report).
pub(super) fn summary(o: &Outcome) -> Result<Section> {
    let cohort = &o.prepared.cohort;
    let count = |l: Label| cohort.cases.iter().filter(|c| c.label == Some(l)).count();
    let mut blocks = vec![Block::Text(format!(
        "Cohort: {} cases analysed ({} benign, {} malignant-indolent, {} malignant-aggressive); {} excluded, each listed with its reason below.",
        cohort.cases.len(),
        count(Label::Benign),
        count(Label::Indolent),
        count(Label::Aggressive),
        cohort.excluded.len()
    ))];
    let lines: Vec<String> = o
        .exp
        .experiment
        .tasks
        .iter()
        .filter_map(|t| best_line(o, *t))
        .collect();
    blocks.push(Block::Text(format!(
        "Best model per task (pooled out-of-fold predictions of the nested cross-validation): {}",
        lines.join(" ")
    )));
    blocks.push(Block::Text(format!(
        "Caveats: {}",
        caveats(o)
            .iter()
            .enumerate()
            .map(|(i, c)| format!("({}) {c}", i + 1))
            .collect::<Vec<_>>()
            .join(" ")
    )));
    Ok(Section {
        id: "summary".into(),
        title: "Summary".into(),
        blocks,
    })
}

/// The experiment's configuration, as an appendix.
pub(super) fn appendix(o: &Outcome) -> Section {
    Section {
        id: "appendix-configuration".into(),
        title: "Appendix: configuration".into(),
        blocks: vec![
            Block::Text("The experiment as run (experiment file with its defaults filled in); `manifest.json` records the inputs' hashes and the tool's version.".into()),
            Block::Pre(o.exp.to_toml()),
        ],
    }
}
