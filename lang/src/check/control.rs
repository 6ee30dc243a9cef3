//! Control flow: blocks and local declarations, `if`, `while`, `for`,
//! `return`, `break` and `continue`.

use super::body::{BodyCx, LocalKind, Ret, error_expr, mk};
use super::diag::{self, MISMATCH, SYNTAX};
use super::expr::known;
use super::resolve_ty::TyPos;
use crate::ast;
use crate::hir::{self, ExprKind as H};
use crate::span::Span;
use crate::types::Ty;

impl BodyCx<'_, '_> {
    /// A block; with `expected`, its value must fit it (reported here).
    pub fn block(&mut self, b: &ast::Block, expected: Option<&Ty>) -> hir::Expr {
        if !self.enter(b.span) {
            self.leave();
            return error_expr(b.span);
        }
        self.push_scope();
        let mut stmts = Vec::with_capacity(b.stmts.len());
        let mut diverges = false;
        // The last statement's type, for the "remove the `;`" hint.
        let mut last_ty: Option<Ty> = None;
        for s in &b.stmts {
            match s {
                ast::Stmt::Local { mutable, name, ty, init, .. } => {
                    let ann = ty.as_ref().map(|t| self.resolve_ty(t, TyPos::Local));
                    let h = match &ann {
                        Some(t) => self.expect(init, t),
                        None => self.expr(init, None),
                    };
                    diverges |= h.ty == Ty::Never;
                    let lty = ann.unwrap_or_else(|| h.ty.clone());
                    let kind = if *mutable { LocalKind::Var } else { LocalKind::Let };
                    // Declared after its initialiser: `let x = x + 1` reads the outer `x`.
                    let id = self.declare(&name.name, lty, kind);
                    stmts.push(hir::Stmt::Let { local: id, init: h });
                    last_ty = None;
                }
                ast::Stmt::Expr(e) => {
                    let h = self.expr(e, None);
                    diverges |= h.ty == Ty::Never;
                    last_ty = Some(h.ty.clone());
                    stmts.push(hir::Stmt::Expr(h));
                }
            }
        }
        let tail = b.tail.as_deref().map(|t| match expected {
            Some(exp) => self.expect(t, exp),
            None => self.expr(t, None),
        });
        self.pop_scope();
        self.leave();
        let ty = match &tail {
            Some(t) => t.ty.clone(),
            None if diverges => Ty::Never,
            None => match expected {
                Some(exp) if !Ty::Unit.fits(exp) => {
                    self.block_without_value(b, exp, last_ty);
                    Ty::Error
                }
                _ => Ty::Unit,
            },
        };
        mk(H::Block { stmts, tail: tail.map(Box::new) }, ty, b.span)
    }

    /// A block that should give a value but ends in a statement.
    fn block_without_value(&mut self, b: &ast::Block, exp: &Ty, last_ty: Option<Ty>) {
        if exp.has_error() {
            return;
        }
        let at = b.stmts.last().map(stmt_span).unwrap_or(b.span);
        let mut d = diag::mismatch(exp, &Ty::Unit, at).with_label("this block has no value");
        if last_ty.is_some_and(|t| t.fits(exp) && !t.has_error()) {
            d = d.with_hint("remove the `;` after the last expression to make it the block's value");
        }
        self.error(d);
    }

    /// `if c { } else if d { } else { }`: the chain is checked in a loop (it
    /// can be long, and nests to the right), then its HIR is built inside out.
    pub fn if_chain(&mut self, e: &ast::Expr, expected: Option<&Ty>) -> hir::Expr {
        struct Link {
            cond: hir::Expr,
            then: hir::Expr,
            span: Span,
            /// The type the `else` branch must fit, when there is one.
            want: Option<Ty>,
        }
        let mut links: Vec<Link> = Vec::new();
        let mut want: Option<Ty> = expected.cloned();
        let mut cur = e;
        let final_else = loop {
            let ast::ExprKind::If { cond, then, else_ } = &cur.kind else { break Some(cur) };
            let c = self.expect(cond, &Ty::Bool);
            let Some(else_) = else_.as_deref() else {
                // Without `else` the value is `()`; the branch's value is dropped.
                let t = self.block(then, None);
                links.push(Link { cond: c, then: t, span: cur.span, want: None });
                break None;
            };
            let t = self.block(then, want.as_ref());
            if want.is_none() {
                want = known(&t.ty).cloned();
            }
            links.push(Link { cond: c, then: t, span: cur.span, want: want.clone() });
            cur = else_;
        };
        let mut acc: Option<hir::Expr> = final_else.map(|fe| match &want {
            Some(w) => self.expect(fe, w),
            None => self.expr(fe, None),
        });
        while let Some(link) = links.pop() {
            let ty = match &acc {
                None => Ty::Unit,
                Some(els) => match &link.then.ty {
                    Ty::Never => els.ty.clone(),
                    first => first.clone(),
                },
            };
            let mut node = mk(
                H::If { cond: Box::new(link.cond), then: Box::new(link.then), else_: acc.map(Box::new) },
                ty,
                link.span,
            );
            // An `else if` must fit like any other `else` branch.
            if let Some(w) = links.last().and_then(|l| l.want.as_ref())
                && !node.ty.fits(w)
            {
                self.else_if_mismatch(w, &node);
                node.ty = Ty::Error;
            }
            acc = Some(node);
        }
        acc.unwrap_or_else(|| error_expr(e.span))
    }

    fn else_if_mismatch(&mut self, want: &Ty, node: &hir::Expr) {
        if node.ty.has_error() || want.has_error() {
            return;
        }
        let d = diag::mismatch(want, &node.ty, node.span);
        let d = if node.ty == Ty::Unit {
            d.with_hint("an `if` without `else` has no value: add an `else` branch")
        } else {
            d
        };
        self.error(d);
    }

    pub fn while_expr(&mut self, cond: &ast::Expr, body: &ast::Block, span: Span) -> hir::Expr {
        let c = self.expect(cond, &Ty::Bool);
        self.frame().loops += 1;
        let b = self.block(body, None);
        self.frame().loops -= 1;
        mk(H::While { cond: Box::new(c), body: Box::new(b) }, Ty::Unit, span)
    }

    pub fn for_expr(&mut self, var: &ast::Ident, iter: &ast::ForIter, body: &ast::Block, span: Span) -> hir::Expr {
        enum It {
            Range(hir::Expr, hir::Expr),
            Vec(hir::Expr),
        }
        let (it, var_ty) = match iter {
            ast::ForIter::Range(a, b) => {
                let a = self.expect(a, &Ty::Int);
                let b = self.expect(b, &Ty::Int);
                (It::Range(a, b), Ty::Int)
            }
            ast::ForIter::Expr(x) => {
                let h = self.expr(x, None);
                let t = match &h.ty {
                    Ty::Vec(t) => (**t).clone(),
                    Ty::Error | Ty::Never => Ty::Error,
                    Ty::Map(..) => {
                        self.error(
                            diag::err(
                                MISMATCH,
                                format!("`for` iterates over a range or a vector, found `{}`", h.ty),
                                x.span,
                                "a map",
                            )
                            .with_hint("iterate over `keys(m)` or `values(m)`"),
                        );
                        Ty::Error
                    }
                    other => {
                        self.error(
                            diag::err(
                                MISMATCH,
                                format!("`for` iterates over a range or a vector, found `{other}`"),
                                x.span,
                                format!("this is `{other}`"),
                            )
                            .with_hint("write `for i in a..b` or `for x in xs`"),
                        );
                        Ty::Error
                    }
                };
                (It::Vec(h), t)
            }
        };
        self.push_scope();
        let v = self.declare(&var.name, var_ty, LocalKind::LoopVar);
        self.frame().loops += 1;
        let b = self.block(body, None);
        self.frame().loops -= 1;
        self.pop_scope();
        let kind = match it {
            It::Range(start, end) => {
                H::ForRange { var: v, start: Box::new(start), end: Box::new(end), body: Box::new(b) }
            }
            It::Vec(iter) => H::ForVec { var: v, iter: Box::new(iter), body: Box::new(b) },
        };
        mk(kind, Ty::Unit, span)
    }

    pub fn return_expr(&mut self, value: Option<&ast::Expr>, span: Span) -> hir::Expr {
        let ret = self.frame().ret.clone();
        let h = match ret {
            Ret::Outside(what) => {
                self.error(diag::err(
                    SYNTAX,
                    format!("`return` outside a function (in {what})"),
                    span,
                    "nothing to return from",
                ));
                value.into_iter().for_each(|v| self.loose(v));
                return error_expr(span);
            }
            Ret::Fixed(t) => match value {
                Some(v) => Some(self.expect(v, &t)),
                None => {
                    if !Ty::Unit.fits(&t) {
                        self.error(
                            diag::mismatch(&t, &Ty::Unit, span)
                                .with_hint(format!("return a value: `return ...;` (a `{t}`)")),
                        );
                    }
                    None
                }
            },
            Ret::Infer(slot) => {
                let h = value.map(|v| match &slot {
                    Some(t) => self.expect(v, t),
                    None => self.expr(v, None),
                });
                let got = h.as_ref().map(|h| h.ty.clone()).unwrap_or(Ty::Unit);
                match slot {
                    None => {
                        if got != Ty::Never {
                            self.frame().ret = Ret::Infer(Some(got));
                        }
                    }
                    Some(t) if value.is_none() && !Ty::Unit.fits(&t) => self.error(diag::mismatch(&t, &Ty::Unit, span)),
                    Some(_) => {}
                }
                h
            }
        };
        mk(H::Return(h.map(Box::new)), Ty::Never, span)
    }

    pub fn loop_jump(&mut self, kind: H, word: &str, span: Span) -> hir::Expr {
        if self.frame().loops == 0 {
            let mut d = diag::err(SYNTAX, format!("`{word}` outside a loop"), span, "not in a loop");
            if self.in_closure() {
                d = d.with_hint(format!("a closure cannot `{word}` the loop around it"));
            }
            self.error(d);
            return error_expr(span);
        }
        mk(kind, Ty::Never, span)
    }
}

fn stmt_span(s: &ast::Stmt) -> Span {
    match s {
        ast::Stmt::Local { span, .. } => *span,
        ast::Stmt::Expr(e) => e.span,
    }
}
