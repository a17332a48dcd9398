//! Writing tables atomically.

use std::path::Path;

use anyhow::{Context, Result};

/// Formats an optional number for CSV (empty when missing); full precision (`{}` round-trips).
pub fn cell(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x}"),
        _ => String::new(),
    }
}

/// Writes a CSV (header + rows) atomically.
pub fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(r)?;
    }
    let bytes = w.into_inner().context("encoding CSV")?;
    renal_cohort::io::write_atomic(path, &bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes pretty JSON atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    renal_cohort::io::write_atomic(path, &bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads JSON into a type, naming the file on error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}
