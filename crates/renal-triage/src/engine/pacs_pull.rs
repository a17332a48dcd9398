//! A cohort pulled from the archive: a CSV of studies (one row per case: `case_id`,
//! `study_uid`, optional `series_<phase>` and `mask_series`, any clinical and histology
//! columns) becomes the local manifest layout that `cohort`, `reproduce` and `validate` read:
//! `<out>/<case_id>/{ct_<phase>,mask,reference_ct}/` and `<out>/manifest.csv`. Studies are
//! fetched in parallel over a bounded number of connections; a series folder that exists is
//! complete (verified against the archive), so a rerun fetches only what is missing. A study
//! that cannot be made local is excluded and listed with its reason; an archive that stops
//! answering stops the pull (nothing else would succeed), with the manifest left unwritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use renal_dicomweb::Client;

use crate::engine::pacs::{fetch_study, plan_study, study_series, PacsError, PhaseChoice};

/// Why a pull could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{}: {detail}", path.display())]
    Manifest { path: PathBuf, detail: String },
    #[error("the archive stopped answering: {first}; {complete} of {total} studies are complete on disk; run the same command again to fetch the rest")]
    ArchiveDown {
        first: PacsError,
        complete: usize,
        total: usize,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One row of the studies CSV.
#[derive(Debug, Clone)]
pub struct StudyRow {
    pub case_id: String,
    pub study: String,
    pub choice: PhaseChoice,
    /// Every cell of the row, by column, for the columns copied to the local manifest.
    pub cells: Vec<String>,
}

/// The studies CSV read.
#[derive(Debug, Clone)]
pub struct Studies {
    /// The columns copied to the local manifest.
    pub columns: Vec<String>,
    pub rows: Vec<StudyRow>,
    /// Every phase a row or the command asks for.
    pub phases: Vec<String>,
}

/// The phases of a pull: the command's, then those a `series_<phase>` column adds; each a
/// plain name, since it names a folder (`ct_<phase>`) and a column.
fn phases_of(path: &Path, header: &[String], phases: &[String]) -> Result<Vec<String>, PullError> {
    let mut all: Vec<String> = phases.to_vec();
    for p in header.iter().filter_map(|h| h.strip_prefix("series_")) {
        if !all.iter().any(|x| x == p) {
            all.push(p.to_string());
        }
    }
    let plain = |p: &String| {
        !p.is_empty()
            && p.len() <= 64
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    match all.iter().find(|p| !plain(p)) {
        Some(p) => Err(PullError::Manifest {
            path: path.to_path_buf(),
            detail: format!(
                "phase `{}` is not a plain name (letters, digits, `_` and `-`)",
                p.escape_debug()
            ),
        }),
        None => Ok(all),
    }
}

/// Reads the studies CSV; `rules` and `phases` are the command's (a row's `series_<phase>`
/// adds its phase).
pub fn read_studies(
    path: &Path,
    phases: &[String],
    rules: &BTreeMap<String, Vec<String>>,
) -> Result<Studies, PullError> {
    let bad = |detail: String| PullError::Manifest {
        path: path.to_path_buf(),
        detail,
    };
    let mut rdr = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    for need in ["case_id", "study_uid"] {
        if !header.iter().any(|h| h == need) {
            return Err(bad(format!(
                "no `{need}` column (columns: {})",
                header.join(", ")
            )));
        }
    }
    if let Some(h) = header.iter().find(|h| *h == "mask" || h.starts_with("ct_")) {
        return Err(bad(format!(
            "column `{h}`: the pull writes the image columns itself (give series with `series_<phase>` and `mask_series`)"
        )));
    }
    let copied: Vec<usize> = (0..header.len())
        .filter(|&i| !header[i].starts_with("series_") && header[i] != "mask_series")
        .collect();
    let all_phases = phases_of(path, &header, phases)?;
    let mut rows = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (n, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let cell = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .and_then(|i| rec.get(i))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let case_id = cell("case_id");
        renal_cohort::cohort::check_case_id(&case_id)
            .map_err(|e| bad(format!("row {}: {e}", n + 2)))?;
        if !seen.insert(case_id.clone()) {
            return Err(bad(format!("case id `{case_id}` appears twice")));
        }
        let study = cell("study_uid");
        if !renal_dicomweb::client::is_uid(&study) {
            return Err(bad(format!(
                "row of case {case_id}: study_uid `{}` is not a DICOM UID (digits and dots)",
                study.escape_debug()
            )));
        }
        let mut choice = PhaseChoice {
            rules: rules.clone(),
            ..PhaseChoice::default()
        };
        for p in &all_phases {
            let v = cell(&format!("series_{p}"));
            if !v.is_empty() {
                choice.series.insert(p.clone(), v);
            }
        }
        let m = cell("mask_series");
        choice.mask_series = (!m.is_empty()).then_some(m);
        let cells = copied
            .iter()
            .map(|&i| rec.get(i).unwrap_or_default().to_string())
            .collect();
        rows.push(StudyRow {
            case_id,
            study,
            choice,
            cells,
        });
    }
    Ok(Studies {
        columns: copied.iter().map(|&i| header[i].clone()).collect(),
        rows,
        phases: all_phases,
    })
}

/// What a pull did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PullSummary {
    pub studies: usize,
    pub complete: usize,
    pub series_retrieved: usize,
    pub series_skipped: usize,
    /// Cases left out, with the reason.
    pub excluded: Vec<(String, String)>,
    pub manifest: PathBuf,
}

/// Pulls every study of `studies` into `out` over `connections` connections.
pub fn pull(
    client: &Client,
    studies: &Studies,
    out: &Path,
    connections: usize,
) -> anyhow::Result<PullSummary> {
    std::fs::create_dir_all(out).map_err(|source| PullError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(connections.max(1))
        .build()
        .map_err(|e| PullError::Io {
            path: out.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let down = AtomicBool::new(false);
    let bar = crate::progress::progress(studies.rows.len(), "studies");
    let results: Vec<Option<Result<_, PacsError>>> = pool.install(|| {
        studies
            .rows
            .par_iter()
            .map(|row| {
                if down.load(Ordering::SeqCst) {
                    return None;
                }
                let r = study_series(client, &row.study)
                    .and_then(|s| plan_study(&row.study, s, &studies.phases, &row.choice))
                    .and_then(|plan| fetch_study(client, &plan, &out.join(&row.case_id)));
                if let Err(e) = &r {
                    if e.archive_down() {
                        down.store(true, Ordering::SeqCst);
                    }
                    tracing::warn!("case {}: not pulled", row.case_id);
                }
                bar.inc(1);
                Some(r)
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut summary = PullSummary {
        studies: studies.rows.len(),
        manifest: out.join("manifest.csv"),
        ..PullSummary::default()
    };
    let mut first_down = None;
    let mut lines = Vec::new();
    for (row, r) in studies.rows.iter().zip(results) {
        match r {
            Some(Ok(local)) => {
                summary.complete += 1;
                summary.series_retrieved += local.retrieved;
                summary.series_skipped += local.skipped;
                lines.push(manifest_row(row, &local, &studies.phases, out));
            }
            Some(Err(e)) if e.archive_down() => {
                first_down.get_or_insert(e);
            }
            Some(Err(e)) => summary.excluded.push((row.case_id.clone(), e.to_string())),
            None => {}
        }
    }
    if let Some(first) = first_down {
        return Err(PullError::ArchiveDown {
            first,
            complete: summary.complete,
            total: summary.studies,
        }
        .into());
    }
    write_outputs(studies, &lines, &summary, out)?;
    Ok(summary)
}

fn manifest_row(
    row: &StudyRow,
    local: &crate::engine::pacs::LocalStudy,
    phases: &[String],
    out: &Path,
) -> Vec<String> {
    let rel = |p: &Path| {
        p.strip_prefix(out)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut cells = row.cells.clone();
    cells.push(rel(&local.mask));
    for p in phases {
        cells.push(local.phases.get(p).map(|d| rel(d)).unwrap_or_default());
    }
    cells
}

fn write_outputs(
    studies: &Studies,
    lines: &[Vec<String>],
    summary: &PullSummary,
    out: &Path,
) -> anyhow::Result<()> {
    use anyhow::Context;
    // The manifest's cells go through as the studies CSV had them (`cohort` reads them back).
    let mut header: Vec<String> = studies.columns.clone();
    header.push("mask".into());
    header.extend(studies.phases.iter().map(|p| format!("ct_{p}")));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header)?;
    for l in lines {
        w.write_record(l)?;
    }
    let bytes = w.into_inner().context("encoding the manifest")?;
    renal_cohort::io::write_atomic(&summary.manifest, &bytes)
        .with_context(|| format!("writing {}", summary.manifest.display()))?;
    let excluded: Vec<Vec<String>> = summary
        .excluded
        .iter()
        .map(|(case, why)| vec![case.clone(), why.clone()])
        .collect();
    crate::output::write_csv(&out.join("excluded.csv"), &["case_id", "reason"], &excluded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_studies_csv_is_checked_before_anything_is_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.csv");
        let read = |text: &str, phases: &[&str]| {
            std::fs::write(&f, text).unwrap();
            let phases: Vec<String> = phases.iter().map(|p| p.to_string()).collect();
            read_studies(&f, &phases, &BTreeMap::new()).map_err(|e| e.to_string())
        };
        let ok = read(
            "case_id,study_uid,series_arterial,mask_series,age\nc1,1.2.3,1.2.3.4,,61\n",
            &["venous"],
        )
        .unwrap();
        assert_eq!(ok.columns, vec!["case_id", "study_uid", "age"]);
        assert_eq!(ok.phases, vec!["venous", "arterial"]);
        assert_eq!(ok.rows[0].choice.series["arterial"], "1.2.3.4");
        assert_eq!(ok.rows[0].choice.mask_series, None);
        for (text, phases, want) in [
            (
                "case_id,study_uid\nc1,1.2.3\nc1,1.2.4\n",
                vec![],
                "appears twice",
            ),
            ("case_id,study_uid\n../x,1.2.3\n", vec![], "row 2"),
            (
                "case_id,study_uid\nc1,1.2/../3\n",
                vec![],
                "not a DICOM UID",
            ),
            ("case_id\nc1\n", vec![], "no `study_uid` column"),
            (
                "case_id,study_uid,mask\nc1,1.2.3,m.dcm\n",
                vec![],
                "writes the image columns",
            ),
            (
                "case_id,study_uid,series_../../x\nc1,1.2.3,1.2\n",
                vec![],
                "not a plain name",
            ),
            (
                "case_id,study_uid\nc1,1.2.3\n",
                vec!["a/b"],
                "not a plain name",
            ),
        ] {
            let e = read(text, &phases).unwrap_err();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
    }
}
