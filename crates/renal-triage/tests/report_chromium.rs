//! The report opens in headless Chromium (Debian's `chromium`) without errors; a screenshot is
//! kept as a test artifact in `target/test-artifacts/report.png`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

mod common;

use std::path::Path;
use std::process::Command;

use renal_testdata::{shared, under_ci};

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn headless(args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(chromium().unwrap())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(shared) = shared() else { return };
    if chromium().is_none() {
        assert!(
            !under_ci(),
            "chromium is required under CI (.ci/run installs Debian's chromium)"
        );
        eprintln!("SKIPPED: chromium not installed");
        return;
    }
    // A small run: 40 cases, one fast model.
    let dir = tempfile::tempdir().unwrap();
    let all = common::kits23_records(&shared);
    let benign: Vec<&serde_json::Value> = all
        .iter()
        .filter(|r| r["malignant"] == false)
        .take(10)
        .collect();
    let malignant: Vec<&serde_json::Value> = all
        .iter()
        .filter(|r| r["malignant"] == true)
        .take(30)
        .collect();
    let keep: Vec<&serde_json::Value> = benign.into_iter().chain(malignant).collect();
    let data = dir.path().join("kits");
    common::kits_folder(&shared, &data, &keep, &[]);
    std::fs::write(dir.path().join("exp.toml"), "[experiment]\nname = \"render\"\nouter_folds = 5\ninner_folds = 3\nbootstrap = 100\n[rf]\ntrees = 30\n[[model]]\nname = \"clinical+size RF\"\nclinical = \"all\"\nsize = true\nlearner = \"rf\"\n[[model]]\nname = \"size+sex LR\"\nclinical = [\"sex_male\"]\nsize = true\nlearner = \"logistic\"\n").unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args(["reproduce", "--data"])
        .arg(&data)
        .arg("--experiment")
        .arg(dir.path().join("exp.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let url = format!("file://{}", out.join("report.html").display());
    let dom = headless(&["--dump-dom", &url]);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let html = String::from_utf8_lossy(&dom.stdout);
    for needle in [
        "Table 1",
        "Table 2",
        "Figure 3",
        "Figure 4",
        "Figure 5",
        "Table 6",
        "TRIPOD",
        "<svg",
        "Bland-Altman",
    ] {
        assert!(html.contains(needle), "rendered DOM lacks {needle}");
    }
    // Issue 27: a summary first and the configuration last; counts as integers and small
    // p-values as "< 0.001"; Holm-adjusted p-values and Brier skill scores; calibration as one
    // panel per model; tasks and columns in words (the CSV files keep the machine names).
    let sections: Vec<&str> = html
        .match_indices("<section")
        .map(|(i, _)| &html[i..])
        .collect();
    assert!(sections[0].contains("Summary") && sections[0].contains("Best model per task"));
    assert!(
        sections[0].contains("Caveats: (1) Only 10 benign cases"),
        "{}",
        &sections[0][..2000.min(sections[0].len())]
    );
    assert!(sections.last().unwrap().contains("Appendix: configuration"));
    assert!(html.contains("p (Holm-adjusted)") && html.contains("Brier skill score"));
    assert!(html.contains("Operating points chosen for the clinical question"));
    assert!(html.contains("Conformal prediction sets (class-conditional) under cross-validation"));
    assert!(html.contains("ROC AUC") && html.contains("malignant vs benign"));
    let t4 = std::fs::read_to_string(out.join("tables/table3_malignant_vs_benign.csv")).unwrap();
    assert!(
        t4.starts_with("model,pr_auc,threshold,sensitivity,specificity,precision,f1,tp,fp,tn,fn"),
        "{t4}"
    );
    // A count: `tp` in the CSV as a number, on the page as an integer.
    let tp = t4
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(7)
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert!(html.contains(&format!("<td>{}</td>", tp as i64)));
    assert!(
        !html.contains(&format!("<td>{tp:.3}</td>")),
        "a count with decimals"
    );
    let t5 = std::fs::read_to_string(out.join("tables/table5_brier.csv")).unwrap();
    assert!(
        t5.starts_with("model,task,brier,brier_reference,brier_skill"),
        "{t5}"
    );
    let cal =
        std::fs::read_to_string(out.join("figures/calibration_malignant_vs_benign.svg")).unwrap();
    assert_eq!(
        cal.matches("<svg").count(),
        3,
        "one panel per model (two models)"
    );
    for f in [
        "importance_malignant_vs_benign.svg",
        "importance_aggressive_vs_rest.svg",
    ] {
        assert!(out.join("figures").join(f).is_file(), "{f}");
    }
    let stderr = String::from_utf8_lossy(&dom.stderr);
    for bad in ["Uncaught", "Failed to load resource", "net::ERR", "CONSOLE"] {
        assert!(
            !stderr.contains(bad),
            "chromium reported `{bad}`:\n{stderr}"
        );
    }
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("report.png");
    let s = headless(&[
        "--window-size=1200,4000",
        &format!("--screenshot={}", shot.display()),
        &url,
    ]);
    assert!(
        s.status.success() && shot.metadata().unwrap().len() > 10_000,
        "{}",
        String::from_utf8_lossy(&s.stderr)
    );
}
