//! One answer a clinician can act on (issue 27), tested through the binary: the triage call at
//! the top of every answer, words for every categorical field (codes still accepted), unknown
//! and unused fields refused by name, imputed inputs on stderr, the operating points' rates
//! with their CIs, the SR's triage items, and the conformal sets' coverage on KiTS23 cases the
//! calibration did not see.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::bin;
use renal_testdata::shared;

struct Fixture {
    dir: tempfile::TempDir,
    /// A forest on every clinical field KiTS23 has, and the size.
    bundle: PathBuf,
    /// A forest on sex, age and the size only.
    small: PathBuf,
    mask: PathBuf,
}

const EXPERIMENT: &str = "[experiment]\nname = \"t\"\nouter_folds = 5\ninner_folds = 3\nbootstrap = 100\n[rf]\ntrees = 40\nmax_features = [\"sqrt\"]\n[[model]]\nname = \"clinical+size RF\"\nclinical = \"all\"\nsize = true\nlearner = \"rf\"\n[[model]]\nname = \"sex+age+size RF\"\nclinical = [\"sex_male\", \"age\"]\nsize = true\nlearner = \"rf\"\n";

fn train(data: &Path, exp: &Path, model: &str, out: &Path, extra: &[&str]) -> String {
    let o = bin()
        .args(["train", "--data"])
        .arg(data)
        .arg("--experiment")
        .arg(exp)
        .args(["--model", model, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Two bundles trained on 50 KiTS23 cases (15 benign, 35 malignant).
fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let shared = shared()?;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("kits");
        common::kits_subset(&shared, &data, 15, 35);
        let exp = dir.path().join("exp.toml");
        std::fs::write(&exp, EXPERIMENT).unwrap();
        let bundle = dir.path().join("bundle");
        train(&data, &exp, "clinical+size RF", &bundle, &[]);
        let small = dir.path().join("small");
        train(&data, &exp, "sex+age+size RF", &small, &[]);
        let mask = shared
            .join("kits23/cases/case_00019/segmentation.nii.gz")
            .canonicalize()
            .unwrap();
        Some(Fixture {
            dir,
            bundle,
            small,
            mask,
        })
    })
    .as_ref()
}

fn predict(bundle: &Path, args: &[&str]) -> std::process::Output {
    bin()
        .args(["predict", "--model"])
        .arg(bundle)
        .args(args)
        .output()
        .unwrap()
}

fn answer(bundle: &Path, mask: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let mut all = vec!["--mask", mask.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = predict(bundle, &all);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{args:?}: {err}");
    (serde_json::from_slice(&o.stdout).unwrap(), err)
}

fn refused(bundle: &Path, mask: &Path, args: &[&str]) -> String {
    let mut all = vec!["--mask", mask.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = predict(bundle, &all);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{args:?} was accepted: {err}");
    err
}

/// The triage call leads the answer (first after the case and the model), is coherent with
/// the operating-point decisions and the prediction set, and the study's decisions stay,
/// labelled as the study's.
#[test]
fn the_triage_call_leads_the_answer_and_agrees_with_its_decisions() {
    let Some(f) = fixture() else { return };
    let o = predict(
        &f.bundle,
        &[
            "--mask",
            f.mask.to_str().unwrap(),
            "--set",
            "age=61",
            "--set",
            "sex=male",
        ],
    );
    assert!(o.status.success());
    let (raw, err) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    );
    let p: serde_json::Value = serde_json::from_str(&raw).unwrap();
    // The answer as printed: the call, the set and the imputed count before any number.
    let at = |key: &str| raw.find(&format!("\"{key}\":")).unwrap();
    for key in ["prediction_set", "imputed_count", "imputed", "summary"] {
        assert!(at("triage") < at(key) && at(key) < at("p_benign"), "{key}");
    }
    let call = p["triage"]["call"].as_str().unwrap();
    let set: Vec<&str> = p["prediction_set"]["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let op = |task: &str| {
        p["operating_decisions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["task"] == task)
            .unwrap()["positive"]
            .as_bool()
    };
    match call {
        "benign" => assert_eq!(
            (op("malignant_vs_benign"), &set[..]),
            (Some(false), &["benign"][..])
        ),
        "malignant_indolent" => assert_eq!(set, ["indolent"]),
        "malignant_aggressive" => {
            assert_eq!(op("malignant_vs_benign"), Some(true));
            assert_eq!(set, ["aggressive"]);
        }
        "indeterminate" => assert!(p["triage"]["classes"].as_array().unwrap().len() >= 2),
        other => panic!("call {other}"),
    }
    assert!(p["summary"].as_str().unwrap().starts_with(&format!(
        "Triage call: {}.",
        p["triage"]["headline"].as_str().unwrap()
    )));
    assert!(err.contains("triage call:"), "{err}");
    // The study's decisions, labelled as the study's, one per task.
    for d in p["decisions"].as_array().unwrap() {
        assert_eq!(d["kind"], "study");
        assert!(d["statement"].as_str().unwrap().contains("study's"), "{d}");
        // Every decision says what its threshold did in development, the study's too.
        assert!(
            d["meaning"]
                .as_str()
                .unwrap()
                .contains("this threshold flagged"),
            "{d}"
        );
    }
    // The operating point's decision says what its threshold did in development, in words.
    let mvb = p["operating_decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["task"] == "malignant_vs_benign")
        .unwrap();
    assert_eq!(mvb["rule"], "sens:0.95");
    let meaning = mvb["meaning"].as_str().unwrap();
    assert!(
        meaning.contains("this threshold flagged") && meaning.contains("of malignant masses"),
        "{meaning}"
    );
    // Imputed inputs: counted at the top and listed, in words, on stderr.
    let n = p["imputed_count"].as_u64().unwrap() as usize;
    assert_eq!(n, p["imputed"].as_array().unwrap().len());
    assert!(n > 0);
    assert!(
        err.contains(&format!("{n} of the model's")) && err.contains("body-mass index"),
        "{err}"
    );
}

/// Every categorical field the bundle takes answers the same to its word, to a synonym and
/// to its code.
#[test]
fn every_categorical_field_takes_words_synonyms_and_codes() {
    let Some(f) = fixture() else { return };
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.bundle.join("bundle.json")).unwrap())
            .unwrap();
    let mut fields: Vec<String> = m["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "clinical")
        .map(|x| x["name"].as_str().unwrap().to_string())
        .filter(|n| renal_cohort::words::levels(n).is_some())
        .collect();
    fields.sort();
    assert!(
        fields.len() >= 5 && fields.iter().any(|n| n == "smoking_status"),
        "{fields:?}"
    );
    let probs = |p: &serde_json::Value| {
        ["p_benign", "p_indolent", "p_aggressive"].map(|k| p[k].as_f64().unwrap())
    };
    let mut checked = 0;
    for name in &fields {
        let levels = renal_cohort::words::levels(name).unwrap();
        let key = if name == "sex_male" {
            "sex"
        } else {
            name.as_str()
        };
        for l in levels {
            let mut spellings = vec![
                l.word.to_string(),
                l.word.to_uppercase(),
                format!("{}", l.code),
            ];
            spellings.extend(l.synonyms.iter().take(1).map(|s| s.to_string()));
            let mut seen = Vec::new();
            for s in &spellings {
                let (p, _) = answer(&f.bundle, &f.mask, &["--set", &format!("{key}={s}")]);
                seen.push(probs(&p));
            }
            assert!(
                seen.windows(2).all(|w| w[0] == w[1]),
                "{name}: {spellings:?} gave {seen:?}"
            );
            checked += 1;
        }
        // "unknown" is missing: imputed, and said so.
        let (p, _) = answer(&f.bundle, &f.mask, &["--set", &format!("{key}=unknown")]);
        assert!(
            p["imputed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == name.as_str()),
            "{name}=unknown"
        );
    }
    assert!(checked >= 10);
    // JSON takes the same words.
    let (a, _) = answer(
        &f.bundle,
        &f.mask,
        &[
            "--clinical",
            r#"{"smoking_status": "Former", "sex": "female"}"#,
        ],
    );
    let (b, _) = answer(
        &f.bundle,
        &f.mask,
        &["--set", "smoking_status=1", "--set", "sex=0"],
    );
    assert_eq!(probs(&a), probs(&b));
}

/// An unknown field, an allow-listed one the model does not use, a leaking one: exit 2, each
/// named, with the fields the model uses and a "did you mean".
#[test]
fn unknown_and_unused_fields_are_refused_by_name() {
    let Some(f) = fixture() else { return };
    let e = refused(&f.bundle, &f.mask, &["--set", "egfr=80"]);
    assert!(
        e.contains("`egfr`") && e.contains("did you mean `preop_egfr`?"),
        "{e}"
    );
    assert!(e.contains("this model's clinical inputs are:"), "{e}");
    let e = refused(&f.small, &f.mask, &["--set", "radiographic_size_cm=3"]);
    assert!(
        e.contains("`radiographic_size_cm`") && e.contains("not used by this model"),
        "{e}"
    );
    assert!(e.contains("sex, age"), "{e}");
    let e = refused(&f.small, &f.mask, &["--set", "hypertension=1"]);
    assert!(
        e.contains("`hypertension`") && e.contains("not used"),
        "{e}"
    );
    let e = refused(&f.bundle, &f.mask, &["--set", "tumor_isup_grade=3"]);
    assert!(
        e.contains("tumor_isup_grade") && e.contains("pathology"),
        "{e}"
    );
    // The same through the API: 400 naming the field.
    let s = common::start(&f.small, &["--allow-weak-model"]);
    let (code, j) = common::post(
        &format!("{}/api/v1/predict", s.url),
        "application/json",
        br#"{"clinical": {"bmi": 25}}"#,
    );
    assert_eq!(code, 400, "{j}");
    assert_eq!(j["field"], "bmi", "{j}");
}

/// A bad value of each field type is a clear error naming the field and what it accepts.
#[test]
fn bad_values_of_each_field_type_say_what_is_accepted() {
    let Some(f) = fixture() else { return };
    for (arg, field, expects) in [
        ("age=old", "age", "a number from 0 to 120"),
        ("age=400", "age", "`age` = 400"),
        ("diabetes=maybe", "diabetes", "yes (yes; code 1"),
        (
            "smoking_status=sometimes",
            "smoking_status",
            "former (former smoker; code 1",
        ),
        ("alcohol_use=7", "alcohol_use", "more_than_2_daily"),
        ("chewing_tobacco=weekly", "chewing_tobacco", "quit_recently"),
        ("sex=other", "sex", "female (female; code 0"),
    ] {
        let e = refused(&f.bundle, &f.mask, &["--set", arg]);
        assert!(e.contains(field) && e.contains(expects), "{arg}: {e}");
    }
}

/// `inspect --fields`: each field's name, meaning, unit, values and training range.
#[test]
fn inspect_lists_the_fields_in_words() {
    let Some(f) = fixture() else { return };
    let o = bin()
        .args(["inspect", "--fields"])
        .arg(&f.bundle)
        .output()
        .unwrap();
    assert!(o.status.success());
    let t = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "smoking_status  (Smoking)",
        "former (code 1): former smoker; also previous_smoker",
        "preop_egfr  (eGFR before surgery)",
        "a number, 0 to 250 ml/min/1.73m2",
        "training cases:",
        "unknown: missing",
    ] {
        assert!(t.contains(needle), "`{needle}` not in:\n{t}");
    }
    // The OpenAPI description of the served bundle: enums of words, units and ranges.
    let s = common::start(&f.bundle, &["--allow-weak-model"]);
    let oa: serde_json::Value = ureq::get(&format!("{}/openapi.json", s.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let c = &oa["components"]["schemas"]["Clinical"]["properties"];
    let words = c["smoking_status"]["oneOf"][0]["enum"].as_array().unwrap();
    assert_eq!(words, &["never", "former", "current", "unknown"]);
    assert_eq!(c["age"]["maximum"], 120.0);
    assert!(c["preop_egfr"]["description"]
        .as_str()
        .unwrap()
        .contains("ml/min/1.73m2"));
    let m: serde_json::Value = ureq::get(&format!("{}/api/v1/model", s.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert!(m["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "diabetes" && x["values"].as_array().unwrap().len() == 4));
}

/// The operating point of `train`: its pooled out-of-fold rates with Wilson CIs, printed and
/// stored; a target that cannot be parsed is refused.
#[test]
fn train_reports_the_operating_points_with_their_intervals() {
    let Some(f) = fixture() else { return };
    let data = f.dir.path().join("kits");
    let exp = f.dir.path().join("exp.toml");
    let out = f.dir.path().join("op-bundle");
    let stdout = train(
        &data,
        &exp,
        "sex+age+size RF",
        &out,
        &[
            "--operating-point",
            "malignant_vs_benign=sens:0.9,aggressive_vs_rest=spec:0.8",
        ],
    );
    assert!(
        stdout.contains("malignant vs benign at a sensitivity of at least 90%: threshold"),
        "{stdout}"
    );
    assert!(stdout.contains("95% CI"), "{stdout}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bundle.json")).unwrap()).unwrap();
    let ops = m["operating_points"].as_array().unwrap();
    let mvb = ops
        .iter()
        .find(|o| o["task"] == "malignant_vs_benign")
        .unwrap();
    assert_eq!(mvb["rule"], "sens:0.9");
    let sens = &mvb["cv"]["metrics"]["sensitivity"];
    // The CV threshold reaches the target on the inner folds; on the pooled outer
    // predictions it is an honest estimate, reported with its interval.
    let (k, n) = (sens["k"].as_u64().unwrap(), sens["n"].as_u64().unwrap());
    assert_eq!(n, 35, "the 35 malignant cases");
    assert_eq!(sens["estimate"].as_f64().unwrap(), k as f64 / n as f64);
    let ci = sens["ci95"].as_array().unwrap();
    assert!(
        ci[0].as_f64().unwrap() <= k as f64 / n as f64
            && ci[1].as_f64().unwrap() >= k as f64 / n as f64
    );
    let avr = ops
        .iter()
        .find(|o| o["task"] == "aggressive_vs_rest")
        .unwrap();
    assert_eq!(avr["rule"], "spec:0.8");
    let o = bin()
        .args(["train", "--data"])
        .arg(&data)
        .arg("--experiment")
        .arg(&exp)
        .args([
            "--model",
            "sex+age+size RF",
            "--operating-point",
            "malignant_vs_benign=sens:1.5",
            "--out",
        ])
        .arg(f.dir.path().join("never"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("strictly between 0 and 1"));
}

/// The SR of a non-DICOM input: filed under `--study-uid` and `--patient-id`, holding the
/// triage call, the prediction set and each decision tied to its task; dciodvfy finds no
/// error.
#[test]
fn the_sr_carries_the_triage_call_and_the_set() {
    let Some(f) = fixture() else { return };
    if std::process::Command::new("dsrdump")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(!renal_testdata::under_ci(), "dcmtk is required under CI");
        return;
    }
    let sr = f.dir.path().join("triage-sr.dcm");
    let (p, _) = answer(
        &f.bundle,
        &f.mask,
        &[
            "--set",
            "age=70",
            "--sr",
            sr.to_str().unwrap(),
            "--study-uid",
            "1.2.826.0.1.3680043.10.1234",
            "--patient-id",
            "PAT-27",
        ],
    );
    let o = std::process::Command::new("dsrdump")
        .args(["+Pl", "+Pc"])
        .arg(&sr)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let headline = p["triage"]["headline"].as_str().unwrap();
    for needle in [
        format!("\"Triage call\")=\"{headline}"),
        format!(
            "\"Prediction set at 90% coverage (split-conformal)\")=\"{}\"",
            p["prediction_set"]["words"].as_str().unwrap()
        ),
        "\"Decision, malignant vs benign, operating point\")".to_string(),
        "\"Decision, malignant vs benign, study's Youden\")".to_string(),
        "\"Threshold, aggressive vs rest, operating point\")".to_string(),
        "\"Inputs missing, replaced by the training median\")".to_string(),
    ] {
        assert!(out.contains(&needle), "`{needle}` not in:\n{out}");
    }
    // The diameter to 0.1 mm.
    let d = p["tumor_size_mm"].as_f64().unwrap();
    assert!(
        out.contains(&format!(
            "(81827009,SCT,\"Diameter\")=\"{}\"",
            (d * 10.0).round() / 10.0
        )),
        "{out}"
    );
    let dump = std::process::Command::new("dcmdump")
        .arg(&sr)
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.contains("(0020,000d) UI [1.2.826.0.1.3680043.10.1234]"),
        "{dump}"
    );
    assert!(dump.contains("(0010,0020) LO [PAT-27]"), "{dump}");
    common::dciodvfy_clean(&sr);
    // A UID that is not one is refused before anything is written.
    let e = refused(
        &f.bundle,
        &f.mask,
        &["--sr", sr.to_str().unwrap(), "--study-uid", "1.2.abc"],
    );
    assert!(e.contains("not a DICOM UID"), "{e}");
}

/// Conformal coverage on cases the conformal step did not see: KiTS23 split by case id
/// (develop below 200, test from 200). The 80%, 90% and 95% sets cover within 0.06 of nominal
/// overall; per class is reported; `validate` prints the numbers of `external/conformal.csv`,
/// and the report shows them.
#[test]
fn conformal_sets_cover_the_later_cases_at_their_nominal_rate() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let all = common::kits23_records(&shared);
    let number = |r: &serde_json::Value| -> u32 {
        r["case_id"].as_str().unwrap()["case_".len()..]
            .parse()
            .unwrap()
    };
    let dev: Vec<&serde_json::Value> = all.iter().filter(|r| number(r) < 200).collect();
    let ext: Vec<&serde_json::Value> = all.iter().filter(|r| number(r) >= 200).collect();
    assert!(
        dev.len() >= 190 && ext.len() >= 90,
        "{} / {}",
        dev.len(),
        ext.len()
    );
    common::kits_folder(&shared, &dir.path().join("dev"), &dev, &[]);
    common::kits_folder(&shared, &dir.path().join("ext"), &ext, &[]);
    let exp = dir.path().join("exp.toml");
    std::fs::write(&exp, "[experiment]\nname = \"conformal\"\nouter_folds = 5\ninner_folds = 3\nbootstrap = 50\n[rf]\ntrees = 100\nmax_features = [\"sqrt\"]\n[[model]]\nname = \"clinical+size RF\"\nclinical = \"all\"\nsize = true\nlearner = \"rf\"\n").unwrap();
    let out = dir.path().join("out");
    let o = bin()
        .args(["validate", "--encoder", "none", "--train"])
        .arg(dir.path().join("dev"))
        .arg("--test")
        .arg(dir.path().join("ext"))
        .arg("--experiment")
        .arg(&exp)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("external/conformal.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "model",
            "coverage",
            "n",
            "empirical",
            "benign",
            "indolent",
            "aggressive",
            "benign_n",
            "indolent_n",
            "aggressive_n",
            "mean_set_size"
        ]
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let mut nominal = Vec::new();
    for line in lines {
        let c: Vec<&str> = line.split(',').collect();
        let v = |i: usize| c[i].parse::<f64>().unwrap();
        let (cov, n, emp) = (v(1), v(2), v(3));
        nominal.push(cov);
        assert!(
            (emp - cov).abs() <= 0.06,
            "coverage {emp} at nominal {cov} (n = {n})"
        );
        // Per class: the shares (a class without cases is empty) and their counts add up.
        let counts = [v(7), v(8), v(9)];
        assert_eq!(counts.iter().sum::<f64>(), n);
        let covered: f64 = (0..3)
            .filter(|k| counts[*k] > 0.0)
            .map(|k| v(4 + k) * counts[k])
            .sum();
        assert!((covered / n - emp).abs() < 1e-9);
        eprintln!(
            "nominal {cov}: empirical {emp}; benign {} indolent {} aggressive {}; mean size {}",
            c[4], c[5], c[6], c[10]
        );
        // The same numbers in validate's output and in the report.
        let printed = format!("nominal {cov:.2}: {emp:.3} (n = {n})");
        assert!(stdout.contains(&printed), "`{printed}` not in:\n{stdout}");
        assert!(
            html.contains(&format!("<td>{emp:.3}</td>")),
            "report lacks {emp:.3}"
        );
    }
    assert_eq!(nominal, [0.8, 0.9, 0.95]);
    // Under CV, the development cohort's own coverage table.
    let cv = std::fs::read_to_string(out.join("tables/table_conformal_coverage.csv")).unwrap();
    assert_eq!(cv.lines().count(), 4, "{cv}");
}

/// The one-page patient report in headless Chromium: the intended use and the classes at the
/// top, then the triage call before any number; no internal field name anywhere in its text.
#[test]
fn the_patient_report_leads_with_the_call_in_words() {
    let Some(f) = fixture() else { return };
    let report = f.dir.path().join("patient-report-27.html");
    answer(
        &f.bundle,
        &f.mask,
        &[
            "--set",
            "age=58",
            "--set",
            "smoking_status=current",
            "--set",
            "diabetes=with_end_organ_damage",
            "--case-id",
            "report-27",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let Some(browser) = common::Browser::start() else {
        return;
    };
    let d = &browser.d;
    d.cmd(
        "POST",
        "/url",
        serde_json::json!({"url": format!("file://{}", report.display())}),
    );
    let text = d.cmd(
        "POST",
        "/execute/sync",
        serde_json::json!({"script": "return document.body.innerText", "args": []}),
    );
    let text = text.as_str().unwrap();
    browser.screenshot("patient-report-triage.png");
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` not in the report:\n{text}"))
    };
    assert!(at("Intended use.") < at("Triage call:"));
    assert!(at("Malignant, aggressive") < at("Triage call:"));
    for later in [
        "probability",
        "Decisions at the chosen operating points",
        "The study's decisions",
        "Model card",
    ] {
        assert!(at("Triage call:") < at(later), "{later} before the call");
    }
    // No internal name: no allow-listed field, feature column or task name in the text.
    let mut internal: Vec<String> = renal_cohort::ALLOWED
        .iter()
        .map(|s| s.name.to_string())
        .filter(|n| n.contains('_'))
        .collect();
    internal.extend(
        [
            "tumor_size_mm",
            "log_tumor_size_mm",
            "malignant_vs_benign",
            "aggressive_vs_rest",
            "aggressive_vs_indolent",
            "never_or_not_in_the_last_3_months",
        ]
        .map(String::from),
    );
    for name in &internal {
        assert!(
            !text.contains(name.as_str()),
            "`{name}` in the report text:\n{text}"
        );
    }
    // The probability bars have a scale.
    let scale = d.cmd(
        "POST",
        "/execute/sync",
        serde_json::json!({"script": "return document.querySelectorAll('.scale span').length", "args": []}),
    );
    assert!(scale.as_u64().unwrap() >= 10, "{scale}");
}

/// An unsigned bundle under `--trusted-keys` is refused by every command that loads a bundle
/// (`inspect`, `predict`, `serve`), naming the missing signature; without the option it loads.
#[test]
fn an_unsigned_bundle_is_refused_under_trusted_keys() {
    let Some(f) = fixture() else { return };
    let keys = f.dir.path().join("trusted.txt");
    std::fs::write(
        &keys,
        "ed25519:53eadb9caf81c61e8c417ca84f174a95c60ad1652b2dfced8e76b7fdfc496a74\n",
    )
    .unwrap();
    let k = keys.to_str().unwrap();
    let e = refused(&f.bundle, &f.mask, &["--trusted-keys", k]);
    assert!(
        e.contains("not signed") && e.contains("--trusted-keys"),
        "{e}"
    );
    let inspect = bin()
        .args(["inspect", "--trusted-keys", k])
        .arg(&f.bundle)
        .output()
        .unwrap();
    let serve = bin()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--trusted-keys",
            k,
            "--model",
        ])
        .arg(&f.bundle)
        .output()
        .unwrap();
    for (what, o) in [("inspect", inspect), ("serve", serve)] {
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {e}");
        assert!(e.contains("not signed"), "{what}: {e}");
    }
    let (p, _) = answer(&f.bundle, &f.mask, &[]);
    assert!(p["triage"]["call"].is_string(), "loads without the option");
}
