//! Session tests of images: what a reopened image holds (definitions,
//! history, values at the right schema versions, tasks), what is never
//! written (rejected or failed inputs), `:save`, locking, and export.

use super::tests::{Quiet, ok};
use super::*;
use jit::tasks::Status;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A fresh directory for one test's images.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("strata-image-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn config() -> SessionConfig {
    SessionConfig {
        output: Arc::new(|| Box::new(Quiet)),
        task_output: Arc::new(|| Box::new(Quiet)),
        grace: Duration::from_millis(500),
        ..SessionConfig::stdout(None)
    }
}

fn open(path: &Path) -> Session {
    Session::open(config(), path, Access::Bound).unwrap_or_else(|e| panic!("{e}"))
}

fn echo(s: &Session, src: &str) -> String {
    ok(s, src).echo.unwrap_or_default()
}

/// An int global read while a loop writes it: a read-only evaluation is
/// validated too, so it may lose a `write conflict`; read again.
fn read(s: &Session, name: &str) -> u64 {
    loop {
        match s.input(name, "<test>") {
            Ok(o) => return o.echo.and_then(|e| e.parse().ok()).expect("an int"),
            Err((_, f)) if f.to_string().contains("write conflict") => continue,
            Err((_, f)) => panic!("{f}"),
        }
    }
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_reopened_image_has_the_same_program_history_and_values() {
    let d = dir("reopen");
    let img = d.join("a.simg");
    {
        let s = open(&img);
        ok(&s, "type Pin { x: int, tag: str }\nenum Shp { Dot, Box(int, int) }");
        ok(&s, "var ps: [Pin] = [Pin { x: 1, tag: \"a\" }];\nvar m: {str: Shp} = {};\nlet k = 40");
        ok(&s, "fn add(x: int) { ps = push(ps, Pin { x: x, tag: str(x) }); m = insert(m, str(x), Shp::Box(x, k)); }");
        ok(&s, "add(2);");
        ok(&s, "fn add(x: int) { ps = push(ps, Pin { x: x * 10, tag: \"ten\" }); }");
        ok(&s, "add(3);");
    }
    let s = open(&img);
    assert_eq!(s.world_age(), 5);
    assert_eq!(echo(&s, "len(ps)"), "3");
    assert_eq!(echo(&s, "ps[2]"), "Pin { x: 30, tag: \"ten\" }");
    assert_eq!(echo(&s, "get(m, \"2\", Shp::Dot)"), "Shp::Box(2, 40)");
    let h = s.history("add");
    assert_eq!(
        h.iter().map(|e| (e.meta.version, e.meta.since, e.left)).collect::<Vec<_>>(),
        [(1, 4, Some(5)), (2, 5, None)]
    );
    assert!(h[0].meta.text.contains("str(x)"));
    assert_eq!(s.recent_worlds(20).len(), 4);
    // It keeps working as a live image: new versions continue the numbering.
    assert_eq!(ok(&s, "fn add(x: int) { }").ack.as_deref(), Some("world 6: add v3"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn values_written_across_a_type_change_reopen_in_the_newest_version() {
    let d = dir("types");
    let img = d.join("t.simg");
    {
        let s = open(&img);
        ok(&s, "type Tv { a: int }\nvar cur: Tv = Tv { a: 1 };\nvar all: [Tv] = [Tv { a: 2 }]");
        ok(&s, "var go: bool = false;\nfn gate(n: int) -> int { if go { done(); } sleep(2); n }");
        // An old-world job writes `cur` after the type changed: the image
        // gets the value migrated into the newest version.
        ok(&s, "fn writer(g: int) { wait(g); cur = Tv { a: 9 }; }\nvar w: int = 0");
        ok(&s, "w = spawn writer(spawn loop gate(0));");
        assert_eq!(
            ok(&s, "type Tv { a: int, b: int = 5 }").ack.as_deref(),
            Some("world 5: type Tv v2 (migrated 2 values)")
        );
        ok(&s, "go = true;");
        ok(&s, "wait(w);");
        assert_eq!(echo(&s, "cur"), "Tv { a: 9, b: 5 }");
    }
    let s = open(&img);
    assert_eq!(echo(&s, "cur"), "Tv { a: 9, b: 5 }");
    assert_eq!(echo(&s, "all"), "[Tv { a: 2, b: 5 }]");
    assert_eq!(s.type_census("Tv").keys().copied().collect::<Vec<_>>(), [2]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn loops_restart_from_their_last_committed_state_and_finished_tasks_stay_finished() {
    let d = dir("loops");
    let img = d.join("l.simg");
    {
        let s = open(&img);
        ok(&s, "var n: int = 0;\nfn step(k: int) -> int { n += 1; k + 1 }\nfn once() { }");
        ok(&s, "spawn once();");
        ok(&s, "var t: int = 0");
        ok(&s, "t = spawn loop step(0);");
        wait_until("the loop stepped", || read(&s, "n") > 20);
        // Shutdown stops the loop, but in the image it is still running.
    }
    let s = open(&img);
    let tasks = s.tasks();
    assert_eq!(tasks.iter().map(|t| (t.id, t.status)).collect::<Vec<_>>(), [(1, Status::Done), (2, Status::Running)]);
    let before = read(&s, "n");
    wait_until("the restarted loop stepped", || read(&s, "n") > before + 5);
    s.shutdown();
    // The loop's state (its step count) was committed with `n`, step by step.
    let steps = s.tasks()[1].steps;
    assert_eq!(steps, read(&s, "n"));
    drop(s);
    let s = open(&img);
    assert!(s.control_task(TaskAction::Stop, 2).is_ok());
    wait_until("the loop stopped", || s.tasks()[1].status == Status::Stopped);
    drop(s);
    let s = open(&img);
    assert_eq!(s.tasks()[1].status, Status::Stopped, "a stop the user asked for is kept");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn rejected_and_failed_inputs_write_nothing() {
    let d = dir("rejected");
    let img = d.join("r.simg");
    let s = open(&img);
    ok(&s, "var n: int = 0;\nfn f() -> int { 1 }");
    let size = || std::fs::metadata(&img).map(|m| m.len()).unwrap_or(0);
    let first = size();
    assert!(s.input("fn g() -> int { \"no\" }", "<test>").is_err());
    assert!(s.input("let z = 1 / (n - n)", "<test>").is_err());
    assert_eq!(size(), first, "a rejected definition writes nothing");
    ok(&s, "fn bump() { n = 5; let q = 1 / (n - 5); }");
    let before = size();
    assert!(s.input("bump()", "<test>").is_err());
    assert_eq!(size(), before, "nothing of a rejected or failed input is in the image");
    drop(s);
    assert_eq!(echo(&open(&img), "n"), "0");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn save_compacts_without_losing_history_or_values_and_a_second_writer_is_refused() {
    let d = dir("save");
    let img = d.join("s.simg");
    let s = open(&img);
    ok(&s, "var xs: [int] = [];\nfn add(k: int) { xs = push(xs, k); }");
    for k in 0..200 {
        ok(&s, &format!("add({k});"));
    }
    ok(&s, "fn add(k: int) { xs = push(xs, k * 2); }");
    let err = Session::open(config(), &img, Access::Bound).err().expect("locked");
    assert!(err.contains("open in another strata process"), "{err}");
    let big = std::fs::metadata(&img).map(|m| m.len()).unwrap_or(0);
    let copy = d.join("copy.simg");
    assert!(s.save(Some(&copy)).expect("saved a copy").starts_with("saved"));
    s.save(None).expect("compacted in place");
    let small = std::fs::metadata(&img).map(|m| m.len()).unwrap_or(0);
    assert!(small * 10 < big, "compacted {big} -> {small} bytes");
    // Still bound to the compacted file: later commits land there.
    ok(&s, "add(7);");
    drop(s);
    for path in [&img, &copy] {
        let s = open(path);
        assert_eq!(s.history("add").len(), 2);
        assert_eq!(echo(&s, "xs[199]"), "199");
    }
    assert_eq!(echo(&open(&img), "xs[200]"), "14");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn export_round_trips_to_the_same_definitions() {
    let d = dir("export");
    let img = d.join("e.simg");
    {
        let s = open(&img);
        ok(&s, "type Pt { x: int }\nvar ps: [Pt] = [];\nfn f(p: Pt) -> int { p.x }");
        ok(&s, "fn g() -> int { f(Pt { x: 2 }) * 2 }\nlet base = 10");
        ok(&s, "fn f(p: Pt) -> int { p.x + base }");
        ok(&s, "forget g;");
    }
    let text = export(&img).expect("exports");
    assert!(!text.contains("fn g"), "{text}");
    let fresh = Session::new(config());
    ok(&fresh, &text);
    let image = open(&img);
    for name in ["Pt", "ps", "f", "base"] {
        let a = fresh.history(name).last().map(|e| e.meta.text.trim_end_matches(';').to_string());
        let b = image.history(name).last().map(|e| e.meta.text.trim_end_matches(';').to_string());
        assert_eq!(a, b, "{name}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// An image written by an earlier build (format 1, by replaying
/// `tests/fixtures/session-v1.repl`) must keep opening to the same program.
/// Never regenerate it; a new format version adds a new fixture.
#[test]
fn an_image_written_by_an_earlier_build_still_opens() {
    let fixture = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/session-v1.simg"));
    let before = std::fs::read(fixture).expect("the fixture is in the repository");
    let s = Session::open(config(), fixture, Access::ReadOnly).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.world_age(), 10);
    assert_eq!(
        echo(&s, "stock"),
        "[Item { name: \"bolt\", qty: 3, price: 0.5 }, Item { name: \"nut\", qty: 10, price: 0.5 }]"
    );
    assert_eq!(echo(&s, "get(levels, \"nut\", Level::High(0))"), "Level::Low");
    assert_eq!(echo(&s, "ticks"), "5");
    assert_eq!(s.history("Item").iter().map(|e| e.meta.version).collect::<Vec<_>>(), [1, 2]);
    let tasks = s.tasks();
    assert_eq!(tasks.iter().map(|t| (t.id, t.status, t.steps)).collect::<Vec<_>>(), [(1, Status::Done, 5)]);
    ok(&s, "restock(\"washer\", 1);");
    drop(s);
    assert_eq!(std::fs::read(fixture).expect("still there"), before, "a read-only open never writes");
}
