//! The README is a front door (issue 28): at most 10 KB; the set-up, main-job and test commands
//! each on its own line near the top; one line per command in its table, for every command the
//! binary has; every document it links to exists. `docs/commands.md` describes every command.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

/// The subcommands `renal-triage --help` lists (its "Commands:" block), without `help`.
fn commands() -> Vec<String> {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_renal-triage"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success());
    let help = String::from_utf8(o.stdout).unwrap();
    let block = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let names: Vec<String> = block
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 10, "parsed the help: {names:?}");
    names
}

/// The first column of the README's command table.
fn table_commands(readme: &str) -> Vec<String> {
    readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_is_a_front_door() {
    let readme = read("README.md");
    assert!(
        readme.len() <= 10 * 1024,
        "README.md is {} bytes",
        readme.len()
    );
    // The first screen: set-up, main job and tests, each command on its own line.
    let first: Vec<&str> = readme.lines().take(30).collect();
    for cmd in [
        "bash scripts/setup.sh",
        "cargo build --release --locked -p renal-triage -p renal-encoder --bins",
        "target/release/renal-triage reproduce --out out/reproduce",
        "cargo test --workspace --locked",
    ] {
        assert!(
            first.contains(&cmd),
            "`{cmd}` is not a line of the README's first screen"
        );
    }
}

#[test]
fn every_command_is_in_the_readme_table_and_documented() {
    let readme = read("README.md");
    let table = table_commands(&readme);
    let detail = read("docs/commands.md");
    for c in commands() {
        assert!(table.contains(&c), "`{c}` missing from the README's table");
        assert!(
            detail.contains(&format!("renal-triage {c}")),
            "`renal-triage {c}` not described in docs/commands.md"
        );
    }
    let known = commands();
    for c in &table {
        assert!(
            known.contains(c),
            "the README's table names `{c}`, which --help does not list"
        );
    }
}

#[test]
fn every_linked_document_exists() {
    for doc in [
        "README.md",
        "docs/build.md",
        "docs/commands.md",
        "docs/data.md",
        "docs/models.md",
    ] {
        let text = read(doc);
        let base = root().join(doc).parent().unwrap().to_path_buf();
        for link in text.split("](").skip(1) {
            let target = link.split(')').next().unwrap();
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let path = base.join(target.split('#').next().unwrap());
            assert!(
                path.exists(),
                "{doc} links to {target}, which does not exist"
            );
        }
    }
}

#[test]
fn the_table_reader_reads_the_first_column() {
    let t = "| command | what |\n|---|---|\n| `fetch` | gets |\n| `serve` | serves `x` |\n";
    assert_eq!(table_commands(t), ["fetch", "serve"]);
}
