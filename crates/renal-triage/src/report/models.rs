//! The models: the experiment, discrimination (Table 2, Figure 3), thresholds and confusion
//! (Tables 3-4), calibration (Table 5, Figure 5), paired comparisons (Tables 6-7) and feature
//! importance (Figure 4).

use std::path::Path;

use anyhow::Result;
use renal_report::{Block, Section, Table};

use crate::engine::reproduce::Outcome;
use renal_report::svg::bar_chart;

use crate::engine::run_store::slug;
use crate::engine::tables::Tables;
use crate::report::blocks::{table, write_svg};
use crate::report::charts::{calibration_chart, decision_chart, roc_chart};

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
            Block::Pre(o.exp.to_toml()),
        ],
    });
    Ok(sections)
}

/// Table 2 and the ROC curves.
pub(super) fn discrimination(o: &Outcome, tables: &Tables, out: &Path) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    let tasks = &o.exp.experiment.tasks;
    let mut blocks = vec![table(&tables.display[0], "tables")];
    for t in tasks {
        let svg = roc_chart(o, *t).render();
        let name = format!("roc_{}.svg", t.name());
        write_svg(out, &name, &svg)?;
        blocks.push(Block::Figure {
            caption: format!(
                "Figure 3. ROC curves, {} (pooled out-of-fold predictions)",
                t.name()
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

/// Tables 3-4.
pub(super) fn thresholds(o: &Outcome, tables: &Tables) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    let tasks = &o.exp.experiment.tasks;
    let n_thr = tasks.len();
    sections.push(Section {
        id: "thresholds".into(),
        title: "Thresholds and confusion (Tables 3-4)".into(),
        blocks: tables.display[1..1 + n_thr]
            .iter()
            .map(|t| table(t, "tables"))
            .collect(),
    });
    Ok(sections)
}

/// Table 5 and the calibration curves.
pub(super) fn calibration(o: &Outcome, tables: &Tables, out: &Path) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    let tasks = &o.exp.experiment.tasks;
    let n_thr = tasks.len();
    let mut blocks = vec![table(&tables.display[1 + n_thr], "tables")];
    for t in tasks {
        let svg = calibration_chart(o, *t).render();
        let name = format!("calibration_{}.svg", t.name());
        write_svg(out, &name, &svg)?;
        blocks.push(Block::Figure {
            caption: format!("Figure 5. Calibration, {}", t.name()),
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
            caption: format!("Decision curve, {}", c.task.name()),
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
                c.task.name()
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
    let mut sections = Vec::new();
    let n_thr = o.exp.experiment.tasks.len();
    sections.push(Section {
        id: "comparison".into(),
        title: "Model comparison (Tables 6-7, paired DeLong)".into(),
        blocks: tables.display[2 + n_thr..]
            .iter()
            .map(|t| table(t, "tables"))
            .collect(),
    });
    Ok(sections)
}

/// Figure 4: forest importance of the clinical inputs.
pub(super) fn importance(o: &Outcome, out: &Path) -> Result<Vec<Section>> {
    let mut sections = Vec::new();
    let clinical: Vec<&String> = o.prepared.clinical.iter().collect();
    let imp_model = o.runs.iter().find(|r| {
        !r.importances.is_empty() && r.importances.iter().any(|(n, _)| clinical.contains(&n))
    });
    let mut blocks = Vec::new();
    if let Some(r) = imp_model {
        let bars: Vec<(String, f64)> = r
            .importances
            .iter()
            .filter(|(n, _)| clinical.contains(&n) || n == crate::engine::features::SIZE)
            .take(20)
            .cloned()
            .collect();
        let svg = bar_chart(
            &format!("Clinical feature importance ({})", r.name),
            &bars,
            "mean decrease in impurity (mean over outer refits)",
        );
        write_svg(out, "importance.svg", &svg)?;
        blocks.push(Block::Figure {
            caption: format!(
                "Figure 4. Feature importance of {} (random forest MDI)",
                r.name
            ),
            svg,
            source: Some(format!("models/{}/importances.csv", slug(&r.name))),
        });
    } else {
        blocks.push(Block::Text(
            "No random-forest model with clinical inputs was run.".into(),
        ));
    }
    sections.push(Section {
        id: "importance".into(),
        title: "Feature importance (Figure 4)".into(),
        blocks,
    });
    Ok(sections)
}
