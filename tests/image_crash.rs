//! Crash test for images (SPEC section 10): four busy service loops commit related
//! global writes while `strata run IMAGE` is SIGKILLed 50 times at deterministic-random
//! moments; after every kill the image must hold a consistent state (no torn step), every
//! step the process acknowledged (observably) must still be there, and nothing may be
//! replayed twice. A final round stops the process gracefully (SIGTERM) and checks that
//! `--eval` reads a running image without its lock while a second writer is refused.
//! A second test checks that `:save` from another session cannot replace an image that
//! is being run (a regression test: see its note).
//!
//! What each step of task `i` does, all in one transaction:
//! * reads `count_i` (= c) and prints `"i c"` — that line is written (and flushed) before
//!   the step commits, and the task only starts a step once its previous step is durable,
//!   so seeing `"i c"` proves that a state with `count_i == c` was acknowledged;
//! * `bad_i += 1` if its own loop state `k` differs from `count_i` (the task state and the
//!   globals are committed together, so this must never happen);
//! * `count_i = c + 1`, `log_i` keeps the last 8 counts (`log_i == [max(1, c-7) ..= c]`),
//!   `seen[i] = c + 1` and `total += 1` (the last two are shared: concurrent steps conflict
//!   and are retried automatically).
//!
//! Invariants checked from outside with `strata repl IMAGE --eval` after each kill:
//! `bad_i == 0`, `log_i` as above, `seen == {i: count_i}`, `total == Σ count_i`, `count_i`
//! never decreases between rounds, `count_i >= the last c printed by task i` (no
//! acknowledged step lost), `count_i <= that c + 1` (no step applied twice), and the first
//! step of each task after a restart starts from exactly the count read after the kill.

mod common;

use common::{Background, Out, PROCESS_TIMEOUT, Rng, STRATA, Scratch, wait_bounded};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TASKS: usize = 4;
const ROUNDS: usize = 50;
/// Kill each `strata run` after a delay in this range (milliseconds).
const KILL_AFTER_MS: (u64, u64) = (50, 400);

/// Runs `strata args` to completion (bounded by `PROCESS_TIMEOUT`), output to files in
/// `dir` (never pipes, so nothing can block on a full pipe).
fn strata(dir: &Path, args: &[&str]) -> Out {
    Background::start(Command::new(STRATA).args(args), dir, "cmd")
        .unwrap_or_else(|e| panic!("cannot start {STRATA}: {e}"))
        .finish(PROCESS_TIMEOUT)
        .unwrap_or_else(|| panic!("strata {} did not finish within {PROCESS_TIMEOUT:?}", args.join(" ")))
}

/// Starts `strata run IMAGE` in the background, its output going to files named after
/// `tag` in `dir` (killed when dropped: never leave a writer behind).
fn start_run(dir: &Path, image: &Path, tag: &str) -> Background {
    Background::start(Command::new(STRATA).arg("run").arg(image), dir, tag)
        .unwrap_or_else(|e| panic!("cannot start {STRATA} run: {e}"))
}

/// The transcript that creates the image: shared globals, then per task its globals and
/// step function (one transaction each), then the four loops.
fn init_transcript() -> String {
    let mut t = String::new();
    t.push_str("> var total: int = 0;\n. var seen: {int: int} = {};\nworld 2: total v1, seen v1\n");
    for i in 0..TASKS {
        t.push_str(&format!(
            "> var count_{i}: int = 0;
. var log_{i}: [int] = [];
. var bad_{i}: int = 0;
. fn step_{i}(k: int) -> int {{
.     let c = count_{i};
.     print(\"{i} \" + str(c));
.     if k != c {{ bad_{i} += 1; }}
.     count_{i} = c + 1;
.     var l = log_{i};
.     if len(l) >= 8 {{ l = slice(l, 1, len(l)); }}
.     log_{i} = push(l, c + 1);
.     seen = insert(seen, {i}, c + 1);
.     total += 1;
.     k + 1
. }}
world {w}: count_{i} v1, log_{i} v1, bad_{i} v1, step_{i} v1
",
            w = i + 3
        ));
    }
    for i in 0..TASKS {
        t.push_str(&format!("> spawn loop step_{i}(0);\n"));
    }
    // Let the loops take some steps in this session too; the script's end shuts them
    // down gracefully, saved as running.
    t.push_str("> sleep(100);\n");
    t
}

/// The image's state as read by one `--eval`.
#[derive(Debug, Clone, PartialEq)]
struct State {
    count: [i64; TASKS],
    total: i64,
    bad: [i64; TASKS],
    logs: [Vec<i64>; TASKS],
    seen: String,
}

fn eval_expr() -> String {
    let ints: Vec<String> = (0..TASKS)
        .map(|i| format!("count_{i}"))
        .chain(["total".to_string()])
        .chain((0..TASKS).map(|i| format!("bad_{i}")))
        .collect();
    let mut e = format!("str([{}])", ints.join(", "));
    for i in 0..TASKS {
        e.push_str(&format!(" + \"|\" + str(log_{i})"));
    }
    e.push_str(" + \"|\" + str(seen)");
    e
}

fn parse_ints(s: &str) -> Option<Vec<i64>> {
    let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    inner.split(',').map(|x| x.trim().parse().ok()).collect()
}

fn read_state(dir: &Path, image: &Path, when: &str) -> State {
    let img = image.to_str().expect("utf-8 path");
    let out = strata(dir, &["repl", img, "--eval", &eval_expr()]);
    assert!(
        out.status.success() && !out.stderr.contains("panicked"),
        "{when}: `strata repl IMAGE --eval` failed on an image left by kill -9 (it must open to the last acknowledged state): {}",
        out.describe()
    );
    let text = out.stdout.trim_end_matches('\n');
    let parts: Vec<&str> = text.split('|').collect();
    let bad_output = || format!("{when}: cannot parse the --eval output {text:?}");
    assert_eq!(parts.len(), 2 + TASKS, "{}", bad_output());
    let ints = parse_ints(parts[0]).unwrap_or_else(|| panic!("{}", bad_output()));
    assert_eq!(ints.len(), 1 + 2 * TASKS, "{}", bad_output());
    let logs: [Vec<i64>; TASKS] =
        std::array::from_fn(|i| parse_ints(parts[1 + i]).unwrap_or_else(|| panic!("{}", bad_output())));
    State {
        count: std::array::from_fn(|i| ints[i]),
        total: ints[TASKS],
        bad: std::array::from_fn(|i| ints[TASKS + 1 + i]),
        logs,
        seen: parts[1 + TASKS].to_string(),
    }
}

/// The invariants every committed state satisfies (each step is all-or-nothing).
fn check_invariants(s: &State, when: &str) {
    for i in 0..TASKS {
        let c = s.count[i];
        assert!(c >= 0, "{when}: count_{i} = {c}: {s:?}");
        assert_eq!(
            s.bad[i], 0,
            "{when}: a step of task {i} found its loop state different from count_{i}: the task state and the step's global writes were not restored together (torn step): {s:?}"
        );
        let want: Vec<i64> = ((c - 7).max(1)..=c).collect();
        assert_eq!(s.logs[i], want, "{when}: log_{i} does not match count_{i} = {c} (torn step): {s:?}");
    }
    let sum: i64 = s.count.iter().sum();
    assert_eq!(s.total, sum, "{when}: total != count_0 + .. + count_{} (torn or lost step): {s:?}", TASKS - 1);
    let entries: Vec<String> = (0..TASKS).filter(|&i| s.count[i] > 0).map(|i| format!("{i}: {}", s.count[i])).collect();
    let want_seen = format!("{{{}}}", entries.join(", "));
    assert_eq!(s.seen, want_seen, "{when}: seen does not match the counts (torn step): {s:?}");
}

/// What the tasks printed during one run: per task, the counts their steps started from,
/// in order. Only whole lines count (the process may die in the middle of one).
fn printed(stdout: &str, when: &str) -> [Vec<i64>; TASKS] {
    let mut per: [Vec<i64>; TASKS] = Default::default();
    let whole = match stdout.rfind('\n') {
        Some(end) => &stdout[..end],
        None => "",
    };
    for line in whole.lines() {
        let parsed = line.split_once(' ').and_then(|(i, c)| Some((i.parse::<usize>().ok()?, c.parse::<i64>().ok()?)));
        match parsed {
            Some((i, c)) if i < TASKS => per[i].push(c),
            _ => panic!("{when}: unexpected line on the standard output of strata run: {line:?}"),
        }
    }
    per
}

/// Checks one run's printed steps against the states read before and after it; answers
/// whether any task made progress.
fn check_run(before: &State, after: &State, seen: &[Vec<i64>; TASKS], when: &str) -> bool {
    for (i, steps) in seen.iter().enumerate() {
        let (b, a) = (before.count[i], after.count[i]);
        assert!(a >= b, "{when}: count_{i} went back from {b} to {a}: acknowledged steps were lost");
        let Some(&first) = steps.first() else {
            assert_eq!(a, b, "{when}: count_{i} moved from {b} to {a} although task {i} started no step");
            continue;
        };
        assert_eq!(
            first, b,
            "{when}: after the restart task {i} started from count_{i} = {first}, but the image read before the run says {b}"
        );
        for w in steps.windows(2) {
            assert!(
                w[1] == w[0] || w[1] == w[0] + 1,
                "{when}: task {i} started steps from {} then {}: a step was skipped or went back ({:?})",
                w[0],
                w[1],
                steps
            );
        }
        let last = *steps.last().expect("non-empty");
        assert!(
            a >= last,
            "{when}: task {i} started a step from count_{i} = {last}, so a state with count_{i} = {last} had been acknowledged (made durable), but afterwards the image has count_{i} = {a}: an acknowledged step was lost"
        );
        assert!(
            a <= last + 1,
            "{when}: task {i}'s last step started from count_{i} = {last}, but the image has count_{i} = {a}: a step was applied more than once"
        );
    }
    after.total > before.total
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_step_and_tears_none() {
    let started = Instant::now();
    let scratch = Scratch::new("image-crash");
    let dir = &scratch.0;
    let image = dir.join("svc.simg");
    let img = image.to_str().expect("utf-8 path");
    let script = dir.join("init.repl");
    fs::write(&script, init_transcript()).expect("write the transcript");

    let out = strata(dir, &["repl", img, "--script", script.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "the transcript that builds the image failed: {}", out.describe());
    let mut state = read_state(dir, &image, "after the transcript");
    check_invariants(&state, "after the transcript");
    let initial = state.clone();

    let mut rng = Rng(0x5EED_1A6E_C4A5_0001);
    let mut progressed = 0;
    let mut killed_at = Vec::new();
    for round in 1..=ROUNDS {
        let delay = rng.range(KILL_AFTER_MS.0, KILL_AFTER_MS.1);
        let when = format!("round {round} (kill -9 after {delay} ms)");
        let mut run = start_run(dir, &image, "run");
        std::thread::sleep(Duration::from_millis(delay));
        if let Some(status) = run.child.try_wait().expect("wait") {
            panic!(
                "{when}: strata run exited by itself ({status}) before it was killed\n--- stderr ---\n{}",
                run.stderr()
            );
        }
        run.child.kill().expect("kill -9");
        let status = run.child.wait().expect("wait");
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "{when}: strata run ended with {status}, not by our SIGKILL");
        }
        let stderr = run.stderr();
        assert!(!stderr.contains("panicked"), "{when}: strata run panicked:\n{stderr}");
        let seen = printed(&run.stdout(), &when);
        let after = read_state(dir, &image, &when);
        check_invariants(&after, &when);
        if check_run(&state, &after, &seen, &when) {
            progressed += 1;
        }
        killed_at.push(delay);
        state = after;
    }

    // A graceful stop: while the image runs, `--eval` reads it (no lock) and a second
    // writer is refused; SIGTERM then finishes the current steps, saves and exits 0.
    let before = state.clone();
    let run = start_run(dir, &image, "graceful");
    let deadline = Instant::now() + Duration::from_secs(15);
    while printed(&run.stdout(), "graceful run").iter().any(Vec::is_empty) {
        assert!(Instant::now() < deadline, "graceful run: not every task took a step within 15 s: {}", run.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    let live = read_state(dir, &image, "--eval while strata run holds the image");
    check_invariants(&live, "--eval while strata run holds the image");
    let second = strata(dir, &["run", img]);
    assert_eq!(
        second.status.code(),
        Some(1),
        "a second writer (strata run) on an image that is being run must be refused: {}",
        second.describe()
    );
    assert!(
        second.stderr.contains("error") && second.stderr.contains("another strata process"),
        "the refusal of a second writer must say why: {}",
        second.describe()
    );
    let term = Command::new("kill").args(["-TERM", &run.child.id().to_string()]).status().expect("kill -TERM");
    assert!(term.success(), "kill -TERM failed");
    let mut run = run;
    let status = wait_bounded(&mut run.child, Duration::from_secs(15))
        .unwrap_or_else(|| panic!("strata run did not shut down within 15 s of SIGTERM:\n{}", run.stderr()));
    assert!(status.success(), "strata run must exit 0 after a graceful shutdown, got {status}:\n{}", run.stderr());
    let seen = printed(&run.stdout(), "graceful run");
    let after = read_state(dir, &image, "after SIGTERM");
    check_invariants(&after, "after SIGTERM");
    assert!(check_run(&before, &after, &seen, "graceful run"), "the graceful run made no progress");

    // The loops were saved as running: one more (killed) run resumes all four.
    let mut run = start_run(dir, &image, "resume");
    let deadline = Instant::now() + Duration::from_secs(15);
    while printed(&run.stdout(), "run after SIGTERM").iter().any(Vec::is_empty) {
        if Instant::now() >= deadline {
            panic!("after a graceful shutdown, strata run did not resume every loop within 15 s:\n{}", run.stderr());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    run.child.kill().expect("kill -9");
    run.child.wait().expect("wait");
    let seen = printed(&run.stdout(), "run after SIGTERM");
    let last = read_state(dir, &image, "run after SIGTERM");
    check_invariants(&last, "run after SIGTERM");
    check_run(&after, &last, &seen, "run after SIGTERM");

    for i in 0..TASKS {
        assert!(
            last.count[i] > initial.count[i],
            "task {i} never made progress across {ROUNDS} runs (count_{i} stayed {})",
            initial.count[i]
        );
    }
    assert!(
        progressed >= ROUNDS / 5,
        "only {progressed} of {ROUNDS} killed runs committed any step (kill delays {killed_at:?})"
    );
    eprintln!(
        "image_crash: {ROUNDS} kills, {progressed} rounds with progress, counts {:?} -> {:?} (total {}), image {} bytes, {:.1} s",
        initial.count,
        last.count,
        last.total,
        fs::metadata(&image).map(|m| m.len()).unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
}

/// Regression test for a bug found while writing this file (present at commits a748f12 and
/// 88f029b): `:save PATH` wrote over an image that another strata process held open for
/// writing, ignoring that image's lock (SPEC section 10: a second writer is refused).
/// `write_atomically` renames a new file over the path, so the running process kept
/// appending and fsyncing into the unlinked old file: every step it acknowledged from then
/// on was lost, and it still exited 0.
#[test]
fn save_cannot_replace_an_image_another_process_is_running() {
    let scratch = Scratch::new("image-save-over");
    let dir = &scratch.0;
    let service = dir.join("service.simg");
    let other = dir.join("other.simg");
    let script = dir.join("one.repl");
    let transcript = "> var n: int = 0
world 2: n v1
> fn step(k: int) -> int { let c = n; print(str(c)); n = c + 1; sleep(2); k + 1 }
world 3: step v1
> spawn loop step(0);
";
    fs::write(&script, transcript).expect("write");
    let out = strata(dir, &["repl", service.to_str().unwrap(), "--script", script.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.describe());
    fs::write(&script, "> var x: int = 1\nworld 2: x v1\n").expect("write");
    let out = strata(dir, &["repl", other.to_str().unwrap(), "--script", script.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.describe());

    let mut run = start_run(dir, &service, "service");
    let deadline = Instant::now() + Duration::from_secs(15);
    while run.stdout().lines().count() < 3 {
        assert!(Instant::now() < deadline, "the service took no steps: {}", run.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
    // Another session tries to save its image over the one being run.
    fs::write(&script, format!("> :save {}\n", service.display())).expect("write");
    let save = strata(dir, &["repl", other.to_str().unwrap(), "--script", script.to_str().unwrap(), "--record"]);
    std::thread::sleep(Duration::from_millis(200));
    let term = Command::new("kill").args(["-TERM", &run.child.id().to_string()]).status().expect("kill -TERM");
    assert!(term.success());
    let status = wait_bounded(&mut run.child, Duration::from_secs(15)).expect("strata run stops on SIGTERM");
    assert!(status.success(), "strata run: {status}: {}", run.stderr());
    let acknowledged: i64 =
        run.stdout().lines().filter_map(|l| l.trim().parse().ok()).max().expect("the service printed its counts");
    let out = strata(dir, &["repl", service.to_str().unwrap(), "--eval", "n"]);
    let kept: Option<i64> = out.stdout.trim().parse().ok().filter(|_| out.status.success());
    assert!(
        kept.is_some_and(|n| n >= acknowledged),
        "STRATA BUG: `:save {path}` from another session replaced the image while `strata run {path}` held it: the running process had acknowledged n = {acknowledged}, but afterwards the image {}.\n:save printed: {}",
        match kept {
            Some(n) => format!("has n = {n}"),
            None => format!("no longer has `n` ({})", out.describe()),
        },
        save.stdout.trim(),
        path = service.display(),
    );
    assert!(
        save.stdout.contains("error") && save.stdout.contains("another strata process"),
        "`:save` over an image another process is running must be refused: {}",
        save.describe()
    );
}
