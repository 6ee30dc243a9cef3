use lang::check::{EmptyEnv, check_transaction};
use lang::parser::parse;
use std::sync::Arc;
fn need(src: &str) -> usize {
    let (mut lo, mut hi) = (16 * 1024usize, 64 * 1024 * 1024usize);
    while hi - lo > 16 * 1024 {
        let mid = (lo + hi) / 2;
        let ok = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture"]).env("PROBE_SRC", src).env("PROBE_STACK", mid.to_string())
            .output().unwrap().status.success();
        if ok { hi = mid } else { lo = mid }
    }
    hi
}
#[test]
fn child() {
    let Ok(src) = std::env::var("PROBE_SRC") else { return };
    let stack: usize = std::env::var("PROBE_STACK").unwrap().parse().unwrap();
    std::thread::Builder::new().stack_size(stack).spawn(move || {
        let (p, _) = parse(&src);
        let s: Arc<str> = Arc::from(src.as_str());
        let r = check_transaction(&p, &s, &EmptyEnv);
        drop(r); drop(p);
    }).unwrap().join().unwrap();
}
#[test]
fn probe() {
    eprintln!("sizeof hir::Expr {}", std::mem::size_of::<lang::hir::Expr>());
    for (name, src) in [
        ("parse-only-sum1000", String::new()),
        ("sum100", format!("let x = {};", vec!["1"; 100].join(" + "))),
        ("sum1000", format!("let x = {};", vec!["1"; 1000].join(" + "))),
        ("paren250", format!("let x = {}1{};", "(".repeat(250), ")".repeat(250))),
        ("blocks250", format!("fn f() -> int {{ {}1{} }}", "{ ".repeat(250), " }".repeat(250))),
        ("ifs250", format!("fn f(c: bool) -> int {{ {}1{} }}", "if c { ".repeat(250), " } else { 0 }".repeat(250))),
        ("vecs250", format!("let x = {}1{};", "[".repeat(250), "]".repeat(250))),
        ("field1000", format!("let x = p{};", ".a".repeat(1000))),
        ("calls250", format!("let x = {}1{};", "abs(".repeat(250), ")".repeat(250))),
        ("push250", format!("let x = {}1{};", "push([1], ".repeat(250), ")".repeat(250))),
        ("ufn250", format!("fn f(x: int) -> int {{ x }}\nlet x = {}1{};", "f(".repeat(250), ")".repeat(250))),
        ("elseif1000", format!("fn f(c: bool) -> int {{ {}{{ 1 }} }}", "if c { 1 } else ".repeat(1000))),
        ("callchain1000", format!("let x = f{};", "(1)".repeat(1000))),
        ("idx1000", format!("let x = p{};", "[0]".repeat(1000))),
        ("closures250", format!("fn ap(f: fn(int) -> int, x: int) -> int {{ f(x) }}\nlet x = {}1{};", "ap(|x| ".repeat(250), ", 1)".repeat(250))),
        ("match250", format!("let x = {}1{};", "match 1 { _ => ".repeat(250), " }".repeat(250))),
        ("neg250", format!("let x = {}1;", "-".repeat(250))),
        ("rec250", format!("type P {{ a: int }}\nlet x = {}1{};", "P { a: ".repeat(250), " }.a".repeat(250))),
    ] {
        eprintln!("{name}: {} KiB", need(&src) / 1024);
    }
}
