//! Calls: resolving the callee (fn parameter, global function, builtin),
//! arguments for `fn(...)` parameters (function names, closures), closure
//! literals with their captures, `latest` and `spawn`.

use super::body::{BodyCx, LocalKind, Ret, error_expr, mk};
use super::diag::{self, MISMATCH, SECOND_CLASS, SECOND_CLASS_RULE, WRONG_ARGS};
use super::names::GlobalEntry;
use super::resolve_ty::TyPos;
use crate::ast;
use crate::hir::{self, Builtin, ExprKind as H};
use crate::span::Span;
use crate::types::{FnSig, FnTy, Ty};
use std::sync::Arc;

/// Either a global function's signature or an `fn` parameter's type.
enum Callee {
    Local(hir::LocalId, Arc<FnTy>),
    Global(FnSig),
}

impl BodyCx<'_, '_> {
    pub fn call(&mut self, callee: &ast::Expr, args: &[ast::Expr], span: Span, expected: Option<&Ty>) -> hir::Expr {
        match &callee.kind {
            ast::ExprKind::Name(id) => self.call_name(id, args, span, expected),
            ast::ExprKind::Path(en, v) => self.variant(en, v, Some(args), span),
            _ => {
                // `f(a)(b)(c)`: walk down to the innermost callee in a loop
                // (such chains nest to the left), check it, and report once.
                let mut links = vec![args];
                let mut cur = callee;
                while let ast::ExprKind::Call { callee: inner, args: a } = &cur.kind
                    && !matches!(inner.kind, ast::ExprKind::Name(_) | ast::ExprKind::Path(..))
                {
                    links.push(a);
                    cur = inner;
                }
                let c = self.expr(cur, None);
                if !c.ty.has_error() {
                    self.error(diag::err(
                        MISMATCH,
                        format!("only functions can be called, this is `{}`", c.ty),
                        cur.span,
                        "not a function",
                    ));
                }
                links.iter().rev().for_each(|args| args.iter().for_each(|a| self.loose(a)));
                error_expr(span)
            }
        }
    }

    fn call_name(&mut self, id: &ast::Ident, args: &[ast::Expr], span: Span, expected: Option<&Ty>) -> hir::Expr {
        let name = id.name.as_str();
        match self.resolve_callee(id, "called") {
            Some(Callee::Local(l, ft)) => {
                self.use_local(l);
                let hargs = self.call_args(name, &ft.params, None, args, span);
                mk(H::CallLocal { local: l, args: hargs }, ft.ret.clone(), span)
            }
            Some(Callee::Global(sig)) => {
                let tys: Vec<Ty> = sig.params.iter().map(|(_, t)| t.clone()).collect();
                let hargs = self.call_args(name, &tys, Some(&sig), args, span);
                mk(H::Call { func: Arc::from(name), args: hargs, latest: false }, sig.ret, span)
            }
            None => match Builtin::from_name(name) {
                // Only names that are neither locals nor functions get here.
                Some(b) if self.lookup(name).is_none() && self.ns.global(name).is_none() => {
                    self.builtin(b, args, span, expected)
                }
                _ => {
                    args.iter().for_each(|a| self.loose(a));
                    error_expr(span)
                }
            },
        }
    }

    /// Finds what `name(...)` calls. Reports (and returns `None`) when the
    /// name is a non-function local or global, or unknown; returns `None`
    /// silently for builtins, which the caller handles.
    fn resolve_callee(&mut self, id: &ast::Ident, how: &str) -> Option<Callee> {
        let name = id.name.as_str();
        if let Some(l) = self.lookup(name) {
            return match self.local_ty(l) {
                Ty::Fn(ft) => Some(Callee::Local(l, ft)),
                Ty::Error => None,
                other => {
                    let mut d = diag::err(
                        MISMATCH,
                        format!("`{name}` is `{other}`, not a function"),
                        id.span,
                        format!("cannot be {how}"),
                    );
                    if self.ns.function(name).is_some() || Builtin::from_name(name).is_some() {
                        d = d
                            .with_hint(format!("the local `{name}` hides the function of that name; rename the local"));
                    }
                    self.error(d);
                    None
                }
            };
        }
        if let Some(sig) = self.ns.function(name) {
            return Some(Callee::Global(sig));
        }
        match self.ns.global(name) {
            Some(GlobalEntry::Known(g)) => {
                let d = diag::err(
                    MISMATCH,
                    format!("`{name}` is a global of type `{}`, not a function", g.ty),
                    id.span,
                    format!("cannot be {how}"),
                );
                self.error(d);
                return None;
            }
            Some(GlobalEntry::Pending) => {
                let d = diag::err(
                    MISMATCH,
                    format!("`{name}` is a global, not a function"),
                    id.span,
                    format!("cannot be {how}"),
                );
                self.error(d);
                return None;
            }
            None => {}
        }
        if Builtin::from_name(name).is_none() {
            self.unknown_value(name, id.span);
        }
        None
    }

    /// Checks call arguments against parameter types, reporting a count
    /// mismatch as `wrong number of arguments: `f` takes N, got M`.
    fn call_args(
        &mut self,
        name: &str,
        params: &[Ty],
        sig: Option<&FnSig>,
        args: &[ast::Expr],
        span: Span,
    ) -> Vec<hir::Expr> {
        if args.len() != params.len() {
            let mut d = diag::err(
                WRONG_ARGS,
                format!("`{name}` takes {}, got {}", params.len(), args.len()),
                span,
                format!("expected {}", diag::count(params.len(), "argument")),
            );
            if let Some(sig) = sig {
                d = d.with_hint(format!("`{name}` is {}", show_sig(name, sig)));
            }
            self.error(d);
        }
        let mut out = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            match params.get(i) {
                Some(Ty::Fn(ft)) => {
                    let (h, _) = self.fn_arg(a, &ft.params, Some(&ft.ret));
                    out.push(h);
                }
                Some(t) => out.push(self.expect(a, t)),
                None => self.loose(a),
            }
        }
        out
    }

    /// An argument for an `fn(params) -> ret` parameter: a global function's
    /// name, an `fn` parameter, or a closure literal. `ret: None` means the
    /// result type is open (`map`'s `U`); the actual result type is returned.
    pub fn fn_arg(&mut self, a: &ast::Expr, params: &[Ty], ret: Option<&Ty>) -> (hir::Expr, Ty) {
        match &a.kind {
            ast::ExprKind::Closure { params: cps, body } => self.closure(cps, body, params, ret, a.span),
            ast::ExprKind::Name(id) => self.fn_arg_name(id, params, ret),
            _ => {
                let h = self.expr(a, None);
                self.not_a_function(params, ret, &h.ty, a.span);
                (error_expr(a.span), Ty::Error)
            }
        }
    }

    /// A name passed for an `fn(...)` parameter.
    fn fn_arg_name(&mut self, id: &ast::Ident, params: &[Ty], ret: Option<&Ty>) -> (hir::Expr, Ty) {
        let (name, span) = (id.name.as_str(), id.span);
        let (kind, ft) = if let Some(l) = self.lookup(name) {
            let Ty::Fn(ft) = self.local_ty(l) else {
                let ty = self.local_ty(l);
                self.not_a_function(params, ret, &ty, span);
                return (error_expr(span), Ty::Error);
            };
            self.use_local(l);
            (H::Local(l), ft)
        } else if let Some(sig) = self.ns.function(name) {
            let ft = FnTy { params: sig.params.iter().map(|(_, t)| t.clone()).collect(), ret: sig.ret };
            (H::FnRef(Arc::from(name)), Arc::new(ft))
        } else if Builtin::from_name(name).is_some() && self.ns.global(name).is_none() {
            self.builtin_passed(name, params.len(), span);
            return (error_expr(span), Ty::Error);
        } else {
            let h = self.name_value(id);
            self.not_a_function(params, ret, &h.ty, span);
            return (error_expr(span), Ty::Error);
        };
        let params_ok = ft.params.len() == params.len()
            && ft.params.iter().zip(params).all(|(x, y)| x == y || x.has_error() || y.has_error());
        let ret_ok = ret.is_none_or(|r| ft.ret.fits(r));
        if !(params_ok && ret_ok) {
            self.fn_ty_mismatch(params, ret, &ft, span);
            return (error_expr(span), Ty::Error);
        }
        let ret_ty = ft.ret.clone();
        (mk(kind, Ty::Fn(ft), span), ret_ty)
    }

    fn not_a_function(&mut self, params: &[Ty], ret: Option<&Ty>, found: &Ty, span: Span) {
        if found.has_error() {
            return;
        }
        self.error(diag::err(
            MISMATCH,
            format!("expected a function `{}`, found `{found}`", diag::fn_ty(params, ret)),
            span,
            "not a function",
        ));
    }

    fn fn_ty_mismatch(&mut self, params: &[Ty], ret: Option<&Ty>, found: &FnTy, span: Span) {
        let want = diag::fn_ty(params, ret);
        let got = diag::fn_ty(&found.params, Some(&found.ret));
        self.error(diag::err(MISMATCH, format!("expected `{want}`, found `{got}`"), span, format!("this is `{got}`")));
    }

    fn builtin_passed(&mut self, name: &str, arity: usize, span: Span) {
        let vars: Vec<&str> = ["x", "y", "z", "w"].into_iter().cycle().take(arity).collect();
        let list = vars.join(", ");
        self.error(
            diag::err(
                SECOND_CLASS,
                format!("the builtin `{name}` cannot be passed as a function"),
                span,
                "builtin passed as a value",
            )
            .with_hint(format!("wrap it in a closure like `|{list}| {name}({list})`")),
        );
    }

    /// A closure literal passed for an `fn(params) -> ret` parameter.
    fn closure(
        &mut self,
        cps: &[(ast::Ident, Option<ast::TypeExpr>)],
        body: &ast::Expr,
        params: &[Ty],
        ret: Option<&Ty>,
        span: Span,
    ) -> (hir::Expr, Ty) {
        if cps.len() != params.len() {
            self.error(diag::err(
                MISMATCH,
                format!(
                    "expected a closure with {} (`{}`), found {}",
                    diag::count(params.len(), "parameter"),
                    diag::fn_ty(params, ret),
                    cps.len()
                ),
                span,
                format!("takes {}", diag::count(cps.len(), "parameter")),
            ));
            self.closure_body_only(cps, body);
            return (error_expr(span), Ty::Error);
        }
        self.enter_closure(match ret {
            Some(r) => Ret::Fixed(r.clone()),
            None => Ret::Infer(None),
        });
        let mut ids = Vec::with_capacity(cps.len());
        for ((pid, ann), want) in cps.iter().zip(params) {
            if let Some(ann) = ann {
                let got = self.resolve_ty(ann, TyPos::Param);
                if got != *want && !got.has_error() && !want.has_error() {
                    self.error(diag::mismatch(want, &got, ann.span));
                }
            }
            ids.push(self.declare(&pid.name, want.clone(), LocalKind::Param));
        }
        let bh = match ret {
            Some(r) => self.expect(body, r),
            None => {
                // The result type is inferred: the body's type, unless an
                // earlier `return` already fixed it.
                let h = self.expr(body, None);
                if let Ret::Infer(Some(t)) = &self.frame().ret.clone()
                    && !h.ty.fits(t)
                    && !h.ty.has_error()
                {
                    self.error(diag::mismatch(t, &h.ty, body.span));
                }
                h
            }
        };
        let frame = self.exit_closure();
        let ret_ty = match (ret, frame.ret) {
            (Some(r), _) => r.clone(),
            (None, Ret::Infer(Some(t))) => t,
            (None, _) => bh.ty.clone(),
        };
        let ft = FnTy { params: params.to_vec(), ret: ret_ty.clone() };
        let c = hir::Closure { params: ids, ret: ret_ty.clone(), body: bh, captures: frame.captures };
        (mk(H::Closure(Box::new(c)), Ty::Fn(Arc::new(ft)), span), ret_ty)
    }

    /// Checks a closure's body for its own errors when the closure itself is
    /// already wrong (bad position or parameter count).
    pub fn closure_body_only(&mut self, cps: &[(ast::Ident, Option<ast::TypeExpr>)], body: &ast::Expr) {
        self.enter_closure(Ret::Infer(None));
        for (pid, ann) in cps {
            let ty = match ann {
                Some(a) => self.resolve_ty(a, TyPos::Param),
                None => Ty::Error,
            };
            self.declare(&pid.name, ty, LocalKind::Param);
        }
        self.expr(body, None);
        self.exit_closure();
    }

    // ----- latest and spawn -----

    /// The function name and arguments of `KW f(args)` (`latest`, `spawn`,
    /// `spawn loop`), or the error that it is not a call of a name (`verb`
    /// says what `KW` does with it).
    fn named_call<'e>(
        &mut self,
        call: &'e ast::Expr,
        kw: &str,
        verb: &str,
    ) -> Option<(&'e ast::Ident, &'e [ast::Expr])> {
        let ast::ExprKind::Call { callee, args } = &call.kind else {
            self.error(diag::err(
                MISMATCH,
                format!("`{kw}` must be followed by a call of a global function, like `{kw} f(x)`"),
                call.span,
                "not a call",
            ));
            self.loose(call);
            return None;
        };
        let ast::ExprKind::Name(id) = &callee.kind else {
            self.error(diag::err(
                MISMATCH,
                format!("`{kw}` {verb} a global function by name, like `{kw} f(x)`"),
                callee.span,
                "not a function name",
            ));
            args.iter().for_each(|a| self.loose(a));
            return None;
        };
        Some((id, args))
    }

    /// `name` means only a builtin here (no local or global shadows it).
    fn only_builtin(&self, name: &str) -> bool {
        Builtin::from_name(name).is_some() && self.lookup(name).is_none() && self.ns.global(name).is_none()
    }

    pub fn latest(&mut self, inner: &ast::Expr, span: Span) -> hir::Expr {
        let Some((id, args)) = self.named_call(inner, "latest", "calls") else { return error_expr(span) };
        let name = id.name.as_str();
        match self.resolve_callee(id, "called with `latest`") {
            Some(Callee::Global(sig)) => {
                let tys: Vec<Ty> = sig.params.iter().map(|(_, t)| t.clone()).collect();
                let hargs = self.call_args(name, &tys, Some(&sig), args, span);
                mk(H::Call { func: Arc::from(name), args: hargs, latest: true }, sig.ret, span)
            }
            Some(Callee::Local(..)) => {
                self.error(diag::err(
                    MISMATCH,
                    format!("`latest` calls a global function, but `{name}` is a function parameter"),
                    id.span,
                    "not a global function",
                ));
                args.iter().for_each(|a| self.loose(a));
                error_expr(span)
            }
            None => {
                if self.only_builtin(name) {
                    self.error(
                        diag::err(
                            MISMATCH,
                            format!("`latest` calls a global function, but `{name}` is a builtin"),
                            id.span,
                            "a builtin",
                        )
                        .with_hint("builtins are the same in every world: call it without `latest`"),
                    );
                }
                args.iter().for_each(|a| self.loose(a));
                error_expr(span)
            }
        }
    }

    pub fn spawn(&mut self, is_loop: bool, call: &ast::Expr, span: Span) -> hir::Expr {
        let kw = if is_loop { "spawn loop" } else { "spawn" };
        let Some((id, args)) = self.named_call(call, kw, "starts") else { return error_expr(span) };
        let name = id.name.as_str();
        match self.resolve_callee(id, "spawned") {
            Some(Callee::Global(sig)) => {
                let tys: Vec<Ty> = sig.params.iter().map(|(_, t)| t.clone()).collect();
                if let Some((p, _)) = sig.params.iter().find(|(_, t)| t.has_fn()) {
                    // A task outlives the activation that spawns it, so it
                    // can take neither a closure nor a function (section 4).
                    self.error(
                        diag::err(
                            SECOND_CLASS,
                            format!("`{kw}` cannot start `{name}`: its parameter `{p}` is a function, and a task outlives the code that spawns it"),
                            span,
                            "function passed to a task",
                        )
                        .with_hint("the arguments of a spawned function must be values; move the function call into the task's own code"),
                    );
                    self.call_args(name, &tys, Some(&sig), args, span);
                    return mk(H::Unit, Ty::Error, span);
                }
                let hargs = self.call_args(name, &tys, Some(&sig), args, span);
                if is_loop {
                    let ok = tys.len() == 1 && (tys[0] == sig.ret || tys[0].has_error() || sig.ret.has_error());
                    if !ok {
                        self.error(
                            diag::err(
                                MISMATCH,
                                format!(
                                    "`spawn loop` needs a step function from a state to the next state, `{name}` is {}",
                                    show_sig(name, &sig)
                                ),
                                id.span,
                                "not a step function",
                            )
                            .with_hint("write it as `fn step(state: T) -> T`"),
                        );
                    }
                }
                mk(H::Spawn { is_loop, func: Arc::from(name), args: hargs }, Ty::Int, span)
            }
            Some(Callee::Local(..)) => {
                self.error(
                    diag::err(
                        SECOND_CLASS,
                        format!("`{kw}` cannot start the function parameter `{name}`: a task outlives the code that spawns it"),
                        id.span,
                        "function passed to a task",
                    )
                    .with_hint(SECOND_CLASS_RULE),
                );
                args.iter().for_each(|a| self.loose(a));
                error_expr(span)
            }
            None => {
                if self.only_builtin(name) {
                    self.error(
                        diag::err(
                            MISMATCH,
                            format!("`{kw}` starts a global function, but `{name}` is a builtin"),
                            id.span,
                            "a builtin",
                        )
                        .with_hint(format!("write a function that calls `{name}` and spawn that")),
                    );
                }
                args.iter().for_each(|a| self.loose(a));
                error_expr(span)
            }
        }
    }
}

/// `fn add(a: int, b: int) -> int`
pub(super) fn show_sig(name: &str, sig: &FnSig) -> String {
    let params: Vec<String> = sig.params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
    let ret = if sig.ret == Ty::Unit { String::new() } else { format!(" -> {}", sig.ret) };
    format!("`fn {name}({}){ret}`", params.join(", "))
}
