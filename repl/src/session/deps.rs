//! What a change touches: the names it forgets (and who still uses them),
//! the signatures it changes, the definitions that depend on those, and how
//! their failures are reported (`breaks`).

use super::items::def_name;
use jit::program::{Texts, World};
use lang::ast::{self, Item};
use lang::diagnostic::{Diagnostic, render};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The world as a transaction that forgets `hidden` sees it.
pub(super) struct Hiding<'a> {
    pub(super) world: &'a World,
    pub(super) hidden: &'a HashSet<Arc<str>>,
}

impl lang::check::Env for Hiding<'_> {
    fn function(&self, name: &str) -> Option<lang::types::FnSig> {
        if self.hidden.contains(name) { None } else { self.world.function(name) }
    }
    fn type_info(&self, name: &str) -> Option<Arc<lang::types::TypeInfo>> {
        if self.hidden.contains(name) { None } else { lang::check::Env::type_info(self.world, name) }
    }
    fn global(&self, name: &str) -> Option<lang::types::GlobalSig> {
        if self.hidden.contains(name) { None } else { self.world.global(name) }
    }
    fn names(&self) -> Vec<Arc<str>> {
        self.world.names().into_iter().filter(|n| !self.hidden.contains(n)).collect()
    }
}

/// The names the transaction's `forget` items remove; each must exist.
pub(super) fn forgotten(prog: &ast::Program, world: &World) -> Result<HashSet<Arc<str>>, Vec<Diagnostic>> {
    let mut names = HashSet::new();
    let mut errors = Vec::new();
    for item in &prog.items {
        if let Item::Forget(id) = item {
            if world.meta_of(&id.name).is_none() {
                errors.push(
                    Diagnostic::new(format!("unknown name `{}`: there is nothing to forget", id.name), id.span)
                        .with_label("not defined"),
                );
            }
            names.insert(Arc::from(id.name.as_str()));
        }
    }
    if errors.is_empty() { Ok(names) } else { Err(errors) }
}

/// `forget` is rejected while a definition that stays still uses the name.
pub(super) fn still_used(world: &World, forgets: &HashSet<Arc<str>>, redefined: &HashSet<Arc<str>>) -> Option<String> {
    if forgets.is_empty() {
        return None;
    }
    let mut users: Vec<String> = Vec::new();
    for (name, m) in world.all_defs() {
        if forgets.contains(&name) || redefined.contains(&name) {
            continue;
        }
        for u in m.uses.iter().filter(|u| forgets.contains(*u)) {
            users.push(format!("  `{name}` uses `{u}`"));
        }
    }
    if users.is_empty() {
        return None;
    }
    users.sort();
    Some(format!(
        "error: breaks: cannot forget what other definitions still use\n{}\n  = hint: forget or change them in the same input",
        users.join("\n")
    ))
}

/// Names whose signature the checked transaction changes.
pub(super) fn changed_signatures(checked: &lang::check::Checked, world: &World) -> HashSet<Arc<str>> {
    let mut changed = HashSet::new();
    for f in &checked.fns {
        if world.fns.get(&f.name).is_some_and(|old| old.sig != f.sig) {
            changed.insert(f.name.clone());
        }
    }
    for g in &checked.globals {
        // A new `let` (or a `var` of another type) is a new cell: code that
        // reads it must be recompiled to read the new one.
        if world.globals.get(&g.name).is_some_and(|old| old.sig != g.sig || !g.sig.mutable) {
            changed.insert(g.name.clone());
        }
    }
    for t in &checked.types {
        if world.types.contains_key(&t.named.name) {
            changed.insert(t.named.name.clone());
        }
    }
    changed
}

/// Each definition's own text and the names it mentions.
pub(super) fn texts_of(
    prog: &ast::Program,
    source: &str,
    checked: &lang::check::Checked,
    dependents: &HashSet<Arc<str>>,
) -> Texts {
    // What each definition depends on, from its resolved names and types.
    let mut uses: HashMap<Arc<str>, std::collections::BTreeSet<Arc<str>>> = HashMap::new();
    for f in &checked.fns {
        let mut u = f.body.uses();
        for (_, t) in &f.sig.params {
            lang::hir::type_names(t, &mut u);
        }
        uses.insert(f.name.clone(), u);
    }
    for g in &checked.globals {
        let mut u = g.init.uses();
        lang::hir::type_names(&g.sig.ty, &mut u);
        uses.insert(g.name.clone(), u);
    }
    for t in &checked.types {
        let mut u = std::collections::BTreeSet::new();
        for f in t.fields() {
            lang::hir::type_names(&f.ty, &mut u);
        }
        for v in t.variants() {
            v.payload.iter().for_each(|p| lang::hir::type_names(p, &mut u));
        }
        uses.insert(t.named.name.clone(), u);
    }
    let mut texts = Texts::default();
    for item in &prog.items {
        let Some(name) = def_name(item) else { continue };
        let text = &source[item.span().range()];
        let name: Arc<str> = Arc::from(name);
        let own: Arc<[Arc<str>]> = uses.remove(&name).unwrap_or_default().into_iter().collect();
        let dependent = dependents.contains(&name);
        texts.defs.insert(name, (Arc::from(text), own, dependent));
    }
    texts
}

/// in a dependent's text become one `breaks` error naming it.
pub(super) fn render_breaks(
    diags: &[Diagnostic],
    ranges: &[(usize, usize, Arc<str>)],
    source_name: &str,
    source: &str,
) -> String {
    let mut own = Vec::new();
    let mut broken: HashMap<Arc<str>, Vec<String>> = HashMap::new();
    let mut order = Vec::new();
    for d in diags {
        let at = d.span.start as usize;
        match ranges.iter().find(|(s, e, _)| at >= *s && at <= *e) {
            Some((_, _, name)) => {
                if !broken.contains_key(name) {
                    order.push(name.clone());
                }
                broken.entry(name.clone()).or_default().push(d.message.clone());
            }
            None => own.push(d.clone()),
        }
    }
    let mut out = String::new();
    if !order.is_empty() {
        let names: Vec<String> = order.iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!("error: breaks: this change breaks {}\n", names.join(", ")));
        for n in &order {
            for m in &broken[n] {
                out.push_str(&format!("  {n}: {m}\n"));
            }
        }
        out.push_str("  = hint: include fixed versions of them in the same input\n");
    }
    out.push_str(&render(&own, source_name, source));
    out
}
