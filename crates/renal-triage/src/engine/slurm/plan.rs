//! A Slurm plan and its sbatch scripts: the shards as an array job, the merge, the encoder's
//! GPU job, the analysis.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::engine::data::CohortOptions;

/// A plan, as the command line gave it (names and the time limit checked there).
#[derive(Debug, Clone)]
pub struct SlurmPlan {
    /// The cohort (KiTS23 folder or manifest), on a file system every node sees.
    pub data: PathBuf,
    /// The shared work folder.
    pub work: PathBuf,
    pub shards: usize,
    /// Where the merge writes the cohort's files (default WORK/cohort).
    pub out: Option<PathBuf>,
    /// Partition of the CPU jobs (default: the cluster's default).
    pub partition: Option<String>,
    /// Train the encoder as one GPU job in this partition.
    pub gpu_partition: Option<String>,
    /// Side of the image inputs the array tasks make for the encoder.
    pub image_size: usize,
    /// Also run `reproduce` after the merge (into WORK/reproduce).
    pub reproduce: bool,
    /// The shards also embed every case with this trained encoder, frozen.
    pub encoder_dir: Option<PathBuf>,
    /// Time limit of each job (Slurm's format).
    pub time: String,
    /// At most this many array tasks at once (`%M`).
    pub max_parallel: usize,
    /// How the cohort is read.
    pub cohort: CohortOptions,
}

pub(crate) fn abs(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
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

/// The scripts a plan wrote, in `dir`.
pub struct Plan {
    pub dir: PathBuf,
    pub shards: PathBuf,
    pub merge: PathBuf,
    pub encoder: Option<PathBuf>,
    pub reproduce: Option<PathBuf>,
}

fn header(name: &str, what: &[&str], a: &SlurmPlan, log: &Path) -> String {
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

fn shards_script(a: &SlurmPlan, c: &Ctx) -> String {
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

fn merge_script(a: &SlurmPlan, c: &Ctx, out: &Path) -> String {
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

fn encoder_script(a: &SlurmPlan, c: &Ctx, gpu: &str) -> String {
    let e = header(
        "rt-encoder",
        &[
            "renal-triage: trains the SimCLR encoder (no labels) on one GPU on the image inputs",
            "the array tasks made, and writes every case's embedding. Submitted to run after",
            "every array task succeeded (afterok).",
        ],
        &SlurmPlan {
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

fn reproduce_script(a: &SlurmPlan, c: &Ctx, with_encoder: bool) -> String {
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
pub fn write_plan(a: &SlurmPlan) -> Result<Plan> {
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
    if let Some(m) = &a.cohort.label_map {
        script_path("--label-map", Path::new(&m.to_string()), false)?;
    }
    let out = a
        .out
        .as_deref()
        .map(abs)
        .unwrap_or_else(|| work.join("cohort"));
    let dir = work.join("slurm");
    std::fs::create_dir_all(dir.join("logs"))?;
    let mut labels = format!(" --blank-modifier {}", sh(a.cohort.blank_modifier.name()));
    if let Some(m) = &a.cohort.label_map {
        labels += &format!(" --label-map {}", sh(&m.to_string()));
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
