//! The models: the experiment, discrimination (Table 2, Figure 3), thresholds and confusion
//! (Tables 3-4), calibration (Table 5, Figure 5), paired comparisons (Tables 6-7) and feature
//! importance (Figure 4).

use std::path::Path;

use anyhow::Result;
use renal_report::{Block, Section, Table};

use crate::engine::reproduce::Outcome;
use renal_report::svg::bar_chart;

use crate::engine::run_store::slug;
use crate::engine::tables::{TableData, Tables};
use crate::report::blocks::{table, write_svg};
use crate::report::charts::{calibration_panels, decision_chart, roc_chart};

/// The models run or skipped, and the experiment file.
pub(super) fn experiment(o: &Outcome) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    let mut model_rows: Vec<Vec<String>> = o
        .runs
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                "run".into(),
                r.features.len().to_string(),
                r.grid_size.to_string(),
                r.chosen
                    .iter()
                    .map(|c| c.0.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    model_rows.extend(o.skipped.iter().map(|(n, why)| {
        vec![
            n.clone(),
            format!("skipped: {why}"),
            String::new(),
            String::new(),
            String::new(),
        ]
    }));
    sections.push(Section {
        id: "experiment".into(),
        title: "Models and experiment".into(),
        blocks: vec![
            Block::Table(Table {
                caption:
                    "Models (inputs before in-fold PCA/selection; candidate chosen per outer fold)"
                        .into(),
                header: [
                    "model",
                    "status",
                    "input columns",
                    "grid size",
                    "chosen per fold",
                ]
                .map(String::from)
                .to_vec(),
                rows: model_rows,
                source: Some("tables/skipped_models.csv".into()),
                marked: vec![],
            }),
            Block::Text("The experiment's configuration is in the appendix.".into()),
        ],
    });
    Ok(sections)
}

/// Table 2 and the ROC curves.
pub(super) fn discrimination(o: &Outcome, tables: &Tables, out: &Path) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    let tasks = &o.exp.experiment.tasks;
    let mut blocks: Vec<Block> = by_file(tables, "table2_")
        .map(|t| table(t, "tables"))
        .collect();
    for t in tasks {
        let svg = roc_chart(o, *t).render();
        let name = format!("roc_{}.svg", t.name());
        write_svg(out, &name, &svg)?;
        blocks.push(Block::Figure {
            caption: format!(
                "Figure 3. ROC curves, {} (pooled out-of-fold predictions)",
                t.words()
            ),
            svg,
            source: Some(format!("figures/{name}")),
        });
    }
    sections.push(Section {
        id: "discrimination".into(),
        title: "Discrimination (Table 2, Figure 3)".into(),
        blocks,
    });
    Ok(sections)
}

/// The display tables whose file starts with `prefix`.
fn by_file<'a>(tables: &'a Tables, prefix: &'a str) -> impl Iterator<Item = &'a TableData> + 'a {
    tables
        .display
        .iter()
        .filter(move |t| t.file.starts_with(prefix))
}

/// Tables 3-4, then the operating points chosen for the clinical question.
pub(super) fn thresholds(o: &Outcome, tables: &Tables) -> Result<Vec<Section>> {
    let mut blocks: Vec<Block> = o
        .exp
        .experiment
        .tasks
        .iter()
        .enumerate()
        .flat_map(|(k, t)| {
            by_file(tables, "table")
                .filter(move |d| d.file == format!("table{}_{}.csv", 3 + k, t.name()))
        })
        .map(|t| table(t, "tables"))
        .collect();
    blocks.push(Block::Text("Operating points: the study applies each task's Youden threshold, which balances sensitivity and specificity whatever the clinical stakes. A clinician asking \"can this mass be watched?\" needs a rule-out threshold instead, one that misses few cancers: each task below also has a threshold chosen for its clinical question (experiment `operating_points`, `train --operating-point`), learned on the inner folds exactly as Youden's is, with its pooled out-of-fold rates and Wilson 95% intervals. The triage call of `predict` uses these.".into()));
    blocks.extend(by_file(tables, "table_operating_points").map(|t| table(t, "tables")));
    Ok(vec![Section {
        id: "thresholds".into(),
        title: "Thresholds, confusion (Tables 3-4) and operating points".into(),
        blocks,
    }])
}

/// The conformal prediction sets' coverage under cross-validation.
pub(super) fn conformal(tables: &Tables) -> Result<Vec<Section>> {
    let mut blocks = vec![Block::Text("Per-patient uncertainty: a class-conditional split-conformal prediction set holds the classes the model cannot rule out for a patient; at coverage c, a case of any class (benign included) is in its set with probability at least c. A set of more than one class makes the triage call indeterminate. Below, each outer fold's sets are calibrated on the other folds' out-of-fold predictions only, so the coverage is measured on cases the calibration did not see.".into())];
    blocks.extend(by_file(tables, "table_conformal").map(|t| table(t, "tables")));
    Ok(vec![Section {
        id: "conformal".into(),
        title: "Prediction sets (conformal coverage)".into(),
        blocks,
    }])
}

/// Table 5 and the calibration curves.
pub(super) fn calibration(o: &Outcome, tables: &Tables, out: &Path) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    let tasks = &o.exp.experiment.tasks;
    let mut blocks: Vec<Block> = by_file(tables, "table5_")
        .map(|t| table(t, "tables"))
        .collect();
    for t in tasks {
        let svg = calibration_panels(o, *t);
        let name = format!("calibration_{}.svg", t.name());
        write_svg(out, &name, &svg)?;
        blocks.push(Block::Figure {
            caption: format!("Figure 5. Calibration, {} (one panel per model)", t.words()),
            svg,
            source: Some(format!("figures/{name}")),
        });
    }
    sections.push(Section {
        id: "calibration".into(),
        title: "Calibration (Table 5, Figure 5)".into(),
        blocks,
    });
    Ok(sections)
}

/// Decision curves: a figure and a table (net benefit at 0.1, ..., 0.9) per task.
pub(super) fn decision(o: &Outcome, out: &Path) -> Result<Vec<Section>> {
    let mut blocks = vec![Block::Text(
        "Decision-curve analysis (Vickers & Elkin 2006), which neither the study nor its peers report: the net benefit of treating (operating on, or referring) the patients whose pooled out-of-fold predicted risk is at least the threshold probability, against treating all and treating none. A threshold probability p says a clinician accepts p/(1 − p) unnecessary treatments per necessary one; a model is useful where its curve is above both references.".into(),
    )];
    for c in &o.decision_curves {
        let svg = decision_chart(c).render();
        let name = format!("decision_curve_{}.svg", c.task.name());
        write_svg(out, &name, &svg)?;
        blocks.push(Block::Figure {
            caption: format!("Decision curve, {}", c.task.words()),
            svg,
            source: Some(format!("figures/{name}")),
        });
        let at: Vec<usize> = (1..10).map(|k| k * 10 - 1).collect();
        let mut header = vec!["model".to_string()];
        header.extend(at.iter().map(|&i| format!("{:.1}", c.thresholds[i])));
        let row = |name: &str, nb: &[f64]| {
            let mut r = vec![name.to_string()];
            r.extend(at.iter().map(|&i| format!("{:.3}", nb[i])));
            r
        };
        let mut rows: Vec<Vec<String>> = c.models.iter().map(|(n, nb)| row(n, nb)).collect();
        rows.push(row("treat all", &c.treat_all));
        rows.push(row("treat none", &vec![0.0; c.thresholds.len()]));
        blocks.push(Block::Table(Table {
            caption: format!(
                "Net benefit at threshold probabilities 0.1-0.9, {}",
                c.task.words()
            ),
            header,
            rows,
            source: Some(format!("tables/{}", c.file())),
            marked: vec![],
        }));
    }
    Ok(vec![Section {
        id: "decision-curves".into(),
        title: "Decision curves (net benefit)".into(),
        blocks,
    }])
}

/// Tables 6-7 (paired DeLong).
pub(super) fn comparison(o: &Outcome, tables: &Tables) -> Result<Vec<Section>> {
    let _ = o;
    Ok(vec![Section {
        id: "comparison".into(),
        title: "Model comparison (Tables 6-7, paired DeLong)".into(),
        blocks: by_file(tables, "table6_")
            .chain(by_file(tables, "table7_"))
            .chain(by_file(tables, "table8_"))
            .map(|t| table(t, "tables"))
            .collect(),
    }])
}

/// Figure 4: for the best model of each task, its forest importance (mean decrease in
/// impurity over the outer refits), inputs named in words; a best model that is not a forest
/// has none, and the best forest model stands in, said so.
pub(super) fn importance(o: &Outcome, out: &Path) -> Result<Vec<Section>> {
    let mut blocks = Vec::new();
    for task in &o.exp.experiment.tasks {
        let Some((best_name, _)) = super::summary::best(o, *task) else {
            continue;
        };
        let run = o.runs.iter().find(|r| r.name == best_name);
        let (r, note) = match run.filter(|r| !r.importances.is_empty()) {
            Some(r) => (Some(r), String::new()),
            None => {
                let forest = o
                    .metrics
                    .iter()
                    .filter_map(|(n, ms)| {
                        let r = o
                            .runs
                            .iter()
                            .find(|r| &r.name == n && !r.importances.is_empty())?;
                        Some((r, ms.iter().find(|m| m.task == *task)?.auc))
                    })
                    .fold(
                        None,
                        |b: Option<(&crate::engine::model_run::ModelRun, f64)>, c| match b {
                            Some(b) if b.1 >= c.1 => Some(b),
                            _ => Some(c),
                        },
                    )
                    .map(|(r, _)| r);
                (
                    forest,
                    format!(
                        "The best model for {}, {best_name}, is not a forest and has no impurity importance; shown instead: the best forest model.",
                        task.words()
                    ),
                )
            }
        };
        if !note.is_empty() {
            blocks.push(Block::Text(note));
        }
        let Some(r) = r else {
            blocks.push(Block::Text(format!(
                "No random-forest model was run for {}.",
                task.words()
            )));
            continue;
        };
        let names: Vec<String> = r.importances.iter().map(|(n, _)| n.clone()).collect();
        let words = crate::engine::features::input_words(&names);
        let bars: Vec<(String, f64)> = r
            .importances
            .iter()
            .zip(words)
            .take(20)
            .map(|((_, v), w)| (w, *v))
            .collect();
        let svg = bar_chart(
            &format!("Feature importance, {} ({})", task.words(), r.name),
            &bars,
            "mean decrease in impurity (mean over outer refits)",
        );
        let file = format!("importance_{}.svg", task.name());
        write_svg(out, &file, &svg)?;
        blocks.push(Block::Figure {
            caption: format!(
                "Figure 4. Feature importance of {} for {} (random forest, mean decrease in impurity; the 20 largest)",
                r.name,
                task.words()
            ),
            svg,
            source: Some(format!("models/{}/importances.csv", slug(&r.name))),
        });
    }
    Ok(vec![Section {
        id: "importance".into(),
        title: "Feature importance of the best models (Figure 4)".into(),
        blocks,
    }])
}
