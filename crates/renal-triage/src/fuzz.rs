//! Entry points for coverage-guided fuzzing (`fuzz/`, built with `cargo afl`) and for the
//! replay of its corpus and of every crash it found (`tests/fuzz_corpus.rs`, run by CI): each
//! takes arbitrary bytes, hands them to a reader as a user's file would reach it, and returns;
//! an error is the expected answer to bad bytes, a panic or a hang is a bug.
//!
//! The readers take paths (they check the file, its size and its kind first), so each target
//! writes its bytes into a private scratch folder (on tmpfs where there is one).

use std::path::{Path, PathBuf};

/// The fuzz targets, by name (the `fuzz/` binaries and the corpus folders share the names).
pub const TARGETS: &[&str] = &[
    "nifti",
    "nrrd",
    "metaimage",
    "dicom",
    "manifest",
    "tables",
    "kits23",
    "patient",
    "bundle",
    "multipart",
    "rtstruct",
    "jp2",
];

/// Runs target `name` on `data` (an unknown name does nothing).
pub fn run(name: &str, data: &[u8]) {
    let dir = scratch();
    match name {
        "nifti" => nifti(&dir, data),
        "nrrd" => volume(&dir, "x.nrrd", data),
        "metaimage" => volume(&dir, "x.mha", data),
        "dicom" => dicom(&dir, data),
        "manifest" => manifest(&dir, data),
        "tables" => tables(&dir, data),
        "kits23" => kits23(&dir, data),
        "patient" => patient(data),
        "bundle" => bundle(&dir, data),
        "multipart" => multipart(&dir, data),
        // Contour geometry and JPEG 2000 boxes below their file formats (issue 26).
        "rtstruct" => {
            let _ = renal_imaging::fuzzing::rtstruct_geometry(data);
        }
        "jp2" => {
            let _ = renal_imaging::fuzzing::jpeg2000_frame(data);
        }
        _ => {}
    }
}

/// A per-thread scratch folder, made once.
fn scratch() -> PathBuf {
    thread_local! {
        static DIR: PathBuf = {
            let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
            let d = base.join(format!("renal-triage-fuzz-{}-{:?}", std::process::id(), std::thread::current().id()));
            let _ = std::fs::create_dir_all(&d);
            d
        };
    }
    DIR.with(Clone::clone)
}

fn put(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    let _ = std::fs::write(&p, data);
    p
}

/// NIfTI, plain or gzip (the reader tells them apart by content), as labels and as scalars.
fn nifti(dir: &Path, data: &[u8]) {
    let p = put(dir, "x.nii.gz", data);
    let _ = renal_imaging::nifti::read_header(&p);
    let _ = renal_imaging::nifti::read_labels(&p);
    let _ = renal_imaging::nifti::read_scalar(&p);
}

/// A volume format chosen by name, as labels (with segment names) and as scalars. (What a
/// reader returns is a valid volume; measuring one costs ~100 ms, which would slow the fuzzer
/// a thousandfold: the measurements are tested on real and synthetic masks instead.)
fn volume(dir: &Path, name: &str, data: &[u8]) {
    let p = put(dir, name, data);
    let _ = renal_imaging::read_mask(&p, &[], None);
    let _ = renal_imaging::read_scalar(&p);
}

/// One DICOM file: as a CT slice (or enhanced multi-frame), and as a SEG or RTSTRUCT.
fn dicom(dir: &Path, data: &[u8]) {
    let p = put(dir, "x.dcm", data);
    let _ = renal_imaging::dicom::read_slices(&p);
    let _ = renal_imaging::read_mask(&p, &[], None);
}

/// A cohort manifest (CSV, the columns a hospital's table may have).
fn manifest(dir: &Path, data: &[u8]) {
    let p = put(dir, "manifest.csv", data);
    if let Ok(c) = renal_cohort::manifest::load_manifest(&p) {
        // And predefined splits against it (the same bytes, read as a splits file).
        let _ = renal_cohort::splits::read_splits_csv(&p, &c);
    }
}

/// A feature table and a label table (the `--labels` route).
fn tables(dir: &Path, data: &[u8]) {
    let p = put(dir, "features.csv", data);
    let _ = renal_cohort::tables::read_feature_table(&p);
    let _ = renal_cohort::tables::read_labels_table(&p);
}

/// A `kits23.json` (cases without masks are excluded, the records are still read).
fn kits23(dir: &Path, data: &[u8]) {
    let k = dir.join("kits");
    let _ = std::fs::create_dir_all(&k);
    put(&k, "kits23.json", data);
    let _ = renal_cohort::load_kits23(&k);
}

/// A patient's JSON input (the API's JSON body) and its clinical record.
fn patient(data: &[u8]) {
    if let Ok(p) = serde_json::from_slice::<crate::model::predict::PatientInput>(data) {
        let _ = crate::model::predict::clinical_record_for(&crate::server::fuzz_inputs(), &[], &p);
    }
}

/// A bundle whose `bundle.json` is the input (its digest file made to match, so the loader
/// goes past the digest into the manifest and the files it names).
fn bundle(dir: &Path, data: &[u8]) {
    let b = dir.join("bundle");
    let _ = std::fs::create_dir_all(&b);
    put(&b, "bundle.json", data);
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = crate::model::bundle::manifest_digest(&text) {
        put(&b, crate::model::bundle::DIGEST_FILE, d.as_bytes());
    }
    put(&b, "pipeline.json", b"{}");
    let _ = crate::model::bundle::load_bundle(&b);
}

/// A request body to the predict endpoints as the server reads it: the input's first line is
/// the Content-Type header (its boundary), the rest is the body. The uploads land in the
/// scratch folder and are removed.
fn multipart(dir: &Path, data: &[u8]) {
    let (ctype, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let uploads = dir.join("uploads");
    let _ = std::fs::create_dir_all(&uploads);
    let _ = crate::server::fuzz_multipart(&uploads, &String::from_utf8_lossy(ctype), body.to_vec());
}

#[cfg(test)]
mod tests {
    /// The multipart target reaches the end of the server's path for a good body (so the
    /// fuzzer explores past the parser) and stops at the file name for a bad one; either way
    /// no upload is left behind.
    #[test]
    fn multipart_target_goes_the_whole_way() {
        let dir = tempfile::tempdir().unwrap();
        let seeds =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/multipart");
        let run = |name: &str| {
            let data = std::fs::read(seeds.join(name)).unwrap();
            let i = data.iter().position(|&b| b == b'\n').unwrap();
            let ctype = String::from_utf8(data[..i].to_vec()).unwrap();
            crate::server::fuzz_multipart(dir.path(), &ctype, data[i + 1..].to_vec())
        };
        assert_eq!(run("form.bin"), Ok(()));
        assert_eq!(run("clinical_json.bin"), Ok(()));
        let bad = run("bad_name.bin").unwrap_err().0;
        assert!(bad.starts_with("mask:"), "{bad}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// The JPEG 2000 seeds reach the decoder (a bare codestream, the same in a JP2 file, with
    /// a 64-bit box length), the decoy's real codestream is what is checked, and contour
    /// seeds fill pixels or are refused by name.
    #[test]
    fn jp2_and_rtstruct_seeds_reach_the_end() {
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        let seed = |t: &str, n: &str| std::fs::read(seeds.join(t).join(n)).unwrap();
        for n in ["codestream.bin", "jp2.bin", "xl_box.bin"] {
            assert_eq!(
                renal_imaging::fuzzing::jpeg2000_frame(&seed("jp2", n)).unwrap(),
                28 * 29 * 2,
                "{n}"
            );
        }
        let e = renal_imaging::fuzzing::jpeg2000_frame(&seed("jp2", "decoy.bin"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("30000 x 30000"), "{e}");
        let filled = renal_imaging::fuzzing::rtstruct_geometry(&seed("rtstruct", "square.bin"));
        assert_eq!(filled.unwrap(), 21 * 21);
        let far = renal_imaging::fuzzing::rtstruct_geometry(&seed("rtstruct", "far_vertex.bin"));
        assert!(far.unwrap_err().to_string().contains("far off"));
    }
}
