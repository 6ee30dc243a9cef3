//! Stress tests for tasks (issue 5): every task and state conformance case
//! run 20 times (a case that passes only sometimes is a race), and 8 service
//! tasks hammering shared globals while their step function is redefined
//! 200 times, checked for exact counts and leaks.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const STRATA: &str = env!("CARGO_BIN_EXE_strata");
const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance");
const ROUNDS: usize = 20;
/// Processes at once: the cases mostly sleep, so more than the cores.
const WORKERS: usize = 4;

fn cases_dir() -> PathBuf {
    std::env::var_os("STRATA_CONFORMANCE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(CASES))
}

/// Runs `strata` with `args`; the failure text if it does not exit 0.
fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(STRATA).args(args).output().map_err(|e| format!("cannot run strata: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(format!("strata {} ({}):\n{text}", args.join(" "), out.status)) }
}

/// Runs every job on `WORKERS` threads; returns the failures.
fn run_all(jobs: Vec<Vec<String>>) -> Vec<String> {
    let queue = Mutex::new(jobs);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let Some(job) = queue.lock().unwrap().pop() else { return };
                    let args: Vec<&str> = job.iter().map(String::as_str).collect();
                    if let Err(e) = run(&args) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

fn transcripts(folder: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", folder.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "repl"))
        .collect();
    v.sort();
    v
}

#[test]
fn task_and_state_cases_pass_every_time() {
    let dir = cases_dir();
    let cases: Vec<PathBuf> =
        transcripts(&dir.join("tasks")).into_iter().chain(transcripts(&dir.join("state"))).collect();
    assert!(cases.len() >= 9, "expected the tasks/ and state/ cases in {}", dir.display());
    let mut jobs = Vec::new();
    for _ in 0..ROUNDS {
        for c in &cases {
            jobs.push(vec!["repl".to_string(), "--script".to_string(), c.display().to_string()]);
        }
    }
    let failures = run_all(jobs);
    assert!(
        failures.is_empty(),
        "{} of {} runs failed; the first:\n{}",
        failures.len(),
        ROUNDS * cases.len(),
        failures[0]
    );
}

#[test]
fn services_under_redefinition_count_exactly_and_leak_nothing() {
    let program = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/stress/redefine_under_load.strata");
    for _ in 0..3 {
        let out = run(&["run", "--check-leaks", program]).unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = out.lines().collect();
        // counter, log length, mixed steps, and more than one version seen.
        assert_eq!(lines, ["2400", "2400", "0", "true"], "{out}");
    }
}
