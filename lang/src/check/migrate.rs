//! Migrations (SPEC 6.2): for every type the transaction redefines, the
//! function that turns a value of the replaced version into one of the new
//! version — the `migrate` item's body, or one derived from the two shapes
//! (built as syntax and checked like an explicit one, so both take one path).

use super::CheckedMigration;
use super::body::{BodyCx, LocalKind, Ret};
use super::diag::{self, RESERVED, UNKNOWN};
use super::names::Namespace;
use super::purity::first_effect;
use crate::ast::{self, Item};
use crate::diagnostic::Diagnostic;
use crate::hir;
use crate::span::Span;
use crate::types::{Ty, TypeInfo, TypeKind};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) const NEEDS_DEFAULT: &str = "needs a default";
pub(super) const NEEDS_MIGRATION: &str = "needs a migration";
pub(super) const NOT_PURE: &str = "not pure";

/// What every purity error says, so users learn the rule once.
const PURITY_RULE: &str = "a migration runs on stored values at commit and again whenever an old value is loaded: it may not read or assign globals, print, spawn, define, sleep, wait or resume, directly or through the functions it calls";

/// Checks the transaction's `migrate` items and derives the missing
/// migrations. `types` are the transaction's checked types with their item
/// index; `impure` says why each impure function of the transaction is.
pub(super) fn check(
    prog: &ast::Program,
    types: &[(usize, Arc<TypeInfo>)],
    source: &Arc<str>,
    ns: &Namespace,
    impure: &HashMap<Arc<str>, String>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<CheckedMigration> {
    let explicit = explicit_items(prog, types, ns, diags);
    let mut out = Vec::new();
    for (i, new) in types {
        let name = &new.named.name;
        let Some(old) = ns.old_info(name) else { continue };
        let (body, item) = match explicit.get(&**name) {
            Some(&(mi, m)) => (check_body(ns, &old, new, &m.param.name, &m.body, source, diags), Some(mi)),
            None => match derive(&old, new, &prog.items[*i]) {
                Ok(block) => (check_body(ns, &old, new, "old", &block, source, diags), None),
                Err(ds) => {
                    diags.extend(ds);
                    continue;
                }
            },
        };
        check_purity(&body, name, ns, impure, diags);
        out.push(CheckedMigration {
            type_name: name.clone(),
            from: old.named.version,
            to: new.named.version,
            body,
            item,
        });
    }
    out
}

/// The `migrate` items by type name; reports those without a type to
/// migrate and repeated ones.
fn explicit_items<'p>(
    prog: &'p ast::Program,
    types: &[(usize, Arc<TypeInfo>)],
    ns: &Namespace,
    diags: &mut Vec<Diagnostic>,
) -> HashMap<&'p str, (usize, &'p ast::MigrateDef)> {
    let mut out: HashMap<&str, (usize, &ast::MigrateDef)> = HashMap::new();
    for (i, item) in prog.items.iter().enumerate() {
        let Item::Migrate(m) = item else { continue };
        let name = m.type_name.name.as_str();
        if out.contains_key(name) {
            diags.push(
                diag::err(
                    RESERVED,
                    format!("`migrate {name}` is given twice in this input"),
                    m.type_name.span,
                    "given again",
                )
                .with_hint("a type has one migration per new version: remove one of them"),
            );
            continue;
        }
        if types.iter().any(|(_, t)| &*t.named.name == name) {
            if ns.old_info(name).is_some() {
                out.insert(name, (i, m));
            } else {
                diags.push(
                    diag::err(
                        UNKNOWN,
                        format!("`{name}` has no earlier version to migrate from: it is new in this input"),
                        m.type_name.span,
                        "nothing to migrate",
                    )
                    .with_hint("remove the `migrate` item"),
                );
            }
        } else if prog.items.iter().any(|it| {
            matches!(it, Item::Type(d) if d.name.name == name) || matches!(it, Item::Enum(d) if d.name.name == name)
        }) {
            // The definition itself was refused; its error says why.
        } else if ns.type_info(name).is_some() {
            diags.push(
                diag::err(
                    UNKNOWN,
                    format!("no new version of `{name}` to migrate to: `migrate {name}` needs a new definition of `{name}` in the same input"),
                    m.type_name.span,
                    "not redefined here",
                )
                .with_hint(format!(
                        "write the new `{name}` together with its migration; a definition whose text is unchanged makes no new version"
                    )),
            );
        } else {
            let d = diag::unknown(name, m.type_name.span, "no type with this name");
            let names = ns.type_names();
            diags.push(diag::did_you_mean(d, name, names.iter().map(|s| &**s)));
        }
    }
    out
}

/// Checks a migration body: one parameter of the old version, the new
/// version as result; stored values may be other versions of their type.
fn check_body(
    ns: &Namespace,
    old: &Arc<TypeInfo>,
    new: &Arc<TypeInfo>,
    param: &str,
    block: &ast::Block,
    source: &Arc<str>,
    diags: &mut Vec<Diagnostic>,
) -> hir::Body {
    let ret = Ty::Named(new.named.clone());
    let mut cx = BodyCx::new(ns, Ret::Fixed(ret.clone()));
    cx.migration = true;
    let p = cx.declare(param, Ty::Named(old.named.clone()), LocalKind::Param);
    let body = cx.block(block, Some(&ret));
    let name: Arc<str> = Arc::from(format!("migrate {}", new.named.name));
    let (body, ds) = cx.finish(name, vec![p], ret, body, source);
    diags.extend(ds);
    body
}

fn check_purity(
    body: &hir::Body,
    tname: &str,
    ns: &Namespace,
    impure: &HashMap<Arc<str>, String>,
    diags: &mut Vec<Diagnostic>,
) {
    let is_impure = |f: &str| {
        if ns.is_tx(f) { impure.contains_key(f) } else { ns.env.function(f).is_some_and(|s| !s.pure) }
    };
    let Some(e) = first_effect(&body.body, &is_impure) else { return };
    let why = match &e.callee {
        Some(f) => match impure.get(f) {
            Some(w) if ns.is_tx(f) => format!(", which {w}"),
            _ => ", which is not pure".to_string(),
        },
        None => String::new(),
    };
    let label = if e.callee.is_some() { "calls an impure function" } else { "not allowed in a migration" };
    diags.push(diag::err(NOT_PURE, format!("`migrate {tname}` {}{why}", e.what), e.span, label).with_hint(PURITY_RULE));
}

/// Builds the derived migration of `old` into `new` as the body of a
/// `migrate T(old) { ... }` item, or reports why there is none.
fn derive(old: &TypeInfo, new: &TypeInfo, item: &Item) -> Result<ast::Block, Vec<Diagnostic>> {
    let tname = &*new.named.name;
    match (&old.kind, &new.kind, item) {
        (TypeKind::Record { fields: of }, TypeKind::Record { fields: nf }, Item::Type(def)) => {
            let at = def.name.span;
            let mut errs = Vec::new();
            let mut copies = Vec::new();
            for f in nf {
                let Some(fd) = def.fields.iter().find(|d| *d.name.name == *f.name) else { continue };
                let was = of.iter().find(|o| o.name == f.name);
                let same = was.is_some_and(|o| o.ty.to_string() == f.ty.to_string());
                if same {
                    copies.push((ident(&f.name, at), field(name_expr("old", at), &f.name, at)));
                } else if f.default.is_none() {
                    let span = fd.name.span.to(fd.ty.span);
                    let detail = match was {
                        Some(o) => {
                            format!("field `{}` of `{tname}` changed type from `{}` to `{}`", f.name, o.ty, f.ty)
                        }
                        None => format!("new field `{}` of `{tname}` has no default", f.name),
                    };
                    let label = if was.is_some() { "type changed" } else { "no default" };
                    errs.push(diag::err(NEEDS_DEFAULT, detail, span, label).with_hint(format!(
                        "old `{tname}` values need a value for it: give it a default (`{}: {} = ...`), or write `migrate {tname}(old) {{ {tname} {{ ... }} }}` in this input",
                        f.name, f.ty
                    )));
                }
            }
            if !errs.is_empty() {
                return Err(errs);
            }
            let lit = ast::ExprKind::RecordLit { name: ident(tname, at), fields: copies, base: None };
            Ok(block(expr(lit, at), at))
        }
        (TypeKind::Enum { variants: ov }, TypeKind::Enum { variants: nv }, Item::Enum(def)) => {
            let at = def.name.span;
            let mut errs = Vec::new();
            let mut arms = Vec::new();
            for v in ov {
                let pat = if v.payload.is_empty() {
                    format!("{tname}::{}", v.name)
                } else {
                    format!("{tname}::{}({})", v.name, vec!["_"; v.payload.len()].join(", "))
                };
                let hint = format!(
                    "write `migrate {tname}(old) {{ match old {{ {pat} => ..., ... }} }}` in this input to say what old values become"
                );
                match nv.iter().find(|n| n.name == v.name) {
                    None => errs.push(
                        diag::err(
                            NEEDS_MIGRATION,
                            format!("variant `{tname}::{}` was removed, and old `{tname}` values may hold it", v.name),
                            at,
                            format!("no `{}` any more", v.name),
                        )
                        .with_hint(hint),
                    ),
                    Some(n) if payload_text(&n.payload) != payload_text(&v.payload) => {
                        let span =
                            def.variants.iter().find(|d| *d.name.name == *v.name).map(|d| d.name.span).unwrap_or(at);
                        errs.push(
                            diag::err(
                                NEEDS_MIGRATION,
                                format!(
                                    "the payload of `{tname}::{}` changed from ({}) to ({})",
                                    v.name,
                                    payload_text(&v.payload),
                                    payload_text(&n.payload)
                                ),
                                span,
                                "payload changed",
                            )
                            .with_hint(hint),
                        )
                    }
                    Some(_) => arms.push(identity_arm(tname, &v.name, v.payload.len(), at)),
                }
            }
            if !errs.is_empty() {
                return Err(errs);
            }
            let m = ast::ExprKind::Match { scrutinee: Box::new(name_expr("old", at)), arms };
            Ok(block(expr(m, at), at))
        }
        (_, _, item) => {
            let (from, to) = if old.named.is_enum { ("an enum", "a record") } else { ("a record", "an enum") };
            let at = match item {
                Item::Type(d) => d.name.span,
                Item::Enum(d) => d.name.span,
                other => other.span(),
            };
            Err(vec![
                diag::err(NEEDS_MIGRATION, format!("`{tname}` changes from {from} to {to}"), at, "kind changed")
                    .with_hint(format!(
                        "write `migrate {tname}(old) {{ ... }}` in this input to say what old values become"
                    )),
            ])
        }
    }
}

fn payload_text(tys: &[Ty]) -> String {
    tys.iter().map(Ty::to_string).collect::<Vec<_>>().join(", ")
}

/// `T::V(x0, x1) => T::V(x0, x1)`, or `T::V => T::V`.
fn identity_arm(tname: &str, vname: &str, n: usize, at: Span) -> ast::Arm {
    let binders: Vec<String> = (0..n).map(|k| format!("x{k}")).collect();
    let pat = ast::PatternKind::Variant {
        enum_name: ident(tname, at),
        variant: ident(vname, at),
        args: binders.iter().map(|b| ast::Pattern { kind: ast::PatternKind::Bind(ident(b, at)), span: at }).collect(),
    };
    let path = expr(ast::ExprKind::Path(ident(tname, at), ident(vname, at)), at);
    let body = if n == 0 {
        path
    } else {
        let args = binders.iter().map(|b| name_expr(b, at)).collect();
        expr(ast::ExprKind::Call { callee: Box::new(path), args }, at)
    };
    ast::Arm { pat: ast::Pattern { kind: pat, span: at }, body, span: at }
}

fn ident(name: &str, span: Span) -> ast::Ident {
    ast::Ident { name: name.to_string(), span }
}

fn expr(kind: ast::ExprKind, span: Span) -> ast::Expr {
    ast::Expr { kind, span }
}

fn name_expr(name: &str, span: Span) -> ast::Expr {
    expr(ast::ExprKind::Name(ident(name, span)), span)
}

fn field(base: ast::Expr, name: &str, span: Span) -> ast::Expr {
    expr(ast::ExprKind::Field(Box::new(base), ident(name, span)), span)
}

fn block(tail: ast::Expr, span: Span) -> ast::Block {
    ast::Block { stmts: Vec::new(), tail: Some(Box::new(tail)), span }
}
