//! The TRIPOD+AI items this run answers, and the reproducibility record (stage timings).

use anyhow::Result;
use renal_report::{Block, Section, Table};

use crate::engine::reproduce::Outcome;

fn items(o: &Outcome) -> Vec<(String, String)> {
    let s = &o.exp.experiment;
    let c = &o.prepared.cohort;
    let [b, i, a] = c.class_counts();
    vec![
        ("Data source".into(), format!("{} ({} cases analysed, {} excluded with reasons listed above).", c.source, c.cases.len(), c.excluded.len())),
        ("Outcome definition".into(), "Histology labelled by the Bhindi et al. (2018) rules into benign / malignant-indolent / malignant-aggressive (rules B1, A1-A4, I1; see the README). Tasks: malignant vs benign, P = 1 - P(benign) (computed as P(indolent) + P(aggressive)); aggressive vs rest (rest includes benign), P = P(aggressive).".into()),
        ("Outcome distribution".into(), format!("{b} benign, {i} indolent, {a} aggressive.")),
        ("Predictors".into(), "Pre-operative fields only, enforced by an allow-list (demographics, BMI, comorbidities, smoking, alcohol, tobacco, pre-operative eGFR, radiographic size); the tumor size measured on the segmentation (largest axial diameter of the index tumor); image embeddings when given. Pathology, surgical, post-operative and outcome fields are refused.".into()),
        ("Missing data".into(), "Kept missing in the tables; imputed by the median of the training rows inside each fold (never using test rows).".into()),
        ("Partitioning".into(), format!("Nested cross-validation: {} outer x {} inner stratified folds, seed {}; out-of-fold predictions pooled over the outer folds and scored once.", s.outer_folds, s.inner_folds, s.seed)),
        ("Tuning".into(), "Grid search in the inner folds (score: mean AUC over the tasks); the chosen candidate is refit on the outer training rows. Thresholds: mean over all inner folds of the Youden-optimal threshold.".into()),
        ("Performance measures".into(), format!("ROC AUC with DeLong 95% CI, paired DeLong tests, PR-AUC, sensitivity, specificity, precision and F1 at the CV threshold, Brier score, calibration in {} equal-width bins with {}x bootstrap 95% CIs.", s.calibration_bins, s.bootstrap)),
        ("Model specification".into(), "Every candidate pipeline (preprocessing steps and learner hyperparameters) is in models/<model>/run.json and the experiment file below; forest importances in importances.csv.".into()),
        ("Code version".into(), format!("renal-triage {} (git commit in manifest.json).", env!("CARGO_PKG_VERSION"))),
        ("Image inputs".into(), image_inputs(o)),
    ]
}

/// The TRIPOD+AI section and the reproducibility section.
pub(super) fn tripod(o: &Outcome) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    sections.push(Section {
        id: "tripod".into(),
        title: "TRIPOD+AI items answered by this run".into(),
        blocks: vec![Block::Items(items(o))],
    });
    let timing: Vec<Vec<String>> = o
        .timings
        .iter()
        .map(|(k, v)| vec![k.clone(), format!("{v:.1}")])
        .collect();
    sections.push(Section {
        id: "reproducibility".into(),
        title: "Reproducibility".into(),
        blocks: vec![
            Block::Text("Inputs with sha256, the configuration, seed, versions and git commit are in manifest.json. The same inputs and seed give byte-identical tables on any thread count.".into()),
            Block::Table(Table { caption: "Stage timings (s)".into(), header: vec!["stage".into(), "seconds".into()], rows: timing, source: Some("manifest.json".into()), marked: vec![] }),
        ],
    });
    Ok(sections)
}

/// Where this run's image embeddings came from, as it happened.
fn image_inputs(o: &Outcome) -> String {
    match (&o.encoder, o.prepared.has_embeddings) {
        (Some(e), _) => format!(
            "Image embeddings were computed in this run: a SimCLR encoder trained without labels on {} cases' image inputs ({}), then applied to every case.",
            e.report.cases.len(),
            e.images.input
        ),
        (None, true) => "Image embeddings were joined from the given table.".into(),
        (None, false) => {
            "No image embeddings in this run: image models are listed as skipped.".into()
        }
    }
}
