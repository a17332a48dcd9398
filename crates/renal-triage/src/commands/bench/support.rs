//! What the benchmarks share: the table they run on (a real one from `--table`, or a synthetic
//! one of the study's shape), and running a Python comparison script.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;

/// Which table a learner benchmark runs on.
#[derive(clap::Args, Debug, Clone)]
pub struct TableArgs {
    /// A real table: a CSV with a header, the case id first and then numeric features (the
    /// `embeddings.csv` that `embed` or `reproduce` writes, or any embeddings file).
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// The classes of `--table`'s cases: a CSV with `case_id` and `label` (benign, indolent,
    /// aggressive), e.g. `reproduce`'s `cohort/labels.csv`. Without it, the labels of the
    /// KiTS23 cohort at `--data` (or where `reproduce` would look).
    #[arg(long, requires = "table")]
    pub labels: Option<PathBuf>,
    /// The cohort that labels `--table` when `--labels` is not given.
    #[arg(long, requires = "table", conflicts_with = "labels")]
    pub data: Option<PathBuf>,
    /// Rows of the synthetic table (without `--table`).
    #[arg(long, default_value_t = 448)]
    pub rows: usize,
    /// Columns of the synthetic table (without `--table`).
    #[arg(long, default_value_t = 512)]
    pub cols: usize,
    /// The synthetic table: `realistic` has the spectrum of real image embeddings (non-negative
    /// columns driven by a few dominant latent directions, so strongly correlated and badly
    /// conditioned); `iid` is the earlier table of independent uniform columns.
    #[arg(long, value_enum, default_value_t = Synthetic::Realistic)]
    pub synthetic: Synthetic,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synthetic {
    Realistic,
    Iid,
}

/// A benchmark's table and what the JSON records about it.
pub struct BenchTable {
    pub x: renal_learn::Matrix,
    pub y: Vec<usize>,
    /// Where it came from, its shape, class counts and condition number.
    pub about: serde_json::Value,
}

/// Loads `--table` (with its labels) or makes the synthetic table; records its condition number
/// (of the standardised columns, as a linear learner sees them).
pub(crate) fn load_table(args: &TableArgs) -> Result<BenchTable> {
    let (x, y, mut about) = match &args.table {
        Some(path) => {
            let (x, y, unlabelled) = read_table(path, args)?;
            let about = json!({
                "source": path.display().to_string(),
                "rows_without_label": unlabelled,
            });
            (x, y, about)
        }
        None => {
            let ((x, y), name) = match args.synthetic {
                Synthetic::Realistic => (
                    renal_learn::synthetic::embeddings_like(args.rows, args.cols, 448),
                    "synthetic, the spectrum of real embeddings (renal_learn::synthetic::embeddings_like, seed 448)",
                ),
                Synthetic::Iid => (
                    synthetic(args.rows, args.cols),
                    "synthetic, independent uniform columns",
                ),
            };
            (x, y, json!({ "source": name }))
        }
    };
    let (spectrum, cond) = renal_learn::standardized_spectrum(&x)?;
    let total: f64 = spectrum.iter().map(|s| s * s).sum();
    let top5: f64 = spectrum.iter().take(5).map(|s| s * s).sum();
    about["rows"] = json!(x.rows);
    about["cols"] = json!(x.cols);
    about["class_counts"] = json!((0..3)
        .map(|c| y.iter().filter(|&&v| v == c).count())
        .collect::<Vec<_>>());
    about["condition_number"] = json!(cond);
    about["variance_in_top5_directions"] = json!(top5 / total);
    Ok(BenchTable { x, y, about })
}

/// The rows of an embeddings CSV that have a label; returns how many had none.
fn read_table(
    path: &std::path::Path,
    args: &TableArgs,
) -> Result<(renal_learn::Matrix, Vec<usize>, usize)> {
    let rows = crate::engine::encoder_client::read_embeddings(path)?;
    let labels: std::collections::BTreeMap<String, usize> = match &args.labels {
        Some(l) => renal_cohort::tables::read_labels_table(l)
            .with_context(|| format!("reading labels {}", l.display()))?
            .into_iter()
            .map(|(id, l)| (id, l.index()))
            .collect(),
        None => {
            let dir = crate::engine::data::resolve(args.data.as_deref())?;
            crate::engine::data::load(&dir, &Default::default())?
                .cases
                .iter()
                .filter_map(|c| c.label.map(|l| (c.id.clone(), l.index())))
                .collect()
        }
    };
    let width = rows.first().map(|r| r.1.len()).unwrap_or(0);
    let (mut data, mut y, mut unlabelled) = (Vec::new(), Vec::new(), 0);
    for (id, v) in &rows {
        if v.len() != width {
            bail!(
                "{}: case {id} has {} values, the first row {width}",
                path.display(),
                v.len()
            );
        }
        match labels.get(id) {
            Some(&c) => {
                data.extend_from_slice(v);
                y.push(c);
            }
            None => unlabelled += 1,
        }
    }
    if y.len() < 50 {
        bail!(
            "{}: only {} rows have a label (at least 50 are needed for nested 5x5 CV)",
            path.display(),
            y.len()
        );
    }
    let names = (0..width).map(|j| format!("f{j}")).collect();
    Ok((
        renal_learn::Matrix::new(y.len(), width, data, names),
        y,
        unlabelled,
    ))
}

/// A seeded synthetic table: 3 classes; the class shifts the first 10 columns, the rest is noise.
pub(crate) fn synthetic(rows: usize, cols: usize) -> (renal_learn::Matrix, Vec<usize>) {
    let mut rng = renal_stats::Rng::new(448);
    let mut data = Vec::with_capacity(rows * cols);
    let mut y = Vec::with_capacity(rows);
    for i in 0..rows {
        let c = [0usize, 1, 1, 2, 2, 2][i % 6];
        for j in 0..cols {
            let shift = if j < 10 { 0.4 * c as f64 } else { 0.0 };
            data.push(rng.f64() + shift);
        }
        y.push(c);
    }
    let names = (0..cols).map(|j| format!("f{j}")).collect();
    (renal_learn::Matrix::new(rows, cols, data, names), y)
}

/// Runs one of the optional Python comparison scripts (`scripts/NAME`) and parses the JSON it
/// prints; the error is the script's last stderr line (e.g. a missing module).
pub(crate) fn run_script(name: &str, args: &[&std::ffi::OsStr]) -> Result<serde_json::Value> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name);
    let out = std::process::Command::new("python3")
        .arg(&script)
        .args(args)
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| anyhow::anyhow!("python3: {e}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "{}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
        );
    }
    serde_json::from_slice(&out.stdout).map_err(|e| anyhow::anyhow!("{name} printed no JSON: {e}"))
}

/// The benchmarks' nested CV: 5 outer x 5 inner folds, seed 1, the study's tasks.
pub(crate) fn nested_5x5() -> renal_learn::NestedCv {
    renal_learn::NestedCv {
        outer_folds: 5,
        inner_folds: 5,
        seed: 1,
        tasks: crate::engine::tasks::study_tasks(),
        operating: Vec::new(),
    }
}

/// Runs `grid` under the benchmarks' nested CV and times it; returns (seconds,
/// aggressive-vs-rest AUC of the out-of-fold probabilities).
pub(crate) fn time_nested(
    grid: &[renal_learn::PipelineParams],
    x: &renal_learn::Matrix,
    y: &[usize],
) -> Result<(f64, f64)> {
    let t0 = std::time::Instant::now();
    let r = nested_5x5().run(grid, x, y, 3, None)?;
    let s = t0.elapsed().as_secs_f64();
    let (t, p): (Vec<bool>, Vec<f64>) = r.oof.iter().map(|o| (y[o.row] == 2, o.proba[2])).unzip();
    Ok((s, renal_stats::roc_auc(&t, &p)?))
}

/// Writes `label,features...` rows (no header) for a Python comparison into a fresh temporary
/// folder; returns the folder (to remove) and the file.
pub(crate) fn write_table(
    x: &renal_learn::Matrix,
    y: &[usize],
) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let dir = std::env::temp_dir().join(format!("renal-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("table.csv");
    let mut text = String::new();
    for (i, label) in y.iter().enumerate() {
        let row: Vec<String> = x.row(i).iter().map(|v| format!("{v}")).collect();
        text.push_str(&format!("{label},{}\n", row.join(",")));
    }
    std::fs::write(&path, text)?;
    Ok((dir, path))
}

/// Peak resident memory of this process (VmHWM), in MiB.
pub fn peak_memory_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
