//! `renal-triage reproduce` end to end on a 60-case KiTS23 subset (all 25 benign cases plus 35
//! others, linked from the shared snapshot): outputs, determinism across thread counts,
//! resumption after SIGKILL, predefined splits, external validation, features+labels cohorts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use renal_testdata::shared;

const EXPERIMENT: &str = r#"
[experiment]
name = "test"
seed = 7
outer_folds = 5
inner_folds = 3
bootstrap = 200
tasks = ["malignant_vs_benign", "aggressive_vs_rest"]

[rf]
trees = 40
max_features = ["sqrt", 0.3]
min_samples_leaf = [1, 3]

[mlp]
epochs = [30]

[[model]]
name = "image RF"
embeddings = "all"
learner = "rf"

[[model]]
name = "clinical+size RF"
clinical = "all"
size = true
learner = "rf"

[[model]]
name = "top5+size MLP"
clinical = "top"
top_k = 5
size = true
learner = "mlp"

[[model]]
name = "size+sex LR"
clinical = ["sex_male"]
size = true
log_size = true
learner = "logistic"
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// A KiTS23 folder with `ids` (symlinked segmentations, filtered kits23.json).
fn subset(shared: &Path, dir: &Path, ids: &[String]) {
    let keep: Vec<serde_json::Value> = common::kits23_records(shared)
        .into_iter()
        .filter(|r| ids.iter().any(|id| r["case_id"] == id.as_str()))
        .collect();
    common::kits_folder(shared, dir, &keep, &[]);
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let shared = shared()?;
        let all = common::kits23_records(&shared);
        let benign: Vec<String> = all
            .iter()
            .filter(|r| r["malignant"] == false)
            .map(|r| r["case_id"].as_str().unwrap().to_string())
            .collect();
        let others: Vec<String> = all
            .iter()
            .filter(|r| r["malignant"] == true)
            .map(|r| r["case_id"].as_str().unwrap().to_string())
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        // Development: 15 benign + 35 malignant; external: the other 10 benign + 25 malignant.
        let dev: Vec<String> = benign[..15].iter().chain(&others[..35]).cloned().collect();
        let ext: Vec<String> = benign[15..]
            .iter()
            .chain(&others[35..60])
            .cloned()
            .collect();
        subset(&shared, &root.join("dev"), &dev);
        subset(&shared, &root.join("ext"), &ext);
        std::fs::write(root.join("experiment.toml"), EXPERIMENT).unwrap();
        // Embeddings computed elsewhere: deterministic pseudo-features per case (no signal).
        let mut emb = String::from("CaseName,f0,f1,f2,f3\n");
        for (k, id) in dev.iter().chain(&ext).enumerate() {
            emb.push_str(&format!(
                "{id},{},{},{},{}\n",
                (k * 7 % 13) as f64 / 13.0,
                (k * 3 % 11) as f64,
                (k % 5) as f64 * 0.5,
                (k * 17 % 19) as f64
            ));
        }
        std::fs::write(root.join("emb.csv"), emb).unwrap();
        Some(Fixture { _dir: dir, root })
    })
    .as_ref()
}

fn reproduce(f: &Fixture, out: &Path, threads: usize, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["--threads", &threads.to_string(), "reproduce", "--data"])
        .arg(f.root.join("dev"))
        .arg("--experiment")
        .arg(f.root.join("experiment.toml"))
        .arg("--out")
        .arg(out)
        // The image model is skipped unless a test asks for the encoder (`--encoder tiny`).
        .args(if extra.contains(&"--encoder") {
            &[][..]
        } else {
            &["--encoder", "none"][..]
        })
        .args(extra)
        .output()
        .unwrap()
}

fn tables(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for sub in ["tables", "cohort"] {
        let mut names: Vec<_> = std::fs::read_dir(out.join(sub))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        names.sort();
        for p in names {
            v.push((
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            ));
        }
    }
    for m in std::fs::read_dir(out.join("models")).unwrap().flatten() {
        for f in [
            "oof_predictions.csv",
            "metrics.json",
            "thresholds.json",
            "importances.csv",
        ] {
            v.push((
                format!("{}/{f}", m.file_name().to_string_lossy()),
                std::fs::read(m.path().join(f)).unwrap(),
            ));
        }
    }
    v.sort();
    v
}

/// The decision-curve tables recomputed by hand from the out-of-fold predictions (Vickers &
/// Elkin 2006: net benefit = TP/n - FP/n * pt/(1 - pt), treating when the score >= pt; treat
/// all = prevalence - (1 - prevalence) * pt/(1 - pt); treat none = 0), for both tasks, at
/// every threshold the table has.
fn decision_curves_follow_from_the_predictions(out: &Path, oof: &str) {
    let rows: Vec<Vec<&str>> = oof
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let p = |r: &[&str], c: usize| r[c].parse::<f64>().unwrap();
    for task in ["aggressive_vs_rest", "malignant_vs_benign"] {
        let aggressive = task == "aggressive_vs_rest";
        // The label is column 3; p_benign, p_indolent, p_aggressive columns 4-6.
        let positive = |r: &[&str]| if aggressive { r[3] == "2" } else { r[3] != "0" };
        let score = |r: &[&str]| {
            if aggressive {
                p(r, 6)
            } else {
                p(r, 5) + p(r, 6)
            }
        };
        let table =
            std::fs::read_to_string(out.join(format!("tables/decision_curve_{task}.csv"))).unwrap();
        let mut lines = table.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (all_c, none_c, model_c) =
            (col("treat_all"), col("treat_none"), col("clinical+size RF"));
        let y: Vec<bool> = rows.iter().map(|r| positive(r)).collect();
        let s: Vec<f64> = rows.iter().map(|r| score(r)).collect();
        let n = y.len() as f64;
        let prevalence = y.iter().filter(|&&t| t).count() as f64 / n;
        let mut checked = 0;
        for line in lines {
            let c: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
            let pt = c[0];
            let w = pt / (1.0 - pt);
            let tp = y.iter().zip(&s).filter(|(t, v)| **t && **v >= pt).count() as f64;
            let fp = y.iter().zip(&s).filter(|(t, v)| !**t && **v >= pt).count() as f64;
            let what = format!("{task} at {pt}");
            assert!(
                (c[model_c] - (tp / n - fp / n * w)).abs() < 1e-12,
                "{what}: model {}",
                c[model_c]
            );
            assert!(
                (c[all_c] - (prevalence - (1.0 - prevalence) * w)).abs() < 1e-12,
                "{what}: treat all"
            );
            assert_eq!(c[none_c], 0.0, "{what}: treat none");
            checked += 1;
        }
        assert!(checked >= 50, "{task}: {checked} thresholds");
    }
}

#[test]
fn writes_the_layout_and_is_identical_on_one_or_two_threads() {
    let Some(f) = fixture() else { return };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let o = reproduce(f, a.path(), 1, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("image RF") && stdout.contains("skipped"),
        "{stdout}"
    );
    for p in [
        "manifest.json",
        "report.html",
        "cohort/table1.csv",
        "cohort/excluded.csv",
        "cohort/warnings.csv",
        "tables/table2_auc.csv",
        "tables/table3_malignant_vs_benign.csv",
        "tables/table4_aggressive_vs_rest.csv",
        "tables/table5_brier.csv",
        "tables/table6_delong_aggressive_vs_rest.csv",
        "tables/table7_delong_malignant_vs_benign.csv",
        "tables/skipped_models.csv",
        "figures/roc_aggressive_vs_rest.svg",
        "figures/calibration_malignant_vs_benign.svg",
        "figures/importance_malignant_vs_benign.svg",
        "figures/importance_aggressive_vs_rest.svg",
        "models/clinical_size_rf/oof_predictions.csv",
    ] {
        assert!(a.path().join(p).is_file(), "{p} missing");
    }
    let o = reproduce(f, b.path(), 2, &[]);
    assert!(o.status.success());
    let (ta, tb) = (tables(a.path()), tables(b.path()));
    assert_eq!(ta.len(), tb.len());
    for ((na, ba), (nb, bb)) in ta.iter().zip(&tb) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between 1 and 2 threads");
    }
    // A reviewer can trace the report's AUC to table 2 and table 2 to the predictions.
    let t2 = std::fs::read_to_string(a.path().join("tables/table2_auc.csv")).unwrap();
    let row = t2
        .lines()
        .find(|l| l.starts_with("clinical+size RF,aggressive_vs_rest"))
        .unwrap();
    let auc: f64 = row.split(',').nth(4).unwrap().parse().unwrap();
    let oof = std::fs::read_to_string(a.path().join("models/clinical_size_rf/oof_predictions.csv"))
        .unwrap();
    let (y, s): (Vec<bool>, Vec<f64>) = oof
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[3] == "2", c[6].parse::<f64>().unwrap())
        })
        .unzip();
    assert_eq!(y.len(), 50);
    assert_eq!(renal_stats::roc_auc(&y, &s).unwrap(), auc);
    decision_curves_follow_from_the_predictions(a.path(), &oof);
    let html = std::fs::read_to_string(a.path().join("report.html")).unwrap();
    assert!(html.contains(&format!("{auc:.3}")));
    assert!(html.contains("TRIPOD"), "no TRIPOD+AI section");
    assert!(html.contains("Table 1"), "no Table 1");
    assert!(
        html.contains("Labelling policy and recorded values")
            && html.contains("--blank-modifier absent"),
        "no labelling-policy section"
    );
    assert!(html.contains("<svg"), "no inline figure");
    // Self-contained: nothing is loaded from elsewhere (the only URL allowed is the SVG
    // namespace, which is a name, not a fetch).
    for external in ["<link", "<script src", "url(", "@import"] {
        assert!(
            !html.contains(external),
            "report loads something from outside: `{external}`"
        );
    }
    for (attr, inline) in [("src=\"", "data:"), ("href=\"", "#")] {
        for (i, _) in html.match_indices(attr) {
            let target = &html[i + attr.len()..];
            assert!(
                target.starts_with(inline),
                "report refers outside itself: {}",
                &target[..target.len().min(60)]
            );
        }
    }
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["seed"], 7);
    // The commit the binary was built from (build.rs), `-dirty` when tracked files differ.
    if let Ok(o) = Command::new("git").args(["rev-parse", "HEAD"]).output() {
        let head = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let recorded = manifest["git_commit"].as_str().unwrap();
        assert!(
            o.status.success() && recorded.trim_end_matches("-dirty") == head,
            "recorded {recorded}, HEAD {head}"
        );
    }
    assert!(
        manifest["inputs_sha256"].as_object().unwrap().len() >= 51,
        "kits23.json + 50 masks"
    );
}

#[test]
fn the_encoder_feeds_the_image_model_identically_on_one_or_two_threads() {
    let Some(f) = fixture() else { return };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let o = reproduce(f, a.path(), 1, &["--encoder", "tiny"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let skipped = std::fs::read_to_string(a.path().join("tables/skipped_models.csv")).unwrap();
    assert!(!skipped.contains("image RF"), "{skipped}");
    let t2 = std::fs::read_to_string(a.path().join("tables/table2_auc.csv")).unwrap();
    assert!(t2.lines().any(|l| l.starts_with("image RF,")), "{t2}");
    for p in [
        "encoder/embeddings.csv",
        "encoder/embeddings_encoder/encoder.safetensors",
        "encoder/embeddings_encoder/encoder.json",
        "encoder/embeddings_encoder/loss.csv",
        "encoder/embeddings_encoder/cases.csv",
        "encoder/embeddings_encoder/input.json",
        "figures/encoder_loss.svg",
    ] {
        assert!(a.path().join(p).is_file(), "{p} missing");
    }
    // 50 cases x (case_id + 64 features of the tiny network).
    let emb = std::fs::read_to_string(a.path().join("encoder/embeddings.csv")).unwrap();
    assert_eq!(emb.lines().count(), 51);
    assert_eq!(emb.lines().next().unwrap().split(',').count(), 65);
    let html = std::fs::read_to_string(a.path().join("report.html")).unwrap();
    assert!(html.contains("Image input and SimCLR encoder"));
    assert!(html.contains("label map's kidney, tumor and cyst planes"));
    assert!(html.contains("data:image/png;base64,iVBORw0KGgo"));
    // The encoder's threads are part of its configuration: --threads does not change anything.
    let o = reproduce(f, b.path(), 2, &["--encoder", "tiny"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        emb,
        std::fs::read_to_string(b.path().join("encoder/embeddings.csv")).unwrap()
    );
    let (ta, tb) = (tables(a.path()), tables(b.path()));
    assert_eq!(
        ta.iter().map(|t| &t.0).collect::<Vec<_>>(),
        tb.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for ((na, ba), (_, bb)) in ta.iter().zip(&tb) {
        assert!(ba == bb, "{na} differs between 1 and 2 threads");
    }
    // Started again on the same inputs: the finished encoder is reused, no image is made
    // again (the masks are decoded once more, for the measurements only), same results.
    let o = reproduce(f, b.path(), 2, &["--encoder", "tiny"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("reusing the finished encoder"), "{log}");
    let first = std::fs::read_to_string(a.path().join("manifest.json")).unwrap();
    assert!(first.contains("image_inputs_and_encoder"), "{first}");
    let manifest = std::fs::read_to_string(b.path().join("manifest.json")).unwrap();
    assert!(!manifest.contains("image_inputs_and_encoder"), "{manifest}");
    assert_eq!(
        emb,
        std::fs::read_to_string(b.path().join("encoder/embeddings.csv")).unwrap()
    );
    for ((na, ba), (_, bb)) in ta.iter().zip(&tables(b.path())) {
        assert!(ba == bb, "{na} differs in the resumed run");
    }
    let html = std::fs::read_to_string(b.path().join("report.html")).unwrap();
    assert!(html.contains("label map's kidney, tumor and cyst planes"));
}

/// Starts a reproduce run into `out` that pauses by itself once its first model is written
/// (a test hook: it says so on stderr and waits), kills it there (a deterministic point, no
/// polling), and returns the staging folder it was writing (`.<out>.staging-<pid>`).
fn killed_after_one_model(f: &Fixture, out: &Path, extra: &[&str]) -> PathBuf {
    let mut child = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["reproduce", "--data"])
        .arg(f.root.join("dev"))
        .arg("--experiment")
        .arg(f.root.join("experiment.toml"))
        .arg("--out")
        .arg(out)
        .args(["--encoder", "none"])
        .args(extra)
        .env("RENAL_TRIAGE_TEST_PAUSE_AFTER_MODELS", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "the run ended before its pause point");
        if line.contains("test pause") {
            break;
        }
    }
    let staging = out.with_file_name(format!(
        ".{}.staging-{}",
        out.file_name().unwrap().to_string_lossy(),
        child.id()
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    staging
}

/// Every file a finished run's manifest lists is there with its sha256.
fn manifest_verifies(out: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(out.join("manifest.json")) else {
        return false;
    };
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["outputs_sha256"]
        .as_object()
        .unwrap()
        .iter()
        .all(|(rel, h)| {
            std::fs::read(out.join(rel))
                .map(|b| renal_cohort::io::sha256_hex(&b) == h.as_str().unwrap())
                .unwrap_or(false)
        })
}

#[test]
fn a_run_killed_with_sigkill_finishes_correctly_when_started_again() {
    let Some(f) = fixture() else { return };
    let reference = tempfile::tempdir().unwrap();
    assert!(reproduce(f, reference.path(), 2, &[]).status.success());
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    let staging = killed_after_one_model(f, &out, &[]);
    // The run wrote into its staging folder: `--out` does not exist yet.
    assert!(
        !out.exists(),
        "a killed first run left a half-written --out"
    );
    let first = staging.join("models/clinical_size_rf/run.json");
    assert!(first.exists(), "the first model finished before the kill");
    assert!(
        !staging.join("report.html").exists(),
        "the run was killed before its end"
    );
    // Every output file present is complete (atomic writes): the JSON ones parse.
    for p in walk(&staging) {
        if p.extension().is_some_and(|e| e == "json") && !p.to_string_lossy().ends_with(".tmp") {
            let t = std::fs::read_to_string(&p).unwrap();
            assert!(
                serde_json::from_str::<serde_json::Value>(&t).is_ok(),
                "{} is half-written",
                p.display()
            );
        }
    }
    // Started again, the run adopts what the killed one finished.
    let o = reproduce(f, &out, 2, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("reusing finished model"),
        "finished work is reused"
    );
    assert!(
        !staging.exists(),
        "the staging folder was adopted and swapped in"
    );
    assert_eq!(tables(&out), tables(reference.path()));
    assert!(manifest_verifies(&out));

    // Killed over a complete run (issue 26): the previous folder stays whole, its manifest
    // listing every file as it is, and no new model beside the old report.
    let before = tables(&out);
    let staging = killed_after_one_model(f, &out, &["--seed", "9"]);
    assert!(staging.join("models").is_dir());
    assert!(
        manifest_verifies(&out),
        "the previous run was altered by a killed one"
    );
    assert_eq!(tables(&out), before);

    // A changed seed, or a changed experiment, is never served from the old models.
    let o = reproduce(f, &out, 2, &["--seed", "8"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("reusing finished model"),
        "a new seed reused old models"
    );
    assert_ne!(tables(&out), tables(reference.path()));
    let changed = f.root.join("experiment-changed.toml");
    std::fs::write(&changed, EXPERIMENT.replace("trees = 40", "trees = 41")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["reproduce", "--seed", "8", "--encoder", "none", "--data"])
        .arg(f.root.join("dev"))
        .arg("--experiment")
        .arg(&changed)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = String::from_utf8_lossy(&o.stderr);
    // The forests changed: no forest model may be reused (the logistic one may).
    for l in log.lines().filter(|l| l.contains("reusing finished model")) {
        assert!(!l.contains(" RF"), "a changed experiment reused {l}");
    }
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                v.extend(walk(&e.path()));
            } else {
                v.push(e.path());
            }
        }
    }
    v
}

#[test]
fn predefined_splits_are_used_exactly() {
    let Some(f) = fixture() else { return };
    let labels: Vec<(String, String)> = {
        let out = tempfile::tempdir().unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
            .args(["cohort", "--data"])
            .arg(f.root.join("dev"))
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        assert!(o.status.success());
        std::fs::read_to_string(out.path().join("labels.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let c: Vec<&str> = l.split(',').collect();
                (c[0].to_string(), c[1].to_string())
            })
            .collect()
    };
    // Fold k = position in a label-sorted list modulo 5, so each fold has every class.
    let mut sorted = labels.clone();
    sorted.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut csv = String::from("case_id,outer_fold\n");
    let mut fold_of = std::collections::BTreeMap::new();
    for (k, (id, _)) in sorted.iter().enumerate() {
        csv.push_str(&format!("{id},{}\n", k % 5));
        fold_of.insert(id.clone(), k % 5);
    }
    let split = f.root.join("splits.csv");
    std::fs::write(&split, csv).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = reproduce(f, out.path(), 2, &["--splits", split.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let oof = std::fs::read_to_string(
        out.path()
            .join("models/clinical_size_rf/oof_predictions.csv"),
    )
    .unwrap();
    for l in oof.lines().skip(1) {
        let c: Vec<&str> = l.split(',').collect();
        assert_eq!(c[2].parse::<usize>().unwrap(), fold_of[c[0]], "{l}");
    }
}

#[test]
fn external_validation_and_embeddings() {
    let Some(f) = fixture() else { return };
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["validate", "--train"])
        .arg(f.root.join("dev"))
        .arg("--test")
        .arg(f.root.join("ext"))
        .arg("--experiment")
        .arg(f.root.join("experiment.toml"))
        .arg("--embeddings")
        .arg(f.root.join("emb.csv"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = std::fs::read_to_string(out.path().join("external/metrics.csv")).unwrap();
    assert!(
        m.lines().any(|l| l.starts_with("image RF,")),
        "image model ran with embeddings: {m}"
    );
    let p = std::fs::read_to_string(out.path().join("external/predictions.csv")).unwrap();
    // 35 external cases x 4 models; the development cases never appear.
    assert_eq!(p.lines().count() - 1, 35 * 4);
    let dev_ids = std::fs::read_to_string(f.root.join("dev/kits23.json")).unwrap();
    for l in p.lines().skip(1) {
        let id = l.split(',').next().unwrap();
        assert!(
            !dev_ids.contains(&format!("\"{id}\"")),
            "{id} is a development case"
        );
    }
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("External validation"));
}

/// `validate` with the encoder: trained on the development cohort only, the external cohort
/// embedded by it frozen with the development image specification; every model of the study's
/// experiment scored on the external cohort; the same bytes on one and two threads.
#[test]
fn validate_scores_every_paper_model_with_the_frozen_development_encoder() {
    let Some(f) = fixture() else { return };
    let paper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/paper.toml");
    let run = |threads: usize, out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_renal-triage"))
            .args(["--threads", &threads.to_string(), "validate", "--train"])
            .arg(f.root.join("dev"))
            .arg("--test")
            .arg(f.root.join("ext"))
            .arg("--experiment")
            .arg(&paper)
            .args(["--encoder", "tiny", "--seed", "3", "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let a = tempfile::tempdir().unwrap();
    let o = run(1, a.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Every model of paper.toml, image models included, on the external cohort; none skipped.
    let paper_text = std::fs::read_to_string(&paper).unwrap();
    let names: Vec<&str> = paper_text
        .lines()
        .filter_map(|l| l.strip_prefix("name = \"")?.strip_suffix('"'))
        .filter(|n| *n != "paper")
        .collect();
    assert_eq!(names.len(), 10, "{names:?}");
    let metrics = std::fs::read_to_string(a.path().join("external/metrics.csv")).unwrap();
    for n in &names {
        assert!(
            metrics.lines().any(|l| l.starts_with(&format!("{n},"))),
            "{n} not scored externally:\n{metrics}"
        );
    }
    let ext: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(a.path().join("external/external.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        ext["skipped"].as_array().unwrap().len(),
        0,
        "{}",
        ext["skipped"]
    );
    // The encoder saw the 50 development cases only; the 35 external cases were embedded by
    // it (64 features of the tiny network), with the development cohort's specification.
    let enc = a.path().join("encoder/embeddings_encoder");
    let train: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(enc.join("train.json")).unwrap()).unwrap();
    let trained: Vec<&str> = train["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let dev_json = std::fs::read_to_string(f.root.join("dev/kits23.json")).unwrap();
    let ext_json = std::fs::read_to_string(f.root.join("ext/kits23.json")).unwrap();
    assert_eq!(trained.len(), 50);
    assert!(trained
        .iter()
        .all(|id| dev_json.contains(&format!("\"{id}\""))));
    let emb = std::fs::read_to_string(a.path().join("external/embeddings.csv")).unwrap();
    assert_eq!(emb.lines().count(), 36, "35 external cases and a header");
    for l in emb.lines().skip(1) {
        let c: Vec<&str> = l.split(',').collect();
        assert_eq!(c.len(), 65);
        assert!(
            ext_json.contains(&format!("\"{}\"", c[0])),
            "{} is not external",
            c[0]
        );
        assert!(c[1..].iter().all(|v| v.parse::<f32>().unwrap().is_finite()));
    }
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(enc.join("preprocess.json")).unwrap())
            .unwrap();
    assert_eq!(spec["intensity"], false, "KiTS23 has no CT: mask planes");
    assert_eq!(
        spec["channels"],
        serde_json::json!(["kidney", "tumor", "cyst"])
    );
    let html = std::fs::read_to_string(a.path().join("report.html")).unwrap();
    assert!(html.contains("embedded by the development encoder, frozen"));
    // Two threads: the same external results, byte for byte.
    let b = tempfile::tempdir().unwrap();
    let o = run(2, b.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for file in [
        "external/metrics.csv",
        "external/predictions.csv",
        "external/embeddings.csv",
        "encoder/embeddings.csv",
    ] {
        assert_eq!(
            std::fs::read(a.path().join(file)).unwrap(),
            std::fs::read(b.path().join(file)).unwrap(),
            "{file} differs between 1 and 2 threads"
        );
    }
}

#[test]
fn a_features_and_labels_cohort_runs_the_image_model() {
    let Some(f) = fixture() else { return };
    let labels_out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["cohort", "--data"])
        .arg(f.root.join("dev"))
        .arg("--out")
        .arg(labels_out.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["reproduce", "--data"])
        .arg(f.root.join("emb.csv"))
        .arg("--labels")
        .arg(labels_out.path().join("labels.csv"))
        .arg("--experiment")
        .arg(f.root.join("experiment.toml"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t2 = std::fs::read_to_string(out.path().join("tables/table2_auc.csv")).unwrap();
    assert!(t2.lines().any(|l| l.starts_with("image RF,")), "{t2}");
    let skipped = std::fs::read_to_string(out.path().join("tables/skipped_models.csv")).unwrap();
    assert!(skipped.contains("clinical+size RF"), "{skipped}");
}

/// An image model's bundle (`train --encoder tiny`): it carries the encoder and the image
/// specification under its hashes; `predict` on a development case (its mask, its clinical
/// values) computes the embedding `train` computed for it and the probabilities of the
/// pipeline `train` fitted; a modified encoder file is refused.
#[test]
fn an_image_model_bundle_predicts_as_the_process_that_trained_it() {
    let Some(f) = fixture() else { return };
    let paper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/paper.toml");
    let dir = tempfile::tempdir().unwrap();
    let (bundle, work) = (dir.path().join("bundle"), dir.path().join("work"));
    let model = "M7 image-PCA20+clinical+size MLP";
    let o = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["train", "--data"])
        .arg(f.root.join("dev"))
        .arg("--experiment")
        .arg(&paper)
        .args(["--model", model, "--encoder", "tiny", "--work"])
        .arg(&work)
        .arg("--out")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("bundle.json")).unwrap())
            .unwrap();
    for file in ["encoder.safetensors", "encoder.json"] {
        assert!(manifest["files"][file].is_string(), "{file} not hashed");
    }
    assert_eq!(manifest["image"]["spec"]["intensity"], false);
    assert_eq!(manifest["image"]["features"], 64);
    // One development case: its clinical inputs as the training table had them.
    let table = std::fs::read_to_string(work.join("table.csv")).unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = table.lines().nth(1).unwrap().split(',').collect();
    let case = row[0];
    let clinical: serde_json::Map<String, serde_json::Value> = manifest["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "clinical")
        .filter_map(|x| {
            let name = x["name"].as_str().unwrap();
            let v: f64 = row[header.iter().position(|h| *h == name).unwrap()]
                .parse()
                .unwrap();
            (!v.is_nan()).then(|| (name.to_string(), serde_json::json!(v)))
        })
        .collect();
    let mask = f.root.join(format!("dev/cases/{case}/segmentation.nii.gz"));
    let predict = |bundle: &Path| {
        Command::new(env!("CARGO_BIN_EXE_renal-triage"))
            .args(["predict", "--model"])
            .arg(bundle)
            .args(["--case-id", case, "--clinical"])
            .arg(serde_json::Value::Object(clinical.clone()).to_string())
            .arg("--mask")
            .arg(&mask)
            .arg("--preview")
            .arg(dir.path().join("slice.png"))
            .output()
            .unwrap()
    };
    let o = predict(&bundle);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The embedding: as `train` computed it for this case (the same backend; batch of one).
    // A case's numbers in a CSV of `case_id,...` rows.
    let numbers = |file: &str| -> Vec<f64> {
        std::fs::read_to_string(work.join(file))
            .unwrap()
            .lines()
            .find(|l| l.starts_with(&format!("{case},")))
            .unwrap()
            .split(',')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let want = numbers("embeddings.csv");
    let got: Vec<f64> = p["image"]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got.len(), 64);
    for (j, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!((a - b).abs() <= 1e-5, "feature {j}: predict {a}, embed {b}");
    }
    // The probabilities: those of the pipeline `train` fitted, in its own process.
    let fr = numbers("fitted.csv");
    for (k, key) in ["p_benign", "p_indolent", "p_aggressive"]
        .iter()
        .enumerate()
    {
        let v = p[key].as_f64().unwrap();
        assert!(
            (v - fr[k]).abs() <= 1e-6,
            "{key}: predict {v}, train {}",
            fr[k]
        );
    }
    assert!(p["image"]["input"]
        .as_str()
        .unwrap()
        .contains("kidney, tumor and cyst planes"));
    let png = std::fs::read(dir.path().join("slice.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    // A modified encoder is refused, naming the file.
    let bad = dir.path().join("tampered");
    std::fs::create_dir_all(&bad).unwrap();
    for e in std::fs::read_dir(&bundle).unwrap().flatten() {
        std::fs::copy(e.path(), bad.join(e.file_name())).unwrap();
    }
    let mut w = std::fs::read(bad.join("encoder.safetensors")).unwrap();
    let last = w.len() - 1;
    w[last] ^= 1;
    std::fs::write(bad.join("encoder.safetensors"), w).unwrap();
    let o = predict(&bad);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("encoder.safetensors was modified"), "{err}");
}
