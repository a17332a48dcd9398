//! The study's Tables 2-7 from model results, as rows of strings (for CSV and the report) and
//! JSON values.

use renal_cohort::Task;
use renal_stats::delong_paired;

use crate::engine::conformal::{cross_fit_all, Coverage};
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

/// How a column is shown to people: counts as integers, p-values as "< 0.001" when small,
/// the rest with 3 decimals.
fn display_cell(column: &str, v: f64) -> String {
    let count =
        matches!(column, "n" | "positives" | "tp" | "fp" | "tn" | "fn") || column.ends_with("_n");
    if count {
        format!("{}", v.round() as i64)
    } else if column.starts_with("p_") {
        if v < 0.001 {
            "< 0.001".into()
        } else {
            f3(v)
        }
    } else {
        f3(v)
    }
}

/// A column's name in words, for the report (the CSV files keep the machine names).
pub fn column_words(column: &str) -> String {
    let w = match column {
        "model" => "Model",
        "task" => "Task",
        "n" => "Cases",
        "positives" => "Positives",
        "auc" => "ROC AUC",
        "ci95_low" => "95% CI low",
        "ci95_high" => "95% CI high",
        "pr_auc" => "PR AUC",
        "threshold" => "Threshold",
        "sensitivity" => "Sensitivity",
        "specificity" => "Specificity",
        "precision" => "Precision (PPV)",
        "f1" => "F1",
        "tp" => "True positives",
        "fp" => "False positives",
        "tn" => "True negatives",
        "fn" => "False negatives",
        "brier" => "Brier score",
        "brier_reference" => "Brier of the prevalence-only forecast",
        "brier_skill" => "Brier skill score",
        "model_a" => "Model A",
        "model_b" => "Model B",
        "auc_difference" => "AUC(A) - AUC(B)",
        "z" => "z",
        "p_two_sided" => "p (two-sided)",
        "p_holm" => "p (Holm-adjusted)",
        "rule" => "Operating point",
        "sensitivity_low" => "Sensitivity CI low",
        "sensitivity_high" => "Sensitivity CI high",
        "specificity_low" => "Specificity CI low",
        "specificity_high" => "Specificity CI high",
        "ppv" => "PPV",
        "ppv_low" => "PPV CI low",
        "ppv_high" => "PPV CI high",
        "npv" => "NPV",
        "npv_low" => "NPV CI low",
        "npv_high" => "NPV CI high",
        "coverage" => "Nominal coverage",
        "empirical" => "Empirical coverage",
        "benign" => "Benign covered",
        "indolent" => "Indolent covered",
        "aggressive" => "Aggressive covered",
        "benign_n" => "Benign cases",
        "indolent_n" => "Indolent cases",
        "aggressive_n" => "Aggressive cases",
        "mean_set_size" => "Mean set size",
        other => return other.replace('_', " "),
    };
    w.to_string()
}

/// The display copy of a row's leading text: task names in words.
fn lead_words(cell: &str) -> String {
    Task::ALL
        .iter()
        .find(|t| t.name() == cell)
        .map_or_else(|| cell.to_string(), |t| t.words().to_string())
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
    // rows: (numbers, leading text cells). The CSV keeps full precision and machine names;
    // the display copy rounds (counts as integers, small p-values as "< 0.001") and says
    // columns and tasks in words.
    let csv_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(nums, lead)| {
            let mut r = lead.clone();
            r.extend(
                nums.iter()
                    .map(|v| if v.is_nan() { String::new() } else { f(*v) }),
            );
            r
        })
        .collect();
    let display_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(nums, lead)| {
            let mut r: Vec<String> = lead.iter().map(|c| lead_words(c)).collect();
            r.extend(nums.iter().enumerate().map(|(j, v)| {
                if v.is_nan() {
                    String::new()
                } else {
                    display_cell(header[lead.len() + j], *v)
                }
            }));
            r
        })
        .collect();
    (
        TableData {
            file: file.into(),
            caption: caption.into(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: csv_rows,
            marked: vec![],
        },
        TableData {
            file: file.into(),
            caption: caption.into(),
            header: header.iter().map(|s| column_words(s)).collect(),
            rows: display_rows,
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
            &format!("Table {n}. {}: PR-AUC, CV threshold (mean inner-fold Youden) and confusion metrics at it (score >= threshold is positive)", t.words()),
            &["model", "pr_auc", "threshold", "sensitivity", "specificity", "precision", "f1", "tp", "fp", "tn", "fn"],
            rows,
        ));
    }
    out
}

/// Table 5: Brier score, with the Brier skill score against the prevalence-only forecast
/// (every case given the task's prevalence `p`, whose Brier score is `p (1 - p)`):
/// `1 - brier / reference`, above 0 when the model beats it.
fn table5(metrics: &[(String, Vec<TaskMetrics>)], tasks: &[Task]) -> Vec<(TableData, TableData)> {
    let mut rows = Vec::new();
    for t in tasks {
        for (name, m) in metrics_for(metrics, *t) {
            let p = m.positives as f64 / m.n as f64;
            let reference = p * (1.0 - p);
            let skill = if reference > 0.0 {
                1.0 - m.brier / reference
            } else {
                f64::NAN
            };
            rows.push((
                vec![m.brier, reference, skill],
                vec![name.to_string(), t.name().to_string()],
            ));
        }
    }
    vec![both(
        "table5_brier.csv",
        "Table 5. Brier score of the task probability, and its skill against the prevalence-only forecast (1 - Brier / Brier of the prevalence; above 0 is better than the prevalence)",
        &["model", "task", "brier", "brier_reference", "brier_skill"],
        rows,
    )]
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
                        vec![d.difference, d.ci[0], d.ci[1], d.z, d.p_two_sided, f64::NAN],
                        lead,
                    )),
                    _ => rows.push((vec![f64::NAN; 6], lead)),
                }
            }
        }
        let p: Vec<f64> = rows.iter().map(|(n, _)| n[4]).collect();
        for (r, adj) in rows.iter_mut().zip(holm(&p)) {
            r.0[5] = adj;
        }
        let (mut a, mut b) = both(
            &format!("table{n}_delong_{}.csv", t.name()),
            &format!("Table {n}. Paired DeLong tests, {}: AUC(A) - AUC(B) with 95% CI; marked when p < 0.05; the Holm-adjusted p accounts for the table's many comparisons", t.words()),
            &["model_a", "model_b", "auc_difference", "ci95_low", "ci95_high", "z", "p_two_sided", "p_holm"],
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

/// Holm's step-down adjustment of p-values (NaN, a test that could not be run, stays NaN and
/// does not count): the `i`-th smallest of `m` becomes `max_{j <= i} min(1, (m - j) p_(j))`.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = idx.len();
    let mut out = vec![f64::NAN; p.len()];
    let mut running: f64 = 0.0;
    for (rank, &i) in idx.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// The operating points: per task, the threshold chosen for the clinical question and its
/// pooled out-of-fold rates with Wilson 95% CIs.
fn table_operating(
    metrics: &[(String, Vec<TaskMetrics>)],
    tasks: &[Task],
) -> Vec<(TableData, TableData)> {
    let mut rows = Vec::new();
    let nan = f64::NAN;
    for t in tasks {
        for (name, m) in metrics_for(metrics, *t) {
            let Some(op) = &m.operating else { continue };
            let mut nums = vec![op.threshold.unwrap_or(nan)];
            match &op.metrics {
                Some(x) => {
                    for p in [x.sensitivity, x.specificity, x.ppv, x.npv] {
                        let ci = p.ci95.unwrap_or([nan, nan]);
                        nums.extend([p.estimate.unwrap_or(nan), ci[0], ci[1]]);
                    }
                    nums.extend([x.tp, x.fp, x.tn, x.fn_].map(|c| c as f64));
                }
                None => nums.extend([nan; 16]),
            }
            rows.push((
                nums,
                vec![name.to_string(), t.name().to_string(), op.rule.to_string()],
            ));
        }
    }
    if rows.is_empty() {
        return Vec::new();
    }
    vec![both(
        "table_operating_points.csv",
        "Operating points chosen for the clinical question (thresholds learned on the inner folds as Youden's), with their pooled out-of-fold sensitivity, specificity, PPV and NPV and Wilson 95% CIs (score >= threshold is positive)",
        &[
            "model", "task", "rule", "threshold", "sensitivity", "sensitivity_low",
            "sensitivity_high", "specificity", "specificity_low", "specificity_high", "ppv",
            "ppv_low", "ppv_high", "npv", "npv_low", "npv_high", "tp", "fp", "tn", "fn",
        ],
        rows,
    )]
}

/// The columns of a conformal coverage table.
pub const COVERAGE_HEADER: &[&str] = &[
    "model",
    "coverage",
    "n",
    "empirical",
    "benign",
    "indolent",
    "aggressive",
    "benign_n",
    "indolent_n",
    "aggressive_n",
    "mean_set_size",
];

fn coverage_numbers(c: &Coverage) -> Vec<f64> {
    let mut v = vec![c.coverage, c.n as f64, c.empirical];
    v.extend(c.per_class.map(|x| x.unwrap_or(f64::NAN)));
    v.extend(c.per_class_n.map(|x| x as f64));
    v.push(c.mean_set_size);
    v
}

/// One CSV row of a coverage table (full precision).
pub fn coverage_row(model: &str, c: &Coverage) -> Vec<String> {
    std::iter::once(model.to_string())
        .chain(
            coverage_numbers(c)
                .into_iter()
                .map(|v| if v.is_nan() { String::new() } else { f(v) }),
        )
        .collect()
}

/// The conformal sets' coverage under CV (each outer fold calibrated on the others).
fn table_conformal(runs: &[ModelRun]) -> Vec<(TableData, TableData)> {
    let rows: Vec<(Vec<f64>, Vec<String>)> = runs
        .iter()
        .flat_map(|r| {
            cross_fit_all(&r.oof)
                .into_iter()
                .map(|c| (coverage_numbers(&c), vec![r.name.clone()]))
        })
        .collect();
    vec![both(
        "table_conformal_coverage.csv",
        "Conformal prediction sets (class-conditional) under cross-validation: each outer fold's sets calibrated on the other folds' out-of-fold predictions; the share of cases whose set holds their class, overall and per class, and the mean number of classes per set",
        COVERAGE_HEADER,
        rows,
    )]
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
        .chain(table_operating(metrics, tasks))
        .chain(table_conformal(runs))
        .unzip();
    Tables { csv, display }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Holm by hand: p = (0.01, 0.04, 0.03, NaN) over m = 3 tests: sorted 0.01, 0.03, 0.04 get
    /// 3 x 0.01 = 0.03, max(0.03, 2 x 0.03) = 0.06, max(0.06, 1 x 0.04) = 0.06.
    #[test]
    fn holm_adjustment_by_hand() {
        let a = holm(&[0.01, 0.04, 0.03, f64::NAN]);
        assert!((a[0] - 0.03).abs() < 1e-15);
        assert!((a[1] - 0.06).abs() < 1e-15);
        assert!((a[2] - 0.06).abs() < 1e-15);
        assert!(a[3].is_nan());
        assert_eq!(holm(&[0.6, 0.5]), vec![1.0, 1.0]);
    }

    #[test]
    fn display_cells_by_column() {
        assert_eq!(display_cell("tp", 12.0), "12");
        assert_eq!(display_cell("benign_n", 25.0), "25");
        assert_eq!(display_cell("p_two_sided", 0.0004), "< 0.001");
        assert_eq!(display_cell("p_holm", 0.0123), "0.012");
        assert_eq!(display_cell("auc", 0.71234), "0.712");
        assert_eq!(column_words("p_holm"), "p (Holm-adjusted)");
        assert_eq!(lead_words("malignant_vs_benign"), "malignant vs benign");
    }
}
