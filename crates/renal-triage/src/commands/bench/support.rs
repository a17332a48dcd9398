//! What the benchmarks share: the synthetic table of the study's shape and running a Python
//! comparison script.

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
pub(crate) fn run_script(
    name: &str,
    args: &[&std::ffi::OsStr],
) -> anyhow::Result<serde_json::Value> {
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
