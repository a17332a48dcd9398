//! Hostile input, round 3 (issue 26; a module of tests/hostile.rs): a probe for each thing a hostile but realistic user
//! found, through the real binary (and the real server, with concurrent clients on
//! loopback), asserting the exit code or HTTP status, the message, and peak memory or CPU time
//! where they are the point:
//!
//! - the server: one client cannot read another's upload (private folders, unguessable
//!   names); every byte a request holds counts against the in-flight budget; a timed-out
//!   request's work stops and shutdown is bounded; log fields cannot forge lines; a field
//!   given twice is refused;
//! - the readers: RTSTRUCT geometry far off the grid or huge contours, a JP2 whose `xml ` box
//!   carries a decoy codestream header, a DICOM file of a million items, a series over the
//!   volume limit, a small NRRD that decodes to a huge float volume, a detached data file
//!   through a symbolic link;
//! - bundles and shards: file names outside the bundle, devices and FIFOs, an unsigned bundle
//!   under `--trusted-keys`, trees that loop or read a missing feature, tampered shard results,
//!   `train` killed as its bundle lands;
//! - Slurm: a newline in any value of a generated script.
//!
//! Hostile files are made here byte by byte from the formats' specifications (PS3.5 for
//! DICOM, ISO/IEC 15444-1 for JP2 boxes, nifti1.h, the NRRD header), not with the code under
//! test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::common;
use super::probes;
use common::bin;
use common::probe::{
    check, dicom, elem, expect, gz, nifti1, ran_at_least, run, tag_bytes, train_forest, vm_hwm,
    write, Run,
};
use renal_testdata::shared;

/// A forest bundle trained on 40 KiTS23 cases, and a real mask.
struct Bundle {
    _dir: tempfile::TempDir,
    path: PathBuf,
    mask: PathBuf,
}

fn bundle() -> Option<&'static Bundle> {
    static B: OnceLock<Option<Bundle>> = OnceLock::new();
    B.get_or_init(|| {
        let shared = shared()?;
        let dir = tempfile::tempdir().unwrap();
        let all = common::kits23_records(&shared);
        let data = dir.path().join("kits");
        common::kits_folder(&shared, &data, &all[..40], &[]);
        let path = dir.path().join("bundle");
        train_forest(&data, &path, &[]);
        let mask = shared.join("kits23/cases/case_00019/segmentation.nii.gz");
        Some(Bundle {
            _dir: dir,
            path,
            mask,
        })
    })
    .as_ref()
}

fn imaging_fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../renal-imaging/tests/fixtures")
        .join(rel)
}

/// Sends `head` and then the body's chunks on a new connection (stopping at the first write
/// error: the server closed the connection), then reads the answer: its status (0 when none
/// came) and text.
fn raw_request(addr: &str, head: &str, body: impl Iterator<Item = Vec<u8>>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    if s.write_all(head.as_bytes()).is_ok() {
        for chunk in body {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

const BOUNDARY: &str = "hostile3boundaryQ7z";

fn part_head(name: &str, file: Option<&str>) -> String {
    match file {
        Some(f) => format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"),
        None => format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
    }
}

fn post_head(path: &str, ctype: &str, len: usize) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
}

/// A 32^3 uint8 label volume (kidney around a tumor) as a plain `.nii`.
fn small_nii() -> Vec<u8> {
    let mut f = nifti1([32; 3], 2, 8, [1.0; 3]);
    f.extend(common::probe::labels(32, true));
    f
}

/// Upload folders of the server `pid`: each request's own folder, with its files.
fn request_folders(pid: u32) -> Vec<(String, Vec<String>)> {
    let root = std::env::temp_dir().join(format!("renal-triage-uploads-{pid}"));
    let mut out: Vec<(String, Vec<String>)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let files = std::fs::read_dir(e.path())
                .into_iter()
                .flatten()
                .flatten()
                .map(|f| f.file_name().to_string_lossy().to_string())
                .collect();
            (e.file_name().to_string_lossy().to_string(), files)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn one_client_never_reads_another_clients_upload() {
    let Some(b) = bundle() else { return };
    let s = common::start(&b.path, &[]);
    let addr = s.url.trim_start_matches("http://").to_string();
    let pid = s.child.id();
    // Client A: a raw `.nii` mask, stalled before the closing boundary.
    let nii = small_nii();
    let head = part_head("mask", Some("a.nii"));
    let mut a = TcpStream::connect(&addr).unwrap();
    a.write_all(
        post_head(
            "/api/v1/predict",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
            head.len() + nii.len() + 64,
        )
        .as_bytes(),
    )
    .unwrap();
    a.write_all(head.as_bytes()).unwrap();
    a.write_all(&nii).unwrap();
    a.flush().unwrap();
    let t = Instant::now();
    let (folder, file) = loop {
        let f = request_folders(pid);
        if let Some((d, files)) = f.into_iter().find(|(_, files)| !files.is_empty()) {
            break (d, files[0].clone());
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "A's upload never landed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // 1: A's folder and file names carry 128 random bits.
    let hex = folder.strip_prefix("r-").unwrap_or("");
    check(
        "request folders are unguessable",
        hex.len() == 32 && hex.bytes().all(|c| c.is_ascii_hexdigit()),
        &folder,
    );
    let a_file = std::env::temp_dir()
        .join(format!("renal-triage-uploads-{pid}"))
        .join(&folder)
        .join(&file);
    // 2-4: client B's NRRD names A's file as its detached data: by the old predictable name,
    // by its real name through `..`, and by its absolute path. Each is refused (400, naming
    // the data file), never measured.
    for (what, name) in [
        ("predictable name", format!("upload-{pid}-0.nii.gz")),
        ("through ..", format!("../{folder}/{file}")),
        ("absolute path", a_file.display().to_string()),
    ] {
        let nhdr = format!("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 32 32 33\nspace: left-posterior-superior\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\nencoding: raw\ndata file: {name}\n\n");
        let (ctype, body) = common::multipart(&[], &[("mask", "b.nrrd", nhdr.as_bytes())]);
        let (status, v) = common::post(&format!("{}/api/v1/predict", s.url), &ctype, &body);
        check(
            &format!("B reads A's upload ({what})"),
            status == 400 && v["error"].as_str().unwrap_or("").contains("data file"),
            &format!("{status} {v}"),
        );
        assert!(!v.to_string().contains("renal-triage-uploads"), "{v}");
    }
    // 5: A goes away: its folder is removed with its request.
    drop(a);
    let t = Instant::now();
    while request_folders(pid).iter().any(|(d, _)| d == &folder) {
        assert!(t.elapsed() < Duration::from_secs(20), "A's folder stayed");
        std::thread::sleep(Duration::from_millis(50));
    }
    check("A's folder removed with its request", true, &"");
    ran_at_least(probes::ONE_CLIENT_NEVER_READS_ANOTHER_CLIENTS_UPLOAD);
}

#[test]
fn every_held_byte_counts_and_nothing_is_taken_twice() {
    let Some(b) = bundle() else { return };
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("server.log");
    let s = common::start_logging(&b.path, &["--max-upload-mib", "400"], Some(&log));
    let addr = s.url.trim_start_matches("http://").to_string();
    let pid = s.child.id();
    let before = vm_hwm(pid);
    // 6-7: eight concurrent 300 MiB `clinical` text parts, then eight 300 MiB JSON bodies:
    // refused as they pass 1 MiB (413), the server's peak memory barely moves.
    const HUGE: usize = 300 << 20;
    let chunks = || std::iter::repeat_n(vec![b'7'; 1 << 16], HUGE >> 16);
    let mp = format!("multipart/form-data; boundary={BOUNDARY}");
    for (what, ctype, first) in [
        (
            "300 MiB text parts",
            mp.as_str(),
            part_head("clinical", None),
        ),
        (
            "300 MiB JSON bodies",
            "application/json",
            "{\"case_id\": \"".into(),
        ),
    ] {
        let answers: Vec<(u16, String)> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    let (addr, first) = (&addr, first.clone());
                    sc.spawn(move || {
                        let head = post_head("/api/v1/predict", ctype, first.len() + HUGE);
                        raw_request(
                            addr,
                            &head,
                            std::iter::once(first.into_bytes()).chain(chunks()),
                        )
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let grown = vm_hwm(pid) - before;
        check(
            what,
            answers.iter().all(|(st, _)| *st == 413 || *st == 0)
                && answers.iter().any(|(st, _)| *st == 413)
                && grown < 96.0,
            &format!(
                "statuses {:?}, peak grew {grown:.0} MiB",
                answers.iter().map(|a| a.0).collect::<Vec<_>>()
            ),
        );
    }
    let url = format!("{}/api/v1/predict", s.url);
    let mask = std::fs::read(&b.mask).unwrap();
    // 8: a key given twice in the clinical JSON.
    let (st, v) = common::post(
        &url,
        "application/json",
        br#"{"clinical": {"age": 50, "age": 80}}"#,
    );
    check(
        "duplicate JSON key",
        st == 400
            && v["error"]
                .as_str()
                .unwrap_or("")
                .contains("`age` is given twice"),
        &format!("{st} {v}"),
    );
    // 9: a field given twice in a form (as a part and in the clinical JSON).
    let (ctype, body) = common::multipart(
        &[("age", "50"), ("clinical", r#"{"age": 80}"#)],
        &[("mask", "m.nii.gz", &mask)],
    );
    let (st, v) = common::post(&url, &ctype, &body);
    check(
        "a value given twice",
        st == 400 && v["field"] == "age" && v["error"].as_str().unwrap_or("").contains("twice"),
        &format!("{st} {v}"),
    );
    // 10: two masks.
    let (ctype, body) = common::multipart(
        &[],
        &[("mask", "m.nii.gz", &mask), ("mask", "n.nii.gz", &mask)],
    );
    let (st, v) = common::post(&url, &ctype, &body);
    check(
        "two masks",
        st == 400 && v["field"] == "mask" && v["error"].as_str().unwrap_or("").contains("twice"),
        &format!("{st} {v}"),
    );
    // 11: a newline in a clinical key becomes no line of the log.
    let (st, _) = common::post(
        &url,
        "application/json",
        br#"{"clinical": {"age\nFORGED audit line status=200": 1}}"#,
    );
    drop(s);
    let text = std::fs::read_to_string(&log).unwrap();
    check(
        "no forged log line",
        st == 400
            && text.contains("FORGED")
            && !text.lines().any(|l| l.trim_start().starts_with("FORGED")),
        &text,
    );
    ran_at_least(probes::EVERY_HELD_BYTE_COUNTS_AND_NOTHING_IS_TAKEN_TWICE);
}

/// CPU time the process `pid` has used (s), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

/// A legal but slow mask: a 256^3 lattice of isolated tumor voxels (2 million components).
fn lattice_mask() -> Vec<u8> {
    let n = 256usize;
    let mut f = nifti1([n as i16; 3], 2, 8, [0.8; 3]);
    let mut v = vec![0u8; n * n * n];
    for k in (0..n).step_by(2) {
        for j in (0..n).step_by(2) {
            for i in (0..n).step_by(2) {
                v[i + n * (j + n * k)] = 2;
            }
        }
    }
    f.extend(v);
    gz(&f)
}

#[test]
fn a_timed_out_request_stops_its_work_and_shutdown_is_bounded() {
    let Some(b) = bundle() else { return };
    let s = common::start(&b.path, &["--timeout-s", "2", "--concurrency", "1"]);
    let pid = s.child.id();
    let mask = lattice_mask();
    let (ctype, body) = common::multipart(&[("age", "60")], &[("mask", "m.nii.gz", &mask)]);
    // 12: three concurrent slow requests: the first times out (504), the others find the
    // one permit still held by the work (503); no work outlives its request.
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (url, ctype, body) = (&s.url, &ctype, &body);
                sc.spawn(move || common::post(&format!("{url}/api/v1/predict"), ctype, body).0)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // The work stops at its next check: within a second or two the server is idle.
    std::thread::sleep(Duration::from_secs(3));
    let c0 = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(3));
    let busy = cpu_seconds(pid) - c0;
    check(
        "timed-out work stops",
        statuses.contains(&504) && statuses.iter().all(|s| [503, 504].contains(s)) && busy < 0.5,
        &format!("statuses {statuses:?}, {busy:.2} s of CPU in 3 s after the answers"),
    );
    // 13: SIGTERM during a slow request: the server is gone within the grace period.
    let url = s.url.clone();
    let (c2, b2) = (ctype.clone(), body.clone());
    let pending =
        std::thread::spawn(move || common::post(&format!("{url}/api/v1/predict"), &c2, &b2).0);
    std::thread::sleep(Duration::from_millis(800));
    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let mut s = s;
    let gone = loop {
        if let Ok(Some(_)) = s.child.try_wait() {
            break t.elapsed();
        }
        if t.elapsed() > Duration::from_secs(20) {
            break t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = pending.join();
    check(
        "shutdown within its bound",
        gone < Duration::from_secs(6),
        &format!("still up {:.1} s after SIGTERM", gone.as_secs_f64()),
    );
    ran_at_least(probes::A_TIMED_OUT_REQUEST_STOPS_ITS_WORK_AND_SHUTDOWN_IS_BOUNDED);
}

/// Implicit VR little endian element (PS3.5 7.1.3).
fn ie(g: u16, e: u16, value: &[u8]) -> Vec<u8> {
    let mut v = tag_bytes(g, e);
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(b' ');
    }
    v.extend((value.len() as u32).to_le_bytes());
    v.extend(value);
    v
}

/// A sequence of undefined length with items of undefined length (PS3.5 7.5.2).
fn iseq(g: u16, e: u16, items: &[Vec<u8>]) -> Vec<u8> {
    let mut v = tag_bytes(g, e);
    v.extend(0xFFFF_FFFFu32.to_le_bytes());
    for it in items {
        v.extend(tag_bytes(0xFFFE, 0xE000));
        v.extend(0xFFFF_FFFFu32.to_le_bytes());
        v.extend(it);
        v.extend(tag_bytes(0xFFFE, 0xE00D));
        v.extend(0u32.to_le_bytes());
    }
    v.extend(tag_bytes(0xFFFE, 0xE0DD));
    v.extend(0u32.to_le_bytes());
    v
}

/// A value of the reference CT's first slice, by dcmtk's dcmdump (an independent reader).
fn dcmdump(file: &Path, tag: &str) -> String {
    let o = Command::new("dcmdump")
        .args(["+L", "+P", tag])
        .arg(file)
        .output()
        .expect("dcmdump (dcmtk) is needed: .ci/run installs it");
    // `(0020,000e) UI [1.2.3]  # ...` for text, `(0028,0010) US 32  # ...` for numbers.
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    match t.split_once('[') {
        Some((_, r)) => r.split(']').next().unwrap_or("").to_string(),
        None => t.split_whitespace().nth(2).unwrap_or("").to_string(),
    }
}

/// An RT structure set (implicit VR) on the reference CT with one closed contour.
fn rtstruct(series_uid: &str, points: &[[f64; 3]]) -> Vec<u8> {
    let data: Vec<String> = points
        .iter()
        .flat_map(|p| p.iter().map(|v| format!("{v}")))
        .collect();
    let contour = [
        ie(0x3006, 0x0042, b"CLOSED_PLANAR"),
        ie(0x3006, 0x0046, points.len().to_string().as_bytes()),
        ie(0x3006, 0x0050, data.join("\\").as_bytes()),
    ]
    .concat();
    let series = ie(0x0020, 0x000E, format!("{series_uid}\0").as_bytes());
    dicom(&[
        elem(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2\0"),
        ie(0x0008, 0x0016, b"1.2.840.10008.5.1.4.1.1.481.3\0"),
        iseq(
            0x3006,
            0x0010,
            &[iseq(0x3006, 0x0012, &[iseq(0x3006, 0x0014, &[series])])],
        ),
        iseq(
            0x3006,
            0x0020,
            &[[ie(0x3006, 0x0022, b"1"), ie(0x3006, 0x0026, b"tumor")].concat()],
        ),
        iseq(
            0x3006,
            0x0039,
            &[[ie(0x3006, 0x0084, b"1"), iseq(0x3006, 0x0040, &[contour])].concat()],
        ),
    ])
}

fn convert_labels(input: &Path, reference: Option<&Path>, global: &[&str]) -> (Run, Duration) {
    let t = Instant::now();
    let mut c = bin();
    c.args(global)
        .arg("convert")
        .arg(input)
        .arg(input.with_extension("out.nii.gz"))
        .arg("--labels");
    if let Some(r) = reference {
        c.arg("--reference").arg(r);
    }
    (run(&mut c), t.elapsed())
}

#[test]
fn readers_bound_geometry_codestreams_items_and_series() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // 14-16: RTSTRUCT contours on the reference CT: a vertex at 1e9 mm and at 1e30 mm is
    // refused at once; a fine contour of 200,000 points is rasterised in seconds.
    let ct = imaging_fixture("dicom/uncompressed");
    let first = ct.join("slice000.dcm");
    let uid = dcmdump(&first, "0020,000e");
    let ipp: Vec<f64> = dcmdump(&first, "0020,0032")
        .split('\\')
        .map(|v| v.trim().parse().unwrap())
        .collect();
    let ps: Vec<f64> = dcmdump(&first, "0028,0030")
        .split('\\')
        .map(|v| v.trim().parse().unwrap())
        .collect();
    let iop: Vec<f64> = dcmdump(&first, "0020,0037")
        .split('\\')
        .map(|v| v.trim().parse().unwrap())
        .collect();
    let rows: f64 = dcmdump(&first, "0028,0010").trim().parse().unwrap();
    // Points in the first slice's plane (PS3.3 C.7.6.2.1.1): IPP + row cosines x column
    // index x column spacing + column cosines x row index x row spacing.
    let circle = |n: usize, r: f64| -> Vec<[f64; 3]> {
        (0..n)
            .map(|k| {
                let a = k as f64 / n as f64 * std::f64::consts::TAU;
                let (ci, ri) = (rows / 2.0 + r * a.cos(), rows / 2.0 + r * a.sin());
                [0, 1, 2].map(|x| ipp[x] + iop[x] * ci * ps[1] + iop[3 + x] * ri * ps[0])
            })
            .collect()
    };
    for (what, far) in [("vertex at 1e9 mm", 1e9), ("vertex at 1e30 mm", 1e30)] {
        let mut pts = circle(40, rows / 4.0);
        pts[7][0] = far;
        let p = write(d, "far.dcm", &rtstruct(&uid, &pts));
        let (r, took) = convert_labels(&p, Some(&ct), &[]);
        expect(what, &r, 2, &["far.dcm", "contour 1", "point 8", "far off"]);
        check(
            &format!("{what}: refused at once"),
            took < Duration::from_secs(10),
            &format!("{took:?}"),
        );
    }
    let p = write(d, "fine.dcm", &rtstruct(&uid, &circle(200_000, rows / 4.0)));
    let (r, took) = convert_labels(&p, Some(&ct), &[]);
    expect("a contour of 200,000 points", &r, 0, &[]);
    check(
        "a fine contour in seconds",
        took < Duration::from_secs(30),
        &format!("{took:?}"),
    );

    // 17: a JP2 frame whose `xml ` box carries a decoy SOC+SIZ of the right size, while its
    // codestream box (jp2c) declares a 30,000 x 30,000 image: refused on the codestream that
    // would be decoded, with bounded memory.
    let src = std::fs::read(imaging_fixture("dicom/j2k/slice000.dcm")).unwrap();
    let px = src
        .windows(4)
        .position(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .unwrap();
    let soc = src
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])
        .unwrap();
    let end = src
        .windows(4)
        .rposition(|w| w == [0xFE, 0xFF, 0xDD, 0xE0])
        .unwrap();
    // The frame's codestream: from SOC to the end of its fragment (the item before the
    // sequence delimiter).
    let frag_len = u32::from_le_bytes(src[soc - 4..soc].try_into().unwrap()) as usize;
    let real = &src[soc..soc + frag_len];
    assert!(soc + frag_len <= end);
    let mut huge = real.to_vec();
    huge[8..12].copy_from_slice(&30_000u32.to_be_bytes());
    huge[12..16].copy_from_slice(&30_000u32.to_be_bytes());
    huge[24..28].copy_from_slice(&30_000u32.to_be_bytes());
    huge[28..32].copy_from_slice(&30_000u32.to_be_bytes());
    let jbox = |kind: &[u8; 4], body: &[u8]| {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend(kind);
        b.extend(body);
        b
    };
    let mut jp2 = vec![0, 0, 0, 12, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A];
    jp2.extend(jbox(b"ftyp", b"jp2 \0\0\0\0jp2 "));
    jp2.extend(jbox(b"xml ", &real[..60]));
    jp2.extend(jbox(b"jp2c", &huge));
    if jp2.len() % 2 == 1 {
        jp2.push(0);
    }
    let mut f = src[..px].to_vec();
    f.extend(tag_bytes(0x7FE0, 0x0010));
    f.extend(b"OB\0\0");
    f.extend(0xFFFF_FFFFu32.to_le_bytes());
    f.extend(tag_bytes(0xFFFE, 0xE000));
    f.extend(0u32.to_le_bytes());
    f.extend(tag_bytes(0xFFFE, 0xE000));
    f.extend((jp2.len() as u32).to_le_bytes());
    f.extend(&jp2);
    f.extend(tag_bytes(0xFFFE, 0xE0DD));
    f.extend(0u32.to_le_bytes());
    let p = write(d, "decoy.dcm", &f);
    let r = run(bin().arg("convert").arg(&p).arg(d.join("decoy.nii.gz")));
    expect("JP2 decoy header", &r, 2, &["decoy.dcm", "30000 x 30000"]);
    check("JP2 decoy: bounded memory", r.peak_mib < 200.0, &r.peak_mib);

    // 17b: the same fixture whose Pixel Representation says unsigned while its codestream
    // holds signed samples: refused by name (an independent decoder would read other values).
    let mut unsigned = src.clone();
    let pr = [0x28, 0x00, 0x03, 0x01, b'U', b'S', 0x02, 0x00, 0x01, 0x00];
    let at = unsigned.windows(10).position(|w| w == pr).unwrap();
    unsigned[at + 8] = 0;
    let p = write(d, "signedness.dcm", &unsigned);
    let r = run(bin()
        .arg("convert")
        .arg(&p)
        .arg(d.join("signedness.nii.gz")));
    expect(
        "JPEG 2000 signedness against Pixel Representation",
        &r,
        2,
        &["signedness.dcm", "signed", "unsupported"],
    );

    // 18: a DICOM file whose one sequence holds 1.2 million empty items: refused by the
    // parser's limit, within bounded memory.
    let mut items = tag_bytes(0x0008, 0x1115);
    items.extend(b"SQ\0\0");
    items.extend(0xFFFF_FFFFu32.to_le_bytes());
    for _ in 0..1_200_000 {
        items.extend(tag_bytes(0xFFFE, 0xE000));
        items.extend(0u32.to_le_bytes());
    }
    items.extend(tag_bytes(0xFFFE, 0xE0DD));
    items.extend(0u32.to_le_bytes());
    let p = write(
        d,
        "items.dcm",
        &dicom(&[elem(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"), items]),
    );
    let (r, _) = convert_labels(&p, None, &[]);
    expect(
        "1.2 million sequence items",
        &r,
        2,
        &["items.dcm", "sequence items"],
    );
    check(
        "1.2 million items: bounded memory",
        r.peak_mib < 1024.0,
        &r.peak_mib,
    );

    // 19: a series of 64 slices of 128 x 128, each well within --max-volume-mib 1, together
    // 4 MiB decoded: refused for the series.
    let series = d.join("series");
    std::fs::create_dir_all(&series).unwrap();
    for k in 0..64u32 {
        let pos = format!("0\\0\\{k}");
        write(
            &series,
            &format!("s{k:03}.dcm"),
            &dicom(&[
                elem(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"),
                elem(0x0008, 0x0016, b"UI", b"1.2.840.10008.5.1.4.1.1.2\0"),
                elem(0x0008, 0x0060, b"CS", b"CT"),
                elem(0x0020, 0x000E, b"UI", b"1.2.826.0.1.3680043.2.1125.7\0"),
                elem(0x0020, 0x0032, b"DS", pos.as_bytes()),
                elem(0x0020, 0x0037, b"DS", b"1\\0\\0\\0\\1\\0"),
                elem(0x0028, 0x0002, b"US", &1u16.to_le_bytes()),
                elem(0x0028, 0x0004, b"CS", b"MONOCHROME2"),
                elem(0x0028, 0x0010, b"US", &128u16.to_le_bytes()),
                elem(0x0028, 0x0011, b"US", &128u16.to_le_bytes()),
                elem(0x0028, 0x0030, b"DS", b"1\\1"),
                elem(0x0028, 0x0100, b"US", &16u16.to_le_bytes()),
                elem(0x0028, 0x0101, b"US", &16u16.to_le_bytes()),
                elem(0x0028, 0x0102, b"US", &15u16.to_le_bytes()),
                elem(0x0028, 0x0103, b"US", &1u16.to_le_bytes()),
                elem(0x0028, 0x1052, b"DS", b"-1024"),
                elem(0x0028, 0x1053, b"DS", b"1"),
                elem(0x7FE0, 0x0010, b"OW", &vec![0u8; 128 * 128 * 2]),
            ]),
        );
    }
    let r = run(bin()
        .args(["--max-volume-mib", "1", "convert"])
        .arg(&series)
        .arg(d.join("series.nii.gz")));
    expect(
        "a series over the limit",
        &r,
        2,
        &["series", "the series' decoded slices"],
    );
    let r = run(bin()
        .args(["convert"])
        .arg(&series)
        .arg(d.join("series.nii.gz")));
    expect("the same series within the limit", &r, 0, &[]);

    // 20-21: a uint8 NRRD of 1024 x 1024 x 256 (1 MiB of gzip) under --max-volume-mib 256:
    // as an intensity image it would be 1 GiB of floats (refused, before any is made); as
    // labels it converts, within about three times the limit.
    let raw = gz(&vec![0u8; 1024 * 1024 * 256]);
    let mut nrrd = b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 1024 1024 256\nspace: left-posterior-superior\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\nencoding: gzip\n\n".to_vec();
    nrrd.extend(&raw);
    let p = write(d, "wide.nrrd", &nrrd);
    let r = run(bin()
        .args(["--max-volume-mib", "256", "convert"])
        .arg(&p)
        .arg(d.join("wide.nii.gz")));
    expect(
        "uint8 NRRD as floats over the limit",
        &r,
        2,
        &["wide.nrrd", "over the limit"],
    );
    check(
        "uint8 NRRD as floats: bounded memory",
        r.peak_mib < 700.0,
        &r.peak_mib,
    );
    let (r, _) = convert_labels(&p, None, &["--max-volume-mib", "256"]);
    expect("uint8 NRRD as labels", &r, 0, &[]);
    check(
        "uint8 NRRD as labels: bounded memory",
        r.peak_mib < 800.0,
        &r.peak_mib,
    );

    // 22-23: a detached data file that is a symbolic link to a file elsewhere, or reached
    // through a linked folder: refused, naming the link.
    let outside = d.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let secret = write(&outside, "secret.raw", &vec![2u8; 8 * 8 * 8]);
    let hdr_dir = d.join("hdr");
    std::fs::create_dir_all(&hdr_dir).unwrap();
    std::os::unix::fs::symlink(&secret, hdr_dir.join("data.raw")).unwrap();
    std::os::unix::fs::symlink(&outside, hdr_dir.join("sub")).unwrap();
    for (what, name) in [
        ("linked data file", "data.raw"),
        ("linked folder", "sub/secret.raw"),
    ] {
        let p = write(
            &hdr_dir,
            "m.nhdr",
            format!("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 8 8 8\nspace: left-posterior-superior\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\nencoding: raw\ndata file: {name}\n\n").as_bytes(),
        );
        let (r, _) = convert_labels(&p, None, &[]);
        expect(what, &r, 2, &["m.nhdr", "symbolic link"]);
    }
    ran_at_least(probes::READERS_BOUND_GEOMETRY_CODESTREAMS_ITEMS_AND_SERIES);
}

/// Re-hashes a bundle's edited `bundle.json` (as a tamperer would): its digest file
/// follows, so only the checks on the contents can refuse it.
fn rehash(dir: &Path, manifest: &serde_json::Value) {
    let text = serde_json::to_string_pretty(manifest).unwrap() + "\n";
    std::fs::write(dir.join("bundle.json"), &text).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let digest = renal_cohort::io::sha256_hex(&serde_json::to_vec(&v).unwrap());
    std::fs::write(dir.join("bundle.sha256"), format!("{digest}\n")).unwrap();
}

fn copy_bundle(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn inspect(dir: &Path, extra: &[&str]) -> Run {
    run(bin().arg("inspect").arg(dir).args(extra))
}

#[test]
fn bundles_and_shard_results_are_checked_and_train_lands_whole() {
    let Some(b) = bundle() else { return };
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.path.join("bundle.json")).unwrap())
            .unwrap();
    // 24-25: `files` naming a file above the bundle, or an absolute path.
    let secret = write(d, "secret.txt", b"not the bundle's");
    for (what, name) in [
        ("a file above the bundle", "../secret.txt".to_string()),
        ("an absolute path", secret.display().to_string()),
    ] {
        let dir = d.join(format!("b-{}", what.len()));
        copy_bundle(&b.path, &dir);
        let mut m = manifest.clone();
        m["files"][&name] = renal_cohort::io::sha256_hex(b"not the bundle's").into();
        rehash(&dir, &m);
        expect(what, &inspect(&dir, &[]), 2, &["not a plain file name"]);
    }
    // 26-27: pipeline.json a link to /dev/zero, bundle.json a FIFO: refused before reading.
    let dir = d.join("zero");
    copy_bundle(&b.path, &dir);
    std::fs::remove_file(dir.join("pipeline.json")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("pipeline.json")).unwrap();
    let r = inspect(&dir, &[]);
    expect(
        "pipeline.json -> /dev/zero",
        &r,
        2,
        &["pipeline.json", "not a regular file"],
    );
    check("/dev/zero: bounded memory", r.peak_mib < 100.0, &r.peak_mib);
    let dir = d.join("fifo");
    copy_bundle(&b.path, &dir);
    std::fs::remove_file(dir.join("bundle.json")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(dir.join("bundle.json"))
        .status()
        .unwrap()
        .success());
    expect(
        "bundle.json a FIFO",
        &inspect(&dir, &[]),
        2,
        &["bundle.json", "not a regular file"],
    );
    // 28: an unsigned bundle under --trusted-keys whose pipeline is /dev/zero: refused for its
    // missing signature before any file is read.
    let keys = write(
        d,
        "keys.txt",
        format!("ed25519:{}\n", "ab".repeat(32)).as_bytes(),
    );
    let r = inspect(&d.join("zero"), &["--trusted-keys", keys.to_str().unwrap()]);
    expect("unsigned under --trusted-keys", &r, 2, &["not signed"]);
    check("unsigned: bounded memory", r.peak_mib < 100.0, &r.peak_mib);
    // 29-30: re-hashed trees: a node pointing at itself, a split on feature 999.
    let pipeline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.path.join("pipeline.json")).unwrap())
            .unwrap();
    for (what, words) in [
        ("a tree that loops", "reached twice"),
        ("feature 999", "feature 999"),
    ] {
        let dir = d.join(what.replace(' ', "-"));
        copy_bundle(&b.path, &dir);
        let mut p = pipeline.clone();
        let node = &mut p["model"]["forest"]["trees"][0]["nodes"][0];
        if what == "feature 999" {
            node["feature"] = 999.into();
        } else {
            node["left"] = 0.into();
        }
        let bytes = serde_json::to_vec(&p).unwrap();
        std::fs::write(dir.join("pipeline.json"), &bytes).unwrap();
        let mut m = manifest.clone();
        m["files"]["pipeline.json"] = renal_cohort::io::sha256_hex(&bytes).into();
        rehash(&dir, &m);
        expect(what, &inspect(&dir, &[]), 2, &["pipeline.json", words]);
        let r = run(bin()
            .args(["predict", "--model"])
            .arg(&dir)
            .arg("--mask")
            .arg(&b.mask));
        expect(&format!("{what}: predict"), &r, 2, &[words]);
    }
    // 31: train killed as its new bundle is complete but not yet in place: the previous
    // bundle stays whole (it loads, with its digest).
    let Some(shared) = shared() else { return };
    let out = d.join("landing");
    copy_bundle(&b.path, &out);
    let old = inspect(&out, &["--digest"]);
    let data = d.join("kits");
    let all = common::kits23_records(&shared);
    common::kits_folder(&shared, &data, &all[..30], &[]);
    let exp = d.join("exp.toml");
    std::fs::copy(b.path.with_extension("toml"), &exp).unwrap();
    let mut child = bin()
        .env("RENAL_TRIAGE_TEST_PAUSE_AT", "train-written")
        .args(["train", "--data"])
        .arg(&data)
        .arg("--experiment")
        .arg(&exp)
        .args(["--model", "rf", "--out"])
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0 {
        if line.contains("test pause at train-written") {
            break;
        }
        line.clear();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let after = inspect(&out, &["--digest"]);
    check(
        "train killed as its bundle lands",
        line.contains("train-written") && after.code == 0 && after.stdout == old.stdout,
        &format!("{line}\n{}{}", after.stdout, after.stderr),
    );

    // 32-34: shard results: altered, impossible (re-sealed), made under another label map.
    let work = d.join("work");
    let shards = |work: &Path, extra: &[&str]| {
        for i in 0..2 {
            let r = run(bin()
                .args(["cohort", "--data"])
                .arg(&data)
                .args(["--shard", &format!("{i}/2"), "--work"])
                .arg(work)
                .args(extra));
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
    };
    shards(&work, &[]);
    let case = work.join("cases/case_00019.json");
    let good = std::fs::read_to_string(&case).unwrap();
    let merge = || {
        run(bin()
            .arg("merge")
            .arg(&work)
            .arg("--out")
            .arg(d.join("merged")))
    };
    expect("untouched shards merge", &merge(), 0, &[]);
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let diameter = &mut v["measured"]["Ok"]["components"][0]["axial_diameter_mm"];
    *diameter = (diameter.as_f64().unwrap() * 10.0).into();
    std::fs::write(&case, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    expect("a diameter x 10", &merge(), 2, &["case_00019", "altered"]);
    v["measured"]["Ok"]["components"][0]["axial_diameter_mm"] = 1e308.into();
    v["result_sha256"] = "".into();
    let seal = renal_cohort::io::sha256_hex(&serde_json::to_vec(&v).unwrap());
    v["result_sha256"] = seal.into();
    std::fs::write(&case, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    expect(
        "a size of 1e308, re-sealed",
        &merge(),
        2,
        &["case_00019", "not a measurement of this grid"],
    );
    let other = d.join("work-other");
    shards(&other, &["--label-map", "kidney=1,tumor=2,cyst=3"]);
    std::fs::copy(other.join("cases/case_00019.json"), &case).unwrap();
    expect(
        "a result of another label map",
        &merge(),
        2,
        &["case_00019", "another configuration"],
    );
    // Rerunning the shard redoes the refused case; the merge then succeeds.
    shards(&work, &[]);
    expect("the shard redoes it", &merge(), 0, &[]);
    ran_at_least(probes::BUNDLES_AND_SHARD_RESULTS_ARE_CHECKED_AND_TRAIN_LANDS_WHOLE);
}

#[test]
fn generated_sbatch_scripts_cannot_be_injected() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let data = d.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let plan = |work: &Path, extra: &[&str]| {
        run(bin()
            .args(["slurm", "plan", "--data"])
            .arg(&data)
            .arg("--work")
            .arg(work)
            .args(["--shards", "2"])
            .args(extra))
    };
    // 35-37: a newline in a value of an #SBATCH line.
    for (option, value) in [
        ("--partition", "cpu\ntouch /tmp/pwned"),
        ("--time", "01:00:00\ntouch /tmp/pwned"),
        ("--gpu-partition", "gpu\ntouch /tmp/pwned"),
    ] {
        let work = d.join(option.trim_start_matches('-'));
        let r = plan(&work, &[option, value]);
        expect(&format!("newline in {option}"), &r, 2, &[option]);
        check(
            &format!("{option}: no script written"),
            !work.join("slurm/shards.sbatch").exists(),
            &work.display(),
        );
    }
    // 38-39: a newline in the work or data folder's name.
    let work = d.join("w\ntouch pwned");
    let r = plan(&work, &[]);
    expect(
        "newline in the work folder",
        &r,
        2,
        &["--work", "control character"],
    );
    let odd = d.join("d\necho injected");
    std::fs::create_dir_all(&odd).unwrap();
    let r = run(bin()
        .args(["slurm", "plan", "--data"])
        .arg(&odd)
        .arg("--work")
        .arg(d.join("w2"))
        .args(["--shards", "2"]));
    expect(
        "newline in the data folder",
        &r,
        2,
        &["--data", "control character"],
    );
    // A folder with a space and a quote is quoted, and bash reads the script as one command.
    let fine = d.join("my data 'x'");
    std::fs::create_dir_all(&fine).unwrap();
    let r = run(bin()
        .args(["slurm", "plan", "--data"])
        .arg(&fine)
        .arg("--work")
        .arg(d.join("w3"))
        .args([
            "--shards",
            "2",
            "--partition",
            "cpu",
            "--time",
            "2-00:00:00",
        ]));
    expect("an odd but legal folder name", &r, 0, &[]);
    let script = std::fs::read_to_string(d.join("w3/slurm/shards.sbatch")).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(d.join("w3/slurm/shards.sbatch"))
        .status()
        .unwrap();
    check(
        "the quoted script parses",
        syntax.success() && script.contains("my data '\\''x'\\'''"),
        &script,
    );
    ran_at_least(probes::GENERATED_SBATCH_SCRIPTS_CANNOT_BE_INJECTED);
}
