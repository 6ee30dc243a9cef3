//! Session tests of values crossing a `latest` call after their type changed
//! (SPEC 6.3: a `latest` boundary migrates on load): arguments are migrated
//! into the newest world's versions, a result the caller's world cannot read
//! fails alone, and function types must match exactly.

use super::tests::{ok, session};
use super::*;

fn echo(s: &Session, src: &str) -> Result<String, String> {
    s.input(src, "<test>").map(|o| o.echo.unwrap_or_default()).map_err(|(_, f)| f.to_string())
}

#[test]
fn arguments_of_user_types_are_migrated_into_the_newest_world() {
    let s = session();
    ok(&s, "type LtP { x: int }\nfn area(p: LtP) -> int { p.x }\nfn total(ps: [LtP]) -> int { ps[0].x + ps[1].x }");
    // `define` commits the change while `probe` stays in its own world.
    ok(
        &s,
        r#"fn probe() -> int {
    let p = LtP { x: 3 };
    define("type LtP { x: int, y: int = 10 }\nfn area(p: LtP) -> int { p.x * p.y }\nfn total(ps: [LtP]) -> int { ps[0].y + ps[1].x }");
    let old = p.x;
    latest area(p) * 1000 + latest total([p, LtP { x: 4 }]) * 10 + old
}"#,
    );
    assert_eq!(echo(&s, "probe()").as_deref(), Ok("30143"));
}

#[test]
fn a_result_of_a_version_the_caller_does_not_know_fails_alone() {
    let s = session();
    ok(&s, "type LtQ { x: int }\nfn make() -> LtQ { LtQ { x: 1 } }");
    ok(
        &s,
        r#"fn probe() -> int {
    define("type LtQ { x: int, y: int = 2 }\nfn make() -> LtQ { LtQ { x: 5 } }");
    let q = latest make();
    q.x
}"#,
    );
    let err = echo(&s, "probe()").expect_err("newer version");
    assert!(err.contains("newer version: the result of `latest` holds a `LtQ` v2"), "{err}");
    assert_eq!(echo(&s, "make().y").as_deref(), Ok("2"), "the session goes on");
}

#[test]
fn function_types_across_latest_must_match_exactly() {
    let s = session();
    ok(&s, "type LtR { x: int }\nfn apply(f: fn(LtR) -> int, r: LtR) -> int { f(r) }");
    ok(
        &s,
        r#"fn probe() -> int {
    define("type LtR { x: int, y: int = 2 }\nfn apply(f: fn(LtR) -> int, r: LtR) -> int { f(r) }");
    latest apply(|r| r.x, LtR { x: 1 })
}"#,
    );
    let err = echo(&s, "probe()").expect_err("signature changed");
    assert!(err.contains("signature changed"), "{err}");
}

#[test]
fn an_argument_that_never_returns_needs_no_conversion() {
    let s = session();
    ok(&s, "type LtS { x: int }\nfn sx(p: LtS) -> int { p.x }");
    ok(&s, "fn early(n: int) -> int { latest sx(if n > 0 { return 7 } else { LtS { x: 1 } }) }");
    assert_eq!(echo(&s, "early(1) * 10 + early(0)").as_deref(), Ok("71"));
}
