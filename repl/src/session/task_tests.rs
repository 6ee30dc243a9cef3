//! Session tests of tasks: how jobs and loops end, `:kill`, `:stop`,
//! `resume`, shutdown, and tasks spawned by initialisers.

use super::tests::{Quiet, ok, session};
use super::*;
use jit::tasks::Status;
use std::time::Instant;

/// Waits (at most 10 s) until task `id` has left `running`.
fn settled(s: &Session, id: u64) -> TaskView {
    let start = Instant::now();
    loop {
        let t = s.tasks().into_iter().find(|t| t.id == id).expect("the task exists");
        if t.status != Status::Running || start.elapsed() > Duration::from_secs(10) {
            return t;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn echo(s: &Session, src: &str) -> String {
    ok(s, src).echo.unwrap_or_default()
}

#[test]
fn a_failing_job_ends_failed_and_changes_nothing() {
    let s = session();
    ok(&s, "var n: int = 0");
    ok(&s, "fn bad() { n = 5; let z = 1 / (n - 5); }");
    assert_eq!(echo(&s, "spawn bad()"), "1");
    let t = settled(&s, 1);
    assert_eq!(t.status, Status::Failed);
    assert!(t.error.expect("an error").message.contains("division by zero"));
    assert_eq!(echo(&s, "n"), "0");
    let err = s.input("resume(1)", "<test>");
    assert!(err.is_ok(), "resuming a failed job does nothing");
    assert_eq!(settled(&s, 1).status, Status::Failed);
}

#[test]
fn kill_interrupts_a_dead_job_and_stop_ends_a_loop_at_a_step_boundary() {
    let s = session();
    ok(&s, "fn spin() { while true {} }");
    ok(&s, "fn tick(n: int) -> int { sleep(1); n + 1 }");
    ok(&s, "spawn spin(); spawn loop tick(0);");
    assert_eq!(s.control_task(TaskAction::Kill, 1).as_deref(), Ok("task 1: interrupted; it ends as stopped"));
    // Already ended when `:kill` answers.
    assert_eq!(s.tasks()[0].status, Status::Stopped);
    let t = settled(&s, 1);
    assert_eq!(t.status, Status::Stopped);
    assert_eq!(t.error.expect("an error").message, "interrupted");
    s.control_task(TaskAction::Stop, 2).expect("task 2 exists");
    let t = settled(&s, 2);
    assert_eq!(t.status, Status::Stopped);
    assert!(t.error.is_none(), "a stopped loop ended between steps: {:?}", t.error);
    assert!(s.control_task(TaskAction::Kill, 3).is_err(), "no task 3");
}

#[test]
fn a_paused_loop_keeps_its_state_and_resumes_in_the_newest_world() {
    let s = session();
    ok(&s, "var seen: [int] = []");
    ok(
        &s,
        "fn step(n: int) -> int { if n == 3 { assert(false, \"three\"); } seen = push(seen, n); if n == 5 { done(); } n + 1 }",
    );
    ok(&s, "spawn loop step(0)");
    let t = settled(&s, 1);
    assert_eq!((t.status, t.steps), (Status::Paused, 3));
    assert_eq!(echo(&s, "seen"), "[0, 1, 2]");
    ok(&s, "fn step(n: int) -> int { seen = push(seen, n * 10); if n == 5 { done(); } n + 1 }");
    assert_eq!(s.control_task(TaskAction::Resume, 1).as_deref(), Ok("task 1: running"));
    assert_eq!(settled(&s, 1).status, Status::Done);
    assert_eq!(echo(&s, "seen"), "[0, 1, 2, 30, 40, 50]");
}

#[test]
fn shutdown_interrupts_what_outlives_the_grace_period() {
    let s = Session::new(SessionConfig {
        output: Arc::new(|| Box::new(Quiet)),
        task_output: Arc::new(|| Box::new(Quiet)),
        grace: Duration::from_millis(100),
        ..SessionConfig::stdout(None)
    });
    ok(&s, "var steps: int = 0");
    ok(&s, "fn spin() { while true {} }");
    ok(&s, "fn polite(n: int) -> int { steps += 1; sleep(1); n + 1 }");
    ok(&s, "spawn spin(); spawn loop polite(0);");
    let start = Instant::now();
    s.shutdown();
    assert!(start.elapsed() < Duration::from_secs(3), "shutdown took {:?}", start.elapsed());
    let tasks = s.tasks();
    assert_eq!(tasks.iter().map(|t| t.status).collect::<Vec<_>>(), [Status::Stopped, Status::Stopped]);
    assert_eq!(tasks[0].error.as_ref().map(|e| e.message.as_str()), Some("interrupted"));
    assert!(tasks[1].error.is_none(), "the loop stopped at a step boundary");
    assert_eq!(echo(&s, "stop_requested()"), "true");
    assert!(s.input("spawn polite(0)", "<test>").is_err(), "no new tasks after shutdown");
}

#[test]
fn a_task_spawned_by_a_rejected_initialiser_never_starts() {
    let s = session();
    ok(&s, "var runs: int = 0");
    ok(&s, "fn job() { runs += 1; }");
    assert!(s.input("let bad = { spawn job(); 1 / 0 }", "<test>").is_err());
    let t = settled(&s, 1);
    assert_eq!((t.status, t.world), (Status::Stopped, 0));
    ok(&s, "let good = spawn job()");
    assert_eq!(settled(&s, 2).status, Status::Done);
    assert_eq!(echo(&s, "runs"), "1");
}
