use lang::parser::parse;
use lang::diagnostic::render;
#[test]
fn show() {
    for src in [
        "print(\"never\");\nfn broken( { 1 }\n",
        "fn f() -> int {\n  let x = 1\n  x\n}\n",
        "fn f() {\n  if x {\n    let y = 1;\n}\nfn g() {}\n",
        "let p = Point { x: 1, y: };\nprint(p)",
        "type T { a: int, b }\nenum E { A(int, }\n",
        "fn f(x: int) -> { x }\nprint(1);",
        "a < b < c",
        "x = = 1",
        "print(\"abc)\nprint(2)",
        "match x { 1 => 2 3 => 4 }",
        "experiment e (traffic: 200) { fn f() {} var x = 1 }",
        "for i in 0..10 { print(i) }",
        "f(x)\n(1 + 2)",
        "let s = \"a\\qb\";",
        "fn f() { return }",
        "1 +",
        ")))",
        "let x = 1 & 2;",
    ] {
        let (prog, diags) = parse(src);
        println!("=== {src:?} -> {} items", prog.items.len());
        print!("{}", render(&diags, "in", src));
    }
}
