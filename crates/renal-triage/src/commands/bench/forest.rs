//! `renal-triage bench cv`: the random forest under the study's nested 5x5 CV (its 9-point
//! grid), against scikit-learn's on the same table in the same run.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use super::support::{self, run_script, write_table};

pub fn cv(table: &support::TableArgs, trees: usize, sklearn: bool) -> Result<ExitCode> {
    let report = cv_report(&support::load_table(table)?, trees, sklearn)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// [`cv`]'s report on a loaded table.
pub(super) fn cv_report(
    table: &support::BenchTable,
    trees: usize,
    sklearn: bool,
) -> Result<serde_json::Value> {
    let (x, y) = (&table.x, &table.y);
    let (ours, auc) = support::time_nested(&crate::engine::plan::forest_grid(trees, 0, &[]), x, y)?;
    let mut report = json!({
        "bench": "nested_cv_random_forest",
        "table": table.about.clone(), "trees": trees, "grid": 9, "outer_folds": 5, "inner_folds": 5,
        "threads": rayon::current_num_threads(),
        "renal_triage_s": ours,
        "aggressive_vs_rest_auc": auc,
    });
    if sklearn {
        let (dir, csv_path) = write_table(x, y)?;
        let sk = run_script(
            "bench_sklearn_cv.py",
            &[csv_path.as_os_str(), trees.to_string().as_ref()],
        );
        let _ = std::fs::remove_dir_all(&dir);
        match sk {
            Ok(sk) => {
                if let Some(skt) = sk["seconds"].as_f64() {
                    report["sklearn_s"] = json!(skt);
                    report["sklearn_threads"] = sk["n_jobs"].clone();
                    report["speedup_vs_sklearn"] = json!(skt / ours);
                    report["sklearn_auc"] = sk["aggressive_vs_rest_auc"].clone();
                }
            }
            Err(why) => report["sklearn"] = json!(format!("not run: {why}")),
        }
    }
    Ok(report)
}
