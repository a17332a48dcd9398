//! The study's Tables 2-7 from model results, as rows of strings (for CSV and the report) and
//! JSON values.

use renal_cohort::Task;
use renal_stats::delong_paired;

use crate::engine::metrics::{task_pairs, TaskMetrics};
use crate::engine::model_run::ModelRun;

/// A table: header, rows, and cells to mark (significant differences).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableData {
    pub file: String,
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub marked: Vec<(usize, usize)>,
}

fn f(v: f64) -> String {
    format!("{v}")
}

fn f3(v: f64) -> String {
    format!("{v:.3}")
}

/// Full-precision CSV tables and 3-decimal display copies are made from the same numbers.
pub struct Tables {
    pub csv: Vec<TableData>,
    pub display: Vec<TableData>,
}

fn metrics_for(all: &[(String, Vec<TaskMetrics>)], task: Task) -> Vec<(&str, &TaskMetrics)> {
    all.iter()
        .filter_map(|(n, ms)| ms.iter().find(|m| m.task == task).map(|m| (n.as_str(), m)))
        .collect()
}

fn both(
    file: &str,
    caption: &str,
    header: &[&str],
    rows: Vec<(Vec<f64>, Vec<String>)>,
) -> (TableData, TableData) {
    // rows: (numbers, leading text cells).
    let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    let mk = |fmt: &dyn Fn(f64) -> String| -> Vec<Vec<String>> {
        rows.iter()
            .map(|(nums, lead)| {
                let mut r = lead.clone();
                r.extend(
                    nums.iter()
                        .map(|v| if v.is_nan() { String::new() } else { fmt(*v) }),
                );
                r
            })
            .collect()
    };
    (
        TableData {
            file: file.into(),
            caption: caption.into(),
            header: header.clone(),
            rows: mk(&f),
            marked: vec![],
        },
        TableData {
            file: file.into(),
            caption: caption.into(),
            header,
            rows: mk(&f3),
            marked: vec![],
        },
    )
}

/// Table 2: AUC with DeLong CI.
fn table2(metrics: &[(String, Vec<TaskMetrics>)], tasks: &[Task]) -> Vec<(TableData, TableData)> {
    let mut out = Vec::new();
    // Table 2: AUC with DeLong CI.
    let mut rows = Vec::new();
    for t in tasks {
        for (name, m) in metrics_for(metrics, *t) {
            rows.push((
                vec![m.auc, m.auc_ci95[0], m.auc_ci95[1]],
                vec![
                    name.to_string(),
                    t.name().to_string(),
                    m.n.to_string(),
                    m.positives.to_string(),
                ],
            ));
        }
    }
    out.push(both(
        "table2_auc.csv",
        "Table 2. ROC AUC with DeLong 95% CI (pooled out-of-fold predictions)",
        &[
            "model",
            "task",
            "n",
            "positives",
            "auc",
            "ci95_low",
            "ci95_high",
        ],
        rows,
    ));
    out
}

/// Tables 3-4: PR-AUC, threshold and confusion metrics, one table per task.
fn tables_3_4(
    metrics: &[(String, Vec<TaskMetrics>)],
    tasks: &[Task],
) -> Vec<(TableData, TableData)> {
    let mut out = Vec::new();
    // Tables 3-4: PR-AUC, threshold and confusion metrics, one table per task.
    for (k, t) in tasks.iter().enumerate() {
        let mut rows = Vec::new();
        for (name, m) in metrics_for(metrics, *t) {
            let c = m.confusion;
            let nan = f64::NAN;
            rows.push((
                vec![
                    m.pr_auc,
                    m.threshold.unwrap_or(nan),
                    c.map_or(nan, |c| c.sensitivity),
                    c.map_or(nan, |c| c.specificity),
                    c.map_or(nan, |c| c.precision),
                    c.map_or(nan, |c| c.f1),
                    c.map_or(nan, |c| c.tp as f64),
                    c.map_or(nan, |c| c.fp as f64),
                    c.map_or(nan, |c| c.tn as f64),
                    c.map_or(nan, |c| c.fn_ as f64),
                ],
                vec![name.to_string()],
            ));
        }
        let n = 3 + k;
        out.push(both(
            &format!("table{n}_{}.csv", t.name()),
            &format!("Table {n}. {}: PR-AUC, CV threshold (mean inner-fold Youden) and confusion metrics at it (score >= threshold is positive)", t.name()),
            &["model", "pr_auc", "threshold", "sensitivity", "specificity", "precision", "f1", "tp", "fp", "tn", "fn"],
            rows,
        ));
    }
    out
}

/// Table 5: Brier score.
fn table5(metrics: &[(String, Vec<TaskMetrics>)], tasks: &[Task]) -> Vec<(TableData, TableData)> {
    let mut out = Vec::new();
    // Table 5: Brier score.
    let mut rows = Vec::new();
    for t in tasks {
        for (name, m) in metrics_for(metrics, *t) {
            rows.push((vec![m.brier], vec![name.to_string(), t.name().to_string()]));
        }
    }
    out.push(both(
        "table5_brier.csv",
        "Table 5. Brier score of the task probability",
        &["model", "task", "brier"],
        rows,
    ));
    out
}

/// Tables 6-7: paired DeLong between every pair of models.
fn tables_6_7(runs: &[ModelRun], tasks: &[Task]) -> Vec<(TableData, TableData)> {
    let mut out = Vec::new();
    // Tables 6-7: paired DeLong between every pair of models.
    let order = [
        Task::AggressiveVsRest,
        Task::MalignantVsBenign,
        Task::AggressiveVsIndolent,
    ];
    for (n, t) in (6..).zip(order.iter().filter(|t| tasks.contains(t))) {
        let mut rows = Vec::new();
        for i in 0..runs.len() {
            for j in i + 1..runs.len() {
                let (ya, sa) = task_pairs(*t, &runs[i].oof);
                let (yb, sb) = task_pairs(*t, &runs[j].oof);
                let same = runs[i]
                    .oof
                    .iter()
                    .map(|o| &o.case_id)
                    .eq(runs[j].oof.iter().map(|o| &o.case_id));
                let lead = vec![runs[i].name.clone(), runs[j].name.clone()];
                match (same && ya == yb).then(|| delong_paired(&ya, &sa, &sb, 0.95)) {
                    Some(Ok(d)) => rows.push((
                        vec![d.difference, d.ci[0], d.ci[1], d.z, d.p_two_sided],
                        lead,
                    )),
                    _ => rows.push((vec![f64::NAN; 5], lead)),
                }
            }
        }
        let (mut a, mut b) = both(
            &format!("table{n}_delong_{}.csv", t.name()),
            &format!("Table {n}. Paired DeLong tests, {}: AUC(a) - AUC(b) with 95% CI; marked when p < 0.05", t.name()),
            &["model_a", "model_b", "auc_difference", "ci95_low", "ci95_high", "z", "p_two_sided"],
            rows.clone(),
        );
        for (r, (nums, _)) in rows.iter().enumerate() {
            if nums[4] < 0.05 {
                a.marked.push((r, 2));
                b.marked.push((r, 2));
                b.marked.push((r, 6));
            }
        }
        out.push((a, b));
    }
    out
}

/// Builds Tables 2-7.
pub fn study_tables(
    runs: &[ModelRun],
    metrics: &[(String, Vec<TaskMetrics>)],
    tasks: &[Task],
) -> Tables {
    let (csv, display) = table2(metrics, tasks)
        .into_iter()
        .chain(tables_3_4(metrics, tasks))
        .chain(table5(metrics, tasks))
        .chain(tables_6_7(runs, tasks))
        .unzip();
    Tables { csv, display }
}
