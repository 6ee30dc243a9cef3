//! Purity (SPEC 6.2): which bodies may run inside a migration. A migration
//! runs at commit over stored values and again, lazily, whenever an old value
//! is loaded, so it must not observe or change anything but its argument.

use super::CheckedFn;
use crate::hir::{Builtin, Expr, ExprKind};
use crate::span::Span;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Something a body does that a migration may not.
pub(super) struct Effect {
    /// What it does, as a verb phrase: `assigns the global `log``.
    pub what: String,
    pub span: Span,
    /// The impure global function called or passed, when that is the effect.
    pub callee: Option<Arc<str>>,
}

/// The first effect in `e` (closure bodies included); `impure(f)` tells
/// whether the global function `f` is impure.
pub(super) fn first_effect(e: &Expr, impure: &dyn Fn(&str) -> bool) -> Option<Effect> {
    let mut found = None;
    e.any(&mut |x: &Expr| {
        let (what, callee) = match &x.kind {
            ExprKind::Global(n) => (format!("reads the global `{n}`"), None),
            ExprKind::AssignGlobal { name, .. } => (format!("assigns the global `{name}`"), None),
            ExprKind::Spawn { func, .. } => (format!("spawns a task (`spawn {func}`)"), None),
            ExprKind::Builtin { op, .. } => match builtin_effect(*op) {
                Some(w) => (w.to_string(), None),
                None => return false,
            },
            ExprKind::Call { func, .. } if impure(func) => (format!("calls `{func}`"), Some(func.clone())),
            ExprKind::FnRef(func) if impure(func) => (format!("passes `{func}` to be called"), Some(func.clone())),
            _ => return false,
        };
        found = Some(Effect { what, span: x.span, callee });
        true
    });
    found
}

fn builtin_effect(op: Builtin) -> Option<&'static str> {
    Some(match op {
        Builtin::Print => "prints (`print`)",
        Builtin::Sleep => "sleeps (`sleep`)",
        Builtin::Wait => "waits for a task (`wait`)",
        Builtin::Resume => "resumes a task (`resume`)",
        Builtin::Define => "defines code (`define`)",
        _ => return None,
    })
}

/// Sets `sig.pure` of the transaction's functions and returns why each
/// impure one is impure. `env_impure` answers for functions of the world.
/// Calls between the transaction's functions (recursion included) are
/// resolved by propagating impurity backwards along call edges from the
/// functions impure on their own: linear in the size of the bodies.
pub(super) fn compute(fns: &mut [CheckedFn], env_impure: &dyn Fn(&str) -> bool) -> HashMap<Arc<str>, String> {
    let ours: HashSet<Arc<str>> = fns.iter().map(|f| f.name.clone()).collect();
    let mut why: HashMap<Arc<str>, String> = HashMap::new();
    // callee -> callers, among the transaction's functions.
    let mut callers: HashMap<Arc<str>, Vec<Arc<str>>> = HashMap::new();
    let mut work = Vec::new();
    for f in fns.iter() {
        let own = |g: &str| !ours.contains(g) && env_impure(g);
        if let Some(e) = first_effect(&f.body.body, &own) {
            let what = match &e.callee {
                Some(_) => format!("{}, which is not pure", e.what),
                None => e.what,
            };
            why.insert(f.name.clone(), what);
            work.push(f.name.clone());
        }
        f.body.body.any(&mut |x: &Expr| {
            if let ExprKind::Call { func, .. } | ExprKind::FnRef(func) = &x.kind
                && ours.contains(func)
            {
                callers.entry(func.clone()).or_default().push(f.name.clone());
            }
            false
        });
    }
    while let Some(g) = work.pop() {
        for f in callers.get(&g).map(Vec::as_slice).unwrap_or(&[]) {
            if !why.contains_key(f) {
                why.insert(f.clone(), format!("calls `{g}`, which is not pure"));
                work.push(f.clone());
            }
        }
    }
    for f in fns.iter_mut() {
        f.sig.pure = !why.contains_key(&f.name);
    }
    why
}
