//! Incrementality of checking: which queries re-run after a body change, a
//! signature change and a type change, and that a rejected change leaves the
//! database as it was.

use super::*;
use crate::check::check_transaction;

/// Commits `src` as one transaction the way the session does: checks it
/// against the newest world, applies it, re-checks the dependents of changed
/// signatures, then settles (or reverts, returning the broken names).
fn commit(inc: &mut Incremental, src: &str) -> Result<Vec<Arc<str>>, Vec<Arc<str>>> {
    let (prog, diags) = crate::parser::parse(src);
    assert!(diags.is_empty(), "{src}: {diags:?}");
    let text: Arc<str> = Arc::from(src);
    let checked = check_transaction(&prog, &text, &inc.env()).unwrap_or_else(|d| panic!("{src}: {d:?}"));
    let sigs = inc.signatures(&checked);
    let mut uses = uses_of(&checked);
    let defs: Vec<NewDef> = prog
        .items
        .iter()
        .filter_map(|item| {
            let name: Arc<str> = match item {
                crate::ast::Item::Fn(d) => Arc::from(d.name.name.as_str()),
                crate::ast::Item::Type(d) => Arc::from(d.name.name.as_str()),
                crate::ast::Item::Enum(d) => Arc::from(d.name.name.as_str()),
                crate::ast::Item::Global(d) => Arc::from(d.name.name.as_str()),
                _ => return None,
            };
            Some(NewDef {
                text: Arc::from(&src[item.span().range()]),
                sig: sigs[&name].clone(),
                uses: uses.remove(&name).unwrap_or_else(|| Arc::from([])),
                name,
            })
        })
        .collect();
    let ours: HashSet<Arc<str>> = defs.iter().map(|d| d.name.clone()).collect();
    let mut p = inc.apply(defs, &[]);
    match inc.recheck(&mut p, &ours) {
        Ok(deps) => {
            let names = deps.iter().map(|d| d.name.clone()).collect();
            inc.settle(p, &deps);
            Ok(names)
        }
        Err(broken) => {
            inc.revert(p);
            Err(broken.into_iter().map(|b| b.name).collect())
        }
    }
}

/// The checks that ran since the last call, sorted.
fn checks_run(inc: &Incremental) -> Vec<String> {
    let mut v: Vec<String> = inc.take_log().into_iter().filter(|l| l.starts_with("check_def")).collect();
    v.sort();
    v
}

/// Asks for the check of every definition, as a whole-program verification
/// would: salsa must answer all but the changed ones from memo.
fn check_all(inc: &Incremental, names: &[&str]) {
    for n in names {
        assert!(inc.check(n).is_some_and(|c| c.is_ok()), "{n} checks");
    }
}

const PROGRAM: &str = "fn f(x: int) -> int { x + 1 }\nfn g() -> int { f(1) * 2 }\nfn h() -> int { g() + len(str(f(2))) }\nfn k() -> int { 7 }";
const ALL: [&str; 4] = ["f", "g", "h", "k"];

#[test]
fn a_body_change_re_checks_no_other_definition() {
    let mut inc = Incremental::new();
    inc.keep_log();
    commit(&mut inc, PROGRAM).unwrap();
    check_all(&inc, &ALL);
    inc.take_log();
    assert_eq!(commit(&mut inc, "fn f(x: int) -> int { x * 100 }").unwrap(), Vec::<Arc<str>>::new());
    check_all(&inc, &ALL);
    // `signature(f)` re-ran and backdated, so g and h kept their memos.
    assert_eq!(checks_run(&inc), vec!["check_def(f)"]);
}

#[test]
fn a_signature_change_re_checks_exactly_its_users() {
    let mut inc = Incremental::new();
    inc.keep_log();
    commit(&mut inc, PROGRAM).unwrap();
    check_all(&inc, &ALL);
    inc.take_log();
    // g and h call f; k does not. h also calls g, whose signature stays.
    let deps = commit(&mut inc, "fn f(x: int) -> int { x }\nfn f2() -> int { 0 }").unwrap();
    assert!(deps.is_empty());
    inc.take_log();
    let deps = commit(&mut inc, "fn f(x: int) -> float { 1.5 }\nfn g() -> int { 2 }").unwrap();
    assert_eq!(deps, vec![Arc::from("h")], "h breaks not, but must be re-checked");
    assert_eq!(checks_run(&inc), vec!["check_def(h)"]);
    check_all(&inc, &ALL);
    assert_eq!(checks_run(&inc), vec!["check_def(f)", "check_def(g)"], "own definitions' first checks");
}

#[test]
fn a_type_change_re_checks_its_users() {
    let mut inc = Incremental::new();
    inc.keep_log();
    commit(&mut inc, "type P { x: int }\nfn getx(p: P) -> int { p.x }\nfn other() -> int { 1 }").unwrap();
    check_all(&inc, &["P", "getx", "other"]);
    inc.take_log();
    assert_eq!(commit(&mut inc, "type P { x: int, y: int = 0 }").unwrap(), vec![Arc::from("getx")]);
    assert_eq!(checks_run(&inc), vec!["check_def(getx)"]);
    assert_eq!(commit(&mut inc, "type P { y: int }"), Err(vec![Arc::from("getx")]));
}

#[test]
fn callers_of_functions_taking_a_changed_type_are_checked_against_its_new_version() {
    let mut inc = Incremental::new();
    commit(&mut inc, "type P { x: int }\nfn getx(p: P) -> int { p.x }").unwrap();
    commit(&mut inc, "fn wrap(p: P) -> int { getx(p) }\nfn top() -> int { wrap(P { x: 1 }) + getx(P { x: 2 }) }")
        .unwrap();
    let deps = commit(&mut inc, "type P { x: int, y: int = 0 }").unwrap();
    assert_eq!(deps, vec![Arc::from("getx"), Arc::from("top"), Arc::from("wrap")]);
    // Without `x`, getx and top (which builds a P with it) break, and wrap,
    // which passes a P to the broken getx, with them.
    let broken = commit(&mut inc, "type P { y: int }");
    assert_eq!(broken, Err(vec![Arc::from("getx"), Arc::from("top"), Arc::from("wrap")]));
}

#[test]
fn a_change_elsewhere_never_changes_a_globals_type_or_keeps_one_that_no_longer_checks() {
    let mut inc = Incremental::new();
    commit(&mut inc, "fn f() -> int { 1 }\nfn k() -> int { 1 }").unwrap();
    commit(&mut inc, "let x = f();\nvar y: int = k();\nfn h() -> int { x + y }").unwrap();
    // `x` would become a `str`: rejected, whatever its users do with it.
    assert_eq!(commit(&mut inc, "fn f() -> str { \"a\" }"), Err(vec![Arc::from("x")]));
    // `y`'s initialiser no longer checks, and no type changed: rejected too.
    assert_eq!(commit(&mut inc, "fn k(a: int) -> int { a }"), Err(vec![Arc::from("y")]));
    // A change they follow is fine.
    assert_eq!(commit(&mut inc, "fn f() -> int { 2 }").unwrap(), Vec::<Arc<str>>::new());
}

#[test]
fn a_redefined_let_is_a_new_cell_for_its_users() {
    let mut inc = Incremental::new();
    inc.keep_log();
    commit(&mut inc, "let x = 1;\nvar v = 1;\nfn f() -> int { x + v }").unwrap();
    assert_eq!(commit(&mut inc, "var v = 5;").unwrap(), Vec::<Arc<str>>::new(), "a var keeps its cell");
    assert_eq!(commit(&mut inc, "let x = 2;").unwrap(), vec![Arc::from("f")]);
}

#[test]
fn a_rejected_change_leaves_the_database_as_it_was() {
    let mut inc = Incremental::new();
    inc.keep_log();
    commit(&mut inc, PROGRAM).unwrap();
    check_all(&inc, &ALL);
    let before: Vec<_> = ALL.iter().map(|n| inc.lookup(n)).collect();
    let rejected = commit(&mut inc, "fn f(x: int) -> bool { true }\nfn new_one() -> int { 1 }");
    assert_eq!(rejected, Err(vec![Arc::from("g")]));
    let after: Vec<_> = ALL.iter().map(|n| inc.lookup(n)).collect();
    assert_eq!(before, after);
    assert!(inc.lookup("new_one").is_none(), "a rejected definition is not in scope");
    inc.take_log();
    check_all(&inc, &ALL);
    // The reverted inputs differ in revision, not in value: checks that read
    // the restored signature re-run once and agree with before.
    assert!(!checks_run(&inc).contains(&"check_def(k)".to_string()));
    // And the rejected change, fixed, goes through.
    let deps = commit(&mut inc, "fn f(x: int) -> bool { true }\nfn g() -> int { 3 }").unwrap();
    assert_eq!(deps, vec![Arc::from("h")]);
}
