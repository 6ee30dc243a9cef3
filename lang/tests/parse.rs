//! Parser tests: the conformance sources, precedence, map-vs-block, record
//! literals in conditions, `is_incomplete`, recovery, and no-panic fuzzing.

use lang::ast::*;
use lang::parser::{is_incomplete, parse};
use proptest::prelude::*;

mod common;
use common::{conformance_dir, conformance_files, mutate, sources};

/// The inputs of a `.repl` transcript (section 13), REPL commands left out.
fn repl_inputs(text: &str) -> Vec<String> {
    common::repl_inputs(text).into_iter().map(|(i, _)| i).collect()
}

fn parse_ok(src: &str) -> Program {
    let (program, diagnostics) = parse(src);
    assert!(diagnostics.is_empty(), "unexpected errors in {src:?}: {diagnostics:#?}");
    program
}

fn syntax_errors(src: &str) -> Vec<lang::diagnostic::Diagnostic> {
    let (_, diagnostics) = parse(src);
    for d in &diagnostics {
        assert!(d.message.starts_with("syntax error"), "{src:?}: {}", d.message);
        assert!(d.span.start <= d.span.end && d.span.end as usize <= src.len(), "{src:?}: bad span {:?}", d.span);
        assert!(!d.label.is_empty(), "{src:?}: no label on {}", d.message);
    }
    diagnostics
}

/// The single top-level expression of `src`.
fn expr(src: &str) -> Expr {
    let mut program = parse_ok(src);
    assert_eq!(program.items.len(), 1, "{src:?}");
    match program.items.pop() {
        Some(Item::Expr(e)) => e,
        other => panic!("{src:?} is not an expression: {other:?}"),
    }
}

/// A compact rendering of an expression's structure, for precedence tests.
fn show(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::Path(a, b) => format!("{}::{}", a.name, b.name),
        ExprKind::Unary(op, x) => format!("({}{})", if *op == UnOp::Neg { "-" } else { "!" }, show(x)),
        ExprKind::Binary(op, a, b) => format!("({} {op:?} {})", show(a), show(b)),
        ExprKind::Assign { op, target, value } => format!("({} {op:?}= {})", show(target), show(value)),
        ExprKind::Call { callee, args } => {
            format!("{}({})", show(callee), args.iter().map(show).collect::<Vec<_>>().join(", "))
        }
        ExprKind::Field(x, f) => format!("{}.{}", show(x), f.name),
        ExprKind::Index(x, i) => format!("{}[{}]", show(x), show(i)),
        ExprKind::Closure { params, body } => {
            format!("|{}| {}", params.iter().map(|(p, _)| p.name.as_str()).collect::<Vec<_>>().join(", "), show(body))
        }
        ExprKind::MapLit(entries) => format!("map{}", entries.len()),
        ExprKind::Block(b) => format!("block{}", b.stmts.len() + usize::from(b.tail.is_some())),
        ExprKind::RecordLit { name, fields, base } => {
            format!("{}{{{}{}}}", name.name, fields.len(), if base.is_some() { "+base" } else { "" })
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn conformance_sources_parse() {
    let mut checked = 0;
    for dir in ["lang", "errors"] {
        for file in conformance_files(dir, "strata") {
            let src = std::fs::read_to_string(&file).unwrap();
            let errors = syntax_errors(&src);
            if file.ends_with("syntax.strata") {
                assert!(!errors.is_empty(), "{file:?} should not parse");
            } else {
                assert!(errors.is_empty(), "{file:?}: {errors:#?}");
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "conformance files not found under {}", conformance_dir().display());
}

#[test]
fn conformance_repl_inputs_parse() {
    let mut checked = 0;
    for dir in ["worlds", "types", "state", "tasks", "overlays"] {
        for file in conformance_files(dir, "repl") {
            for input in repl_inputs(&std::fs::read_to_string(&file).unwrap()) {
                let errors = syntax_errors(&input);
                assert!(errors.is_empty(), "{file:?}: {input:?}: {errors:#?}");
                assert!(!is_incomplete(&input), "{file:?}: {input:?} looks incomplete");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} inputs found");
}

#[test]
fn item_spans_cover_their_text() {
    let src = "overridable fn f(x: int) -> int { x }\ntype P { x: int, y: int = 2, }\nenum E { A, B(int, [str]) }\n\
               var n: int = 0;\nmigrate P(old) { P { x: old.x } }\nexperiment e (traffic: 25) { fn f(x: int) -> int { 2 } }\n\
               forget n;\ngraduate e;\nprint(1)";
    let program = parse_ok(src);
    let texts: Vec<&str> = program.items.iter().map(|i| &src[i.span().range()]).collect();
    assert_eq!(
        texts,
        [
            "overridable fn f(x: int) -> int { x }",
            "type P { x: int, y: int = 2, }",
            "enum E { A, B(int, [str]) }",
            "var n: int = 0",
            "migrate P(old) { P { x: old.x } }",
            "experiment e (traffic: 25) { fn f(x: int) -> int { 2 } }",
            "n",
            "e",
            "print(1)",
        ]
    );
    let Item::Experiment(exp) = &program.items[5] else { panic!() };
    assert_eq!(exp.traffic.map(|t| t.0), Some(25));
    assert!(matches!(exp.items[..], [Item::Fn(_)]));
    let Item::Type(t) = &program.items[1] else { panic!() };
    assert!(t.fields[1].default.is_some());
}

#[test]
fn types() {
    let program = parse_ok("fn f(a: fn(int, str) -> [int], b: {str: float}, c: fn(), d: ()) -> fn(int) -> int { a }");
    let Item::Fn(f) = &program.items[0] else { panic!() };
    let kinds: Vec<&TypeExprKind> = f.params.iter().map(|p| &p.ty.kind).collect();
    assert!(
        matches!(kinds[0], TypeExprKind::Fn(args, Some(r)) if args.len() == 2 && matches!(r.kind, TypeExprKind::Vec(_)))
    );
    assert!(matches!(kinds[1], TypeExprKind::Map(..)));
    assert!(matches!(kinds[2], TypeExprKind::Fn(args, None) if args.is_empty()));
    assert!(matches!(kinds[3], TypeExprKind::Unit));
    assert!(matches!(&f.ret, Some(TypeExpr { kind: TypeExprKind::Fn(_, Some(_)), .. })));
}

#[test]
fn precedence() {
    let cases = [
        ("1 + 2 * 3", "(1 Add (2 Mul 3))"),
        ("1 - 2 - 3", "((1 Sub 2) Sub 3)"),
        ("a || b && c == d + e * -f", "(a Or (b And (c Eq (d Add (e Mul (-f))))))"),
        ("!a.b[c](d)", "(!a.b[c](d))"),
        ("x = y = 1 + 2", "(x Set= (y Set= (1 Add 2)))"),
        ("xs[i] += 1", "(xs[i] Add= 1)"),
        ("a < b && b <= c", "((a Lt b) And (b Le c))"),
        ("-2 * 3", "(-2 Mul 3)"),
        ("- -x", "(-(-x))"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("9223372036854775807", "9223372036854775807"),
        ("Shape::Circle(1.0).r", "Shape::Circle(Float(1.0)).r"),
        ("each(xs, |x| total = total + x)", "each(xs, |x| (total Set= (total Add x)))"),
        ("f(|| 1, |a, b: int| a * b)", "f(|| 1, |a, b| (a Mul b))"),
        ("(1 + 2) * 3", "((1 Add 2) Mul 3)"),
    ];
    for (src, want) in cases {
        assert_eq!(show(&expr(src)), want, "{src}");
    }
    assert!(matches!(expr("latest f(1)").kind, ExprKind::Latest(_)));
    // The prefix takes the call only; what follows reads its result.
    assert!(matches!(expr("latest f(1).x").kind, ExprKind::Field(ref b, _) if matches!(b.kind, ExprKind::Latest(_))));
    assert!(matches!(expr("spawn loop f(1)").kind, ExprKind::Spawn { is_loop: true, .. }));
    assert!(matches!(expr("spawn f()").kind, ExprKind::Spawn { is_loop: false, .. }));
    assert!(matches!(expr("()").kind, ExprKind::Unit));
    assert!(matches!(expr("[]").kind, ExprKind::VecLit(ref v) if v.is_empty()));
    assert!(matches!(expr(r#""a\tb""#).kind, ExprKind::Str(ref s) if s == "a\tb"));
}

#[test]
fn syntax_error_cases() {
    let cases = [
        ("a < b < c", "cannot be chained"),
        ("a == b != c", "cannot be chained"),
        ("9223372036854775808", "integer literal out of range"),
        ("-9223372036854775809", "integer literal out of range"),
        ("99999999999999999999999", "integer literal out of range"),
        ("latest x", "must be followed by a call"),
        ("spawn loop 1 + 2", "must be followed by a call"),
        (r#"print("\q")"#, "unknown escape"),
        ("print(1", "expected `,` or `)`"),
        ("fn broken( { 1 }", "expected"),
        ("let x = 1 let y = 2", "expected `;`"),
        ("print(1) print(2)", "expected `;`"),
        ("fn f() { let x = 1 }", "expected `;`"),
        ("fn f() { 1 2 }", "expected `;` or `}`"),
        ("x @ y", "unexpected character `@`"),
        ("1e999", "float literal out of range"),
        ("12abc", "invalid number"),
        ("\"open", "unterminated string"),
        ("experiment e (share: 5) { }", "expected `traffic`"),
        ("match x { 1 => 2 3 => 4 }", "expected `,` or `}`"),
    ];
    for (src, want) in cases {
        let errors = syntax_errors(src);
        assert!(errors.iter().any(|d| d.message.contains(want)), "{src:?}: want {want:?}, got {errors:#?}");
    }
    let errors = syntax_errors("print(1 +)");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].message, "syntax error: expected an expression, found `)`");
    assert_eq!(errors[0].span.range(), 9..10);
}

#[test]
fn statements_and_tails() {
    let program = parse_ok("fn f() -> int { let x: int = 1; var y = 2; if x < y { y += 1; } while false {} y }");
    let Item::Fn(f) = &program.items[0] else { panic!() };
    assert_eq!(f.body.stmts.len(), 4);
    assert!(matches!(f.body.tail.as_deref(), Some(Expr { kind: ExprKind::Name(_), .. })));
    let program = parse_ok("fn g(x: int) -> int { if x > 0 { 1 } else if x < 0 { -1 } else { 0 } }");
    let Item::Fn(g) = &program.items[0] else { panic!() };
    let Some(ExprKind::If { else_: Some(else_), .. }) = g.body.tail.as_deref().map(|e| &e.kind) else { panic!() };
    assert!(matches!(&else_.kind, ExprKind::If { else_: Some(e), .. } if matches!(e.kind, ExprKind::Block(_))));
    let program = parse_ok("fn h() { f(); }");
    let Item::Fn(h) = &program.items[0] else { panic!() };
    assert!(h.body.tail.is_none());
    // Top-level `;` may be left out at the very end only, and block-likes need none.
    parse_ok("var n: int = 0");
    parse_ok("let t = spawn job();");
    parse_ok("forget x");
    parse_ok("if true { 1 } else { 2 }\nwhile false {}\nfor i in 0..3 { print(i); }\nprint(1)");
    parse_ok("for x in xs { } match x { _ => 1 } { print(1); }");
}

#[test]
fn for_loops_and_patterns() {
    let Expr { kind: ExprKind::For { iter: ForIter::Range(a, b), .. }, .. } = expr("for i in 0..len(w) { }") else {
        panic!()
    };
    assert_eq!((show(&a), show(&b)), ("0".into(), "len(w)".into()));
    assert!(matches!(expr("for x in xs { }").kind, ExprKind::For { iter: ForIter::Expr(_), .. }));
    let Expr { kind: ExprKind::Match { arms, .. }, .. } = expr(
        r#"match v { _ => 0, x => 1, -1 => 2, "s" => 3, true => 4, E::A => 5, E::B(a, _, E::C) => { 6 } E::D => {}, }"#,
    ) else {
        panic!()
    };
    let pats: Vec<&PatternKind> = arms.iter().map(|a| &a.pat.kind).collect();
    assert!(matches!(pats[0], PatternKind::Wildcard));
    assert!(matches!(pats[1], PatternKind::Bind(x) if x.name == "x"));
    assert!(matches!(pats[2], PatternKind::Int(-1)));
    assert!(matches!(pats[3], PatternKind::Str(s) if s == "s"));
    assert!(matches!(pats[4], PatternKind::Bool(true)));
    assert!(matches!(pats[5], PatternKind::Variant { args, .. } if args.is_empty()));
    assert!(matches!(pats[6], PatternKind::Variant { args, .. } if args.len() == 3));
    // `=> {}` does nothing: an empty block, not an empty map.
    assert!(matches!(&arms[7].body.kind, ExprKind::Block(b) if b.stmts.is_empty() && b.tail.is_none()));
}

#[test]
fn map_or_block() {
    assert_eq!(show(&global_init("let m = {}")), "map0");
    assert_eq!(show(&global_init("let m = {\"a\": 1, \"b\": 2,}")), "map2");
    assert_eq!(show(&global_init("let m = {k: v}")), "map1");
    assert_eq!(show(&global_init("let m = {f(x) + 1: [1]}")), "map1");
    assert_eq!(show(&global_init("let m = { x }")), "block1");
    assert_eq!(show(&global_init("let m = { f(); x }")), "block2");
    assert_eq!(show(&global_init("let m = { let a: int = 1; a }")), "block2");
    assert_eq!(show(&global_init("let m = { P { a: 1 } }")), "block1");
    assert_eq!(show(&global_init("let m = { |x: int| x }")), "block1");
    assert_eq!(show(&global_init("let m = { {} }")), "block1");
    // Statement position: always a block.
    let program = parse_ok("fn f() { {} { x; } }");
    let Item::Fn(f) = &program.items[0] else { panic!() };
    assert!(matches!(&f.body.stmts[0], Stmt::Expr(Expr { kind: ExprKind::Block(_), .. })));
    assert!(matches!(f.body.tail.as_deref(), Some(Expr { kind: ExprKind::Block(_), .. })));
    // A closure body `{}` is an empty block.
    assert_eq!(show(&expr("each(xs, |x| {})")), "each(xs, |x| block0)");
    // At top level a map is an expression the REPL can echo.
    assert_eq!(show(&expr("{\"a\": 1}")), "map1");
    assert_eq!(show(&expr("{ 1 }")), "block1");
}

fn global_init(src: &str) -> Expr {
    match parse_ok(src).items.pop() {
        Some(Item::Global(g)) => g.init,
        other => panic!("{other:?}"),
    }
}

#[test]
fn record_literals() {
    assert_eq!(show(&global_init("let p = P { x: 1, y: 2 }")), "P{2}");
    assert_eq!(show(&global_init("let p = P { x: 5, ..q }")), "P{1+base}");
    assert_eq!(show(&global_init("let p = P {}")), "P{0}");
    assert_eq!(show(&global_init("let p = P { x, y: 1, }")), "P{2}");
    assert_eq!(show(&global_init("let p = p == P { x: 1 }")), "(p Eq P{1})");
}

#[test]
fn record_literal_not_bare_in_conditions() {
    // `x {` starts the body, so these parse as the name `x` then a block.
    let Expr { kind: ExprKind::If { cond, then, .. }, .. } = expr("if x { y }") else { panic!() };
    assert_eq!(show(&cond), "x");
    assert!(then.tail.is_some());
    let Expr { kind: ExprKind::While { cond, .. }, .. } = expr("while go { step(); }") else { panic!() };
    assert_eq!(show(&cond), "go");
    let Expr { kind: ExprKind::Match { scrutinee, arms }, .. } = expr("match m { _ => 1 }") else { panic!() };
    assert_eq!((show(&scrutinee), arms.len()), ("m".into(), 1));
    let Expr { kind: ExprKind::For { iter: ForIter::Expr(iter), .. }, .. } = expr("for x in xs { }") else { panic!() };
    assert_eq!(show(&iter), "xs");
    // So a bare record literal there is a syntax error, as in Rust.
    assert!(!syntax_errors("if p == Point { x: 1 } { 1 }").is_empty());
    assert!(!syntax_errors("for x in P { a: [1] } { }").is_empty());
}

#[test]
fn record_literal_in_condition_needs_parentheses() {
    let Expr { kind: ExprKind::If { cond, .. }, .. } = expr("if p == (Point { x: 1 }) { 1 }") else { panic!() };
    assert_eq!(show(&cond), "(p Eq Point{1})");
    let Expr { kind: ExprKind::If { cond, .. }, .. } = expr("if f(P { x: 1 }) { 1 }") else { panic!() };
    assert_eq!(show(&cond), "f(P{1})");
    let Expr { kind: ExprKind::Match { scrutinee, .. }, .. } = expr("match (P {}) { _ => 0 }") else { panic!() };
    assert_eq!(show(&scrutinee), "P{0}");
    // Inside the body the restriction is lifted again.
    let Expr { kind: ExprKind::While { body, .. }, .. } = expr("while c { let p = P { x: 1 }; }") else { panic!() };
    assert_eq!(body.stmts.len(), 1);
}

#[test]
fn incomplete_inputs() {
    for src in ["fn f() {", "print(1,", "[1, 2", "let s = \"abc", "fn f() {\n  let x = (1 +", "\"esc \\"] {
        assert!(is_incomplete(src), "{src:?}");
    }
    for src in ["", "1 +", "fn f() { }", "print(\"(\")", "// {", "let x = 1)", "fn f() { ) ", "{ ( }"] {
        assert!(!is_incomplete(src), "{src:?}");
    }
}

#[test]
fn recovery_reports_several_errors() {
    let errors = syntax_errors("let x = ;\nlet y = 1;\nprint(y +);\nfn ok() -> int { 1 }");
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let errors = syntax_errors("fn f() {\n  let a = ;\n  let b = 1;\n  b + );\n}\nfn g() { }");
    assert_eq!(errors.len(), 2, "{errors:#?}");
    // The good items around bad ones survive.
    let (program, errors) = parse("fn a() { }\nfn b( { }\nfn c() { }\nlet d = 1 +;\nlet e = 2;");
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let names: Vec<String> = program
        .items
        .iter()
        .map(|i| match i {
            Item::Fn(f) => f.name.name.clone(),
            Item::Global(g) => g.name.name.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["a", "c", "e"]);
    // An unclosed block ends at the next item.
    let (program, errors) = parse("fn f() {\n  let x = 1;\nfn g() -> int { 2 }");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(matches!(&program.items[..], [Item::Fn(g)] if g.name.name == "g"));
    // A broken match arm does not end the enclosing block early.
    let (program, errors) = parse("fn f() { match x { 1 => , _ => 2 } let y = 1; }\nfn g() { }");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(program.items.len(), 2);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for (open, close) in [("(", ")"), ("[", "]"), ("{", "}"), ("-", ""), ("!", ""), ("if x {", "}")] {
        let src = format!("let x = {}1{};", open.repeat(10_000), close.repeat(10_000));
        let errors = syntax_errors(&src);
        assert!(errors.iter().any(|d| d.message == "syntax error: nesting too deep"), "{open}: {errors:#?}");
    }
    let src = format!("fn f(x: {}int{}) {{ }}", "[".repeat(5000), "]".repeat(5000));
    assert!(syntax_errors(&src).iter().any(|d| d.message.contains("nesting too deep")));
    // Long chains cost the parser no recursion, but they make tall trees, which
    // later passes walk recursively: they are bounded too, more loosely.
    for (link, ok) in [("a = ", 1000), ("1 + ", 1000), ("else if b { 2 } ", 1000), ("f(1)", 1000)] {
        let chain = |n: usize| match link {
            "f(1)" => format!("let x = g{};", "(1)".repeat(n)),
            "else if b { 2 } " => format!("let x = if a {{ 1 }} {} else {{ 3 }};", link.repeat(n)),
            _ => format!("let x = {}1;", link.repeat(n)),
        };
        parse_ok(&chain(ok));
        assert!(syntax_errors(&chain(100_000)).iter().any(|d| d.message.contains("nesting too deep")), "{link}");
    }
    // Moderate nesting is fine.
    parse_ok(&format!("let x = {}1{};", "(".repeat(100), ")".repeat(100)));
}

fn no_panic(src: &str) {
    let (_, diagnostics) = parse(src);
    for d in &diagnostics {
        assert!(d.message.starts_with("syntax error"), "{src:?}: {}", d.message);
        assert!(d.span.start <= d.span.end && d.span.end as usize <= src.len());
    }
    is_incomplete(src);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(src in "[a-z0-9 (){}\\[\\]|,;:.=<>!+*/%&\"\\\\_\n-]{0,80}|\\PC{0,40}") {
        no_panic(&src);
    }

    #[test]
    fn mutated_conformance_never_panics(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>(), "[{}()\\[\\]|;,:\"=a-z0-9 ]{0,6}"), 1..4),
    ) {
        let sources = sources();
        let mut src = sources[pick.index(sources.len())].clone();
        for (op, a, b, insert) in &edits {
            src = mutate(&src, *op, *a, *b, insert);
        }
        no_panic(&src);
    }
}
