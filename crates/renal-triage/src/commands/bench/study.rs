//! `renal-triage bench study`: the study's whole learning run on one table, each learner
//! against its Python twin in the same run: the linear head (PyTorch, and numpy), the random
//! forest (scikit-learn) and logistic regression (scikit-learn's lbfgs), all under the study's
//! nested 5x5 CV with its grids. The whole's ratio is the Python twins' summed time over ours.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use super::linear::{HEAD_BATCH, HEAD_EPOCHS, STUDY_C};
use super::support::{load_table, TableArgs};

pub fn study(table: &TableArgs, trees: usize, python: bool) -> Result<ExitCode> {
    let t = load_table(table)?;
    let head = super::linear::mlp_report(&t, HEAD_EPOCHS, HEAD_BATCH, python)?;
    let forest = super::forest::cv_report(&t, trees, python)?;
    let logistic = super::linear::logistic_report(&t, &STUDY_C, python, false)?;
    // (learner, ours, the twin's time, what the twin is)
    let rows = [
        (
            "linear head",
            &head,
            head["python"]["pytorch_s"].as_f64(),
            "PyTorch",
        ),
        (
            "forest",
            &forest,
            forest["sklearn_s"].as_f64(),
            "scikit-learn",
        ),
        (
            "logistic",
            &logistic,
            logistic["sklearn"]["seconds"].as_f64(),
            "scikit-learn lbfgs",
        ),
    ];
    let mut learners = serde_json::Map::new();
    let (mut ours_total, mut theirs_total, mut all_twins) = (0.0, 0.0, true);
    for (name, report, twin, who) in &rows {
        let ours = report["renal_triage_s"].as_f64().unwrap_or(f64::NAN);
        ours_total += ours;
        match twin {
            Some(s) => theirs_total += s,
            None => all_twins = false,
        }
        learners.insert(
            name.to_string(),
            json!({
                "renal_triage_s": ours,
                "twin": who,
                "twin_s": twin,
                "ratio": twin.map(|s| s / ours),
            }),
        );
    }
    let mut report = json!({
        "bench": "study_whole_run",
        "table": t.about,
        "threads": rayon::current_num_threads(),
        "renal_triage_s": ours_total,
        "learners": learners,
        "goal": "the whole run at least 20x its Python twins on one thread each, every learner ahead of its twin",
        "details": { "linear_head": head, "forest": forest, "logistic": logistic },
    });
    if python && all_twins {
        report["python_s"] = json!(theirs_total);
        report["ratio"] = json!(theirs_total / ours_total);
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
