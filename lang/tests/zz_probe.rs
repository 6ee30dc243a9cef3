use lang::parser::parse;
fn need(src: &str) -> usize {
    let (mut lo, mut hi) = (16 * 1024usize, 64 * 1024 * 1024usize);
    while hi - lo > 16 * 1024 {
        let mid = (lo + hi) / 2;
        let s = src.to_string();
        // child process-free probe: a thread overflow aborts, so use a subprocess
        let ok = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture"]).env("PROBE_SRC", &s).env("PROBE_STACK", mid.to_string())
            .output().unwrap().status.success();
        if ok { hi = mid } else { lo = mid }
    }
    hi
}
#[test]
fn child() {
    let Ok(src) = std::env::var("PROBE_SRC") else { return };
    let stack: usize = std::env::var("PROBE_STACK").unwrap().parse().unwrap();
    std::thread::Builder::new().stack_size(stack).spawn(move || { let r = parse(&src); drop(r); }).unwrap().join().unwrap();
}
#[test]
fn probe() {
    for (name, src) in [
        ("paren255", format!("let x = {}1{};", "(".repeat(255), ")".repeat(255))),
        ("paren10000", format!("let x = {}1{};", "(".repeat(10000), ")".repeat(10000))),
        ("vec10000", format!("let x = {}1{};", "[".repeat(10000), "]".repeat(10000))),
        ("brace10000", format!("let x = {}1{};", "{".repeat(10000), "}".repeat(10000))),
        ("if10000", format!("let x = {}1{};", "if x {".repeat(10000), "}".repeat(10000))),
        ("neg10000", format!("let x = {}1;", "-".repeat(10000))),
        ("call200", format!("let x = {}1{};", "f(".repeat(200), ")".repeat(200))),
    ] {
        eprintln!("{name}: {} KiB", need(&src) / 1024);
    }
}
