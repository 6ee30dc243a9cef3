//! What a change touches: the names it forgets (and who still uses them),
//! and between the session and the incremental database
//! (`lang::incremental`), which finds the definitions that depend on changed
//! signatures and re-checks them: the transaction's texts and uses, and how
//! broken dependents are reported (`breaks`).

use super::items::def_name;
use jit::program::{DefText, Texts, World};
use lang::ast::{self, Item};
use lang::check::Checked;
use lang::diagnostic::Diagnostic;
use lang::incremental::{Broken, Incremental, NewDef, Prospect, Rechecked, uses_of};
use std::collections::HashSet;
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
    fn experiment(&self, name: &str) -> Option<lang::check::ExperimentSig> {
        if self.hidden.contains(name) { None } else { self.world.experiment(name) }
    }
    fn retired_version(&self, name: &str) -> Option<u32> {
        // A type this transaction forgets is retired by it.
        match self.world.types.get(name) {
            Some(t) if self.hidden.contains(name) => Some(t.info.named.version),
            _ => self.world.retired_version(name),
        }
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

/// Each definition's own text and the names it depends on; `dependents` are
/// definitions re-checked only because something they use changed signature
/// (they keep their version).
pub(super) fn texts_of(prog: &ast::Program, source: &str, checked: &Checked, dependents: &[Rechecked]) -> Texts {
    let mut uses = uses_of(checked);
    let mut texts = Texts::default();
    for item in &prog.items {
        let Some(name) = def_name(item) else { continue };
        let text = &source[item.span().range()];
        let name: Arc<str> = Arc::from(name);
        let own = uses.remove(&name).unwrap_or_default();
        texts.defs.insert(name, DefText { text: Arc::from(text), uses: own, dependent: false });
    }
    for d in dependents {
        let own = uses_of(&d.checked).remove(&d.name).unwrap_or_default();
        texts.defs.insert(d.name.clone(), DefText { text: d.text.clone(), uses: own, dependent: true });
    }
    texts
}

/// Applies the checked transaction to the incremental database
/// (prospectively: settle or revert the answer).
pub(super) fn apply(incr: &mut Incremental, checked: &Checked, texts: &Texts, forgets: &[Arc<str>]) -> Prospect {
    let mut sigs = incr.signatures(checked);
    let defs = texts
        .defs
        .iter()
        .filter_map(|(name, d)| {
            let sig = sigs.remove(name)?;
            Some(NewDef { name: name.clone(), text: d.text.clone(), sig, uses: d.uses.clone() })
        })
        .collect();
    incr.apply(defs, forgets)
}

/// The transaction with its re-checked dependents, to compile and commit
/// together (each dependent's body keeps its own text for line numbers).
pub(super) fn with_dependents(mut checked: Checked, dependents: &[Rechecked]) -> Checked {
    for d in dependents {
        checked.types.extend(d.checked.types.iter().cloned());
        checked.fns.extend(d.checked.fns.iter().cloned());
        checked.globals.extend(d.checked.globals.iter().cloned());
        checked.experiments.extend(d.checked.experiments.iter().cloned());
    }
    checked
}

/// Dependents that no longer check become one `breaks` error naming each
/// with its own errors.
pub(super) fn render_breaks(broken: &[Broken]) -> String {
    let names: Vec<String> = broken.iter().map(|b| format!("`{}`", b.name)).collect();
    let mut out = format!("error: breaks: this change breaks {}\n", names.join(", "));
    for b in broken {
        for d in &b.diags {
            out.push_str(&format!("  {}: {}\n", b.name, d.message));
        }
    }
    out.push_str("  = hint: include fixed versions of them in the same input\n");
    out
}

/// Keeps the database in step with the program: the prospect is settled if
/// the commit succeeded and reverted if it failed, so a rejected transaction
/// leaves no trace.
pub(super) fn settle_or_revert<T, E>(
    incr: &mut Incremental,
    prospect: Prospect,
    dependents: &[Rechecked],
    committed: Result<T, E>,
) -> Result<T, E> {
    match &committed {
        Ok(_) => incr.settle(prospect, dependents),
        Err(_) => incr.revert(prospect),
    }
    committed
}
