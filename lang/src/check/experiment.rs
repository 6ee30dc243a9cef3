//! Experiments (SPEC 14.2–14.3): an overlay of functions over the world —
//! replacements of `overridable` functions (same signature) and helpers of
//! its own, which only the overlay's code sees.

use super::diag::{self, MISMATCH, RESERVED};
use super::names::{GlobalEntry, Namespace};
use super::resolve_ty::{TyPos, resolve};
use super::{CheckedExperiment, CheckedFn, Env, OverlayEnv};
use crate::ast::{self, Item};
use crate::diagnostic::Diagnostic;
use crate::types::{FnSig, GlobalSig, Ty, TypeInfo};
use std::collections::HashSet;
use std::sync::Arc;

/// The check error of anything but a function in an overlay.
pub const NOT_IN_OVERLAY: &str = "not allowed in an overlay";
const NOT_OVERRIDABLE: &str = "not overridable";

impl Env for Namespace<'_> {
    fn function(&self, name: &str) -> Option<FnSig> {
        Namespace::function(self, name)
    }
    fn type_info(&self, name: &str) -> Option<Arc<TypeInfo>> {
        Namespace::type_info(self, name)
    }
    fn global(&self, name: &str) -> Option<GlobalSig> {
        match Namespace::global(self, name)? {
            GlobalEntry::Known(sig) => Some(sig),
            GlobalEntry::Pending => None,
        }
    }
    fn names(&self) -> Vec<Arc<str>> {
        self.all_names()
    }
}

/// Checks the experiment items of a transaction, after its own functions,
/// types and globals are known (`ns`).
pub(super) fn check(
    prog: &ast::Program,
    live: &HashSet<usize>,
    source: &Arc<str>,
    ns: &Namespace,
    diags: &mut Vec<Diagnostic>,
) -> Vec<CheckedExperiment> {
    let mut out = Vec::new();
    for (i, item) in prog.items.iter().enumerate() {
        let Item::Experiment(d) = item else { continue };
        if live.contains(&i) {
            out.push(check_one(d, i, source, ns, diags));
        }
    }
    out
}

fn check_one(
    d: &ast::ExperimentDef,
    item: usize,
    source: &Arc<str>,
    ns: &Namespace,
    diags: &mut Vec<Diagnostic>,
) -> CheckedExperiment {
    let traffic = match d.traffic {
        Some((p, span)) if !(0..=100).contains(&p) => {
            diags.push(diag::err(
                "invalid argument",
                format!("traffic is a percentage, 0 to 100, not {p}"),
                span,
                "here",
            ));
            0
        }
        Some((p, _)) => p as u32,
        None => 0,
    };
    let mut fns: Vec<(&ast::FnDef, FnSig)> = Vec::new();
    let (mut replaces, mut helpers) = (Vec::new(), Vec::new());
    let mut seen = HashSet::new();
    for it in &d.items {
        let Item::Fn(fd) = it else {
            diags.push(
                diag::err(NOT_IN_OVERLAY, "an experiment holds functions only", it.span(), "not a function")
                    .with_hint("define types and globals outside the experiment"),
            );
            continue;
        };
        let name: Arc<str> = Arc::from(fd.name.name.as_str());
        if !seen.insert(name.clone()) {
            diags.push(diag::err(
                RESERVED,
                format!("`{name}` is defined twice in this experiment"),
                fd.name.span,
                "again",
            ));
            continue;
        }
        let params =
            fd.params.iter().map(|p| (Arc::from(p.name.name.as_str()), resolve(ns, &p.ty, TyPos::Param, diags)));
        let params: Vec<(Arc<str>, Ty)> = params.collect();
        let ret = fd.ret.as_ref().map(|t| resolve(ns, t, TyPos::Return, diags)).unwrap_or(Ty::Unit);
        let sig = FnSig { params, ret, overridable: true, pure: false };
        match Namespace::function(ns, &name) {
            Some(base) if !base.overridable => diags.push(
                diag::err(
                    NOT_OVERRIDABLE,
                    format!("`{name}` cannot be replaced by an experiment"),
                    fd.name.span,
                    "not overridable",
                )
                .with_hint(format!("define it as `overridable fn {name}(...)` to let experiments replace it")),
            ),
            Some(base) if !same_shape(&base, &sig) => diags.push(diag::err(
                MISMATCH,
                format!("`{name}` is `{}` in the world, but the experiment's is `{}`", show(&base), show(&sig)),
                fd.name.span,
                "a replacement keeps the signature",
            )),
            Some(_) => replaces.push(name.clone()),
            None if Namespace::type_info(ns, &name).is_some() || Namespace::global(ns, &name).is_some() => {
                diags.push(diag::err(
                    RESERVED,
                    format!("`{name}` is already a type or a global"),
                    fd.name.span,
                    "name taken",
                ));
            }
            None => helpers.push((name.clone(), sig.clone())),
        }
        fns.push((fd, sig));
    }
    let env = OverlayEnv { base: ns, helpers: &helpers };
    let ons = Namespace::new(&env);
    let checked: Vec<CheckedFn> =
        fns.into_iter().map(|(fd, sig)| super::items::check_fn(fd, sig, item, source, &ons, diags)).collect();
    CheckedExperiment {
        name: Arc::from(d.name.name.as_str()),
        traffic,
        fns: checked,
        replaces,
        helpers: helpers.into_iter().map(|(n, _)| n).collect(),
        item,
    }
}

fn same_shape(a: &FnSig, b: &FnSig) -> bool {
    a.params.len() == b.params.len() && a.params.iter().zip(&b.params).all(|(x, y)| x.1 == y.1) && a.ret == b.ret
}

fn show(sig: &FnSig) -> String {
    let params: Vec<String> = sig.params.iter().map(|(_, t)| t.to_string()).collect();
    format!("fn({}) -> {}", params.join(", "), sig.ret)
}
