//! `renal-triage fetch kits23` against an HTTP server on loopback that serves a copy of the
//! shared data in the upstream layout (`dataset/kits23.json`, `dataset/case_X/segmentation.nii.gz`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use renal_testdata::shared;

/// A minimal HTTP/1.1 file server with `Range: bytes=N-` support. Stops after `max` requests.
fn serve(root: PathBuf, max: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ranged = Arc::new(AtomicUsize::new(0));
    let ranged2 = ranged.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut range: Option<usize> = None;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = v.trim().trim_end_matches('-').parse().ok();
                }
            }
            let file = root.join(path.trim_start_matches('/'));
            match std::fs::read(&file) {
                Ok(body) => {
                    let (status, body) = match range {
                        Some(n) if n < body.len() => {
                            ranged2.fetch_add(1, Ordering::SeqCst);
                            ("206 Partial Content", body[n..].to_vec())
                        }
                        _ => ("200 OK", body),
                    };
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(&body);
                }
                Err(_) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
            let _ = s.flush();
            let mut sink = [0u8; 1];
            let _ = s.read(&mut sink);
        }
    });
    (format!("http://{addr}"), ranged)
}

fn upstream_copy(shared: &Path, cases: &[&str], dir: &Path) {
    let ds = dir.join("dataset");
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::copy(shared.join("kits23/kits23.json"), ds.join("kits23.json")).unwrap();
    for c in cases {
        std::fs::create_dir_all(ds.join(c)).unwrap();
        std::fs::copy(
            shared.join(format!("kits23/cases/{c}/segmentation.nii.gz")),
            ds.join(format!("{c}/segmentation.nii.gz")),
        )
        .unwrap();
    }
}

fn fetch(base: &str, dest: &Path, cases: &str, checksums: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .args([
            "fetch",
            "kits23",
            "--base-url",
            base,
            "--cases",
            cases,
            "--dest",
        ])
        .arg(dest)
        .arg("--checksums")
        .arg(checksums)
        .output()
        .unwrap()
}

#[test]
fn fetch_downloads_verifies_and_resumes() {
    let Some(shared) = shared() else { return };
    let cases = ["case_00019", "case_00060", "case_00116"];
    let up = tempfile::tempdir().unwrap();
    upstream_copy(&shared, &cases, up.path());
    let (base, ranged) = serve(up.path().to_path_buf(), 50);
    let dest = tempfile::tempdir().unwrap();
    let sums = shared.join("kits23/MANIFEST.sha256");

    // A previous run was killed half-way through case_00116: its .part holds the first half.
    let seg = |c: &str| shared.join(format!("kits23/cases/{c}/segmentation.nii.gz"));
    let full = std::fs::read(seg("case_00116")).unwrap();
    let part = dest
        .path()
        .join("cases/case_00116/segmentation.nii.gz.part");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, &full[..full.len() / 2]).unwrap();

    let o = fetch(&base, dest.path(), &cases.join(","), &sums);
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for c in cases {
        let got =
            std::fs::read(dest.path().join(format!("cases/{c}/segmentation.nii.gz"))).unwrap();
        assert_eq!(got, std::fs::read(seg(c)).unwrap(), "{c} differs");
    }
    assert!(!part.exists(), "the .part file is renamed into place");
    assert_eq!(
        ranged.load(Ordering::SeqCst),
        1,
        "exactly the interrupted file resumed with a range request"
    );
    assert!(dest.path().join("MANIFEST.sha256").is_file());
    // The fetched folder loads as a cohort.
    let cohort = renal_cohort::load_kits23(dest.path()).unwrap();
    assert_eq!(cohort.cases.len(), 3);

    // A second run downloads nothing.
    let o = fetch(&base, dest.path(), &cases.join(","), &sums);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("0 downloaded, 4 already present"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn fetch_rejects_a_corrupted_download() {
    let Some(shared) = shared() else { return };
    let up = tempfile::tempdir().unwrap();
    upstream_copy(&shared, &["case_00019"], up.path());
    // The server's copy is corrupted: one byte flipped.
    let f = up.path().join("dataset/case_00019/segmentation.nii.gz");
    let mut b = std::fs::read(&f).unwrap();
    b[100] ^= 0xff;
    std::fs::write(&f, b).unwrap();
    let (base, _) = serve(up.path().to_path_buf(), 20);
    let dest = tempfile::tempdir().unwrap();
    let o = fetch(
        &base,
        dest.path(),
        "case_00019",
        &shared.join("kits23/MANIFEST.sha256"),
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("case_00019") && err.contains("sha256"),
        "{err}"
    );
    assert!(
        !dest
            .path()
            .join("cases/case_00019/segmentation.nii.gz")
            .exists(),
        "nothing half-written is left"
    );
}
