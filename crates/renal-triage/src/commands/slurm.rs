//! `renal-triage slurm plan|submit|status`: a cohort's per-case work as a Slurm array job on
//! the cluster's real scheduler (no scheduler of our own).
//!
//! `plan` writes readable sbatch scripts into `WORK/slurm/`: `shards.sbatch` (one array task
//! per shard: `cohort --shards N --work WORK`, the task number from `$SLURM_ARRAY_TASK_ID`),
//! `merge.sbatch` (`merge WORK --out OUT`, after every array task succeeded), and where asked
//! `encoder.sbatch` (the SimCLR encoder trained on one GPU on the image inputs the array tasks
//! made: `embed --images-from WORK --device cuda`, after the array) and
//! `reproduce.sbatch` (the study's analysis, after the merge and the encoder). `submit` writes
//! them and submits them with `afterok` dependencies, recording the job ids in
//! `WORK/slurm/jobs.json`; run again, it resubmits only the shards whose work is not finished
//! (and a new merge), cancelling the merge left waiting on a failed array. `status` shows the
//! work folder's progress and the recorded jobs' states from `squeue`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

#[derive(Args, Debug)]
pub struct SlurmArgs {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(Subcommand, Debug)]
pub enum Which {
    /// Write the sbatch scripts (nothing is submitted).
    Plan(PlanArgs),
    /// Write the scripts and submit them (again: only the unfinished shards).
    Submit(PlanArgs),
    /// Progress of a work folder and its jobs.
    Status {
        #[arg(long)]
        work: PathBuf,
    },
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// The cohort (KiTS23 folder or manifest), on a file system every node sees.
    #[arg(long)]
    pub data: PathBuf,
    /// The shared work folder.
    #[arg(long)]
    pub work: PathBuf,
    #[arg(long)]
    pub shards: usize,
    /// Where the merge writes the cohort's files (default WORK/cohort).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Partition of the CPU jobs (default: the cluster's default).
    #[arg(long, value_parser = slurm_name)]
    pub partition: Option<String>,
    /// Train the encoder as one GPU job in this partition (and reproduce with its embeddings):
    /// the array tasks make each case's image input (`--image-size` px), the GPU job trains on
    /// them (`embed --images-from WORK`) after every task succeeded.
    #[arg(long, value_parser = slurm_name)]
    pub gpu_partition: Option<String>,
    /// Side of the image inputs the array tasks make for the encoder (the study: 256).
    #[arg(long, default_value_t = 256)]
    pub image_size: usize,
    /// Also run `reproduce` after the merge (into WORK/reproduce).
    #[arg(long)]
    pub reproduce: bool,
    /// The shards also embed every case with this trained encoder, frozen; the merge writes
    /// `embeddings.csv`.
    #[arg(long)]
    pub encoder_dir: Option<PathBuf>,
    /// Time limit of each job (Slurm's format, e.g. 01:00:00).
    #[arg(long, default_value = "02:00:00", value_parser = slurm_time)]
    pub time: String,
    /// At most this many array tasks at once (`%M`).
    #[arg(long, default_value_t = 50)]
    pub max_parallel: usize,
    #[command(flatten)]
    pub labels: super::LabelArgs,
}

/// Job ids of the last submission.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Jobs {
    shards: Vec<String>,
    merge: Option<String>,
    encoder: Option<String>,
    reproduce: Option<String>,
}

fn abs(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// A Slurm name (partition, or a comma-separated list of them): letters, digits, `_.-+,`.
/// Values go verbatim into `#SBATCH` lines, so anything else (a newline above all, which would
/// start a shell line of the script) is refused here, at the edge.
fn slurm_name(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-+,".contains(&b))
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a Slurm partition name (letters, digits and _.-+, only)"
        ))
    }
}

/// A Slurm time limit (`minutes`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`, `UNLIMITED`).
fn slurm_time(s: &str) -> Result<String, String> {
    let digits = |p: &str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, s),
    };
    let ok = matches!(s, "UNLIMITED" | "infinite")
        || (days.is_none_or(digits) && rest.split(':').count() <= 3 && rest.split(':').all(digits));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a Slurm time limit (e.g. 90, 01:30:00, 2-00:00:00, UNLIMITED)"
        ))
    }
}

/// A path that goes into a generated script: no control character (a newline would end the
/// comment, the `#SBATCH` line or the quoted word it stands in and start a shell line), and, for
/// the work folder (whose logs go into `#SBATCH --output`, which sbatch reads unquoted), no
/// white space, quote, backslash or `%` (sbatch's file-name patterns).
fn script_path(option: &str, p: &Path, in_directive: bool) -> Result<()> {
    let text = p.to_str().ok_or_else(|| {
        anyhow::anyhow!(
            "{option} {}: not UTF-8; the sbatch scripts need a UTF-8 path",
            p.display()
        )
    })?;
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        bail!(
            "{option} {text:?}: holds the control character {c:?}, which would become a line of the generated sbatch script; rename the folder"
        );
    }
    if in_directive {
        if let Some(c) = text
            .chars()
            .find(|c| c.is_whitespace() || "'\"\\%".contains(*c))
        {
            bail!(
                "{option} {text:?}: holds {c:?}, which an #SBATCH --output line cannot carry; use a work folder without white space, quotes, backslashes or %"
            );
        }
    }
    Ok(())
}

/// A shell word, single-quoted when it needs to be.
fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

struct Plan {
    dir: PathBuf,
    shards: PathBuf,
    merge: PathBuf,
    encoder: Option<PathBuf>,
    reproduce: Option<PathBuf>,
}

fn header(name: &str, what: &[&str], a: &PlanArgs, log: &Path) -> String {
    let mut s = String::from("#!/usr/bin/env bash\n");
    for w in what {
        s += &format!("# {w}\n");
    }
    s += &format!("#SBATCH --job-name={name}\n#SBATCH --time={}\n", a.time);
    if let Some(p) = &a.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    s += &format!("#SBATCH --output={}\nset -euo pipefail\n", log.display());
    s
}

/// What every script of a plan shares: the binary, the folders, the label arguments.
struct Ctx {
    bin: String,
    data: String,
    work: PathBuf,
    dir: PathBuf,
    labels: String,
}

impl Ctx {
    fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let p = self.dir.join(name);
        renal_cohort::io::write_atomic(&p, text.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
        Ok(p)
    }
}

fn shards_script(a: &PlanArgs, c: &Ctx) -> String {
    let n = a.shards;
    let encoder_arg = a
        .encoder_dir
        .as_deref()
        .map(|d| format!(" --encoder-dir {}", sh(&abs(d).display().to_string())))
        .unwrap_or_default()
        + &a.gpu_partition
            .as_ref()
            .map(|_| format!(" --images --image-size {}", a.image_size))
            .unwrap_or_default();
    let what = format!(
        "renal-triage: the per-case work of {} as {n} array tasks.",
        c.data
    );
    let s = header(
        "rt-shards",
        &[
            &what,
            "Each task measures its share of the cases (masks, annotators) into the work folder",
            "(and, with --images, makes their image inputs for the encoder's training);",
            "a task can die and be rerun: its finished cases are skipped. Resubmit with",
            "`renal-triage slurm submit` (same arguments): only unfinished shards are rerun.",
        ],
        a,
        &c.dir.join("logs/shard-%a.out"),
    );
    let array = format!(
        "#SBATCH --array=0-{}%{}\n#SBATCH --cpus-per-task=1\n#SBATCH --time",
        n - 1,
        a.max_parallel.max(1)
    );
    s.replacen("#SBATCH --time", &array, 1)
        + &format!(
            "exec {} --threads 1 cohort --data {} --work {} --shards {n}{}{encoder_arg}\n",
            c.bin,
            c.data,
            sh(&c.work.display().to_string()),
            c.labels
        )
}

fn merge_script(a: &PlanArgs, c: &Ctx, out: &Path) -> String {
    header(
        "rt-merge",
        &[
            "renal-triage: gathers the shards into the cohort's files (labels, features,",
            "measurements, components, excluded, agreement), as one `cohort` run writes them.",
            "Submitted to run after every array task succeeded (afterok).",
        ],
        a,
        &c.dir.join("logs/merge.out"),
    ) + &format!(
        "exec {} merge {} --out {}\n",
        c.bin,
        sh(&c.work.display().to_string()),
        sh(&out.display().to_string())
    )
}

fn encoder_script(a: &PlanArgs, c: &Ctx, gpu: &str) -> String {
    let e = header(
        "rt-encoder",
        &[
            "renal-triage: trains the SimCLR encoder (no labels) on one GPU on the image inputs",
            "the array tasks made, and writes every case's embedding. Submitted to run after",
            "every array task succeeded (afterok).",
        ],
        &PlanArgs {
            partition: Some(gpu.to_string()),
            ..a.clone()
        },
        &c.dir.join("logs/encoder.out"),
    );
    e.replacen(
        "#SBATCH --time",
        "#SBATCH --gres=gpu:1\n#SBATCH --cpus-per-task=4\n#SBATCH --time",
        1,
    ) + &format!(
        "exec {} embed --images-from {} --out {} --device cuda\n",
        c.bin,
        sh(&c.work.display().to_string()),
        sh(&c.work.join("encoder/embeddings.csv").display().to_string())
    )
}

fn reproduce_script(a: &PlanArgs, c: &Ctx, with_encoder: bool) -> String {
    let emb = if with_encoder {
        format!(
            " --embeddings {}",
            sh(&c.work.join("encoder/embeddings.csv").display().to_string())
        )
    } else {
        " --encoder none".to_string()
    };
    header(
        "rt-reproduce",
        &[
            "renal-triage: the study's analysis (every model under nested CV, tables, report),",
            "after the merge (and the encoder, when one was trained on a GPU).",
        ],
        a,
        &c.dir.join("logs/reproduce.out"),
    ) + &format!(
        "exec {} reproduce --data {}{emb}{} --out {}\n",
        c.bin,
        c.data,
        c.labels,
        sh(&c.work.join("reproduce").display().to_string())
    )
}

/// Writes the scripts of a plan.
fn write_plan(a: &PlanArgs) -> Result<Plan> {
    if a.shards == 0 {
        bail!("--shards must be at least 1");
    }
    let exe = std::env::current_exe().context("locating the renal-triage binary")?;
    let work = abs(&a.work);
    script_path("--data", &abs(&a.data), false)?;
    script_path("--work", &work, true)?;
    script_path("the renal-triage binary's path", &exe, false)?;
    for (option, p) in [("--out", &a.out), ("--encoder-dir", &a.encoder_dir)] {
        if let Some(p) = p {
            script_path(option, &abs(p), false)?;
        }
    }
    if let Some(m) = &a.labels.label_map {
        script_path("--label-map", Path::new(m), false)?;
    }
    let out = a
        .out
        .as_deref()
        .map(abs)
        .unwrap_or_else(|| work.join("cohort"));
    let dir = work.join("slurm");
    std::fs::create_dir_all(dir.join("logs"))?;
    let mut labels = format!(
        " --blank-modifier {}",
        sh(&format!("{:?}", a.labels.blank_modifier).to_ascii_lowercase())
    );
    if let Some(m) = &a.labels.label_map {
        labels += &format!(" --label-map {}", sh(m));
    }
    let c = Ctx {
        bin: sh(&exe.display().to_string()),
        data: sh(&abs(&a.data).display().to_string()),
        work,
        dir,
        labels,
    };
    let shards = c.write("shards.sbatch", &shards_script(a, &c))?;
    let merge = c.write("merge.sbatch", &merge_script(a, &c, &out))?;
    let encoder = match &a.gpu_partition {
        Some(g) => Some(c.write("encoder.sbatch", &encoder_script(a, &c, g))?),
        None => None,
    };
    let reproduce = match a.reproduce {
        true => Some(c.write(
            "reproduce.sbatch",
            &reproduce_script(a, &c, encoder.is_some()),
        )?),
        false => None,
    };
    Ok(Plan {
        dir: c.dir,
        shards,
        merge,
        encoder,
        reproduce,
    })
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
fn unfinished(a: &PlanArgs) -> Result<Vec<usize>> {
    let work = abs(&a.work);
    let cohort = crate::engine::data::load(&abs(&a.data), &a.labels.cohort_options())?;
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

fn submit(a: &PlanArgs) -> Result<()> {
    let plan = write_plan(a)?;
    let jobs_file = jobs_path(&a.work);
    let old: Jobs = std::fs::read_to_string(&jobs_file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let todo = unfinished(a)?;
    // A merge (or reproduce) still waiting on the previous array would wait forever.
    for id in [&old.merge, &old.reproduce].into_iter().flatten() {
        let _ = Command::new("scancel").arg(id).output();
    }
    let mut jobs = Jobs::default();
    let mut after = Vec::new();
    if !todo.is_empty() {
        let list = todo
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let array = format!("--array={list}%{}", a.max_parallel.max(1));
        let id = sbatch(&[array], &plan.shards)?;
        println!("submitted shards {list} of {} as array job {id}", a.shards);
        after.push(id.clone());
        jobs.shards.push(id);
    } else {
        println!("every shard is finished; submitting the merge only");
    }
    let dep = |ids: &[String]| -> Vec<String> {
        if ids.is_empty() {
            Vec::new()
        } else {
            vec![format!("--dependency=afterok:{}", ids.join(":"))]
        }
    };
    let merge = sbatch(&dep(&after), &plan.merge)?;
    println!("submitted the merge as job {merge} (after the shards)");
    jobs.merge = Some(merge.clone());
    let mut before_reproduce = vec![merge];
    if let Some(e) = &plan.encoder {
        let id = sbatch(&dep(&after), e)?;
        println!("submitted the encoder training as GPU job {id} (after the shards)");
        before_reproduce.push(id.clone());
        jobs.encoder = Some(id);
    }
    if let Some(r) = &plan.reproduce {
        let id = sbatch(&dep(&before_reproduce), r)?;
        println!("submitted reproduce as job {id} (after the merge)");
        jobs.reproduce = Some(id);
    }
    crate::output::write_json(&jobs_file, &jobs)?;
    println!("scripts and logs: {}", plan.dir.display());
    Ok(())
}

fn status(work: &Path) -> Result<()> {
    let work = abs(work);
    let cases = std::fs::read_dir(work.join("cases"))
        .map(|d| d.count())
        .unwrap_or(0);
    let config = crate::engine::shard::WorkConfig::load(&work)?;
    println!("{}: {cases} of {} cases done", work.display(), config.cases);
    let mut shard_dirs: Vec<PathBuf> = std::fs::read_dir(work.join("shards"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    shard_dirs.sort();
    for d in shard_dirs {
        let name = d
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let failed = std::fs::read_to_string(d.join("failures.csv"))
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0);
        let state = if d.join("done.json").is_file() {
            "finished"
        } else {
            "not finished"
        };
        println!("  shard {name}: {state}, {failed} failed cases");
    }
    let jobs: Jobs = std::fs::read_to_string(jobs_path(&work))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let ids: Vec<&String> = jobs
        .shards
        .iter()
        .chain(&jobs.merge)
        .chain(&jobs.encoder)
        .chain(&jobs.reproduce)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let list = ids.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    match Command::new("squeue")
        .args(["-h", "-j", &list, "-o", "%i %j %T %R"])
        .output()
    {
        Ok(o) if o.status.success() => {
            let t = String::from_utf8_lossy(&o.stdout);
            if t.trim().is_empty() {
                println!("  jobs {list}: none queued or running");
            }
            for l in t.lines() {
                println!("  job {l}");
            }
        }
        _ => println!("  jobs {list}: squeue unavailable"),
    }
    Ok(())
}

pub fn run(args: SlurmArgs) -> Result<ExitCode> {
    match args.which {
        Which::Plan(a) => {
            let p = write_plan(&a)?;
            for s in [
                Some(&p.shards),
                Some(&p.merge),
                p.encoder.as_ref(),
                p.reproduce.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                println!("{}", s.display());
            }
        }
        Which::Submit(a) => submit(&a)?,
        Which::Status { work } => status(&work)?,
    }
    Ok(ExitCode::SUCCESS)
}
