use lang::parser::parse;
fn need(src: &str) -> usize {
    let (mut lo, mut hi) = (16 * 1024usize, 64 * 1024 * 1024usize);
    while hi - lo > 16 * 1024 {
        let mid = (lo + hi) / 2;
        let ok = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture"]).env("PROBE_SRC", { std::fs::write("/tmp/probe_src", src).unwrap(); "/tmp/probe_src" }).env("PROBE_STACK", mid.to_string())
            .output().unwrap().status.success();
        if ok { hi = mid } else { lo = mid }
    }
    hi
}
#[test]
fn child() {
    let Ok(path) = std::env::var("PROBE_SRC") else { return }; let src = std::fs::read_to_string(path).unwrap();
    let stack: usize = std::env::var("PROBE_STACK").unwrap().parse().unwrap();
    std::thread::Builder::new().stack_size(stack).spawn(move || { let r = parse(&src); drop(r); }).unwrap().join().unwrap();
}
#[test]
fn probe() {
    for (name, src) in [
        ("paren10000", format!("let x = {}1{};", "(".repeat(10000), ")".repeat(10000))),
        ("vec10000", format!("let x = {}1{};", "[".repeat(10000), "]".repeat(10000))),
        ("brace10000", format!("let x = {}1{};", "{".repeat(10000), "}".repeat(10000))),
        ("if10000", format!("let x = {}1{};", "if x {".repeat(10000), "}".repeat(10000))),
        ("match10000", format!("let x = {}1{};", "match x { _ => ".repeat(10000), "}".repeat(10000))),
        ("closure10000", format!("let x = {}1;", "|x| ".repeat(10000))),
        ("rec10000", format!("let x = {}1{};", "P { a: ".repeat(10000), "}".repeat(10000))),
        ("map10000", format!("let x = {}1{};", "{ 1: ".repeat(10000), "}".repeat(10000))),
        ("neg10000", format!("let x = {}1;", "-".repeat(10000))),
        ("call10000", format!("let x = {}1{};", "f(".repeat(10000), ")".repeat(10000))),
        ("type10000", format!("fn f(x: {}int{}) {{}}", "fn(".repeat(10000), ")".repeat(10000))),
        ("pat10000", format!("match x {{ {}1{} => 1 }}", "E::A(".repeat(10000), ")".repeat(10000))),
        ("exp10000", format!("{}{}", "experiment e { ".repeat(10000), "}".repeat(10000))),
        ("ret10000", format!("let x = {}1;", "return ".repeat(10000))),
        ("latest10000", format!("let x = {}f();", "latest ".repeat(10000))),
        ("fnbody10000", format!("let x = {}1{};", "f(|x| { ".repeat(10000), "})".repeat(10000))),
        ("chain1000", format!("let x = {}1;", "1 + ".repeat(1000))),
        ("chain100k", format!("let x = {}1;", "1 + ".repeat(100000))),
        ("elseif1000", format!("let x = if a {{ 1 }} {} else {{ 3 }};", "else if b { 2 } ".repeat(1000))),
    ] {
        eprintln!("{name}: {} KiB", need(&src) / 1024);
    }
}
