//! Assignments and their expansion: `x op= e` becomes `x = x op e`, and
//! `xs[i] = v` / `m[k] = v` (nested too) become `xs = set(xs, i, v)` /
//! `m = insert(m, k, v)` on a `var` local or global.

use super::body::{BodyCx, LocalKind, error_expr, mk};
use super::diag::{self, MISMATCH, NOT_ASSIGNABLE, UNKNOWN};
use super::names::GlobalEntry;
use crate::ast::{self, AssignOp, BinOp};
use crate::hir::{self, Builtin, ExprKind as H, LocalId};
use crate::span::Span;
use crate::types::Ty;
use std::sync::Arc;

/// The variable an assignment finally writes.
#[derive(Clone)]
enum Root {
    Local(LocalId),
    Global(Arc<str>),
}

/// One `[index]` level of an assignment target.
struct Level {
    /// The index expression as it is read (a temp local when it would
    /// otherwise be evaluated twice).
    index: hir::Expr,
    /// The container's type at this level and the element's.
    container: Ty,
    elem: Ty,
    op: Builtin,
}

impl BodyCx<'_, '_> {
    pub fn assign(&mut self, op: AssignOp, target: &ast::Expr, value: &ast::Expr, span: Span) -> hir::Expr {
        match &target.kind {
            ast::ExprKind::Name(_) | ast::ExprKind::Index(..) => self.assign_path(op, target, value, span),
            ast::ExprKind::Field(base, f) => {
                let mut d = diag::err(
                    NOT_ASSIGNABLE,
                    format!("record fields cannot be assigned (`.{}`)", f.name),
                    target.span,
                    "a record field",
                );
                let bh = self.expr(base, None);
                if let (ast::ExprKind::Name(p), Ty::Named(nt)) = (&base.kind, &bh.ty) {
                    d = d.with_hint(format!(
                        "records are immutable values; write `{p} = {} {{ {}: ..., ..{p} }}`",
                        nt.name,
                        f.name,
                        p = p.name
                    ));
                } else {
                    d = d.with_hint("records are immutable values; build a new one with `T { field: value, ..old }`");
                }
                self.error(d);
                self.loose(value);
                error_expr(span)
            }
            _ => {
                self.error(diag::err(
                    NOT_ASSIGNABLE,
                    "only a variable or an element of one (`x`, `xs[i]`, `m[k]`) can be assigned",
                    target.span,
                    "cannot be assigned",
                ));
                self.loose(target);
                self.loose(value);
                error_expr(span)
            }
        }
    }

    /// `x op= v`, `xs[i] op= v`, `m[k][j] op= v`, ...
    fn assign_path(&mut self, op: AssignOp, target: &ast::Expr, value: &ast::Expr, span: Span) -> hir::Expr {
        // Split the target into its root name and index expressions, outermost last.
        let mut idx_exprs: Vec<&ast::Expr> = Vec::new();
        let mut cur = target;
        while let ast::ExprKind::Index(b, i) = &cur.kind {
            idx_exprs.push(i);
            cur = b;
        }
        idx_exprs.reverse();
        let root_id = match &cur.kind {
            ast::ExprKind::Name(id) => id,
            ast::ExprKind::Field(..) => {
                self.error(
                    diag::err(
                        NOT_ASSIGNABLE,
                        "an element of a record field cannot be assigned",
                        target.span,
                        "inside a record field",
                    )
                    .with_hint("records are immutable values; build a new one with `T { field: value, ..old }`"),
                );
                self.loose(cur);
                idx_exprs.iter().for_each(|i| self.loose(i));
                self.loose(value);
                return error_expr(span);
            }
            _ => {
                self.error(diag::err(
                    NOT_ASSIGNABLE,
                    "only elements of a `var` can be assigned",
                    cur.span,
                    "not a variable",
                ));
                self.loose(cur);
                idx_exprs.iter().for_each(|i| self.loose(i));
                self.loose(value);
                return error_expr(span);
            }
        };
        let Some((root, root_ty)) = self.assign_root(root_id) else {
            idx_exprs.iter().for_each(|i| self.loose(i));
            self.loose(value);
            return error_expr(span);
        };
        let compound = match op {
            AssignOp::Set => None,
            AssignOp::Add => Some(BinOp::Add),
            AssignOp::Sub => Some(BinOp::Sub),
            AssignOp::Mul => Some(BinOp::Mul),
        };
        // Check each index level; temps hold indices that are used twice.
        let mut temps: Vec<hir::Stmt> = Vec::new();
        let mut levels: Vec<Level> = Vec::new();
        let mut cur_ty = root_ty.clone();
        let n = idx_exprs.len();
        for (j, ie) in idx_exprs.iter().enumerate() {
            let (key_ty, elem, op_b) = match &cur_ty {
                Ty::Vec(t) => (Ty::Int, (**t).clone(), Builtin::Set),
                Ty::Map(k, v) => ((**k).clone(), (**v).clone(), Builtin::Insert),
                Ty::Error => {
                    idx_exprs[j..].iter().for_each(|i| self.loose(i));
                    self.loose(value);
                    return error_expr(span);
                }
                other => {
                    let d = diag::err(
                        MISMATCH,
                        format!("`{other}` cannot be indexed"),
                        ie.span,
                        format!("indexing a `{other}`"),
                    );
                    self.error(d);
                    idx_exprs[j..].iter().for_each(|i| self.loose(i));
                    self.loose(value);
                    return error_expr(span);
                }
            };
            let mut ih = self.expect(ie, &key_ty);
            let used_twice = j + 1 < n || compound.is_some();
            if used_twice && !is_pure(&ih) {
                let t = self.declare("<index>", key_ty.clone(), LocalKind::Temp);
                let ispan = ih.span;
                temps.push(hir::Stmt::Let { local: t, init: ih });
                ih = mk(H::Local(t), key_ty, ispan);
            }
            levels.push(Level { index: ih, container: cur_ty.clone(), elem: elem.clone(), op: op_b });
            cur_ty = elem;
        }
        // The new value of the innermost target.
        let target_ty = cur_ty;
        let rhs = self.expect(value, &target_ty);
        let mut new_val = match compound {
            None => rhs,
            Some(bop) => {
                let ok = match bop {
                    BinOp::Add => matches!(target_ty, Ty::Int | Ty::Float | Ty::Str | Ty::Error),
                    _ => matches!(target_ty, Ty::Int | Ty::Float | Ty::Error),
                };
                if !ok {
                    let sym = super::expr::op_symbol(bop);
                    self.error(diag::err(
                        MISMATCH,
                        format!("`{sym}=` does not work on `{target_ty}`"),
                        target.span,
                        format!("this is `{target_ty}`"),
                    ));
                    return error_expr(span);
                }
                let current = self.read_path(&root, &root_ty, &levels, levels.len(), target.span);
                mk(H::Binary(bop, Box::new(current), Box::new(rhs)), target_ty.clone(), value.span)
            }
        };
        // Wrap from the innermost level out: c = set(c, i, new).
        for j in (0..levels.len()).rev() {
            let container = self.read_path(&root, &root_ty, &levels, j, target.span);
            let lv = &levels[j];
            let ty = lv.container.clone();
            new_val = mk(H::Builtin { op: lv.op, args: vec![container, lv.index.clone(), new_val] }, ty, span);
        }
        let assign = match root {
            Root::Local(l) => mk(H::AssignLocal { local: l, value: Box::new(new_val) }, Ty::Unit, span),
            Root::Global(g) => mk(H::AssignGlobal { name: g, value: Box::new(new_val) }, Ty::Unit, span),
        };
        if temps.is_empty() {
            assign
        } else {
            mk(H::Block { stmts: temps, tail: Some(Box::new(assign)) }, Ty::Unit, span)
        }
    }

    /// Reads `root[i1]...[i_depth]`.
    fn read_path(&mut self, root: &Root, root_ty: &Ty, levels: &[Level], depth: usize, span: Span) -> hir::Expr {
        let mut e = match root {
            Root::Local(l) => self.read_local(*l, span),
            Root::Global(g) => mk(H::Global(g.clone()), root_ty.clone(), span),
        };
        for lv in &levels[..depth] {
            e = mk(H::Index { base: Box::new(e), index: Box::new(lv.index.clone()) }, lv.elem.clone(), span);
        }
        e
    }

    /// The variable named by an assignment target, if it may be assigned.
    fn assign_root(&mut self, id: &ast::Ident) -> Option<(Root, Ty)> {
        let name = id.name.as_str();
        let span = id.span;
        if let Some(l) = self.lookup(name) {
            let ty = self.local_ty(l);
            let why = match self.local_kind(l) {
                LocalKind::Var | LocalKind::Temp => {
                    self.use_local(l);
                    return Some((Root::Local(l), ty));
                }
                LocalKind::Let => (
                    format!("`{name}` is declared with `let`"),
                    format!("declare it with `var {name} = ...` to assign it"),
                ),
                LocalKind::Param => {
                    (format!("`{name}` is a parameter"), format!("copy it into a local first: `var {name} = {name};`"))
                }
                LocalKind::Pattern => (
                    format!("`{name}` is bound by a pattern"),
                    format!("copy it into a local first: `var {name} = {name};`"),
                ),
                LocalKind::LoopVar => {
                    (format!("`{name}` is a loop variable"), "use a `var` declared outside the loop".to_string())
                }
            };
            if ty == Ty::Error {
                return None;
            }
            self.error(diag::err(NOT_ASSIGNABLE, why.0, span, "cannot be assigned").with_hint(why.1));
            return None;
        }
        match self.ns.global(name) {
            Some(GlobalEntry::Known(sig)) => {
                if sig.mutable {
                    return Some((Root::Global(Arc::from(name)), sig.ty));
                }
                self.error(
                    diag::err(NOT_ASSIGNABLE, format!("`{name}` is a global `let`"), span, "cannot be assigned")
                        .with_hint(format!("declare it with `var {name}: {} = ...` to make it assignable", sig.ty)),
                );
                return None;
            }
            Some(GlobalEntry::Pending) => {
                self.error(diag::err(UNKNOWN, format!("`{name}` is not initialised yet"), span, "defined later"));
                return None;
            }
            None => {}
        }
        if self.ns.function(name).is_some() || Builtin::from_name(name).is_some() {
            self.error(diag::err(NOT_ASSIGNABLE, format!("`{name}` is a function"), span, "cannot be assigned"));
            return None;
        }
        self.unknown_value(name, span);
        None
    }
}

/// Evaluating it twice gives the same value and no effects.
fn is_pure(e: &hir::Expr) -> bool {
    matches!(e.kind, H::Int(_) | H::Str(_) | H::Bool(_) | H::Local(_))
}
