//! `renal-triage bench shard`: what sharding costs. One shard process doing every case (one
//! thread) against the single-process measurement of the same cases (one thread), measured in
//! the same run; the merge of the real work folder; and the merge of a synthetic work folder of
//! N cases (the real cases' results copied under new ids, a manifest of N rows), which is what
//! a 50,000-patient archive's merge reads and writes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;

use crate::engine::cohort_outputs::{write_cohort_outputs_with, CohortSummary};
use crate::engine::shard::{gather, run_shard, Shard, WorkConfig};

fn one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T> {
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()?
        .install(f))
}

pub fn shard(data: Option<PathBuf>, synthetic: usize) -> Result<ExitCode> {
    let data = crate::engine::data::resolve(data.as_deref())?;
    let data = std::fs::canonicalize(&data).unwrap_or(data);
    let cohort = crate::engine::data::load(&data, &Default::default())?;
    let n = cohort.cases.len();
    let tmp = std::env::temp_dir().join(format!("renal-bench-shard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    // The single process: every mask measured and the annotators rated, one thread; run
    // twice, the first to bring every file into the page cache as the shard will find it.
    let single = || -> Result<f64> {
        let t = Instant::now();
        one_thread(|| {
            let mut c = cohort.clone();
            crate::engine::measure::measure_cohort(&mut c, renal_imaging::LabelScheme::default());
            crate::engine::measure::annotator_shapes(&c);
        })?;
        Ok(t.elapsed().as_secs_f64())
    };
    let cold_s = single()?;
    let single_s = single()?;
    // One shard doing every case (hashing inputs, writing one file per case), one thread.
    let config = WorkConfig {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        data: data.display().to_string(),
        blank_modifier: renal_cohort::BlankModifier::default(),
        label_map: None,
        cases: n,
        encoder: None,
        images: None,
    };
    let work = tmp.join("work");
    let t = Instant::now();
    one_thread(|| {
        run_shard(
            &cohort,
            &config,
            Shard { index: 0, count: 1 },
            &work,
            Default::default(),
        )
    })??;
    let shard_s = t.elapsed().as_secs_f64();
    let merge = |cohort: &renal_cohort::Cohort,
                 config: &WorkConfig,
                 work: &std::path::Path,
                 out: &std::path::Path|
     -> Result<f64> {
        let t = Instant::now();
        let mut c = cohort.clone();
        let g = gather(&mut c, config, work, false)?;
        let summary = CohortSummary::of(&c);
        write_cohort_outputs_with(&c, &summary, &g.meas, g.k, &g.rated, out)?;
        Ok(t.elapsed().as_secs_f64())
    };
    let merge_s = merge(&cohort, &config, &work, &tmp.join("out"))?;
    // A synthetic archive: N cases, the real results copied under new ids.
    let syn = tmp.join("synthetic");
    let (syn_cohort, syn_config, syn_bytes) =
        synthetic_work(&cohort, &config, &work, &syn, synthetic)?;
    let syn_merge_s = merge(
        &syn_cohort,
        &syn_config,
        &syn.join("work"),
        &syn.join("out"),
    )?;
    let _ = std::fs::remove_dir_all(&tmp);
    let report = json!({
        "bench": "shard",
        "cases": n,
        "single_process_1_thread_cold_s": cold_s,
        "single_process_1_thread_s": single_s,
        "one_shard_all_cases_1_thread_s": shard_s,
        "shard_over_single": shard_s / single_s,
        "per_case_single_ms": 1e3 * single_s / n as f64,
        "per_case_shard_ms": 1e3 * shard_s / n as f64,
        "merge_s": merge_s,
        "synthetic_cases": synthetic,
        "synthetic_work_bytes": syn_bytes,
        "synthetic_merge_s": syn_merge_s,
        "peak_memory_mib": super::support::peak_memory_mib(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// A work folder of `synthetic` cases: the real cases' results copied under new ids, with a
/// manifest of as many rows (one mask file); its cohort, configuration and bytes.
fn synthetic_work(
    cohort: &renal_cohort::Cohort,
    config: &WorkConfig,
    work: &std::path::Path,
    syn: &std::path::Path,
    synthetic: usize,
) -> Result<(renal_cohort::Cohort, WorkConfig, u64)> {
    let mask = cohort
        .cases
        .iter()
        .find_map(|c| c.images.mask.clone())
        .context("a cohort with masks")?;
    std::fs::create_dir_all(syn.join("work/cases"))?;
    std::fs::copy(&mask, syn.join("mask.nii.gz"))?;
    let results: Vec<crate::engine::shard::CaseResult> = cohort
        .cases
        .iter()
        .filter_map(|c| {
            std::fs::read_to_string(work.join("cases").join(format!("{}.json", c.id))).ok()
        })
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    let mut manifest = String::from("case_id,label,age,mask\n");
    for i in 0..synthetic {
        let id = format!("p{i:06}");
        let mut r = results[i % results.len()].clone();
        r.case_id = id.clone();
        r.annotators.clear();
        std::fs::write(
            syn.join("work/cases").join(format!("{id}.json")),
            serde_json::to_vec(&r)?,
        )?;
        manifest.push_str(&format!(
            "{id},{},{},mask.nii.gz\n",
            ["benign", "indolent", "aggressive"][i % 3],
            40 + i % 40
        ));
    }
    std::fs::write(syn.join("manifest.csv"), manifest)?;
    let syn_data = syn.join("manifest.csv");
    let syn_cohort = crate::engine::data::load(&syn_data, &Default::default())?;
    let syn_config = WorkConfig {
        data: syn_data.display().to_string(),
        cases: synthetic,
        ..config.clone()
    };
    syn_config.claim(&syn.join("work"))?;
    let syn_bytes: u64 = std::fs::read_dir(syn.join("work/cases"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok((syn_cohort, syn_config, syn_bytes))
}
