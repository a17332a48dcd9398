//! Helpers shared by the integration tests that run the binary as a user would: the binary,
//! a server on loopback, multipart bodies, and a minimal WebDriver client for headless
//! Chromium. (Each test crate uses some of them.)
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use renal_testdata::under_ci;

pub mod probe;

/// Every file of a folder (not recursing), by name: for comparing two runs' outputs byte for
/// byte.
pub fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// A KiTS23-style folder at `data` with the first `benign` benign and `malignant` malignant
/// cases of the shared data.
pub fn kits_subset(shared: &Path, data: &Path, benign: usize, malignant: usize) {
    let all = kits23_records(shared);
    let keep: Vec<&serde_json::Value> = all
        .iter()
        .filter(|r| r["malignant"] == false)
        .take(benign)
        .chain(
            all.iter()
                .filter(|r| r["malignant"] == true)
                .take(malignant),
        )
        .collect();
    kits_folder(shared, data, &keep, &[]);
}

/// dicom3tools' `dciodvfy` reports no error on `file` (required under CI).
pub fn dciodvfy_clean(file: &Path) {
    match Command::new("dciodvfy").arg(file).output() {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr).to_string()
                + &String::from_utf8_lossy(&o.stdout);
            assert!(
                !text.lines().any(|l| l.starts_with("Error")),
                "dciodvfy:\n{text}"
            );
        }
        Err(_) => assert!(!under_ci(), "dicom3tools' dciodvfy is required under CI"),
    }
}

/// KiTS23's clinical records (the shared data's `kits23.json`).
pub fn kits23_records(shared: &Path) -> Vec<serde_json::Value> {
    let path = shared.join("kits23/kits23.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Writes a KiTS23-style folder at `data`: `records` with each case's segmentation linked
/// from the shared data, then `extra` records as given (their masks, if any, are the
/// caller's), all in its `kits23.json`.
pub fn kits_folder<R: std::borrow::Borrow<serde_json::Value>>(
    shared: &Path,
    data: &Path,
    records: &[R],
    extra: &[serde_json::Value],
) {
    std::fs::create_dir_all(data.join("cases")).unwrap();
    for r in records {
        let id = r.borrow()["case_id"].as_str().unwrap();
        let case = data.join("cases").join(id);
        std::fs::create_dir_all(&case).unwrap();
        std::os::unix::fs::symlink(
            shared.join(format!("kits23/cases/{id}/segmentation.nii.gz")),
            case.join("segmentation.nii.gz"),
        )
        .unwrap();
    }
    let all: Vec<&serde_json::Value> = records.iter().map(|r| r.borrow()).chain(extra).collect();
    std::fs::write(
        data.join("kits23.json"),
        serde_json::to_string(&all).unwrap(),
    )
    .unwrap();
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_renal-triage"))
}

/// A running server; killed on drop.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(bundle: &Path, extra: &[&str]) -> Server {
    start_logging(bundle, extra, None)
}

/// A server whose log (stderr) goes to `log` when given (else it is drained and dropped).
pub fn start_logging(bundle: &Path, extra: &[&str], log: Option<&Path>) -> Server {
    let mut child = bin()
        .args(["serve", "--model"])
        .arg(bundle)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(match log {
            Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
            None => Stdio::piped(),
        })
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(url) = line.trim().strip_prefix("listening on ") else {
        let mut err = String::new();
        match log {
            Some(p) => err = std::fs::read_to_string(p).unwrap_or_default(),
            None => {
                let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
            }
        }
        panic!("the server did not start: {err}");
    };
    let url = url.to_string();
    // The log is drained (and dropped): a full pipe must not block the server.
    if let Some(mut log) = child.stderr.take() {
        std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    }
    Server { child, url }
}

/// A multipart body: text fields and file fields (name, file name, bytes).
pub fn multipart(texts: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "renaltriageboundary7MA4YWxkTrZu0gW";
    let mut b = Vec::new();
    for (k, v) in texts {
        write!(
            b,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        )
        .unwrap();
    }
    for (k, fname, bytes) in files {
        write!(b, "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{fname}\"\r\nContent-Type: application/octet-stream\r\n\r\n").unwrap();
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\r\n");
    }
    write!(b, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), b)
}

/// A reply as the tests read it.
pub struct Reply {
    /// The HTTP status; 0 when no answer came (a transport error, in `text`).
    pub status: u16,
    pub cache_control: Option<String>,
    pub text: String,
}

/// Sends a request, with a body of the given content type if any; error statuses are replies.
pub fn send(req: ureq::Request, body: Option<(&str, &[u8])>) -> Reply {
    let sent = match body {
        Some((ctype, b)) => req.set("Content-Type", ctype).send_bytes(b),
        None => req.call(),
    };
    let r = match sent {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => {
            return Reply {
                status: 0,
                cache_control: None,
                text: e.to_string(),
            }
        }
    };
    Reply {
        status: r.status(),
        cache_control: r.header("cache-control").map(str::to_string),
        text: r.into_string().unwrap_or_default(),
    }
}

pub fn post(url: &str, ctype: &str, body: &[u8]) -> (u16, serde_json::Value) {
    match ureq::post(url).set("Content-Type", ctype).send_bytes(body) {
        Ok(r) => (r.status(), r.into_json().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or_default()),
        Err(e) => panic!("{e}"),
    }
}

/// Minimal WebDriver client (chromedriver's W3C protocol over HTTP).
pub struct Driver {
    pub base: String,
    pub session: String,
}

impl Driver {
    pub fn cmd(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let r = if method == "GET" {
            ureq::get(&url).call()
        } else {
            ureq::post(&url).send_json(body)
        };
        match r {
            Ok(r) => r.into_json::<serde_json::Value>().unwrap()["value"].clone(),
            Err(ureq::Error::Status(c, r)) => panic!(
                "webdriver {path}: {c} {}",
                r.into_string().unwrap_or_default()
            ),
            Err(e) => panic!("webdriver {path}: {e}"),
        }
    }
    /// Waits (up to 60 s) for an element that the page renders after an asynchronous request:
    /// on a loaded 2-core machine the answer can arrive after the click returns.
    pub fn find_when_rendered(&self, css: &str) -> String {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let t0 = std::time::Instant::now();
        loop {
            match ureq::post(&url)
                .send_json(serde_json::json!({"using": "css selector", "value": css}))
            {
                Err(ureq::Error::Status(404, _)) if t0.elapsed().as_secs() < 60 => {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                _ => return self.find(css),
            }
        }
    }
    pub fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            serde_json::json!({"using": "css selector", "value": css}),
        );
        v.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            serde_json::json!({"text": text}),
        );
    }
}

pub fn base64_decode(s: &str) -> Vec<u8> {
    let table = |c: u8| -> Option<u8> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for &c in s.as_bytes() {
        let Some(v) = table(c) else { continue };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// Headless Chromium driven through chromedriver; closed on drop. `None` (with a note) where
/// chromedriver is not installed, outside CI only.
pub struct Browser {
    pub d: Driver,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Option<Browser> {
        let driver_bin = ["/usr/bin/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(driver_bin) = driver_bin else {
            assert!(
                !under_ci(),
                "chromedriver is required under CI (.ci/run installs chromium-driver)"
            );
            eprintln!("SKIPPED: chromedriver not installed");
            return None;
        };
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let chromedriver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let t0 = std::time::Instant::now();
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(t0.elapsed().as_secs() < 20, "chromedriver did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.path().display()), "--window-size=1200,1400"]
        }}}});
        let resp: serde_json::Value = ureq::post(&format!("{base}/session"))
            .send_json(caps)
            .unwrap()
            .into_json()
            .unwrap();
        let d = Driver {
            base,
            session: resp["value"]["sessionId"].as_str().unwrap().to_string(),
        };
        Some(Browser {
            d,
            chromedriver,
            _profile: profile,
        })
    }

    /// A screenshot of the page, kept under `target/test-artifacts/NAME`.
    pub fn screenshot(&self, name: &str) -> Vec<u8> {
        let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
        std::fs::create_dir_all(&artifacts).unwrap();
        let shot = self.d.cmd("GET", "/screenshot", serde_json::json!({}));
        let png = base64_decode(shot.as_str().unwrap());
        std::fs::write(artifacts.join(name), &png).unwrap();
        png
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.d.base, self.d.session)).call();
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}
