//! The formats hospitals hold, from the command line (issue 15, first part): `convert` writes
//! NRRD, Slicer's `.seg.nrrd` and MetaImage volumes as NIfTI, and `cohort` measures a manifest
//! whose masks come in those formats as it measures the NIfTI. The fixtures are
//! `renal-imaging`'s, written by SimpleITK and pynrrd (`scripts/make_format_fixtures.py`).

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
    let o = bin()
        .args(["cohort", "--data"])
        .arg(t.path().join("manifest.csv"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("measurements.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "tumor_size_mm").unwrap();
    let sizes: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    assert_eq!(sizes.len(), 4, "{text}");
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
