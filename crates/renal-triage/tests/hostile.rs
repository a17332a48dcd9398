//! Hostile input (issue 17): files and requests a hostile but realistic user sends, each run
//! through the real binary, asserting the exit code, the message (naming the file, field or
//! case) and the process's peak memory (the kernel's VmHWM, which the binary reports at exit). A decompression bomb never takes more
//! memory than its header declares (x 1.2, above the process's own baseline), nor more than the
//! configured limit; no input panics; one bad case never stops a cohort.
//!
//! The hostile files are made here byte by byte, from the formats' specifications (nifti1.h,
//! nifti2.h, the NRRD and MetaImage headers, DICOM Part 10), not with the code under test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

mod common;
// Round 3 (issue 26): server isolation, bounds per request and series, bundles, shards,
// generated scripts.
#[path = "hostile/round3.rs"]
mod round3;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::bin;
use common::probe::{
    check, dicom, elem, expect, gz, labels, mask_file, nifti1, ran_at_least, run, tag_bytes,
    vm_hwm, write, Run,
};
use renal_testdata::shared;

/// The probes each test runs (with the shared data). Each test checks its own count at its end
/// (`ran_at_least`), so a lost probe fails the test that lost it in any run: whole, filtered,
/// on one thread or many.
mod probes {
    pub const HOSTILE_VOLUMES_ARE_REFUSED_WITH_BOUNDED_MEMORY: usize = 27;
    pub const HOSTILE_COHORTS_LOSE_ONLY_THEIR_BAD_CASES: usize = 7;
    pub const HOSTILE_PREDICTIONS_AND_BUNDLES_ARE_REFUSED_BY_NAME: usize = 16;
    pub const A_HOSTILE_NETWORK_MEETS_A_GUARDED_SERVER: usize = 21;
    pub const TLS_SLOW_CLIENTS_AND_GREEDY_CLIENTS: usize = 7;
    pub const ONE_CLIENT_NEVER_READS_ANOTHER_CLIENTS_UPLOAD: usize = 5;
    pub const EVERY_HELD_BYTE_COUNTS_AND_NOTHING_IS_TAKEN_TWICE: usize = 6;
    pub const A_TIMED_OUT_REQUEST_STOPS_ITS_WORK_AND_SHUTDOWN_IS_BOUNDED: usize = 2;
    pub const READERS_BOUND_GEOMETRY_CODESTREAMS_ITEMS_AND_SERIES: usize = 19;
    pub const BUNDLES_AND_SHARD_RESULTS_ARE_CHECKED_AND_TRAIN_LANDS_WHOLE: usize = 17;
    pub const GENERATED_SBATCH_SCRIPTS_CANNOT_BE_INJECTED: usize = 10;
    /// Every probe test, for the suite's total.
    pub const ALL: [usize; 11] = [
        HOSTILE_VOLUMES_ARE_REFUSED_WITH_BOUNDED_MEMORY,
        HOSTILE_COHORTS_LOSE_ONLY_THEIR_BAD_CASES,
        HOSTILE_PREDICTIONS_AND_BUNDLES_ARE_REFUSED_BY_NAME,
        A_HOSTILE_NETWORK_MEETS_A_GUARDED_SERVER,
        TLS_SLOW_CLIENTS_AND_GREEDY_CLIENTS,
        ONE_CLIENT_NEVER_READS_ANOTHER_CLIENTS_UPLOAD,
        EVERY_HELD_BYTE_COUNTS_AND_NOTHING_IS_TAKEN_TWICE,
        A_TIMED_OUT_REQUEST_STOPS_ITS_WORK_AND_SHUTDOWN_IS_BOUNDED,
        READERS_BOUND_GEOMETRY_CODESTREAMS_ITEMS_AND_SERIES,
        BUNDLES_AND_SHARD_RESULTS_ARE_CHECKED_AND_TRAIN_LANDS_WHOLE,
        GENERATED_SBATCH_SCRIPTS_CANNOT_BE_INJECTED,
    ];
}

/// `convert --labels IN OUT.nii.gz` (the readers' front door), with extra global options.
fn convert(input: &Path, global: &[&str]) -> Run {
    let out = input.with_extension("out.nii.gz");
    run(bin()
        .args(global)
        .arg("convert")
        .arg(input)
        .arg(&out)
        .arg("--labels"))
}

/// The process's own footprint: converting a 16^3 mask.
fn baseline(dir: &Path) -> f64 {
    static B: OnceLock<f64> = OnceLock::new();
    *B.get_or_init(|| {
        let p = write(dir, "small.nii.gz", &mask_file(16, true, 1.0));
        let r = convert(&p, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.peak_mib
    })
}

#[test]
fn hostile_volumes_are_refused_with_bounded_memory() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let base = baseline(d);

    // 1. A gzip bomb: a 64^3 uint8 header (256 KiB of voxels) whose stream inflates to 1 GiB.
    let mut head = nifti1([64; 3], 2, 8, [1.0; 3]);
    head.extend(labels(64, true));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&head).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = write(d, "bomb.nii.gz", &enc.finish().unwrap());
    let r = convert(&bomb, &[]);
    expect("bomb inflating past its header", &r, 0, &["bomb.nii.gz"]);
    let declared = 64.0 * 64.0 * 64.0 / (1 << 20) as f64;
    assert!(
        r.peak_mib <= base + 1.2 * declared + 16.0,
        "bomb: peak {:.0} MiB, baseline {base:.0} MiB, declared {declared:.2} MiB",
        r.peak_mib
    );

    // 2. A header declaring 4096^3 (64 GiB) behind 1 MiB of zeros: refused before inflating.
    let mut big = nifti1([4096, 4096, 4096], 2, 8, [1.0; 3]);
    big.extend(vec![0u8; 1 << 20]);
    let big = write(d, "huge.nii.gz", &gz(&big));
    let r = convert(&big, &[]);
    expect("64 GiB declared", &r, 2, &["huge.nii.gz", "too large"]);
    assert!(
        r.peak_mib <= base + 32.0,
        "declared 64 GiB: peak {:.0} MiB",
        r.peak_mib
    );

    // 3. Under a lower limit, a 96 MiB volume is refused; with the default, it is read.
    let mut mid = nifti1([512, 512, 384], 2, 8, [1.0; 3]);
    mid.extend(vec![0u8; 512 * 512 * 384]);
    let mid = write(d, "mid.nii.gz", &gz(&mid));
    let r = convert(&mid, &["--max-volume-mib", "64"]);
    expect("over --max-volume-mib", &r, 2, &["mid.nii.gz", "64 MiB"]);
    assert!(
        r.peak_mib <= base + 32.0,
        "limit: peak {:.0} MiB",
        r.peak_mib
    );
    // Within the default limit it is read whole (by `cohort`, which then finds no tumor in
    // it): the memory is the declared volume's, not a multiple of it.
    std::fs::write(
        d.join("mid.csv"),
        "case_id,label,mask
m,benign,mid.nii.gz
",
    )
    .unwrap();
    let r = run(bin()
        .args(["cohort", "--data"])
        .arg(d.join("mid.csv"))
        .arg("--out")
        .arg(d.join("mid-out")));
    // Read whole: the case is excluded for what is in it (no tumor label), not for its size.
    expect(
        "a 96 MiB volume within the limit",
        &r,
        1,
        &["no usable case"],
    );
    let excluded =
        std::fs::read_to_string(d.join("mid-out").join("excluded.csv")).unwrap_or_default();
    check(
        "the 96 MiB volume was read, and excluded for its content",
        excluded.contains("m,") && excluded.contains("no voxels with label 2"),
        &format!("excluded.csv: {excluded}"),
    );
    assert!(
        r.peak_mib <= base + 1.2 * 96.0,
        "96 MiB volume: peak {:.0} MiB (baseline {base:.0})",
        r.peak_mib
    );

    // 4. NIfTI-2 with dimensions 2^40 x 2^40 (once an overflow and a panic).
    let mut n2 = vec![0u8; 544];
    n2[0..4].copy_from_slice(&540i32.to_le_bytes());
    n2[4..12].copy_from_slice(b"n+2\0\r\n\x1a\n");
    n2[12..14].copy_from_slice(&2i16.to_le_bytes());
    n2[14..16].copy_from_slice(&8i16.to_le_bytes());
    for (i, v) in [3i64, 1 << 40, 1 << 40, 1, 1, 1, 1, 1].iter().enumerate() {
        n2[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    for (i, v) in [1.0f64, 1.0, 1.0, 1.0].iter().enumerate() {
        n2[104 + 8 * i..112 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    n2[168..176].copy_from_slice(&544i64.to_le_bytes());
    let n2p = write(d, "n2.nii", &n2);
    expect(
        "NIfTI-2 2^40",
        &convert(&n2p, &[]),
        2,
        &["n2.nii", "too large"],
    );

    // 5-12: malformed headers, each named.
    let bad = |name: &str, f: &dyn Fn(&mut Vec<u8>), words: &[&str]| {
        let mut h = nifti1([8; 3], 2, 8, [1.0; 3]);
        h.extend(vec![0u8; 512]);
        f(&mut h);
        let p = write(d, name, &h);
        let mut w = vec![name];
        w.extend_from_slice(words);
        expect(name, &convert(&p, &[]), 2, &w);
    };
    bad(
        "negdim.nii",
        &|h| h[42..44].copy_from_slice(&(-5i16).to_le_bytes()),
        &["dim"],
    );
    bad(
        "dim0.nii",
        &|h| h[40..42].copy_from_slice(&0i16.to_le_bytes()),
        &["dim[0]"],
    );
    bad(
        "dtype.nii",
        &|h| h[70..72].copy_from_slice(&999i16.to_le_bytes()),
        &["datatype"],
    );
    bad(
        "voxoff.nii",
        &|h| h[108..112].copy_from_slice(&f32::NAN.to_le_bytes()),
        &["vox_offset"],
    );
    bad(
        "slope.nii",
        &|h| h[112..116].copy_from_slice(&f32::INFINITY.to_le_bytes()),
        &["scl_slope"],
    );
    bad(
        "zerospacing.nii",
        &|h| h[80..84].copy_from_slice(&0f32.to_le_bytes()),
        &["spacing"],
    );
    bad(
        "fourd.nii",
        &|h| {
            h[40..42].copy_from_slice(&4i16.to_le_bytes());
            h[48..50].copy_from_slice(&2i16.to_le_bytes());
        },
        &["4D"],
    );
    bad("truncated.nii", &|h| h.truncate(352 + 100), &["truncated"]);

    // 13-16: not NIfTI at all, empty, a cut gzip stream, a label out of range.
    let p = write(d, "random.nii", &[0x42u8; 400]);
    expect(
        "random bytes",
        &convert(&p, &[]),
        2,
        &["random.nii", "not a NIfTI"],
    );
    let p = write(d, "empty.nii", b"");
    expect("empty file", &convert(&p, &[]), 2, &["empty.nii"]);
    let whole = mask_file(32, true, 1.0);
    let p = write(d, "cut.nii.gz", &whole[..whole.len() / 2]);
    expect("cut gzip", &convert(&p, &[]), 2, &["cut.nii.gz"]);
    let mut h16 = nifti1([4; 3], 4, 16, [1.0; 3]);
    let mut vox = vec![0u8; 128];
    vox[10..12].copy_from_slice(&300i16.to_le_bytes());
    h16.extend(vox);
    let p = write(d, "label300.nii", &h16);
    expect("label 300", &convert(&p, &[]), 2, &["label300.nii", "300"]);

    // 17-18: not regular files: a device and a FIFO (never read until memory runs out).
    let r = convert(Path::new("/dev/zero"), &[]);
    expect("/dev/zero", &r, 2, &["/dev/zero", "not a regular file"]);
    assert!(r.peak_mib <= base + 32.0);
    let fifo = d.join("fifo.nii.gz");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    expect(
        "FIFO",
        &convert(&fifo, &[]),
        2,
        &["fifo.nii.gz", "not a regular file"],
    );

    // 19-23: NRRD and MetaImage: a huge grid, detached data outside the folder, a bomb.
    let p = write(d, "huge.nrrd", b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 100000 100000 100000\nspace: RAS\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: raw\n\n");
    expect(
        "NRRD huge",
        &convert(&p, &[]),
        2,
        &["huge.nrrd", "too large"],
    );
    std::fs::create_dir_all(d.join("sub")).unwrap();
    let p = write(&d.join("sub"), "escape.nhdr", b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nspace: RAS\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: raw\ndata file: ../../../../etc/passwd\n\n");
    expect(
        "NRRD data file ..",
        &convert(&p, &[]),
        2,
        &["escape.nhdr", "no absolute path"],
    );
    let p = write(d, "abs.mhd", b"NDims = 3\nDimSize = 2 2 2\nElementSpacing = 1 1 1\nElementType = MET_UCHAR\nElementDataFile = /etc/hostname\n");
    expect(
        "MHA absolute data file",
        &convert(&p, &[]),
        2,
        &["abs.mhd", "no absolute path"],
    );
    let mut nb = b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 8 8 8\nspace: RAS\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: gzip\n\n".to_vec();
    nb.extend(gz(&vec![0u8; 256 << 20]));
    let p = write(d, "bomb.nrrd", &nb);
    let r = convert(&p, &[]);
    // Inflated only as far as its 8^3 grid: read, the surplus never decompressed.
    expect("NRRD bomb", &r, 0, &["bomb.nrrd", "8 x 8 x 8"]);
    assert!(
        r.peak_mib <= base + 32.0,
        "NRRD bomb: peak {:.0} MiB",
        r.peak_mib
    );
    let p = write(
        d,
        "zero.mha",
        b"NDims = 3\nDimSize = 0 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
    );
    expect(
        "MHA zero size",
        &convert(&p, &[]),
        2,
        &["zero.mha", "DimSize"],
    );

    // 24-25: DICOM: a frame larger than the limit, sequences nested without end.
    let p = write(
        d,
        "huge.dcm",
        &dicom(&[
            elem(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"),
            elem(0x0008, 0x0060, b"CS", b"CT"),
            elem(0x0020, 0x000E, b"UI", b"1.2.3\0"),
            elem(0x0028, 0x0002, b"US", &1u16.to_le_bytes()),
            elem(0x0028, 0x0008, b"IS", b"1"),
            elem(0x0028, 0x0010, b"US", &65535u16.to_le_bytes()),
            elem(0x0028, 0x0011, b"US", &65535u16.to_le_bytes()),
            elem(0x0028, 0x0100, b"US", &16u16.to_le_bytes()),
            elem(0x0028, 0x0103, b"US", &0u16.to_le_bytes()),
            elem(0x7FE0, 0x0010, b"OW", &[0u8; 16]),
        ]),
    );
    // A complete header (every element the reader needs) declaring one 65535 x 65535 frame
    // (8 GiB) over 16 bytes of pixel data: refused for its size, before any allocation.
    let r = run(bin().arg("convert").arg(&p).arg(d.join("huge-dcm.nii.gz")));
    expect(
        "DICOM huge frames",
        &r,
        2,
        &["huge.dcm", "too large", "[65535, 65535, 1] voxels"],
    );
    let mut nested = Vec::new();
    for _ in 0..2000 {
        nested.extend(tag_bytes(0x0008, 0x1115));
        nested.extend(b"SQ\0\0");
        nested.extend(0xFFFF_FFFFu32.to_le_bytes());
        nested.extend(tag_bytes(0xFFFE, 0xE000));
        nested.extend(0xFFFF_FFFFu32.to_le_bytes());
    }
    let p = write(
        d,
        "nested.dcm",
        &dicom(&[
            elem(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"),
            nested,
        ]),
    );
    let r = run(bin()
        .arg("convert")
        .arg(&p)
        .arg(d.join("nested.nii.gz"))
        .arg("--labels"));
    expect("DICOM nesting", &r, 2, &["nested.dcm"]);
    ran_at_least(probes::HOSTILE_VOLUMES_ARE_REFUSED_WITH_BOUNDED_MEMORY);
}

/// A KiTS23-style folder of the first `n` real cases and the extra records given.
fn kits_folder(dir: &Path, n: usize, extra: &[serde_json::Value]) -> Option<PathBuf> {
    let shared = shared()?;
    let all = common::kits23_records(&shared);
    let data = dir.join("kits");
    common::kits_folder(&shared, &data, &all[..n.min(all.len())], extra);
    Some(data)
}

#[test]
fn hostile_cohorts_lose_only_their_bad_cases() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let Some(shared) = shared() else { return };
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(shared.join("kits23/kits23.json")).unwrap())
            .unwrap();
    // 26-28: a case id that climbs out of the folder, an age of "sixty", a bomb mask beside
    // good cases: each case named with its reason, the others measured.
    let mut climb = all[0].clone();
    climb["case_id"] = serde_json::json!("../../x");
    let mut sixty = all[5].clone();
    sixty["age_at_nephrectomy"] = serde_json::json!("sixty");
    let data = kits_folder(d, 5, &[climb]).unwrap();
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(data.join("kits23.json")).unwrap()).unwrap();
    let sixty_id = sixty["case_id"].as_str().unwrap().to_string();
    std::fs::create_dir_all(data.join("cases").join(&sixty_id)).unwrap();
    std::os::unix::fs::symlink(
        shared.join(format!("kits23/cases/{sixty_id}/segmentation.nii.gz")),
        data.join(format!("cases/{sixty_id}/segmentation.nii.gz")),
    )
    .unwrap();
    records.push(sixty);
    // The bomb: a real case's record, its mask replaced by a header declaring 8 GiB.
    let mut bomb = all[6].clone();
    bomb["case_id"] = serde_json::json!("case_bomb");
    std::fs::create_dir_all(data.join("cases/case_bomb")).unwrap();
    let mut h = nifti1([2048, 2048, 2048], 2, 8, [1.0; 3]);
    h.extend(vec![0u8; 1 << 20]);
    std::fs::write(data.join("cases/case_bomb/segmentation.nii.gz"), gz(&h)).unwrap();
    records.push(bomb);
    std::fs::write(
        data.join("kits23.json"),
        serde_json::to_string(&records).unwrap(),
    )
    .unwrap();
    let out = d.join("out");
    let r = run(bin()
        .args(["cohort", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out));
    expect("cohort with hostile cases", &r, 0, &[]);
    let excluded = std::fs::read_to_string(out.join("excluded.csv")).unwrap();
    check(
        "a case id leaving the data folder",
        excluded.contains("not a plain name") && excluded.contains("../../x"),
        &excluded,
    );
    check(
        "a bomb among the cases",
        excluded.contains("case_bomb") && excluded.contains("too large"),
        &excluded,
    );
    let warnings = std::fs::read_to_string(out.join("warnings.csv")).unwrap();
    assert!(
        warnings.contains(&sixty_id) && warnings.contains("sixty"),
        "{warnings}"
    );
    let labels = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    assert_eq!(labels.lines().count() - 1, 6, "{labels}");
    assert!(r.peak_mib < 1024.0, "peak {:.0} MiB", r.peak_mib);

    // 29: a manifest whose case id starts with `=`: written so a spreadsheet shows text.
    let m = d.join("formula");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("mask.nii.gz"), mask_file(32, true, 1.0)).unwrap();
    std::fs::write(
        m.join("manifest.csv"),
        "case_id,label,mask\n=HYPERLINK(\"x\"),benign,mask.nii.gz\n@SUM(1),indolent,mask.nii.gz\n",
    )
    .unwrap();
    let r = run(bin()
        .args(["cohort", "--data"])
        .arg(m.join("manifest.csv"))
        .arg("--out")
        .arg(d.join("f-out")));
    expect("formula case ids", &r, 0, &[]);
    let labels = std::fs::read_to_string(d.join("f-out/labels.csv")).unwrap();
    assert!(
        labels.contains("'@SUM(1)")
            && !labels
                .lines()
                .any(|l| l.starts_with('=') || l.starts_with('@')),
        "{labels}"
    );

    // 30: a cohort with no usable case fails.
    std::fs::write(
        m.join("manifest.csv"),
        "case_id,label,mask\na,benign,missing.nii.gz\n",
    )
    .unwrap();
    let r = run(bin()
        .args(["cohort", "--data"])
        .arg(m.join("manifest.csv"))
        .arg("--out")
        .arg(d.join("none")));
    expect("zero usable cases", &r, 1, &["no usable case"]);

    // 31: a run killed mid-way leaves the previous run's folder whole, and the next run
    // removes what it left.
    let full = kits_folder(&d.join("k2"), 120, &[]).unwrap();
    let out = d.join("atomic");
    let r = run(bin()
        .args(["cohort", "--data"])
        .arg(&full)
        .arg("--out")
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = common::files(&out);
    // Killed at a known point (the test hook that `reproduce.rs` and `train` use): half of
    // its files written into its staging folder, none of them yet in place.
    let mut child = bin()
        .args(["cohort", "--data"])
        .arg(&full)
        .arg("--out")
        .arg(&out)
        .env("RENAL_TRIAGE_TEST_PAUSE_AT", "cohort-half-written")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("test pause at cohort-half-written") {
        line.clear();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "the cohort run ended before its pause point");
    }
    let staging = d.join(format!(".atomic.staging-{}", child.id()));
    check(
        "the killed run was writing into its own staging folder",
        staging.join("excluded.csv").exists() && !staging.join("features.csv").exists(),
        &format!("{} holds {:?}", staging.display(), common::files(&staging)),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    check(
        "a run killed mid-way",
        out.is_dir() && common::files(&out) == before,
        &"a killed run changed the finished folder",
    );
    let r = run(bin()
        .args(["cohort", "--data"])
        .arg(&full)
        .arg("--out")
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".atomic."))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    ran_at_least(probes::HOSTILE_COHORTS_LOSE_ONLY_THEIR_BAD_CASES);
}

struct Bundle {
    _dir: tempfile::TempDir,
    path: PathBuf,
    mask: PathBuf,
    /// The public key of the Ed25519 key it was signed with, as `train` printed it.
    public: String,
}

/// A small clinical + size forest trained on 40 KiTS23 cases.
fn bundle() -> Option<&'static Bundle> {
    static B: OnceLock<Option<Bundle>> = OnceLock::new();
    B.get_or_init(|| {
        let shared = shared()?;
        let dir = tempfile::tempdir().unwrap();
        let data = kits_folder(dir.path(), 40, &[])?;
        let path = dir.path().join("bundle");
        let key = dir.path().join("key.pem");
        assert!(Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&key)
            .status()
            .unwrap()
            .success());
        let out = common::probe::train_forest(&data, &path, &["--sign", key.to_str().unwrap()]);
        let public = out
            .split_whitespace()
            .find(|w| w.starts_with("ed25519:"))
            .unwrap()
            .to_string();
        let mask = shared.join("kits23/cases/case_00019/segmentation.nii.gz");
        Some(Bundle {
            _dir: dir,
            path,
            mask,
            public,
        })
    })
    .as_ref()
}

fn predict(b: &Bundle, args: &[&str]) -> Run {
    run(bin().args(["predict", "--model"]).arg(&b.path).args(args))
}

#[test]
fn hostile_predictions_and_bundles_are_refused_by_name() {
    let Some(b) = bundle() else { return };
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let mask = b.mask.to_str().unwrap();
    // 32: a kidney-only mask (labels 0 and 1) is not a tumor; said to be one, it is measured.
    let kidney = write(d, "kidney.nii.gz", &mask_file(32, false, 1.0));
    let k = kidney.to_str().unwrap();
    expect(
        "kidney-only mask",
        &predict(b, &["--mask", k, "--set", "age=60"]),
        2,
        &["no tumor label", "tumor=1"],
    );
    let r = predict(
        b,
        &["--mask", k, "--set", "age=60", "--label-map", "tumor=1"],
    );
    expect("binary tumor mask said so", &r, 0, &["p_malignant"]);
    // 33: a spacing of 1e30 mm gives no size and no decision.
    let far = write(d, "far.nii.gz", &mask_file(32, true, 1e30));
    expect(
        "spacing 1e30",
        &predict(b, &["--mask", far.to_str().unwrap()]),
        2,
        &["implausible voxel spacing"],
    );
    // 34: a yes/no given for a number.
    let r = predict(b, &["--mask", mask, "--clinical", "{\"age\": true}"]);
    expect(
        "age: true",
        &r,
        2,
        &["age", "expected a number from 0 to 120"],
    );
    // 35: @file with a UTF-8 byte-order mark.
    let bom = write(d, "bom.json", "\u{feff}{\"age\": 61}".as_bytes());
    let r = predict(
        b,
        &["--mask", mask, "--clinical", &format!("@{}", bom.display())],
    );
    expect("@file with a BOM", &r, 0, &["p_malignant"]);
    // 36: the same case twice in a batch.
    std::fs::copy(&b.mask, d.join("m.nii.gz")).unwrap();
    let man = write(
        d,
        "batch.csv",
        b"case_id,mask,age\nc1,m.nii.gz,60\nc1,m.nii.gz,70\n",
    );
    let r = predict(b, &["--manifest", man.to_str().unwrap()]);
    expect("duplicate batch ids", &r, 2, &["c1", "appears twice"]);
    // 37: a batch case id that climbs out.
    let man = write(d, "climb.csv", b"case_id,mask\n../x,m.nii.gz\n");
    expect(
        "batch id ../x",
        &predict(b, &["--manifest", man.to_str().unwrap()]),
        2,
        &["not a plain name"],
    );
    // 38-41: the bundle: its digest, an edited bundle.json, a wrong expected digest, a weak
    // model (its records rewritten consistently, as a weak model's would be).
    let r = run(bin().args(["inspect", "--digest"]).arg(&b.path));
    assert_eq!(r.code, 0);
    let digest = r.stdout.trim().to_string();
    let mut want = renal_cohort::io::sha256_hex(
        &serde_json::to_vec(
            &serde_json::from_str::<serde_json::Value>(
                &std::fs::read_to_string(b.path.join("bundle.json")).unwrap(),
            )
            .unwrap(),
        )
        .unwrap(),
    );
    assert_eq!(
        digest, want,
        "the digest is the sha256 of the canonical manifest"
    );
    expect(
        "expected digest",
        &predict(b, &["--mask", mask, "--expect-digest", &digest]),
        0,
        &[],
    );
    want.replace_range(0..1, if want.starts_with('0') { "1" } else { "0" });
    expect(
        "wrong digest",
        &predict(b, &["--mask", mask, "--expect-digest", &want]),
        2,
        &["not the expected"],
    );
    let edited = d.join("edited");
    copy_dir(&b.path, &edited);
    let text = std::fs::read_to_string(edited.join("bundle.json")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    for t in m["thresholds"].as_array_mut().unwrap() {
        t[1] = serde_json::json!(0.0);
    }
    std::fs::write(
        edited.join("bundle.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    let r = run(bin().arg("inspect").arg(&edited));
    expect("edited thresholds", &r, 2, &["bundle.json was modified"]);
    for c in m["cv"].as_array_mut().unwrap() {
        c["auc"] = serde_json::json!(0.39);
    }
    // Signed: the signature no longer verifies, whatever the digest file says.
    let resigned = d.join("resigned");
    copy_dir(&b.path, &resigned);
    let bytes = serde_json::to_vec_pretty(&m).unwrap();
    std::fs::write(resigned.join("bundle.json"), &bytes).unwrap();
    let canon = renal_cohort::io::sha256_hex(&serde_json::to_vec(&m).unwrap());
    std::fs::write(resigned.join("bundle.sha256"), &canon).unwrap();
    let r = run(bin().arg("inspect").arg(&resigned));
    expect(
        "signed, edited, re-hashed",
        &r,
        2,
        &["bundle.sig does not verify"],
    );
    // 42b-d: signatures: the signer shown, trusted keys accepted, another key refused.
    let r = run(bin().arg("inspect").arg(&b.path));
    expect("signer shown", &r, 0, &[&format!("signed by {}", b.public)]);
    let trusted = write(
        d,
        "trusted.txt",
        format!("# release keys\n{}\n", b.public).as_bytes(),
    );
    let r = predict(
        b,
        &["--mask", mask, "--trusted-keys", trusted.to_str().unwrap()],
    );
    expect("trusted signer", &r, 0, &["p_malignant"]);
    let stranger = write(
        d,
        "stranger.txt",
        b"ed25519:0000000000000000000000000000000000000000000000000000000000000000\n",
    );
    let r = predict(
        b,
        &["--mask", mask, "--trusted-keys", stranger.to_str().unwrap()],
    );
    expect("untrusted signer", &r, 2, &["not among the trusted keys"]);
    let weak = d.join("weak");
    copy_dir(&b.path, &weak);
    // An unsigned weak model (its records rewritten consistently).
    std::fs::remove_file(weak.join("bundle.sig")).unwrap();
    let bytes = serde_json::to_vec_pretty(&m).unwrap();
    std::fs::write(weak.join("bundle.json"), &bytes).unwrap();
    let canon = serde_json::to_vec(&m).unwrap();
    std::fs::write(
        weak.join("bundle.sha256"),
        renal_cohort::io::sha256_hex(&canon),
    )
    .unwrap();
    let r = run(bin()
        .args(["predict", "--model"])
        .arg(&weak)
        .args(["--mask", mask]));
    expect(
        "weak model warns",
        &r,
        0,
        &["warning", "discriminates poorly", "0.390"],
    );
    let r = run(bin()
        .args(["serve", "--model"])
        .arg(&weak)
        .args(["--addr", "127.0.0.1:0"]));
    expect("weak model not served", &r, 2, &["--allow-weak-model"]);
    ran_at_least(probes::HOSTILE_PREDICTIONS_AND_BUNDLES_ARE_REFUSED_BY_NAME);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_hostile_network_meets_a_guarded_server() {
    let Some(b) = bundle() else { return };
    let t = tempfile::tempdir().unwrap();
    // 42: beyond loopback without tokens: refused at start.
    let r = run(bin()
        .args(["serve", "--model"])
        .arg(&b.path)
        .args(["--addr", "0.0.0.0:0"]));
    expect("0.0.0.0 without tokens", &r, 2, &["--token-file"]);
    // 43: a token file in clear text is refused (tokens are stored hashed).
    let clear = write(t.path(), "clear.txt", b"s3cret\n");
    let r = run(bin()
        .args(["serve", "--model"])
        .arg(&b.path)
        .arg("--token-file")
        .arg(&clear));
    expect("clear-text token file", &r, 2, &["clear.txt", "sha256"]);
    let token = "correct horse battery staple";
    let hashed = write(
        t.path(),
        "tokens.txt",
        format!(
            "# ops\nsha256:{}\n",
            renal_cohort::io::sha256_hex(token.as_bytes())
        )
        .as_bytes(),
    );
    let s = common::start(
        &b.path,
        &[
            "--token-file",
            hashed.to_str().unwrap(),
            "--max-upload-mib",
            "400",
        ],
    );
    let bearer = |r: ureq::Request, auth: Option<&str>| match auth {
        Some(a) => r.set("Authorization", &format!("Bearer {a}")),
        None => r,
    };
    let get = |path: &str, auth: Option<&str>| {
        common::send(bearer(ureq::get(&format!("{}{path}", s.url)), auth), None)
    };
    // 44-47: no token, a wrong token, /healthz open, the right token.
    let r = get("/api/v1/model", None);
    check(
        "no token",
        r.status == 401
            && r.text.contains("request_id")
            && r.cache_control.as_deref() == Some("no-store"),
        &format!("{} {}", r.status, r.text),
    );
    let r = get("/api/v1/model", Some("wrong"));
    check("a wrong token", r.status == 401, &r.status);
    // Every other route refuses a request without a token, before it reads a body: the page,
    // the form's and the API's predictions (multipart and JSON) and the API description.
    let (mp_type, mp_body) =
        common::multipart(&[("age", "60")], &[("mask", "m.nii.gz", b"not a volume")]);
    let json = ("application/json", br#"{"clinical": {"age": 60}}"#.to_vec());
    for (what, method, path, body) in [
        ("the page", "GET", "/", None),
        ("the API description", "GET", "/openapi.json", None),
        (
            "the form's prediction",
            "POST",
            "/predict",
            Some((&mp_type, &mp_body)),
        ),
        (
            "the API's prediction",
            "POST",
            "/api/v1/predict",
            Some((&mp_type, &mp_body)),
        ),
        (
            "the API's JSON prediction",
            "POST",
            "/api/v1/predict",
            Some((&json.0.to_string(), &json.1)),
        ),
    ] {
        for auth in [None, Some("wrong")] {
            let req = bearer(ureq::request(method, &format!("{}{path}", s.url)), auth);
            let r = common::send(req, body.map(|(t, b)| (t.as_str(), b.as_slice())));
            check(
                &format!(
                    "{what} ({method} {path}) with {}",
                    auth.map_or("no token", |_| "a wrong token")
                ),
                r.status == 401
                    && r.text.contains("authentication required")
                    && !r.text.contains("triage")
                    && !r.text.contains("openapi"),
                &format!("{} {}", r.status, r.text),
            );
        }
    }
    let r = get("/healthz", None);
    check("/healthz without a token", r.status == 200, &r.status);
    let r = get("/api/v1/model", Some(token));
    check(
        "the right token",
        r.status == 200 && r.cache_control.as_deref() == Some("no-store"),
        &r.status,
    );
    // 48: the model's description names no path of the training machine.
    check(
        "the model's description",
        !r.text.contains("/tmp/") && r.text.contains("\"digest\""),
        &r.text,
    );
    // 49: a bad upload's error names the field, not the server's private upload path.
    let (ctype, bodyb) =
        common::multipart(&[("age", "60")], &[("mask", "m.nii.gz", b"not a volume")]);
    let predict_url = format!("{}/api/v1/predict", s.url);
    let r = common::send(
        bearer(ureq::post(&predict_url), Some(token)),
        Some((&ctype, &bodyb)),
    );
    check(
        "a bad upload's error",
        r.status == 400
            && r.text.contains("mask")
            && !r.text.contains("renal-triage-uploads")
            && r.text.contains("request_id"),
        &format!("{} {}", r.status, r.text),
    );
    // 50: 8 uploads of 300 MiB at once: streamed to disk, the server's memory stays bounded
    // and /healthz answers meanwhile.
    let big = std::sync::Arc::new({
        let (ct, mut body) = common::multipart(&[("age", "60")], &[("mask", "big.nii.gz", &[])]);
        let cut =
            body.len() - format!("\r\n--{}--\r\n", ct.split("boundary=").nth(1).unwrap()).len();
        let tail = body.split_off(cut);
        body.extend(std::iter::repeat_n(0x5au8, 300 << 20));
        body.extend(tail);
        (ct, body)
    });
    // The server's high-water mark before the uploads: they may add less than a quarter of one.
    let before = vm_hwm(s.child.id());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let big = big.clone();
            let req = bearer(ureq::post(&predict_url), Some(token));
            std::thread::spawn(move || common::send(req, Some((&big.0, &big.1))).status)
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        get("/healthz", None).status,
        200,
        "healthz during the uploads"
    );
    let codes: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    check(
        "8 x 300 MiB uploads",
        codes.iter().all(|&c| c == 400),
        &format!("{codes:?}"),
    );
    let peak = vm_hwm(s.child.id());
    eprintln!("server peak {before:.0} MiB before 8 x 300 MiB uploads, {peak:.0} MiB after");
    check(
        "8 x 300 MiB uploads streamed to disk, none held in memory",
        peak < before + 64.0,
        &format!("server peak {before:.0} MiB before, {peak:.0} MiB after"),
    );
    let uploads = std::env::temp_dir().join(format!("renal-triage-uploads-{}", s.child.id()));
    let left = std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "uploads left in {}", uploads.display());
    // 51: SIGTERM removes the upload folder.
    signal_removes_uploads(&s, "TERM");
    ran_at_least(probes::A_HOSTILE_NETWORK_MEETS_A_GUARDED_SERVER);
}

/// Sends the server signal `sig` and checks (as a probe) that its upload folder is gone.
fn signal_removes_uploads(s: &common::Server, sig: &str) {
    let uploads = std::env::temp_dir().join(format!("renal-triage-uploads-{}", s.child.id()));
    assert!(uploads.is_dir(), "{} missing", uploads.display());
    assert!(Command::new("kill")
        .args([&format!("-{sig}"), &s.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    check(
        &format!("SIG{sig}"),
        !uploads.exists(),
        &format!("the upload folder survives SIG{sig}"),
    );
}

#[test]
fn tls_slow_clients_and_greedy_clients() {
    let Some(b) = bundle() else { return };
    let t = tempfile::tempdir().unwrap();
    // 52: HTTPS with a certificate made here (openssl), checked by curl against it.
    let (cert, key) = (t.path().join("cert.pem"), t.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let s = common::start(
        &b.path,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(s.url.starts_with("https://"), "{}", s.url);
    let curl = |args: &[&str]| {
        Command::new("curl")
            .args(["-s", "-S", "--max-time", "10"])
            .args(args)
            .output()
            .unwrap()
    };
    let o = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        &format!("{}/healthz", s.url),
    ]);
    check(
        "HTTPS with curl --cacert",
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("ok"),
        &String::from_utf8_lossy(&o.stderr),
    );
    // Without the certificate, curl refuses the server; in clear text, the server refuses.
    assert!(!curl(&[&format!("{}/healthz", s.url)]).status.success());
    let plain = s.url.replace("https://", "http://");
    check(
        "clear text to a TLS server",
        !curl(&[&format!("{plain}/healthz")]).status.success(),
        &"answered",
    );
    drop(s);

    // 53-55: 1,000 clients trickling their headers: the server stays small and answers
    // /healthz meanwhile, and cuts them off after the header timeout.
    let s = common::start(
        &b.path,
        &["--header-timeout-s", "2", "--rate-per-minute", "30"],
    );
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..1000 {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a")
            .unwrap();
        slow.push(c);
    }
    let t0 = std::time::Instant::now();
    let health = common::send(
        ureq::get(&format!("{}/healthz", s.url)).timeout(std::time::Duration::from_secs(5)),
        None,
    );
    check(
        "/healthz among 1,000 slow clients",
        health.status == 200 && t0.elapsed().as_secs_f64() < 2.0,
        &format!("{} after {:?}", health.status, t0.elapsed()),
    );
    let peak = vm_hwm(s.child.id());
    check(
        "1,000 slow clients' memory",
        peak < 1024.0,
        &format!("server peak {peak:.0} MiB"),
    );
    std::thread::sleep(std::time::Duration::from_secs(4));
    let mut cut = 0;
    for c in &mut slow {
        c.set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        let _ = c.write_all(b"b");
        let mut buf = [0u8; 512];
        match std::io::Read::read(c, &mut buf) {
            Ok(_) => cut += 1,
            Err(e)
                if e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut =>
            {
                cut += 1
            }
            Err(_) => {}
        }
    }
    check(
        "the header timeout",
        cut == 1000,
        &format!("connections still open: {}", 1000 - cut),
    );
    drop(slow);
    // 56: a greedy client is answered 429 after its minute's share; /healthz stays open.
    let codes: Vec<u16> = (0..40)
        .map(|_| common::send(ureq::get(&format!("{}/api/v1/model", s.url)), None).status)
        .collect();
    check(
        "a greedy client",
        codes.iter().filter(|&&c| c == 200).count() <= 31 && codes.contains(&429),
        &format!("{codes:?}"),
    );
    let health = common::send(ureq::get(&format!("{}/healthz", s.url)), None);
    assert_eq!(health.status, 200);
    // 57: SIGINT (Ctrl-C) removes the upload folder too.
    signal_removes_uploads(&s, "INT");
    ran_at_least(probes::TLS_SLOW_CLIENTS_AND_GREEDY_CLIENTS);
}

/// Counts the probes once the other tests of this file have finished.
/// The suite promises at least forty hostile probes: the sum of the per-test counts, each of
/// which its own test enforces.
#[test]
fn at_least_forty_hostile_inputs() {
    let total: usize = probes::ALL.iter().sum();
    assert!(total >= 40, "{total} probes");
}
