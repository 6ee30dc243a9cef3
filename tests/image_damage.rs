//! Damaged images (SPEC section 10, docs/image-format.md): real image files written by
//! `strata` are truncated, bit-flipped and extended with junk in 200 deterministic-random
//! ways, and `strata export`, `strata repl IMAGE --eval` and a writer (`strata repl IMAGE
//! --script`) are run on each copy. None may die by a signal or panic; a refusal is exit 1
//! with an `error` message; and what loads must be *exactly* a state the intact image had:
//! the image is built one transaction (one record) at a time and every intermediate state
//! is recorded, so the expected outcome of each damage is known precisely —
//!
//! * cut at byte `t` (a torn tail): the state of the last whole record before `t`;
//! * bytes changed inside record `j`: if a valid record follows, the file is corrupt and
//!   must be refused naming the offset; if `j` is the last record, it is a torn tail and
//!   the state before it loads;
//! * damage in the header: refused (not an image / naming the format version).
//!
//! Read-only commands never change the file (not even to cut a torn tail); a writer cuts a
//! torn tail to exactly the last whole record and leaves a refused file untouched. Explicit
//! cases: an empty file, a header-only image, a directory, foreign files, format version 99,
//! a missing file, a read-only file, a zero-filled tail, and the intact image unchanged by
//! all the read-only commands run on it. And one crafted torn append: a record whose string
//! data contains bytes that form a valid record (a regression test: see its note).

mod common;

use common::{Background, PROCESS_TIMEOUT, Rng, STRATA, Scratch};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Instant;

const CASES: usize = 200;
const HEADER: usize = 16;

/// The transcript that writes the image: one input is one transaction is one record.
/// Types (a record and an enum), a type change that migrates stored values, functions
/// redefined, globals holding maps of records, vectors of strings and of vectors of
/// floats, a `let` redefined, and plain writes.
const TRANSCRIPT: &str = r#"
> type Account { id: int, owner: str, balance: int = 0 }
world 2: type Account v1
> enum Tier { Basic, Gold(int) }
world 3: type Tier v1
> var accounts: {int: Account} = {};
. var names: [str] = [];
. var tiers: {str: Tier} = {};
. var hist: [[float]] = [[0.5, -1.0]];
. let rate = 1.5;
world 4: accounts v1, names v1, tiers v1, hist v1, rate v1
> fn open(id: int, owner: str) -> Account { Account { id: id, owner: owner } }
world 5: open v1
> fn add(id: int, owner: str) { accounts[id] = open(id, owner); names = push(names, owner); tiers[owner] = Tier::Basic; }
world 6: add v1
> add(1, "ann");
> add(2, "bob");
> fn deposit(id: int, n: int) { let a = accounts[id]; accounts[id] = Account { balance: a.balance + n, ..a }; hist = push(hist, [float(n) * rate]); }
world 7: deposit v1
> deposit(1, 50);
> fn open(id: int, owner: str) -> Account { Account { id: id, owner: upper(owner), balance: 1 } }
world 8: open v2
> add(3, "cy \"q\"");
> tiers["bob"] = Tier::Gold(3);
> type Account { id: int, owner: str, balance: int = 0, flagged: bool = false }
. fn open(id: int, owner: str) -> Account { Account { id: id, owner: upper(owner), balance: 2 } }
. fn add(id: int, owner: str) { accounts[id] = open(id, owner); names = push(names, owner); tiers[owner] = Tier::Basic; }
. fn deposit(id: int, n: int) { let a = accounts[id]; accounts[id] = Account { balance: a.balance + n, flagged: n > 5, ..a }; hist = push(hist, [float(n) * rate]); }
world 9: type Account v2 (migrated 3 values), open v3, deposit v2
> deposit(3, 7);
> let rate = 2.25
world 10: rate v2
> deposit(2, 4);
> names = pop(names);
"#;

/// Every name the transcript defines (for `:history`).
const NAMES: &[&str] = &["Account", "Tier", "accounts", "names", "tiers", "hist", "rate", "open", "add", "deposit"];

/// What `--eval` prints: the world and every global, so a state is recognised exactly.
const EVAL: &str = r#"str(world_age()) + "|" + str(accounts) + "|" + str(names) + "|" + str(tiers) + "|" + str(rate) + "|" + str(hist)"#;

/// A finished `strata` invocation, with its command line: this test runs hundreds of them,
/// so a message says which one (hence not `common::Out`).
#[derive(Clone)]
struct Out {
    cmd: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Out {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn describe(&self) -> String {
        format!("`{}`: {}\n--- stdout ---\n{}--- stderr ---\n{}", self.cmd, self.status, self.stdout, self.stderr)
    }

    /// What every invocation must satisfy, damaged input or not: it ends by itself with
    /// exit 0 or 1 (never a signal, never the panic exit 101), prints no Rust panic, and
    /// a refusal (exit 1) comes with an error message.
    fn sane(&self) -> Result<(), String> {
        if let Some(sig) = self.status.signal() {
            return Err(format!("killed by signal {sig}: {}", self.describe()));
        }
        if !matches!(self.code(), Some(0 | 1)) {
            return Err(format!("exit code {:?}, want 0 or 1: {}", self.code(), self.describe()));
        }
        if self.stderr.contains("panicked") || self.stdout.contains("panicked") {
            return Err(format!("a Rust panic: {}", self.describe()));
        }
        if self.code() == Some(1) && !self.stderr.trim_start().starts_with("error") {
            return Err(format!("exit 1 without an `error` message on stderr: {}", self.describe()));
        }
        Ok(())
    }
}

/// Runs `strata args` in `dir` (bounded by `PROCESS_TIMEOUT`), output to files there.
fn strata(dir: &Path, args: &[&str]) -> Out {
    let cmd = format!("strata {}", args.join(" "));
    let run = Background::start(Command::new(STRATA).args(args).current_dir(dir), dir, "cmd")
        .unwrap_or_else(|e| panic!("cannot start {STRATA}: {e}"));
    let Some(common::Out { status, stdout, stderr }) = run.finish(PROCESS_TIMEOUT) else {
        panic!("`{cmd}` did not finish within {PROCESS_TIMEOUT:?} (a hang on a damaged image?)");
    };
    Out { cmd, status, stdout, stderr }
}

/// The inputs of a transcript, each with its expected output lines.
fn inputs(transcript: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for line in transcript.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with("> ") {
            v.push(String::new());
        }
        let cur = v.last_mut().expect("the transcript starts with an input");
        cur.push_str(line);
        cur.push('\n');
    }
    v
}

/// One state of the image: what `export` and `--eval` print for it.
#[derive(Debug, Clone, PartialEq)]
struct Snap {
    export: String,
    eval_code: Option<i32>,
    eval_stdout: String,
    world: u64,
}

/// The intact image and every state it went through.
struct Fixture {
    dir: PathBuf,
    image: PathBuf,
    bytes: Vec<u8>,
    /// `ends[k]`: the file's length after `k` records (`ends[0]` is the header).
    ends: Vec<usize>,
    /// `snaps[k]`: the state with the first `k` records.
    snaps: Vec<Snap>,
    /// Every version of every definition, as `:history` prints it (normalised).
    history: BTreeMap<String, Vec<String>>,
}

/// `export` output with the file's name taken out of its first line.
fn normalise_export(stdout: &str, file: &Path) -> String {
    stdout.replace(&file.display().to_string(), "IMAGE")
}

fn world_of(export: &str) -> Option<u64> {
    let rest = export.split("(world ").nth(1)?;
    rest.split(')').next()?.parse().ok()
}

fn snapshot(dir: &Path, file: &Path) -> Result<Snap, String> {
    let f = file.to_str().expect("utf-8 path");
    let export = strata(dir, &["export", f]);
    export.sane()?;
    if export.code() != Some(0) {
        return Err(format!("export refused the image: {}", export.describe()));
    }
    let eval = strata(dir, &["repl", f, "--eval", EVAL]);
    eval.sane()?;
    let text = normalise_export(&export.stdout, file);
    let world = world_of(&text).ok_or_else(|| format!("export names no world: {}", export.describe()))?;
    Ok(Snap { export: text, eval_code: eval.code(), eval_stdout: eval.stdout, world })
}

/// The frame ends of an intact image, read by this test's own parser of the documented
/// framing (`[len u32 LE][crc u32 LE][payload]`).
fn frame_ends(bytes: &[u8]) -> Vec<usize> {
    assert!(bytes.len() >= HEADER && &bytes[..8] == b"STRATAIM", "the intact image has no header");
    assert_eq!(&bytes[8..12], &1u32.to_le_bytes(), "the intact image is not format version 1");
    let mut ends = vec![HEADER];
    let mut at = HEADER;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        at += 8 + len;
        assert!(at <= bytes.len(), "the intact image ends in the middle of a frame");
        ends.push(at);
    }
    ends
}

/// A definition as `export` and `:history` print it, for comparing the two.
fn normalise_def(def: &str) -> String {
    def.trim().trim_end_matches(';').trim_end().to_string()
}

/// The definitions of an `export` (blocks separated by blank lines, after the comment).
fn export_defs(export: &str) -> Vec<String> {
    export.split("\n\n").map(str::trim).filter(|b| !b.is_empty() && !b.starts_with("//")).map(normalise_def).collect()
}

/// `:history NAME` for every name, from a `--record` run on a copy of the image.
fn history(dir: &Path, image: &Path) -> BTreeMap<String, Vec<String>> {
    let copy = dir.join("history.simg");
    fs::copy(image, &copy).expect("copy the image");
    let script = dir.join("history.repl");
    let text: String = NAMES.iter().map(|n| format!("> :history {n}\n")).collect();
    fs::write(&script, text).expect("write the script");
    let out = strata(dir, &["repl", copy.to_str().unwrap(), "--script", script.to_str().unwrap(), "--record"]);
    out.sane().unwrap_or_else(|e| panic!(":history: {e}"));
    assert_eq!(out.code(), Some(0), ":history failed: {}", out.describe());
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name = String::new();
    let mut cur: Option<String> = None;
    let flush = |map: &mut BTreeMap<String, Vec<String>>, name: &str, cur: &mut Option<String>| {
        if let Some(src) = cur.take() {
            map.entry(name.to_string()).or_default().push(normalise_def(&src));
        }
    };
    for line in out.stdout.lines() {
        if let Some(n) = line.strip_prefix("> :history ") {
            flush(&mut map, &name, &mut cur);
            name = n.trim().to_string();
        } else if line.starts_with('v') && line.contains(": entered world") {
            flush(&mut map, &name, &mut cur);
            cur = Some(String::new());
        } else if let Some(src) = cur.as_mut() {
            src.push_str(line);
            src.push('\n');
        }
    }
    flush(&mut map, &name, &mut cur);
    for n in NAMES {
        assert!(map.get(*n).is_some_and(|v| !v.is_empty()), ":history {n} shows no version:\n{}", out.stdout);
    }
    map
}

/// Builds the image one input at a time, recording each state.
fn build(name: &str) -> (Scratch, Fixture) {
    let scratch = Scratch::new(name);
    let dir = scratch.0.clone();
    let image = dir.join("app.simg");
    let img = image.to_str().expect("utf-8 path").to_string();
    let script = dir.join("one.repl");
    let mut sizes = vec![HEADER];
    let mut snaps = Vec::new();
    let mut stages: Vec<Vec<u8>> = Vec::new();
    for (i, input) in inputs(TRANSCRIPT).iter().enumerate() {
        fs::write(&script, input).expect("write the transcript");
        let out = strata(&dir, &["repl", &img, "--script", script.to_str().unwrap()]);
        assert_eq!(out.code(), Some(0), "input {} of the transcript failed: {}", i + 1, out.describe());
        let bytes = fs::read(&image).expect("read the image");
        sizes.push(bytes.len());
        stages.push(bytes);
        snaps.push(snapshot(&dir, &image).unwrap_or_else(|e| panic!("after input {}: {e}", i + 1)));
    }
    let bytes = fs::read(&image).expect("read the image");
    let ends = frame_ends(&bytes);
    assert_eq!(
        ends, sizes,
        "each input of the transcript should append exactly one record (the test's model of prefixes relies on it)"
    );
    for (k, stage) in stages.iter().enumerate() {
        assert_eq!(stage[..], bytes[..stage.len()], "the image after input {} is not a prefix of the final one", k + 1);
    }
    // The state with no records: the header alone (what creating an image writes first).
    let empty = dir.join("header-only.simg");
    fs::write(&empty, &bytes[..HEADER]).expect("write");
    let snap0 = snapshot(&dir, &empty).unwrap_or_else(|e| panic!("header-only image: {e}"));
    snaps.insert(0, snap0);
    let history = history(&dir, &image);
    (scratch, Fixture { dir, image, bytes, ends, snaps, history })
}

impl Fixture {
    fn records(&self) -> usize {
        self.ends.len() - 1
    }

    /// The record holding byte `at` (`at >= HEADER`).
    fn frame_of(&self, at: usize) -> usize {
        self.ends.windows(2).position(|w| w[0] <= at && at < w[1]).unwrap_or(self.records())
    }

    /// The state a file cut at `t >= HEADER` holds: every whole record before `t`.
    fn state_at_cut(&self, t: usize) -> usize {
        self.ends.iter().rposition(|&e| e <= t).expect("t >= HEADER")
    }

    fn describe_offset(&self, at: usize) -> String {
        if at < HEADER {
            let field = match at {
                0..8 => "magic",
                8..12 => "format version",
                _ => "reserved",
            };
            return format!("byte {at} (header, {field})");
        }
        let j = self.frame_of(at);
        let within = at - self.ends[j];
        let part = match within {
            0..4 => "length field",
            4..8 => "checksum field",
            _ => "payload",
        };
        format!("byte {at} (record {j} of 0..{}, {part}, {within} bytes into it)", self.records() - 1)
    }
}

/// What a damaged file must open to.
#[derive(Debug, Clone)]
enum Expect {
    /// Exactly the state with the first `k` records.
    State(usize),
    /// Refused, the message containing each of these.
    Refused(Vec<String>, Option<(usize, usize)>),
    /// Either (the damage is ambiguous: the reserved header field, or two records hit).
    StateOrRefused(usize),
}

struct Case {
    what: String,
    bytes: Vec<u8>,
    expect: Expect,
}

fn flip_case(fx: &Fixture, at: usize, masks: &[u8], what: &str) -> Case {
    let mut bytes = fx.bytes.clone();
    let end = (at + masks.len()).min(bytes.len());
    for (b, m) in bytes[at..end].iter_mut().zip(masks) {
        *b ^= m;
    }
    let masks_text: Vec<String> = masks[..end - at].iter().map(|m| format!("{m:#04x}")).collect();
    changed_case(fx, bytes, format!("{what}: XOR bytes {at}..{end} with [{}]", masks_text.join(", ")))
}

/// A copy of the intact image with the same length and some bytes changed.
fn changed_case(fx: &Fixture, bytes: Vec<u8>, what: String) -> Case {
    assert_eq!(bytes.len(), fx.bytes.len());
    let changed: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] != fx.bytes[i]).collect();
    let (Some(&lo), Some(&hi)) = (changed.first(), changed.last()) else {
        return Case { what: format!("{what} (changes nothing)"), bytes, expect: Expect::State(fx.records()) };
    };
    let what = format!("{what}; first changed {}", fx.describe_offset(lo));
    let expect = if lo < 8 {
        Expect::Refused(vec!["not a Strata image".into()], None)
    } else if lo < 12 {
        let v = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        Expect::Refused(vec!["version".into(), v.to_string()], None)
    } else if hi < HEADER {
        // Only the reserved field: the reader may ignore it or refuse the file.
        Expect::StateOrRefused(fx.records())
    } else if lo < HEADER {
        // The reserved field and the first record: refused for either reason, or (if
        // the reserved field is ignored) judged by the record damage alone.
        match records_damaged(fx, HEADER, hi) {
            Expect::Refused(..) => Expect::Refused(vec![], None),
            Expect::State(k) | Expect::StateOrRefused(k) => Expect::StateOrRefused(k),
        }
    } else {
        records_damaged(fx, lo, hi)
    };
    Case { what, bytes, expect }
}

/// What damage to the bytes `lo..=hi` (all past the header) must lead to.
fn records_damaged(fx: &Fixture, lo: usize, hi: usize) -> Expect {
    let n = fx.records();
    let (j1, j2) = (fx.frame_of(lo), fx.frame_of(hi));
    if j2 + 1 < n {
        // Whole valid records follow the damaged one: corruption, never a torn tail.
        Expect::Refused(vec!["corrupt at byte".into()], Some((fx.ends[j1], lo)))
    } else if j1 == j2 {
        // Only the last record is damaged: a torn tail, cut off.
        Expect::State(j1)
    } else {
        // The damage runs into the last record: nothing valid follows the first bad one.
        Expect::StateOrRefused(j1)
    }
}

fn cut_case(fx: &Fixture, t: usize, what: &str) -> Case {
    let bytes = fx.bytes[..t].to_vec();
    let expect = if t < HEADER {
        Expect::Refused(vec!["not a Strata image".into()], None)
    } else {
        Expect::State(fx.state_at_cut(t))
    };
    let place =
        if t < HEADER || t == fx.bytes.len() { String::new() } else { format!(", in {}", fx.describe_offset(t)) };
    Case { what: format!("{what}: truncate to {t} of {} bytes{place}", fx.bytes.len()), bytes, expect }
}

fn random_case(fx: &Fixture, rng: &mut Rng) -> Case {
    let len = fx.bytes.len();
    let n = fx.records();
    match rng.below(100) {
        0..30 => cut_case(fx, rng.below(len), "cut"),
        30..40 => {
            let k = rng.below(n + 1);
            let delta = [-1i64, 0, 1, 4, 7, 8, 9][rng.below(7)];
            let t = (fx.ends[k] as i64 + delta).clamp(0, len as i64 - 1) as usize;
            cut_case(fx, t, "cut near a record boundary")
        }
        40..65 => {
            let masks: Vec<u8> = (0..1 + rng.below(4)).map(|_| rng.nonzero_byte()).collect();
            flip_case(fx, rng.below(len), &masks, "flip bytes")
        }
        65..80 => {
            let j = rng.below(n);
            let masks: Vec<u8> = (0..1 + rng.below(2)).map(|_| rng.nonzero_byte()).collect();
            flip_case(fx, fx.ends[j] + rng.below(8), &masks, "flip a record's length or checksum")
        }
        80..85 => flip_case(fx, rng.below(HEADER), &[rng.nonzero_byte()], "flip a header byte"),
        85..90 => flip_case(fx, rng.below(len), &[1u8 << rng.below(8)], "flip one bit"),
        90..94 => {
            // A block read back as zeros: from a random offset, up to 600 bytes (past the
            // end: the last append never reached the disk but the file grew).
            let at = HEADER + rng.below(len - HEADER);
            let end = (at + 1 + rng.below(600)).min(len);
            let mut bytes = fx.bytes.clone();
            bytes[at..end].fill(0);
            changed_case(fx, bytes, format!("zero bytes {at}..{end}"))
        }
        _ => {
            // A torn append followed by junk (what a crash mid-append on a dirty page leaves).
            let t = HEADER + rng.below(len - HEADER + 1);
            let junk: Vec<u8> = (0..1 + rng.below(40)).map(|_| rng.next() as u8).collect();
            let mut bytes = fx.bytes[..t].to_vec();
            bytes.extend_from_slice(&junk);
            Case {
                what: format!("truncate to {t} bytes, then append {} random bytes {junk:02x?}", junk.len()),
                bytes,
                expect: Expect::State(fx.state_at_cut(t)),
            }
        }
    }
}

/// Runs the read-only commands and a writer on `case`; answers every broken rule.
fn check_case(fx: &Fixture, case: &Case, file: &Path) -> Vec<(String, String)> {
    let mut bad: Vec<(String, String)> = Vec::new();
    macro_rules! fail {
        ($rule:expr, $detail:expr $(,)?) => {
            bad.push(($rule.to_string(), $detail))
        };
    }
    fs::write(file, &case.bytes).expect("write the damaged copy");
    let f = file.to_str().expect("utf-8 path");
    let dir = &fx.dir;

    let export = strata(dir, &["export", f]);
    let eval = strata(dir, &["repl", f, "--eval", EVAL]);
    for out in [&export, &eval] {
        if let Err(e) = out.sane() {
            fail!("process died, panicked or refused without a message", e);
        }
    }
    if fs::read(file).ok().as_deref() != Some(&case.bytes[..]) {
        fail!("a read-only command changed the file", "export/--eval wrote to the damaged copy".into());
    }

    // What loaded: refused, or one of the image's states — the export picks the program,
    // --eval (same reader) the values; several states share a program.
    let loaded = match export.code() {
        Some(0) => {
            let text = normalise_export(&export.stdout, file);
            let same_program: Vec<usize> = (0..fx.snaps.len()).filter(|&k| fx.snaps[k].export == text).collect();
            if same_program.is_empty() {
                let defs = export_defs(&export.stdout);
                let known: BTreeSet<&String> = fx.history.values().flatten().collect();
                let foreign: Vec<&String> = defs.iter().filter(|d| !known.contains(d)).collect();
                fail!(
                    "export printed a program the intact image never had",
                    format!("definitions no version of which the image had: {foreign:?}\n{}", export.describe()),
                );
                return bad;
            }
            let matching = same_program
                .iter()
                .copied()
                .find(|&k| eval.code() == fx.snaps[k].eval_code && eval.stdout == fx.snaps[k].eval_stdout);
            match matching {
                Some(k) => Some(k),
                None => {
                    fail!(
                        "--eval printed values the image never had with the program export printed",
                        format!(
                            "export printed world {}; --eval printed {:?} (exit {:?}); the states with that program print {:?}",
                            fx.snaps[same_program[0]].world,
                            eval.stdout,
                            eval.code(),
                            same_program.iter().map(|&k| &fx.snaps[k].eval_stdout).collect::<Vec<_>>()
                        ),
                    );
                    return bad;
                }
            }
        }
        _ => {
            if eval.code() != Some(1) {
                fail!("export refused the file but --eval did not", eval.describe());
            }
            None
        }
    };

    match (&case.expect, loaded) {
        (Expect::State(want), Some(k)) if k != *want => fail!(
            "loaded the wrong state",
            format!(
                "want world {} ({want} records), got world {} ({k} records)",
                fx.snaps[*want].world, fx.snaps[k].world
            ),
        ),
        (Expect::State(want), None) => fail!(
            "refused a file it should open (a torn tail is cut off, not refused)",
            format!("want world {} ({want} records): {}", fx.snaps[*want].world, export.describe()),
        ),
        (Expect::Refused(..), Some(k)) => fail!(
            "opened a corrupt file instead of refusing it",
            format!(
                "loaded world {} ({k} of {} records): the acknowledged records after the damage were silently dropped",
                fx.snaps[k].world,
                fx.records()
            ),
        ),
        (Expect::Refused(phrases, offset), None) => {
            for p in phrases {
                if !export.stderr.contains(p.as_str()) {
                    fail!("the refusal does not say what is wrong", format!("no {p:?} in: {}", export.stderr));
                }
            }
            if let Some((lo, hi)) = offset {
                let named: Option<usize> = export
                    .stderr
                    .split("corrupt at byte ")
                    .nth(1)
                    .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|d| d.parse().ok());
                if !named.is_some_and(|o| *lo <= o && o <= *hi) {
                    fail!(
                        "the refusal names the wrong offset",
                        format!("want the damaged record's offset ({lo}..={hi}), got {named:?}: {}", export.stderr),
                    );
                }
            }
        }
        (Expect::StateOrRefused(want), Some(k)) if k != *want => fail!(
            "loaded the wrong state",
            format!(
                "want world {} ({want} records) or a refusal, got world {}",
                fx.snaps[*want].world, fx.snaps[k].world
            ),
        ),
        _ => {}
    }

    // A writer: opens the same state, cuts a torn tail to exactly the last whole record,
    // and leaves a refused file as it was.
    let script = fx.dir.join("writer.repl");
    fs::write(&script, "> world_age()\n").expect("write the script");
    let writer = strata(dir, &["repl", f, "--script", script.to_str().unwrap(), "--record"]);
    if let Err(e) = writer.sane() {
        fail!("process died, panicked or refused without a message", e);
    }
    let after = fs::read(file).unwrap_or_default();
    match (loaded, writer.code()) {
        (Some(k), Some(0)) => {
            let want = format!("> world_age()\n{}\n", fx.snaps[k].world);
            if writer.stdout != want {
                fail!("a writer opened another state than export", writer.describe());
            }
            if after[..] != case.bytes[..fx.ends[k].min(case.bytes.len())] {
                fail!(
                    "a writer did not cut the file to its last whole record",
                    format!("{} bytes after opening, want {} (the first {k} records)", after.len(), fx.ends[k]),
                );
            }
        }
        (None, Some(1)) => {
            if after != case.bytes {
                fail!("a writer changed a file it refused", format!("{} bytes, was {}", after.len(), case.bytes.len()));
            }
        }
        _ => fail!("a writer and export disagree", format!("export loaded {loaded:?}; {}", writer.describe())),
    }
    if matches!(case.expect, Expect::Refused(..)) && loaded.is_some() && after.len() < case.bytes.len() {
        fail!(
            "a writer destroyed acknowledged records of a corrupt image",
            format!(
                "opening it for writing truncated the file from {} to {} bytes, deleting valid records",
                case.bytes.len(),
                after.len()
            ),
        );
    }
    bad
}

#[test]
fn damaged_images_open_to_an_exact_earlier_state_or_are_refused() {
    let started = Instant::now();
    let (_scratch, fx) = build("image-damage");

    // The fixture itself: export prints each definition's newest version, and every state
    // prints only versions that `:history` knows.
    let newest: BTreeSet<String> = fx.history.values().map(|v| v.last().expect("a version").clone()).collect();
    let last = fx.snaps.last().expect("states");
    let defs: BTreeSet<String> = export_defs(&last.export).into_iter().collect();
    assert_eq!(defs, newest, "export of the intact image is not the newest version of every definition");
    let known: BTreeSet<&String> = fx.history.values().flatten().collect();
    for (k, s) in fx.snaps.iter().enumerate() {
        for d in export_defs(&s.export) {
            assert!(known.contains(&d), "state {k}: export prints {d:?}, which no version in :history has");
        }
    }
    assert_eq!(last.world, 10);
    assert_eq!(last.eval_code, Some(0), "--eval on the intact image: {:?}", last.eval_stdout);

    let intact = fs::read(&fx.image).expect("read");
    let mut rng = Rng(0xDA4A_6ED1_0A6E_5EED);
    let file = fx.dir.join("damaged.simg");
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..CASES {
        let case = random_case(&fx, &mut rng);
        let kind = match case.expect {
            Expect::State(_) => "expected to open",
            Expect::Refused(..) => "expected to be refused",
            Expect::StateOrRefused(_) => "either",
        };
        *outcomes.entry(kind).or_default() += 1;
        for (rule, detail) in check_case(&fx, &case, &file) {
            failures.entry(rule).or_default().push(format!("case {i}: {}\n    {detail}", case.what));
        }
    }
    assert_eq!(fs::read(&fx.image).expect("read"), intact, "the intact image changed");
    eprintln!(
        "image_damage: {CASES} damaged copies of a {}-byte image with {} records ({outcomes:?}), {:.1} s",
        fx.bytes.len(),
        fx.records(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        let mut report = String::new();
        for (rule, cases) in &failures {
            report.push_str(&format!("\n== {rule}: {} case(s); the first:\n", cases.len()));
            for c in cases.iter().take(3) {
                report.push_str(&format!("  {c}\n"));
            }
        }
        panic!(
            "damaged images broke {} rule(s) (reproduce: build the image with the transcript in this file, one input per `strata repl IMAGE --script` run, then apply the damage):{report}",
            failures.len()
        );
    }
}

/// Read-only commands on `file`: both must refuse with an error containing `phrase`.
fn assert_refused(dir: &Path, file: &Path, phrase: &str, what: &str) {
    let f = file.to_str().expect("utf-8 path");
    for args in [vec!["export", f], vec!["repl", f, "--eval", "world_age()"]] {
        let out = strata(dir, &args);
        out.sane().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(out.code(), Some(1), "{what}: must be refused: {}", out.describe());
        assert!(out.stderr.contains(phrase), "{what}: the error must say {phrase:?}: {}", out.describe());
    }
}

#[test]
fn explicit_damage_cases() {
    let (_scratch, fx) = build("image-damage-explicit");
    let dir = &fx.dir;
    let intact = fs::read(&fx.image).expect("read");
    let mtime = fs::metadata(&fx.image).and_then(|m| m.modified()).expect("mtime");
    let last = fx.snaps.last().expect("states").clone();

    // A zero-length file is not an image (read-only commands do not make it one).
    let empty = dir.join("empty.simg");
    File::create(&empty).expect("create");
    assert_refused(dir, &empty, "not a Strata image", "a zero-length file");
    assert_eq!(fs::metadata(&empty).expect("stat").len(), 0, "a read-only command wrote into a zero-length file");

    // A header and nothing else: an image with no transactions (world 1).
    let header = dir.join("header.simg");
    fs::write(&header, &intact[..HEADER]).expect("write");
    let out = strata(dir, &["export", header.to_str().unwrap()]);
    out.sane().unwrap();
    assert_eq!(out.code(), Some(0), "export of a header-only image: {}", out.describe());
    assert!(export_defs(&out.stdout).is_empty(), "a header-only image has no definitions: {}", out.describe());
    let out = strata(dir, &["repl", header.to_str().unwrap(), "--eval", "world_age()"]);
    assert_eq!((out.code(), out.stdout.as_str()), (Some(0), "1\n"), "{}", out.describe());

    // A directory.
    let folder = dir.join("folder.simg");
    fs::create_dir(&folder).expect("mkdir");
    assert_refused(dir, &folder, "directory", "a directory");
    assert_eq!(fs::read_dir(&folder).expect("read_dir").count(), 0, "something was written into the directory");

    // Foreign files, refused by readers and by a writer, and left as they were.
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let foreign: [(&str, &[u8]); 5] = [
        ("picture.png", png),
        ("notes.txt", b"fn main() { print(\"not an image\") }\n"),
        ("magic-only.simg", b"STRATAIM"),
        ("short.simg", &intact[..HEADER - 1]),
        ("zeros.simg", &[0u8; 64]),
    ];
    // A missing image is a typo for `run`, not a new image.
    let missing = dir.join("missing.simg");
    let out = strata(dir, &["run", missing.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1), "strata run on a missing image: {}", out.describe());
    assert!(!missing.exists(), "strata run created {}", missing.display());
    for (name, bytes) in foreign {
        let p = dir.join(name);
        fs::write(&p, bytes).expect("write");
        assert_refused(dir, &p, "not a Strata image", name);
        let out = strata(dir, &["run", p.to_str().unwrap()]);
        out.sane().unwrap_or_else(|e| panic!("strata run {name}: {e}"));
        assert_eq!(out.code(), Some(1), "strata run on {name} must refuse it: {}", out.describe());
        assert_eq!(fs::read(&p).expect("read"), bytes, "strata run changed the foreign file {name}");
    }

    // A newer format version: refused naming it, by readers and a writer, file untouched.
    let v99 = dir.join("v99.simg");
    let mut bytes = intact.clone();
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    fs::write(&v99, &bytes).expect("write");
    assert_refused(dir, &v99, "version 99", "format version 99");
    let out = strata(dir, &["run", v99.to_str().unwrap()]);
    out.sane().unwrap();
    assert_eq!(out.code(), Some(1), "strata run on a version-99 image: {}", out.describe());
    assert!(out.stderr.contains("version 99"), "{}", out.describe());
    assert_eq!(fs::read(&v99).expect("read"), bytes, "strata run changed a version-99 image");

    // A missing file: refused, and not created by a read-only command.
    let missing = dir.join("missing.simg");
    assert_refused(dir, &missing, "missing.simg", "a missing file");
    assert!(!missing.exists(), "a read-only command created the missing image");

    // A read-only file: --eval and export work (they take no write lock).
    let ro = dir.join("readonly.simg");
    fs::write(&ro, &intact).expect("write");
    let mut perms = fs::metadata(&ro).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o444);
    fs::set_permissions(&ro, perms).expect("chmod");
    let snap = snapshot(dir, &ro).unwrap_or_else(|e| panic!("a read-only image: {e}"));
    assert_eq!(snap.eval_code, Some(0), "--eval on a read-only image: {}", snap.eval_stdout);
    assert_eq!(snap.eval_stdout, last.eval_stdout, "--eval on a read-only copy differs from the intact image");
    assert_eq!(snap.export, last.export, "export of a read-only copy differs from the intact image");
    assert_eq!(fs::read(&ro).expect("read"), intact, "the read-only copy changed");

    // The unacknowledged last append read back as zeros (a file system that grew the file
    // but never wrote the block): a torn tail, cut off — the full state loads. (Zeros look
    // like a frame of length 0 with checksum 0, the CRC-32 of an empty payload; strata
    // writes no empty records, docs/image-format.md.)
    let zeros = dir.join("zero-tail.simg");
    let mut bytes = intact.clone();
    bytes.extend_from_slice(&[0u8; 64]);
    fs::write(&zeros, &bytes).expect("write");
    let snap = snapshot(dir, &zeros).unwrap_or_else(|e| panic!("an image with a zero-filled tail: {e}"));
    assert_eq!(snap, last, "an image with a zero-filled tail must open to its full state");
    assert_eq!(fs::read(&zeros).expect("read"), bytes, "a read-only command cut the zero-filled tail");

    // Nothing above, nor building the states, changed the intact image.
    let again = snapshot(dir, &fx.image).expect("the intact image");
    assert_eq!(&again, &last, "export/--eval of the intact image changed between runs");
    assert_eq!(fs::read(&fx.image).expect("read"), intact, "read-only commands changed the intact image");
    assert_eq!(fs::metadata(&fx.image).and_then(|m| m.modified()).expect("mtime"), mtime, "the image was written");
}

/// CRC-32 (IEEE, reflected, as crc32fast computes it), for building frames by hand.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Regression test for a bug found while writing this file (present at commits a748f12 and
/// 88f029b): a torn append was refused as corruption when the torn record's *data*
/// contained bytes that form a valid frame. a748f12's reader scans every offset after a
/// bad frame for any valid, decodable frame ("resynchronising scan", `valid_frame_after` in
/// jit/src/image/frame.rs) and called the image corrupt if it found one; a string value is
/// stored verbatim, so 11 bytes of user data (e.g. a request body a service keeps) were
/// enough. After a crash in the middle of appending such a record, the image — every
/// acknowledged record intact — was refused by every command, `strata run` included,
/// instead of opening to the last acknowledged state (SPEC section 10: a torn tail is cut
/// off).
#[test]
fn a_torn_append_whose_data_looks_like_a_record_is_still_a_torn_tail() {
    let scratch = Scratch::new("image-damage-embedded");
    let dir = &scratch.0;
    let image = dir.join("blob.simg");
    let img = image.to_str().expect("utf-8 path");
    let script = dir.join("one.repl");

    // A whole frame holding `Writes { world: w, writes: [] }` (variant 1: [1, w, 0]), with
    // `w` chosen so that its checksum bytes are plain ASCII that a string literal can hold.
    let frame = (1u8..128)
        .map(|w| {
            let payload = [1u8, w, 0];
            let mut f = (payload.len() as u32).to_le_bytes().to_vec();
            f.extend(crc32(&payload).to_le_bytes());
            f.extend(payload);
            f
        })
        .find(|f| f[4..8].iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'))
        .expect("some world number gives an ASCII checksum");
    let literal: String =
        frame.iter().map(|&b| if b == 0 { "\\0".to_string() } else { (b as char).to_string() }).collect();
    let inputs = [
        "> var blob: str = \"\"\nworld 2: blob v1\n".to_string(),
        format!("> blob = \"{literal}{}\";\n", "-".repeat(40)),
    ];
    let mut ends = vec![];
    for input in &inputs {
        fs::write(&script, input).expect("write");
        let out = strata(dir, &["repl", img, "--script", script.to_str().unwrap()]);
        assert_eq!(out.code(), Some(0), "{}", out.describe());
        ends.push(fs::metadata(&image).expect("stat").len() as usize);
    }
    let intact = fs::read(&image).expect("read");
    let at = intact.windows(frame.len()).position(|w| w == &frame[..]).expect("the string is stored verbatim");
    assert!(at > ends[0], "the embedded bytes are in the last record");
    let out = strata(dir, &["repl", img, "--eval", "len(blob)"]);
    assert_eq!((out.code(), out.stdout.as_str()), (Some(0), "51\n"), "{}", out.describe());

    // A crash in the middle of appending the last record, after the embedded bytes: the
    // last acknowledged state is the one before it (blob == ""). What follows the bad
    // frame is one valid-looking frame and then bytes that are no frame, so it is not a
    // chain of valid records running to the end, as the records after a damaged length
    // field are. (A cut exactly at the end of the embedded bytes is ambiguous — a valid
    // record does then run to the end — so there a refusal is accepted too.)
    let mut problems = Vec::new();
    let embedded_end = at + frame.len();
    for cut in [intact.len() - 1, intact.len() - 5, embedded_end + 3, embedded_end] {
        let torn = dir.join(format!("torn-{cut}.simg"));
        fs::write(&torn, &intact[..cut]).expect("write");
        let t = torn.to_str().unwrap();
        let eval = strata(dir, &["repl", t, "--eval", "len(blob)"]);
        eval.sane().unwrap_or_else(|e| panic!("{e}"));
        let opened_before = eval.code() == Some(0) && eval.stdout == "0\n";
        let ambiguous_refusal = cut == embedded_end && eval.code() == Some(1);
        if !opened_before && !ambiguous_refusal {
            problems.push(format!(
                "cut at {cut} of {} bytes (inside the last record, {} bytes after the bytes that look like a record): --eval must print 0 (the state before the torn append): {}",
                intact.len(),
                cut - embedded_end,
                eval.describe()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "STRATA BUG: a torn append whose string data contains bytes forming a valid record is refused as corruption:\n{}",
        problems.join("\n")
    );
}
