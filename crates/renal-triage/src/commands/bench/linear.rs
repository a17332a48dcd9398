//! Benchmarks of the linear learners under the study's nested 5x5 CV on a table of the study's
//! kind (`--table`, or a synthetic 448 x 512 one with the spectrum of real embeddings), each
//! against its Python reference in the same run: `bench mlp` (the linear head: numpy and
//! PyTorch, one thread) and `bench logistic` (the study's C grid, standardised inside the folds:
//! scikit-learn's lbfgs, one thread).

use std::process::ExitCode;

use anyhow::Result;
use renal_learn::{LearnerParams, LogisticParams, MlpParams, PipelineParams, Step};
use serde_json::json;

use super::support::{load_table, run_script, time_nested, write_table, BenchTable, TableArgs};

/// The study's C grid for logistic regression (`bench logistic`'s default, `bench study`'s grid).
pub(super) const STUDY_C: [f64; 5] = [0.001, 0.01, 0.1, 1.0, 10.0];
/// The linear head's epochs and batch size (`bench mlp`'s defaults, `bench study`'s settings).
pub(super) const HEAD_EPOCHS: usize = 1000;
pub(super) const HEAD_BATCH: usize = 256;

/// The study's linear head (512 -> 3, Adam lr 3e-4, L2 8e-4), `epochs` x `batch`.
pub fn mlp(table: &TableArgs, epochs: usize, batch: usize, python: bool) -> Result<ExitCode> {
    let report = mlp_report(&load_table(table)?, epochs, batch, python)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// [`mlp`]'s report on a loaded table.
pub(super) fn mlp_report(
    t: &BenchTable,
    epochs: usize,
    batch: usize,
    python: bool,
) -> Result<serde_json::Value> {
    let (x, y) = (&t.x, &t.y[..]);
    let grid = [PipelineParams {
        steps: vec![],
        learner: LearnerParams::Mlp(MlpParams {
            hidden: vec![],
            lr: 3e-4,
            weight_decay: 8e-4,
            batch_size: batch,
            epochs,
            seed: 0,
        }),
        calibrate: None,
    }];
    let (ours, auc) = time_nested(&grid, x, y)?;
    let mut report = json!({
        "bench": "nested_cv_linear_head",
        "table": t.about,
        "epochs": epochs, "batch": batch, "fits": 30,
        "threads": rayon::current_num_threads(),
        "renal_triage_s": ours,
        "aggressive_vs_rest_auc": auc,
        "goal": "at least 10x faster than the numpy implementation",
    });
    if python {
        let (dir, table) = write_table(x, y)?;
        let py = run_script(
            "bench_linear_head.py",
            &[
                table.as_os_str(),
                epochs.to_string().as_ref(),
                batch.to_string().as_ref(),
            ],
        );
        let _ = std::fs::remove_dir_all(&dir);
        match py {
            Ok(py) => {
                if let Some(n) = py["numpy_s"].as_f64() {
                    report["speedup_vs_numpy"] = json!(n / ours);
                }
                if let Some(t) = py["pytorch_s"].as_f64() {
                    report["speedup_vs_pytorch"] = json!(t / ours);
                }
                report["python"] = py;
            }
            Err(why) => report["python"] = json!(format!("not run: {why}")),
        }
    }
    Ok(report)
}

/// Multinomial logistic regression over a C grid, the columns standardised inside the folds.
pub fn logistic(table: &TableArgs, cs: &[f64], sklearn: bool) -> Result<ExitCode> {
    let report = logistic_report(&load_table(table)?, cs, sklearn, true)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// [`logistic`]'s report on a loaded table; `converged` also runs scikit-learn to the optimum
/// (`tol=1e-10, max_iter=10000`), not only at its defaults.
pub(super) fn logistic_report(
    t: &BenchTable,
    cs: &[f64],
    sklearn: bool,
    converged: bool,
) -> Result<serde_json::Value> {
    let (x, y) = (&t.x, &t.y[..]);
    let grid: Vec<PipelineParams> = cs
        .iter()
        .map(|&c| PipelineParams {
            steps: vec![Step::Standardize],
            learner: LearnerParams::Logistic(LogisticParams {
                c,
                ..Default::default()
            }),
            calibrate: None,
        })
        .collect();
    let (ours, auc) = time_nested(&grid, x, y)?;
    let mut report = json!({
        "bench": "nested_cv_logistic",
        "table": t.about,
        "standardized_in_folds": true,
        "c_grid": cs, "fits": 5 * (5 * cs.len() + 1),
        "threads": rayon::current_num_threads(),
        "renal_triage_s": ours,
        "aggressive_vs_rest_auc": auc,
        "goal": "at least 5x faster than scikit-learn's lbfgs",
    });
    if sklearn {
        let (dir, table) = write_table(x, y)?;
        let list: Vec<String> = cs.iter().map(|c| format!("{c}")).collect();
        let list = list.join(",");
        // scikit-learn at its defaults (which stop short of the optimum on such tables), then
        // run to the optimum this learner reaches (`tol=1e-10, max_iter=10000`).
        let runs = [
            ("sklearn", None),
            ("sklearn_converged", Some(["10000", "1e-10"])),
        ];
        for (key, extra) in &runs[..if converged { 2 } else { 1 }] {
            let mut args = vec![table.as_os_str(), list.as_ref()];
            let owned: Vec<std::ffi::OsString> = extra.iter().flatten().map(Into::into).collect();
            args.extend(owned.iter().map(|a| a.as_os_str()));
            match run_script("bench_sklearn_logistic.py", &args) {
                Ok(sk) => {
                    if let Some(s) = sk["seconds"].as_f64() {
                        report[format!("speedup_vs_{key}")] = json!(s / ours);
                    }
                    report[*key] = sk;
                }
                Err(why) => report[*key] = json!(format!("not run: {why}")),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(report)
}
