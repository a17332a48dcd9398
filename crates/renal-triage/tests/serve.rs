//! Model bundles, `predict` and `serve`, tested as a user would: the CLI, the JSON API on
//! loopback, bad input (each a clear 4xx naming the problem, the server staying up), and the
//! web form driven in headless Chromium through chromedriver.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use common::{bin, multipart, post, start, Browser};
use renal_testdata::shared;

struct Fixture {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    /// An image model (mask planes through a tiny SimCLR encoder, then a forest).
    image_bundle: PathBuf,
    mask: PathBuf,
}

/// Trains a small bundle (clinical + size forest) on 50 KiTS23 cases.
fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let shared = shared()?;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("kits");
        common::kits_subset(&shared, &data, 15, 35);
        let exp = dir.path().join("exp.toml");
        std::fs::write(&exp, "[experiment]\nname = \"t\"\nouter_folds = 5\ninner_folds = 3\nbootstrap = 100\n[rf]\ntrees = 40\nmax_features = [\"sqrt\", 0.3]\n[[model]]\nname = \"clinical+size RF\"\nclinical = \"all\"\nsize = true\nlearner = \"rf\"\n[[model]]\nname = \"size+sex MLP\"\nclinical = [\"sex_male\", \"age\"]\nsize = true\nlearner = \"mlp\"\n").unwrap();
        let bundle = dir.path().join("bundle");
        let o = bin().args(["train", "--data"]).arg(&data).arg("--experiment").arg(&exp).args(["--model", "clinical+size RF", "--out"]).arg(&bundle).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mlp = dir.path().join("bundle-mlp");
        let o = bin().args(["train", "--data"]).arg(&data).arg("--experiment").arg(&exp).args(["--model", "size+sex MLP", "--out"]).arg(&mlp).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let image_exp = dir.path().join("image.toml");
        std::fs::write(&image_exp, "[experiment]\nname = \"i\"\nouter_folds = 3\ninner_folds = 3\nbootstrap = 100\n[rf]\ntrees = 40\nmax_features = [\"sqrt\"]\n[[model]]\nname = \"image RF\"\nembeddings = \"all\"\nlearner = \"rf\"\n").unwrap();
        let image_bundle = dir.path().join("bundle-image");
        let o = bin().args(["train", "--data"]).arg(&data).arg("--experiment").arg(&image_exp).args(["--model", "image RF", "--encoder", "tiny", "--out"]).arg(&image_bundle).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mask = shared.join("kits23/cases/case_00019/segmentation.nii.gz").canonicalize().unwrap();
        Some(Fixture { _dir: dir, bundle, image_bundle, mask })
    })
    .as_ref()
}

#[test]
fn bundle_is_self_describing_and_tampering_is_detected() {
    let Some(f) = fixture() else { return };
    let o = bin().arg("inspect").arg(&f.bundle).output().unwrap();
    assert!(o.status.success());
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(m["model_name"], "clinical+size RF");
    assert_eq!(m["format_version"], 1);
    assert!(m["thresholds"].as_array().unwrap().len() == 2);
    assert!(m["features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "tumor_size_mm" && f["kind"] == "size"));
    assert_eq!(m["training"]["cases"], 50);
    // The MLP bundle keeps its weights in safetensors (that a reload predicts bit for bit what
    // the fitted pipeline did is `model::bundle`'s unit test); from the command line, two
    // processes loading it give the same probabilities, a distribution over the 3 classes.
    let mlp = f.bundle.parent().unwrap().join("bundle-mlp");
    assert!(mlp.join("mlp.safetensors").is_file());
    let run = || {
        let o = bin()
            .args(["predict", "--model"])
            .arg(&mlp)
            .args(["--set", "age=60", "--set", "sex=female", "--mask"])
            .arg(&f.mask)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (p1, p2) = (run(), run());
    assert_eq!(p1, p2);
    let sum: f64 = ["p_benign", "p_indolent", "p_aggressive"]
        .iter()
        .map(|k| p1[k].as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-9, "{p1}");
    // Tampering: copy the bundle, flip one byte of the pipeline.
    let t = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&f.bundle).unwrap().flatten() {
        std::fs::copy(e.path(), t.path().join(e.file_name())).unwrap();
    }
    let p = t.path().join("pipeline.json");
    let mut b = std::fs::read(&p).unwrap();
    let k = b.iter().position(|&c| c == b'5').unwrap();
    b[k] = b'6';
    std::fs::write(&p, b).unwrap();
    let o = bin().arg("inspect").arg(t.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("pipeline.json was modified"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A bundle from another format version.
    let m = t.path().join("bundle.json");
    let text = std::fs::read_to_string(&m)
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 99");
    std::fs::write(&m, text).unwrap();
    let o = bin().arg("inspect").arg(t.path()).output().unwrap();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("format version 99"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn predict_cli_answers_and_rejects_bad_input() {
    let Some(f) = fixture() else { return };
    let o = bin()
        .args(["predict", "--model"])
        .arg(&f.bundle)
        .args([
            "--clinical",
            r#"{"age": 61, "sex": "male", "bmi": 28.5}"#,
            "--mask",
        ])
        .arg(&f.mask)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (b, i, a) = (
        p["p_benign"].as_f64().unwrap(),
        p["p_indolent"].as_f64().unwrap(),
        p["p_aggressive"].as_f64().unwrap(),
    );
    assert!((b + i + a - 1.0).abs() < 1e-9);
    assert!((p["p_malignant"].as_f64().unwrap() - (1.0 - b)).abs() < 1e-12);
    // Computed size of case_00019's index tumor (golden: 15.7154 mm).
    assert!((p["tumor_size_mm"].as_f64().unwrap() - 15.715363700850197).abs() < 1e-9);
    assert!(p["imputed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "preop_egfr"));
    assert_eq!(p["decisions"].as_array().unwrap().len(), 2);
    let err = |args: &[&str]| {
        let o = bin()
            .args(["predict", "--model"])
            .arg(&f.bundle)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    assert!(err(&["--set", "age=400", "--mask", f.mask.to_str().unwrap()]).contains("`age` = 400"));
    assert!(err(&["--set", "age=60"]).contains("mask"));
    assert!(err(&[
        "--set",
        "pathologic_size=3",
        "--mask",
        f.mask.to_str().unwrap()
    ])
    .contains("pathologic_size"));
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"definitely not an image").unwrap();
    assert!(err(&["--mask", junk.path().to_str().unwrap()]).contains("not a NIfTI file"));
    assert!(err(&["--clinical", "{age: 3"]).contains("--clinical"));
}

#[test]
fn json_api_answers_and_rejects_bad_input_staying_up() {
    let Some(f) = fixture() else { return };
    let s = start(&f.bundle, &["--max-upload-mib", "4"]);
    let api = format!("{}/api/v1/predict", s.url);
    let h: serde_json::Value = ureq::get(&format!("{}/healthz", s.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(h["status"], "ok");
    let m: serde_json::Value = ureq::get(&format!("{}/api/v1/model", s.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(m["model_name"], "clinical+size RF");
    let oa: serde_json::Value = ureq::get(&format!("{}/openapi.json", s.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert!(oa["paths"]["/api/v1/predict"]["post"].is_object());
    let mask = std::fs::read(&f.mask).unwrap();
    let (ct, body) = multipart(
        &[
            ("clinical", r#"{"age": 61, "sex": "male"}"#),
            ("case_id", "p1"),
        ],
        &[("mask", "seg.nii.gz", &mask)],
    );
    let (code, p) = post(&api, &ct, &body);
    assert_eq!(code, 200, "{p}");
    // Same answer as the CLI for the same inputs.
    let cli = bin()
        .args(["predict", "--model"])
        .arg(&f.bundle)
        .args([
            "--set",
            "age=61",
            "--set",
            "sex=male",
            "--case-id",
            "p1",
            "--mask",
        ])
        .arg(&f.mask)
        .output()
        .unwrap();
    let cp: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(p["p_aggressive"], cp["p_aggressive"]);
    // Bad input, one by one; the server answers each with a 4xx naming the problem.
    type Case<'a> = (u16, &'a str, (String, Vec<u8>));
    let cases: Vec<Case> = vec![
        (
            400,
            "age",
            multipart(&[("age", "400")], &[("mask", "m.nii.gz", &mask)]),
        ),
        (400, "mask", multipart(&[("age", "60")], &[])),
        (
            400,
            "mask",
            multipart(&[], &[("mask", "notes.txt", b"hello, not an image")]),
        ),
        (
            400,
            "mask",
            multipart(&[], &[("mask", "../../etc/passwd", &mask)]),
        ),
        (
            400,
            "clinical",
            multipart(
                &[("clinical", "{\"age\": 6")],
                &[("mask", "m.nii.gz", &mask)],
            ),
        ),
        (
            400,
            "pathologic_size",
            multipart(&[("pathologic_size", "3")], &[("mask", "m.nii.gz", &mask)]),
        ),
    ];
    for (want, field, (ct, body)) in &cases {
        let (code, e) = post(&api, ct, body);
        assert_eq!(code, *want, "{field}: {e}");
        assert_eq!(e["field"], *field, "{e}");
        assert!(!e["error"].as_str().unwrap().is_empty());
    }
    let (code, e) = post(&api, "application/json", b"{\"clinical\": ");
    assert_eq!(code, 400, "{e}");
    let (code, _) = post(&api, "text/plain", b"hello");
    assert_eq!(code, 415);
    // A CT phase on another grid than the mask.
    let ct_other = tempfile::tempdir().unwrap();
    let g = renal_imaging::Geometry::with_spacing([4, 4, 4], [1.0, 1.0, 1.0]);
    let ctp = ct_other.path().join("ct.nii.gz");
    renal_imaging::write_nifti(
        &ctp,
        &g,
        &[0i16; 64],
        renal_imaging::WriteOptions::default(),
    )
    .unwrap();
    let (ct, body) = multipart(
        &[],
        &[
            ("mask", "m.nii.gz", &mask),
            ("ct_venous", "ct.nii.gz", &std::fs::read(&ctp).unwrap()),
        ],
    );
    let (code, e) = post(&api, &ct, &body);
    assert_eq!((code, e["field"].as_str()), (400, Some("ct_venous")), "{e}");
    // A 2 GB upload: refused from its declared length, before any byte of it is sent (the
    // client waits for `100 Continue`, as curl does for large bodies).
    let (code, e) = declare_upload(&api, 2 * 1024 * 1024 * 1024);
    assert_eq!(code, 413, "{e}");
    assert_eq!(e["field"], "body");
    // Still up, and the uploads were deleted.
    let (code, _) = post(
        &api,
        &multipart(&[("clinical", "{}")], &[("mask", "seg.nii.gz", &mask)]).0,
        &multipart(&[("clinical", "{}")], &[("mask", "seg.nii.gz", &mask)]).1,
    );
    assert_eq!(code, 200);
    let uploads = std::env::temp_dir().join(format!("renal-triage-uploads-{}", s.child.id()));
    assert_eq!(
        std::fs::read_dir(&uploads).unwrap().count(),
        0,
        "uploads are deleted after use"
    );
}

/// Sends only the headers of a multipart POST declaring `length` bytes, with
/// `Expect: 100-continue`, and reads the server's answer.
fn declare_upload(url: &str, length: u64) -> (u16, serde_json::Value) {
    use std::io::Read;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp).to_string();
    let code = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (code, serde_json::from_str(body).unwrap_or_default())
}

#[test]
fn web_form_in_headless_chromium() {
    let Some(f) = fixture() else { return };
    let Some(browser) = Browser::start() else {
        return;
    };
    let s = start(&f.bundle, &[]);
    let d = &browser.d;
    d.cmd("POST", "/url", serde_json::json!({"url": s.url}));
    d.type_into("#case_id", "browser-case");
    d.type_into("#age", "63");
    d.type_into("#bmi", "29.5");
    let sex = d.find("#sex option[value='female']");
    d.cmd(
        "POST",
        &format!("/element/{sex}/click"),
        serde_json::json!({}),
    );
    // Labels in words with units, bound to their inputs; yes/no as three-state choices
    // (unknown the default); categories in clinical words; groups as fieldsets.
    let text_of = |css: &str| {
        let e = d.find(css);
        d.cmd("GET", &format!("/element/{e}/text"), serde_json::json!({}))
            .as_str()
            .unwrap()
            .to_string()
    };
    let attr = |css: &str, name: &str| {
        let e = d.find(css);
        d.cmd(
            "GET",
            &format!("/element/{e}/attribute/{name}"),
            serde_json::json!({}),
        )
    };
    let click = |css: &str| {
        let e = d.find(css);
        d.cmd(
            "POST",
            &format!("/element/{e}/click"),
            serde_json::json!({}),
        );
    };
    assert!(text_of("label[for='age']").contains("(years"), "age label");
    assert!(text_of("label[for='bmi']").contains("kg/m2"), "bmi label");
    assert!(text_of("label[for='preop_egfr']").contains("ml/min/1.73m2"));
    let mi = d.find("#comorbidity_myocardial_infarction");
    assert_eq!(
        d.cmd("GET", &format!("/element/{mi}/name"), serde_json::json!({})),
        "select"
    );
    let options: Vec<String> = ["", "no", "yes"]
        .iter()
        .map(|v| {
            text_of(&format!(
                "#comorbidity_myocardial_infarction option[value='{v}']"
            ))
        })
        .collect();
    assert_eq!(options, ["unknown", "no", "yes"]);
    click("#comorbidity_myocardial_infarction option[value='yes']");
    assert_eq!(
        text_of("label[for='comorbidity_myocardial_infarction']"),
        "History of myocardial infarction"
    );
    assert_eq!(
        text_of("#smoking_status option[value='former']"),
        "former smoker"
    );
    assert_eq!(
        text_of("#alcohol_use option[value='up_to_2_daily']"),
        "2 drinks a day or fewer"
    );
    click("#smoking_status option[value='former']");
    // One diabetes choice, not three boxes.
    let source = d.cmd("GET", "/source", serde_json::json!({}));
    let source = source.as_str().unwrap();
    assert_eq!(source.matches("<select name=\"diabetes\"").count(), 1);
    assert!(!source.contains("id=\"comorbidity_uncomplicated_diabetes_mellitus\""));
    assert_eq!(attr("#mask", "required"), "true", "the mask is required");
    // The intended use and the three classes at the top.
    assert!(text_of("#intended-use").starts_with("Intended use."));
    assert!(text_of("#classes").contains("Malignant, aggressive"));
    // An error keeps what was typed: a file that is not a mask.
    let junk = f.bundle.parent().unwrap().join("junk.nii.gz");
    std::fs::write(&junk, b"not a volume at all").unwrap();
    d.type_into("#mask", junk.to_str().unwrap());
    click("#submit");
    let e = d.find_when_rendered("#error");
    let err = d.cmd("GET", &format!("/element/{e}/text"), serde_json::json!({}));
    assert!(
        err.as_str()
            .unwrap()
            .contains("The values you typed are kept"),
        "{err}"
    );
    browser.screenshot("serve-form-error.png");
    assert_eq!(attr("#age", "value"), "63");
    assert_eq!(attr("#case_id", "value"), "browser-case");
    assert_eq!(
        attr("#smoking_status option[value='former']", "selected"),
        "true"
    );
    assert_eq!(attr("#sex option[value='female']", "selected"), "true");
    assert_eq!(
        attr(
            "#comorbidity_myocardial_infarction option[value='yes']",
            "selected"
        ),
        "true"
    );
    let legends = d.cmd("GET", "/source", serde_json::json!({}));
    for g in ["Demographics", "Comorbidities", "Habits", "Kidney function"] {
        assert!(
            legends
                .as_str()
                .unwrap()
                .contains(&format!("<legend>{g}</legend>")),
            "group {g}"
        );
    }
    d.type_into("#mask", f.mask.to_str().unwrap());
    browser.screenshot("serve-form.png");
    let submit = d.find("#submit");
    d.cmd(
        "POST",
        &format!("/element/{submit}/click"),
        serde_json::json!({}),
    );
    let cell = d.find_when_rendered("#p-malignant-aggressive");
    let text = d.cmd(
        "GET",
        &format!("/element/{cell}/text"),
        serde_json::json!({}),
    );
    let p: f64 = text.as_str().unwrap().parse().unwrap();
    assert!((0.0..=1.0).contains(&p), "{text}");
    assert!(text_of("#triage-call").starts_with("Triage call:"));
    assert!(text_of("#summary").starts_with("Triage call:"));
    // The answer: probability bars with the CV threshold marked, the inputs that were imputed
    // highlighted in words, a model card without local paths.
    let bar = d.find("#bars li .bar");
    let name = d.cmd(
        "GET",
        &format!("/element/{bar}/attribute/aria-label"),
        serde_json::json!({}),
    );
    assert!(name.as_str().unwrap().contains("threshold"), "{name}");
    d.find("#bars .thr");
    assert!(text_of("#imputed").contains("pack-years smoked"));
    let source = d.cmd("GET", "/source", serde_json::json!({}));
    let tmp = f.bundle.parent().unwrap().to_str().unwrap();
    assert!(
        !source.as_str().unwrap().contains(tmp),
        "a local path on the page"
    );
    // The page shows the same probability as the API for the same inputs: what the form
    // sent, the values chosen and every other one unknown.
    let api = format!("{}/api/v1/predict", s.url);
    let mask = std::fs::read(&f.mask).unwrap();
    let texts = [
        ("age", "63"),
        ("bmi", "29.5"),
        ("sex", "female"),
        ("smoking_status", "former"),
        ("comorbidity_myocardial_infarction", "yes"),
        ("case_id", "browser-case"),
    ];
    let (ct, body) = multipart(&texts, &[("mask", "seg.nii.gz", &mask)]);
    let (_, j) = post(&api, &ct, &body);
    assert_eq!(
        format!("{:.3}", j["p_aggressive"].as_f64().unwrap()),
        text.as_str().unwrap()
    );
    let png = browser.screenshot("serve-result.png");
    assert!(png.starts_with(b"\x89PNG"));
}

#[test]
fn predict_batch_manifest_as_csv_lists_failures() {
    let Some(f) = fixture() else { return };
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(&f.mask, d.path().join("a.nii.gz")).unwrap();
    std::fs::write(d.path().join("b.nii.gz"), b"broken").unwrap();
    std::fs::write(
        d.path().join("batch.csv"),
        "case_id,age,sex,mask\np1,61,male,a.nii.gz\np2,70,female,a.nii.gz\np3,50,male,b.nii.gz\n",
    )
    .unwrap();
    let o = bin()
        .args(["predict", "--format", "csv", "--model"])
        .arg(&f.bundle)
        .arg("--manifest")
        .arg(d.path().join("batch.csv"))
        .output()
        .unwrap();
    // One case failed: exit 1, the others answered, the failure named on stderr.
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("case_id,p_benign,p_indolent,p_aggressive,p_malignant"));
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[1].starts_with("p1,") && lines[2].starts_with("p2,"));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("p3: mask"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// An image model served: the mask uploaded, the slice made and embedded by the bundle's
/// encoder, the same answer as `predict` on the command line; the page shows the slice the
/// model saw; CT paths in JSON and CT phases for a mask-plane model are refused by name; the
/// uploads are deleted.
#[test]
fn an_image_model_is_served_with_the_slice_it_saw() {
    let Some(f) = fixture() else { return };
    // The server's default encoder: the libtorch process kept alive; the command line's here
    // the same (its default, the plain-Rust network, is `image_ct.rs`'s).
    let o = bin()
        .args(["predict", "--encoder-backend", "libtorch", "--model"])
        .arg(&f.image_bundle)
        .arg("--mask")
        .arg(&f.mask)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cli: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(cli["image"]["embedding"].as_array().unwrap().len(), 64);
    // A tiny encoder trained for seconds: weak in CV, served for the plumbing's sake.
    let s = start(&f.image_bundle, &["--allow-weak-model"]);
    let mask = std::fs::read(&f.mask).unwrap();
    let (ct, body) = multipart(&[], &[("mask", "seg.nii.gz", &mask)]);
    let (code, p) = post(&format!("{}/api/v1/predict", s.url), &ct, &body);
    assert_eq!(code, 200, "{p}");
    for key in ["p_benign", "p_indolent", "p_aggressive"] {
        assert_eq!(p[key], cli[key], "{key}: served and command line differ");
    }
    assert_eq!(p["image"]["slice"], cli["image"]["slice"]);
    // The page's answer shows the slice, described for a screen reader.
    let html = ureq::post(&format!("{}/predict", s.url))
        .set("Content-Type", &ct)
        .send_bytes(&body)
        .unwrap()
        .into_string()
        .unwrap();
    assert!(html.contains("<figure id=\"slice\"><img src=\"data:image/png;base64,iVBORw0KGgo"));
    assert!(html.contains("alt=\"The image the model saw: the axial slice"));
    // Bad input, each named.
    let (code, e) = post(
        &format!("{}/api/v1/predict", s.url),
        "application/json",
        br#"{"ct": {"venous": "/etc/passwd"}}"#,
    );
    assert_eq!((code, e["field"].as_str()), (400, Some("ct_venous")), "{e}");
    let (ct2, body2) = multipart(
        &[],
        &[
            ("mask", "seg.nii.gz", &mask),
            ("ct_venous", "v.nii.gz", &mask),
        ],
    );
    let (code, e) = post(&format!("{}/api/v1/predict", s.url), &ct2, &body2);
    assert_eq!((code, e["field"].as_str()), (400, Some("ct")), "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("without CT intensities"),
        "{e}"
    );
    let (code, e) = post(
        &format!("{}/api/v1/predict", s.url),
        &multipart(&[], &[]).0,
        &multipart(&[], &[]).1,
    );
    assert_eq!((code, e["field"].as_str()), (400, Some("mask")), "{e}");
    let uploads = std::env::temp_dir().join(format!("renal-triage-uploads-{}", s.child.id()));
    assert_eq!(
        std::fs::read_dir(&uploads).unwrap().count(),
        0,
        "uploads are deleted after use"
    );
}
