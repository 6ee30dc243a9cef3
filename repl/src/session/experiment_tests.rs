//! Session tests of experiments (SPEC 14.2–14.3) where the conformance
//! cases are silent: an overlay followed through closures, `latest`, jobs
//! spawned under it; refusals; and experiments kept by an image.

use super::tests::{ok, session};
use super::*;

fn tried(s: &Session, exp: &str, src: &str) -> Result<String, String> {
    s.try_in(exp, src).map(|o| o.echo.unwrap_or_default()).map_err(|(_, f)| f.to_string())
}

#[test]
fn an_overlay_follows_closures_fn_arguments_and_latest() {
    let s = session();
    ok(&s, "overridable fn tag(x: int) -> int { x }");
    ok(
        &s,
        "fn apply(f: fn(int) -> int, x: int) -> int { f(x) }\nfn via_closure(x: int) -> int { apply(|y| tag(y), x) }",
    );
    ok(&s, "fn via_arg(x: int) -> int { apply(tag, x) }\nfn via_latest(x: int) -> int { latest tag(x) }");
    ok(&s, "experiment big { fn tag(x: int) -> int { x * 100 } }");
    assert_eq!(tried(&s, "big", "via_closure(2)").as_deref(), Ok("200"));
    assert_eq!(tried(&s, "big", "via_arg(3)").as_deref(), Ok("300"));
    assert_eq!(tried(&s, "big", "via_latest(4)").as_deref(), Ok("400"));
    // Outside the experiment nothing changed.
    assert_eq!(ok(&s, "via_closure(2) + via_arg(3) + via_latest(4)").echo.as_deref(), Some("9"));
}

#[test]
fn a_job_spawned_under_an_overlay_keeps_it_and_service_loops_and_define_are_refused() {
    let s = session();
    ok(
        &s,
        "overridable fn val() -> int { 1 }\nvar seen: int = 0;\nfn job() { seen = val(); }\nfn step(k: int) -> int { k }",
    );
    ok(&s, "experiment seven { fn val() -> int { 7 } }");
    let id = tried(&s, "seven", "spawn job()").expect("spawned");
    ok(&s, &format!("wait({id});"));
    assert_eq!(ok(&s, "seen").echo.as_deref(), Some("7"));
    let err = tried(&s, "seven", "spawn loop step(0)").expect_err("refused");
    assert!(err.contains("not allowed in an overlay"), "{err}");
    let err = tried(&s, "seven", "define(\"fn z() -> int { 1 }\")").expect_err("refused");
    assert!(err.contains("not allowed in an overlay"), "{err}");
    let err = tried(&s, "seven", "fn z() -> int { 1 }").expect_err("refused");
    assert!(err.contains("not allowed in an overlay"), "{err}");
    let err = tried(&s, "nine", "val()").expect_err("unknown");
    assert!(err.contains("unknown experiment"), "{err}");
}

#[test]
fn experiments_have_versions_history_and_forget_and_helpers_stay_private() {
    let s = session();
    ok(&s, "overridable fn greet(n: str) -> str { \"hi \" + n }");
    let o = ok(&s, "experiment loud { fn greet(n: str) -> str { shout(n) }  fn shout(n: str) -> str { upper(n) } }");
    assert_eq!(o.ack.as_deref(), Some("world 3: experiment loud v1"));
    let o = ok(
        &s,
        "experiment loud (traffic: 20) { fn greet(n: str) -> str { shout(n) + \"!\" }  fn shout(n: str) -> str { upper(n) } }",
    );
    assert_eq!(o.ack.as_deref(), Some("world 4: experiment loud v2"));
    assert_eq!(s.experiments(), ["loud v2 traffic 20% replaces greet served 0 failed 0"]);
    assert_eq!(tried(&s, "loud", "greet(\"a\") + shout(\"b\")").as_deref(), Ok("\"A!B\""));
    assert!(s.input("shout(\"b\")", "<test>").is_err(), "helpers are the experiment's own");
    assert_eq!(s.history("loud").len(), 2);
    // A signature change the experiment cannot follow is rejected.
    let err = s.input("overridable fn greet(n: int) -> str { \"\" }", "<test>").err().expect("breaks");
    assert!(err.1.to_string().contains("experiment loud"), "{}", err.1);
    assert_eq!(ok(&s, "forget loud;").ack.as_deref(), Some("world 5: forget loud"));
    assert!(s.experiments().is_empty());
}

#[test]
fn an_image_keeps_experiments() {
    let d = std::env::temp_dir().join(format!("strata-exp-image-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    let img = d.join("x.simg");
    let config = || SessionConfig {
        output: Arc::new(|| Box::new(super::tests::Quiet)),
        task_output: Arc::new(|| Box::new(super::tests::Quiet)),
        ..SessionConfig::stdout(None)
    };
    {
        let s = Session::open(config(), &img, Access::Bound).expect("opens");
        ok(&s, "overridable fn price(x: int) -> int { x }");
        ok(
            &s,
            "experiment sale (traffic: 10) { fn price(x: int) -> int { half(x) }  fn half(x: int) -> int { x / 2 } }",
        );
    }
    let s = Session::open(config(), &img, Access::Bound).expect("reopens");
    assert_eq!(tried(&s, "sale", "price(10)").as_deref(), Ok("5"));
    assert_eq!(s.experiments(), ["sale v1 traffic 10% replaces price served 0 failed 0"]);
    assert!(export(&img).expect("exports").contains("experiment sale (traffic: 10)"));
    assert_eq!(ok(&s, "graduate sale;").ack.as_deref(), Some("world 4: price v2, half v1, forget sale"));
    drop(s);
    let s = Session::open(config(), &img, Access::ReadOnly).expect("reopens");
    assert_eq!(ok(&s, "price(10)").echo.as_deref(), Some("5"));
    assert!(s.history("price")[1].meta.text.starts_with("overridable fn price"));
    let _ = std::fs::remove_dir_all(&d);
}
