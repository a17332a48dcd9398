//! The shape of the code, checked on every test run (issue 12's acceptance):
//! - no import cycle between the modules (files) of any crate;
//! - in the application crate, the layers point one way: `engine` uses none of `model`,
//!   `report`, `server`, `commands`; `model` none of `report`, `server`, `commands`; `report`
//!   none of `model`, `server`, `commands`; `server` not `commands`;
//! - no source file above 800 lines and no function above 100 lines outside tests (80 in the
//!   DICOM reader and writer).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FN_LINES: usize = 100;
const MAX_FILE_LINES: usize = 800;
/// Files held to a tighter function limit, with it.
const TIGHTER: &[(&str, usize)] = &[("renal-imaging/src/dicom/series.rs", 80)];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a source file (`engine/mod.rs` -> `engine`, `lib.rs` -> ``).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    if rel.starts_with("bin") {
        return None;
    }
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    // The binary's root is a crate of its own: its node must not merge with the library's.
    if parts == ["main"] {
        return Some("(bin main)".to_string());
    }
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    Some(parts.join("::"))
}

/// The code of a file without its `#[cfg(test)]` items: each attribute and the item it gates
/// (a braced block, or a declaration up to its `;`, such as `mod tests;`), wherever they sit;
/// the code after them is kept.
fn non_test(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let item = &rest[i + "#[cfg(test)]".len()..];
        let (mut depth, mut end) = (0i64, item.len());
        for (j, ch) in item.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = j + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Modules a file refers to: `crate::a::b` and `super::x` paths, resolved to the longest
/// known module.
fn references(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = non_test(text)
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let parent = module.rsplit_once("::").map_or("", |p| p.0).to_string();
    for (prefix, base) in [("crate::", String::new()), ("super::", parent)] {
        for (i, _) in code.match_indices(prefix) {
            if i > 0 && code.as_bytes()[i - 1].is_ascii_alphanumeric() {
                continue;
            }
            let rest = &code[i + prefix.len()..];
            let mut path: Vec<String> = if base.is_empty() {
                vec![]
            } else {
                base.split("::").map(String::from).collect()
            };
            let mut best = base.clone();
            for seg in rest.split("::") {
                let name: String = seg
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name.is_empty() {
                    break;
                }
                path.push(name);
                let candidate = path.join("::");
                if modules.contains(&candidate) {
                    best = candidate;
                } else {
                    break;
                }
            }
            // A braced list after the module (`use crate::m::{a, b}`): its items may be modules.
            if let Some(open) = rest.find('{') {
                let head = &rest[..open];
                if head
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                {
                    if let Some(close) = rest[open..].find('}') {
                        let prefix = if best.is_empty() {
                            String::new()
                        } else {
                            format!("{best}::")
                        };
                        for item in rest[open + 1..open + close].split(',') {
                            let item = item.trim().split("::").next().unwrap_or("").trim();
                            let candidate = format!("{prefix}{item}");
                            if modules.contains(&candidate) {
                                found.insert(candidate);
                            }
                        }
                    }
                }
            }
            if best != module && !best.is_empty() {
                found.insert(best);
            }
        }
    }
    // Children declared here (`mod x;`) and used by a relative path (`x::item`).
    for line in code.lines() {
        let l = line.trim();
        let decl = l
            .strip_prefix("pub mod ")
            .or_else(|| l.strip_prefix("pub(crate) mod "))
            .or_else(|| l.strip_prefix("mod "));
        if let Some(name) = decl.and_then(|d| d.strip_suffix(';')) {
            let child = if module.is_empty() {
                name.to_string()
            } else {
                format!("{module}::{name}")
            };
            let used = code.match_indices(&format!("{name}::")).any(|(i, _)| {
                i == 0 || {
                    let b = code.as_bytes()[i - 1];
                    !(b.is_ascii_alphanumeric() || b == b'_' || b == b':')
                }
            });
            if used && modules.contains(&child) {
                found.insert(child);
            }
        }
    }
    found.remove(module);
    found
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Every crate's module graph (files as nodes, `mod` declarations not counted as uses).
fn graphs() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut all = BTreeMap::new();
    let mut crates: Vec<_> = std::fs::read_dir(crates_dir()).unwrap().flatten().collect();
    crates.sort_by_key(|e| e.path());
    for c in crates {
        let src = c.path().join("src");
        if !src.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mods: Vec<(String, String)> = files
            .iter()
            .filter_map(|f| Some((module_of(&src, f)?, std::fs::read_to_string(f).unwrap())))
            .collect();
        let names: BTreeSet<String> = mods.iter().map(|m| m.0.clone()).collect();
        let graph = mods
            .iter()
            .map(|(m, text)| (m.clone(), references(m, text, &names)))
            .collect();
        all.insert(c.file_name().to_string_lossy().to_string(), graph);
    }
    all
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let all = graphs();
    assert!(all.contains_key("renal-triage") && all["renal-triage"].len() > 20);
    for (krate, graph) in &all {
        if let Some(c) = find_cycle(graph) {
            panic!("import cycle in {krate}: {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_application_layers_point_one_way() {
    let graph = &graphs()["renal-triage"];
    let forbidden: &[(&str, &[&str])] = &[
        ("engine", &["model", "report", "server", "commands"]),
        ("model", &["report", "server", "commands"]),
        ("report", &["model", "server", "commands"]),
        ("server", &["commands", "report"]),
    ];
    let top = |m: &str| m.split("::").next().unwrap_or("").to_string();
    let mut bad = Vec::new();
    for (m, uses) in graph {
        for (layer, never) in forbidden {
            if top(m) != *layer {
                continue;
            }
            for u in uses {
                if never.contains(&top(u).as_str()) {
                    bad.push(format!("{m} uses {u}"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "layering violated: {bad:?}");
}

/// Functions longer than the limit, by (file, name), outside `#[cfg(test)]` modules.
fn long_functions(text: &str, max_lines: usize) -> Vec<(String, usize)> {
    let code = non_test(text);
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim_start();
        let decl = l
            .split_whitespace()
            .skip_while(|w| {
                matches!(
                    *w,
                    "pub" | "pub(crate)" | "pub(super)" | "async" | "const" | "unsafe"
                )
            })
            .collect::<Vec<_>>();
        if decl.first() == Some(&"fn") && !l.starts_with("//") {
            let name: String = decl
                .get(1)
                .unwrap_or(&"")
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let (mut depth, mut started, mut j) = (0i64, false, i);
            while j < lines.len() {
                for ch in lines[j].chars() {
                    match ch {
                        '{' => {
                            depth += 1;
                            started = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if (started && depth <= 0) || (!started && lines[j].trim_end().ends_with(';')) {
                    break;
                }
                j += 1;
            }
            let n = j - i + 1;
            if started && n > max_lines {
                out.push((name, n));
            }
            i = if started { j + 1 } else { i + 1 };
        } else {
            i += 1;
        }
    }
    out
}

/// Every source file under the crates' `src/` folders.
fn crate_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut crates: Vec<_> = std::fs::read_dir(crates_dir()).unwrap().flatten().collect();
    crates.sort_by_key(|e| e.path());
    for c in crates {
        if c.path().join("src").is_dir() {
            rust_files(&c.path().join("src"), &mut files);
        }
    }
    files
}

#[test]
fn files_and_functions_stay_short() {
    let root = crates_dir();
    let files = crate_sources();
    let mut long_fns: BTreeSet<String> = BTreeSet::new();
    let mut long_files = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        if text.lines().count() > MAX_FILE_LINES {
            long_files.insert(rel.clone());
        }
        let max = TIGHTER
            .iter()
            .find(|(f, _)| *f == rel)
            .map_or(MAX_FN_LINES, |t| t.1);
        for (name, n) in long_functions(&text, max) {
            long_fns.insert(format!("{rel}: {name} ({n} lines)"));
        }
    }
    assert!(long_fns.is_empty(), "functions too long: {long_fns:?}");
    assert!(
        long_files.is_empty(),
        "files above {MAX_FILE_LINES} lines: {long_files:?}"
    );
    assert!(files.len() > 80, "the walk found the sources");
}

#[test]
fn the_length_check_measures_functions() {
    let f = format!(
        "fn short() {{\n    1\n}}\n\npub(crate) fn long() {{\n{}}}\n#[cfg(test)]\nfn in_tests() {{\n{}}}\n",
        "    x();\n".repeat(120),
        "    x();\n".repeat(120)
    );
    assert_eq!(long_functions(&f, 100), vec![("long".to_string(), 122)]);
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    // The check above is only as good as this: a two-module cycle must be reported.
    let names: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut g = BTreeMap::new();
    g.insert(
        "a".to_string(),
        references("a", "use crate::b::thing;", &names),
    );
    g.insert(
        "b".to_string(),
        references("b", "fn f() { crate::c::g() }", &names),
    );
    g.insert(
        "c".to_string(),
        references("c", "use crate::{a, x};", &names),
    );
    assert_eq!(
        find_cycle(&g).unwrap(),
        ["a", "b", "c", "a"].map(String::from).to_vec()
    );
    g.insert("c".to_string(), BTreeSet::new());
    assert!(find_cycle(&g).is_none());
}

#[test]
fn test_items_are_cut_out_not_the_code_after_them() {
    let f = format!(
        "mod a;\n#[cfg(test)]\nmod tests;\nmod b;\n#[cfg(test)]\nmod t {{\n    fn x() {{ {{ }} }}\n}}\nfn after() {{\n{}}}\n",
        "    x();\n".repeat(120)
    );
    let kept = non_test(&f);
    assert!(kept.contains("mod a;") && kept.contains("mod b;") && kept.contains("fn after()"));
    assert!(!kept.contains("mod tests") && !kept.contains("mod t "));
    assert_eq!(long_functions(&f, 100), vec![("after".to_string(), 122)]);
}

#[test]
fn the_binary_root_is_not_the_library_root() {
    let src = Path::new("/c/src");
    assert_eq!(module_of(src, &src.join("lib.rs")).unwrap(), "");
    assert_eq!(module_of(src, &src.join("main.rs")).unwrap(), "(bin main)");
    assert_eq!(
        module_of(src, &src.join("engine/mod.rs")).unwrap(),
        "engine"
    );
    assert_eq!(
        module_of(src, &src.join("engine/main.rs")).unwrap(),
        "engine::main"
    );
}

/// Every source file of the workspace, relative to the repository root's `crates/` (and the
/// fuzz crate as `fuzz/...`).
fn workspace_sources() -> Vec<String> {
    let root = crates_dir();
    let mut names: Vec<String> = crate_sources()
        .iter()
        .map(|f| f.strip_prefix(&root).unwrap().to_string_lossy().to_string())
        .collect();
    let fuzz = root.join("../fuzz/src");
    let mut fz = Vec::new();
    rust_files(&fuzz, &mut fz);
    names.extend(fz.iter().map(|f| {
        format!(
            "fuzz/src/{}",
            f.strip_prefix(&fuzz).unwrap().to_string_lossy()
        )
    }));
    names
}

/// The source paths `docs/architecture.md` names in backticks (`crate/src/...rs`).
fn documented_sources(doc: &str) -> BTreeSet<String> {
    doc.split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| t.ends_with(".rs") && t.contains("/src/"))
        .map(|t| t.trim_start_matches("crates/").to_string())
        .collect()
}

#[test]
fn every_source_file_is_in_the_architecture_doc() {
    let doc = std::fs::read_to_string(crates_dir().join("../docs/architecture.md")).unwrap();
    let named = documented_sources(&doc);
    let sources = workspace_sources();
    assert!(sources.len() > 100, "the walk found the sources");
    let missing: Vec<&String> = sources.iter().filter(|f| !named.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "source files missing from docs/architecture.md: {missing:?}"
    );
    let stale: Vec<&String> = named.iter().filter(|f| !sources.contains(f)).collect();
    assert!(
        stale.is_empty(),
        "docs/architecture.md names files that do not exist: {stale:?}"
    );
}

#[test]
fn the_doc_check_reads_backticked_paths_only() {
    let named = documented_sources("| `a/src/x.rs` | uses `crates/b/src/y.rs` and a/src/z.rs |");
    assert_eq!(named, ["a/src/x.rs", "b/src/y.rs"].map(String::from).into());
}

/// The `pub mod` names a module file declares.
fn public_modules(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').trim().to_string())
        .collect()
}

/// The application crate exports what its binary, its integration tests and the fuzz targets
/// use, and nothing else: the rest is `pub(crate)`, so the compiler reports dead code.
#[test]
fn the_application_exports_only_what_is_used_outside() {
    let src = crates_dir().join("renal-triage/src");
    let read = |f: &str| std::fs::read_to_string(src.join(f)).unwrap();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // The binary (main.rs) uses `commands`; the fuzz targets `fuzz`; the tests drive the
    // engine steps below directly (beyond.rs, acceptance_cv.rs, scaling.rs); the Python
    // package (renal-triage-py) loads bundles and predicts through `model`.
    assert_eq!(
        public_modules(&read("lib.rs")),
        set(&["commands", "engine", "fuzz", "model"])
    );
    assert_eq!(
        public_modules(&read("engine/mod.rs")),
        set(&["experiment", "features", "plan", "prepare", "tasks"])
    );
}

#[test]
fn the_export_check_reads_pub_mod_lines() {
    let m = public_modules("pub mod a;\npub(crate) mod b;\nmod c;\n    pub mod d;\n");
    assert_eq!(m, ["a", "d"].map(String::from).into());
}

/// The `Result<_, String>` types (an error that is only text) in a file's code: each
/// `Result<...>` whose last type argument is `String`, however nested or spread over lines,
/// and `type Err = String` / `type Error = String`.
fn string_errors(text: &str) -> Vec<String> {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut found = Vec::new();
    for (i, _) in flat.match_indices("Result<") {
        let before = flat[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `MyResult<`, not `Result<`
        }
        let args = &flat[i + "Result<".len()..];
        let (mut depth, mut commas, mut end) = (1i64, vec![], None);
        for (j, ch) in args.char_indices() {
            match ch {
                '<' | '(' | '[' => depth += 1,
                '>' | ')' | ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                ',' if depth == 1 => commas.push(j),
                _ => {}
            }
        }
        let Some(e) = end else { continue };
        // The type arguments, a trailing comma dropped; the error type is the second.
        let mut starts = vec![0];
        starts.extend(commas.iter().map(|c| c + 1));
        let mut ends = commas.clone();
        ends.push(e);
        let types: Vec<&str> = starts
            .iter()
            .zip(&ends)
            .map(|(s, e)| args[*s..*e].trim())
            .filter(|t| !t.is_empty())
            .collect();
        if types.len() == 2 && (types[1] == "String" || types[1] == "std::string::String") {
            found.push(format!("Result<{}>", &args[..e]));
        }
    }
    for assoc in ["type Err = String;", "type Error = String;"] {
        if flat.contains(assoc) {
            found.push(assoc.to_string());
        }
    }
    found
}

#[test]
fn library_errors_are_typed_not_text() {
    let root = crates_dir();
    let mut files = crate_sources();
    rust_files(&root.join("../fuzz"), &mut files);
    let mut bad = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap_or(f)
            .to_string_lossy()
            .to_string();
        // Test modules kept in their own files (`#[cfg(test)] mod tests;`).
        if f.file_name().is_some_and(|n| n == "tests.rs") || rel.contains("/tests/") {
            continue;
        }
        let text = non_test(&std::fs::read_to_string(f).unwrap());
        for e in string_errors(&text) {
            bad.push(format!("{rel}: {e}"));
        }
    }
    assert!(
        bad.is_empty(),
        "errors as plain text (give them a thiserror type): {bad:#?}"
    );
    assert!(files.len() > 80, "the walk found the sources");
}

#[test]
fn the_text_error_check_finds_them_however_written() {
    let planted = "fn a() -> Result<Vec<(u8, String)>, String> { todo!() }\n\
        fn b() -> std::result::Result<\n    BTreeMap<String, String>,\n    String,\n> {}\n\
        impl FromStr for X { type Err = String; }";
    let found = string_errors(planted);
    assert_eq!(found.len(), 3, "{found:?}");
    let fine = "fn a() -> Result<BTreeMap<String, String>> {}\n\
        fn b() -> Result<String, MyError> {}\nfn c() -> io::Result<String> {}\n\
        fn d() -> MyResult<u8, String> {}";
    assert!(string_errors(fine).is_empty(), "{:?}", string_errors(fine));
}
