//! Downloads KiTS23 (`kits23.json` and the segmentations) from its public repository into the
//! local layout (`kits23.json`, `cases/<id>/segmentation.nii.gz`).
//!
//! Resumable: a file being downloaded lives as `<name>.part` and continues with an HTTP range
//! request; a finished file is renamed into place atomically. Checked: every file's sha256 is
//! recorded in `MANIFEST.sha256` in the destination and verified on later runs, and, when an
//! expected-checksums file (sha256sum format, paths relative to the layout) is given, against it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{CohortError, Result};
use crate::io::{sha256_file, write_atomic};

/// The upstream repository (dataset version 0.1.4), raw file access.
pub const KITS23_BASE_URL: &str =
    "https://raw.githubusercontent.com/neheller/kits23/c1088353084c17b8882a11db71429e7c022b7785";

/// What to fetch and where.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Base URL holding `dataset/kits23.json` and `dataset/case_XXXXX/segmentation.nii.gz`.
    pub base_url: String,
    pub dest: PathBuf,
    /// Only these cases; `None` = every case of the development part (id below 400).
    pub cases: Option<Vec<String>>,
    /// Expected sha256 per relative path (e.g. from a published manifest).
    pub expected: BTreeMap<String, String>,
}

/// Outcome of a fetch.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FetchReport {
    pub downloaded: Vec<String>,
    pub already_present: Vec<String>,
    pub failed: Vec<(String, String)>,
}

/// Reads a sha256sum-format file (`<hex>  <path>`).
pub fn read_sha256_manifest(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|source| CohortError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (h, p) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| CohortError::Csv {
                path: path.to_path_buf(),
                line: i as u64 + 1,
                detail: "expected `<sha256>  <path>`".into(),
            })?;
        out.insert(
            p.trim().trim_start_matches('*').to_string(),
            h.trim().to_ascii_lowercase(),
        );
    }
    Ok(out)
}

fn write_manifest(dest: &Path, recorded: &BTreeMap<String, String>) -> Result<()> {
    let text: String = recorded
        .iter()
        .map(|(p, h)| format!("{h}  {p}\n"))
        .collect();
    let path = dest.join("MANIFEST.sha256");
    write_atomic(&path, text.as_bytes()).map_err(|source| CohortError::Io { path, source })
}

fn http_err(url: &str, e: impl std::fmt::Display) -> CohortError {
    CohortError::Http {
        url: url.to_string(),
        detail: e.to_string(),
    }
}

/// Downloads `url` to `target`, resuming from `target.part`.
fn download(agent: &ureq::Agent, url: &str, target: &Path) -> Result<()> {
    let part = PathBuf::from(format!("{}.part", target.display()));
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|source| CohortError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let mut req = agent.get(url);
    if have > 0 {
        req = req.set("Range", &format!("bytes={have}-"));
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(416, _)) if have > 0 => {
            // The .part is already complete (or longer than the file): start over.
            let _ = std::fs::remove_file(&part);
            return download(agent, url, target);
        }
        Err(e) => return Err(http_err(url, e)),
    };
    let append = resp.status() == 206;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&part)
        .map_err(|source| CohortError::Io {
            path: part.clone(),
            source,
        })?;
    let mut reader = resp.into_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(|e| http_err(url, e))?;
        if n == 0 {
            break;
        }
        f.write_all(&buf[..n]).map_err(|source| CohortError::Io {
            path: part.clone(),
            source,
        })?;
    }
    f.sync_all().map_err(|source| CohortError::Io {
        path: part.clone(),
        source,
    })?;
    Ok(())
}

/// Fetches one file (relative layout path `rel`) unless it is present and verified.
fn fetch_one(
    agent: &ureq::Agent,
    opts: &FetchOptions,
    rel: &str,
    url: &str,
    recorded: &mut BTreeMap<String, String>,
) -> Result<bool> {
    let target = opts.dest.join(rel);
    let expected = opts.expected.get(rel).or(recorded.get(rel)).cloned();
    if target.is_file() {
        let actual = sha256_file(&target).map_err(|source| CohortError::Io {
            path: target.clone(),
            source,
        })?;
        match &expected {
            Some(e) if *e != actual => {
                tracing::warn!(
                    file = rel,
                    "checksum mismatch on an existing file; downloading again"
                );
                std::fs::remove_file(&target).map_err(|source| CohortError::Io {
                    path: target.clone(),
                    source,
                })?;
            }
            _ => {
                recorded.insert(rel.to_string(), actual);
                return Ok(false);
            }
        }
    }
    download(agent, url, &target)?;
    let part = PathBuf::from(format!("{}.part", target.display()));
    let actual = sha256_file(&part).map_err(|source| CohortError::Io {
        path: part.clone(),
        source,
    })?;
    if let Some(e) = opts.expected.get(rel) {
        if *e != actual {
            let _ = std::fs::remove_file(&part);
            return Err(CohortError::Checksum {
                path: target,
                expected: e.clone(),
                actual,
            });
        }
    }
    std::fs::rename(&part, &target).map_err(|source| CohortError::Io {
        path: target.clone(),
        source,
    })?;
    recorded.insert(rel.to_string(), actual);
    Ok(true)
}

/// Fetches KiTS23 into `opts.dest`. `progress(done, total)` is called after each case.
/// A failing case is listed in the report and the others continue; a failure to get
/// `kits23.json` is an error.
pub fn fetch_kits23(
    opts: &FetchOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<FetchReport> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(20))
        .build();
    let base = opts.base_url.trim_end_matches('/');
    std::fs::create_dir_all(&opts.dest).map_err(|source| CohortError::Io {
        path: opts.dest.clone(),
        source,
    })?;
    let manifest = opts.dest.join("MANIFEST.sha256");
    let mut recorded = if manifest.is_file() {
        read_sha256_manifest(&manifest)?
    } else {
        BTreeMap::new()
    };
    let mut report = FetchReport::default();
    let json_url = format!("{base}/dataset/kits23.json");
    if fetch_one(&agent, opts, "kits23.json", &json_url, &mut recorded)? {
        report.downloaded.push("kits23.json".into());
    } else {
        report.already_present.push("kits23.json".into());
    }
    let json_path = opts.dest.join("kits23.json");
    let text = std::fs::read_to_string(&json_path).map_err(|source| CohortError::Io {
        path: json_path.clone(),
        source,
    })?;
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| CohortError::Json {
            path: json_path.clone(),
            detail: e.to_string(),
        })?;
    let ids: Vec<String> = match &opts.cases {
        Some(c) => c.clone(),
        None => records
            .iter()
            .filter_map(|r| r["case_id"].as_str())
            .filter(|id| {
                id.strip_prefix("case_")
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| n < 400)
            })
            .map(str::to_string)
            .collect(),
    };
    let total = ids.len();
    for (i, id) in ids.iter().enumerate() {
        let rel = format!("cases/{id}/segmentation.nii.gz");
        let url = format!("{base}/dataset/{id}/segmentation.nii.gz");
        match fetch_one(&agent, opts, &rel, &url, &mut recorded) {
            Ok(true) => report.downloaded.push(rel),
            Ok(false) => report.already_present.push(rel),
            Err(e) => {
                tracing::warn!(case = %id, error = %e, "fetch failed");
                report.failed.push((id.clone(), e.to_string()));
            }
        }
        progress(i + 1, total);
        if (i + 1) % 25 == 0 {
            write_manifest(&opts.dest, &recorded)?;
        }
    }
    write_manifest(&opts.dest, &recorded)?;
    Ok(report)
}
