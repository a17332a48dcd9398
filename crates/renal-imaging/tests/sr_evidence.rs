//! The SR's evidence (issue 15, item 4): a document made from the fixture CT series (written
//! by SimpleITK) and a SEG (highdicom) lists their study, series and every instance in the
//! Current Requested Procedure Evidence Sequence, files in the CT's study and under its
//! patient, as dcmtk's `dcmdump` reads it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::{Path, PathBuf};

use renal_imaging::dicom::sr::{evidence, write_sr, Code, Document, Item, Value};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

#[test]
fn the_sr_references_the_series_it_was_made_from() {
    let ct = evidence(&fixture("dicom/uncompressed")).unwrap();
    assert_eq!(ct.series_uid, "1.2.826.0.1.3680043.8.498.1");
    assert_eq!(ct.study_uid, "1.2.826.0.1.3680043.8.498.2");
    assert_eq!(ct.instances.len(), 60);
    assert!(ct
        .instances
        .iter()
        .all(|(class, _)| class == "1.2.840.10008.5.1.4.1.1.2"));
    let seg = evidence(&fixture("seg/seg_binary.dcm")).unwrap();
    assert_eq!(seg.instances.len(), 1);
    assert_eq!(seg.instances[0].0, "1.2.840.10008.5.1.4.1.1.66.4");
    // A folder mixing two series is refused.
    let t = tempfile::tempdir().unwrap();
    for f in ["dicom/uncompressed/slice000.dcm", "seg/seg_binary.dcm"] {
        let p = fixture(f);
        std::fs::copy(&p, t.path().join(p.file_name().unwrap())).unwrap();
    }
    let e = evidence(t.path()).unwrap_err().to_string();
    assert!(e.contains("not the folder's"), "{e}");

    let doc = Document {
        patient: ct.patient.clone(),
        study_uid: ct.study_uid.clone(),
        series_uid: "2.25.1".into(),
        sop_uid: "2.25.2".into(),
        date: "20261129".into(),
        time: "120000".into(),
        series_description: "test".into(),
        title: Code::new("126000", "DCM", "Imaging Measurement Report"),
        template: "1500".into(),
        content: vec![Item {
            relationship: "CONTAINS",
            concept: Code::new("121071", "DCM", "Finding"),
            value: Value::Text("x".into()),
        }],
        evidence: vec![ct.clone(), seg.clone()],
    };
    let out = t.path().join("sr.dcm");
    write_sr(&out, &doc).unwrap();
    let o = match std::process::Command::new("dcmdump").arg(&out).output() {
        Ok(o) => o,
        Err(_) => {
            assert!(
                !renal_testdata::under_ci(),
                "dcmtk's dcmdump is required under CI"
            );
            eprintln!("SKIPPED: dcmtk not installed");
            return;
        }
    };
    let dump = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        dump.contains("CurrentRequestedProcedureEvidenceSequence"),
        "{dump}"
    );
    assert_eq!(
        dump.matches("ReferencedSOPInstanceUID").count(),
        61,
        "{dump}"
    );
    assert!(dump.contains(&format!("[{}]", ct.series_uid)));
    assert!(dump.contains(&format!("[{}]", seg.series_uid)));
    // Filed in the CT's study (the evidence's study listed once, both series under it).
    assert_eq!(
        dump.matches(&format!("[{}]", ct.study_uid)).count(),
        2,
        "{dump}"
    );
    // dicom3tools' dciodvfy (the IOD and module checker) finds no error, where installed
    // (CI installs it).
    match std::process::Command::new("dciodvfy").arg(&out).output() {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr).to_string()
                + &String::from_utf8_lossy(&o.stdout);
            let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("Error")).collect();
            eprintln!("dciodvfy:\n{text}");
            assert!(errors.is_empty(), "dciodvfy:\n{text}");
        }
        Err(_) => {
            assert!(
                !renal_testdata::under_ci(),
                "dicom3tools' dciodvfy is required under CI"
            );
            eprintln!("SKIPPED: dicom3tools not installed");
        }
    }
}

/// The identity check of a stored file (`pacs pull`'s): the meta group's SOP Instance UID, read
/// from the file's first bytes, is the data set's, for every syntax; a head without a meta
/// group names none, and a data set without one is read whole.
#[test]
fn an_instance_is_named_by_its_first_bytes() {
    for folder in [
        "dicom/jpegls",
        "dicom/rle",
        "dicom/deflated",
        "dicom/bigendian",
    ] {
        let ev = evidence(&fixture(folder)).unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let mut uids: Vec<String> = files
            .iter()
            .map(|f| renal_imaging::dicom::instance_uid(f).unwrap())
            .collect();
        let mut want: Vec<String> = ev.instances.iter().map(|(_, s)| s.clone()).collect();
        uids.sort();
        want.sort();
        assert_eq!(uids, want, "{folder}");
    }
    let seg = std::fs::read(fixture("seg/seg_binary.dcm")).unwrap();
    let want = evidence(&fixture("seg/seg_binary.dcm")).unwrap().instances[0]
        .1
        .clone();
    assert_eq!(
        renal_imaging::dicom::meta_instance_uid(&seg[..1024]).as_deref(),
        Some(want.as_str())
    );
    assert_eq!(renal_imaging::dicom::meta_instance_uid(&seg[..140]), None);
    assert_eq!(renal_imaging::dicom::meta_instance_uid(b"not dicom"), None);
    // A data set without preamble or meta group: its own SOP Instance UID.
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.dcm");
    let p10 = std::fs::read(fixture("dicom/uncompressed/slice000.dcm")).unwrap();
    assert_eq!(
        &p10[132..138],
        b"\x02\x00\x00\x00UL",
        "the meta group starts with its length"
    );
    let meta_len = u32::from_le_bytes(p10[140..144].try_into().unwrap()) as usize;
    std::fs::write(&bare, &p10[144 + meta_len..]).unwrap();
    let uid = renal_imaging::dicom::instance_uid(&bare).unwrap();
    assert_eq!(Some(uid), renal_imaging::dicom::meta_instance_uid(&p10));
}
