//! An image model on CT phases, end to end (issue 14): a small cohort of phantom CTs from
//! `renal-imaging`'s generator around real KiTS23 masks (each mask cropped around its tumor to
//! keep the volumes small), an encoder trained on it and a bundle; then `predict` and `serve`
//! with the phases, the slice the model saw on the page in headless Chromium, and bad CT input,
//! each refused naming the phase and the file.
//!
//! The phantom's intensities depend on the tissue, the phase and the seed only, never on the
//! class, and the labels here are assigned in turn: the test checks the software's paths, not
//! what a model learns.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{bin, multipart, post, start, Browser};
use renal_imaging::mask::LabelStats;
use renal_imaging::phantom::{phantom_phase, tissues, PhantomConfig, Phase};
use renal_imaging::{read_labels, write_nifti, Geometry, LabelVolume, Volume, WriteOptions};
use renal_testdata::shared;

struct Fixture {
    dir: tempfile::TempDir,
    bundle: PathBuf,
    work: PathBuf,
    /// A training case: `mask.nii.gz`, `arterial.nii.gz`, `venous.nii.gz`.
    case: PathBuf,
    case_id: String,
    /// The case's venous phase moved 300 mm to the side: another grid, off the tumor.
    other_venous: PathBuf,
}

const PHASES: [(Phase, &str); 2] = [(Phase::Arterial, "arterial"), (Phase::Venous, "venous")];

/// The label map cropped to its tumor's bounding box and `margin` voxels around it, with the
/// affine moved so that every voxel keeps its world position.
fn crop(m: &LabelVolume, margin: usize) -> LabelVolume {
    let (lo, hi) = LabelStats::compute(m, 2).bbox.expect("a tumor");
    let d = m.geometry.dims;
    let a: [usize; 3] = std::array::from_fn(|i| lo[i].saturating_sub(margin));
    let b: [usize; 3] = std::array::from_fn(|i| (hi[i] + margin).min(d[i] - 1));
    let dims: [usize; 3] = std::array::from_fn(|i| b[i] - a[i] + 1);
    let origin = m.geometry.world([a[0] as f64, a[1] as f64, a[2] as f64]);
    let mut affine = m.geometry.affine;
    for (r, row) in affine.iter_mut().enumerate() {
        row[3] = origin[r];
    }
    let g = Geometry { dims, affine };
    let mut data = vec![0u8; g.len()];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                data[g.index(i, j, k)] = m.data[m.geometry.index(a[0] + i, a[1] + j, a[2] + k)];
            }
        }
    }
    Volume::new(g, data).unwrap()
}

/// Writes a case's cropped mask and its two phantom phases into `dir`.
fn write_case(shared: &Path, id: &str, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let full = read_labels(&shared.join(format!("kits23/cases/{id}/segmentation.nii.gz"))).unwrap();
    let m = crop(&full, 12);
    write_nifti(
        &dir.join("mask.nii.gz"),
        &m.geometry,
        &m.data,
        WriteOptions::default(),
    )
    .unwrap();
    let cfg = PhantomConfig::default();
    let t = tissues(&m, &cfg);
    for (phase, name) in PHASES {
        let v = phantom_phase(&m, &t, phase, id, &cfg);
        let path = dir.join(format!("{name}.nii.gz"));
        write_nifti(&path, &v.geometry, &v.data, WriteOptions::default()).unwrap();
    }
}

/// Eighteen cases, the first eighteen of KiTS23's records, labels benign, indolent, aggressive in
/// turn; an "image RF" bundle with the tiny encoder.
fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let shared = shared()?;
        let dir = tempfile::tempdir().unwrap();
        let all: Vec<serde_json::Value> = serde_json::from_str(
            &std::fs::read_to_string(shared.join("kits23/kits23.json")).unwrap(),
        )
        .unwrap();
        let ids: Vec<String> = all
            .iter()
            .take(18)
            .map(|r| r["case_id"].as_str().unwrap().to_string())
            .collect();
        let data = dir.path().join("cohort");
        let mut manifest = String::from("case_id,label,mask,ct_arterial,ct_venous\n");
        for (n, id) in ids.iter().enumerate() {
            write_case(&shared, id, &data.join(id));
            let label = ["benign", "indolent", "aggressive"][n % 3];
            manifest.push_str(&format!(
                "{id},{label},{id}/mask.nii.gz,{id}/arterial.nii.gz,{id}/venous.nii.gz\n"
            ));
        }
        std::fs::write(data.join("manifest.csv"), manifest).unwrap();
        let exp = dir.path().join("image.toml");
        std::fs::write(&exp, "[experiment]\nname = \"ct\"\nouter_folds = 3\ninner_folds = 3\nbootstrap = 50\n[rf]\ntrees = 30\nmax_features = [\"sqrt\"]\n[[model]]\nname = \"image RF\"\nembeddings = \"all\"\nlearner = \"rf\"\n").unwrap();
        let (bundle, work) = (dir.path().join("bundle"), dir.path().join("work"));
        let o = bin()
            .args(["train", "--data"])
            .arg(&data)
            .arg("--experiment")
            .arg(&exp)
            .args(["--model", "image RF", "--encoder", "tiny", "--work"])
            .arg(&work)
            .arg("--out")
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let case_id = ids[0].clone();
        let case = data.join(&case_id);
        let mut moved = renal_imaging::read_scalar(&case.join("venous.nii.gz")).unwrap();
        moved.geometry.affine[0][3] += 300.0;
        let other_venous = dir.path().join("moved-venous.nii.gz");
        write_nifti(&other_venous, &moved.geometry, &moved.data, WriteOptions::default()).unwrap();
        Some(Fixture {
            case,
            other_venous,
            case_id,
            dir,
            bundle,
            work,
        })
    })
    .as_ref()
}

/// `predict` of the fixture's bundle on its first case, with `ct` as `PHASE=PATH` arguments.
fn predict(f: &Fixture, bundle: &Path, ct: &[(&str, &Path)]) -> std::process::Output {
    predict_to(f, bundle, ct, None)
}

/// [`predict`], writing an extra output (`--preview`, `--report` or `--sr` and its path).
fn predict_to(
    f: &Fixture,
    bundle: &Path,
    ct: &[(&str, &Path)],
    out: Option<(&str, &Path)>,
) -> std::process::Output {
    let mut c = bin();
    c.args(["predict", "--model"])
        .arg(bundle)
        .args(["--case-id", &f.case_id, "--mask"])
        .arg(f.case.join("mask.nii.gz"));
    for (phase, path) in ct {
        c.arg("--ct").arg(format!("{phase}={}", path.display()));
    }
    if let Some((flag, path)) = out {
        c.arg(flag).arg(path);
    }
    c.output().unwrap()
}

fn both_phases(f: &Fixture) -> [(&'static str, PathBuf); 2] {
    PHASES.map(|(_, n)| (n, f.case.join(format!("{n}.nii.gz"))))
}

#[test]
fn a_ct_model_predicts_from_its_phases_as_train_fitted_it() {
    let Some(f) = fixture() else { return };
    let m: serde_json::Value =
        serde_json::from_slice(&bin().arg("inspect").arg(&f.bundle).output().unwrap().stdout)
            .unwrap();
    // On a manifest with CT phases, the channels are the phases; a patient without one is
    // refused (every training case had both).
    assert_eq!(m["image"]["spec"]["intensity"], true, "{m}");
    assert_eq!(
        m["image"]["spec"]["channels"],
        serde_json::json!(["arterial", "venous"])
    );
    assert_eq!(m["image"]["refuse_missing_phase"], true);
    assert_eq!(m["image"]["encoder"]["in_channels"], 2);
    let phases = both_phases(f);
    let ct: Vec<(&str, &Path)> = phases.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let preview = f.dir.path().join("ct-slice.png");
    let o = predict_to(f, &f.bundle, &ct, Some(("--preview", &preview)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        p["image"]["channels"],
        serde_json::json!(["arterial", "venous"])
    );
    assert_eq!(p["image"]["missing"], serde_json::json!([]));
    assert!(p["image"]["input"]
        .as_str()
        .unwrap()
        .starts_with("CT phases (arterial, venous)"));
    assert_eq!(&std::fs::read(&preview).unwrap()[..4], b"\x89PNG");
    // The embedding and the probabilities: those `train` computed for this case in its own
    // process with libtorch (embeddings.csv, fitted.csv of its working folder); the command
    // line's default encoder is the plain-Rust network.
    let numbers = |file: &str| -> Vec<f64> {
        std::fs::read_to_string(f.work.join(file))
            .unwrap()
            .lines()
            .find(|l| l.starts_with(&format!("{},", f.case_id)))
            .unwrap()
            .split(',')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let want = numbers("embeddings.csv");
    let got = p["image"]["embedding"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (j, (a, b)) in got.iter().zip(&want).enumerate() {
        let a = a.as_f64().unwrap();
        assert!((a - b).abs() <= 1e-5, "feature {j}: predict {a}, embed {b}");
    }
    sr_is_read_by_dcmtk(f, &ct, &p);
    // A training case's embedding, remade for one patient, is not an extrapolation.
    assert_eq!(p["out_of_range"], serde_json::json!([]), "{p}");
    let fitted = numbers("fitted.csv");
    for (k, key) in ["p_benign", "p_indolent", "p_aggressive"]
        .iter()
        .enumerate()
    {
        let v = p[key].as_f64().unwrap();
        assert!(
            (v - fitted[k]).abs() <= 1e-6,
            "{key}: predict {v}, train {}",
            fitted[k]
        );
    }
}

/// Writes an uncompressed copy of a phase as a 4D image (two volumes): header `dim[0] = 4`,
/// `dim[4] = 2`, the voxels twice.
fn four_d(src: &Path, out: &Path) {
    let v = renal_imaging::read_scalar(src).unwrap();
    let nii = out.with_extension("3d.nii");
    let opts = WriteOptions {
        gzip: false,
        ..WriteOptions::default()
    };
    write_nifti(&nii, &v.geometry, &v.data, opts).unwrap();
    let mut b = std::fs::read(&nii).unwrap();
    b[40..42].copy_from_slice(&4i16.to_le_bytes());
    b[48..50].copy_from_slice(&2i16.to_le_bytes());
    let offset = f32::from_le_bytes(b[108..112].try_into().unwrap()) as usize;
    let voxels = b[offset..].to_vec();
    b.extend_from_slice(&voxels);
    std::fs::write(out, b).unwrap();
}

/// Bad CT phases for the command line, each refused naming the phase and its file.
#[test]
fn bad_ct_phases_are_refused_by_phase_and_file() {
    let Some(f) = fixture() else { return };
    let t = tempfile::tempdir().unwrap();
    let arterial = f.case.join("arterial.nii.gz");
    let venous = f.case.join("venous.nii.gz");
    let refused = |ct: &[(&str, &Path)], needles: &[&str]| {
        let o = predict(f, &f.bundle, ct);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{err}");
        for n in needles {
            assert!(err.contains(n), "`{n}` not in: {err}");
        }
    };
    // A missing phase: this bundle's policy is to refuse.
    refused(
        &[("arterial", &arterial)],
        &["ct_venous", "phase venous is missing"],
    );
    // A phase on another grid that does not cover this tumor.
    let other = f.other_venous.display().to_string();
    refused(
        &[("arterial", &arterial), ("venous", &f.other_venous)],
        &["phase venous", &other, "outside this image"],
    );
    // NaN voxels.
    let v = renal_imaging::read_scalar(&venous).unwrap();
    let mut data = v.data.clone();
    data[v.data.len() / 2] = f32::NAN;
    let nan = t.path().join("nan.nii.gz");
    write_nifti(&nan, &v.geometry, &data, WriteOptions::default()).unwrap();
    refused(
        &[("arterial", &arterial), ("venous", &nan)],
        &["phase venous", "nan.nii.gz", "1 voxels are not finite"],
    );
    // A 2D image (one slice) and a 4D one.
    let d = v.geometry.dims;
    let g2 = Geometry {
        dims: [d[0], d[1], 1],
        affine: v.geometry.affine,
    };
    let flat = t.path().join("flat.nii.gz");
    write_nifti(&flat, &g2, &v.data[..d[0] * d[1]], WriteOptions::default()).unwrap();
    refused(
        &[("arterial", &arterial), ("venous", &flat)],
        &["phase venous", "flat.nii.gz", "a 3D image is needed"],
    );
    let four = t.path().join("four.nii");
    four_d(&venous, &four);
    refused(
        &[("arterial", &arterial), ("venous", &four)],
        &["four.nii", "4D or higher"],
    );
    // A phase the model does not know.
    refused(
        &[
            ("arterial", &arterial),
            ("venous", &venous),
            ("delayed", &venous),
        ],
        &["ct_delayed", "not a phase of this model"],
    );
    // A bundle whose encoder takes another channel count than its image specification makes
    // (hashes kept consistent, so that the check itself is what refuses it).
    let bad = t.path().join("bundle");
    std::fs::create_dir_all(&bad).unwrap();
    for e in std::fs::read_dir(&f.bundle).unwrap().flatten() {
        std::fs::copy(e.path(), bad.join(e.file_name())).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bad.join("encoder.json")).unwrap()).unwrap();
    config["in_channels"] = serde_json::json!(3);
    config["intensity_channels"] = serde_json::json!([true, true, true]);
    let text = serde_json::to_string_pretty(&config).unwrap();
    std::fs::write(bad.join("encoder.json"), &text).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bad.join("bundle.json")).unwrap()).unwrap();
    manifest["files"]["encoder.json"] =
        serde_json::json!(renal_cohort::io::sha256_hex(text.as_bytes()));
    std::fs::write(bad.join("bundle.json"), manifest.to_string()).unwrap();
    // Its digest rewritten too (the sha256 of the manifest's canonical JSON: sorted keys,
    // compact), as a careless rebuild would: the encoder's own check still refuses it.
    let digest = renal_cohort::io::sha256_hex(&serde_json::to_vec(&manifest).unwrap());
    std::fs::write(bad.join("bundle.sha256"), digest).unwrap();
    let o = predict(f, &bad, &[("arterial", &arterial), ("venous", &venous)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("encoder.json: the encoder takes 3 channels, but the bundle's image specification makes 2 (arterial, venous)"),
        "{err}"
    );
}

/// The server with the CT model: the phases uploaded with the mask, the same answer as the
/// command line, the slice on the page; bad phases refused by field, the server staying up and
/// its upload folder ending empty; and the form in headless Chromium.
#[test]
fn a_ct_model_is_served_and_its_form_shows_the_slice() {
    let Some(f) = fixture() else { return };
    let phases = both_phases(f);
    let ct: Vec<(&str, &Path)> = phases.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let o = predict(f, &f.bundle, &ct);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cli: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The server with the plain-Rust network, as the command line's default (the libtorch
    // worker is `serve.rs`'s).
    // The phantom cohort's model is weak in CV (it is a test of the plumbing).
    let s = start(
        &f.bundle,
        &["--encoder-backend", "rust", "--allow-weak-model"],
    );
    let api = format!("{}/api/v1/predict", s.url);
    let mask = std::fs::read(f.case.join("mask.nii.gz")).unwrap();
    let arterial = std::fs::read(&phases[0].1).unwrap();
    let venous = std::fs::read(&phases[1].1).unwrap();
    let id = [("case_id", f.case_id.as_str())];
    let (ctype, body) = multipart(
        &id,
        &[
            ("mask", "mask.nii.gz", &mask),
            ("ct_arterial", "a.nii.gz", &arterial),
            ("ct_venous", "v.nii.gz", &venous),
        ],
    );
    let (code, p) = post(&api, &ctype, &body);
    assert_eq!(code, 200, "{p}");
    for key in ["p_benign", "p_indolent", "p_aggressive"] {
        assert_eq!(p[key], cli[key], "{key}: served and command line differ");
    }
    assert_eq!(
        p["image"]["channels"],
        serde_json::json!(["arterial", "venous"])
    );
    // Bad phases, each refused by its field.
    let v = renal_imaging::read_scalar(&phases[1].1).unwrap();
    let mut data = v.data.clone();
    data[7] = f32::INFINITY;
    let t = tempfile::tempdir().unwrap();
    let inf = t.path().join("inf.nii.gz");
    write_nifti(&inf, &v.geometry, &data, WriteOptions::default()).unwrap();
    let inf = std::fs::read(&inf).unwrap();
    let four = t.path().join("four.nii");
    four_d(&phases[1].1, &four);
    let four = std::fs::read(&four).unwrap();
    let other = std::fs::read(&f.other_venous).unwrap();
    for (bad, why) in [
        (Some(&inf[..]), "not finite"),
        (Some(&four[..]), "4D or higher"),
        (Some(&other[..]), "does not match the mask"),
        (None, "phase venous is missing"),
    ] {
        let mut files: Vec<(&str, &str, &[u8])> = vec![
            ("mask", "mask.nii.gz", &mask),
            ("ct_arterial", "a.nii.gz", &arterial),
        ];
        if let Some(b) = bad {
            files.push(("ct_venous", "v.nii.gz", b));
        }
        let (ctype, body) = multipart(&id, &files);
        let (code, e) = post(&api, &ctype, &body);
        assert_eq!(
            (code, e["field"].as_str()),
            (400, Some("ct_venous")),
            "{why}: {e}"
        );
        assert!(e["error"].as_str().unwrap().contains(why), "{why}: {e}");
    }
    let (code, _) = post(&api, &ctype, &body);
    assert_eq!(code, 200, "the server answers after the bad requests");
    // The same mask uploaded as NRRD (written here by hand: a header and the raw labels) gives
    // the same answer: an upload keeps its format.
    let m = renal_imaging::read_labels(&f.case.join("mask.nii.gz")).unwrap();
    let (d, a) = (m.geometry.dims, m.geometry.affine);
    let col = |c: usize| format!("({:?},{:?},{:?})", a[0][c], a[1][c], a[2][c]);
    let mut nrrd = format!(
        "NRRD0004\ntype: uchar\ndimension: 3\nsizes: {} {} {}\nspace: RAS\nspace directions: {} {} {}\nspace origin: {}\nencoding: raw\n\n",
        d[0], d[1], d[2], col(0), col(1), col(2), col(3)
    )
    .into_bytes();
    nrrd.extend_from_slice(&m.data);
    let (ctype2, body2) = multipart(
        &id,
        &[
            ("mask", "mask.nrrd", &nrrd),
            ("ct_arterial", "a.nii.gz", &arterial),
            ("ct_venous", "v.nii.gz", &venous),
        ],
    );
    let (code, q) = post(&api, &ctype2, &body2);
    assert_eq!(code, 200, "{q}");
    for key in ["p_benign", "p_indolent", "p_aggressive", "tumor_size_mm"] {
        let (x, y) = (q[key].as_f64().unwrap(), p[key].as_f64().unwrap());
        assert!((x - y).abs() < 1e-4, "{key}: NRRD {x}, NIfTI {y}");
    }
    let uploads = std::env::temp_dir().join(format!("renal-triage-uploads-{}", s.child.id()));
    assert_eq!(
        std::fs::read_dir(&uploads).unwrap().count(),
        0,
        "uploads are deleted"
    );
    // The form: mask and phases chosen as files, the answer with the slice the model saw.
    let Some(browser) = Browser::start() else {
        return;
    };
    let d = &browser.d;
    d.cmd("POST", "/url", serde_json::json!({"url": s.url}));
    for (field, path) in [
        ("#mask", f.case.join("mask.nii.gz")),
        ("#ct_arterial", phases[0].1.clone()),
        ("#ct_venous", phases[1].1.clone()),
    ] {
        d.type_into(field, path.to_str().unwrap());
    }
    let label = d.find("label[for='ct_venous']");
    let text = d.cmd(
        "GET",
        &format!("/element/{label}/text"),
        serde_json::json!({}),
    );
    assert!(
        text.as_str().unwrap().contains("CT phase: venous"),
        "{text}"
    );
    let submit = d.find("#submit");
    d.cmd(
        "POST",
        &format!("/element/{submit}/click"),
        serde_json::json!({}),
    );
    let cell = d.find_when_rendered("#p-malignant-aggressive");
    let shown = d.cmd(
        "GET",
        &format!("/element/{cell}/text"),
        serde_json::json!({}),
    );
    assert_eq!(
        shown.as_str().unwrap(),
        format!("{:.3}", cli["p_aggressive"].as_f64().unwrap())
    );
    let img = d.find("#slice img");
    let alt = d.cmd(
        "GET",
        &format!("/element/{img}/attribute/alt"),
        serde_json::json!({}),
    );
    assert!(
        alt.as_str()
            .unwrap()
            .contains("channels arterial, venous side by side"),
        "{alt}"
    );
    let png = browser.screenshot("serve-ct-result.png");
    assert!(png.starts_with(b"\x89PNG"));
    // The one-page patient report of the same answer: it renders, shows the slice, and
    // prints on one A4 page.
    let report = f.dir.path().join("patient-report.html");
    let o = predict_to(f, &f.bundle, &ct, Some(("--report", &report)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    d.cmd(
        "POST",
        "/url",
        serde_json::json!({"url": format!("file://{}", report.display())}),
    );
    let cell = d.find("#p-malignant-aggressive");
    let shown = d.cmd(
        "GET",
        &format!("/element/{cell}/text"),
        serde_json::json!({}),
    );
    assert_eq!(
        shown.as_str().unwrap(),
        format!("{:.3}", cli["p_aggressive"].as_f64().unwrap())
    );
    d.find("#slice img");
    d.find("#model-card");
    let png = browser.screenshot("patient-report.png");
    assert!(png.starts_with(b"\x89PNG"));
    let pdf = d.cmd(
        "POST",
        "/print",
        serde_json::json!({"page": {"width": 21.0, "height": 29.7}}),
    );
    let pdf = common::base64_decode(pdf.as_str().unwrap());
    assert!(pdf.starts_with(b"%PDF"));
    std::fs::write(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/test-artifacts/patient-report.pdf"),
        &pdf,
    )
    .unwrap();
    let text = String::from_utf8_lossy(&pdf);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    assert_eq!(pages, 1, "the patient report prints on one A4 page");
}

/// `predict --sr`: dcmtk's `dsrdump` reads the DICOM SR without error and shows the
/// measurement report's values (required under CI, which installs dcmtk).
fn sr_is_read_by_dcmtk(f: &Fixture, ct: &[(&str, &Path)], p: &serde_json::Value) {
    if std::process::Command::new("dsrdump")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            !renal_testdata::under_ci(),
            "dcmtk's dsrdump is required under CI"
        );
        eprintln!("SKIPPED: dcmtk not installed");
        return;
    }
    let sr = f.dir.path().join("answer.dcm");
    let o = predict_to(f, &f.bundle, ct, Some(("--sr", &sr)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = std::process::Command::new("dsrdump")
        .args(["+Pl", "+Pc"])
        .arg(&sr)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("E:"), "{err}\n{out}");
    // A DS value as written: six decimals, trailing zeros dropped.
    let ds = |x: f64| {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    for needle in [
        "(126000,DCM,\"Imaging Measurement Report\")".to_string(),
        "(126880001,SCT,\"Neoplasm of kidney\")".to_string(),
        // Reported to 0.1 mm.
        format!(
            "(81827009,SCT,\"Diameter\")=\"{}\" (mm,UCUM,\"millimeter\")",
            ds((p["tumor_size_mm"].as_f64().unwrap() * 10.0).round() / 10.0)
        ),
        format!(
            "\"Triage call\")=\"{}",
            p["triage"]["headline"].as_str().unwrap()
        ),
        format!(
            "coverage (split-conformal)\")=\"{}\"",
            p["prediction_set"]["words"].as_str().unwrap()
        ),
        format!(
            "\"Probability of benign\")=\"{}\"",
            ds(p["p_benign"].as_f64().unwrap())
        ),
        format!(
            "\"Probability of malignant-aggressive\")=\"{}\"",
            ds(p["p_aggressive"].as_f64().unwrap())
        ),
        format!("=\"{}\"", p["decisions"][0]["statement"].as_str().unwrap()),
    ] {
        assert!(out.contains(&needle), "`{needle}` not in:\n{out}");
    }
    // With the venous phase given as a DICOM series, the SR references it (every instance)
    // and files in its study, under its patient.
    let series = f.dir.path().join("venous-dicom");
    let venous = renal_imaging::read_scalar(&f.case.join("venous.nii.gz")).unwrap();
    let info = renal_imaging::dicom::SeriesInfo {
        patient_id: "P-0042".into(),
        study_uid: "1.2.826.0.1.3680043.10.77".into(),
        series_uid: "1.2.826.0.1.3680043.10.77.1".into(),
        rescale_intercept: -1024.0,
        rescale_slope: 1.0,
        implicit: false,
    };
    let files = renal_imaging::dicom::write_series(&series, &venous, &info).unwrap();
    let arterial = f.case.join("arterial.nii.gz");
    let sr = f.dir.path().join("answer-dicom.dcm");
    let o = predict_to(
        f,
        &f.bundle,
        &[("arterial", &arterial), ("venous", &series)],
        Some(("--sr", &sr)),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = std::process::Command::new("dcmdump")
        .arg(&sr)
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&o.stdout);
    assert!(
        dump.contains("CurrentRequestedProcedureEvidenceSequence"),
        "{dump}"
    );
    assert_eq!(
        dump.matches("ReferencedSOPInstanceUID").count(),
        files.len(),
        "{dump}"
    );
    assert!(dump.contains("[1.2.826.0.1.3680043.10.77.1]"), "{dump}");
    assert!(
        dump.contains("(0020,000d) UI [1.2.826.0.1.3680043.10.77]"),
        "{dump}"
    );
    assert!(dump.contains("(0010,0020) LO [P-0042]"), "{dump}");
    // dicom3tools' dciodvfy (IOD, modules, attribute values) reports no error.
    common::dciodvfy_clean(&sr);
}
