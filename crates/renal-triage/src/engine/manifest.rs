//! The run record `manifest.json`: inputs with their sha256, the experiment, seed, threads,
//! versions, git commit and per-stage timings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use renal_cohort::Cohort;
use serde_json::json;

use crate::engine::reproduce::{Outcome, Request};
use crate::output::write_json;

/// The commit the binary was built from (`build.rs`).
fn git_commit() -> String {
    env!("RENAL_TRIAGE_GIT_COMMIT").to_string()
}

/// sha256 of every input file (the clinical records, the masks, the tables given).
fn input_hashes(args: &Request, data: &Path, cohort: &Cohort) -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = Vec::new();
    if data.is_dir() {
        for f in ["kits23.json", "manifest.csv"] {
            if data.join(f).is_file() {
                files.push(data.join(f));
            }
        }
    } else {
        files.push(data.to_path_buf());
    }
    files.extend(cohort.cases.iter().filter_map(|c| c.images.mask.clone()));
    files.extend(
        [&args.embeddings, &args.labels, &args.experiment]
            .into_iter()
            .flatten()
            .cloned(),
    );
    if let Some(s) = &args.splits {
        if s.is_file() {
            files.push(s.clone());
        }
    }
    use rayon::prelude::*;
    files
        .par_iter()
        .map(|f| {
            (
                f.display().to_string(),
                renal_cohort::io::sha256_file(f).unwrap_or_else(|e| format!("unreadable: {e}")),
            )
        })
        .collect()
}

/// Writes `manifest.json` for a finished run.
pub fn write_manifest(args: &Request, o: &Outcome, out: &Path) -> Result<()> {
    let data = o.data.as_path();
    let m = json!({
        "tool": "renal-triage",
        "version": env!("CARGO_PKG_VERSION"),
        "git_commit": git_commit(),
        "command": std::env::args().collect::<Vec<_>>(),
        "data": data.display().to_string(),
        "inputs_sha256": input_hashes(args, data, &o.prepared.cohort).into_iter().collect::<BTreeMap<_, _>>(),
        "experiment": o.exp,
        "seed": o.exp.experiment.seed,
        "threads": rayon::current_num_threads(),
        "cases": o.prepared.cohort.cases.len(),
        "excluded": o.prepared.cohort.excluded.len(),
        "blank_modifier": o.blank_modifier,
        "label_map": args.cohort.label_map,
        "values_read_as_missing": o.prepared.cohort.notes().count(),
        "models_run": o.runs.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "models_skipped": o.skipped,
        "timings_s": o.timings,
        "complete": true,
        "outputs_sha256": output_hashes(out),
    });
    write_json(&out.join(MANIFEST), &m)
}

/// The run manifest, written last: a folder without it holds an unfinished (or interrupted)
/// run, whose files may mix two runs; its `outputs_sha256` names every file of the run.
pub const MANIFEST: &str = "manifest.json";

/// Removes a previous run's manifest before a run starts writing into `out`.
pub fn begin_run(out: &Path) {
    let _ = std::fs::remove_file(out.join(MANIFEST));
}

/// sha256 of every file under `out` (relative paths), but the manifest and hidden files.
fn output_hashes(out: &Path) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || (d == out && name == MANIFEST) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(h) = renal_cohort::io::sha256_file(&p) {
                let rel = p.strip_prefix(out).unwrap_or(&p).display().to_string();
                map.insert(rel, h);
            }
        }
    }
    map
}
