//! Record literals (with defaults filled in and functional update) and enum
//! variant construction.

use super::body::{BodyCx, Ret, error_expr, mk};
use super::diag::{self, MISMATCH, SYNTAX, UNKNOWN, WRONG_ARGS};
use crate::ast;
use crate::hir::{self, ExprKind as H};
use crate::span::Span;
use crate::types::{Ty, TypeInfo};
use std::sync::Arc;

impl BodyCx<'_, '_> {
    pub fn record_lit(
        &mut self,
        name: &ast::Ident,
        fields: &[(ast::Ident, ast::Expr)],
        base: Option<&ast::Expr>,
        span: Span,
    ) -> hir::Expr {
        let info = match self.ns.type_info(&name.name) {
            Some(info) if !info.named.is_enum => info,
            other => {
                self.not_a_record(name, other.as_deref());
                fields.iter().for_each(|(_, e)| self.loose(e));
                base.into_iter().for_each(|b| self.loose(b));
                return error_expr(span);
            }
        };
        let decl = info.fields();
        // Given fields in source order, by declaration index.
        let mut given: Vec<(u32, hir::Expr)> = Vec::new();
        for (fid, fe) in fields {
            match decl.iter().position(|f| *f.name == *fid.name) {
                Some(i) if !given.iter().any(|(j, _)| *j as usize == i) => {
                    let h = self.expect_stored(fe, &decl[i].ty);
                    given.push((i as u32, h));
                }
                found => {
                    self.bad_field(&info, fid, found.is_some());
                    self.loose(fe);
                }
            }
        }
        let ty = Ty::Named(info.named.clone());
        if let Some(b) = base {
            let bh = self.expect(b, &ty);
            let kind = H::RecordUpdate { ty: info.named.clone(), base: Box::new(bh), fields: given };
            return mk(kind, ty, span);
        }
        let mut out = Vec::with_capacity(decl.len());
        let mut missing = Vec::new();
        for (i, f) in decl.iter().enumerate() {
            if let Some(pos) = given.iter().position(|(j, _)| *j as usize == i) {
                out.push(given.swap_remove(pos).1);
            } else if f.default.is_some() {
                out.push(self.default_expr(&info, i, span));
            } else {
                missing.push(f.name.to_string());
            }
        }
        if !missing.is_empty() {
            self.missing_fields(&name.name, &missing, span);
            return error_expr(span);
        }
        mk(H::Record { ty: info.named.clone(), fields: out }, ty, span)
    }

    // Error reports live in their own functions: `record_lit` is on the
    // recursion path of nested literals, so its frame is kept small.

    fn not_a_record(&mut self, name: &ast::Ident, info: Option<&TypeInfo>) {
        let d = match info {
            None => {
                let d = diag::unknown(&name.name, name.span, "no type with this name");
                let names = self.ns.type_names();
                diag::did_you_mean(d, &name.name, names.iter().map(|s| &**s))
            }
            Some(info) => {
                let first = info.variants().first().map(|v| v.name.to_string()).unwrap_or_else(|| "Variant".into());
                diag::err(MISMATCH, format!("`{}` is an enum, not a record", name.name), name.span, "an enum")
                    .with_hint(format!("build it from a variant, like `{}::{first}`", name.name))
            }
        };
        self.error(d);
    }

    fn bad_field(&mut self, info: &TypeInfo, fid: &ast::Ident, duplicate: bool) {
        let d = if duplicate {
            diag::err(SYNTAX, format!("field `{}` is given twice", fid.name), fid.span, "given again")
        } else {
            let d = diag::err(
                UNKNOWN,
                format!("`{}` has no field `{}`", info.named.name, fid.name),
                fid.span,
                "no such field",
            );
            diag::did_you_mean(d, &fid.name, info.fields().iter().map(|f| &*f.name))
        };
        self.error(d);
    }

    fn missing_fields(&mut self, tname: &str, missing: &[String], span: Span) {
        let (what, label) = if missing.len() == 1 {
            (format!("missing field {} in `{tname}`", diag::list_and(missing)), format!("`{}` not given", missing[0]))
        } else {
            (format!("missing fields {} in `{tname}`", diag::list_and(missing)), "fields not given".to_string())
        };
        self.error(
            diag::err(MISMATCH, what, span, label)
                .with_hint("give every field a value, or give the field a default in the type (`field: T = value`)"),
        );
    }

    /// The checked default of field `i` of `info`, for a literal at `at`.
    /// Defaults are checked where they are used (as if in their own body: no
    /// locals, no loop, no function to return from), so a closure inside one
    /// gets its locals from the body that uses it.
    pub fn default_expr(&mut self, info: &Arc<TypeInfo>, i: usize, at: Span) -> hir::Expr {
        let tname = info.named.name.clone();
        let Some(field) = info.fields().get(i) else { return error_expr(at) };
        let Some(default) = &field.default else { return error_expr(at) };
        let key = (tname.clone(), i);
        if self.defaults_in_progress.contains(&key) {
            self.error(
                diag::err(
                    MISMATCH,
                    format!("the default of `{tname}.{}` needs itself", field.name),
                    at,
                    "default refers to itself",
                )
                .with_hint("a field default may not build a value that uses the same default"),
            );
            return error_expr(at);
        }
        let from_tx = self.ns.is_tx_type(&tname);
        self.defaults_in_progress.push(key);
        let scopes = self.take_scopes();
        let (loops, ret) = {
            let f = self.frame();
            (std::mem::replace(&mut f.loops, 0), std::mem::replace(&mut f.ret, Ret::Outside("a field default")))
        };
        let outer_diags = std::mem::take(&mut self.diags);
        let mut h = self.expect(default, &field.ty);
        let inner = std::mem::replace(&mut self.diags, outer_diags);
        {
            let f = self.frame();
            f.loops = loops;
            f.ret = ret;
        }
        self.restore_scopes(scopes);
        self.defaults_in_progress.pop();
        if let Some(first) = inner.first() {
            // A transaction's own bad default was reported at its definition.
            if !(from_tx && self.ns.bad_default(&tname, i)) {
                let d = crate::diagnostic::Diagnostic::new(first.message.clone(), at)
                    .with_label(format!("the default of `{}` does not check here", field.name));
                self.error(d);
            }
            return error_expr(at);
        }
        if !from_tx {
            // The default was written in an earlier transaction's source:
            // its spans mean nothing in this one, so runtime errors in it
            // point at the literal that used it.
            respan(&mut h, at);
        }
        h
    }

    /// `E::V` (args `None`) or `E::V(args)`.
    pub fn variant(&mut self, en: &ast::Ident, v: &ast::Ident, args: Option<&[ast::Expr]>, span: Span) -> hir::Expr {
        let all_args = args.unwrap_or(&[]);
        let Some(info) = self.ns.type_info(&en.name) else {
            let d = diag::unknown(&en.name, en.span, "no enum with this name");
            let names = self.ns.type_names();
            let d = diag::did_you_mean(d, &en.name, names.iter().map(|s| &**s));
            self.error(d);
            all_args.iter().for_each(|a| self.loose(a));
            return error_expr(span);
        };
        if !info.named.is_enum {
            self.error(
                diag::err(MISMATCH, format!("`{}` is a record, not an enum", en.name), en.span, "a record")
                    .with_hint(format!("build it with `{} {{ ... }}`", en.name)),
            );
            all_args.iter().for_each(|a| self.loose(a));
            return error_expr(span);
        }
        let Some(tag) = info.variants().iter().position(|x| *x.name == *v.name) else {
            let d = diag::err(UNKNOWN, format!("`{}` has no variant `{}`", en.name, v.name), v.span, "no such variant");
            let d = diag::did_you_mean(d, &v.name, info.variants().iter().map(|x| &*x.name));
            self.error(d);
            all_args.iter().for_each(|a| self.loose(a));
            return error_expr(span);
        };
        let payload = info.variants()[tag].payload.clone();
        if all_args.len() != payload.len() {
            let mut d = diag::err(
                WRONG_ARGS,
                format!("`{}::{}` takes {}, got {}", en.name, v.name, payload.len(), all_args.len()),
                span,
                format!("expected {}", diag::count(payload.len(), "value")),
            );
            if args.is_none() {
                let holes = vec!["..."; payload.len()].join(", ");
                d = d.with_hint(format!("write `{}::{}({holes})`", en.name, v.name));
            }
            self.error(d);
            all_args.iter().for_each(|a| self.loose(a));
            return error_expr(span);
        }
        let hargs = all_args.iter().zip(&payload).map(|(a, t)| self.expect_stored(a, t)).collect();
        mk(H::Variant { ty: info.named.clone(), tag: tag as u32, args: hargs }, Ty::Named(info.named.clone()), span)
    }
}

/// Points every span of `e` at `at`.
fn respan(e: &mut hir::Expr, at: Span) {
    e.span = at;
    match &mut e.kind {
        H::Int(_)
        | H::Float(_)
        | H::Bool(_)
        | H::Str(_)
        | H::Unit
        | H::Local(_)
        | H::Global(_)
        | H::FnRef(_)
        | H::Break
        | H::Continue => {}
        H::Closure(c) => respan(&mut c.body, at),
        H::Call { args, .. }
        | H::CallLocal { args, .. }
        | H::Builtin { args, .. }
        | H::Spawn { args, .. }
        | H::VecLit(args)
        | H::Variant { args, .. } => args.iter_mut().for_each(|a| respan(a, at)),
        H::Record { fields, .. } => fields.iter_mut().for_each(|a| respan(a, at)),
        H::Unary(_, x) | H::Field { base: x, .. } => respan(x, at),
        H::Binary(_, a, b) | H::Index { base: a, index: b } | H::While { cond: a, body: b } => {
            respan(a, at);
            respan(b, at);
        }
        H::AssignLocal { value, .. } | H::AssignGlobal { value, .. } => respan(value, at),
        H::MapLit(kvs) => kvs.iter_mut().for_each(|(k, v)| {
            respan(k, at);
            respan(v, at);
        }),
        H::RecordUpdate { base, fields, .. } => {
            respan(base, at);
            fields.iter_mut().for_each(|(_, f)| respan(f, at));
        }
        H::If { cond, then, else_ } => {
            respan(cond, at);
            respan(then, at);
            if let Some(e) = else_ {
                respan(e, at);
            }
        }
        H::ForRange { start, end, body, .. } => {
            respan(start, at);
            respan(end, at);
            respan(body, at);
        }
        H::ForVec { iter, body, .. } => {
            respan(iter, at);
            respan(body, at);
        }
        H::Match { scrutinee, arms } => {
            respan(scrutinee, at);
            arms.iter_mut().for_each(|a| respan(&mut a.body, at));
        }
        H::Block { stmts, tail } => {
            for s in stmts {
                match s {
                    hir::Stmt::Let { init, .. } => respan(init, at),
                    hir::Stmt::Expr(x) => respan(x, at),
                }
            }
            if let Some(t) = tail {
                respan(t, at);
            }
        }
        H::Return(v) => {
            if let Some(v) = v {
                respan(v, at);
            }
        }
    }
}
