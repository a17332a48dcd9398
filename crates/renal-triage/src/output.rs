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
        w.write_record(r.iter().map(|c| renal_cohort::io::csv_safe(c).into_owned()))?;
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

/// An output folder written as a whole: the run writes into a staging folder beside it
/// (`.<name>.staging-<pid>`), and [`Staged::commit`] puts it in place with renames, so a
/// reader sees the previous run's folder or the new one, never a mix; a run that dies leaves
/// its staging folder, which the next run removes (with any stale temporary file).
pub struct Staged {
    target: std::path::PathBuf,
    staging: std::path::PathBuf,
    committed: bool,
    /// Left in place when the run fails, for the next run to adopt ([`Staged::resume`]).
    keep: bool,
}

/// Test hook: with `RENAL_TRIAGE_TEST_PAUSE_AT=<point>`, the run says so on stderr when it
/// reaches `point` and waits until its standard input closes (a test kills it there, at a
/// known point, instead of after a guessed sleep).
pub(crate) fn test_pause_at(point: &str) {
    if std::env::var("RENAL_TRIAGE_TEST_PAUSE_AT").as_deref() == Ok(point) {
        eprintln!("test pause at {point}");
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    }
}

/// Whether process `pid` is running (Linux: `/proc/<pid>`).
pub(crate) fn alive(pid: &str) -> bool {
    pid.parse::<u32>().is_ok() && Path::new("/proc").join(pid).exists()
}

/// A target folder's name and the folder it lies in.
fn name_and_parent(target: &Path) -> (String, &Path) {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    (name, parent)
}

/// Copies a folder's regular files and folders (not its hidden files: temporaries of
/// interrupted writes) into `to`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let t = e.file_type()?;
        if t.is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        } else if t.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Removes what dead runs left beside `target` (staging and old folders) and inside it
/// (`.<file>.<pid>.tmp` files of interrupted atomic writes). A run killed between its two
/// renames left the previous folder as `old` and no `target`: that folder is put back.
/// With `keep_staging`, dead runs' staging folders stay (for [`Staged::resume`] to adopt).
fn sweep(target: &Path, keep_staging: bool) {
    let (name, parent) = name_and_parent(target);
    let kinds: &[&str] = if keep_staging {
        &["old"]
    } else {
        &["staging", "old"]
    };
    for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        for &kind in kinds {
            if let Some(pid) = n.strip_prefix(&format!(".{name}.{kind}-")) {
                if kind == "old" && !alive(pid) && !target.exists() {
                    tracing::info!(folder = %n, "putting back the folder an interrupted run moved aside");
                    if std::fs::rename(e.path(), target).is_ok() {
                        continue;
                    }
                }
                if !alive(pid) {
                    tracing::info!(folder = %n, "removing what an interrupted run left");
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    for e in std::fs::read_dir(target).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        let pid = n
            .strip_suffix(".tmp")
            .and_then(|s| s.rsplit_once('.'))
            .map(|(_, p)| p.to_string());
        if n.starts_with('.') && pid.as_deref().is_some_and(|p| !alive(p)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl Staged {
    /// Starts a run whose outputs go to `target`.
    pub fn begin(target: &Path) -> Result<Staged> {
        sweep(target, false);
        let (name, parent) = name_and_parent(target);
        let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging)
            .with_context(|| format!("creating {}", staging.display()))?;
        Ok(Staged {
            target: target.to_path_buf(),
            staging,
            committed: false,
            keep: false,
        })
    }

    /// Starts a run that reuses finished work, writing into a staging folder as [`begin`]
    /// does: a run that was killed or failed left its staging folder, which is adopted with
    /// its finished work; otherwise the previous folder is copied in (a rerun reuses what it
    /// finished). The target stays as it was until [`commit`]; a run that fails keeps its
    /// staging folder for the next one.
    ///
    /// [`begin`]: Staged::begin
    /// [`commit`]: Staged::commit
    pub fn resume(target: &Path) -> Result<Staged> {
        sweep(target, true);
        let (name, parent) = name_and_parent(target);
        let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
        let prefix = format!(".{name}.staging-");
        let left: Option<std::path::PathBuf> = std::fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n.strip_prefix(&prefix).is_some_and(|pid| !alive(pid))
            })
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .map(|e| e.path());
        match left {
            Some(d) => {
                tracing::info!(folder = %d.display(), "resuming the work an interrupted run left");
                std::fs::rename(&d, &staging)
                    .with_context(|| format!("adopting {}", d.display()))?;
            }
            None if target.is_dir() => copy_tree(target, &staging)
                .with_context(|| format!("copying {} to resume from it", target.display()))?,
            None => std::fs::create_dir_all(&staging)
                .with_context(|| format!("creating {}", staging.display()))?,
        }
        sweep(target, false);
        Ok(Staged {
            target: target.to_path_buf(),
            staging,
            committed: false,
            keep: true,
        })
    }

    /// Where the run writes.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Puts the run's folder in place of the previous one.
    pub fn commit(mut self) -> Result<()> {
        let old = self.staging.with_file_name(
            self.staging
                .file_name()
                .map(|n| n.to_string_lossy().replace(".staging-", ".old-"))
                .unwrap_or_default(),
        );
        let had = self.target.exists();
        if had {
            std::fs::rename(&self.target, &old)
                .with_context(|| format!("moving the previous {} aside", self.target.display()))?;
        }
        std::fs::rename(&self.staging, &self.target)
            .with_context(|| format!("putting {} in place", self.target.display()))?;
        if had {
            let _ = std::fs::remove_dir_all(&old);
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed && !self.keep {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}
