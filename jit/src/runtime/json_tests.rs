//! Tests of the JSON builtins (section 14.1): the runtime functions on a
//! test copy of the `Json` layout, the helpers' errors and reference
//! counts, and whole programs through the engine with the standard library
//! installed. Test layouts use versions >= 90_000 (see `tests.rs`).

use super::heap::{dec, rt_alloc_enum, slot_ptr, thread_live_objects};
use super::json::{self, JsonType, json_str};
use super::string::{new_str, str_value};
use super::tests::{Capture, TestCtx};
use super::types::{Layout, LayoutKind, RType, TD_BOOL, TD_FLOAT, TD_INT, TD_STR, reserve_type_key, set_layout, tdesc};
use super::vector::{VecData, new_vec};
use crate::abi::Header;

/// The tdesc of a `Json`-shaped enum registered for these tests.
fn json_td() -> u32 {
    static TD: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *TD.get_or_init(|| {
        let key = reserve_type_key("JsonTestJson", 90_001);
        let me = tdesc(RType::Named(key));
        let variants = vec![
            ("Null".to_string(), vec![]),
            ("Bool".to_string(), vec![TD_BOOL]),
            ("Int".to_string(), vec![TD_INT]),
            ("Num".to_string(), vec![TD_FLOAT]),
            ("Str".to_string(), vec![TD_STR]),
            ("Arr".to_string(), vec![tdesc(RType::Vec(me))]),
            ("Obj".to_string(), vec![tdesc(RType::Map(TD_STR, me))]),
        ];
        set_layout(key, Layout { name: "JsonTestJson".into(), version: 90_001, kind: LayoutKind::Enum { variants } });
        me
    })
}

/// `json_text(json_parse(src))`, or the first error.
fn round(src: &str) -> Result<String, String> {
    let v = json::parse(src, json_td())?;
    // SAFETY: `v` is a live `Json` we own.
    let out = unsafe { json::text(v) };
    // SAFETY: as above.
    unsafe { dec(v as *const Header) };
    out
}

fn parse_err(src: &str) -> String {
    match json::parse(src, json_td()) {
        Ok(v) => {
            // SAFETY: a live value we own.
            unsafe { dec(v as *const Header) };
            panic!("{src:?} parsed")
        }
        Err(e) => e,
    }
}

/// The display form of a parsed document (to see `Int` from `Num`).
fn shown(src: &str) -> String {
    let v = json::parse(src, json_td()).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    // SAFETY: a live `Json` we own.
    let out = unsafe { super::display(v, json_td(), false) };
    // SAFETY: as above.
    unsafe { dec(v as *const Header) };
    out
}

#[test]
fn documents_round_trip_compactly_with_sorted_keys() {
    let before = thread_live_objects();
    assert_eq!(round(r#"{"b":[1,2.5,null],"a":"x\n"}"#).unwrap(), r#"{"a":"x\n","b":[1,2.5,null]}"#);
    assert_eq!(
        round(" { \"name\" : \"bo\" , \"x\" : [ 1 , 2.5 , null ] } ").unwrap(),
        r#"{"name":"bo","x":[1,2.5,null]}"#
    );
    assert_eq!(round("[]").unwrap(), "[]");
    assert_eq!(round("{}").unwrap(), "{}");
    assert_eq!(round("[true,false,null,{}]").unwrap(), "[true,false,null,{}]");
    assert_eq!(round(r#""\u00e9\/\b\f\u0001\"\\\t\r""#).unwrap(), "\"é/\\u0008\\u000c\\u0001\\\"\\\\\\t\\r\"");
    assert_eq!(round("0.1").unwrap(), "0.1");
    assert_eq!(round("1.0").unwrap(), "1.0");
    assert_eq!(round("1e300").unwrap(), "1e300");
    assert_eq!(round("-2.5E-3").unwrap(), "-0.0025");
    // Keys in code point order, as map keys are.
    assert_eq!(round(r#"{"é":1,"z":2,"Z":3,"":4}"#).unwrap(), r#"{"":4,"Z":3,"z":2,"é":1}"#);
    assert_eq!(thread_live_objects(), before, "parse and text leak nothing");
}

#[test]
fn numbers_are_int_only_without_point_or_exponent_and_within_i64() {
    assert_eq!(shown("1"), "JsonTestJson::Int(1)");
    assert_eq!(shown("-0"), "JsonTestJson::Int(0)");
    assert_eq!(shown("9223372036854775807"), "JsonTestJson::Int(9223372036854775807)");
    assert_eq!(shown("-9223372036854775808"), "JsonTestJson::Int(-9223372036854775808)");
    assert_eq!(shown("9223372036854775808"), "JsonTestJson::Num(9.223372036854776e18)");
    assert_eq!(shown("-9223372036854775809"), "JsonTestJson::Num(-9.223372036854776e18)");
    assert_eq!(shown("123456789012345678901234567890"), "JsonTestJson::Num(1.2345678901234568e29)");
    assert_eq!(shown("1.0"), "JsonTestJson::Num(1.0)");
    assert_eq!(shown("1e2"), "JsonTestJson::Num(100.0)");
    assert_eq!(shown("1E2"), "JsonTestJson::Num(100.0)");
    assert_eq!(shown("-0.0"), "JsonTestJson::Num(-0.0)");
    assert_eq!(shown("1e400"), "JsonTestJson::Num(inf)");
    assert_eq!(
        shown("[0.1, 0.30000000000000004]"),
        "JsonTestJson::Arr([JsonTestJson::Num(0.1), JsonTestJson::Num(0.30000000000000004)])"
    );
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    assert_eq!(round(r#"{"a":1,"b":2,"a":3}"#).unwrap(), r#"{"a":3,"b":2}"#);
    assert_eq!(round(r#"{"a":{"x":1},"a":[2]}"#).unwrap(), r#"{"a":[2]}"#);
}

#[test]
fn bad_input_is_invalid_json_at_a_byte_offset() {
    assert_eq!(parse_err(r#"{"ab": }"#), "invalid json at byte 7: expected value");
    assert_eq!(parse_err("[1 2]"), "invalid json at byte 3: expected `,` or `]`");
    assert_eq!(parse_err("[1,]"), "invalid json at byte 3: trailing comma");
    assert_eq!(parse_err("  1  2"), "invalid json at byte 5: trailing characters");
    assert_eq!(parse_err("01"), "invalid json at byte 1: invalid number");
    assert_eq!(parse_err("[\n  1,\n  x]"), "invalid json at byte 9: expected value");
    assert_eq!(
        parse_err("\"é\u{1}\""),
        "invalid json at byte 3: control character (\\u0000-\\u001F) found while parsing a string"
    );
    // Too short: the offset is the end of the text.
    assert_eq!(parse_err(""), "invalid json at byte 0: EOF while parsing a value");
    assert_eq!(parse_err(r#"{"a":1"#), "invalid json at byte 6: EOF while parsing an object");
    assert_eq!(parse_err("[\n"), "invalid json at byte 2: EOF while parsing a list");
    for bad in ["nul", "'a'", "{a:1}", "NaN", "Infinity", "+1", ".5", "1.", "\"\\x\"", "\"\\ud800\"", "[1,2", "{\"a\"}"]
    {
        assert!(parse_err(bad).starts_with("invalid json at byte "), "{bad:?}");
    }
}

#[test]
fn too_deep_documents_are_invalid_json_not_a_crash() {
    let deep = "[".repeat(100_000);
    let e = parse_err(&deep);
    assert!(e.starts_with("invalid json at byte 127: recursion limit exceeded"), "{e}");
    let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(round(&ok).unwrap(), ok);
}

/// `depth` nested `Arr([...])` around `Null`, built by hand.
fn nested(depth: usize) -> u64 {
    let t = JsonType::of_tdesc(json_td()).unwrap();
    let mut v = t.null() as u64;
    for _ in 0..depth {
        // SAFETY: `v` is owned and given to the vector.
        let items = VecData::Refs(std::iter::once(unsafe { super::HeapRef::from_owned(v as *const Header) }).collect());
        let xs = new_vec(items);
        // SAFETY: the variant gets its one slot at once (tag 5 is `Arr`).
        unsafe {
            let p = rt_alloc_enum(t.key, 5, 1);
            *slot_ptr(p, 0) = xs as u64;
            v = p as u64;
        }
    }
    v
}

#[test]
fn text_of_a_very_deep_value_needs_no_deep_recursion() {
    let depth = 200_000;
    let v = nested(depth);
    let run = move || {
        // SAFETY: a live `Json` we own.
        let out = unsafe { json::text(v) }.unwrap();
        // SAFETY: as above.
        unsafe { dec(v as *const Header) };
        out
    };
    // A small stack: the walk is iterative.
    let out = std::thread::Builder::new().stack_size(256 * 1024).spawn(run).unwrap().join().unwrap();
    assert!(out == format!("{}null{}", "[".repeat(depth), "]".repeat(depth)));
}

#[test]
fn strings_escape_only_quote_backslash_and_control_characters() {
    assert_eq!(json_str("a\"b\\c\nd\re\tf"), r#""a\"b\\c\nd\re\tf""#);
    assert_eq!(json_str("\0\u{1f} \u{7f}é/€😀"), "\"\\u0000\\u001f \u{7f}é/€😀\"");
    assert_eq!(json_str(""), "\"\"");
}

// ---------------------------------------------------------------------------
// The helpers, with an evaluation context.

#[test]
fn helpers_raise_their_errors_and_return_owned_values() {
    let before = thread_live_objects();
    let mut cx = TestCtx::new();
    let td = json_td();
    // SAFETY (whole test): live strings and `Json` values, references owned
    // by the test released once.
    unsafe {
        let bad = new_str("[1, 2,, 3]");
        assert!(json::rt_json_parse(cx.ptr(), bad, td).is_null());
        assert_eq!(cx.take_err().unwrap(), "invalid json at byte 6: expected value");
        dec(bad);

        let src = new_str(r#"{"name":"bo","x":[1,2.5,null],"n":{"k":true}}"#);
        let j = json::rt_json_parse(cx.ptr(), src, td);
        assert!(cx.take_err().is_none());
        dec(src);

        let key = new_str("name");
        let name = json::rt_json_get(cx.ptr(), j, key, td);
        assert_eq!(super::display(name as u64, td, false), "JsonTestJson::Str(\"bo\")");
        let missing = new_str("nope");
        let null = json::rt_json_get(cx.ptr(), j, missing, td);
        assert_eq!(super::display(null as u64, td, false), "JsonTestJson::Null");
        // Not an object: `Null` too.
        let of_str = json::rt_json_get(cx.ptr(), name, key, td);
        assert_eq!(super::display(of_str as u64, td, false), "JsonTestJson::Null");
        assert!(cx.take_err().is_none());

        let t = json::rt_json_text(cx.ptr(), j);
        assert_eq!(str_value(t), r#"{"n":{"k":true},"name":"bo","x":[1,2.5,null]}"#);
        let tn = json::rt_json_text(cx.ptr(), name);
        assert_eq!(str_value(tn), r#""bo""#);
        for p in [t, tn, name, null, of_str, j, key, missing] {
            dec(p);
        }

        // NaN and infinities have no JSON form.
        let ty = JsonType::of_tdesc(td).unwrap();
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let num = rt_alloc_enum(ty.key, 3, 1);
            *slot_ptr(num, 0) = f.to_bits();
            let arr = new_vec(VecData::Refs(std::iter::once(super::HeapRef::from_owned(num)).collect()));
            let wrapped = rt_alloc_enum(ty.key, 5, 1);
            *slot_ptr(wrapped, 0) = arr as u64;
            assert!(json::rt_json_text(cx.ptr(), wrapped).is_null());
            let e = cx.take_err().unwrap();
            assert!(e.starts_with("invalid argument: "), "{e}");
            dec(wrapped);
        }
    }
    assert_eq!(thread_live_objects(), before, "helpers leak nothing");
}

#[test]
fn a_type_that_is_not_json_is_an_internal_error_not_a_panic() {
    assert!(json::parse("1", TD_INT).unwrap_err().starts_with("internal error"));
    let key = reserve_type_key("JsonTestNotJson", 90_002);
    set_layout(
        key,
        Layout {
            name: "JsonTestNotJson".into(),
            version: 90_002,
            kind: LayoutKind::Enum { variants: vec![("Null".into(), vec![])] },
        },
    );
    let e = json::parse("1", tdesc(RType::Named(key))).unwrap_err();
    assert!(e.starts_with("internal error") && e.contains("Bool"), "{e}");
}

// ---------------------------------------------------------------------------
// Whole programs through the engine, with the standard library in world 1.

mod engine {
    use crate::eval::EvalOptions;
    use crate::program::{Program, Texts};
    use std::sync::Arc;

    fn options() -> EvalOptions {
        EvalOptions::new(Box::new(super::Capture::default()))
    }

    fn program() -> Program {
        let mut p = Program::new();
        let prelude = lang::check::check_prelude().expect("the standard library checks");
        p.install_prelude(&prelude);
        p
    }

    /// Commits the definitions `defs`, then runs each expression as its own
    /// input: its display form, or its error message.
    fn run(p: &mut Program, defs: &str, exprs: &[&str]) -> Vec<Result<String, String>> {
        commit(p, defs);
        exprs
            .iter()
            .map(|e| {
                let thunks = commit(p, e);
                assert_eq!(thunks.len(), 1, "{e}");
                crate::program::run(&p.shared, &thunks[0], options()).map(|v| v.display(false)).map_err(|e| e.message)
            })
            .collect()
    }

    fn commit(p: &mut Program, src: &str) -> Vec<crate::program::Thunk> {
        let (prog, diags) = lang::parser::parse(src);
        assert!(diags.is_empty(), "{src}: {diags:?}");
        let text: Arc<str> = Arc::from(src);
        let world = p.newest();
        let checked = lang::check::check_transaction(&prog, &text, &*world)
            .unwrap_or_else(|d| panic!("{src}: {}", lang::diagnostic::render(&d, "test", src)));
        let no_log = |_: &std::collections::HashMap<Arc<str>, u32>| String::new();
        p.commit(&checked, &Texts::default(), &[], &no_log, &options).expect("commits").exprs
    }

    fn oks(xs: &[&str]) -> Vec<Result<String, String>> {
        xs.iter().map(|x| Ok(x.to_string())).collect()
    }

    #[test]
    fn programs_parse_write_and_read_json() {
        let mut p = program();
        let defs = r#"
fn reply(body: str, hits: int) -> str {
    let j = json_parse(body);
    json_text(Json::Obj({"name": json_get(j, "name"), "hits": Json::Int(hits)}))
}
fn name_of(body: str) -> str {
    match json_get(json_parse(body), "name") { Json::Str(s) => s, _ => "world" }
}
"#;
        let got = run(
            &mut p,
            defs,
            &[
                r#"json_text(json_parse("{\"b\":[1,2.5,null],\"a\":\"x\\n\"}"))"#,
                r#"reply("{\"name\":\"bo\",\"x\":[1,2.5,null]}", 3)"#,
                r#"name_of("{\"name\":\"ann\"}")"#,
                r#"name_of("[1]")"#,
                r#"json_get(json_parse("{\"x\":[1,2.5,null]}"), "x")"#,
                r#"json_get(Json::Int(1), "x")"#,
                r#"json_parse("[1, 1.5, -0, 1e400]")"#,
                r#"json_text(Json::Arr([Json::Num(0.1), Json::Num(1e300), Json::Num(-0.0), Json::Bool(true), Json::Null]))"#,
                r#"json_text(Json::Str("tab\there \"q\" \\ \0"))"#,
            ],
        );
        let want = oks(&[
            r#"{"a":"x\n","b":[1,2.5,null]}"#,
            r#"{"hits":3,"name":"bo"}"#,
            "ann",
            "world",
            "Json::Arr([Json::Int(1), Json::Num(2.5), Json::Null])",
            "Json::Null",
            "Json::Arr([Json::Int(1), Json::Num(1.5), Json::Int(0), Json::Num(inf)])",
            "[0.1,1e300,-0.0,true,null]",
            r#""tab\there \"q\" \\ \u0000""#,
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn runtime_errors_are_invalid_json_and_invalid_argument() {
        let mut p = program();
        let got = run(
            &mut p,
            "",
            &[
                r#"json_parse("{\"ab\": }")"#,
                "json_text(Json::Num(0.0 / 0.0))",
                r#"json_text(Json::Obj({"a": Json::Arr([Json::Num(1.0 / 0.0)])}))"#,
                r#"json_parse("[1,")"#,
            ],
        );
        let msgs: Vec<String> = got.into_iter().map(|r| r.expect_err("fails")).collect();
        assert_eq!(msgs[0], "invalid json at byte 7: expected value");
        assert!(msgs[1].starts_with("invalid argument: ") && msgs[1].contains("NaN"), "{}", msgs[1]);
        assert!(msgs[2].starts_with("invalid argument: ") && msgs[2].contains("inf"), "{}", msgs[2]);
        assert_eq!(msgs[3], "invalid json at byte 3: EOF while parsing a value");
    }

    #[test]
    fn deep_values_built_by_programs_are_written_without_recursion() {
        let mut p = program();
        let defs = r#"
fn deep(n: int) -> Json {
    var j = Json::Null;
    for i in 0..n { j = Json::Arr([j]); }
    j
}
"#;
        let got = run(&mut p, defs, &["len(json_text(deep(100000)))", "json_parse(json_text(deep(200)))"]);
        assert_eq!(got[0], Ok("200004".to_string()));
        let e = got[1].clone().expect_err("too deep for the parser");
        assert!(e.starts_with("invalid json at byte 127: recursion limit exceeded"), "{e}");
    }

    #[test]
    fn json_values_are_ordinary_values() {
        let mut p = program();
        let defs = r#"
var docs: [Json] = [];
fn add(s: str) -> int { docs = push(docs, json_parse(s)); len(docs) }
"#;
        let got = run(
            &mut p,
            defs,
            &[
                r#"add("{\"k\": [true, \"v\"]}")"#,
                r#"add("7")"#,
                r#"json_parse("{\"a\":1}") == Json::Obj({"a": Json::Int(1)})"#,
                "json_text(Json::Arr(docs))",
                r#"str(json_get(docs[0], "k"))"#,
            ],
        );
        let want =
            oks(&["1", "2", "true", r#"[{"k":[true,"v"]},7]"#, r#"Json::Arr([Json::Bool(true), Json::Str("v")])"#]);
        assert_eq!(got, want);
    }
}
