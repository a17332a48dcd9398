//! Where the data are: `--data`, then `$RENAL_TRIAGE_DATA`, then the fetch cache, then
//! `../shared/kits23` (next to the checkout).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use renal_cohort::{BlankModifier, Cohort};

/// Resolves the data folder or manifest, saying where it looked when nothing is found.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        if !p.exists() {
            bail!("--data {} does not exist", p.display());
        }
        return Ok(p.to_path_buf());
    }
    let mut tried = Vec::new();
    if let Some(env) = std::env::var_os("RENAL_TRIAGE_DATA") {
        let p = PathBuf::from(env);
        if p.exists() {
            return Ok(p);
        }
        tried.push(format!("$RENAL_TRIAGE_DATA = {}", p.display()));
    }
    let cache = crate::cache_dir().join("kits23");
    if cache.join("kits23.json").is_file() {
        return Ok(cache);
    }
    tried.push(format!("fetch cache {}", cache.display()));
    let shared = std::env::var_os("RENAL_TRIAGE_SHARED")
        .map(|s| PathBuf::from(s).join("kits23"))
        .unwrap_or_else(|| PathBuf::from("../shared/kits23"));
    if shared.join("kits23.json").is_file() {
        return Ok(shared);
    }
    tried.push(shared.display().to_string());
    // Nothing local: fetch KiTS23 into the cache.
    tracing::info!(dest = %cache.display(), "no cohort data found locally; fetching KiTS23");
    let opts = renal_cohort::fetch::FetchOptions {
        // Overridable for mirrors (and tests).
        base_url: std::env::var("RENAL_TRIAGE_KITS23_URL")
            .unwrap_or_else(|_| renal_cohort::fetch::KITS23_BASE_URL.into()),
        dest: cache.clone(),
        cases: None,
        expected: Default::default(),
    };
    match renal_cohort::fetch::fetch_kits23(&opts, |_, _| {}) {
        Ok(r) if r.failed.is_empty() => Ok(cache),
        Ok(r) => bail!(
            "KiTS23 was only partly downloaded into {} ({} files failed, e.g. {}). Run `renal-triage fetch kits23` again to resume, or pass --data DIR",
            cache.display(),
            r.failed.len(),
            r.failed.first().map(|f| f.1.as_str()).unwrap_or("")
        ),
        Err(e) => bail!(
            "no cohort data found (looked at: {}) and downloading KiTS23 failed: {e}. Either run `renal-triage fetch kits23` on a machine with internet access \
             (or copy a KiTS23 folder there), set $RENAL_TRIAGE_DATA, or pass --data DIR (a KiTS23 folder) or --data manifest.csv",
            tried.join("; ")
        ),
    }
}

/// How a cohort is read, decided once at the edge (the command line, a work folder's
/// configuration) and passed whole: what a blank pathology modifier means for the labels, and
/// the label map of the cases whose own record names none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CohortOptions {
    pub blank_modifier: BlankModifier,
    /// A `--label-map`.
    pub label_map: Option<renal_imaging::LabelMap>,
}

/// Loads a cohort from a KiTS23 folder or a manifest CSV and gives `opts.label_map` to every
/// case whose manifest row does not have its own.
pub fn load(path: &Path, opts: &CohortOptions) -> Result<Cohort> {
    let mut cohort = read(path, opts.blank_modifier)?;
    if let Some(m) = &opts.label_map {
        for c in &mut cohort.cases {
            c.images.label_map.get_or_insert_with(|| m.clone());
        }
    }
    Ok(cohort)
}

/// Reads a cohort from a KiTS23 folder or a manifest CSV; `blank` says what a blank pathology
/// modifier means for the label.
fn read(path: &Path, blank: BlankModifier) -> Result<Cohort> {
    if path.is_dir() {
        if path.join("kits23.json").is_file() {
            return renal_cohort::load_kits23_with(path, blank)
                .with_context(|| format!("loading KiTS23 folder {}", path.display()));
        }
        let m = path.join("manifest.csv");
        if m.is_file() {
            return renal_cohort::load_manifest_with(&m, blank)
                .with_context(|| format!("loading manifest {}", m.display()));
        }
        bail!(
            "{} holds neither kits23.json nor manifest.csv",
            path.display()
        );
    }
    renal_cohort::load_manifest_with(path, blank)
        .with_context(|| format!("loading manifest {}", path.display()))
}

/// A cohort from a KiTS23 folder or manifest, or, with `labels`, from a feature table and its
/// labels table (which has no masks: the options do not apply).
pub fn load_with_labels(
    data: &Path,
    labels: Option<&Path>,
    opts: &CohortOptions,
) -> Result<Cohort> {
    match labels {
        Some(l) => {
            renal_cohort::cohort_from_tables(data, l).context("loading feature + label tables")
        }
        None => load(data, opts),
    }
}
