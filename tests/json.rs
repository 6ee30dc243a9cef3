//! The JSON builtins of SPEC 14.1 end to end: `strata run --check-leaks` on
//! small programs, with the standard library's `Json` type from world 1.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const STRATA: &str = env!("CARGO_BIN_EXE_strata");

/// Runs `src` as a file with `strata run --check-leaks`.
fn run(src: &str) -> Output {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir =
        std::env::temp_dir().join(format!("strata-json-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("prog.strata");
    std::fs::write(&file, src).unwrap();
    let out = Command::new(STRATA).arg("run").arg("--check-leaks").arg(&file).output().expect("strata runs");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `src` runs cleanly and prints `want`, one line each.
fn prints(src: &str, want: &[&str]) {
    let o = run(src);
    assert!(o.status.success(), "{src}\nexit {:?}\nstderr: {}", o.status, stderr(&o));
    let got: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(got, want, "{src}");
}

/// `src` prints `want`, then fails (exit 1) with an error containing `phrase`.
fn fails(src: &str, want: &[&str], phrase: &str) {
    let o = run(src);
    assert_eq!(o.status.code(), Some(1), "{src}\nstderr: {}", stderr(&o));
    let got: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(got, want, "{src}");
    let err = stderr(&o);
    assert!(err.lines().any(|l| l.starts_with("error") && l.contains(phrase)), "{src}\nstderr: {err}");
    assert!(!err.contains("panicked") && !err.contains("leak:"), "{err}");
}

#[test]
fn parse_and_text_round_trip() {
    prints(
        r#"
print(json_text(json_parse("{\"b\":[1,2.5,null],\"a\":\"x\\n\"}")));
print(json_text(json_parse(" [ true , false , {} , [] , -0 , 1E2 , \"\\u00e9\\t\" ] ")));
print(json_text(json_parse("{\"a\":1,\"a\":{\"z\":0,\"y\":[]}}")));
print(json_parse("[9223372036854775807, 9223372036854775808, 1.5]"));
"#,
        &[
            r#"{"a":"x\n","b":[1,2.5,null]}"#,
            r#"[true,false,{},[],0,100.0,"é\t"]"#,
            r#"{"a":{"y":[],"z":0}}"#,
            "Json::Arr([Json::Int(9223372036854775807), Json::Num(9.223372036854776e18), Json::Num(1.5)])",
        ],
    );
}

#[test]
fn the_serve_example_handler_works() {
    prints(
        r#"
fn reply(body: str, hits: int) -> str {
    let j = json_parse(body);
    json_text(Json::Obj({"name": json_get(j, "name"), "hits": Json::Int(hits)}))
}
fn greet(body: str) -> str {
    let name = match json_get(json_parse(body), "name") { Json::Str(s) => s, _ => "world" };
    "hello " + name
}
print(reply("{\"name\":\"bo\",\"x\":[1,2.5,null]}", 3));
print(greet("{\"name\":\"ann\"}"));
print(greet("[]"));
print(json_get(json_parse("{\"x\":[1,2.5,null]}"), "x"));
print(json_get(Json::Str("name"), "name"));
"#,
        &[
            r#"{"hits":3,"name":"bo"}"#,
            "hello ann",
            "hello world",
            "Json::Arr([Json::Int(1), Json::Num(2.5), Json::Null])",
            "Json::Null",
        ],
    );
}

#[test]
fn text_writes_floats_as_print_does_and_escapes_little() {
    prints(
        r#"
print(json_text(Json::Arr([Json::Num(0.1), Json::Num(1.0), Json::Num(1e300), Json::Num(-0.0)])));
print(json_text(Json::Str("q\" b\\ n\n r\r t\t z\0 é/")));
"#,
        &["[0.1,1.0,1e300,-0.0]", r#""q\" b\\ n\n r\r t\t z\u0000 é/""#],
    );
}

#[test]
fn bad_json_is_invalid_json_with_a_byte_offset() {
    fails(
        r#"
print("before");
print(json_parse("{\"ab\": }"));
"#,
        &["before"],
        "invalid json at byte 7: expected value",
    );
    fails(r#"print(json_parse(""))"#, &[], "invalid json at byte 0");
    let deep = format!("print(json_parse(\"{}\"))", "[".repeat(10_000));
    fails(&deep, &[], "invalid json");
}

#[test]
fn nan_and_infinity_are_invalid_arguments() {
    fails("print(json_text(Json::Num(0.0 / 0.0)))", &[], "invalid argument");
    fails(r#"print(json_text(Json::Obj({"a": Json::Num(-1.0 / 0.0)})))"#, &[], "invalid argument");
}

#[test]
fn deep_values_are_written_without_a_crash() {
    prints(
        r#"
fn deep(n: int) -> Json {
    var j = Json::Int(1);
    for i in 0..n { j = Json::Arr([j]); }
    j
}
print(len(json_text(deep(300000))));
"#,
        &["600001"],
    );
}

#[test]
fn the_names_are_reserved() {
    fails("fn json_text(j: int) -> str { \"\" }\nprint(1)", &[], "reserved name");
}
