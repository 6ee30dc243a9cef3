//! Session tests of request overrides (SPEC 14.4) where the conformance
//! cases are silent: an override over the experiment its request is routed
//! to, compiled code reused in later worlds until something it uses changes
//! meaning, and `latest` checking the override's texts in the newest world.

use super::overrides::override_source;
use super::tests::{ok, session};
use super::*;
use std::time::Instant;

pub(super) fn request(headers: &[(&str, &str)], overrides: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        path: "/".into(),
        query: Default::default(),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: String::new(),
        overrides: (!overrides.is_empty())
            .then(|| overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
    }
}

pub(super) fn serve(s: &Session, req: &HttpRequest) -> HttpReply {
    s.serve_request(req, Instant::now() + Duration::from_secs(10))
}

pub(super) fn header<'a>(r: &'a HttpReply, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn a_request_override_runs_over_the_experiment_it_is_routed_to() {
    let s = session();
    ok(&s, "overridable fn a() -> str { \"a\" }\noverridable fn b() -> str { \"b\" }");
    ok(&s, "fn handle(req: Request) -> Response { Response { body: a() + b() } }");
    ok(&s, "experiment big { fn a() -> str { \"A\" } }");
    let in_big = [("x-strata-experiment", "big")];
    let b = [("b", "fn b() -> str { \"B\" }")];
    let r = serve(&s, &request(&in_big, &b));
    assert_eq!((r.status, r.body.as_str()), (200, "AB"), "experiment's a, request's b");
    assert_eq!(header(&r, "x-strata-scope"), Some("request"));
    assert_eq!(serve(&s, &request(&[], &b)).body, "aB", "no experiment: the service's a");
    // Request beats experiment.
    let r = serve(&s, &request(&in_big, &[("a", "fn a() -> str { \"Z\" }")]));
    assert_eq!(r.body, "Zb");
    assert_eq!(serve(&s, &request(&in_big, &[])).body, "Ab", "nothing stays behind");
}

#[test]
fn a_compiled_override_is_reused_until_something_it_uses_changes_meaning() {
    let s = session();
    ok(&s, "overridable fn greet(n: str) -> str { \"hi \" + n }\nfn mark(n: str) -> str { n }");
    ok(&s, "fn handle(req: Request) -> Response { Response { body: greet(\"ann\") } }");
    let texts = [("greet".to_string(), "fn greet(n: str) -> str { \"yo \" + mark(n) + extra() }".to_string())];
    let texts = [texts[0].clone(), ("extra".into(), "fn extra() -> str { \".\" }".into())];
    let source = override_source(&texts).expect("defines its functions");
    let compiled = |s: &Session| s.engine.compiled_override(&s.engine.shared.newest(), &source).ok().expect("checks");
    let first = compiled(&s);
    ok(&s, "fn unrelated() -> int { 1 }");
    assert!(Arc::ptr_eq(&first, &compiled(&s)), "an unrelated change keeps the compiled override");
    // A new version with the same signature is called through the table.
    ok(&s, "fn mark(n: str) -> str { n + \"!\" }");
    assert!(Arc::ptr_eq(&first, &compiled(&s)));
    let overrides: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    assert_eq!(serve(&s, &request(&[], &overrides)).body, "yo ann!.");
    // A changed signature of what it calls: checked again, and now it fails.
    ok(&s, "fn mark(n: int) -> str { \"#\" }");
    let r = serve(&s, &request(&[], &overrides));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("type mismatch"), "{}", r.body);
    // Back to the signature it was compiled against: that compilation serves.
    ok(&s, "fn mark(n: str) -> str { n + \"?\" }");
    assert!(Arc::ptr_eq(&first, &compiled(&s)));
    assert_eq!(serve(&s, &request(&[], &overrides)).body, "yo ann?.");
    // Purity is part of a signature: compiled again.
    ok(&s, "var log: [str] = [];\nfn mark(n: str) -> str { log = push(log, n); n + \"*\" }");
    assert!(!Arc::ptr_eq(&first, &compiled(&s)), "compiled again after a signature change");
    assert_eq!(serve(&s, &request(&[], &overrides)).body, "yo ann*.");
    // The world taking its helper's name makes the helper a replacement.
    ok(&s, "fn extra() -> str { \"\" }");
    let r = serve(&s, &request(&[], &overrides));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not overridable"), "{}", r.body);
}

/// A request whose `handle` waits for world `until`, then calls `latest
/// greet`, with `greet` overridden; `change` is committed while it waits.
fn latest_under_an_override(change: &str) -> HttpReply {
    let s = Arc::new(session());
    ok(&s, "overridable fn greet(n: str) -> str { \"hi \" + n }\nfn mark(n: str) -> str { n }");
    ok(
        &s,
        "fn handle(req: Request) -> Response { while latest_world() < 4 { sleep(2); } Response { body: latest greet(\"ann\") } }",
    );
    let server = s.clone();
    let waiting = std::thread::spawn(move || {
        serve(&server, &request(&[], &[("greet", "fn greet(n: str) -> str { \"yo \" + mark(n) }")]))
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.requests().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    ok(&s, change);
    waiting.join().expect("the request thread ends")
}

#[test]
fn latest_under_an_override_runs_its_texts_in_the_newest_world() {
    let r = latest_under_an_override("fn mark(n: str) -> str { n + \"!\" }");
    assert_eq!((r.status, r.body.as_str()), (200, "yo ann!"), "the override over the newest world's mark");
    assert_eq!(header(&r, "x-strata-world"), Some("3"), "the request stays pinned to its world");
}

#[test]
fn latest_under_an_override_that_no_longer_checks_is_a_signature_change() {
    let r = latest_under_an_override("fn mark(n: int) -> str { \"#\" }");
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("signature changed: the request's override does not check in world 4"), "{}", r.body);
}

#[test]
fn concurrent_requests_with_an_override_see_exactly_their_world_while_signatures_change() {
    let s = Arc::new(session());
    ok(&s, "overridable fn greet(n: str) -> str { n }\nfn mark(n: str) -> str { n }");
    ok(&s, "fn handle(req: Request) -> Response { Response { body: greet(\"ann\") } }");
    // What the override answers in each world: its body, or `None` where
    // `mark` takes an int and the override does not check (400).
    let expected = Arc::new(std::sync::Mutex::new(HashMap::from([(3u64, Some("yo ann".to_string()))])));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let servers: Vec<_> = (0..4)
        .map(|_| {
            let (s, done) = (s.clone(), done.clone());
            std::thread::spawn(move || {
                let req = request(&[], &[("greet", "fn greet(n: str) -> str { \"yo \" + mark(n) }")]);
                let mut seen = Vec::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) || seen.is_empty() {
                    let r = serve(&s, &req);
                    let world: u64 = header(&r, "x-strata-world").and_then(|w| w.parse().ok()).expect("a world");
                    seen.push((world, r.status, r.body));
                }
                seen
            })
        })
        .collect();
    for k in 1..=30u64 {
        let change = if k % 2 == 1 {
            "fn mark(n: int) -> str { \"#\" }".to_string()
        } else {
            format!("fn mark(n: str) -> str {{ n + \"{k}\" }}")
        };
        ok(&s, &change);
        let answer = (k % 2 == 0).then(|| format!("yo ann{k}"));
        expected.lock().unwrap().insert(3 + k, answer);
        std::thread::sleep(Duration::from_millis(3));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let expected = expected.lock().unwrap().clone();
    let mut served = 0;
    for t in servers {
        for (world, status, body) in t.join().expect("a serving thread") {
            match expected.get(&world).unwrap_or_else(|| panic!("an answer from world {world}")) {
                Some(want) => assert_eq!((status, body.as_str()), (200, want.as_str()), "world {world}"),
                None => assert!(status == 400 && body.contains("type mismatch"), "world {world}: {status} {body}"),
            }
            served += 1;
        }
    }
    assert!(served >= 4);
}

#[test]
fn an_override_text_cannot_close_its_overlay_or_hold_other_items() {
    let s = session();
    ok(&s, "overridable fn greet(n: str) -> str { n }\nvar hits: int = 0");
    ok(&s, "fn handle(req: Request) -> Response { hits += 1; Response { body: greet(\"ann\") } }");
    let escape = "fn greet(n: str) -> str { n } } fn handle(req: Request) -> Response { Response { body: \"x\" } } experiment y {";
    for (text, why) in [
        (escape, "syntax error"),
        ("fn greet(n: str) -> str { n }\nvar extra: int = 1", "may hold only `fn` items"),
        ("fn greet(n: str) -> str { n }\n1 + 1", "may hold only `fn` items"),
        ("fn other(n: str) -> str { n }", "must define `fn greet`"),
    ] {
        let r = serve(&s, &request(&[], &[("greet", text)]));
        assert_eq!(r.status, 400, "{text}: {}", r.body);
        assert!(r.body.contains(why), "{text}: {}", r.body);
    }
    assert_eq!(serve(&s, &request(&[], &[])).body, "ann");
    assert_eq!(ok(&s, "hits").echo.as_deref(), Some("1"), "no refused override ran `handle`");
}

#[test]
fn a_request_naming_a_graduated_or_forgotten_experiment_runs_in_service_scope() {
    let s = session();
    ok(&s, "overridable fn greet(n: str) -> str { \"hi \" + n }");
    ok(&s, "fn handle(req: Request) -> Response { Response { body: greet(\"ann\") } }");
    ok(
        &s,
        "experiment gone { fn greet(n: str) -> str { \"bye \" + n } }\nexperiment shipped { fn greet(n: str) -> str { \"yo \" + n } }",
    );
    let named = |e: &str| serve(&s, &request(&[("x-strata-experiment", e)], &[]));
    let r = named("gone");
    assert_eq!((r.body.as_str(), header(&r, "x-strata-scope")), ("bye ann", Some("experiment gone")));
    ok(&s, "forget gone;");
    let r = named("gone");
    assert_eq!((r.status, r.body.as_str(), header(&r, "x-strata-scope")), (200, "hi ann", Some("service")));
    ok(&s, "graduate shipped;");
    let r = named("shipped");
    assert_eq!((r.status, r.body.as_str(), header(&r, "x-strata-scope")), (200, "yo ann", Some("service")));
    let r = named("never");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("unknown experiment never"), "{}", r.body);
}
