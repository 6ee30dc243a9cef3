//! Helpers the lang test binaries share: where the conformance cases are,
//! the inputs of a `.repl` transcript, every conformance source, and the
//! source mutation the no-panic property tests use.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

/// `$STRATA_CONFORMANCE`, or `shared/conformance` beside the checkout.
pub fn conformance_dir() -> PathBuf {
    std::env::var_os("STRATA_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance")))
}

/// The files with extension `ext` in conformance folder `dir`, sorted.
pub fn conformance_files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(conformance_dir().join(dir))
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == ext));
    files.sort();
    files
}

/// The inputs of a `.repl` transcript (section 13), REPL commands left out,
/// each with whether its expected output has a `~ error` line.
pub fn repl_inputs(text: &str) -> Vec<(String, bool)> {
    let mut inputs: Vec<(String, bool)> = Vec::new();
    let mut continuing = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("> ") {
            inputs.push((rest.to_string(), false));
            continuing = true;
        } else if let Some(rest) = line.strip_prefix(". ")
            && continuing
            && let Some(last) = inputs.last_mut()
        {
            last.0.push('\n');
            last.0.push_str(rest);
        } else {
            continuing = false;
            if line.starts_with("~ error")
                && let Some(last) = inputs.last_mut()
            {
                last.1 = true;
            }
        }
    }
    inputs.retain(|(i, _)| !i.starts_with(':'));
    inputs
}

/// Every conformance program and transcript input (read once).
pub fn sources() -> &'static Vec<String> {
    static SOURCES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SOURCES.get_or_init(|| {
        let mut out = Vec::new();
        for dir in ["lang", "errors"] {
            for f in conformance_files(dir, "strata") {
                out.push(std::fs::read_to_string(f).unwrap());
            }
        }
        for dir in ["worlds", "types", "state", "tasks", "overlays"] {
            for f in conformance_files(dir, "repl") {
                out.extend(repl_inputs(&std::fs::read_to_string(f).unwrap()).into_iter().map(|(i, _)| i));
            }
        }
        assert!(!out.is_empty(), "no conformance sources under {}", conformance_dir().display());
        out
    })
}

/// Deletes, duplicates or inserts text on char boundaries.
pub fn mutate(src: &str, op: u8, a: usize, b: usize, insert: &str) -> String {
    let bounds: Vec<usize> = (0..=src.len()).filter(|&i| src.is_char_boundary(i)).collect();
    let x = bounds[a % bounds.len()];
    let y = bounds[b % bounds.len()];
    let (lo, hi) = (x.min(y), x.max(y));
    match op % 3 {
        0 => format!("{}{}", &src[..lo], &src[hi..]),
        1 => format!("{}{}{}", &src[..hi], &src[lo..hi], &src[hi..]),
        _ => format!("{}{}{}", &src[..lo], insert, &src[lo..]),
    }
}
