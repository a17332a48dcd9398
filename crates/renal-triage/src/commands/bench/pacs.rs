//! `renal-triage bench pacs`: studies per minute pulled from a DICOMweb archive (QIDO-RS for
//! the instance lists, WADO-RS, every file written, verified and committed as `pacs pull`
//! does) against the archive's own download of the same instances (Orthanc's REST
//! `/instances/{id}/file`), over the same number of connections, in the same run. The studies
//! are phantom CT series written by this tool and stored into the archive first (STOW-RS; not
//! timed; skipped when already there).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;
use renal_dicomweb::Client;
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct PacsBenchArgs {
    #[command(flatten)]
    pub archive: crate::commands::pacs::ArchiveArgs,
    /// Studies (each one CT series).
    #[arg(long, default_value_t = 10)]
    pub studies: usize,
    /// Slices per series (512 x 512, 16-bit, uncompressed: 0.5 MB each).
    #[arg(long, default_value_t = 100)]
    pub slices: usize,
    /// Connections used by both sides.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Timed rounds (each side's best is kept).
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
}

const ROOT: &str = "1.2.826.0.1.3680043.10.9.77";

fn study_uid(k: usize, slices: usize) -> String {
    format!("{ROOT}.{slices}.{}", k + 1)
}

/// Stores the phantom studies that the archive lacks.
fn store_studies(client: &Client, a: &PacsBenchArgs) -> Result<()> {
    let dims = [512, 512, a.slices];
    let n = dims.iter().product::<usize>();
    let data: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 2000) as f32 - 1000.0)
        .collect();
    let vol = renal_imaging::Volume::new(
        renal_imaging::volume::Geometry::with_spacing(dims, [0.7, 0.7, 1.0]),
        data,
    )?;
    let tmp = tempfile::tempdir()?;
    for k in 0..a.studies {
        let study = study_uid(k, a.slices);
        if !client
            .search("studies", &[("StudyInstanceUID", &study)])?
            .is_empty()
        {
            continue;
        }
        let info = renal_imaging::dicom::SeriesInfo {
            patient_id: format!("BENCH-{k}"),
            study_uid: study.clone(),
            series_uid: format!("{study}.1"),
            rescale_intercept: -1024.0,
            rescale_slope: 1.0,
            implicit: false,
        };
        let dir = tmp.path().join(k.to_string());
        let files = renal_imaging::dicom::write_series(&dir, &vol, &info)?;
        for chunk in files.chunks(50) {
            let objects = chunk
                .iter()
                .map(std::fs::read)
                .collect::<std::io::Result<Vec<_>>>()?;
            client.store(&study, &objects)?;
        }
    }
    Ok(())
}

/// Orthanc's identifiers of every instance of the studies.
fn orthanc_instances(client: &Client, studies: &[String]) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for s in studies {
        let found: serde_json::Value = serde_json::from_slice(&client.origin_request(
            "POST",
            "tools/lookup",
            Some(("text/plain", s.as_bytes())),
        )?)?;
        let id = found
            .as_array()
            .and_then(|a| a.iter().find(|x| x["Type"] == "Study"))
            .and_then(|x| x["ID"].as_str())
            .with_context(|| format!("study {s} is not in the archive (is it Orthanc?)"))?
            .to_string();
        let inst: serde_json::Value = serde_json::from_slice(&client.origin_request(
            "GET",
            &format!("studies/{id}/instances"),
            None,
        )?)?;
        for i in inst.as_array().into_iter().flatten() {
            ids.push(i["ID"].as_str().unwrap_or_default().to_string());
        }
    }
    Ok(ids)
}

pub fn run(a: PacsBenchArgs) -> Result<ExitCode> {
    let client = a.archive.client(a.connections)?;
    store_studies(&client, &a)?;
    let studies: Vec<String> = (0..a.studies).map(|k| study_uid(k, a.slices)).collect();
    let ids = orthanc_instances(&client, &studies)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.connections.max(1))
        .build()?;
    let mut archive_s = f64::INFINITY;
    let mut tool_s = f64::INFINITY;
    let mut bytes = 0usize;
    for _ in 0..a.rounds.max(1) {
        // The baseline writes each instance to a file too, as any download does.
        let base = tempfile::tempdir()?;
        let t = Instant::now();
        let got: Vec<usize> = pool.install(|| {
            ids.par_iter()
                .map(|id| {
                    let b = client.origin_request("GET", &format!("instances/{id}/file"), None)?;
                    std::fs::write(base.path().join(format!("{id}.dcm")), &b)?;
                    Ok(b.len())
                })
                .collect::<Result<Vec<_>>>()
        })?;
        archive_s = archive_s.min(t.elapsed().as_secs_f64());
        bytes = got.iter().sum();
        let tmp = tempfile::tempdir()?;
        let t = Instant::now();
        pool.install(|| {
            studies.par_iter().enumerate().try_for_each(|(k, s)| {
                let series = crate::engine::pacs::study_series(&client, s)?;
                for (j, se) in series.iter().enumerate() {
                    let dir = tmp.path().join(format!("{k}/{j}"));
                    crate::engine::pacs::fetch_series(&client, s, &se.uid, &dir)?;
                }
                Ok::<_, crate::engine::pacs::PacsError>(())
            })
        })?;
        tool_s = tool_s.min(t.elapsed().as_secs_f64());
    }
    let per_min = |s: f64| a.studies as f64 * 60.0 / s;
    let report = json!({
        "benchmark": "pacs pull vs the archive's own instance download (Orthanc REST /instances/{id}/file), same connections, best of rounds",
        "archive": "Orthanc on loopback (scripts/bench_pacs.sh)",
        "studies": a.studies,
        "instances": ids.len(),
        "bytes": bytes,
        "connections": a.connections,
        "rounds": a.rounds,
        "archive_download_s": archive_s,
        "pull_s": tool_s,
        "archive_studies_per_min": per_min(archive_s),
        "pull_studies_per_min": per_min(tool_s),
        "pull_time_over_archive_time": tool_s / archive_s,
        "goal": "pull within 1.5x of the archive's own download time",
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
