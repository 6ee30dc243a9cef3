//! Conformance harness: one libtest-mimic trial per case of `shared/conformance`, run against the real `strata` binary.
//!
//! How each folder runs is fixed by `shared/conformance/README.md` and SPEC sections 11 and 13:
//!
//! * `lang/*.strata`   `strata run --check-leaks FILE`: stdout == the `// expect:` lines, exit 0.
//! * `errors/*.strata` the same, but exit 1 (never a panic or a signal) and stderr contains
//!   every `// expect error:` text.
//! * `*.repl`          `strata repl --script FILE` exits 0 (the binary matches the transcript).
//! * `*.sh`            `STRATA=<binary> bash FILE` exits 0, in a fresh temporary directory.
//!
//! `--check-leaks` makes the binary exit 3 and print `leak: ...` on stderr when heap objects
//! are still live after the run; any stderr line starting with `leak:` fails the case.
//!
//! Every case runs in its own process group with a timeout (`STRATA_CONFORMANCE_TIMEOUT`
//! seconds, default 60); on timeout the whole group is killed, so a server started by a
//! script cannot outlive it. Cases of `tasks/`, `types/`, `image/` and `serve/` order events
//! between threads with sleeps, so they run alone (see `EXCLUSIVE`).
//!
//! Cases that are known to fail are listed in `tests/expected_failures.txt` as
//! `folder/case  #ISSUE  reason`. Such a case that still fails is reported as
//! `ignored (expected failure #ISSUE: ...)`, so the summary's `passed` count is the number of
//! cases that really pass; one that passes fails its trial until it is removed from the list.
//!
//! The case directory is `../shared/conformance` beside the repository, or `$STRATA_CONFORMANCE`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

const STRATA: &str = env!("CARGO_BIN_EXE_strata");
const DEFAULT_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/conformance");
const EXPECTED_FAILURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/expected_failures.txt");
const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// Folders whose cases synchronise threads with sleeps or share ports and CPU-sensitive
/// timing; the conformance README asks for them to run one at a time (CI has 2 cores).
const SERIAL_FOLDERS: &[&str] = &["tasks", "types", "image", "serve"];

/// Folders whose cases must pass: they may never be listed as expected failures.
const MUST_PASS_FOLDERS: &[&str] = &["lang", "errors"];

/// libtest-mimic runs trials on a thread pool. A serial case takes this lock for writing
/// and every other case takes it for reading, so a serial case runs with nothing beside it
/// while the rest still run in parallel with each other.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn main() {
    let args = Arguments::from_args();
    let timeout = case_timeout();
    let mut trials = vec![
        Trial::test("harness/expect_parser", || check_all(expect_parser_checks())),
        Trial::test("harness/expected_failures_parser", || check_all(expected_failures_parser_checks())),
        Trial::test("harness/line_diff", || check_all(line_diff_checks())),
    ];

    let root =
        std::env::var_os("STRATA_CONFORMANCE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_CASES));
    match discover(&root) {
        Ok(cases) => {
            let (xfails, list_problems) = load_expected_failures(&cases);
            trials.push(Trial::test("harness/expected_failures", move || {
                if list_problems.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{EXPECTED_FAILURES}:\n{}", list_problems.join("\n")).into())
                }
            }));
            for case in cases {
                let xfail = xfails.get(&case.name).cloned();
                trials.push(case_trial(case, xfail, timeout));
            }
        }
        // Without cases the run must fail loudly, never pass with zero conformance trials.
        Err(msg) => trials.push(Trial::test("harness/conformance_dir", move || Err(msg.into()))),
    }

    libtest_mimic::run(&args, trials).exit();
}

fn case_timeout() -> Duration {
    match std::env::var("STRATA_CONFORMANCE_TIMEOUT") {
        Ok(s) => match s.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Duration::from_secs(secs),
            _ => panic!("STRATA_CONFORMANCE_TIMEOUT must be a positive number of seconds, not {s:?}"),
        },
        Err(_) => Duration::from_secs(DEFAULT_TIMEOUT_SECS),
    }
}

// ---------------------------------------------------------------------------------------
// Discovering cases

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `lang/*.strata`
    Program,
    /// `errors/*.strata`
    ErrorProgram,
    /// `*.repl`
    Transcript,
    /// `*.sh`
    Script,
}

struct Case {
    /// `folder/stem`, e.g. `worlds/pinning`: the trial name and the key in the list.
    name: String,
    folder: String,
    path: PathBuf,
    /// `Err` for a file the harness does not know how to run: that trial fails, so a new
    /// kind of case is never skipped silently.
    kind: Result<Kind, String>,
}

fn discover(root: &Path) -> Result<Vec<Case>, String> {
    let root = root.canonicalize().map_err(|e| {
        format!(
            "conformance cases not found at {}: {e}\n\
             (they live in ../shared/conformance beside the repository; set STRATA_CONFORMANCE to use another directory)",
            root.display()
        )
    })?;
    let mut cases = Vec::new();
    for folder_path in sorted_entries(&root)? {
        let folder = file_name(&folder_path);
        if !folder_path.is_dir() {
            if !folder.ends_with(".md") {
                // Not documentation, so probably a case put in the wrong place.
                cases.push(Case {
                    name: format!("unsorted/{folder}"),
                    folder: String::new(),
                    path: folder_path,
                    kind: Err("a file outside every case folder: the folder decides how a case runs".into()),
                });
            }
            continue;
        }
        for path in sorted_entries(&folder_path)? {
            let file = file_name(&path);
            if file.ends_with(".md") {
                continue;
            }
            let (stem, ext) = match file.rsplit_once('.') {
                Some((stem, ext)) if !path.is_dir() => (stem.to_string(), ext.to_string()),
                _ => (file.clone(), String::new()),
            };
            let kind = match (folder.as_str(), ext.as_str()) {
                _ if path.is_dir() => Err("a directory inside a case folder: the harness runs only files".into()),
                ("lang", "strata") => Ok(Kind::Program),
                ("errors", "strata") => Ok(Kind::ErrorProgram),
                (_, "strata") => Err(format!(
                    "a .strata case outside lang/ and errors/: the harness does not know whether {folder}/ cases must succeed or fail"
                )),
                (_, "repl") => Ok(Kind::Transcript),
                (_, "sh") => Ok(Kind::Script),
                _ => Err(format!("no runner for this kind of file ({file}); teach tests/conformance.rs about it")),
            };
            cases.push(Case { name: format!("{folder}/{stem}"), folder: folder.clone(), path, kind });
        }
    }
    if cases.is_empty() {
        return Err(format!("no conformance cases under {}", root.display()));
    }
    Ok(cases)
}

/// Entries of a directory, hidden ones left out, sorted so trial order is stable.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
        if !file_name(&path).starts_with('.') {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Expected failures

#[derive(Clone, Debug, PartialEq)]
struct ExpectedFailure {
    name: String,
    issue: u32,
    reason: String,
}

/// Parses `tests/expected_failures.txt`: `folder/case  #ISSUE  reason` per line, `#` starts a
/// comment line. Returns the entries and one message per malformed line.
fn parse_expected_failures(text: &str) -> (Vec<ExpectedFailure>, Vec<String>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}: `{line}` (want `folder/case  #ISSUE  reason`)", i + 1);
        let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim_start();
        let (issue, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let reason = reason.trim();
        let name_ok =
            matches!(name.split_once('/'), Some((f, c)) if !f.is_empty() && !c.is_empty() && !c.contains('/'));
        if !name_ok {
            problems.push(bad("the case must be named folder/case"));
        } else if let Some(issue) = issue.strip_prefix('#').and_then(|n| n.parse::<u32>().ok()) {
            if reason.is_empty() {
                problems.push(bad("the reason is missing"));
            } else {
                entries.push(ExpectedFailure { name: name.into(), issue, reason: reason.into() });
            }
        } else {
            problems.push(bad("the issue must be written #NUMBER"));
        }
    }
    (entries, problems)
}

/// Reads the list and checks it against the cases that exist: the list must stay honest.
fn load_expected_failures(cases: &[Case]) -> (BTreeMap<String, ExpectedFailure>, Vec<String>) {
    let text = match fs::read_to_string(EXPECTED_FAILURES) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return (BTreeMap::new(), vec![format!("cannot read it: {e}")]),
    };
    let (entries, mut problems) = parse_expected_failures(&text);
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    let mut map = BTreeMap::new();
    for entry in entries {
        let folder = entry.name.split('/').next().unwrap_or_default();
        if !names.contains(entry.name.as_str()) {
            problems.push(format!("`{}` is listed but no such case exists: remove it", entry.name));
        } else if MUST_PASS_FOLDERS.contains(&folder) {
            problems.push(format!("`{}` is listed, but {folder}/ cases must pass and are never listed", entry.name));
        } else if map.contains_key(&entry.name) {
            problems.push(format!("`{}` is listed twice", entry.name));
        } else {
            map.insert(entry.name.clone(), entry);
        }
    }
    (map, problems)
}

// ---------------------------------------------------------------------------------------
// Running one case

fn case_trial(case: Case, xfail: Option<ExpectedFailure>, timeout: Duration) -> Trial {
    Trial::ignorable_test(case.name.clone(), move || {
        let result = if SERIAL_FOLDERS.contains(&case.folder.as_str()) {
            let _alone = EXCLUSIVE.write().unwrap_or_else(PoisonError::into_inner);
            run_case(&case, timeout)
        } else {
            let _shared = EXCLUSIVE.read().unwrap_or_else(PoisonError::into_inner);
            run_case(&case, timeout)
        };
        match (result, xfail) {
            (Ok(()), None) => Ok(Completion::Completed),
            (Err(msg), None) => Err(Failed::from(msg)),
            (Err(msg), Some(x)) => Ok(Completion::ignored_with(format!(
                "expected failure #{}, {}: {}",
                x.issue,
                x.reason,
                summary_line(&msg)
            ))),
            (Ok(()), Some(x)) => Err(Failed::from(format!(
                "unexpectedly passes: remove it from tests/expected_failures.txt (listed as #{} {})",
                x.issue, x.reason
            ))),
        }
    })
}

fn run_case(case: &Case, timeout: Duration) -> Result<(), String> {
    let kind = case.kind.clone().map_err(|why| format!("{}: {why}", case.path.display()))?;
    match kind {
        Kind::Program => check_program(&case.path, false, timeout),
        Kind::ErrorProgram => check_program(&case.path, true, timeout),
        Kind::Transcript => {
            let mut cmd = Command::new(STRATA);
            cmd.args(["repl", "--script"]).arg(&case.path);
            check_exit_zero(cmd, timeout)
        }
        Kind::Script => {
            let mut cmd = Command::new("bash");
            cmd.arg(&case.path).env("STRATA", STRATA);
            check_exit_zero(cmd, timeout)
        }
    }
}

/// A `.repl` or `.sh` case: the case judges itself; exit 0 means it holds.
fn check_exit_zero(cmd: Command, timeout: Duration) -> Result<(), String> {
    let run = run_process(cmd, timeout)?;
    if run.timed_out {
        return Err(format!("{}\n{}", timeout_message(timeout), run.output_sections()));
    }
    if run.status.success() {
        Ok(())
    } else {
        Err(format!("{}, want exit 0\n{}", describe(run.status), run.output_sections()))
    }
}

/// A `.strata` case of `lang/` (`expect_error == false`) or `errors/`.
fn check_program(path: &Path, expect_error: bool, timeout: Duration) -> Result<(), String> {
    let src = fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let exp = parse_expectations(&src).map_err(|e| format!("{}: {e}", path.display()))?;
    if expect_error && exp.errors.is_empty() {
        return Err(format!("{}: an errors/ case needs a `// expect error: TEXT` line", path.display()));
    }
    if !expect_error && !exp.errors.is_empty() {
        return Err(format!("{}: `// expect error:` belongs in errors/ cases only", path.display()));
    }

    let mut cmd = Command::new(STRATA);
    cmd.args(["run", "--check-leaks"]).arg(path);
    let run = run_process(cmd, timeout)?;

    let mut problems = Vec::new();
    let want_code = if expect_error { 1 } else { 0 };
    if run.timed_out {
        problems.push(timeout_message(timeout));
    } else if run.status.code() != Some(want_code) {
        problems.push(format!("{}, want exit {want_code}", describe(run.status)));
    }
    let leaks: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("leak:")).collect();
    if !leaks.is_empty() {
        problems.push(format!("heap objects still live after the run (--check-leaks):\n{}", leaks.join("\n")));
    }
    for text in &exp.errors {
        if !run.stderr.contains(text.as_str()) {
            problems.push(format!("stderr does not contain the expected error `{text}`"));
        }
    }
    let actual: Vec<&str> = run.stdout.lines().map(trim_trailing).collect();
    if actual != exp.stdout {
        problems.push(format!(
            "stdout differs from the `// expect:` lines (- expected, + actual):\n{}",
            line_diff(&exp.stdout, &actual)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n--- stderr ---\n{}", problems.join("\n"), excerpt(&run.stderr)))
    }
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

impl Run {
    fn output_sections(&self) -> String {
        format!("--- stdout ---\n{}\n--- stderr ---\n{}", excerpt(&self.stdout), excerpt(&self.stderr))
    }
}

/// Runs `cmd` with no stdin, in a fresh empty directory, in a process group of its own, and
/// waits at most `timeout`. Output goes to files, not pipes: a background process that
/// inherited them can then never block the harness.
fn run_process(mut cmd: Command, timeout: Duration) -> Result<Run, String> {
    let scratch = Scratch::new()?;
    let cwd = scratch.0.join("cwd");
    let out_path = scratch.0.join("stdout");
    let err_path = scratch.0.join("stderr");
    let io_err = |what: &str, e: io::Error| format!("{what}: {e}");
    fs::create_dir(&cwd).map_err(|e| io_err("cannot create the case directory", e))?;
    let stdout = File::create(&out_path).map_err(|e| io_err("cannot create the stdout file", e))?;
    let stderr = File::create(&err_path).map_err(|e| io_err("cannot create the stderr file", e))?;
    cmd.current_dir(&cwd).stdin(Stdio::null()).stdout(stdout).stderr(stderr).process_group(0);

    let mut child = cmd.spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let pgid = child.id();
    let deadline = Instant::now() + timeout;
    let mut poll = Duration::from_millis(2);
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| io_err("wait failed", e))? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            kill_group(pgid);
            break child.wait().map_err(|e| io_err("wait failed", e))?;
        }
        std::thread::sleep(poll);
        poll = (poll * 2).min(Duration::from_millis(50));
    };
    // Whatever the case left running in its group (a server a script failed to stop) goes
    // too, so it cannot disturb the cases after it.
    kill_group(pgid);

    let read = |p: &Path| fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned());
    Ok(Run {
        status,
        stdout: read(&out_path).map_err(|e| io_err("cannot read stdout", e))?,
        stderr: read(&err_path).map_err(|e| io_err("cannot read stderr", e))?,
        timed_out,
    })
}

/// SIGKILLs every process of group `pgid`. std has no `killpg`; bash's builtin `kill`
/// takes a negative pid for a group, and needs no unsafe code here.
fn kill_group(pgid: u32) {
    let _ = Command::new("bash")
        .args(["-c", "kill -KILL -- \"-$1\" 2>/dev/null", "kill-group", &pgid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("strata-conformance.{}.{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir); // a leftover of an earlier run with the same pid
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn timeout_message(timeout: Duration) -> String {
    format!("timed out after {} s: its process group was killed", timeout.as_secs())
}

fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return match code {
            101 => "exit 101 (a Rust panic)".into(),
            _ => format!("exit {code}"),
        };
    }
    match status.signal() {
        Some(sig) => {
            let name = match sig {
                4 => " (SIGILL)",
                6 => " (SIGABRT: an abort, e.g. a native stack overflow or a panic in extern \"C\")",
                7 => " (SIGBUS)",
                8 => " (SIGFPE)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            format!("killed by signal {sig}{name}")
        }
        None => status.to_string(),
    }
}

/// The first line of a failure message, shortened, for the one-line note of an expected
/// failure.
fn summary_line(msg: &str) -> String {
    let line = msg.lines().next().unwrap_or_default();
    if line.chars().count() > 100 {
        format!("{}...", line.chars().take(100).collect::<String>())
    } else {
        line.to_string()
    }
}

/// Up to 120 lines of `text`: the head and, past that, the tail (where scripts and
/// backtraces put their last word).
fn excerpt(text: &str) -> String {
    const HEAD: usize = 40;
    const TAIL: usize = 80;
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "(empty)".into();
    }
    if lines.len() <= HEAD + TAIL {
        return lines.join("\n");
    }
    format!(
        "{}\n... {} lines left out ...\n{}",
        lines[..HEAD].join("\n"),
        lines.len() - HEAD - TAIL,
        lines[lines.len() - TAIL..].join("\n")
    )
}

// ---------------------------------------------------------------------------------------
// `// expect:` lines

/// Trailing white space is never part of an expected or actual line.
fn trim_trailing(s: &str) -> &str {
    s.trim_end_matches([' ', '\t', '\r'])
}

#[derive(Debug, Default, PartialEq)]
struct Expectations {
    /// `// expect: TEXT`, in order: the exact stdout lines.
    stdout: Vec<String>,
    /// `// expect error: TEXT`: texts the error output must contain.
    errors: Vec<String>,
}

/// Collects the expectations of a `.strata` case (SPEC section 13). A comment may follow
/// code or stand on its own line; `//` inside a string literal starts no comment. TEXT is
/// everything after the colon and the one space after it, trailing spaces trimmed.
fn parse_expectations(src: &str) -> Result<Expectations, String> {
    let mut exp = Expectations::default();
    for (i, line) in src.lines().enumerate() {
        let Some(comment) = comment_of(line) else { continue };
        let body = comment.trim_start();
        let text = |rest: &str| trim_trailing(rest.strip_prefix(' ').unwrap_or(rest)).to_string();
        if let Some(rest) = body.strip_prefix("expect:") {
            exp.stdout.push(text(rest));
        } else if let Some(rest) = body.strip_prefix("expect error:") {
            let t = text(rest);
            if t.is_empty() {
                return Err(format!("line {}: `// expect error:` without text matches any error", i + 1));
            }
            exp.errors.push(t);
        } else if looks_like_expectation(body) {
            // A misspelt expectation would otherwise be ignored and the case would check less
            // than its author meant.
            return Err(format!(
                "line {}: malformed expectation `//{comment}`: write `// expect: TEXT` or `// expect error: TEXT`",
                i + 1
            ));
        }
    }
    Ok(exp)
}

/// `expect` followed by a short label and a colon, e.g. `expected:` or `expect  error:`.
fn looks_like_expectation(body: &str) -> bool {
    let Some((label, _)) = body.split_once(':') else { return false };
    label.starts_with("expect")
        && label.len() <= 20
        && label.chars().all(|c| c.is_ascii_alphabetic() || c == ' ' || c == '-' || c == '_')
}

/// The text after the first `//` of `line` that is not inside a string literal.
fn comment_of(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1, // skip the escaped character
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return Some(&line[i + 2..]),
            _ => {}
        }
        i += 1;
    }
    None
}

// ---------------------------------------------------------------------------------------
// Line diff

/// A readable diff of expected and actual lines: `  ` common, `- ` expected only, `+ `
/// actual only, with long common stretches collapsed.
fn line_diff<E: AsRef<str>, A: AsRef<str>>(expected: &[E], actual: &[A]) -> String {
    const CONTEXT: usize = 3;
    let (n, m) = (expected.len(), actual.len());
    let mut ops: Vec<(char, &str)> = Vec::new();
    if n.saturating_mul(m) > 4_000_000 {
        // Too big for the quadratic table: show both sides whole.
        ops.extend(expected.iter().map(|l| ('-', l.as_ref())));
        ops.extend(actual.iter().map(|l| ('+', l.as_ref())));
    } else {
        // lcs[i][j] = length of the longest common subsequence of expected[i..], actual[j..]
        let mut lcs = vec![vec![0u32; m + 1]; n + 1];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i][j] = if expected[i].as_ref() == actual[j].as_ref() {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && expected[i].as_ref() == actual[j].as_ref() {
                ops.push((' ', expected[i].as_ref()));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
                // expected-only lines first, so a changed line reads `- old` then `+ new`
                ops.push(('-', expected[i].as_ref()));
                i += 1;
            } else {
                ops.push(('+', actual[j].as_ref()));
                j += 1;
            }
        }
    }

    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let near_change = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
    let mut out = Vec::new();
    let mut skipped = 0;
    for (k, (tag, line)) in ops.iter().enumerate() {
        if *tag == ' ' && !near_change(k) {
            skipped += 1;
            continue;
        }
        if skipped > 0 {
            out.push(format!("  ... {skipped} matching line(s)"));
            skipped = 0;
        }
        out.push(format!("{tag} {line}").trim_end().to_string());
    }
    if skipped > 0 {
        out.push(format!("  ... {skipped} matching line(s)"));
    }
    if ops.is_empty() {
        out.push("  (both empty)".into());
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------------------
// The harness's own checks, run as `harness/*` trials (a harness = false test binary has no
// `#[test]` runner of its own).

/// Each check returns `Err(description)` when it does not hold.
type Check = Result<(), String>;

fn check_all(checks: Vec<Check>) -> Result<(), Failed> {
    let failures: Vec<String> = checks.into_iter().filter_map(Result::err).collect();
    if failures.is_empty() { Ok(()) } else { Err(failures.join("\n\n").into()) }
}

fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Check {
    if got == want { Ok(()) } else { Err(format!("{what}:\n  got  {got:?}\n  want {want:?}")) }
}

fn expect_parser_checks() -> Vec<Check> {
    let parse = |src: &str| parse_expectations(src);
    let out =
        |lines: &[&str]| Ok(Expectations { stdout: lines.iter().map(|s| s.to_string()).collect(), errors: vec![] });
    vec![
        eq("after code", parse("print(1 + 2);   // expect: 3\n"), out(&["3"])),
        eq("on its own line", parse("main()\n// expect: 30\n// expect: 3\n"), out(&["30", "3"])),
        eq(
            "order across lines",
            parse("a(); // expect: x\nb();\n// expect: y\nc(); // expect: z"),
            out(&["x", "y", "z"]),
        ),
        eq("trailing spaces trimmed", parse("p(); // expect: a b   \t\n"), out(&["a b"])),
        eq("only one leading space removed", parse("// expect:   two\n"), out(&["  two"])),
        eq("no space after the colon", parse("// expect:x\n"), out(&["x"])),
        eq("empty text is an empty line", parse("print(\"\"); // expect:\n"), out(&[""])),
        eq("// inside a string is not a comment", parse("print(\"a // b\"); // expect: a // b\n"), out(&["a // b"])),
        eq(
            "escaped quote inside a string",
            parse("print(\"a\\\"b // c\"); // expect: a\"b // c\n"),
            out(&["a\"b // c"]),
        ),
        eq("escaped backslash ends before the quote", parse("print(\"x\\\\\"); // expect: x\\\n"), out(&["x\\"])),
        eq("string without a comment", parse("print(\"// expect: no\");\n"), out(&[])),
        eq(
            "ordinary comments are ignored",
            parse("// Strings are values.\n// we expect nothing here\nf(); // note: x\n"),
            out(&[]),
        ),
        eq("CRLF line ends", parse("p(); // expect: 1\r\n"), out(&["1"])),
        eq(
            "expect error",
            parse("print(1); // expect: 1\nprint(1 / 0);\n// expect error: division by zero\n"),
            Ok(Expectations { stdout: vec!["1".into()], errors: vec!["division by zero".into()] }),
        ),
        eq(
            "expect error text keeps inner colons",
            parse("// expect error: assertion failed: x\n").map(|e| e.errors),
            Ok(vec!["assertion failed: x".to_string()]),
        ),
        eq("empty expect error is refused", parse("// expect error:\n").is_err(), true),
        eq("misspelt `expected:` is refused", parse("p(); // expected: 3\n").is_err(), true),
        eq("misspelt `expect  error:` is refused", parse("// expect  error: x\n").is_err(), true),
        eq(
            "the error names the line",
            parse("\n\n// expected: 3\n").err().is_some_and(|e| e.starts_with("line 3:")),
            true,
        ),
    ]
}

fn expected_failures_parser_checks() -> Vec<Check> {
    let entry =
        |name: &str, issue: u32, reason: &str| ExpectedFailure { name: name.into(), issue, reason: reason.into() };
    let text = "# comment\n\nworlds/pinning  #4  worlds not built yet\n  tasks/quarantine #5 tasks: not built\n";
    let (entries, problems) = parse_expected_failures(text);
    let bad = |line: &str| parse_expected_failures(line).1.len();
    vec![
        eq(
            "entries",
            entries,
            vec![entry("worlds/pinning", 4, "worlds not built yet"), entry("tasks/quarantine", 5, "tasks: not built")],
        ),
        eq("no problems", problems, Vec::<String>::new()),
        eq("missing issue", bad("worlds/pinning worlds not built\n"), 1),
        eq("issue without #", bad("worlds/pinning 4 reason\n"), 1),
        eq("missing reason", bad("worlds/pinning #4\n"), 1),
        eq("name without folder", bad("pinning #4 reason\n"), 1),
        eq("name with two slashes", bad("a/b/c #4 reason\n"), 1),
        eq(
            "problem names the line",
            parse_expected_failures("# c\nx #1 r\n").1.first().is_some_and(|p| p.starts_with("line 2:")),
            true,
        ),
    ]
}

fn line_diff_checks() -> Vec<Check> {
    vec![
        eq("changed line", line_diff(&["1", "2", "3"], &["1", "4", "3"]), "  1\n- 2\n+ 4\n  3".to_string()),
        eq("missing line", line_diff(&["a", "b"], &["a"]), "  a\n- b".to_string()),
        eq("extra line", line_diff::<&str, &str>(&[], &["x"]), "+ x".to_string()),
        eq("both empty", line_diff::<&str, &str>(&[], &[]), "  (both empty)".to_string()),
        eq(
            "long common stretches collapse",
            line_diff(
                &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
                &["0", "1", "2", "3", "4", "5", "6", "7", "8", "X"],
            ),
            "  ... 6 matching line(s)\n  6\n  7\n  8\n- 9\n+ X".to_string(),
        ),
        eq("summary_line shortens", summary_line(&format!("{}\nmore", "x".repeat(150))).len(), 103),
        eq("excerpt of nothing", excerpt(""), "(empty)".to_string()),
    ]
}
