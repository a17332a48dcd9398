//! Submitting a plan's scripts (`sbatch`, with `afterok` dependencies; again, only the
//! unfinished shards) and a work folder's status (its shards, and its jobs' states from
//! `squeue`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Result};

use serde::{Deserialize, Serialize};

use super::plan::{abs, write_plan, SlurmPlan};

/// Job ids of the last submission.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Jobs {
    shards: Vec<String>,
    merge: Option<String>,
    encoder: Option<String>,
    reproduce: Option<String>,
}

impl Jobs {
    /// The job ids recorded in a work folder (none when nothing was submitted, or the file
    /// cannot be read).
    fn read(work: &Path) -> Jobs {
        std::fs::read_to_string(jobs_path(work))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }
}

/// Runs `sbatch --parsable ARGS SCRIPT`; the job id.
fn sbatch(args: &[String], script: &Path) -> Result<String> {
    let o = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .map_err(|e| {
            anyhow::anyhow!("cannot run sbatch ({e}): Slurm's client commands are not on PATH; run this on a cluster's login node, or `slurm plan` and submit the scripts yourself")
        })?;
    if !o.status.success() {
        bail!(
            "sbatch refused {}: {}",
            script.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    Ok(id.split(';').next().unwrap_or("").to_string())
}

/// The shards whose work is not finished (no `done.json`, or a case without its result).
fn unfinished(a: &SlurmPlan) -> Result<Vec<usize>> {
    let work = abs(&a.work);
    let cohort = crate::engine::data::load(&abs(&a.data), &a.cohort)?;
    let assigned = crate::engine::shard::assign(&cohort, a.shards);
    let mut out = Vec::new();
    for s in 0..a.shards {
        let dir = work.join("shards").join(format!("{s}-of-{}", a.shards));
        let complete = dir.join("done.json").is_file()
            && cohort
                .cases
                .iter()
                .zip(&assigned)
                .filter(|(_, x)| **x == s)
                .all(|(c, _)| work.join("cases").join(format!("{}.json", c.id)).is_file());
        if !complete {
            out.push(s);
        }
    }
    Ok(out)
}

fn jobs_path(work: &Path) -> PathBuf {
    abs(work).join("slurm/jobs.json")
}

/// What a submission submitted: the job ids, and the scripts' folder.
#[derive(Debug)]
pub struct Submitted {
    /// The shards submitted, as the array's list (`0,2,5`), and their array job; none when
    /// every shard was finished.
    pub shards: Option<(String, String)>,
    pub merge: String,
    pub encoder: Option<String>,
    pub reproduce: Option<String>,
    /// The scripts and logs.
    pub dir: PathBuf,
}

/// Writes the plan's scripts and submits them: the unfinished shards as an array job, then
/// the merge (and the encoder) after them, `reproduce` after those; a merge or reproduce left
/// waiting on a previous array is cancelled. The job ids go into `WORK/slurm/jobs.json`.
pub fn submit(a: &SlurmPlan) -> Result<Submitted> {
    let plan = write_plan(a)?;
    let old = Jobs::read(&a.work);
    let todo = unfinished(a)?;
    // A merge (or reproduce) still waiting on the previous array would wait forever.
    for id in [&old.merge, &old.reproduce].into_iter().flatten() {
        let _ = Command::new("scancel").arg(id).output();
    }
    let mut jobs = Jobs::default();
    let mut after = Vec::new();
    let mut shards = None;
    if !todo.is_empty() {
        let list = todo
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let array = format!("--array={list}%{}", a.max_parallel.max(1));
        let id = sbatch(&[array], &plan.shards)?;
        tracing::info!(job = %id, shards = %list, "submitted the shards");
        after.push(id.clone());
        jobs.shards.push(id.clone());
        shards = Some((list, id));
    }
    let dep = |ids: &[String]| -> Vec<String> {
        if ids.is_empty() {
            Vec::new()
        } else {
            vec![format!("--dependency=afterok:{}", ids.join(":"))]
        }
    };
    let merge = sbatch(&dep(&after), &plan.merge)?;
    tracing::info!(job = %merge, "submitted the merge");
    jobs.merge = Some(merge.clone());
    let mut before_reproduce = vec![merge.clone()];
    if let Some(e) = &plan.encoder {
        let id = sbatch(&dep(&after), e)?;
        before_reproduce.push(id.clone());
        jobs.encoder = Some(id);
    }
    if let Some(r) = &plan.reproduce {
        jobs.reproduce = Some(sbatch(&dep(&before_reproduce), r)?);
    }
    crate::output::write_json(&jobs_path(&a.work), &jobs)?;
    Ok(Submitted {
        shards,
        merge,
        encoder: jobs.encoder,
        reproduce: jobs.reproduce,
        dir: plan.dir,
    })
}

/// One shard's folder: finished or not, and its failed cases.
#[derive(Debug)]
pub struct ShardState {
    /// `I-of-N`.
    pub name: String,
    pub finished: bool,
    pub failed: usize,
}

/// A work folder's progress and its jobs.
#[derive(Debug)]
pub struct Status {
    pub work: PathBuf,
    pub cases_done: usize,
    pub cases: usize,
    pub shards: Vec<ShardState>,
    /// The recorded job ids (comma-separated; empty when none was submitted).
    pub jobs: String,
    /// `squeue`'s lines for them (`id name state reason`), or `None` when `squeue` cannot
    /// be run.
    pub queue: Option<Vec<String>>,
}

/// The progress of a work folder (cases done, each shard's state) and the states of the jobs
/// recorded by the last submission, from `squeue`.
pub fn status(work: &Path) -> Result<Status> {
    let work = abs(work);
    let cases_done = std::fs::read_dir(work.join("cases"))
        .map(|d| d.count())
        .unwrap_or(0);
    let config = crate::engine::shard::WorkConfig::load(&work)?;
    let mut shard_dirs: Vec<PathBuf> = std::fs::read_dir(work.join("shards"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    shard_dirs.sort();
    let shards = shard_dirs
        .iter()
        .map(|d| ShardState {
            name: d
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string(),
            finished: d.join("done.json").is_file(),
            failed: std::fs::read_to_string(d.join("failures.csv"))
                .map(|t| t.lines().count().saturating_sub(1))
                .unwrap_or(0),
        })
        .collect();
    let jobs = Jobs::read(&work);
    let ids: Vec<&str> = jobs
        .shards
        .iter()
        .chain(&jobs.merge)
        .chain(&jobs.encoder)
        .chain(&jobs.reproduce)
        .map(String::as_str)
        .collect();
    let list = ids.join(",");
    let queue = if ids.is_empty() {
        Some(Vec::new())
    } else {
        squeue(&list)
    };
    Ok(Status {
        work,
        cases_done,
        cases: config.cases,
        shards,
        jobs: list,
        queue,
    })
}

/// `squeue`'s lines (`id name state reason`) for the jobs in `list`; `None` when it cannot
/// be run.
fn squeue(list: &str) -> Option<Vec<String>> {
    match Command::new("squeue")
        .args(["-h", "-j", list, "-o", "%i %j %T %R"])
        .output()
    {
        Ok(o) if o.status.success() => Some(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
        ),
        _ => None,
    }
}
