//! Benchmarks of the linear learners under the study's nested 5x5 CV on a synthetic table of
//! the study's shape (448 x 512), each against its Python reference in the same run:
//! `bench mlp` (the linear head: numpy and PyTorch, one thread) and `bench logistic` (a 5-value
//! C grid: scikit-learn's lbfgs, one thread).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use renal_learn::{LearnerParams, LogisticParams, Matrix, MlpParams, PipelineParams};
use serde_json::json;

use super::support::{nested_5x5, run_script, synthetic, write_table};

/// Runs `grid` under nested CV and times it; returns (seconds, aggressive-vs-rest AUC).
fn time_nested(grid: &[PipelineParams], x: &Matrix, y: &[usize]) -> Result<(f64, f64)> {
    let t0 = Instant::now();
    let r = nested_5x5().run(grid, x, y, 3, None)?;
    let s = t0.elapsed().as_secs_f64();
    let (t, p): (Vec<bool>, Vec<f64>) = r.oof.iter().map(|o| (y[o.row] == 2, o.proba[2])).unzip();
    Ok((s, renal_stats::roc_auc(&t, &p)?))
}

/// The study's linear head (512 -> 3, Adam lr 3e-4, L2 8e-4), `epochs` x `batch`.
pub fn mlp(
    rows: usize,
    cols: usize,
    epochs: usize,
    batch: usize,
    python: bool,
) -> Result<ExitCode> {
    let (x, y) = synthetic(rows, cols);
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
    let (ours, auc) = time_nested(&grid, &x, &y)?;
    let mut report = json!({
        "bench": "nested_cv_linear_head",
        "rows": rows, "cols": cols, "epochs": epochs, "batch": batch, "fits": 30,
        "threads": rayon::current_num_threads(),
        "renal_triage_s": ours,
        "aggressive_vs_rest_auc": auc,
        "goal": "at least 10x faster than the numpy implementation",
    });
    if python {
        let (dir, table) = write_table(&x, &y)?;
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
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Multinomial logistic regression over a C grid.
pub fn logistic(rows: usize, cols: usize, cs: &[f64], sklearn: bool) -> Result<ExitCode> {
    let (x, y) = synthetic(rows, cols);
    let grid: Vec<PipelineParams> = cs
        .iter()
        .map(|&c| PipelineParams {
            steps: vec![],
            learner: LearnerParams::Logistic(LogisticParams {
                c,
                ..Default::default()
            }),
            calibrate: None,
        })
        .collect();
    let (ours, auc) = time_nested(&grid, &x, &y)?;
    let mut report = json!({
        "bench": "nested_cv_logistic",
        "rows": rows, "cols": cols, "c_grid": cs, "fits": 5 * (5 * cs.len() + 1),
        "threads": rayon::current_num_threads(),
        "renal_triage_s": ours,
        "aggressive_vs_rest_auc": auc,
        "goal": "at least 5x faster than scikit-learn's lbfgs",
    });
    if sklearn {
        let (dir, table) = write_table(&x, &y)?;
        let list: Vec<String> = cs.iter().map(|c| format!("{c}")).collect();
        let sk = run_script(
            "bench_sklearn_logistic.py",
            &[table.as_os_str(), list.join(",").as_ref()],
        );
        let _ = std::fs::remove_dir_all(&dir);
        match sk {
            Ok(sk) => {
                if let Some(s) = sk["seconds"].as_f64() {
                    report["speedup_vs_sklearn"] = json!(s / ours);
                }
                report["sklearn"] = sk;
            }
            Err(why) => report["sklearn"] = json!(format!("not run: {why}")),
        }
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
