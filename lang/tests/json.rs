//! Checking the JSON builtins of section 14.1: their signatures name the
//! `Json` type of the world they are checked in (the standard library's);
//! without one they are a check error, never a panic.

use lang::check::{Checked, EmptyEnv, Env, check_prelude, check_transaction};
use lang::diagnostic::Diagnostic;
use lang::hir::{Builtin, ExprKind as H};
use lang::parser::parse;
use lang::types::{FnSig, GlobalSig, Ty, TypeInfo};
use std::sync::Arc;

/// World 1: the standard library's types.
struct Prelude(Vec<Arc<TypeInfo>>);

impl Prelude {
    fn new() -> Prelude {
        Prelude(check_prelude().expect("the standard library checks").types)
    }
}

impl Env for Prelude {
    fn function(&self, _: &str) -> Option<FnSig> {
        None
    }
    fn type_info(&self, name: &str) -> Option<Arc<TypeInfo>> {
        self.0.iter().find(|t| &*t.named.name == name).cloned()
    }
    fn global(&self, _: &str) -> Option<GlobalSig> {
        None
    }
    fn names(&self) -> Vec<Arc<str>> {
        self.0.iter().map(|t| t.named.name.clone()).collect()
    }
}

fn check(src: &str, env: &dyn Env) -> Result<Checked, Vec<Diagnostic>> {
    let (prog, syntax) = parse(src);
    assert!(syntax.is_empty(), "{syntax:?}");
    check_transaction(&prog, &Arc::from(src), env)
}

fn first_error(src: &str, env: &dyn Env) -> String {
    match check(src, env) {
        Ok(_) => panic!("{src}: checked without errors"),
        Err(d) => d[0].message.clone(),
    }
}

fn json(env: &Prelude) -> Ty {
    Ty::Named(env.type_info("Json").expect("Json").named.clone())
}

#[test]
fn the_builtins_have_their_section_14_1_signatures() {
    let env = Prelude::new();
    let src = r#"
fn parse_it(s: str) -> Json { json_parse(s) }
fn text_of(j: Json) -> str { json_text(j) }
fn name_of(j: Json) -> Json { json_get(j, "name") }
json_text(json_get(json_parse("{}"), "a"))
"#;
    let checked = check(src, &env).unwrap_or_else(|d| panic!("{d:?}"));
    let sig = |name: &str| checked.fns.iter().find(|f| &*f.name == name).expect(name).sig.clone();
    assert_eq!(sig("parse_it").ret, json(&env));
    assert_eq!(sig("name_of").params[0].1, json(&env));
    // The expression is a call of `json_text` typed `str`, over the others.
    let body = &checked.exprs[0].body.body;
    assert_eq!(body.ty, Ty::Str);
    let H::Builtin { op: Builtin::JsonText, args } = &body.kind else { panic!("{:?}", body.kind) };
    assert_eq!(args[0].ty, json(&env));
    assert!(matches!(args[0].kind, H::Builtin { op: Builtin::JsonGet, .. }));
}

#[test]
fn arguments_of_the_wrong_type_or_number_are_reported() {
    let env = Prelude::new();
    let e = first_error("json_parse(1)", &env);
    assert!(e.starts_with("type mismatch: expected `str`, found `int`"), "{e}");
    let e = first_error(r#"json_text("x")"#, &env);
    assert!(e.starts_with("type mismatch: expected `Json`, found `str`"), "{e}");
    let e = first_error(r#"json_get(Json::Null, 1)"#, &env);
    assert!(e.starts_with("type mismatch"), "{e}");
    let e = first_error("json_get(Json::Null)", &env);
    assert!(e.starts_with("wrong number of arguments"), "{e}");
    let e = first_error(r#"let x: int = json_parse("1");"#, &env);
    assert!(e.starts_with("type mismatch: expected `int`, found `Json`"), "{e}");
}

#[test]
fn without_a_json_type_the_builtins_are_a_check_error() {
    for src in [r#"json_parse("1")"#, "json_text(1)", r#"json_get(1, "a")"#] {
        let e = first_error(src, &EmptyEnv);
        assert!(e.starts_with("unknown name: ") && e.contains("`Json`"), "{src}: {e}");
    }
}

#[test]
fn the_names_stay_reserved() {
    let env = Prelude::new();
    for src in ["fn json_parse(s: str) -> int { 1 }", "let json_get = 1;", "fn f() -> int { 1 }\nlet json_text = 2;"] {
        let e = first_error(src, &env);
        assert!(e.starts_with("reserved name"), "{src}: {e}");
    }
}
