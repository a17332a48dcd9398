//! `renal-triage train`, `inspect` and `predict`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::bundle::{
    load_bundle, write_bundle, CvSummary, FeatureSchema, Manifest, TrainingSummary, FORMAT_VERSION,
};
use crate::cmd_reproduce::{model_table, prepare, skip_reason};
use crate::experiment::{Experiment, PAPER_TOML};
use crate::features::SIZE;
use crate::predict::{predict, PatientInput, Prediction};
use crate::results::{model_metrics, nested_cv, run_model};

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Experiment file (default: the built-in paper experiment).
    #[arg(long)]
    pub experiment: Option<PathBuf>,
    /// Model name, as in the experiment.
    #[arg(long)]
    pub model: String,
    /// Bundle directory to write.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn train(args: TrainArgs) -> Result<ExitCode> {
    let exp = match &args.experiment {
        Some(p) => Experiment::load(p)?,
        None => Experiment::parse(PAPER_TOML)?,
    };
    let spec = exp
        .models
        .iter()
        .find(|m| m.name == args.model)
        .with_context(|| {
            format!(
                "no model named `{}` (available: {})",
                args.model,
                exp.models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let data = crate::data::resolve(args.data.as_deref())?;
    let prepared = prepare(&data, None, None)?;
    let plan = exp.plan(spec, &prepared.clinical)?;
    if let Some(why) = skip_reason(&plan, &prepared) {
        bail!(
            "model `{}` cannot be trained on this cohort: {why}",
            spec.name
        );
    }
    let table = model_table(&plan, &prepared)?;
    tracing::info!(model = %spec.name, "nested CV for the honest performance estimate");
    let run = run_model(&exp, &plan, &table, None, String::new())?;
    let metrics = model_metrics(&exp, &run)?;
    tracing::info!(model = %spec.name, "tuning on the whole cohort and refitting");
    let s = &exp.experiment;
    let cv = nested_cv(&exp);
    let tuned = cv.tune_and_fit(&plan.candidates, &table.x, &table.y, 3)?;
    let features = (0..table.x.cols)
        .map(|j| {
            let name = table.x.names[j].clone();
            let col: Vec<f64> = table
                .x
                .column(j)
                .into_iter()
                .filter(|v| !v.is_nan())
                .collect();
            let mut sorted = col.clone();
            sorted.sort_by(f64::total_cmp);
            let median =
                (!sorted.is_empty()).then(|| renal_stats::binary::percentile(&sorted, 50.0));
            let kind = if name == SIZE || name == "log_tumor_size_mm" {
                "size"
            } else if name.starts_with(crate::experiment::EMBEDDING_PREFIX) {
                "embedding"
            } else {
                "clinical"
            };
            FeatureSchema {
                name,
                kind: kind.into(),
                train_min: sorted.first().copied(),
                train_max: sorted.last().copied(),
                train_median: median,
                train_missing: table.x.rows - col.len(),
            }
        })
        .collect();
    let mut counts = [0usize; 3];
    table.y.iter().for_each(|&c| counts[c] += 1);
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        model_name: spec.name.clone(),
        model_spec: spec.clone(),
        log_size: spec.log_size,
        features,
        thresholds: s
            .tasks
            .iter()
            .copied()
            .zip(tuned.thresholds.iter().copied())
            .collect(),
        cv: metrics.iter().map(CvSummary::from).collect(),
        training: TrainingSummary {
            source: data.display().to_string(),
            cases: table.x.rows,
            class_counts: counts,
            excluded: prepared.cohort.excluded.len(),
            seed: s.seed,
            chosen_candidate: tuned.chosen,
            grid_size: plan.candidates.len(),
        },
        files: BTreeMap::new(),
    };
    write_bundle(&args.out, manifest, &tuned.model)?;
    println!(
        "Bundle written to {} ({} cases; CV AUC: {})",
        args.out.display(),
        table.x.rows,
        metrics
            .iter()
            .map(|m| format!("{} {:.3}", m.task.name(), m.auc))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    pub bundle: PathBuf,
}

pub fn inspect(args: InspectArgs) -> Result<ExitCode> {
    let b = load_bundle(&args.bundle)?;
    println!("{}", serde_json::to_string_pretty(&b.manifest)?);
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Model bundle.
    #[arg(long)]
    pub model: PathBuf,
    /// Clinical values as JSON (`{"age": 61, "sex": "male", ...}`), or `@file.json`.
    #[arg(long)]
    pub clinical: Option<String>,
    /// One clinical value, `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Segmentation or tumor mask.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    #[arg(long)]
    pub case_id: Option<String>,
    /// A batch: manifest CSV (`case_id`, clinical columns, `mask`), one prediction per row.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Output format.
    #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
    pub format: String,
}

fn single_input(args: &PredictArgs) -> Result<PatientInput> {
    let mut clinical: BTreeMap<String, serde_json::Value> = match &args.clinical {
        Some(s) => {
            let text = match s.strip_prefix('@') {
                Some(path) => {
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?
                }
                None => s.clone(),
            };
            serde_json::from_str(&text)
                .context("--clinical: expected a JSON object of name: value")?
        }
        None => BTreeMap::new(),
    };
    for kv in &args.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: expected NAME=VALUE"))?;
        let val = v
            .parse::<f64>()
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| serde_json::Value::from(v));
        clinical.insert(k.trim().to_string(), val);
    }
    Ok(PatientInput {
        case_id: args.case_id.clone(),
        clinical,
        mask: args.mask.clone(),
    })
}

fn batch_inputs(path: &std::path::Path) -> Result<Vec<PatientInput>> {
    let base = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header: Vec<String> = rdr
        .headers()?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec?;
        let mut input = PatientInput::default();
        for (h, v) in header.iter().zip(rec.iter()) {
            match h.as_str() {
                "case_id" => input.case_id = Some(v.to_string()),
                "mask" if !v.trim().is_empty() => {
                    input.mask = Some(
                        renal_cohort::manifest::resolve_inside(&base, v, "mask")
                            .map_err(|e| anyhow::anyhow!("{e}"))?,
                    )
                }
                "mask" | "label" => {}
                _ if v.trim().is_empty() => {}
                _ => {
                    input
                        .clinical
                        .insert(h.clone(), serde_json::Value::from(v.trim()));
                }
            }
        }
        out.push(input);
    }
    Ok(out)
}

const CSV_HEADER: [&str; 10] = [
    "case_id",
    "p_benign",
    "p_indolent",
    "p_aggressive",
    "p_malignant",
    "p_aggressive_vs_rest",
    "tumor_size_mm",
    "decisions",
    "imputed",
    "out_of_range",
];

fn csv_row(p: &Prediction) -> Vec<String> {
    vec![
        p.case_id.clone().unwrap_or_default(),
        format!("{}", p.p_benign),
        format!("{}", p.p_indolent),
        format!("{}", p.p_aggressive),
        format!("{}", p.p_malignant),
        format!("{}", p.p_aggressive_vs_rest),
        p.tumor_size_mm.map(|v| format!("{v}")).unwrap_or_default(),
        p.decisions
            .iter()
            .map(|d| {
                format!(
                    "{}={}",
                    d.task.name(),
                    d.positive.map(|b| b.to_string()).unwrap_or("none".into())
                )
            })
            .collect::<Vec<_>>()
            .join(";"),
        p.imputed.join(";"),
        p.out_of_range
            .iter()
            .map(|o| o.feature.clone())
            .collect::<Vec<_>>()
            .join(";"),
    ]
}

pub fn run_predict(args: PredictArgs) -> Result<ExitCode> {
    let bundle = load_bundle(&args.model)?;
    let inputs = match &args.manifest {
        Some(m) => batch_inputs(m)?,
        None => vec![single_input(&args)?],
    };
    let mut preds = Vec::new();
    let mut failed = Vec::new();
    for i in &inputs {
        match predict(&bundle, i) {
            Ok(p) => preds.push(p),
            Err(e) => {
                let who = i.case_id.clone().unwrap_or_else(|| "input".into());
                if args.manifest.is_none() {
                    return Err(anyhow::anyhow!("{e}"))
                        .with_context(|| format!("predicting {who}"));
                }
                eprintln!("{who}: {e}");
                failed.push(who);
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format == "csv" {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_HEADER)?;
        for p in &preds {
            w.write_record(csv_row(p))?;
        }
        out.write_all(&w.into_inner()?)?;
    } else if args.manifest.is_some() {
        writeln!(out, "{}", serde_json::to_string_pretty(&preds)?)?;
    } else if let Some(p) = preds.first() {
        writeln!(out, "{}", serde_json::to_string_pretty(p)?)?;
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
