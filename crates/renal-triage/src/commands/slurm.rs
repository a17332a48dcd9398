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

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::engine::slurm::{self, SlurmPlan, Status, Submitted};

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

/// A Slurm name (partition, or a comma-separated list of them): letters, digits, `_.-+,`.
/// Values go verbatim into `#SBATCH` lines, so anything else (a newline above all, which would
/// start a shell line of the script) is refused here, at the edge.
/// A `--partition`, `--account` or `--time` that cannot go into an `#SBATCH` line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SlurmValueError {
    #[error("{0:?} is not a Slurm partition name (letters, digits and _.-+, only)")]
    Name(String),
    #[error("{0:?} is not a Slurm time limit (e.g. 90, 01:30:00, 2-00:00:00, UNLIMITED)")]
    Time(String),
}

fn slurm_name(s: &str) -> Result<String, SlurmValueError> {
    if !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-+,".contains(&b))
    {
        Ok(s.to_string())
    } else {
        Err(SlurmValueError::Name(s.to_string()))
    }
}

/// A Slurm time limit (`minutes`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`, `UNLIMITED`).
fn slurm_time(s: &str) -> Result<String, SlurmValueError> {
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
        Err(SlurmValueError::Time(s.to_string()))
    }
}

impl PlanArgs {
    /// The plan these arguments ask for.
    fn plan(&self) -> SlurmPlan {
        SlurmPlan {
            data: self.data.clone(),
            work: self.work.clone(),
            shards: self.shards,
            out: self.out.clone(),
            partition: self.partition.clone(),
            gpu_partition: self.gpu_partition.clone(),
            image_size: self.image_size,
            reproduce: self.reproduce,
            encoder_dir: self.encoder_dir.clone(),
            time: self.time.clone(),
            max_parallel: self.max_parallel,
            cohort: self.labels.cohort_options(),
        }
    }
}

fn print_submitted(s: &Submitted, shards: usize) {
    match &s.shards {
        Some((list, id)) => println!("submitted shards {list} of {shards} as array job {id}"),
        None => println!("every shard is finished; submitting the merge only"),
    }
    println!("submitted the merge as job {} (after the shards)", s.merge);
    if let Some(id) = &s.encoder {
        println!("submitted the encoder training as GPU job {id} (after the shards)");
    }
    if let Some(id) = &s.reproduce {
        println!("submitted reproduce as job {id} (after the merge)");
    }
    println!("scripts and logs: {}", s.dir.display());
}

fn print_status(s: &Status) {
    println!(
        "{}: {} of {} cases done",
        s.work.display(),
        s.cases_done,
        s.cases
    );
    for d in &s.shards {
        let state = if d.finished {
            "finished"
        } else {
            "not finished"
        };
        println!("  shard {}: {state}, {} failed cases", d.name, d.failed);
    }
    if s.jobs.is_empty() {
        return;
    }
    match &s.queue {
        Some(lines) if lines.iter().all(|l| l.trim().is_empty()) => {
            println!("  jobs {}: none queued or running", s.jobs)
        }
        Some(lines) => {
            for l in lines {
                println!("  job {l}");
            }
        }
        None => println!("  jobs {}: squeue unavailable", s.jobs),
    }
}

pub fn run(args: SlurmArgs) -> Result<ExitCode> {
    match args.which {
        Which::Plan(a) => {
            let p = slurm::write_plan(&a.plan())?;
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
        Which::Submit(a) => print_submitted(&slurm::submit(&a.plan())?, a.shards),
        Which::Status { work } => print_status(&slurm::status(&work)?),
    }
    Ok(ExitCode::SUCCESS)
}
