//! Written types (`ast::TypeExpr`) to checked `Ty`, enforcing that function
//! types appear only as parameter types (section 4) and that map keys are
//! `int`, `str` or `bool`.

use super::diag::{self, MISMATCH, SECOND_CLASS, SECOND_CLASS_RULE, SYNTAX};
use super::names::Namespace;
use crate::ast::{TypeExpr, TypeExprKind};
use crate::diagnostic::Diagnostic;
use crate::types::{FnTy, Ty};
use std::sync::Arc;

/// Deeper written types than this are rejected rather than recursed into.
const MAX_TYPE_DEPTH: u32 = 64;

/// Where a written type stands; only `Param` may be a function type.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum TyPos {
    Param,
    Return,
    Field,
    Payload,
    Global,
    Local,
    Element,
}

impl TyPos {
    /// Why a function type cannot stand here.
    fn refusal(self) -> &'static str {
        match self {
            TyPos::Param => "",
            TyPos::Return => "functions cannot be returned",
            TyPos::Field => "a record field cannot hold a function",
            TyPos::Payload => "an enum variant cannot hold a function",
            TyPos::Global => "a global cannot hold a function",
            TyPos::Local => "a local variable cannot hold a function",
            TyPos::Element => "vectors and maps cannot hold functions",
        }
    }
}

pub(super) fn resolve(ns: &Namespace, te: &TypeExpr, pos: TyPos, diags: &mut Vec<Diagnostic>) -> Ty {
    go(ns, te, pos, diags, 0)
}

fn go(ns: &Namespace, te: &TypeExpr, pos: TyPos, diags: &mut Vec<Diagnostic>, depth: u32) -> Ty {
    if depth > MAX_TYPE_DEPTH {
        diags.push(diag::err(SYNTAX, "this type is nested too deeply", te.span, "too deep"));
        return Ty::Error;
    }
    match &te.kind {
        TypeExprKind::Named(n) => match n.as_str() {
            "int" => Ty::Int,
            "float" => Ty::Float,
            "bool" => Ty::Bool,
            "str" => Ty::Str,
            _ => match ns.named_ty(n) {
                Some(nt) => Ty::Named(nt),
                None => {
                    let d = diag::unknown(n, te.span, "no type with this name");
                    let names = ns.type_names();
                    diags.push(diag::did_you_mean(d, n, names.iter().map(|s| &**s)));
                    Ty::Error
                }
            },
        },
        TypeExprKind::Unit => Ty::Unit,
        TypeExprKind::Vec(e) => Ty::vec(go(ns, e, TyPos::Element, diags, depth + 1)),
        TypeExprKind::Map(k, v) => {
            let kt = go(ns, k, TyPos::Element, diags, depth + 1);
            let vt = go(ns, v, TyPos::Element, diags, depth + 1);
            if !matches!(kt, Ty::Int | Ty::Str | Ty::Bool | Ty::Error) && !kt.has_fn() {
                diags.push(diag::err(
                    MISMATCH,
                    format!("map keys must be `int`, `str` or `bool`, found `{kt}`"),
                    k.span,
                    "not a key type",
                ));
            }
            Ty::map(kt, vt)
        }
        TypeExprKind::Fn(ps, r) => {
            let params: Vec<Ty> = ps.iter().map(|p| go(ns, p, TyPos::Param, diags, depth + 1)).collect();
            let ret = match r {
                Some(r) => go(ns, r, TyPos::Return, diags, depth + 1),
                None => Ty::Unit,
            };
            if pos != TyPos::Param {
                diags.push(
                    diag::err(SECOND_CLASS, pos.refusal(), te.span, "function type not allowed here")
                        .with_hint(SECOND_CLASS_RULE),
                );
                return Ty::Error;
            }
            Ty::Fn(Arc::new(FnTy { params, ret }))
        }
    }
}
