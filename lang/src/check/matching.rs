//! `match`: patterns resolved against the scrutinee's type, arm types, and
//! the exhaustiveness report.

use super::body::{BodyCx, LocalKind, mk};
use super::diag::{self, MISMATCH, NOT_EXHAUSTIVE, UNKNOWN, WRONG_ARGS};
use super::exhaust;
use super::expr::known;
use crate::ast;
use crate::hir::{self, ExprKind as H, Pat};
use crate::span::Span;
use crate::types::Ty;
use std::sync::Arc;

impl BodyCx<'_, '_> {
    pub fn match_expr(
        &mut self,
        scrutinee: &ast::Expr,
        arms: &[ast::Arm],
        span: Span,
        expected: Option<&Ty>,
    ) -> hir::Expr {
        let s = self.expr(scrutinee, None);
        let sty = s.ty.clone();
        let mut result: Option<Ty> = expected.cloned();
        let mut harms = Vec::with_capacity(arms.len());
        for arm in arms {
            self.push_scope();
            let pat = self.pattern(&arm.pat, &sty);
            let body = match &result {
                Some(t) => self.expect(&arm.body, t),
                None => {
                    let h = self.expr(&arm.body, None);
                    result = known(&h.ty).cloned();
                    h
                }
            };
            self.pop_scope();
            harms.push(hir::Arm { pat, body });
        }
        let ty = match result {
            Some(t) => t,
            // Every arm diverges (or errored), or there are no arms.
            None if harms.iter().any(|a| a.body.ty == Ty::Error) => Ty::Error,
            None => Ty::Never,
        };
        if !matches!(sty, Ty::Error | Ty::Never) {
            let pats: Vec<&Pat> = harms.iter().map(|a| &a.pat).collect();
            if let Some(missing) = exhaust::missing(self.ns, &sty, &pats) {
                self.report_missing(&sty, &missing, scrutinee.span);
            }
        }
        mk(H::Match { scrutinee: Box::new(s), arms: harms }, ty, span)
    }

    fn report_missing(&mut self, sty: &Ty, missing: &[String], at: Span) {
        let d = match sty {
            Ty::Named(nt) if nt.is_enum => {
                let verb = if missing.len() == 1 { "is" } else { "are" };
                diag::err(
                    NOT_EXHAUSTIVE,
                    format!("{} {verb} not covered", diag::list_and(missing)),
                    at,
                    format!("a `{}` may be {}", nt.name, diag::list_and(missing)),
                )
                .with_hint("add an arm for each missing case, or a `_ => ...` arm")
            }
            Ty::Bool => {
                diag::err(NOT_EXHAUSTIVE, format!("{} not covered", diag::list_and(missing)), at, "missing cases")
                    .with_hint("add the missing arm, or a `_ => ...` arm")
            }
            _ => diag::err(
                NOT_EXHAUSTIVE,
                format!("a match on `{sty}` needs a `_` arm"),
                at,
                format!("not every `{sty}` is covered"),
            )
            .with_hint(format!(
                "add a last arm `_ => ...` (or a binding like `other => ...`) for the remaining {}",
                missing.first().map(|m| if m == "_" { "values" } else { "cases" }).unwrap_or("values")
            )),
        };
        self.error(d);
    }

    /// Checks a pattern against the type of the value it matches and binds
    /// its names (immutable, `pattern_bound`). On a mismatch the pattern's
    /// bindings get type `Error` so the arm body stays quiet.
    pub fn pattern(&mut self, p: &ast::Pattern, ty: &Ty) -> Pat {
        if !self.enter(p.span) {
            self.leave();
            return Pat::Wild;
        }
        let r = self.pattern_inner(p, ty);
        self.leave();
        r
    }

    fn pattern_inner(&mut self, p: &ast::Pattern, ty: &Ty) -> Pat {
        match &p.kind {
            ast::PatternKind::Wildcard => Pat::Wild,
            ast::PatternKind::Bind(id) => Pat::Bind(self.declare(&id.name, ty.clone(), LocalKind::Pattern)),
            ast::PatternKind::Int(n) => self.literal_pat(Pat::Int(*n), Ty::Int, ty, p.span),
            ast::PatternKind::Str(s) => self.literal_pat(Pat::Str(Arc::from(s.as_str())), Ty::Str, ty, p.span),
            ast::PatternKind::Bool(b) => self.literal_pat(Pat::Bool(*b), Ty::Bool, ty, p.span),
            ast::PatternKind::Variant { enum_name, variant, args } => {
                self.variant_pat(enum_name, variant, args, ty, p.span)
            }
        }
    }

    fn literal_pat(&mut self, pat: Pat, lit: Ty, ty: &Ty, span: Span) -> Pat {
        if lit == *ty || matches!(ty, Ty::Error | Ty::Never) {
            return pat;
        }
        self.error(
            diag::err(MISMATCH, format!("expected `{ty}`, found `{lit}`"), span, format!("this pattern is `{lit}`"))
                .with_hint(format!("the value matched is `{ty}`")),
        );
        Pat::Wild
    }

    fn variant_pat(&mut self, en: &ast::Ident, v: &ast::Ident, args: &[ast::Pattern], ty: &Ty, span: Span) -> Pat {
        let bail = |cx: &mut Self| {
            for a in args {
                cx.pattern(a, &Ty::Error);
            }
            Pat::Wild
        };
        let nt = match ty {
            Ty::Named(nt) if nt.is_enum => nt.clone(),
            Ty::Error | Ty::Never => {
                if self.ns.type_info(&en.name).is_none() {
                    self.report_unknown_type(en);
                }
                return bail(self);
            }
            other => {
                if self.ns.type_info(&en.name).is_none() {
                    self.report_unknown_type(en);
                } else {
                    self.error(diag::err(
                        MISMATCH,
                        format!("expected `{other}`, found a `{}` pattern", en.name),
                        span,
                        format!("the value matched is `{other}`"),
                    ));
                }
                return bail(self);
            }
        };
        // The variant is resolved against the scrutinee's own type (and
        // version), not whatever the name means in the newest world.
        if *nt.name != *en.name {
            let d = if self.ns.type_info(&en.name).is_none() {
                let d = diag::unknown(&en.name, en.span, "no enum with this name");
                diag::did_you_mean(d, &en.name, [&*nt.name])
            } else {
                diag::err(
                    MISMATCH,
                    format!("expected `{}`, found a `{}` pattern", nt.name, en.name),
                    span,
                    format!("the value matched is `{}`", nt.name),
                )
            };
            self.error(d);
            return bail(self);
        }
        let Some(info) = self.ns.type_info_of(&nt) else { return bail(self) };
        let Some(tag) = info.variants().iter().position(|x| *x.name == *v.name) else {
            let d = diag::err(UNKNOWN, format!("`{}` has no variant `{}`", en.name, v.name), v.span, "no such variant");
            let d = diag::did_you_mean(d, &v.name, info.variants().iter().map(|x| &*x.name));
            self.error(d);
            return bail(self);
        };
        let payload = info.variants()[tag].payload.clone();
        if args.len() != payload.len() {
            self.error(diag::err(
                WRONG_ARGS,
                format!(
                    "`{}::{}` has {}, the pattern has {}",
                    en.name,
                    v.name,
                    diag::count(payload.len(), "value"),
                    args.len()
                ),
                span,
                format!("expected {}", diag::count(payload.len(), "pattern")),
            ));
            return bail(self);
        }
        let sub = args.iter().zip(&payload).map(|(a, t)| self.pattern(a, t)).collect();
        Pat::Variant { tag: tag as u32, args: sub }
    }

    fn report_unknown_type(&mut self, en: &ast::Ident) {
        let d = diag::unknown(&en.name, en.span, "no enum with this name");
        let names = self.ns.type_names();
        let d = diag::did_you_mean(d, &en.name, names.iter().map(|s| &**s));
        self.error(d);
    }
}
