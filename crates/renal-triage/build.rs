//! Records, at build time, the commit the binary is built from, for the run manifest's
//! `git_commit` (with `-dirty` when tracked files differ from it; `unknown` outside a git
//! checkout). Asking git at run time, as before, reported whatever the source folder held
//! then, not what the binary was built from.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let o = Command::new("git").args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    println!(
        "cargo:rustc-env=RENAL_TRIAGE_GIT_COMMIT={commit}{}",
        if dirty { "-dirty" } else { "" }
    );
    // Built again when HEAD moves (a commit, a checkout) or a tracked file changes.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        for f in ["HEAD", "index", "packed-refs"] {
            println!("cargo:rerun-if-changed={dir}/{f}");
        }
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{r}");
        }
    }
    if let Some(top) = git(&["rev-parse", "--show-toplevel"]) {
        for d in ["crates", "experiments", "Cargo.toml", "Cargo.lock"] {
            println!("cargo:rerun-if-changed={top}/{d}");
        }
    }
}
