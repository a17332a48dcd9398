//! `renal-triage bench ct`: the CT path on a phantom around a real mask, and the decoding of a
//! 512 x 512 series in each compressed DICOM transfer syntax against the uncompressed read and
//! against pydicom and dcmtk on the same files, measured in the same run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;

use super::support::peak_memory_mib;
use super::support::run_script;

pub fn ct(data: Option<PathBuf>, case: &str, decode: bool) -> Result<ExitCode> {
    use renal_imaging::dicom::{read_series, write_series, SeriesInfo};
    use renal_imaging::phantom::{phantom, PhantomConfig};
    use renal_imaging::preprocess::{case_image, Preprocess};
    let data = crate::engine::data::resolve(data.as_deref())?;
    let cohort = crate::engine::data::load(&data, &Default::default())?;
    let c = cohort
        .cases
        .iter()
        .find(|c| c.id == case)
        .with_context(|| format!("case {case} not in {}", data.display()))?;
    let mask_path = c.images.mask.as_ref().context("case without a mask")?;
    let mask = renal_imaging::read_labels(mask_path)?;
    let dir = std::env::temp_dir().join(format!("renal-bench-ct-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let t = Instant::now();
    let phases = phantom(&mask, case, &PhantomConfig::default());
    let t_phantom = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut paths = Vec::new();
    for (p, v) in &phases {
        let stored: Vec<i16> = v
            .data
            .iter()
            .map(|h| h.round().clamp(-1024.0, 3071.0) as i16)
            .collect();
        let path = dir.join(format!("{}.nii.gz", p.name()));
        renal_imaging::write_nifti(
            &path,
            &v.geometry,
            &stored,
            renal_imaging::WriteOptions::default(),
        )?;
        paths.push(path);
    }
    let t_nifti_write = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let vols = paths
        .iter()
        .map(|p| renal_imaging::read_scalar(p))
        .collect::<Result<Vec<_>, _>>()?;
    let t_nifti_read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let input: Vec<(String, Option<renal_imaging::Volume<f32>>)> = phases
        .iter()
        .zip(vols)
        .map(|((p, _), v)| (p.name().to_string(), Some(v)))
        .collect();
    let img = case_image(input, &mask, &Preprocess::default(), case)?;
    let t_pre = t.elapsed().as_secs_f64();
    let info = SeriesInfo {
        patient_id: case.into(),
        study_uid: "1.2.826.0.1.3680043.10.9".into(),
        series_uid: "1.2.826.0.1.3680043.10.9.1".into(),
        rescale_intercept: -1024.0,
        rescale_slope: 1.0,
        implicit: false,
    };
    let t = Instant::now();
    write_series(&dir.join("dicom"), &phases[1].1, &info)?;
    let t_dicom_write = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let back = read_series(&dir.join("dicom"))?;
    let t_dicom_read = t.elapsed().as_secs_f64();
    let codecs = if decode {
        decode_syntaxes(&phases[1].1, &mask, &info, &dir.join("decode"))?
    } else {
        json!("not run (--decode false)")
    };
    let _ = std::fs::remove_dir_all(&dir);
    let mut report = json!({
        "bench": "ct_path_on_phantom",
        "case": case,
        "dims": mask.geometry.dims,
        "phases": phases.len(),
        "slice": img.position.slice,
        "phantom_s": t_phantom,
        "nifti_write_4_phases_s": t_nifti_write,
        "nifti_read_4_phases_s": t_nifti_read,
        "preprocess_4_phases_s": t_pre,
        "dicom_write_1_phase_s": t_dicom_write,
        "dicom_read_1_phase_s": t_dicom_read,
        "dicom_slices": back.geometry.dims[2],
        "peak_memory_mib": peak_memory_mib(),
    });
    report["decode_512x512"] = codecs;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// `n` slices of `v` from `k0` (the affine's origin moved to slice `k0`).
fn slab(v: &renal_imaging::Volume<f32>, k0: usize, n: usize) -> Result<renal_imaging::Volume<f32>> {
    let [nx, ny, nz] = v.geometry.dims;
    let n = n.min(nz - k0);
    let mut g = v.geometry.clone();
    let o = g.world([0.0, 0.0, k0 as f64]);
    for (r, x) in o.iter().enumerate() {
        g.affine[r][3] = *x;
    }
    g.dims = [nx, ny, n];
    let data = v.data[k0 * nx * ny..(k0 + n) * nx * ny].to_vec();
    Ok(renal_imaging::Volume::new(g, data)?)
}

/// Best of three wall times of `f`.
fn best_of_3(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// The decode comparison: 32 slices through the tumor written uncompressed, re-encoded by the
/// reference script, then each folder read by `read_series` (best of 3) beside the script's
/// pydicom and dcmtk times on the same files.
fn decode_syntaxes(
    venous: &renal_imaging::Volume<f32>,
    mask: &renal_imaging::LabelVolume,
    info: &renal_imaging::dicom::SeriesInfo,
    dir: &Path,
) -> Result<serde_json::Value> {
    let ks: Vec<usize> = (0..mask.geometry.dims[2])
        .filter(|&k| {
            let n = mask.geometry.dims[0] * mask.geometry.dims[1];
            mask.data[k * n..(k + 1) * n].contains(&2)
        })
        .collect();
    let mid = ks.get(ks.len() / 2).copied().unwrap_or(0);
    let k0 = mid
        .saturating_sub(16)
        .min(venous.geometry.dims[2].saturating_sub(32));
    let v = slab(venous, k0, 32)?;
    renal_imaging::dicom::write_series(&dir.join("uncompressed"), &v, info)?;
    let reference = match run_script("bench_dicom_decode.py", &[dir.as_os_str()]) {
        Ok(r) => r,
        Err(why) => return Ok(json!(format!("not run: {why}"))),
    };
    let plain = renal_imaging::dicom::read_series(&dir.join("uncompressed"))?;
    let mut out = serde_json::Map::new();
    let uncompressed_s = best_of_3(|| {
        renal_imaging::dicom::read_series(&dir.join("uncompressed"))?;
        Ok(())
    })?;
    for (name, r) in reference
        .as_object()
        .context("the script's JSON is not an object")?
    {
        let folder = dir.join(name);
        let v = renal_imaging::dicom::read_series(&folder)?;
        let max_err = v
            .data
            .iter()
            .zip(&plain.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let ours = best_of_3(|| {
            renal_imaging::dicom::read_series(&folder)?;
            Ok(())
        })?;
        let pyd = r["pydicom_s"].as_f64().unwrap_or(f64::NAN);
        let mut row = json!({
            "files": r["files"],
            "bytes": r["bytes"],
            "ours_s": ours,
            "ours_vs_uncompressed_read": ours / uncompressed_s,
            "pydicom_s": pyd,
            "pydicom_over_ours": pyd / ours,
            "max_abs_error_hu": max_err,
        });
        if let Some(d) = r["dcmtk_cli_s"].as_f64() {
            row["dcmtk_cli_s"] = json!(d);
            row["dcmtk_cli_over_ours"] = json!(d / ours);
        }
        out.insert(name.clone(), row);
    }
    Ok(json!({
        "series": format!("512 x 512 x {} (slices {k0}.., through the tumor)", v.geometry.dims[2]),
        "threads": rayon::current_num_threads(),
        "uncompressed_read_s": uncompressed_s,
        "syntaxes": out,
    }))
}
