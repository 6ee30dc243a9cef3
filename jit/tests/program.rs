//! The engine through its API: commit transactions as worlds, run their
//! expressions, and check what the dispatch tables, pinning, interrupts and
//! code freeing promise. (Parsing and checking come from `lang`, as the
//! `strata` binary wires them.)

use jit::abi::Output;
use jit::eval::{EvalOptions, OwnedValue};
use jit::program::{Program, Texts, Thunk};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Output for Lines {
    fn write_line(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_string());
    }
}

fn options(timeout: Option<Duration>) -> EvalOptions {
    EvalOptions { timeout, ..EvalOptions::new(Box::new(Lines::default())) }
}

/// Parses, checks (against the newest world) and commits `src`.
fn commit(p: &mut Program, src: &str) -> Vec<Thunk> {
    let (prog, diags) = lang::parser::parse(src);
    assert!(diags.is_empty(), "{diags:?}");
    let src: Arc<str> = Arc::from(src);
    let world = p.newest();
    let checked = lang::check::check_transaction(&prog, &src, &*world).expect("checks");
    let no_log = |_: &std::collections::HashMap<Arc<str>, u32>| String::new();
    p.commit(&checked, &Texts::default(), &[], &no_log, &|| options(None)).expect("commits").exprs
}

fn run(p: &Program, t: &Thunk, timeout: Option<Duration>) -> Result<OwnedValue, jit::abi::RuntimeError> {
    jit::program::run(&p.shared, t, options(timeout))
}

#[test]
fn an_expression_runs_in_its_world_and_new_ones_see_the_new_code() {
    let mut p = Program::new();
    commit(&mut p, "fn f() -> int { 1 }\nfn g() -> int { f() * 10 }");
    let old = commit(&mut p, "g()");
    commit(&mut p, "fn f() -> int { 2 }");
    let new = commit(&mut p, "g()");
    // `g` was compiled once; its call of `f` goes through each world's table.
    assert_eq!(run(&p, &old[0], None).unwrap().display(false), "10");
    assert_eq!(run(&p, &new[0], None).unwrap().display(false), "20");
    // Expression-only transactions create no world: 1 (stdlib), f+g, f v2.
    assert_eq!(p.newest().age, 3);
}

#[test]
fn a_timeout_stops_a_dead_loop_and_the_engine_goes_on() {
    let mut p = Program::new();
    let spin = commit(&mut p, "fn spin() -> int { var i = 0; while true { i += 1; } i }\nspin()");
    let err = run(&p, &spin[0], Some(Duration::from_millis(50))).err().expect("stopped");
    assert!(err.message.starts_with("timeout"), "{}", err.message);
    assert_eq!(err.frames[0].function, "spin v1");
    let ok = commit(&mut p, "1 + 1");
    assert_eq!(run(&p, &ok[0], None).unwrap().display(false), "2");
}

#[test]
fn code_no_world_can_reach_is_freed() {
    let mut p = Program::new();
    commit(&mut p, "fn f(x: int) -> int { x }");
    let before = jit::codegen::live_units();
    for k in 0..50 {
        commit(&mut p, &format!("fn f(x: int) -> int {{ x + {k} }}"));
    }
    // Each redefinition's unit replaced the previous one, which was freed
    // (other tests run in parallel, so allow for their units).
    let after = jit::codegen::live_units();
    assert!(after < before + 10, "units before {before}, after {after}");
    let t = commit(&mut p, "f(1)");
    assert_eq!(run(&p, &t[0], None).unwrap().display(false), "50");
}

#[test]
fn a_global_call_loads_its_callee_from_the_table() {
    let mut p = Program::new();
    commit(&mut p, "fn h() -> int { 1 }\nfn k() -> int { h() + 1 }");
    let world = p.newest();
    let src: Arc<str> = Arc::from("fn k() -> int { h() + 1 }");
    let (prog, _) = lang::parser::parse(&src);
    let checked = lang::check::check_transaction(&prog, &src, &*world).expect("checks");
    let clif = jit::codegen::clif_text(&*world, &checked.fns[0].body).expect("compiles");
    assert!(clif.contains("call_indirect"), "{clif}");
    assert!(clif.contains("load.i64 notrap aligned readonly"), "{clif}");
}

/// A resolver that fails the way a compiler bug would: by panicking.
struct Exploding;

impl jit::codegen::TypeKeys for Exploding {
    fn type_key(&self, _: &lang::types::NamedTy) -> u32 {
        panic!("boom: no type keys here")
    }
}

impl jit::codegen::Resolver for Exploding {
    fn fn_slot(&self, _: &str) -> u32 {
        panic!("boom: no slots here")
    }
    fn fn_sig(&self, _: &str) -> Option<lang::types::FnSig> {
        panic!("boom: no signatures here")
    }
    fn global_id(&self, _: &str) -> u32 {
        panic!("boom: no globals here")
    }
    fn type_info(&self, _: &lang::types::NamedTy) -> Option<Arc<lang::types::TypeInfo>> {
        panic!("boom: no types here")
    }
    fn frame_id(&self, _: &str) -> u32 {
        panic!("boom: no frames here")
    }
}

#[test]
fn a_panic_in_the_compiler_fails_that_unit_only() {
    let src: Arc<str> = Arc::from("fn f() -> int { g() }\nfn g() -> int { 1 }");
    let (prog, _) = lang::parser::parse(&src);
    let checked = lang::check::check_transaction(&prog, &src, &lang::check::EmptyEnv).expect("checks");
    let bodies: Vec<&lang::hir::Body> = checked.fns.iter().map(|f| &f.body).collect();
    let err = jit::codegen::compile_unit(&Exploding, &bodies, &[]).err().expect("fails");
    assert!(err.0.starts_with("the compiler failed: boom"), "{}", err.0);
    // The engine still compiles and runs.
    let mut p = Program::new();
    let t = commit(&mut p, "1 + 1");
    assert_eq!(run(&p, &t[0], None).expect("runs").display(false), "2");
}
