//! Assembles the HTML report and the SVG figures of a reproduction.

use std::path::Path;

use anyhow::{Context, Result};
use renal_cohort::Task;
use renal_report::svg::{bar_chart, Chart, Series};
use renal_report::{render, Block, Report, Section, Table};

use crate::cmd_reproduce::Outcome;
use crate::tables::{TableData, Tables};

fn table(t: &TableData, dir: &str) -> Block {
    Block::Table(Table {
        caption: t.caption.clone(),
        header: t.header.clone(),
        rows: t.rows.clone(),
        source: Some(format!("{dir}/{}", t.file)),
        marked: t.marked.clone(),
    })
}

fn write_svg(out: &Path, name: &str, svg: &str) -> Result<()> {
    let p = out.join("figures").join(name);
    renal_cohort::io::write_atomic(&p, svg.as_bytes())
        .with_context(|| format!("writing {}", p.display()))
}

/// The image input and the SimCLR encoder: what the channels are, which cases the encoder saw
/// (no labels), its configuration, loss curve, missing phases and input previews.
fn encoder_section(e: &crate::cmd_embed::EmbedOutcome, out: &Path) -> Result<Section> {
    let rel = |p: &Path| {
        p.strip_prefix(out)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    };
    let r = &e.report;
    let mut blocks = vec![
        Block::Text(format!("Input: {}.", e.images.input)),
        Block::Text(format!(
            "The encoder was trained without labels (self-supervised) on all {} cases with an image input, the cases whose embeddings feed the image models; {} case(s) had no usable image input and are excluded from those models (listed below and in {}). {} epochs, {} steps, {:.0} s on {} ({:.1} training images/s; two augmented views per case per step).",
            r.cases.len(),
            e.images.excluded.len(),
            rel(&e.dir.join("cases.csv")),
            r.losses.len(),
            r.steps,
            r.seconds,
            r.device,
            r.images_per_second
        )),
    ];
    if let Some(from) = r.resumed_from {
        blocks.push(Block::Text(format!(
            "Training resumed from the checkpoint after epoch {from}."
        )));
    }
    let loss = Chart {
        title: "SimCLR NT-Xent loss".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        x_range: (0.0, r.losses.len().max(1) as f64),
        y_range: (0.0, r.losses.iter().cloned().fold(1.0, f64::max) * 1.05),
        series: vec![Series {
            label: "training loss".into(),
            points: r
                .losses
                .iter()
                .enumerate()
                .map(|(i, l)| ((i + 1) as f64, *l))
                .collect(),
            errors: None,
            line: true,
        }],
        references: vec![],
    }
    .render();
    write_svg(out, "encoder_loss.svg", &loss)?;
    blocks.push(Block::Figure {
        caption: "Encoder training loss per epoch".into(),
        svg: loss,
        source: Some(rel(&e.dir.join("loss.csv"))),
    });
    blocks.push(Block::Table(Table {
        caption: "Cases without each channel (a missing phase is a zero channel)".into(),
        header: vec!["channel".into(), "cases missing it".into()],
        rows: e
            .images
            .missing_per_channel
            .iter()
            .map(|(c, n)| vec![c.clone(), n.to_string()])
            .collect(),
        source: Some(rel(&e.dir.join("input.json"))),
        marked: vec![],
    }));
    if !e.images.excluded.is_empty() {
        blocks.push(Block::Table(Table {
            caption: format!("Cases without an image input ({})", e.images.excluded.len()),
            header: vec!["case".into(), "reason".into()],
            rows: e
                .images
                .excluded
                .iter()
                .map(|(c, w)| vec![c.clone(), w.clone()])
                .collect(),
            source: Some(rel(&e.dir.join("cases.csv"))),
            marked: vec![],
        }));
    }
    blocks.push(Block::Pre(
        serde_json::to_string_pretty(&e.config).unwrap_or_default(),
    ));
    for p in e.previews.iter().take(4) {
        let png = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        blocks.push(Block::Image {
            caption: format!(
                "Input of {} (channels left to right: {})",
                p.file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default(),
                e.images.channels.join(", ")
            ),
            png,
            source: Some(rel(p)),
        });
    }
    Ok(Section {
        id: "encoder".into(),
        title: "Image input and SimCLR encoder".into(),
        blocks,
    })
}

fn roc_chart(o: &Outcome, task: Task) -> Chart {
    let series = o
        .metrics
        .iter()
        .filter_map(|(name, ms)| ms.iter().find(|m| m.task == task).map(|m| (name, m)))
        .map(|(name, m)| Series {
            label: format!("{name} ({:.3})", m.auc),
            points: m
                .roc_fpr
                .iter()
                .copied()
                .zip(m.roc_tpr.iter().copied())
                .collect(),
            errors: None,
            line: true,
        })
        .collect();
    Chart {
        title: format!("ROC, {}", task.name()),
        x_label: "1 - specificity".into(),
        y_label: "sensitivity".into(),
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
        series,
        references: vec![(0.0, 0.0, 1.0, 1.0)],
    }
}

fn calibration_chart(o: &Outcome, task: Task) -> Chart {
    let series = o
        .metrics
        .iter()
        .filter_map(|(name, ms)| ms.iter().find(|m| m.task == task).map(|m| (name, m)))
        .map(|(name, m)| {
            let mut pts = Vec::new();
            let mut errs = Vec::new();
            for b in 0..m.calibration_count.len() {
                if let (Some(p), Some(obs)) =
                    (m.calibration_predicted[b], m.calibration_observed[b])
                {
                    pts.push((p, obs));
                    let ci = m.calibration_ci95[b].unwrap_or([obs, obs]);
                    errs.push((ci[0], ci[1]));
                }
            }
            Series {
                label: name.clone(),
                points: pts,
                errors: Some(errs),
                line: true,
            }
        })
        .collect();
    Chart {
        title: format!("Calibration, {} (10 bins, bootstrap 95% CI)", task.name()),
        x_label: "mean predicted probability".into(),
        y_label: "observed frequency".into(),
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
        series,
        references: vec![(0.0, 0.0, 1.0, 1.0)],
    }
}

fn bland_altman_chart(agreement: &serde_json::Value) -> Option<Chart> {
    let pairs = agreement["size"]["pairs"].as_array()?;
    let pts: Vec<(f64, f64)> = pairs
        .iter()
        .filter_map(|p| {
            let (a, b) = (p[0].as_f64()?, p[1].as_f64()?);
            Some(((a + b) / 2.0, a - b))
        })
        .collect();
    let ba = &agreement["size"]["bland_altman"];
    let bias = ba["bias_mm"].as_f64()?;
    let lo = ba["limits_of_agreement_mm"][0].as_f64()?;
    let hi = ba["limits_of_agreement_mm"][1].as_f64()?;
    let xmax = pts.iter().map(|p| p.0).fold(10.0f64, f64::max) * 1.05;
    let ymax = pts
        .iter()
        .map(|p| p.1.abs())
        .fold(hi.abs().max(lo.abs()), f64::max)
        * 1.1;
    Some(Chart {
        title: "Tumor size: computed vs radiologist (Bland-Altman)".into(),
        x_label: "mean of the two measurements (mm)".into(),
        y_label: "computed - radiologist (mm)".into(),
        x_range: (0.0, xmax),
        y_range: (-ymax, ymax),
        series: vec![Series {
            label: format!("cases (bias {bias:+.1} mm)"),
            points: pts,
            errors: None,
            line: false,
        }],
        references: vec![
            (0.0, bias, xmax, bias),
            (0.0, lo, xmax, lo),
            (0.0, hi, xmax, hi),
        ],
    })
}

fn tripod(o: &Outcome) -> Vec<(String, String)> {
    let s = &o.exp.experiment;
    let c = &o.prepared.cohort;
    let [b, i, a] = c.class_counts();
    vec![
        ("Data source".into(), format!("{} ({} cases analysed, {} excluded with reasons listed above).", c.source, c.cases.len(), c.excluded.len())),
        ("Outcome definition".into(), "Histology labelled by the Bhindi et al. (2018) rules into benign / malignant-indolent / malignant-aggressive (rules B1, A1-A4, I1; see the README). Tasks: malignant vs benign, P = 1 - P(benign); aggressive vs rest (rest includes benign), P = P(aggressive).".into()),
        ("Outcome distribution".into(), format!("{b} benign, {i} indolent, {a} aggressive.")),
        ("Predictors".into(), "Pre-operative fields only, enforced by an allow-list (demographics, BMI, comorbidities, smoking, alcohol, tobacco, pre-operative eGFR, radiographic size); the tumor size measured on the segmentation (largest axial diameter of the index tumor); image embeddings when given. Pathology, surgical, post-operative and outcome fields are refused.".into()),
        ("Missing data".into(), "Kept missing in the tables; imputed by the median of the training rows inside each fold (never using test rows).".into()),
        ("Partitioning".into(), format!("Nested cross-validation: {} outer x {} inner stratified folds, seed {}; out-of-fold predictions pooled over the outer folds and scored once.", s.outer_folds, s.inner_folds, s.seed)),
        ("Tuning".into(), "Grid search in the inner folds (score: mean AUC over the tasks); the chosen candidate is refit on the outer training rows. Thresholds: mean over all inner folds of the Youden-optimal threshold.".into()),
        ("Performance measures".into(), format!("ROC AUC with DeLong 95% CI, paired DeLong tests, PR-AUC, sensitivity, specificity, precision and F1 at the CV threshold, Brier score, calibration in {} equal-width bins with {}x bootstrap 95% CIs.", s.calibration_bins, s.bootstrap)),
        ("Model specification".into(), "Every candidate pipeline (preprocessing steps and learner hyperparameters) is in models/<model>/run.json and the experiment file below; forest importances in importances.csv.".into()),
        ("Code version".into(), format!("renal-triage {} (git commit in manifest.json).", env!("CARGO_PKG_VERSION"))),
        ("Image inputs".into(), if o.prepared.has_embeddings { "Image embeddings were joined from the given table.".into() } else { "No image embeddings in this run: image models are listed as skipped.".to_string() }),
    ]
}

/// Writes `figures/*.svg` and `report.html`.
pub fn write_report(o: &Outcome, tables: &Tables, out: &Path) -> Result<()> {
    let tasks = &o.exp.experiment.tasks;
    let mut sections = Vec::new();
    // Cohort.
    let t1 = crate::cmd_cohort::table1(&o.prepared.cohort);
    let mut excluded = o.prepared.cohort.excluded.clone();
    excluded.sort();
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
                rows: t1.iter().map(|r| r.to_vec()).collect(),
                source: Some("cohort/table1.csv".into()),
                marked: vec![],
            }),
            Block::Table(Table {
                caption: format!("Excluded cases ({})", excluded.len()),
                header: vec!["case".into(), "reason".into()],
                rows: excluded
                    .iter()
                    .map(|e| vec![e.case.clone(), e.reason.clone()])
                    .collect(),
                source: Some("cohort/excluded.csv".into()),
                marked: vec![],
            }),
        ],
    });
    if let Some(e) = &o.encoder {
        sections.push(encoder_section(e, out)?);
    }
    // Experiment.
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
    // Discrimination.
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
    // Thresholds.
    let n_thr = tasks.len();
    sections.push(Section {
        id: "thresholds".into(),
        title: "Thresholds and confusion (Tables 3-4)".into(),
        blocks: tables.display[1..1 + n_thr]
            .iter()
            .map(|t| table(t, "tables"))
            .collect(),
    });
    // Calibration.
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
    // Comparisons.
    sections.push(Section {
        id: "comparison".into(),
        title: "Model comparison (Tables 6-7, paired DeLong)".into(),
        blocks: tables.display[2 + n_thr..]
            .iter()
            .map(|t| table(t, "tables"))
            .collect(),
    });
    // Importance.
    let clinical: Vec<&String> = o.prepared.clinical.iter().collect();
    let imp_model = o.runs.iter().find(|r| {
        !r.importances.is_empty() && r.importances.iter().any(|(n, _)| clinical.contains(&n))
    });
    let mut blocks = Vec::new();
    if let Some(r) = imp_model {
        let bars: Vec<(String, f64)> = r
            .importances
            .iter()
            .filter(|(n, _)| clinical.contains(&n) || n == crate::features::SIZE)
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
            source: Some(format!(
                "models/{}/importances.csv",
                r.name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    })
                    .collect::<String>()
            )),
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
    // Measurements.
    let agreement = &o.agreement;
    let mut blocks = Vec::new();
    let size = &agreement["size"];
    blocks.push(Block::Text(format!(
        "Computed size (largest axial diameter of the index tumor between voxel centres) against the radiologists' size on {} cases: Pearson r = {}, Bland-Altman bias {} mm (limits of agreement {} to {} mm). With the mesh-vertex convention of pyradiomics: r = {}, bias {} mm.",
        size["n"], fmt(&size["pearson_r"]), fmt(&size["bland_altman"]["bias_mm"]), fmt(&size["bland_altman"]["limits_of_agreement_mm"][0]), fmt(&size["bland_altman"]["limits_of_agreement_mm"][1]), fmt(&size["mesh_vertex_convention"]["pearson_r"]), fmt(&size["mesh_vertex_convention"]["bias_mm"])
    )));
    if let Some(ch) = bland_altman_chart(agreement) {
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
    if let Some(feats) = agreement["annotators"]["features"].as_object() {
        let rows: Vec<Vec<String>> = feats
            .iter()
            .map(|(k, v)| {
                vec![
                    k.clone(),
                    fmt(&v["icc_3_1"]),
                    fmt(&v["ci95"][0]),
                    fmt(&v["ci95"][1]),
                ]
            })
            .collect();
        blocks.push(Block::Table(Table {
            caption: format!("Inter-annotator ICC(3,1) of the shape features ({} instances x {} annotators; mean ICC {})", agreement["annotators"]["instances"], agreement["annotators"]["raters"], fmt(&agreement["annotators"]["mean_icc_3_1"])),
            header: ["feature", "ICC(3,1)", "ci95_low", "ci95_high"].map(String::from).to_vec(),
            rows,
            source: Some("cohort/agreement.json".into()),
            marked: vec![],
        }));
    }
    sections.push(Section {
        id: "measurements".into(),
        title: "Tumor measurements: agreement and reliability".into(),
        blocks,
    });
    // External.
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
            blocks: vec![
                Block::Text(format!("Models tuned by CV on the development cohort, refit on all of it, and applied unchanged (thresholds from CV) to {} ({} cases, {} excluded).", e.source, e.cases, e.excluded.len())),
                Block::Table(Table { caption: "External validation beside the CV estimates".into(), header: ["model", "task", "CV AUC [95% CI]", "external AUC [95% CI]", "external PR-AUC", "external Brier", "CV threshold", "external sens / spec"].map(String::from).to_vec(), rows, source: Some("external/metrics.csv".into()), marked: vec![] }),
            ],
        });
    }
    sections.push(Section {
        id: "tripod".into(),
        title: "TRIPOD+AI items answered by this run".into(),
        blocks: vec![Block::Items(tripod(o))],
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
    let report = Report {
        title: format!("renal-triage: reproduction of \"{}\"", o.exp.experiment.name),
        subtitle: "Benign / malignant-indolent / malignant-aggressive renal masses from imaging and clinical data (after Aminy et al.)".into(),
        sections,
        footer: format!("Generated by renal-triage {}. Every number traces to a CSV named under its table.", env!("CARGO_PKG_VERSION")),
    };
    let html = render(&report);
    let p = out.join("report.html");
    renal_cohort::io::write_atomic(&p, html.as_bytes())
        .with_context(|| format!("writing {}", p.display()))
}

fn fmt(v: &serde_json::Value) -> String {
    v.as_f64()
        .map(|x| format!("{x:.3}"))
        .unwrap_or_else(|| "-".into())
}
