//! House rules checked as ordinary tests (as rust-analyzer's `tidy`): the
//! crates form one-way layers, `lang` does no IO and no `unsafe`, and every
//! source file says what it owns in its first line.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The `[dependencies]` section of a crate's manifest (not dev-dependencies).
fn dependencies(krate: &str) -> Vec<String> {
    let manifest = read(&format!("{krate}/Cargo.toml"));
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            deps.push(line.split(['.', ' ', '=']).next().unwrap_or("").to_string());
        }
    }
    deps
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn crates_are_one_way_layers() {
    let lang = dependencies("lang");
    assert!(
        lang.iter().all(|d| ["codespan-reporting", "imbl", "salsa"].contains(&d.as_str())),
        "lang must know nothing of Cranelift, the runtime or the terminal: {lang:?}"
    );
    let jit = dependencies("jit");
    for banned in ["stdlib", "strata", "clap", "rustyline", "signal-hook"] {
        assert!(!jit.iter().any(|d| d == banned), "jit must not depend on {banned}: {jit:?}");
    }
    assert!(jit.iter().any(|d| d == "lang"), "jit builds on lang");
    let stdlib = dependencies("stdlib");
    assert!(!stdlib.iter().any(|d| d == "strata"), "stdlib must not depend on the binary");
}

#[test]
fn lang_does_no_io_and_no_unsafe() {
    assert!(read("lang/src/lib.rs").contains("#![forbid(unsafe_code)]"));
    let mut files = Vec::new();
    rust_files(&root().join("lang/src"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        for banned in ["std::fs", "std::io", "println!", "eprintln!", "std::process"] {
            assert!(!text.contains(banned), "{} uses {banned}: lang does no IO", f.display());
        }
    }
}

#[test]
fn every_source_file_starts_with_what_it_owns() {
    let mut files = Vec::new();
    for dir in ["lang", "jit", "stdlib", "repl", "tests"] {
        rust_files(&root().join(dir), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "target"))
        .filter(|f| !std::fs::read_to_string(f).is_ok_and(|t| t.starts_with("//!")))
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` first line: {missing:?}");
}
