//! The formats hospitals hold, from the command line (issue 15, first part): `convert` writes
//! NRRD, Slicer's `.seg.nrrd` and MetaImage volumes as NIfTI, and `cohort` measures a manifest
//! whose masks come in those formats as it measures the NIfTI. The fixtures are
//! `renal-imaging`'s, written by SimpleITK and pynrrd (`scripts/make_format_fixtures.py`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use renal_imaging::{read_labels, read_scalar};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../renal-imaging/tests/fixtures/formats")
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_renal-triage"))
}

#[test]
fn convert_writes_each_format_as_the_same_nifti() {
    let t = tempfile::tempdir().unwrap();
    let f = fixtures();
    let mask = read_labels(&f.join("mask.nii.gz")).unwrap();
    let ct = read_scalar(&f.join("ct.nii.gz")).unwrap();
    for (input, labels) in [
        ("mask.seg.nrrd", true),
        ("mask.mha", true),
        ("ct.nrrd", false),
        ("ct.mhd", false),
    ] {
        let out = t.path().join(format!("{input}.nii.gz"));
        let mut c = bin();
        c.arg("convert").arg(f.join(input)).arg(&out);
        if labels {
            c.arg("--labels");
        }
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "{input}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if labels {
            let v = read_labels(&out).unwrap();
            assert_eq!(v.data, mask.data, "{input}");
            assert_eq!(v.geometry.dims, mask.geometry.dims);
        } else {
            let v = read_scalar(&out).unwrap();
            assert_eq!(v.data, ct.data, "{input}");
        }
    }
    // A bad input names the file; an output that is not NIfTI is refused.
    let o = bin()
        .arg("convert")
        .arg(f.join("bad_space.nrrd"))
        .arg(t.path().join("x.nii.gz"))
        .arg("--labels")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad_space.nrrd: `space` = `scanner-xyz`"));
    let o = bin()
        .arg("convert")
        .arg(f.join("ct.mha"))
        .arg(t.path().join("x.png"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!t.path().join("x.png").exists());
}

/// Runs `cohort` on a manifest; each measured case's tumor size.
fn cohort_sizes(manifest: &Path, out: &Path) -> Vec<(String, f64)> {
    let o = bin()
        .args(["cohort", "--data"])
        .arg(manifest)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("measurements.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "tumor_size_mm").unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].to_string(), c[col].parse().unwrap())
        })
        .collect()
}

#[test]
fn a_cohort_with_nrrd_seg_nrrd_and_metaimage_masks_is_measured_as_with_nifti() {
    let t = tempfile::tempdir().unwrap();
    let f = fixtures();
    let names = [
        "mask.nii.gz",
        "mask.seg.nrrd",
        "mask.mha",
        "mask.nrrd",
        "bad_layers.seg.nrrd",
    ];
    let mut manifest = String::from("case_id,label,mask\n");
    for (i, n) in names.iter().enumerate() {
        std::fs::copy(f.join(n), t.path().join(n)).unwrap();
        let label = ["benign", "indolent", "aggressive"][i % 3];
        manifest.push_str(&format!("c{i},{label},{n}\n"));
    }
    std::fs::write(t.path().join("manifest.csv"), manifest).unwrap();
    let out = t.path().join("out");
    let sizes: Vec<f64> = cohort_sizes(&t.path().join("manifest.csv"), &out)
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(sizes.len(), 4, "{sizes:?}");
    // NIfTI keeps the spacing in float32: the same size to its precision.
    for s in &sizes[1..] {
        assert!((s - sizes[0]).abs() < 1e-5, "{sizes:?}");
    }
    assert!(sizes[0] > 10.0);
    // The bad file is excluded with its reason, the others measured.
    let excluded = std::fs::read_to_string(out.join("excluded.csv")).unwrap();
    assert!(
        excluded.contains("c4") && excluded.contains("on layer 1"),
        "{excluded}"
    );
}

fn imaging_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../renal-imaging/tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

const E2E_EXPERIMENT: &str = r#"
[experiment]
name = "formats"
seed = 5
outer_folds = 3
inner_folds = 2
bootstrap = 20
tasks = ["malignant_vs_benign", "aggressive_vs_rest"]

[rf]
trees = 20
max_features = ["sqrt"]
min_samples_leaf = [1]

[[model]]
name = "size RF"
size = true
learner = "rf"

[[model]]
name = "image RF"
embeddings = "all"
learner = "rf"
"#;

/// Issue 15's end-to-end acceptance: a manifest whose CT is compressed DICOM (RLE, lossless
/// JPEG, deflated, big endian) and whose masks are DICOM SEG, RTSTRUCT, NRRD, `.seg.nrrd`,
/// MetaImage and NIfTI runs through `cohort` and `reproduce` (with the CT encoder).
#[test]
fn cohort_and_reproduce_run_on_compressed_dicom_with_seg_rtstruct_and_nrrd_masks() {
    let t = tempfile::tempdir().unwrap();
    let f = imaging_fixtures();
    let cts = [
        "rle",
        "jpeg_lossless",
        "jpeg_lossless_sv7",
        "deflated",
        "bigendian",
        "jpegls",
        "j2k",
        "enhanced",
    ];
    std::fs::create_dir_all(t.path().join("masks")).unwrap();
    for c in cts {
        copy_dir(&f.join("dicom").join(c), &t.path().join("ct").join(c));
    }
    // A series with a corrupt JPEG-LS file (its fragment cut short).
    let bad_ct = t.path().join("ct/jpegls_bad");
    copy_dir(&f.join("dicom/jpegls"), &bad_ct);
    let b = std::fs::read(bad_ct.join("slice010.dcm")).unwrap();
    std::fs::write(bad_ct.join("slice010.dcm"), &b[..b.len() * 6 / 10]).unwrap();
    std::fs::copy(
        f.join("seg/bad/seg_frame_off_grid.dcm"),
        t.path().join("masks/seg_frame_off_grid.dcm"),
    )
    .unwrap();
    let masks = [
        "seg/seg_binary.dcm",
        "seg/seg_fractional.dcm",
        "seg/rtstruct.dcm",
        "seg/rtstruct_fine.dcm",
        "formats/mask.seg.nrrd",
        "formats/mask.nrrd",
        "formats/mask.mha",
        "formats/mask.nii.gz",
    ];
    for m in masks {
        let name = m.replace('/', "_");
        std::fs::copy(f.join(m), t.path().join("masks").join(name)).unwrap();
    }
    let mut manifest = String::from("case_id,label,age,mask,ct_venous,label_map\n");
    let n = 24;
    for i in 0..n {
        let mask = masks[i % masks.len()].replace('/', "_");
        let ct = cts[i % cts.len()];
        let label = ["benign", "indolent", "aggressive"][i % 3];
        // One row says which segment is the tumor by name (a SEG read with a label map).
        let map = if i == 8 {
            "\"tumor=TUMOR,kidney=KIDNEY\""
        } else {
            ""
        };
        manifest.push_str(&format!(
            "c{i:02},{label},{},masks/{mask},ct/{ct},{map}\n",
            40 + i
        ));
    }
    // Two bad cases: a corrupt CT file (the mask is fine) and a SEG frame off the CT's grid.
    manifest.push_str("c98,benign,70,masks/formats_mask.nii.gz,ct/jpegls_bad,\n");
    manifest.push_str("c99,indolent,71,masks/seg_frame_off_grid.dcm,ct/rle,\n");
    std::fs::write(t.path().join("manifest.csv"), manifest).unwrap();
    let out = t.path().join("cohort");
    let sizes = cohort_sizes(&t.path().join("manifest.csv"), &out);
    assert_eq!(sizes.len(), n + 1, "every good mask measured: {sizes:?}");
    // SEG, NRRD, MetaImage: the NIfTI's size; RTSTRUCT within one voxel spacing (2.5 mm).
    let nifti = sizes[7].1;
    for (i, (id, s)) in sizes.iter().take(n).enumerate() {
        let tol = if masks[i % masks.len()].contains("rtstruct") {
            2.5
        } else {
            1e-5
        };
        assert!(
            (s - nifti).abs() <= tol,
            "{id} ({}): {s} vs {nifti}",
            masks[i % masks.len()]
        );
    }
    let excluded = std::fs::read_to_string(out.join("excluded.csv")).unwrap_or_default();
    let bad: Vec<&str> = excluded.lines().skip(1).collect();
    assert_eq!(bad.len(), 1, "{excluded}");
    assert!(
        bad[0].starts_with("c99")
            && bad[0].contains("frame 4")
            && bad[0].contains("not on the referenced CT's grid"),
        "{excluded}"
    );

    std::fs::write(t.path().join("experiment.toml"), E2E_EXPERIMENT).unwrap();
    let run = t.path().join("run");
    let o = bin()
        .args(["reproduce", "--encoder", "tiny", "--data"])
        .arg(t.path().join("manifest.csv"))
        .arg("--experiment")
        .arg(t.path().join("experiment.toml"))
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    // Both bad cases are excluded (the image models need every case's image), each with its
    // reason; the others run.
    assert_eq!(m["cases"], n, "{m}");
    assert_eq!(m["excluded"], 2, "{m}");
    let excluded = std::fs::read_to_string(run.join("cohort/excluded.csv")).unwrap();
    let c98 = excluded
        .lines()
        .find(|l| l.starts_with("c98"))
        .unwrap_or_default();
    assert!(c98.contains("slice010.dcm"), "{excluded}");
    assert!(
        excluded
            .lines()
            .any(|l| l.starts_with("c99") && l.contains("frame 4")),
        "{excluded}"
    );
    assert_eq!(
        m["models_run"],
        serde_json::json!(["size RF", "image RF"]),
        "{m}"
    );
    let emb = std::fs::read_to_string(run.join("embeddings.csv"))
        .or_else(|_| std::fs::read_to_string(run.join("encoder/embeddings.csv")))
        .unwrap();
    assert_eq!(emb.lines().count(), n + 1, "one embedding per good case");
    let cases = find_file(&run.join("encoder"), "cases.csv").expect("the encoder's cases.csv");
    let cases = std::fs::read_to_string(cases).unwrap();
    let c98 = cases
        .lines()
        .find(|l| l.starts_with("c98"))
        .unwrap_or_default();
    assert!(
        c98.contains("excluded") && c98.contains("slice010.dcm"),
        "{cases}"
    );
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()? {
        let p = e.ok()?.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

/// `convert --labels` writes a DICOM SEG or RTSTRUCT, rebuilt on the CT series it is told of
/// (`--reference`), as the NIfTI label map it was made from; `--label-map` keeps the named
/// roles only.
#[test]
fn convert_writes_a_seg_and_an_rtstruct_as_their_source_label_map() {
    let t = tempfile::tempdir().unwrap();
    let f = imaging_fixtures();
    let source = read_labels(&f.join("formats/mask.nii.gz")).unwrap();
    for name in ["seg/seg_binary.dcm", "seg/rtstruct_fine.dcm"] {
        let out = t.path().join("mask.nii.gz");
        let o = bin()
            .arg("convert")
            .arg(f.join(name))
            .arg(&out)
            .arg("--labels")
            .arg("--reference")
            .arg(f.join("dicom/uncompressed"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let back = read_labels(&out).unwrap();
        assert_eq!(back.geometry.dims, source.geometry.dims);
        assert!(back.data == source.data, "{name}");
    }
    let out = t.path().join("tumor.nii.gz");
    let o = bin()
        .arg("convert")
        .arg(f.join("seg/seg_binary.dcm"))
        .arg(&out)
        .args(["--labels", "--label-map", "tumor=tumor", "--reference"])
        .arg(f.join("dicom/uncompressed"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let back = read_labels(&out).unwrap();
    let want: Vec<u8> = source
        .data
        .iter()
        .map(|&x| if x == 2 { 2 } else { 0 })
        .collect();
    assert!(back.data == want);
    // Without the series beside it or given, the SEG is refused naming the missing series.
    let o = bin()
        .arg("convert")
        .arg(f.join("seg/seg_binary.dcm"))
        .arg(&out)
        .arg("--labels")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("referenced CT series"));
}
