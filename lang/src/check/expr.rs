//! Expressions: the dispatcher, `expect` (checking against a required type),
//! literals, names, operators, field access, indexing and collection literals.

use super::body::{BodyCx, error_expr, mk};
use super::diag::{self, MISMATCH, SECOND_CLASS, SECOND_CLASS_RULE, UNKNOWN};
use super::names::GlobalEntry;
use crate::ast::{self, BinOp, UnOp};
use crate::hir::{self, Builtin, ExprKind as H};
use crate::span::Span;
use crate::types::Ty;
use std::sync::Arc;

impl BodyCx<'_, '_> {
    /// Checks `e`. `expected`, when given, is the type the context requires:
    /// it lets empty literals and closures get their types, and sub-checkers
    /// that report a mismatch themselves return `Ty::Error` so the caller
    /// stays quiet.
    pub fn expr(&mut self, e: &ast::Expr, expected: Option<&Ty>) -> hir::Expr {
        if !self.enter(e.span) {
            self.leave();
            return error_expr(e.span);
        }
        let h = self.expr_inner(e, expected);
        self.leave();
        h
    }

    /// Checks `e` and requires its type to fit `ty`; on a mismatch the error
    /// is reported here and the result's type becomes `Error`.
    pub fn expect(&mut self, e: &ast::Expr, ty: &Ty) -> hir::Expr {
        let mut h = self.expr(e, Some(ty));
        if !h.ty.fits(ty) {
            self.report_mismatch(e, ty, &h.ty);
            h.ty = Ty::Error;
        }
        h
    }

    /// [`BodyCx::expect`] for a value stored in a record field or variant
    /// payload: inside a migration, another version of the expected named
    /// type fits too (SPEC 6.2), because nested values are migrated on load.
    pub fn expect_stored(&mut self, e: &ast::Expr, ty: &Ty) -> hir::Expr {
        if !self.migration {
            return self.expect(e, ty);
        }
        let mut h = self.expr(e, Some(ty));
        if !h.ty.fits(ty) && !h.ty.fits_any_version(ty) {
            self.report_mismatch(e, ty, &h.ty);
            h.ty = Ty::Error;
        }
        h
    }

    fn report_mismatch(&mut self, e: &ast::Expr, want: &Ty, found: &Ty) {
        if found.has_error() || want.has_error() {
            return;
        }
        let mut d = diag::mismatch(want, found, e.span);
        if *found == Ty::Unit && matches!(e.kind, ast::ExprKind::If { else_: None, .. }) {
            d = d.with_hint("an `if` without `else` has no value: add an `else` branch");
        } else if *want == Ty::Unit {
            d = d.with_hint("add a `;` after it to discard the value");
        }
        self.error(d);
    }

    fn expr_inner(&mut self, e: &ast::Expr, expected: Option<&Ty>) -> hir::Expr {
        let span = e.span;
        match &e.kind {
            ast::ExprKind::Int(n) => mk(H::Int(*n), Ty::Int, span),
            ast::ExprKind::Float(x) => mk(H::Float(*x), Ty::Float, span),
            ast::ExprKind::Bool(b) => mk(H::Bool(*b), Ty::Bool, span),
            ast::ExprKind::Str(s) => mk(H::Str(Arc::from(s.as_str())), Ty::Str, span),
            ast::ExprKind::Unit => mk(H::Unit, Ty::Unit, span),
            ast::ExprKind::Name(id) => self.name_value(id),
            ast::ExprKind::Path(en, v) => self.variant(en, v, None, span),
            ast::ExprKind::Call { callee, args } => self.call(callee, args, span, expected),
            ast::ExprKind::Latest(inner) => self.latest(inner, span),
            ast::ExprKind::Spawn { is_loop, call } => self.spawn(*is_loop, call, span),
            ast::ExprKind::Unary(op, x) => self.unary(*op, x, span),
            ast::ExprKind::Binary(..) => self.binary_chain(e),
            ast::ExprKind::Assign { op, target, value } => self.assign(*op, target, value, span),
            ast::ExprKind::Field(..) | ast::ExprKind::Index(..) => self.postfix_chain(e),
            ast::ExprKind::VecLit(xs) => self.vec_lit(xs, span, expected),
            ast::ExprKind::MapLit(kvs) => self.map_lit(kvs, span, expected),
            ast::ExprKind::RecordLit { name, fields, base } => self.record_lit(name, fields, base.as_deref(), span),
            ast::ExprKind::If { .. } => self.if_chain(e, expected),
            ast::ExprKind::While { cond, body } => self.while_expr(cond, body, span),
            ast::ExprKind::For { var, iter, body } => self.for_expr(var, iter, body, span),
            ast::ExprKind::Match { scrutinee, arms } => self.match_expr(scrutinee, arms, span, expected),
            ast::ExprKind::Block(b) => self.block(b, expected),
            ast::ExprKind::Closure { params, body } => self.misplaced_closure(params, body, span),
            ast::ExprKind::Return(v) => self.return_expr(v.as_deref(), span),
            ast::ExprKind::Break => self.loop_jump(H::Break, "break", span),
            ast::ExprKind::Continue => self.loop_jump(H::Continue, "continue", span),
        }
    }

    fn misplaced_closure(
        &mut self,
        params: &[(ast::Ident, Option<ast::TypeExpr>)],
        body: &ast::Expr,
        span: Span,
    ) -> hir::Expr {
        self.error(
            diag::err(
                SECOND_CLASS,
                "a closure can only be passed as an argument for an `fn(...)` parameter",
                span,
                "closure used as a value",
            )
            .with_hint(SECOND_CLASS_RULE),
        );
        self.closure_body_only(params, body);
        error_expr(span)
    }

    /// Checks an expression whose value has nowhere to go (after another
    /// error): closures and function names are fine here, everything else is
    /// checked for its own errors.
    pub fn loose(&mut self, e: &ast::Expr) {
        match &e.kind {
            ast::ExprKind::Closure { params, body } => self.closure_body_only(params, body),
            ast::ExprKind::Name(id)
                if self.lookup(&id.name).is_none()
                    && (self.ns.function(&id.name).is_some() || Builtin::from_name(&id.name).is_some()) => {}
            _ => {
                self.expr(e, None);
            }
        }
    }

    // ----- names -----

    /// A bare name in value position.
    pub fn name_value(&mut self, id: &ast::Ident) -> hir::Expr {
        let span = id.span;
        let name = id.name.as_str();
        if let Some(l) = self.lookup(name) {
            if let Ty::Fn(_) = self.local_ty(l) {
                self.use_local(l);
                self.error(
                    diag::err(
                        SECOND_CLASS,
                        format!("the function parameter `{name}` can only be called or passed on as an argument"),
                        span,
                        "function used as a value",
                    )
                    .with_hint(SECOND_CLASS_RULE),
                );
                return error_expr(span);
            }
            return self.read_local(l, span);
        }
        match self.ns.global(name) {
            Some(GlobalEntry::Known(sig)) => return mk(H::Global(Arc::from(name)), sig.ty, span),
            Some(GlobalEntry::Pending) => {
                self.error(
                    diag::err(UNKNOWN, format!("`{name}` is not initialised yet"), span, "defined later").with_hint(
                        format!(
                            "globals are initialised in order: move `{name}` above this, or give it a type annotation"
                        ),
                    ),
                );
                return error_expr(span);
            }
            None => {}
        }
        if self.ns.function(name).is_some() {
            self.error(
                diag::err(
                    SECOND_CLASS,
                    format!("the function `{name}` cannot be used as a value"),
                    span,
                    "function used as a value",
                )
                .with_hint(format!("call it (`{name}(...)`) or pass it as an argument for an `fn(...)` parameter"))
                .with_hint(SECOND_CLASS_RULE),
            );
            return error_expr(span);
        }
        if Builtin::from_name(name).is_some() {
            self.error(
                diag::err(
                    SECOND_CLASS,
                    format!("the builtin `{name}` cannot be used as a value"),
                    span,
                    "builtin used as a value",
                )
                .with_hint(format!(
                    "call it (`{name}(...)`); to pass it on, wrap it in a closure like `|x| {name}(x)`"
                )),
            );
            return error_expr(span);
        }
        if let Some(info) = self.ns.type_info(name) {
            let how = if info.named.is_enum {
                format!("pick a variant: `{name}::{}`", info.variants().first().map(|v| &*v.name).unwrap_or("Variant"))
            } else {
                format!("build a value with `{name} {{ ... }}`")
            };
            self.error(diag::err(MISMATCH, format!("`{name}` is a type, not a value"), span, "a type").with_hint(how));
            return error_expr(span);
        }
        self.unknown_value(name, span);
        error_expr(span)
    }

    /// Reports `unknown name `x`` with a hint drawn from everything visible.
    pub fn unknown_value(&mut self, name: &str, span: Span) {
        let d = diag::unknown(name, span, "not defined");
        let mut cands = self.local_names();
        cands.extend(self.ns.all_names());
        let d = diag::did_you_mean(d, name, cands.iter().map(|s| &**s));
        self.error(d);
    }

    // ----- operators -----

    fn unary(&mut self, op: UnOp, x: &ast::Expr, span: Span) -> hir::Expr {
        match op {
            UnOp::Not => {
                let h = self.expect(x, &Ty::Bool);
                mk(H::Unary(op, Box::new(h)), Ty::Bool, span)
            }
            UnOp::Neg => {
                let h = self.expr(x, None);
                let ty = match &h.ty {
                    Ty::Int | Ty::Float | Ty::Error => h.ty.clone(),
                    Ty::Never => Ty::Never,
                    other => {
                        self.error(diag::err(
                            MISMATCH,
                            format!("`-` needs an `int` or a `float`, found `{other}`"),
                            x.span,
                            format!("this is `{other}`"),
                        ));
                        Ty::Error
                    }
                };
                mk(H::Unary(op, Box::new(h)), ty, span)
            }
        }
    }

    /// Checks two operands that must have the same type. An operand that
    /// needs an expected type (`[]`, `{}`) is checked after the other one.
    pub fn same_pair(&mut self, l: &ast::Expr, r: &ast::Expr) -> (hir::Expr, hir::Expr) {
        if needs_expected(l) && !needs_expected(r) {
            let rh = self.expr(r, None);
            let lh = self.expr(l, known(&rh.ty));
            (lh, rh)
        } else {
            let lh = self.expr(l, None);
            let rh = self.expr(r, known(&lh.ty));
            (lh, rh)
        }
    }

    /// A chain of binary operators, checked along its left spine in a loop:
    /// `a + b + c + ...` nests to the left, and long chains are ordinary
    /// (string building), so they must not cost native stack per link.
    fn binary_chain(&mut self, e: &ast::Expr) -> hir::Expr {
        let mut links: Vec<(BinOp, &ast::Expr, Span)> = Vec::new();
        let mut cur = e;
        while let ast::ExprKind::Binary(op, l, r) = &cur.kind {
            links.push((*op, &**r, cur.span));
            cur = l;
        }
        let Some((op0, r0, span0)) = links.pop() else { return self.expr(e, None) };
        let (lh, rh) = if is_logic(op0) {
            (self.expect(cur, &Ty::Bool), self.expect(r0, &Ty::Bool))
        } else {
            self.same_pair(cur, r0)
        };
        let mut acc = self.combine(op0, lh, rh, span0);
        while let Some((op, r, span)) = links.pop() {
            let rh = if is_logic(op) { self.expect(r, &Ty::Bool) } else { self.expr(r, known(&acc.ty)) };
            acc = self.combine(op, acc, rh, span);
        }
        acc
    }

    /// Types `lh op rh` from its checked operands.
    fn combine(&mut self, op: BinOp, mut lh: hir::Expr, rh: hir::Expr, span: Span) -> hir::Expr {
        if is_logic(op) {
            // The first operand of a chain link was checked without context.
            if !lh.ty.fits(&Ty::Bool) {
                if !lh.ty.has_error() {
                    self.error(diag::mismatch(&Ty::Bool, &lh.ty, lh.span));
                }
                lh.ty = Ty::Error;
            }
            return mk(H::Binary(op, Box::new(lh), Box::new(rh)), Ty::Bool, span);
        }
        let sym = op_symbol(op);
        // The operands' common type, if they agree.
        let common = match (&lh.ty, &rh.ty) {
            (Ty::Error, _) | (_, Ty::Error) => None,
            (Ty::Never, t) | (t, Ty::Never) => Some(t.clone()),
            (a, b) if a == b => Some(a.clone()),
            (a, b) => {
                let (sa, sb) = diag::show_pair(a, b);
                let mut d = diag::err(
                    MISMATCH,
                    format!("`{sym}` needs two values of the same type, found `{sa}` and `{sb}`"),
                    span,
                    "different types",
                );
                if let Some(h) = diag::conversion_hint(a, b).or_else(|| diag::conversion_hint(b, a)) {
                    d = d.with_hint(h);
                }
                self.error(d);
                None
            }
        };
        let ty = match op {
            BinOp::Eq | BinOp::Ne => Ty::Bool,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if let Some(t) = &common
                    && !matches!(t, Ty::Int | Ty::Float | Ty::Str | Ty::Never)
                {
                    self.error(diag::err(
                        MISMATCH,
                        format!("`{sym}` compares ints, floats or strs, found `{t}`"),
                        span,
                        "not ordered",
                    ));
                }
                Ty::Bool
            }
            _ => match common {
                None => Ty::Error,
                Some(t) => {
                    let ok = match op {
                        BinOp::Add => matches!(t, Ty::Int | Ty::Float | Ty::Str | Ty::Never),
                        _ => matches!(t, Ty::Int | Ty::Float | Ty::Never),
                    };
                    if ok {
                        t
                    } else {
                        let what = if op == BinOp::Add { "ints, floats or strs" } else { "ints or floats" };
                        let mut d = diag::err(
                            MISMATCH,
                            format!("`{sym}` works on {what}, found `{t}`"),
                            span,
                            "unsupported operands",
                        );
                        if op == BinOp::Add && matches!(t, Ty::Vec(_)) {
                            d = d.with_hint("join vectors with `concat(a, b)`");
                        }
                        self.error(d);
                        Ty::Error
                    }
                }
            },
        };
        mk(H::Binary(op, Box::new(lh), Box::new(rh)), ty, span)
    }

    // ----- field access and indexing -----

    /// `base.f[i].g...`, checked along its spine in a loop (as operator
    /// chains are), so a long chain costs no native stack per link.
    fn postfix_chain(&mut self, e: &ast::Expr) -> hir::Expr {
        enum Link<'e> {
            Field(&'e ast::Ident),
            Index(&'e ast::Expr, &'e ast::Expr),
        }
        let mut links: Vec<(Link, Span)> = Vec::new();
        let mut cur = e;
        loop {
            match &cur.kind {
                ast::ExprKind::Field(b, f) => {
                    links.push((Link::Field(f), cur.span));
                    cur = b;
                }
                ast::ExprKind::Index(b, i) => {
                    links.push((Link::Index(b, i), cur.span));
                    cur = b;
                }
                _ => break,
            }
        }
        let mut acc = self.expr(cur, None);
        while let Some((link, span)) = links.pop() {
            acc = match link {
                Link::Field(f) => self.field(acc, f, span),
                Link::Index(b, i) => self.index(acc, b.span, i, span),
            };
        }
        acc
    }

    fn field(&mut self, bh: hir::Expr, f: &ast::Ident, span: Span) -> hir::Expr {
        let ty = bh.ty.clone();
        match &ty {
            Ty::Named(nt) if !nt.is_enum => {
                let Some(info) = self.ns.type_info_of(nt) else { return error_expr(span) };
                match info.fields().iter().position(|fi| *fi.name == *f.name) {
                    Some(i) => {
                        let fty = info.fields()[i].ty.clone();
                        mk(H::Field { base: Box::new(bh), index: i as u32 }, fty, span)
                    }
                    None => {
                        let d = diag::err(
                            UNKNOWN,
                            format!("`{}` has no field `{}`", nt.name, f.name),
                            f.span,
                            "no such field",
                        );
                        let d = diag::did_you_mean(d, &f.name, info.fields().iter().map(|fi| &*fi.name));
                        self.error(d);
                        error_expr(span)
                    }
                }
            }
            Ty::Named(nt) => {
                self.error(
                    diag::err(MISMATCH, format!("`{}` is an enum and has no fields", nt.name), f.span, "no fields")
                        .with_hint("take it apart with `match`"),
                );
                error_expr(span)
            }
            Ty::Error | Ty::Never => error_expr(span),
            other => {
                self.error(diag::err(MISMATCH, format!("`{other}` has no field `{}`", f.name), f.span, "no fields"));
                error_expr(span)
            }
        }
    }

    fn index(&mut self, bh: hir::Expr, base_span: Span, i: &ast::Expr, span: Span) -> hir::Expr {
        match bh.ty.clone() {
            Ty::Vec(t) => {
                let ih = self.expect(i, &Ty::Int);
                mk(H::Index { base: Box::new(bh), index: Box::new(ih) }, (*t).clone(), span)
            }
            Ty::Map(k, v) => {
                let ih = self.expect(i, &k);
                mk(H::Index { base: Box::new(bh), index: Box::new(ih) }, (*v).clone(), span)
            }
            Ty::Error | Ty::Never => {
                self.loose(i);
                error_expr(span)
            }
            other => {
                let mut d = diag::err(
                    MISMATCH,
                    format!("`{other}` cannot be indexed"),
                    base_span,
                    format!("this is `{other}`"),
                );
                if other == Ty::Str {
                    d = d.with_hint("strings have no indexing; use `split`, `contains` or `slice` on a vector");
                }
                self.error(d);
                self.loose(i);
                error_expr(span)
            }
        }
    }

    // ----- collection literals -----

    fn vec_lit(&mut self, xs: &[ast::Expr], span: Span, expected: Option<&Ty>) -> hir::Expr {
        let elem_expected = match expected {
            Some(Ty::Vec(t)) => Some((**t).clone()),
            _ => None,
        };
        if xs.is_empty() {
            return match expected {
                Some(t @ Ty::Vec(_)) => mk(H::VecLit(Vec::new()), t.clone(), span),
                Some(t) if t.has_error() => mk(H::VecLit(Vec::new()), Ty::Error, span),
                Some(t) => {
                    self.error(diag::err(MISMATCH, format!("expected `{t}`, found a vector"), span, "a vector"));
                    error_expr(span)
                }
                None => {
                    self.cannot_infer(span, "let xs: [int] = [];");
                    error_expr(span)
                }
            };
        }
        if let Some(t) = elem_expected {
            let items = xs.iter().map(|x| self.expect(x, &t)).collect();
            return mk(H::VecLit(items), Ty::vec(t), span);
        }
        // No context: the first element that can stand alone fixes the type,
        // empty literals among the elements then get it as expected type.
        let mut order: Vec<usize> = (0..xs.len()).filter(|&i| !needs_expected(&xs[i])).collect();
        order.extend((0..xs.len()).filter(|&i| needs_expected(&xs[i])));
        let mut elem: Option<Ty> = None;
        let mut out: Vec<Option<hir::Expr>> = (0..xs.len()).map(|_| None).collect();
        for i in order {
            let h = match &elem {
                Some(t) => self.expect(&xs[i], t),
                None => self.expr(&xs[i], None),
            };
            if elem.is_none() && !matches!(h.ty, Ty::Never) {
                elem = Some(h.ty.clone());
            }
            out[i] = Some(h);
        }
        let items: Vec<hir::Expr> = out.into_iter().flatten().collect();
        mk(H::VecLit(items), Ty::vec(elem.unwrap_or(Ty::Never)), span)
    }

    fn map_lit(&mut self, kvs: &[(ast::Expr, ast::Expr)], span: Span, expected: Option<&Ty>) -> hir::Expr {
        let (kx, vx) = match expected {
            Some(Ty::Map(k, v)) => (Some((**k).clone()), Some((**v).clone())),
            _ => (None, None),
        };
        if kvs.is_empty() {
            return match expected {
                Some(t @ Ty::Map(..)) => mk(H::MapLit(Vec::new()), t.clone(), span),
                Some(t) if t.has_error() => mk(H::MapLit(Vec::new()), Ty::Error, span),
                Some(t) => {
                    self.error(diag::err(MISMATCH, format!("expected `{t}`, found a map"), span, "a map"));
                    error_expr(span)
                }
                None => {
                    self.cannot_infer(span, "let m: {str: int} = {};");
                    error_expr(span)
                }
            };
        }
        let mut kt = kx;
        let mut vt = vx;
        // Values that need a type from context go last, as in vector literals.
        let mut order: Vec<usize> = (0..kvs.len()).filter(|&i| !needs_expected(&kvs[i].1)).collect();
        order.extend((0..kvs.len()).filter(|&i| needs_expected(&kvs[i].1)));
        let mut out: Vec<Option<(hir::Expr, hir::Expr)>> = (0..kvs.len()).map(|_| None).collect();
        for i in order {
            let (k, v) = &kvs[i];
            let kh = match &kt {
                Some(t) => self.expect(k, t),
                None => {
                    let h = self.expr(k, None);
                    if !matches!(h.ty, Ty::Int | Ty::Str | Ty::Bool | Ty::Error | Ty::Never) {
                        self.error(diag::err(
                            MISMATCH,
                            format!("map keys must be `int`, `str` or `bool`, found `{}`", h.ty),
                            k.span,
                            "not a key type",
                        ));
                        kt = Some(Ty::Error);
                    } else if !matches!(h.ty, Ty::Never) {
                        kt = Some(h.ty.clone());
                    }
                    h
                }
            };
            let vh = match &vt {
                Some(t) => self.expect(v, t),
                None => {
                    let h = self.expr(v, None);
                    if !matches!(h.ty, Ty::Never) {
                        vt = Some(h.ty.clone());
                    }
                    h
                }
            };
            out[i] = Some((kh, vh));
        }
        let items: Vec<(hir::Expr, hir::Expr)> = out.into_iter().flatten().collect();
        mk(H::MapLit(items), Ty::map(kt.unwrap_or(Ty::Never), vt.unwrap_or(Ty::Never)), span)
    }

    pub fn cannot_infer(&mut self, span: Span, example: &str) {
        self.error(
            diag::err(MISMATCH, "cannot infer the type of an empty literal", span, "type unknown")
                .with_hint(format!("add a type annotation, e.g. `{example}`")),
        );
    }
}

/// A type usable as the expected type of a sibling (not `Never`/`Error`).
pub(super) fn known(t: &Ty) -> Option<&Ty> {
    if matches!(t, Ty::Never | Ty::Error) { None } else { Some(t) }
}

/// True for expressions whose type can only come from context: `[]`, `{}`,
/// `[[]]`, and blocks/ifs ending in one.
pub(super) fn needs_expected(e: &ast::Expr) -> bool {
    match &e.kind {
        ast::ExprKind::VecLit(xs) => xs.iter().all(needs_expected),
        ast::ExprKind::MapLit(kvs) => kvs.is_empty(),
        ast::ExprKind::Block(b) => b.tail.as_deref().is_some_and(needs_expected),
        _ => false,
    }
}

fn is_logic(op: BinOp) -> bool {
    matches!(op, BinOp::And | BinOp::Or)
}

pub(super) fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Rem => "%",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::And => "&&",
        BinOp::Or => "||",
    }
}
