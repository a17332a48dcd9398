//! `renal-triage pacs` against a real archive: Debian's Orthanc with its DICOMweb plugin,
//! started on loopback per test with authentication on, the project's compressed-DICOM CT and
//! SEG/RTSTRUCT fixtures uploaded through Orthanc's own REST API. Faults the archive itself
//! cannot be made to commit (a malformed or endless multipart answer, a stalled or failing
//! server) come from a small loopback proxy in front of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bin, dciodvfy_clean};
use renal_testdata::{shared, skipped, under_ci};

const USER: &str = "radiology";
const PASSWORD: &str = "correct horse";
const STUDY: &str = "1.2.826.0.1.3680043.8.498.2";

fn fixtures() -> PathBuf {
    renal_testdata::repo_root().join("crates/renal-imaging/tests/fixtures")
}

fn orthanc_binary() -> Option<PathBuf> {
    ["/usr/sbin/Orthanc", "/usr/bin/Orthanc"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An Orthanc on loopback (authentication on, DICOMweb plugin), killed on drop.
struct Orthanc {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Orthanc {
    fn start() -> Option<Orthanc> {
        let Some(exe) = orthanc_binary() else {
            assert!(
                !under_ci(),
                "Orthanc is required under CI (.ci/run installs it)"
            );
            skipped("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = serde_json::json!({
            "Name": "renal-triage-test",
            "HttpPort": port,
            "DicomPort": 0,
            "RemoteAccessAllowed": false,
            "AuthenticationEnabled": true,
            "RegisteredUsers": { USER: PASSWORD },
            "StorageDirectory": dir.path().join("db"),
            "IndexDirectory": dir.path().join("db"),
            "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
            "DicomWeb": { "Enable": true, "Root": "/dicom-web/" },
        });
        std::fs::write(dir.path().join("orthanc.json"), config.to_string()).unwrap();
        let mut o = Orthanc {
            child: None,
            port,
            dir,
        };
        o.launch(&exe);
        Some(o)
    }

    fn launch(&mut self, exe: &Path) {
        let log = std::fs::File::create(self.dir.path().join("orthanc.log")).unwrap();
        let child = Command::new(exe)
            .arg(self.dir.path().join("orthanc.json"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if self.rest("GET", "/system", None).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "Orthanc did not start: {}",
            std::fs::read_to_string(self.dir.path().join("orthanc.log")).unwrap_or_default()
        );
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.launch(&orthanc_binary().unwrap());
    }

    fn root(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("{}/dicom-web", self.root())
    }

    /// Orthanc's own REST API (not DICOMweb), with the test's credentials.
    fn rest(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let auth = format!("Basic {}", b64(&format!("{USER}:{PASSWORD}")));
        let req = ureq::request(method, &format!("{}{path}", self.root()))
            .set("Authorization", &auth)
            .timeout(Duration::from_secs(30));
        let r = match body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        }
        .map_err(|e| e.to_string())?;
        let mut v = Vec::new();
        r.into_reader().read_to_end(&mut v).unwrap();
        Ok(v)
    }

    fn upload(&self, bytes: &[u8]) {
        self.rest("POST", "/instances", Some(bytes)).unwrap();
    }
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `renal-triage pacs ...` against `url` with the test's credentials.
fn pacs(url: &str, args: &[&str]) -> Command {
    let mut c = bin();
    c.arg("pacs")
        .args(&args[..1])
        .args(["--url", url, "--user", USER])
        .args(&args[1..]);
    c.env("RENAL_TRIAGE_PACS_PASSWORD", PASSWORD);
    c
}

fn run_ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The files of a study made from the fixtures: the JPEG-LS CT series and the SEG, with
/// every UID of the fixtures' roots moved to study `k` (same length, so the files stay
/// valid byte for byte); `with_seg` false leaves the segmentation out.
fn study_files(k: usize, with_seg: bool) -> Vec<(String, Vec<u8>)> {
    study_files_from("jpegls", k, with_seg)
}

/// As [`study_files`], the CT from the fixture folder `dicom/<ct>` (one of the same series'
/// transfer syntaxes: the lossy ones differ a little from the others).
fn study_files_from(ct: &str, k: usize, with_seg: bool) -> Vec<(String, Vec<u8>)> {
    let f = fixtures();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ct: Vec<PathBuf> = std::fs::read_dir(f.join("dicom").join(ct))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    ct.sort();
    for p in ct {
        files.push((
            format!("ct/{}", p.file_name().unwrap().to_string_lossy()),
            std::fs::read(&p).unwrap(),
        ));
    }
    if with_seg {
        files.push((
            "mask/seg.dcm".into(),
            std::fs::read(f.join("seg/seg_binary.dcm")).unwrap(),
        ));
    }
    if k == 0 {
        return files;
    }
    let swaps = [
        (
            "3680043.8.498.".to_string(),
            format!("3680043.8.{}.", 500 + k),
        ),
        (
            "3680043.10.511.".to_string(),
            format!("3680043.10.{}.", 600 + k),
        ),
    ];
    for (_, bytes) in &mut files {
        for (from, to) in &swaps {
            assert_eq!(from.len(), to.len());
            let (from, to) = (from.as_bytes(), to.as_bytes());
            let mut i = 0;
            while i + from.len() <= bytes.len() {
                if &bytes[i..i + from.len()] == from {
                    bytes[i..i + from.len()].copy_from_slice(to);
                    i += from.len();
                } else {
                    i += 1;
                }
            }
        }
    }
    files
}

fn study_uid(k: usize) -> String {
    if k == 0 {
        STUDY.into()
    } else {
        format!("1.2.826.0.1.3680043.8.{}.2", 500 + k)
    }
}

fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// A small bundle (clinical + size forest) trained on 40 KiTS23 cases.
fn bundle(dir: &Path) -> Option<PathBuf> {
    let shared = shared()?;
    let data = dir.join("kits");
    common::kits_subset(&shared, &data, 12, 28);
    let exp = dir.join("exp.toml");
    std::fs::write(&exp, "[experiment]\nname = \"t\"\nouter_folds = 3\ninner_folds = 3\nbootstrap = 50\n[rf]\ntrees = 30\nmax_features = [\"sqrt\"]\n[[model]]\nname = \"clinical+size RF\"\nclinical = \"all\"\nsize = true\nlearner = \"rf\"\n").unwrap();
    let out = dir.join("bundle");
    run_ok(
        bin()
            .args(["train", "--data"])
            .arg(&data)
            .arg("--experiment")
            .arg(&exp)
            .args(["--model", "clinical+size RF", "--out"])
            .arg(&out),
    );
    Some(out)
}

fn probabilities(json: &str) -> Vec<f64> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    [
        "p_benign",
        "p_indolent",
        "p_aggressive",
        "p_malignant",
        "tumor_size_mm",
    ]
    .iter()
    .map(|k| v[k].as_f64().unwrap())
    .collect()
}

#[test]
fn find_lists_the_study_and_predict_stores_an_sr_that_matches_predict_on_the_same_files() {
    let Some(orthanc) = Orthanc::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some(model) = bundle(tmp.path()) else {
        return;
    };
    let f = fixtures();
    let files = study_files(0, true);
    for (_, b) in &files {
        orthanc.upload(b);
    }
    orthanc.upload(&std::fs::read(f.join("seg/rtstruct.dcm")).unwrap());
    let url = orthanc.url();

    // find: a table, JSON, and a filter on modality.
    let table = run_ok(&mut pacs(&url, &["find"]));
    assert!(
        table.lines().next().unwrap().starts_with("patient"),
        "{table}"
    );
    for m in ["CT", "SEG", "RTSTRUCT"] {
        assert!(
            table.lines().any(|l| l.contains(STUDY) && l.contains(m)),
            "{table}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&run_ok(&mut pacs(
        &url,
        &["find", "--study", STUDY, "--format", "json"],
    )))
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3, "{json}");
    let ct = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["modality"] == "CT")
        .unwrap();
    assert_eq!(ct["instances"], 60);
    let segs: serde_json::Value = serde_json::from_str(&run_ok(&mut pacs(
        &url,
        &["find", "--modality", "SEG", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(segs.as_array().unwrap().len(), 1);

    // predict --store: the same answer as predict on the same files read from disk.
    let local = tmp.path().join("local");
    write_files(&local, &files);
    let want = run_ok(
        bin()
            .args(["predict", "--model"])
            .arg(&model)
            .args(["--set", "age=64", "--set", "sex=female", "--mask"])
            .arg(local.join("mask/seg.dcm")),
    );
    let sr = tmp.path().join("sr.dcm");
    let got = run_ok(
        pacs(&url, &["predict", "--study", STUDY, "--model"])
            .arg(&model)
            .args(["--set", "age=64", "--set", "sex=female", "--store", "--sr"])
            .arg(&sr),
    );
    assert_eq!(probabilities(&got), probabilities(&want));
    let (g, w): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&got).unwrap(),
        serde_json::from_str(&want).unwrap(),
    );
    assert_eq!(g["triage"], w["triage"]);

    // The SR is in the archive, in the study (QIDO-RS, asked directly), and is valid.
    let auth = format!("Basic {}", b64(&format!("{USER}:{PASSWORD}")));
    let found: serde_json::Value = ureq::get(&format!("{url}/studies/{STUDY}/series?Modality=SR"))
        .set("Authorization", &auth)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let ids: Vec<String> = serde_json::from_slice::<serde_json::Value>(
        &orthanc
            .rest(
                "POST",
                "/tools/find",
                Some(br#"{"Level":"Instance","Query":{"Modality":"SR"}}"#),
            )
            .unwrap(),
    )
    .unwrap()
    .as_array()
    .unwrap()
    .iter()
    .map(|v| v.as_str().unwrap().to_string())
    .collect();
    assert_eq!(ids.len(), 1);
    let stored = orthanc
        .rest("GET", &format!("/instances/{}/file", ids[0]), None)
        .unwrap();
    assert_eq!(
        stored,
        std::fs::read(&sr).unwrap(),
        "the archive holds the SR as sent"
    );
    let stored_path = tmp.path().join("stored-sr.dcm");
    std::fs::write(&stored_path, &stored).unwrap();
    dciodvfy_clean(&stored_path);
    // It names the study, and its evidence lists every retrieved CT and SEG instance.
    let text = String::from_utf8_lossy(&stored).to_string();
    assert!(text.contains(STUDY));
    assert!(
        text.contains("1.2.826.0.1.3680043.8.498.1.1")
            && text.contains("1.2.826.0.1.3680043.8.498.1.60")
    );
    assert!(
        text.contains("1.2.826.0.1.3680043.10.511.3"),
        "the SEG is referenced"
    );

    // serve --pacs: the page finds a patient's studies and predicts on one; the answer equals
    // predict's on the same files. (Study 5 is given a Patient ID by dcmtk's dcmodify.)
    let s5 = tmp.path().join("s5");
    write_files(&s5, &study_files(5, true));
    let s5_files: Vec<PathBuf> = walk(&s5).into_iter().filter(|p| p.is_file()).collect();
    let o = Command::new("dcmodify")
        .args(["-nb", "-i", "(0010,0020)=RT-0005"])
        .args(&s5_files)
        .output();
    match o {
        Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => {
            assert!(!under_ci(), "dcmtk's dcmodify is required under CI");
            return;
        }
    }
    for p in &s5_files {
        orthanc.upload(&std::fs::read(p).unwrap());
    }
    let pw = tmp.path().join("pacs-password");
    std::fs::write(&pw, PASSWORD).unwrap();
    let server = common::start(
        &model,
        &[
            "--pacs",
            &url,
            "--pacs-user",
            USER,
            "--pacs-password-file",
            pw.to_str().unwrap(),
        ],
    );
    let page = ureq::get(&server.url)
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(page.contains("From the imaging archive") && page.contains("name=\"study_uid\""));
    let listed: serde_json::Value = ureq::get(&format!(
        "{}/api/v1/pacs/studies?patient_id=RT-0005",
        server.url
    ))
    .call()
    .unwrap()
    .into_json()
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["study_uid"], study_uid(5));
    assert!(
        listed[0]["modalities"].as_str().unwrap().contains("SEG"),
        "{listed}"
    );
    let e = ureq::get(&format!("{}/api/v1/pacs/studies?patient_id=", server.url))
        .call()
        .unwrap_err();
    assert!(matches!(e, ureq::Error::Status(400, _)));
    let body =
        serde_json::json!({"study_uid": study_uid(5), "clinical": {"age": 64, "sex": "female"}});
    let answer: serde_json::Value = ureq::post(&format!("{}/api/v1/predict", server.url))
        .send_json(body)
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(probabilities(&answer.to_string()), probabilities(&want));
    let (ctype, form) = common::multipart(
        &[
            ("study_uid", &study_uid(5)),
            ("age", "64"),
            ("sex", "female"),
        ],
        &[],
    );
    let html = ureq::post(&format!("{}/predict", server.url))
        .set("Content-Type", &ctype)
        .send_bytes(&form)
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        html.contains(w["triage"]["headline"].as_str().unwrap()),
        "{html}"
    );
    match ureq::post(&format!("{}/api/v1/predict", server.url))
        .send_json(serde_json::json!({"study_uid": "1.2.3.4"}))
    {
        Err(ureq::Error::Status(404, r)) => {
            assert!(r.into_string().unwrap().contains("not in the archive"))
        }
        other => panic!("{other:?}"),
    }
    // The request's files are gone once it is answered.
    let uploads = std::env::temp_dir().join(format!("renal-triage-uploads-{}", server.child.id()));
    assert_eq!(
        std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0),
        0,
        "files left in {}",
        uploads.display()
    );
    drop(server);
    // A server without an archive refuses a study, naming the field.
    let plain = common::start(&model, &[]);
    match ureq::post(&format!("{}/api/v1/predict", plain.url))
        .send_json(serde_json::json!({"study_uid": study_uid(5)}))
    {
        Err(ureq::Error::Status(400, r)) => {
            let t = r.into_string().unwrap();
            assert!(
                t.contains("study_uid") && t.contains("no imaging archive is connected"),
                "{t}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ureq::get(&format!("{}/api/v1/pacs/studies?patient_id=x", plain.url)).call(),
        Err(ureq::Error::Status(404, _))
    ));

    // The archive refusing the SR: its status and reason are shown, the command fails.
    let refusing = Proxy::start(orthanc.port, |path, _| {
        if path == format!("/dicom-web/studies/{STUDY}") {
            Act::Refuse
        } else {
            Act::Forward
        }
    });
    let o = pacs(&refusing.url(), &["predict", "--study", STUDY, "--model"])
        .arg(&model)
        .arg("--store")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("the archive refused to store 1 of 1 objects (HTTP 409): the data set does not match the SOP class (0xA900)"), "{e}");

    // The RTSTRUCT, chosen by its series, gives an answer too.
    let rt = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["modality"] == "RTSTRUCT")
        .unwrap()["series_uid"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run_ok(
        pacs(&url, &["predict", "--study", STUDY, "--model"])
            .arg(&model)
            .args(["--mask-series", &rt]),
    );
    assert!(probabilities(&out)[4] > 0.0);
}

#[test]
fn archive_errors_are_told_in_the_archives_terms() {
    let Some(orthanc) = Orthanc::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some(model) = bundle(tmp.path()) else {
        return;
    };
    for (_, b) in study_files(3, false) {
        orthanc.upload(&b);
    }
    let url = orthanc.url();
    let fails = |c: &mut Command, want: &[&str]| {
        let o = c.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        for w in want {
            assert!(e.contains(w), "wanted `{w}` in: {e}");
        }
        assert!(!e.contains(PASSWORD) && !e.contains("panicked"), "{e}");
    };
    // Wrong credentials, and none.
    fails(
        pacs(&url, &["find"]).env("RENAL_TRIAGE_PACS_PASSWORD", "wrong"),
        &["refused the credentials (HTTP 401)"],
    );
    fails(
        bin()
            .args(["pacs", "find", "--url", &url])
            .env_remove("RENAL_TRIAGE_PACS_PASSWORD"),
        &["HTTP 401"],
    );
    // A study without a segmentation, an unknown study.
    let s3 = study_uid(3);
    fails(
        pacs(&url, &["predict", "--study", &s3, "--model"]).arg(&model),
        &[
            &format!("study {s3}: no segmentation (SEG or RTSTRUCT) in the study"),
            "CT 1.2.826.0.1.3680043.8.503.1",
        ],
    );
    fails(
        pacs(&url, &["predict", "--study", "1.2.3.4", "--model"]).arg(&model),
        &["not found in the archive (HTTP 404)"],
    );
    // Nobody listening, with retries (connection errors are tried again).
    let dead = format!("http://127.0.0.1:{}/dicom-web", free_port());
    fails(
        &mut pacs(&dead, &["find", "--retries", "2"]),
        &["no answer from the archive after 3 tries"],
    );
}

/// What the proxy does with a request: pass it to the archive, or misbehave.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Forward,
    /// The archive's answer with its body cut short, then the connection closed.
    Truncate,
    /// The archive's answer with its close delimiter damaged (same length).
    Corrupt,
    /// A multipart answer whose one part never ends.
    Endless,
    /// Accept and never answer.
    Stall,
    /// This status, with no body.
    Status(u16),
    /// The archive's answer after a delay.
    Slow(u64),
    /// The archive's multipart answer less its first part (Content-Length fixed).
    DropPart,
    /// STOW-RS refused: 409 with a report naming the failure reason 0xA900.
    Refuse,
}

/// A loopback proxy in front of the archive; `rule(path, n)` decides per request (`n`: how
/// many requests came before).
struct Proxy {
    port: u16,
    seen: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(target: u16, rule: impl Fn(&str, usize) -> Act + Send + Sync + 'static) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(AtomicUsize::new(0));
        let rule = Arc::new(rule);
        let counter = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let rule = rule.clone();
                std::thread::spawn(move || serve_one(conn, target, n, &*rule));
            }
        });
        Proxy { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/dicom-web", self.port)
    }

    fn requests(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

fn serve_one<S: Read + Write>(mut c: S, target: u16, n: usize, rule: &dyn Fn(&str, usize) -> Act) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
    // A request's body (STOW-RS) is read whole before answering.
    let length: usize = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if c.read_exact(&mut body).is_err() {
        return;
    }
    let act = rule(&path, n);
    let forward = |c: &mut S| -> Vec<u8> {
        // The archive stopped: the client's connection is closed without an answer.
        let Ok(mut o) = TcpStream::connect(("127.0.0.1", target)) else {
            return Vec::new();
        };
        // Uncompressed, so that the answer can be damaged where the test means to.
        let kept: Vec<&str> = text
            .trim_end_matches("\r\n")
            .split("\r\n")
            .filter(|l| !l.to_ascii_lowercase().starts_with("accept-encoding"))
            .collect();
        let fixed = kept.join("\r\n") + "\r\nConnection: close\r\n\r\n";
        o.write_all(fixed.as_bytes()).unwrap();
        o.write_all(&body).unwrap();
        let mut answer = Vec::new();
        let _ = o.read_to_end(&mut answer);
        let _ = c.flush();
        answer
    };
    match act {
        Act::Forward => {
            let a = forward(&mut c);
            let _ = c.write_all(&a);
        }
        Act::Slow(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
            let a = forward(&mut c);
            let _ = c.write_all(&a);
        }
        Act::Truncate => {
            let a = forward(&mut c);
            let _ = c.write_all(&a[..a.len() * 2 / 3]);
        }
        Act::Corrupt => {
            let mut a = forward(&mut c);
            let close = format!("--{}--", boundary_in(&a));
            let at = a
                .windows(close.len())
                .rposition(|w| w == close.as_bytes())
                .unwrap();
            a[at..at + close.len()].fill(b'#');
            let _ = c.write_all(&a);
        }
        Act::Endless => {
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=xyz\r\nConnection: close\r\n\r\n--xyz\r\nContent-Type: application/dicom\r\n\r\n");
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..512 {
                if c.write_all(&chunk).is_err() {
                    return;
                }
            }
        }
        Act::Stall => std::thread::sleep(Duration::from_secs(30)),
        Act::DropPart => {
            let a = forward(&mut c);
            let split = a.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let (head, body) = a.split_at(split);
            let head = String::from_utf8_lossy(head).to_string();
            let delim = format!("--{}", boundary_in(head.as_bytes()));
            let find = |from: usize| {
                from + body[from..]
                    .windows(delim.len())
                    .position(|w| w == delim.as_bytes())
                    .unwrap()
            };
            let (first, second) = (find(0), find(find(0) + 1));
            let body = [&body[..first], &body[second..]].concat();
            let head: String = head
                .split("\r\n")
                .map(|l| {
                    if l.to_ascii_lowercase().starts_with("content-length") {
                        format!("Content-Length: {}", body.len())
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\r\n");
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(&body);
        }
        Act::Refuse => {
            let report = r#"{"00081198": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.88.33"]}, "00081197": {"vr": "US", "Value": [43264]}}]}}"#;
            let _ = c.write_all(format!("HTTP/1.1 409 Conflict\r\nContent-Type: application/dicom+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{report}", report.len()).as_bytes());
        }
        Act::Status(s) => {
            let _ = c.write_all(
                format!("HTTP/1.1 {s} Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    }
}

/// The multipart boundary an HTTP answer's Content-Type names.
fn boundary_in(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let after = text.split("boundary=").nth(1).unwrap();
    after
        .split(['\r', ';'])
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string()
}

fn is_retrieve(path: &str) -> bool {
    path.contains("/series/") && !path.contains("/instances") && !path.contains('?')
}

#[test]
fn faults_between_the_tool_and_the_archive_are_clear_errors_with_nothing_left_behind() {
    let Some(orthanc) = Orthanc::start() else {
        return;
    };
    for (_, b) in study_files(0, true) {
        orthanc.upload(&b);
    }
    let tmp = tempfile::tempdir().unwrap();
    let studies = tmp.path().join("studies.csv");
    std::fs::write(&studies, format!("case_id,study_uid,age\nc0,{STUDY},60\n")).unwrap();
    let run = |proxy: &Proxy, extra: &[&str], out: &Path| {
        let mut c = pacs(&proxy.url(), &["pull", "--manifest"]);
        c.arg(&studies).arg("--out").arg(out).args(extra);
        c.env("RENAL_TRIAGE_PEAK_MEMORY", "1");
        c.output().unwrap()
    };
    let nothing_half_written = |out: &Path| {
        let mut names = Vec::new();
        for e in walk(out) {
            names.push(e.strip_prefix(out).unwrap().to_string_lossy().to_string());
        }
        assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");
        assert!(!names.iter().any(|n| n.ends_with(".dcm")), "{names:?}");
    };

    // A malformed multipart answer (its close delimiter damaged): the study is excluded.
    let p = Proxy::start(orthanc.port, |path, _| {
        if is_retrieve(path) {
            Act::Corrupt
        } else {
            Act::Forward
        }
    });
    let out = tmp.path().join("corrupt");
    let o = run(&p, &[], &out);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains("c0: excluded")
            && e.contains("not valid multipart/related")
            && e.contains("before the closing delimiter"),
        "{e}"
    );
    nothing_half_written(&out);

    // An answer cut short: the series is fetched again (once per retry), then the pull stops.
    let p = Proxy::start(orthanc.port, |path, _| {
        if is_retrieve(path) {
            Act::Truncate
        } else {
            Act::Forward
        }
    });
    let out = tmp.path().join("truncated");
    let o = run(&p, &["--retries", "1"], &out);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("the connection broke mid-answer") && e.contains("run the same command again"),
        "{e}"
    );
    nothing_half_written(&out);
    assert!(!out.join("manifest.csv").exists());

    // An answer that never ends: refused at the object limit, in bounded memory.
    let p = Proxy::start(orthanc.port, |path, _| {
        if is_retrieve(path) {
            Act::Endless
        } else {
            Act::Forward
        }
    });
    let out = tmp.path().join("endless");
    let o = bin()
        .args([
            "--max-volume-mib",
            "16",
            "pacs",
            "pull",
            "--url",
            &p.url(),
            "--user",
            USER,
            "--manifest",
        ])
        .arg(&studies)
        .arg("--out")
        .arg(&out)
        .env("RENAL_TRIAGE_PACS_PASSWORD", PASSWORD)
        .env("RENAL_TRIAGE_PEAK_MEMORY", "1")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains("exceeds the limit of 16777216 bytes (one retrieved object)"),
        "{e}"
    );
    let peak: f64 = e
        .lines()
        .find_map(|l| l.strip_prefix("peak memory: "))
        .unwrap()
        .trim_end_matches(" MiB")
        .parse()
        .unwrap();
    assert!(
        peak < 100.0,
        "peak memory {peak} MiB while refusing an endless answer"
    );
    nothing_half_written(&out);
    let excluded = std::fs::read_to_string(out.join("excluded.csv")).unwrap();
    assert!(
        excluded.contains("c0") && excluded.contains("exceeds the limit"),
        "{excluded}"
    );

    // A server that accepts and never answers: the timeout, then retries, then the error.
    let p = Proxy::start(orthanc.port, |_, _| Act::Stall);
    let t0 = Instant::now();
    let o = run(
        &p,
        &["--timeout", "1", "--retries", "1"],
        &tmp.path().join("stall"),
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("the archive stopped answering")
            && e.contains("after 2 tries")
            && e.contains("run the same command again"),
        "{e}"
    );
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert_eq!(p.requests(), 2);

    // 503 twice, then the archive: the retries carry the pull through.
    let p = Proxy::start(orthanc.port, |_, n| {
        if n < 2 {
            Act::Status(503)
        } else {
            Act::Forward
        }
    });
    let out = tmp.path().join("flaky");
    let o = run(&p, &["--retries", "3"], &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("manifest.csv").exists());
    // 4xx is not tried again.
    let p = Proxy::start(orthanc.port, |_, _| Act::Status(403));
    let o = run(&p, &["--retries", "3"], &tmp.path().join("forbidden"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("HTTP 403"));
    assert_eq!(p.requests(), 1);

    // A series that arrives with an instance missing: incomplete, named, nothing kept.
    let p = Proxy::start(orthanc.port, |path, _| {
        if path.ends_with(".1") && is_retrieve(path) {
            Act::DropPart
        } else {
            Act::Forward
        }
    });
    let out = tmp.path().join("short");
    let o = run(&p, &[], &out);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("series 1.2.826.0.1.3680043.8.498.1: incomplete: the archive lists 60 instances, 59 arrived (1 missing, 0 not listed)"), "{e}");
    // The segmentation's series, complete, is kept for the rerun; the short one is not.
    assert!(out.join("c0/mask/000001.dcm").exists());
    assert!(!out.join("c0/reference_ct").exists());
    assert!(!walk(&out)
        .iter()
        .any(|p| p.to_string_lossy().contains("partial")));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.push(p.clone());
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The files of a cohort run's output, by name, with the run-specific ones left out.
fn cohort_outputs(manifest: &Path, out: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    run_ok(
        bin()
            .args(["cohort", "--data"])
            .arg(manifest)
            .arg("--out")
            .arg(out),
    );
    let mut f = common::files(out);
    f.retain(|name, _| name.ends_with(".csv"));
    f
}

#[test]
fn a_pulled_cohort_equals_the_same_files_read_from_disk_and_a_rerun_fetches_only_what_is_missing() {
    let Some(mut orthanc) = Orthanc::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    let mut studies = String::from("case_id,study_uid,label,age\n");
    let mut local_manifest = String::from("case_id,label,age,mask\n");
    let labels = ["benign", "indolent", "aggressive"];
    for k in 1..=20 {
        let files = study_files(k, true);
        for (_, b) in &files {
            orthanc.upload(b);
        }
        let case = format!("p{k:02}");
        write_files(&local.join(&case), &files);
        studies.push_str(&format!(
            "{case},{},{},{}\n",
            study_uid(k),
            labels[k % 3],
            40 + k
        ));
        local_manifest.push_str(&format!(
            "{case},{},{},{case}/mask/seg.dcm\n",
            labels[k % 3],
            40 + k
        ));
    }
    let studies_csv = tmp.path().join("studies.csv");
    std::fs::write(&studies_csv, &studies).unwrap();
    std::fs::write(local.join("manifest.csv"), &local_manifest).unwrap();

    // Killed midway: the folders that exist are complete, and a rerun fetches only the rest.
    // (A slow proxy in front of the archive makes "midway" certain.)
    let slow = Proxy::start(orthanc.port, |_, _| Act::Slow(40));
    let pulled = tmp.path().join("pulled");
    let mut child = pacs(&slow.url(), &["pull", "--connections", "2", "--manifest"])
        .arg(&studies_csv)
        .arg("--out")
        .arg(&pulled)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while walk(&pulled).iter().filter(|p| p.ends_with("mask")).count() < 4 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the pull made no progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!pulled.join("manifest.csv").exists());
    let done: Vec<PathBuf> = walk(&pulled)
        .into_iter()
        .filter(|p| {
            p.is_dir()
                && !p.to_string_lossy().contains("partial")
                && (p.ends_with("mask") || p.ends_with("reference_ct"))
        })
        .collect();
    let stamps: Vec<_> = done
        .iter()
        .map(|d| {
            std::fs::metadata(d.join("000001.dcm"))
                .unwrap()
                .modified()
                .unwrap()
        })
        .collect();
    assert!(done.len() < 40, "the pull finished before it was killed");

    // The archive stopped mid-pull: a clear error, no manifest; restarted, the rerun completes.
    let stop_after = Arc::new(AtomicUsize::new(0));
    let p2 = {
        let s = stop_after.clone();
        Proxy::start(orthanc.port, move |_, _| {
            s.fetch_add(1, Ordering::SeqCst);
            Act::Slow(40)
        })
    };
    let child = pacs(
        &p2.url(),
        &["pull", "--connections", "1", "--retries", "1", "--manifest"],
    )
    .arg(&studies_csv)
    .arg("--out")
    .arg(&pulled)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    while stop_after.load(Ordering::SeqCst) < 12 {
        std::thread::sleep(Duration::from_millis(10));
    }
    orthanc.stop();
    let o = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("the archive stopped answering")
            && e.contains("studies are complete on disk; run the same command again"),
        "{e}"
    );
    assert!(!pulled.join("manifest.csv").exists());
    orthanc.restart();
    let summary: serde_json::Value = serde_json::from_str(&run_ok(
        pacs(&orthanc.url(), &["pull", "--manifest"])
            .arg(&studies_csv)
            .arg("--out")
            .arg(&pulled),
    ))
    .unwrap();
    assert_eq!(summary["complete"], 20, "{summary}");
    let skipped = summary["series_skipped"].as_u64().unwrap() as usize;
    assert!(
        skipped >= done.len(),
        "{summary}: {} series were complete before",
        done.len()
    );
    assert_eq!(
        skipped + summary["series_retrieved"].as_u64().unwrap() as usize,
        40,
        "{summary}"
    );
    for (d, t) in done.iter().zip(&stamps) {
        assert_eq!(
            &std::fs::metadata(d.join("000001.dcm"))
                .unwrap()
                .modified()
                .unwrap(),
            t,
            "{} was fetched again",
            d.display()
        );
    }
    assert!(!walk(&pulled)
        .iter()
        .any(|p| p.to_string_lossy().contains("partial")));

    // The pulled manifest's cohort equals the local files' cohort.
    let a = cohort_outputs(
        &pulled.join("manifest.csv"),
        &tmp.path().join("cohort-pulled"),
    );
    let b = cohort_outputs(
        &local.join("manifest.csv"),
        &tmp.path().join("cohort-local"),
    );
    assert!(a.contains_key("measurements.csv"), "{:?}", a.keys());
    let measured = String::from_utf8_lossy(&a["measurements.csv"]).to_string();
    assert_eq!(measured.lines().count(), 21, "{measured}");
    let pulled_manifest = std::fs::read_to_string(pulled.join("manifest.csv")).unwrap();
    assert!(
        pulled_manifest.starts_with("case_id,study_uid,label,age,mask\n")
            && pulled_manifest.contains("p07/mask/000001.dcm"),
        "{pulled_manifest}"
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert_eq!(
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&b[name]),
            "{name}"
        );
    }
    // A second rerun fetches nothing.
    let again: serde_json::Value = serde_json::from_str(&run_ok(
        pacs(&orthanc.url(), &["pull", "--manifest"])
            .arg(&studies_csv)
            .arg("--out")
            .arg(&pulled),
    ))
    .unwrap();
    assert_eq!(
        (
            again["series_retrieved"].as_u64(),
            again["series_skipped"].as_u64()
        ),
        (Some(0), Some(40))
    );
}

fn openssl(args: &[&str]) {
    let o = Command::new("openssl").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn https_archives_are_trusted_through_the_ca_file_given() {
    // A CA and a server certificate it signs, made here with openssl.
    let t = tempfile::tempdir().unwrap();
    let p = |n: &str| t.path().join(n).to_string_lossy().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=renal-triage test CA",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.pem"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &p("srv.key"),
        "-out",
        &p("srv.csr"),
    ]);
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("srv.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &p("ext.cnf"),
        "-out",
        &p("srv.pem"),
    ]);
    // Debian's Orthanc 1.10.1 crashes on its first HTTPS request (a segfault in its web
    // server), so TLS is terminated in front of it, as a hospital's reverse proxy would.
    let Some(orthanc) = Orthanc::start() else {
        return;
    };
    let port = tls_proxy(
        orthanc.port,
        Path::new(&p("srv.pem")),
        Path::new(&p("srv.key")),
    );
    let url = format!("https://127.0.0.1:{port}/dicom-web");
    // Trusted through --ca-file: the archive answers (an empty archive: a table header only).
    let out = run_ok(&mut pacs(&url, &["find", "--ca-file", &p("ca.pem")]));
    assert!(out.starts_with("patient"), "{out}");
    // Not trusted without it (the Mozilla roots do not know this CA): a clear error, no retry
    // can help but it is not a silent success.
    let o = pacs(&url, &["find", "--retries", "0"]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    // A CA file that is not PEM is refused naming it.
    std::fs::write(p("bad.pem"), "not a certificate").unwrap();
    let o = pacs(&url, &["find", "--ca-file", &p("bad.pem")])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("bad.pem") && e.contains("no PEM certificate"),
        "{e}"
    );
}

/// A TLS terminator on loopback in front of the archive (rustls, the certificate given);
/// its port.
fn tls_proxy(target: u16, cert: &Path, key: &Path) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(tcp) = conn else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let tls =
                    rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), tcp);
                serve_one(tls, target, n, &|_, _| Act::Forward);
            });
        }
    });
    port
}

#[test]
fn a_ct_image_model_finds_its_phase_by_series_description_and_predicts_as_from_disk() {
    let Some(orthanc) = Orthanc::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // A CT image model (the arterial phase through a tiny SimCLR encoder, then a forest) trained
    // on 12 studies' files read from disk. (The images are one series in five transfer
    // syntaxes, three of them lossy, and the labels are assigned in turn: the test checks the
    // software's path, not what a model learns.)
    let data = tmp.path().join("cohort");
    let mut manifest = String::from("case_id,label,mask,ct_arterial\n");
    for k in 1..=12 {
        let case = format!("s{k:02}");
        let ct = [
            "jpegls",
            "jpeg_baseline",
            "jpegls_near",
            "j2k_lossy",
            "jpeg_extended12",
        ][k % 5];
        write_files(&data.join(&case), &study_files_from(ct, k, true));
        let label = ["benign", "indolent", "aggressive"][k % 3];
        manifest.push_str(&format!("{case},{label},{case}/mask/seg.dcm,{case}/ct\n"));
    }
    std::fs::write(data.join("manifest.csv"), manifest).unwrap();
    let exp = tmp.path().join("image.toml");
    std::fs::write(&exp, "[experiment]\nname = \"ct\"\nouter_folds = 3\ninner_folds = 2\nbootstrap = 20\n[rf]\ntrees = 20\nmax_features = [\"sqrt\"]\n[[model]]\nname = \"image RF\"\nembeddings = \"all\"\nlearner = \"rf\"\n").unwrap();
    let model = tmp.path().join("bundle");
    run_ok(
        bin()
            .args(["train", "--data"])
            .arg(&data)
            .arg("--experiment")
            .arg(&exp)
            .args(["--model", "image RF", "--encoder", "tiny", "--work"])
            .arg(tmp.path().join("work"))
            .arg("--out")
            .arg(&model),
    );
    let inspect: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("bundle.json")).unwrap()).unwrap();
    assert_eq!(
        inspect["image"]["spec"]["channels"],
        serde_json::json!(["arterial"]),
        "{}",
        inspect["image"]
    );

    // The archive's study: its CT series described as the radiographer would (dcmtk's
    // dcmodify), so that the phase is found by the default rule (the phase's own name).
    let s0 = tmp.path().join("s00");
    write_files(&s0, &study_files(0, true));
    let cts: Vec<PathBuf> = walk(&s0.join("ct"));
    match Command::new("dcmodify")
        .args(["-nb", "-i", "(0008,103E)=Abdomen ARTERIAL 1.0 B30f"])
        .args(&cts)
        .output()
    {
        Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => {
            assert!(!under_ci(), "dcmtk's dcmodify is required under CI");
            return;
        }
    }
    for p in walk(&s0).into_iter().filter(|p| p.is_file()) {
        orthanc.upload(&std::fs::read(p).unwrap());
    }
    let want = run_ok(
        bin()
            .args(["predict", "--model"])
            .arg(&model)
            .arg("--mask")
            .arg(s0.join("mask/seg.dcm"))
            .arg("--ct")
            .arg(format!("arterial={}", s0.join("ct").display())),
    );
    let got = run_ok(pacs(&orthanc.url(), &["predict", "--study", STUDY, "--model"]).arg(&model));
    assert_eq!(probabilities(&got), probabilities(&want));
    let (g, w): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&got).unwrap(),
        serde_json::from_str(&want).unwrap(),
    );
    assert!(w["image"].is_object(), "the model saw an image: {w}");
    assert_eq!(
        g["image"], w["image"],
        "the same slice and embedding summary"
    );
    // A rule that names no series: the error lists the study's series and the phase.
    let o = pacs(&orthanc.url(), &["predict", "--study", STUDY, "--model"])
        .arg(&model)
        .args(["--phase-rule", "arterial=portal|venous"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no CT series whose description names the phase")
            && e.contains("Abdomen ARTERIAL 1.0 B30f")
            && e.contains("phase `arterial`"),
        "{e}"
    );
}
