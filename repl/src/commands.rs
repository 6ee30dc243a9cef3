//! The REPL's `:` commands, shared by the interactive REPL and transcripts.
//! Each returns the text to show; transactions they commit (`:revert`,
//! `:forget`, `:load`) show their acknowledgement like any input.

use crate::session::{Failure, InputOutcome, Session, TaskAction, render_runtime_error};
use jit::tasks::OverlayView;
use std::time::{Duration, Instant};

/// Every command with its one-line description (also used for completion).
pub const COMMANDS: &[(&str, &str)] = &[
    (":help", "this list"),
    (":quit", "leave the REPL (Ctrl-D does too)"),
    (":world", "the newest world's age"),
    (":worlds", "the last 20 worlds and what each changed"),
    (":which", "NAME — the version of NAME in the newest world, in each running task and in each live closure"),
    (":tasks", "every task: id, function, kind, status, world, steps, last error"),
    (":closures", "every closure alive in a running activation: creator, task, world, what it calls"),
    (":type", "NAME — the versions of type NAME, the world each entered, and live values of each"),
    (":migrate", "TYPE — rewrite every value to TYPE's newest version and drop the old versions' storage"),
    (":stop", "ID — ask task ID to stop (a loop stops at its next step boundary)"),
    (":kill", "ID — interrupt task ID's running evaluation (rolled back) and end it"),
    (":resume", "ID — run paused task ID's step again in the newest world"),
    (":history", "NAME — every version of NAME, oldest first, with its source"),
    (":source", "NAME [vN] — the source of NAME's current version (or of vN)"),
    (":revert", "NAME [vN] — commit the previous version's text (or vN's) as a new version"),
    (":forget", "NAME — remove NAME from the newest world"),
    (":load", "FILE — run a file as one input"),
    (":try", "NAME INPUT — run INPUT's expressions under experiment NAME's overlay"),
    (":experiments", "every experiment: version, traffic share, what it replaces, requests served and failed"),
    (":requests", "the requests `strata serve` is serving: id, method, path, world, scope, ms"),
    (":save", "[IMAGE] — write a compacted copy of the bound image (to IMAGE, or over itself), atomically"),
    (":time", "EXPR — run EXPR and show how long it took"),
    (":timeout", "MS — bound each later evaluation to MS milliseconds (0: no bound)"),
    (":clif", "NAME — the Cranelift IR of function NAME"),
];

/// Lines for an input's result: its acknowledgement, its echoed value, or
/// its error.
pub fn show(result: Result<InputOutcome, (Option<String>, Failure)>) -> String {
    let lines: Vec<String> = match result {
        Ok(o) => o.ack.into_iter().chain(o.echo).collect(),
        Err((ack, f)) => ack.into_iter().chain([f.to_string()]).collect(),
    };
    lines.join("\n")
}

/// Runs one `:` command.
pub fn run(session: &Session, input: &str) -> String {
    let (name, rest) = input.split_once(char::is_whitespace).unwrap_or((input, ""));
    let rest = rest.trim();
    let mut words = rest.split_whitespace();
    let arg = words.next();
    let version_word = words.next();
    let version = version_word.and_then(|v| v.strip_prefix('v')).and_then(|v| v.parse::<u32>().ok());
    if let (":source" | ":revert", Some(w), None) = (name, version_word, version) {
        return format!("error: invalid argument: `{w}` is not a version; write vN, e.g. v2");
    }
    if let (":type" | ":history" | ":source", Some(n)) = (name, arg)
        && let Some(text) = standard_library(n)
    {
        return text;
    }
    match (name, arg) {
        (":world", _) => format!("world {}", session.world_age()),
        (":worlds", _) => {
            let worlds = session.recent_worlds(20);
            if worlds.is_empty() {
                return "world 1: the standard library (nothing defined yet)".into();
            }
            worlds.iter().map(|(age, what)| format!("world {age}: {what}")).collect::<Vec<_>>().join("\n")
        }
        (":clif", Some(n)) => match session.clif(n) {
            Ok(text) => text.trim_end().to_string(),
            Err(f) => f.to_string(),
        },
        (":which", Some(n)) => {
            session.settle_tasks();
            which(session, n)
        }
        (":tasks", _) => tasks(session),
        (":experiments", _) => session.experiments().join("\n"),
        (":requests", _) => session.requests().join("\n"),
        (":try", Some(n)) => show(session.try_in(n, rest[n.len()..].trim_start())),
        (":type", Some(n)) => type_versions(session, n),
        (":migrate", Some(n)) => session.migrate_type(n).unwrap_or_else(|e| format!("error: {e}")),
        (":closures", _) => {
            session.settle_tasks();
            closures(session)
        }
        (":stop" | ":kill" | ":resume", Some(id)) => {
            let action = match name {
                ":stop" => TaskAction::Stop,
                ":kill" => TaskAction::Kill,
                _ => TaskAction::Resume,
            };
            match id.parse::<i64>() {
                Ok(id) => session.control_task(action, id).unwrap_or_else(|e| format!("error: {e}")),
                Err(_) => format!("error: {name} needs a task id (a number; see :tasks), not `{id}`"),
            }
        }
        (":help", _) => {
            let mut s = String::from("commands:");
            for (c, what) in COMMANDS {
                s.push_str(&format!("\n  {c:<9} {what}"));
            }
            s.push_str("\nAnything else is Strata source: definitions and expressions.");
            s
        }
        (":revert", Some(n)) => show(session.revert(n, version)),
        (":forget", Some(n)) => show(session.input(&format!("forget {n};"), "<input>")),
        (":history", Some(n)) => {
            let h = session.history(n);
            if h.is_empty() {
                return format!("error: unknown name `{n}`: it has no history");
            }
            h.iter()
                .map(|e| {
                    let m = &e.meta;
                    let left = e.left.map(|w| format!(", left world {w}")).unwrap_or_default();
                    format!(
                        "v{}: entered world {}{left}, committed {}\n{}",
                        m.version,
                        m.since,
                        utc(m.committed_ms),
                        m.text
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        (":source", Some(n)) => {
            let h = session.history(n);
            let m = match version {
                Some(v) => h.iter().map(|e| &e.meta).find(|m| m.version == v),
                None => h.last().map(|e| &e.meta),
            };
            match m {
                Some(m) => m.text.to_string(),
                None => format!("error: unknown name `{n}` (or it has no such version); see :history {n}"),
            }
        }
        (":save", None) => session.save(None).unwrap_or_else(|e| format!("error: {e}")),
        (":save", Some(_)) => {
            // A path may be quoted, as in a shell; an empty one is no path.
            let path = rest.strip_prefix('"').and_then(|p| p.strip_suffix('"')).unwrap_or(rest);
            if path.is_empty() {
                return "error: :save needs a path, or nothing to save over the bound image".into();
            }
            session.save(Some(std::path::Path::new(path))).unwrap_or_else(|e| format!("error: {e}"))
        }
        (":load", Some(_)) => match std::fs::read_to_string(rest) {
            Ok(src) => show(session.input(&src, rest)),
            Err(e) => format!("error: cannot read {rest}: {e}"),
        },
        (":time", Some(_)) => {
            let start = Instant::now();
            let result = session.input(rest, "<input>");
            let took = start.elapsed();
            let compiled = match &result {
                Ok(o) if !o.compiled.is_empty() => format!(" (compiled {})", o.compiled.join(", ")),
                _ => String::new(),
            };
            let out = show(result);
            let time = format!("time: {took:?}{compiled}");
            if out.is_empty() { time } else { format!("{out}\n{time}") }
        }
        (":timeout", Some(ms)) => match ms.parse::<u64>() {
            Ok(0) => {
                session.set_timeout(None);
                String::new()
            }
            Ok(ms) => {
                session.set_timeout(Some(Duration::from_millis(ms)));
                String::new()
            }
            Err(_) => format!("error: :timeout needs a number of milliseconds, not `{ms}`"),
        },
        (
            ":revert" | ":forget" | ":history" | ":source" | ":load" | ":time" | ":timeout" | ":which" | ":clif"
            | ":stop" | ":kill" | ":resume" | ":type" | ":migrate" | ":try",
            None,
        ) => {
            format!("error: {name} needs an argument; see :help")
        }
        _ => format!("error: unknown command `{name}`; try :help"),
    }
}

/// What `:type`, `:history` and `:source` say of a name of the standard
/// library (world 1), which has no versions of its own.
fn standard_library(name: &str) -> Option<String> {
    if !lang::prelude::RESERVED.contains(&name) {
        return None;
    }
    let def = lang::prelude::SOURCE.lines().find(|l| {
        let mut words = l.split_whitespace();
        matches!(words.next(), Some("type" | "enum")) && words.next() == Some(name)
    });
    Some(match def {
        Some(text) => format!("{name}: the standard library's (world 1), never redefined\n  {text}"),
        None => format!("{name}: a builtin function of the standard library (world 1); see SPEC 14.1"),
    })
}

/// `NAME vK (world N)`, then what each running task and each live closure
/// is bound to (section 5.3).
fn which(session: &Session, name: &str) -> String {
    let Some((v, age)) = session.which(name) else {
        return format!("error: unknown name `{name}`: it is not defined in world {}", session.world_age());
    };
    let mut lines = vec![format!("{name} v{v} (world {age})")];
    for t in session.tasks().iter().filter(|t| t.status == jit::tasks::Status::Running && t.world > 0) {
        let (world, there) = (bound(t.world, &t.overlay), version_there(session, name, t.world, &t.overlay));
        lines.push(format!("  task {} ({}): {world}, {there}", t.id, t.function));
    }
    for c in session.closures() {
        let (world, there) = (bound(c.world, &c.overlay), version_there(session, name, c.world, &c.overlay));
        lines.push(format!("  closure in {} ({}): {world}, {there}", c.creator, owner(c.task)));
    }
    lines.extend(session.experiments_replacing(name).into_iter().map(|e| format!("  {e}")));
    lines.join("\n")
}

/// `:type T`: each version, the world it entered (and left), how values
/// got to it, and how many live values of it the globals hold.
fn type_versions(session: &Session, name: &str) -> String {
    let history = session.history(name);
    if !session.has_type(name) || history.is_empty() {
        return format!("error: unknown name `{name}`: no type of that name in world {}", session.world_age());
    }
    let census = session.type_census(name);
    history
        .iter()
        .map(|h| {
            let m = &h.meta;
            let left = h.left.map(|w| format!(", left world {w}")).unwrap_or_default();
            let from = if m.version == 1 { String::new() } else { format!(", from v{} by migration", m.version - 1) };
            let live = census.get(&m.version).copied().unwrap_or(0);
            format!("{name} v{}: entered world {}{left}{from}; {live} live values\n  {}", m.version, m.since, m.text)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `world W`, and the overlay beside it: `world W (experiment E vK)`.
fn bound(world: u64, overlay: &Option<OverlayView>) -> String {
    match overlay {
        Some(o) => format!("world {world} ({})", o.label),
        None => format!("world {world}"),
    }
}

/// `NAME vK` as code bound to `world` under `overlay` calls it: the
/// overlay's when it replaces NAME (`NAME from experiment E vK`).
fn version_there(session: &Session, name: &str, world: u64, overlay: &Option<OverlayView>) -> String {
    if let Some(o) = overlay.as_ref().filter(|o| o.replaces.iter().any(|r| &**r == name)) {
        return format!("{name} from {}", o.label);
    }
    match session.version_in(name, world) {
        Some(v) => format!("{name} v{v}"),
        None => format!("{name} not defined"),
    }
}

fn owner(task: u64) -> String {
    if task == 0 { "repl".into() } else { format!("task {task}") }
}

/// `:tasks`: one line per task, finished ones included.
fn tasks(session: &Session) -> String {
    let tasks = session.tasks();
    if tasks.is_empty() {
        return "no tasks".into();
    }
    tasks
        .iter()
        .map(|t| {
            let kind = if t.is_loop { "loop" } else { "job" };
            // A task restored from an image has not run in this process;
            // the image does not record the world it last ran in.
            let world = match (t.world, t.steps) {
                (0, 0) => "not started".into(),
                (0, _) => "not run since the image was opened".into(),
                (w, _) => bound(w, &t.overlay),
            };
            let mut line = format!("task {}  {}  {kind}  {}  {world}  steps {}", t.id, t.function, t.status, t.steps);
            if let Some(e) = &t.error {
                line.push_str(&format!("\n  last {}", render_runtime_error(e).replace('\n', "\n  ")));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `:closures`: creator, task, world and the versions of what it calls.
fn closures(session: &Session) -> String {
    let closures = session.closures();
    if closures.is_empty() {
        return "no live closures".into();
    }
    closures
        .iter()
        .map(|c| {
            let calls: Vec<String> = c.calls.iter().map(|n| version_there(session, n, c.world, &c.overlay)).collect();
            let calls = if calls.is_empty() { "calls no global function".into() } else { calls.join(", ") };
            format!("closure in {} ({}): {}, {calls}", c.creator, owner(c.task), bound(c.world, &c.overlay))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `YYYY-MM-DD HH:MM:SS UTC` for milliseconds since the Unix epoch.
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm), valid for all u64 days here.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::{run, utc};
    use crate::session::{Session, SessionConfig};

    fn ok(s: &Session, src: &str) {
        if let Err((_, f)) = s.input(src, "<test>") {
            panic!("{src}: {f}");
        }
    }

    #[test]
    fn tasks_closures_and_which_show_the_overlay_beside_the_world() {
        let s = Session::new(SessionConfig::stdout(None));
        ok(&s, "overridable fn tag(x: int) -> int { x }\nfn other(x: int) -> int { x }");
        // The job holds a closure until world 6 exists.
        ok(
            &s,
            "fn hold(f: fn(int) -> int) -> int { while latest_world() < 6 { sleep(2); } f(1) }\nfn job() { hold(|y| tag(y) + other(y)); }",
        );
        ok(&s, "experiment big { fn tag(x: int) -> int { x * 100 } }");
        let id = s.try_in("big", "spawn job()").ok().and_then(|o| o.echo).expect("spawned");
        assert_eq!(id, "1");
        let tasks = run(&s, ":tasks");
        assert!(tasks.contains("task 1  job  job  running  world 4 (experiment big v1)"), "{tasks}");
        let closures = run(&s, ":closures");
        assert_eq!(
            closures,
            "closure in job (task 1): world 4 (experiment big v1), other v1, tag from experiment big v1"
        );
        ok(&s, "fn other(x: int) -> int { x + 1 }");
        let which = run(&s, ":which tag");
        assert_eq!(
            which,
            "tag v1 (world 5)\n  task 1 (job): world 4 (experiment big v1), tag from experiment big v1\n  \
             closure in job (task 1): world 4 (experiment big v1), tag from experiment big v1\n  experiment big v1"
        );
        assert!(run(&s, ":source tag vx").contains("`vx` is not a version"));
        assert!(run(&s, ":try").contains(":try needs an argument"));
        assert!(run(&s, ":type Json").contains("enum Json { Null,"), "{}", run(&s, ":type Json"));
        assert!(run(&s, ":source json_parse").contains("builtin function of the standard library"));
        let which = run(&s, ":which other");
        assert!(which.contains("task 1 (job): world 4 (experiment big v1), other v1"), "{which}");
        ok(&s, "fn release() -> int { 1 }");
        ok(&s, "wait(1);");
        let tasks = run(&s, ":tasks");
        assert!(tasks.contains("task 1  job  job  done  world 4 (experiment big v1)"), "{tasks}");
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_795_609_599_000), "2026-11-25 12:26:39 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
