//! Probes of hostile input through the real binary (tests/hostile*.rs): a run's exit code,
//! output and peak memory, the probe counter, and hostile files made byte by byte from the
//! formats' specifications (nifti1.h), not with the code under test.

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

thread_local! {
    /// Probes run by the test on this thread (libtest runs each test on its own thread, and the
    /// probes never run on a helper thread).
    static HERE: Cell<usize> = const { Cell::new(0) };
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory of the child (MiB).
    pub peak_mib: f64,
}

/// Runs a command to its end; its peak memory is what the binary reports at exit
/// (`RENAL_TRIAGE_PEAK_MEMORY`: VmHWM, the kernel's high-water mark of its resident memory).
pub fn run(cmd: &mut Command) -> Run {
    let child = cmd
        .env("RENAL_TRIAGE_PEAK_MEMORY", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A probe that hangs (a FIFO opened for reading waits for a writer) is killed after two
    // minutes and fails, instead of hanging the test run.
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .is_err()
        {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    });
    let o = child.wait_with_output().unwrap();
    let _ = tx.send(());
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let peak_mib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak memory: "))
        .and_then(|v| v.trim_end_matches(" MiB").parse().ok())
        .unwrap_or(f64::NAN);
    Run {
        code: o.status.code().unwrap_or(128),
        stdout: String::from_utf8_lossy(&o.stdout).to_string(),
        stderr,
        peak_mib,
    }
}

/// Asserts, at the end of a probe test, that it ran at least `min` probes: a probe lost from a
/// test (deleted, or skipped by a wrong early return) fails that test, whatever the filter or
/// the thread count.
#[track_caller]
pub fn ran_at_least(min: usize) {
    let n = HERE.with(|c| c.get());
    let test = std::thread::current().name().unwrap_or("?").to_string();
    eprintln!("{test}: {n} hostile probes");
    assert!(
        n >= min,
        "{n} probes ran in this test, expected at least {min}"
    );
}

/// Asserts one probe's outcome and counts the probe (every probe is counted here).
#[track_caller]
pub fn check(what: &str, ok: bool, detail: &dyn std::fmt::Display) {
    HERE.with(|c| c.set(c.get() + 1));
    assert!(ok, "{what}: {detail}");
}

/// Asserts a run's exit code and that its message holds every `words`; counts the probe.
#[track_caller]
pub fn expect(what: &str, r: &Run, code: i32, words: &[&str]) {
    let text = format!("{}{}", r.stdout, r.stderr);
    check(
        what,
        r.code == code && words.iter().all(|w| text.contains(w)),
        &format!(
            "exit {} (expected {code}), expected {words:?} in:\n{text}",
            r.code
        ),
    );
    assert!(
        !text.contains("panicked at"),
        "{what}: a panic reached the user:\n{text}"
    );
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A NIfTI-1 header (nifti1.h offsets) for a 3D grid of `dims`, `datatype` (2 = uint8,
/// 4 = int16, 16 = float32), spacing `pixdim`, voxels at 352.
pub fn nifti1(dims: [i16; 3], datatype: i16, bitpix: i16, pixdim: [f32; 3]) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    let dim = [3, dims[0], dims[1], dims[2], 1, 1, 1, 1];
    for (i, d) in dim.iter().enumerate() {
        h[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
    }
    h[70..72].copy_from_slice(&datatype.to_le_bytes());
    h[72..74].copy_from_slice(&bitpix.to_le_bytes());
    let pd = [1.0, pixdim[0], pixdim[1], pixdim[2], 0.0, 0.0, 0.0, 0.0];
    for (i, p) in pd.iter().enumerate() {
        h[76 + 4 * i..80 + 4 * i].copy_from_slice(&p.to_le_bytes());
    }
    h[108..112].copy_from_slice(&352f32.to_le_bytes());
    h[344..348].copy_from_slice(b"n+1\0");
    h
}

/// A KiTS-style label volume (kidney 1 around a tumor 2) of `n`^3 uint8 voxels.
pub fn labels(n: usize, tumor: bool) -> Vec<u8> {
    let mut v = vec![0u8; n * n * n];
    let c = n / 2;
    for k in 0..n {
        for j in 0..n {
            for i in 0..n {
                let d2 = [i, j, k]
                    .iter()
                    .map(|&x| (x as i64 - c as i64).pow(2))
                    .sum::<i64>();
                let r = (n / 4) as i64;
                if d2 <= r * r {
                    v[i + n * (j + n * k)] = if tumor && d2 <= (r / 2).pow(2) { 2 } else { 1 };
                }
            }
        }
    }
    v
}

/// A labels NIfTI (gzip) of `n`^3 voxels at `spacing` mm.
pub fn mask_file(n: usize, tumor: bool, spacing: f32) -> Vec<u8> {
    let mut f = nifti1([n as i16; 3], 2, 8, [spacing; 3]);
    f.extend(labels(n, tumor));
    gz(&f)
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

pub fn tag_bytes(g: u16, e: u16) -> Vec<u8> {
    let mut v = g.to_le_bytes().to_vec();
    v.extend(e.to_le_bytes());
    v
}

/// One explicit-VR little-endian element (PS3.5 7.1.2).
pub fn elem(g: u16, e: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut v = tag_bytes(g, e);
    v.extend(vr);
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == b"UI" { 0 } else { b' ' });
    }
    if [b"OB", b"OW", b"SQ", b"UN", b"UT"].contains(&vr) {
        v.extend([0, 0]);
        v.extend((value.len() as u32).to_le_bytes());
    } else {
        v.extend((value.len() as u16).to_le_bytes());
    }
    v.extend(value);
    v
}

/// A Part 10 file: preamble, `DICM`, the elements in order (group 2 first).
pub fn dicom(elems: &[Vec<u8>]) -> Vec<u8> {
    let mut f = vec![0u8; 128];
    f.extend(b"DICM");
    for e in elems {
        f.extend(e);
    }
    f
}

/// Trains a small clinical + size forest (30 trees, 3 x 2 folds) on `data` into `out`, with
/// extra `train` arguments; its standard output.
pub fn train_forest(data: &Path, out: &Path, extra: &[&str]) -> String {
    let exp = out.with_extension("toml");
    std::fs::write(&exp, "[experiment]\nname = \"h\"\nouter_folds = 3\ninner_folds = 2\nbootstrap = 50\n[rf]\ntrees = 30\nmax_features = [\"sqrt\"]\n[[model]]\nname = \"rf\"\nclinical = \"all\"\nsize = true\nlearner = \"rf\"\n").unwrap();
    let o = super::bin()
        .args(["train", "--data"])
        .arg(data)
        .arg("--experiment")
        .arg(&exp)
        .args(["--model", "rf", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The server's peak memory so far (MiB), from /proc.
pub fn vm_hwm(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap()
        / 1024.0
}
