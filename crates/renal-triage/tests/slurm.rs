//! Slurm, the real one (issue 16, items 3-4): on the single-node cluster that `.ci/run`
//! starts (`scripts/slurm-local.sh`), `slurm plan` writes scripts that `sbatch --test-only`
//! accepts; `slurm submit` runs KiTS23's 300 cases as 6 array tasks and a merge whose files
//! are byte-identical to one `cohort` run; an array task cancelled mid-run (`scancel`) is the
//! only one a second `submit` reruns (the other shards' logs are untouched), and the result is
//! the same. Outside CI the test is skipped when no cluster answers; under CI it must run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::files;
use renal_testdata::{shared, under_ci};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_renal-triage"))
}

fn run(c: &mut Command) -> (bool, String, String) {
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn cluster_up() -> bool {
    let up = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .map(|o| o.status.success() && !o.stdout.is_empty())
        .unwrap_or(false);
    if !up {
        assert!(
            !under_ci(),
            "no Slurm cluster answers (sinfo): .ci/run starts one with scripts/slurm-local.sh"
        );
        eprintln!("SKIPPED: no Slurm cluster (bash scripts/slurm-local.sh start)");
    }
    up
}

/// The recorded jobs of a work folder.
fn jobs(work: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(work.join("slurm/jobs.json")).unwrap()).unwrap()
}

/// `squeue` lines (`id state`) of these jobs, array tasks one per line.
fn queued(ids: &[String]) -> Vec<String> {
    let o = Command::new("squeue")
        .args(["-h", "-r", "-j", &ids.join(","), "-o", "%i %T"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn job_ids(work: &Path) -> Vec<String> {
    let j = jobs(work);
    let mut v: Vec<String> = j["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    v.extend(j["merge"].as_str().map(str::to_string));
    v
}

/// Waits until none of the work folder's jobs is queued or running.
fn wait(work: &Path) {
    let t = Instant::now();
    while !queued(&job_ids(work)).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(900),
            "jobs still queued: {:?}",
            queued(&job_ids(work))
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn submit(data: &Path, work: &Path, extra: &[&str]) -> String {
    let (ok, out, err) = run(bin()
        .args(["slurm", "submit", "--data"])
        .arg(data)
        .arg("--work")
        .arg(work)
        .args(["--shards", "6", "--time", "00:20:00"])
        .args(extra));
    assert!(ok, "{out}\n{err}");
    out
}

#[test]
fn a_sharded_cohort_runs_on_slurm_and_survives_a_killed_task() {
    let Some(shared) = shared() else { return };
    if !cluster_up() {
        return;
    }
    let data = shared.join("kits23");
    let t = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(bin()
        .args(["cohort", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(t.path().join("single")));
    assert!(ok, "{err}");
    let single = files(&t.path().join("single"));

    // plan: readable scripts that sbatch accepts.
    let plan = t.path().join("plan");
    let (ok, out, err) = run(bin()
        .args(["slurm", "plan", "--reproduce", "--data"])
        .arg(&data)
        .arg("--work")
        .arg(&plan)
        .args(["--shards", "6"]));
    assert!(ok, "{err}");
    for name in ["shards", "merge", "reproduce"] {
        let script = plan.join(format!("slurm/{name}.sbatch"));
        assert!(out.contains(&script.display().to_string()), "{out}");
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(
            text.lines().filter(|l| l.starts_with("# ")).count() >= 2,
            "{text}"
        );
        let o = Command::new("sbatch")
            .arg("--test-only")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // With a GPU partition the array tasks also make the image inputs, and the GPU job
    // trains on them (this cluster has no GPU: the scripts are read, the array one checked).
    let gpu = t.path().join("plan-gpu");
    let (ok, _, err) = run(bin()
        .args([
            "slurm",
            "plan",
            "--gpu-partition",
            "gpu",
            "--image-size",
            "128",
            "--data",
        ])
        .arg(&data)
        .arg("--work")
        .arg(&gpu)
        .args(["--shards", "6"]));
    assert!(ok, "{err}");
    let shards = std::fs::read_to_string(gpu.join("slurm/shards.sbatch")).unwrap();
    assert!(shards.contains("--images --image-size 128"), "{shards}");
    let encoder = std::fs::read_to_string(gpu.join("slurm/encoder.sbatch")).unwrap();
    assert!(
        encoder.contains("embed --images-from")
            && encoder.contains("--partition=gpu")
            && encoder.contains("--gres=gpu:1"),
        "{encoder}"
    );
    let o = Command::new("sbatch")
        .arg("--test-only")
        .arg(gpu.join("slurm/shards.sbatch"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // submit: 6 array tasks and the merge; the merged files are one run's.
    let work = t.path().join("work");
    let out = submit(&data, &work, &[]);
    assert!(out.contains("submitted shards 0,1,2,3,4,5 of 6"), "{out}");
    wait(&work);
    assert_eq!(
        files(&work.join("cohort")),
        single,
        "6 shards on Slurm vs one cohort run"
    );

    // A task cancelled while running: the resubmission reruns it alone.
    let work2 = t.path().join("work2");
    submit(&data, &work2, &["--max-parallel", "2"]);
    let array = jobs(&work2)["shards"][0].as_str().unwrap().to_string();
    let victim = format!("{array}_3");
    let t0 = Instant::now();
    loop {
        let q = queued(std::slice::from_ref(&array));
        if q.iter().any(|l| l == &format!("{victim} RUNNING")) {
            break;
        }
        assert!(
            q.iter().any(|l| l.starts_with(&victim)) && t0.elapsed() < Duration::from_secs(600),
            "task 3 finished or vanished before it could be cancelled: {q:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(Command::new("scancel")
        .arg(&victim)
        .status()
        .unwrap()
        .success());
    // The other tasks finish; the merge waits forever on the failed array.
    let t0 = Instant::now();
    while !queued(std::slice::from_ref(&array)).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(600));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!work2.join("shards/3-of-6/done.json").exists());
    let stamp = |s: usize| {
        std::fs::metadata(work2.join(format!("shards/{s}-of-6/log.csv")))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = [0, 1, 2, 4, 5].iter().map(|&s| stamp(s)).collect();
    let out = submit(&data, &work2, &[]);
    assert!(out.contains("submitted shards 3 of 6"), "{out}");
    wait(&work2);
    let after: Vec<_> = [0, 1, 2, 4, 5].iter().map(|&s| stamp(s)).collect();
    assert_eq!(before, after, "only the cancelled shard was rerun");
    assert!(work2.join("shards/3-of-6/done.json").exists());
    assert_eq!(
        files(&work2.join("cohort")),
        single,
        "after the resubmission"
    );

    // Bad input: sbatch not on PATH; a partition that does not exist.
    let (ok, _, err) = run(bin()
        .env("PATH", "/nonexistent")
        .args(["slurm", "submit", "--data"])
        .arg(&data)
        .arg("--work")
        .arg(t.path().join("w3"))
        .args(["--shards", "2"]));
    assert!(
        !ok && err.contains("sbatch") && err.contains("not on PATH"),
        "{err}"
    );
    let (ok, _, err) = run(bin()
        .args([
            "slurm",
            "submit",
            "--partition",
            "no-such-partition",
            "--data",
        ])
        .arg(&data)
        .arg("--work")
        .arg(t.path().join("w4"))
        .args(["--shards", "2"]));
    assert!(
        !ok && err.contains("sbatch refused")
            && err.contains("shards.sbatch")
            && err.to_lowercase().contains("partition"),
        "{err}"
    );
}
