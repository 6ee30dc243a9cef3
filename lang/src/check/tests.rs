//! Unit tests of checker internals that the public API cannot reach:
//! the recursion guard on trees the parser would never build.

use super::{EmptyEnv, check_transaction};
use crate::ast::{Expr, ExprKind, Item, Program, UnOp};
use crate::span::Span;
use std::sync::Arc;

#[test]
fn a_hand_built_deep_tree_is_refused_not_overflowed() {
    let span = Span::new(0, 1);
    let mut e = Expr { kind: ExprKind::Int(1), span };
    for _ in 0..5_000 {
        e = Expr { kind: ExprKind::Unary(UnOp::Neg, Box::new(e)), span };
    }
    let prog = Program { items: vec![Item::Expr(e)] };
    let source: Arc<str> = Arc::from("-");
    let result = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let r = check_transaction(&prog, &source, &EmptyEnv).map(|_| ()).map_err(|d| d[0].message.clone());
            // Dropping a 5,000-deep tree recurses too: do it on this stack.
            drop(prog);
            r
        })
        .expect("spawn")
        .join()
        .expect("no overflow");
    let msg = result.expect_err("too deep");
    assert!(msg.starts_with("syntax error: this is nested too deeply"), "{msg}");
}
