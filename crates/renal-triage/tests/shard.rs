//! Sharded cohort work (issue 16, items 1-2): `cohort --shard I/N --work DIR` on each shard,
//! then `merge DIR`, writes exactly the bytes of one `cohort` run; a rerun skips what is done;
//! a corrupt mask fails its case, never the shard, and the merge lists it as excluded; bad
//! shard arguments, another configuration and an incomplete work folder are refused by name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::files;
use renal_testdata::shared;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_renal-triage"))
}

fn ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn cohort(data: &Path, out: &Path) {
    ok(bin()
        .args(["cohort", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out));
}

fn shard(data: &Path, s: &str, work: &Path) -> String {
    ok(bin()
        .args(["--threads", "1", "cohort", "--data"])
        .arg(data)
        .args(["--shard", s, "--work"])
        .arg(work))
}

fn merge(work: &Path, out: &Path) {
    ok(bin().arg("merge").arg(work).arg("--out").arg(out));
}

#[test]
fn one_and_six_shards_merge_to_the_single_run_bytes() {
    let Some(shared) = shared() else { return };
    let data = shared.join("kits23");
    let t = tempfile::tempdir().unwrap();
    cohort(&data, &t.path().join("single"));
    let single = files(&t.path().join("single"));
    assert!(single.len() >= 7, "{:?}", single.keys());
    for n in [1usize, 6] {
        let work = t.path().join(format!("work{n}"));
        for i in 0..n {
            shard(&data, &format!("{i}/{n}"), &work);
        }
        let out = t.path().join(format!("merged{n}"));
        merge(&work, &out);
        let merged = files(&out);
        assert_eq!(
            merged.keys().collect::<Vec<_>>(),
            single.keys().collect::<Vec<_>>()
        );
        for (name, bytes) in &single {
            assert!(merged[name] == *bytes, "{n} shards: {name} differs");
        }
    }
    // Every case went to exactly one of the 6 shards, in similar numbers.
    let mut seen = 0;
    for i in 0..6 {
        let log = std::fs::read_to_string(t.path().join(format!("work6/shards/{i}-of-6/log.csv")))
            .unwrap();
        let n = log.lines().count() - 1;
        assert!((30..=70).contains(&n), "shard {i}: {n} cases");
        seen += n;
    }
    assert_eq!(seen, 300);
    // A rerun of a finished shard redoes nothing.
    let again = shard(&data, "3/6", &t.path().join("work6"));
    assert!(
        again.contains(" 0 cases done") && again.contains("skipped"),
        "{again}"
    );
}

fn formats() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../renal-imaging/tests/fixtures/formats")
}

#[test]
fn a_corrupt_mask_fails_its_case_and_bad_shard_input_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    std::fs::create_dir_all(&d).unwrap();
    let mut manifest = String::from("case_id,label,age,mask\n");
    for i in 0..7 {
        std::fs::copy(
            formats().join("mask.nii.gz"),
            d.join(format!("m{i}.nii.gz")),
        )
        .unwrap();
        let label = ["benign", "indolent", "aggressive"][i % 3];
        manifest.push_str(&format!("c{i},{label},{},m{i}.nii.gz\n", 50 + i));
    }
    // c7's mask is cut short: a corrupt gzip stream.
    let b = std::fs::read(formats().join("mask.nii.gz")).unwrap();
    std::fs::write(d.join("bad.nii.gz"), &b[..b.len() / 2]).unwrap();
    manifest.push_str("c7,benign,57,bad.nii.gz\n");
    std::fs::write(d.join("manifest.csv"), manifest).unwrap();
    let data = d.join("manifest.csv");
    cohort(&data, &t.path().join("single"));
    let work = t.path().join("work");
    let mut failures = String::new();
    for i in 0..3 {
        let out = shard(&data, &format!("{i}/3"), &work);
        assert!(out.contains(&format!("shard {i}/3")), "{out}");
        failures +=
            &std::fs::read_to_string(work.join(format!("shards/{i}-of-3/failures.csv"))).unwrap();
    }
    assert_eq!(failures.matches("c7,").count(), 1, "{failures}");
    let out = t.path().join("merged");
    merge(&work, &out);
    let excluded = std::fs::read_to_string(out.join("excluded.csv")).unwrap();
    assert!(
        excluded.contains("c7,measurement failed") && excluded.contains("bad.nii.gz"),
        "{excluded}"
    );
    assert_eq!(files(&out), files(&t.path().join("single")));

    // Bad input, each refused by name (exit 2).
    let refused = |c: &mut Command, needle: &str| {
        let o = c.output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(e.contains(needle), "`{needle}` not in: {e}");
    };
    for (s, needle) in [
        ("7/6", "numbered 0 to 5"),
        ("0/0", "at least 1"),
        ("x", "expected I/N"),
    ] {
        refused(
            bin()
                .args(["cohort", "--data"])
                .arg(&data)
                .args(["--shard", s, "--work"])
                .arg(&work),
            needle,
        );
    }
    refused(
        bin()
            .args(["cohort", "--data"])
            .arg(&data)
            .args(["--shard", "0/3", "--label-map", "tumor=2", "--work"])
            .arg(&work),
        "`label_map` is null there",
    );
    refused(
        bin()
            .env_remove("SLURM_ARRAY_TASK_ID")
            .args(["cohort", "--data"])
            .arg(&data)
            .args(["--shards", "3", "--work"])
            .arg(&work),
        "SLURM_ARRAY_TASK_ID",
    );
    // A mask changed after its shard ran: `merge --verify-inputs` refuses the stale result.
    let m1 = d.join("m1.nii.gz");
    let keep = std::fs::read(&m1).unwrap();
    std::fs::copy(formats().join("mask.nrrd"), &m1).unwrap();
    refused(
        bin()
            .args(["merge", "--verify-inputs"])
            .arg(&work)
            .arg("--out")
            .arg(t.path().join("m1")),
        "c1 (its inputs changed since)",
    );
    std::fs::write(&m1, keep).unwrap();
    // A merge with a case missing names the case and its shard.
    let victim = work.join("cases/c2.json");
    std::fs::remove_file(&victim).unwrap();
    refused(
        bin()
            .arg("merge")
            .arg(&work)
            .arg("--out")
            .arg(t.path().join("m2")),
        "1 of 8 cases have no usable result (c2); shards with missing cases: ",
    );
    // The Slurm array task's number is read from the environment.
    let s = ok(bin()
        .env("SLURM_ARRAY_TASK_ID", "0")
        .args(["cohort", "--data"])
        .arg(&data)
        .args(["--shards", "3", "--work"])
        .arg(&work));
    assert!(s.contains("shard 0/3"), "{s}");
}

/// Sharded embedding with a trained encoder (issue 16, item 1): each shard embeds its cases
/// with the encoder frozen; the merge's `embeddings.csv` and `embeddings_excluded.csv` are the
/// bytes `embed --encoder-dir` writes in one process, and those embeddings are the trained
/// encoder's own (libtorch's, from its training run) to 1e-5.
#[test]
fn sharded_embeddings_merge_to_the_single_process_bytes() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    std::fs::create_dir_all(&d).unwrap();
    let mut manifest = String::from("case_id,label,mask\n");
    for (i, f) in ["mask.nii.gz", "mask.nrrd", "mask.mha", "mask.seg.nrrd"]
        .iter()
        .cycle()
        .take(9)
        .enumerate()
    {
        let name = format!("m{i}{}", &f[4..]);
        std::fs::copy(formats().join(f), d.join(&name)).unwrap();
        manifest.push_str(&format!(
            "e{i},{},{name}\n",
            ["benign", "indolent", "aggressive"][i % 3]
        ));
    }
    std::fs::write(d.join("bad.nii.gz"), b"not a gzip stream").unwrap();
    manifest.push_str("e9,benign,bad.nii.gz\n");
    std::fs::write(d.join("manifest.csv"), manifest).unwrap();
    let data = d.join("manifest.csv");
    let trained = t.path().join("train/embeddings.csv");
    ok(bin()
        .args(["embed", "--config", "tiny", "--size", "32", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&trained));
    let enc = t.path().join("train/embeddings_encoder");
    let single = t.path().join("single/embeddings.csv");
    ok(bin()
        .args(["embed", "--data"])
        .arg(&data)
        .arg("--encoder-dir")
        .arg(&enc)
        .arg("--out")
        .arg(&single));
    let work = t.path().join("work");
    for i in 0..3 {
        // `embed --shard` and `cohort --shard` do the same per-case work.
        ok(bin()
            .args(["--threads", "1", ["cohort", "embed"][i % 2], "--data"])
            .arg(&data)
            .args(["--shard", &format!("{i}/3"), "--encoder-dir"])
            .arg(&enc)
            .arg("--work")
            .arg(&work));
    }
    let out = t.path().join("merged");
    merge(&work, &out);
    for f in ["embeddings.csv", "embeddings_excluded.csv"] {
        let a = std::fs::read(t.path().join("single").join(f)).unwrap();
        let b = std::fs::read(out.join(f)).unwrap();
        assert!(
            a == b,
            "{f} differs:\n{}\n{}",
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        );
    }
    let excluded = std::fs::read_to_string(out.join("embeddings_excluded.csv")).unwrap();
    assert!(
        excluded
            .lines()
            .any(|l| l.starts_with("e9,") && l.contains("bad.nii.gz")),
        "{excluded}"
    );
    // The frozen encoder computes what the trained one computed for the same images.
    let rows = |p: &Path| -> BTreeMap<String, Vec<f64>> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let mut c = l.split(',');
                let id = c.next().unwrap().to_string();
                (id, c.map(|v| v.parse().unwrap()).collect())
            })
            .collect()
    };
    let (mine, theirs) = (rows(&single), rows(&trained));
    assert_eq!(mine.len(), 9);
    for (id, v) in &mine {
        for (a, b) in v.iter().zip(&theirs[id]) {
            assert!((a - b).abs() <= 1e-5, "{id}: {a} vs {b}");
        }
    }
    // The image-input builder as shards (`embed --shard` without an encoder), then the
    // encoder trained on what they made: the same dataset as the one-process `embed` above
    // (its fingerprint, its previews, its exclusions), hence the same encoder and embeddings.
    let images = t.path().join("images-work");
    for i in 0..2 {
        ok(bin()
            .args(["--threads", "1", "embed", "--size", "32", "--data"])
            .arg(&data)
            .args(["--shard", &format!("{i}/2"), "--work"])
            .arg(&images));
    }
    let n_pixels = std::fs::read_dir(images.join("images")).unwrap().count();
    assert_eq!(n_pixels, 9, "one pixel file per imaged case");
    let from_work = t.path().join("from-work/embeddings.csv");
    ok(bin()
        .args(["embed", "--config", "tiny", "--images-from"])
        .arg(&images)
        .arg("--out")
        .arg(&from_work));
    let a_dir = t.path().join("train/embeddings_encoder");
    let b_dir = t.path().join("from-work/embeddings_encoder");
    for f in ["inputs.sha256", "preprocess.json"] {
        assert_eq!(
            std::fs::read_to_string(a_dir.join(f)).unwrap(),
            std::fs::read_to_string(b_dir.join(f)).unwrap(),
            "{f}"
        );
    }
    // input.json less the training's timings.
    let input = |d: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("input.json")).unwrap()).unwrap();
        for k in ["seconds", "images_per_second"] {
            v["training"].as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(input(&a_dir), input(&b_dir));
    for e in std::fs::read_dir(a_dir.join("previews")).unwrap() {
        let e = e.unwrap();
        let b = std::fs::read(b_dir.join("previews").join(e.file_name())).unwrap();
        assert!(std::fs::read(e.path()).unwrap() == b, "{:?}", e.file_name());
    }
    assert_eq!(
        std::fs::read_to_string(&trained).unwrap(),
        std::fs::read_to_string(&from_work).unwrap(),
        "the encoder trained on the shards' images embeds as the one trained in one process"
    );
    // A damaged pixel file is found by its digest, naming the case.
    let victim = images.join("images/e0.f32");
    let mut px = std::fs::read(&victim).unwrap();
    px[0] ^= 0xff;
    std::fs::write(&victim, px).unwrap();
    let o = bin()
        .args(["embed", "--config", "tiny", "--images-from"])
        .arg(&images)
        .arg("--out")
        .arg(t.path().join("damaged/embeddings.csv"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("e0") && err.contains("e0.f32"),
        "{err}"
    );
    // A work folder without image inputs is refused by name.
    let o = bin()
        .args(["embed", "--images-from"])
        .arg(&work)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("made no image inputs"),
        "{err}"
    );
}
