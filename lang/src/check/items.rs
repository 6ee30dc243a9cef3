//! Checking a whole transaction, in the order that lets definitions refer to
//! each other freely: names, types, function signatures, globals (typed in
//! source order), field defaults, then every body.

use super::body::{BodyCx, LocalKind, Ret};
use super::builtins::{DefKind, reserved};
use super::diag::{self, RESERVED, SYNTAX};
use super::names::{GlobalEntry, Namespace};
use super::resolve_ty::{TyPos, resolve};
use super::{Checked, CheckedExpr, CheckedFn, CheckedGlobal, Env, migrate, purity};
use crate::ast::{self, Item};
use crate::diagnostic::Diagnostic;
use crate::types::{FieldInfo, FnSig, GlobalSig, NamedTy, Ty, TypeInfo, TypeKind, VariantInfo};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub(super) fn check(
    prog: &ast::Program,
    source: &Arc<str>,
    env: &dyn Env,
    restoring: Option<&super::Restoring>,
) -> Result<Checked, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut ns = Namespace::new(env);
    // Items that passed the name checks (duplicates are skipped after their
    // first definition so one mistake gives one message).
    let prelude = restoring.is_some_and(|r| r.prelude);
    let live = declare_names(prog, &mut ns, &mut diags, prelude);

    let types = collect_types(prog, &live, restoring, &mut ns, &mut diags);
    let sigs = collect_sigs(prog, &live, &mut ns, &mut diags);
    let global_tys = pre_register_globals(prog, &live, &mut ns, &mut diags);
    check_defaults(&types, &mut ns, &mut diags);
    let globals = match restoring {
        Some(r) if !r.prelude => restored_globals(prog, global_tys, source, &mut diags),
        _ => check_globals(prog, &live, global_tys, source, &mut ns, &mut diags),
    };

    let mut fns = Vec::new();
    let mut exprs = Vec::new();
    for (i, item) in prog.items.iter().enumerate() {
        match item {
            Item::Fn(fd) if live.contains(&i) => {
                if let Some(sig) = sigs.get(&i) {
                    fns.push(check_fn(fd, sig.clone(), i, source, &ns, &mut diags));
                }
            }
            Item::Expr(e) => {
                let mut cx = BodyCx::new(&ns, Ret::Outside("a top-level expression"));
                let h = cx.expr(e, None);
                let ret = h.ty.clone();
                let (body, ds) = cx.finish(Arc::from("<expr>"), Vec::new(), ret, h, source);
                diags.extend(ds);
                exprs.push(CheckedExpr { body, item: i });
            }
            _ => {}
        }
    }
    let experiments = super::experiment::check(prog, &live, source, &ns, &mut diags);
    let env = ns.env;
    let impure = purity::compute(&mut fns, &|f| env.function(f).is_some_and(|s| !s.pure));
    let migrations = migrate::check(prog, &types, source, &ns, &impure, &mut diags);

    if diags.is_empty() {
        let types = types.into_iter().map(|(_, t)| t).collect();
        Ok(Checked { types, fns, globals, exprs, migrations, experiments })
    } else {
        diags.sort_by_key(|d| (d.span.start, d.span.end));
        Err(diags)
    }
}

/// Claims every defined name; reports reserved names, duplicates, kind
/// changes against the world, and item kinds not supported yet. Returns the
/// indices of the items to check further.
fn declare_names(
    prog: &ast::Program,
    ns: &mut Namespace,
    diags: &mut Vec<Diagnostic>,
    prelude: bool,
) -> HashSet<usize> {
    let mut live = HashSet::new();
    for (i, item) in prog.items.iter().enumerate() {
        let (name, kind) = match item {
            Item::Fn(d) => (&d.name, DefKind::Fn),
            Item::Type(d) => (&d.name, DefKind::Type),
            Item::Enum(d) => (&d.name, DefKind::Type),
            Item::Global(d) => (&d.name, DefKind::Global),
            Item::Expr(_) => continue,
            // Checked with the types they migrate (`migrate::check`).
            Item::Migrate(_) => continue,
            Item::Forget(id) => {
                diags.push(unsupported("`forget`", id.span));
                continue;
            }
            Item::Experiment(d) => (&d.name, DefKind::Experiment),
            // Expanded by the session into the experiment's functions and a `forget`.
            Item::Graduate(id) => {
                diags.push(unsupported("`graduate` here", id.span));
                continue;
            }
        };
        if reserved(&name.name, kind) && !prelude {
            diags.push(
                diag::err(
                    RESERVED,
                    format!("`{}` is a builtin and cannot be redefined", name.name),
                    name.span,
                    "reserved",
                )
                .with_hint("pick another name"),
            );
            continue;
        }
        if !ns.claim(&name.name) {
            diags.push(
                diag::err(
                    RESERVED,
                    format!("`{}` is defined twice in this input", name.name),
                    name.span,
                    "defined again",
                )
                .with_hint("remove or rename one of the definitions"),
            );
            continue;
        }
        if let Some(old) = env_kind(ns.env, &name.name)
            && old != kind_word(kind)
        {
            diags.push(
                diag::err(
                    RESERVED,
                    format!("`{}` is already a {old}", name.name),
                    name.span,
                    format!("already a {old}"),
                )
                .with_hint(format!("a name keeps its kind: pick another name, or `forget {};` it first", name.name)),
            );
            continue;
        }
        live.insert(i);
    }
    live
}

fn unsupported(what: &str, span: crate::span::Span) -> Diagnostic {
    Diagnostic::new(format!("{what} are not supported yet"), span).with_label("not supported yet")
}

fn kind_word(k: DefKind) -> &'static str {
    match k {
        DefKind::Fn => "function",
        DefKind::Type => "type",
        DefKind::Global => "global",
        DefKind::Experiment => "experiment",
    }
}

fn env_kind(env: &dyn Env, name: &str) -> Option<&'static str> {
    if env.experiment(name).is_some() {
        Some("experiment")
    } else if env.function(name).is_some() {
        Some("function")
    } else if env.type_info(name).is_some() {
        Some("type")
    } else if env.global(name).is_some() {
        Some("global")
    } else {
        None
    }
}

/// Step 1: user types. Names first (so field types may refer to any type of
/// the transaction, recursively), then fields and payloads.
fn collect_types(
    prog: &ast::Program,
    live: &HashSet<usize>,
    restoring: Option<&super::Restoring>,
    ns: &mut Namespace,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(usize, Arc<TypeInfo>)> {
    let mut named = Vec::new();
    for (i, item) in prog.items.iter().enumerate() {
        let (name, is_enum) = match item {
            Item::Type(d) if live.contains(&i) => (&d.name, false),
            Item::Enum(d) if live.contains(&i) => (&d.name, true),
            _ => continue,
        };
        let old = ns.env.type_info(&name.name);
        let last = old.as_ref().map(|t| t.named.version).or_else(|| ns.env.retired_version(&name.name));
        let next = last.map_or(1, |v| v + 1);
        let version = restoring.and_then(|r| r.schema.get(name.name.as_str()).copied()).unwrap_or(next);
        if let Some(old) = old {
            ns.add_old_info(old);
        }
        let nt = Arc::new(NamedTy { name: Arc::from(name.name.as_str()), version, is_enum });
        ns.add_named(nt.clone());
        named.push((i, nt));
    }
    let mut out = Vec::new();
    for (i, nt) in named {
        let kind = match &prog.items[i] {
            Item::Type(d) => {
                let mut seen = HashSet::new();
                let mut fields = Vec::new();
                for f in &d.fields {
                    if !seen.insert(f.name.name.as_str()) {
                        diags.push(diag::err(
                            SYNTAX,
                            format!("field `{}` is declared twice", f.name.name),
                            f.name.span,
                            "declared again",
                        ));
                        continue;
                    }
                    let ty = resolve(ns, &f.ty, TyPos::Field, diags);
                    fields.push(FieldInfo { name: Arc::from(f.name.name.as_str()), ty, default: f.default.clone() });
                }
                TypeKind::Record { fields }
            }
            Item::Enum(d) => {
                let mut seen = HashSet::new();
                let mut variants = Vec::new();
                for v in &d.variants {
                    if !seen.insert(v.name.name.as_str()) {
                        diags.push(diag::err(
                            SYNTAX,
                            format!("variant `{}` is declared twice", v.name.name),
                            v.name.span,
                            "declared again",
                        ));
                        continue;
                    }
                    let payload = v.payload.iter().map(|t| resolve(ns, t, TyPos::Payload, diags)).collect();
                    variants.push(VariantInfo { name: Arc::from(v.name.name.as_str()), payload });
                }
                TypeKind::Enum { variants }
            }
            _ => continue,
        };
        let info = Arc::new(TypeInfo { named: nt, kind });
        ns.add_info(info.clone());
        out.push((i, info));
    }
    out
}

/// Step 2: function signatures.
fn collect_sigs(
    prog: &ast::Program,
    live: &HashSet<usize>,
    ns: &mut Namespace,
    diags: &mut Vec<Diagnostic>,
) -> HashMap<usize, FnSig> {
    let mut out = HashMap::new();
    for (i, item) in prog.items.iter().enumerate() {
        let Item::Fn(fd) = item else { continue };
        if !live.contains(&i) {
            continue;
        }
        let mut seen = HashSet::new();
        let mut params = Vec::new();
        for p in &fd.params {
            if !seen.insert(p.name.name.as_str()) {
                diags.push(diag::err(
                    SYNTAX,
                    format!("parameter `{}` appears twice", p.name.name),
                    p.name.span,
                    "declared again",
                ));
            }
            params.push((Arc::from(p.name.name.as_str()), resolve(ns, &p.ty, TyPos::Param, diags)));
        }
        let ret = match &fd.ret {
            Some(t) => resolve(ns, t, TyPos::Return, diags),
            None => Ty::Unit,
        };
        // Purity is known once every body is checked (`purity::compute`).
        let sig = FnSig { params, ret, overridable: fd.overridable, pure: true };
        ns.add_fn(Arc::from(fd.name.name.as_str()), sig.clone());
        out.insert(i, sig);
    }
    out
}

/// Step 3a: annotated globals are known before any initialiser is checked;
/// the others become known in source order.
fn pre_register_globals(
    prog: &ast::Program,
    live: &HashSet<usize>,
    ns: &mut Namespace,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(usize, Option<Ty>)> {
    let mut out = Vec::new();
    for (i, item) in prog.items.iter().enumerate() {
        let Item::Global(g) = item else { continue };
        if !live.contains(&i) {
            continue;
        }
        let ann = g.ty.as_ref().map(|t| resolve(ns, t, TyPos::Global, diags));
        let entry = match &ann {
            Some(t) => GlobalEntry::Known(GlobalSig { ty: t.clone(), mutable: g.mutable }),
            None => GlobalEntry::Pending,
        };
        ns.set_global(Arc::from(g.name.name.as_str()), entry);
        out.push((i, ann));
    }
    out
}

/// Field defaults of the transaction's types, each checked once here (as if
/// in its own body); uses re-check them silently.
fn check_defaults(types: &[(usize, Arc<TypeInfo>)], ns: &mut Namespace, diags: &mut Vec<Diagnostic>) {
    let mut bad = Vec::new();
    for (_, info) in types {
        for (fi, f) in info.fields().iter().enumerate() {
            let Some(d) = &f.default else { continue };
            let mut cx = BodyCx::new(ns, Ret::Outside("a field default"));
            cx.defaults_in_progress.push((info.named.name.clone(), fi));
            cx.expect(d, &f.ty);
            if !cx.diags.is_empty() {
                bad.push((info.named.name.clone(), fi));
            }
            diags.append(&mut cx.diags);
        }
    }
    for (t, fi) in bad {
        ns.mark_bad_default(t, fi);
    }
}

/// Step 3b: global initialisers in source order; an unannotated global gets
/// its initialiser's type.
fn check_globals(
    prog: &ast::Program,
    live: &HashSet<usize>,
    tys: Vec<(usize, Option<Ty>)>,
    source: &Arc<str>,
    ns: &mut Namespace,
    diags: &mut Vec<Diagnostic>,
) -> Vec<CheckedGlobal> {
    let mut out = Vec::new();
    for (i, ann) in tys {
        let Some(Item::Global(g)) = prog.items.get(i) else { continue };
        if !live.contains(&i) {
            continue;
        }
        let name: Arc<str> = Arc::from(g.name.name.as_str());
        let mut cx = BodyCx::new(ns, Ret::Outside("a global initialiser"));
        let h = match &ann {
            Some(t) => cx.expect(&g.init, t),
            None => cx.expr(&g.init, None),
        };
        let ty = match ann {
            Some(t) => t,
            None if h.ty == Ty::Never => Ty::Error,
            None => h.ty.clone(),
        };
        let (init, ds) = cx.finish(format!("<init {name}>").into(), Vec::new(), ty.clone(), h, source);
        diags.extend(ds);
        let sig = GlobalSig { ty, mutable: g.mutable };
        ns.set_global(name.clone(), GlobalEntry::Known(sig.clone()));
        out.push(CheckedGlobal { name, sig, init, item: i });
    }
    out
}

/// Globals of a reopened image: their values come from the image, so only
/// their declared types matter; the initialiser never runs again and is
/// not checked (what it used may have changed since, SPEC 6.3).
fn restored_globals(
    prog: &ast::Program,
    tys: Vec<(usize, Option<Ty>)>,
    source: &Arc<str>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<CheckedGlobal> {
    let mut out = Vec::new();
    for (i, ann) in tys {
        let Some(Item::Global(g)) = prog.items.get(i) else { continue };
        let Some(ty) = ann else {
            diags.push(Diagnostic::new(format!("a restored global needs its type: `{}`", g.name.name), g.name.span));
            continue;
        };
        let name: Arc<str> = Arc::from(g.name.name.as_str());
        let init = crate::hir::Body::never_runs(&name, ty.clone(), source.clone(), g.span);
        out.push(CheckedGlobal { name, sig: GlobalSig { ty, mutable: g.mutable }, init, item: i });
    }
    out
}

pub(super) fn check_fn(
    fd: &ast::FnDef,
    sig: FnSig,
    item: usize,
    source: &Arc<str>,
    ns: &Namespace,
    diags: &mut Vec<Diagnostic>,
) -> CheckedFn {
    let mut cx = BodyCx::new(ns, Ret::Fixed(sig.ret.clone()));
    let params = sig.params.iter().map(|(n, t)| cx.declare(n, t.clone(), LocalKind::Param)).collect();
    let body = cx.block(&fd.body, Some(&sig.ret));
    let name: Arc<str> = Arc::from(fd.name.name.as_str());
    let (body, ds) = cx.finish(name.clone(), params, sig.ret.clone(), body, source);
    diags.extend(ds);
    CheckedFn { name, sig, body, item }
}
