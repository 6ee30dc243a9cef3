//! Type checking and name resolution of one transaction against the world it
//! is checked in (section 5.4), producing [`hir`] bodies.

mod assign;
mod body;
mod builtins;
mod call;
mod control;
mod diag;
mod exhaust;
mod experiment;
mod expr;
mod items;
mod matching;
mod migrate;
mod names;
mod purity;
mod records;
mod resolve_ty;
#[cfg(test)]
mod tests;

use crate::ast;
use crate::diagnostic::Diagnostic;
use crate::hir::Body;
use crate::types::{FnSig, GlobalSig, TypeInfo};
use std::sync::Arc;

/// What the world a transaction is checked against already holds. The
/// transaction's own definitions shadow these.
pub trait Env {
    fn function(&self, name: &str) -> Option<FnSig>;
    fn type_info(&self, name: &str) -> Option<Arc<TypeInfo>>;
    fn global(&self, name: &str) -> Option<GlobalSig>;
    /// Every name defined in the world, for `did you mean` hints.
    fn names(&self) -> Vec<Arc<str>>;
    /// The experiment called `name`, if the world has one.
    fn experiment(&self, _name: &str) -> Option<ExperimentSig> {
        None
    }
    /// The last schema version a forgotten type called `name` had: a new
    /// type of that name continues after it, so that no value of the old
    /// one (a running task may still hold some) is read with the new shape.
    fn retired_version(&self, _name: &str) -> Option<u32> {
        None
    }
}

/// What checking against a world needs of one of its experiments.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentSig {
    pub traffic: u32,
    /// The overridable functions it replaces, in its order.
    pub replaces: Vec<Arc<str>>,
    /// Its own functions, which only its code (and `:try`) sees.
    pub helpers: Vec<(Arc<str>, FnSig)>,
}

/// A world seen from inside an overlay: its functions plus the overlay's
/// helpers.
pub struct OverlayEnv<'a> {
    pub base: &'a dyn Env,
    pub helpers: &'a [(Arc<str>, FnSig)],
}

impl Env for OverlayEnv<'_> {
    fn function(&self, name: &str) -> Option<FnSig> {
        self.helpers.iter().find(|(n, _)| &**n == name).map(|(_, s)| s.clone()).or_else(|| self.base.function(name))
    }
    fn type_info(&self, name: &str) -> Option<Arc<TypeInfo>> {
        self.base.type_info(name)
    }
    fn global(&self, name: &str) -> Option<GlobalSig> {
        self.base.global(name)
    }
    fn names(&self) -> Vec<Arc<str>> {
        let mut names = self.base.names();
        names.extend(self.helpers.iter().map(|(n, _)| n.clone()));
        names
    }
    fn experiment(&self, name: &str) -> Option<ExperimentSig> {
        self.base.experiment(name)
    }
}

/// An empty world (no user definitions): what `strata run` checks a file in.
pub struct EmptyEnv;

impl Env for EmptyEnv {
    fn function(&self, _: &str) -> Option<FnSig> {
        None
    }
    fn type_info(&self, _: &str) -> Option<Arc<TypeInfo>> {
        None
    }
    fn global(&self, _: &str) -> Option<GlobalSig> {
        None
    }
    fn names(&self) -> Vec<Arc<str>> {
        Vec::new()
    }
}

/// A checked global `let`/`var`.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedGlobal {
    pub name: Arc<str>,
    pub sig: GlobalSig,
    /// A thunk (no params) returning the initial value; named `<init NAME>`.
    pub init: Body,
    /// Index of the item in the transaction.
    pub item: usize,
}

/// A checked function definition.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedFn {
    pub name: Arc<str>,
    pub sig: FnSig,
    pub body: Body,
    pub item: usize,
}

/// A checked top-level expression: a thunk (no params) whose result is the
/// expression's value (type `body.ret`).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedExpr {
    pub body: Body,
    pub item: usize,
}

/// How values of a type the transaction replaces become values of the new
/// version (SPEC 6.2): one per type that replaces an existing version.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedMigration {
    pub type_name: Arc<str>,
    /// The version replaced (the world's current one) and the new version.
    pub from: u32,
    pub to: u32,
    /// A pure function named `migrate T` of one parameter, of type `T` at
    /// version `from`, returning `T` at version `to`. Inside it, record
    /// fields and variant payloads may hold another version of their named
    /// type (the runtime migrates nested values on load).
    pub body: Body,
    /// Index of the `migrate` item; `None` when the migration is derived.
    pub item: Option<usize>,
}

/// Everything a transaction defines and runs, in source order within each list.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Checked {
    pub types: Vec<Arc<TypeInfo>>,
    pub fns: Vec<CheckedFn>,
    pub globals: Vec<CheckedGlobal>,
    pub exprs: Vec<CheckedExpr>,
    pub migrations: Vec<CheckedMigration>,
    pub experiments: Vec<CheckedExperiment>,
}

/// A checked `experiment NAME [(traffic: P)] { fn ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedExperiment {
    pub name: Arc<str>,
    pub traffic: u32,
    /// Its functions in its order: replacements and helpers.
    pub fns: Vec<CheckedFn>,
    /// The overridable functions it replaces, in its order.
    pub replaces: Vec<Arc<str>>,
    pub helpers: Vec<Arc<str>>,
    pub item: usize,
}

impl CheckedExperiment {
    pub fn sig(&self) -> ExperimentSig {
        let helpers = self
            .fns
            .iter()
            .filter(|f| self.helpers.contains(&f.name))
            .map(|f| (f.name.clone(), f.sig.clone()))
            .collect();
        ExperimentSig { traffic: self.traffic, replaces: self.replaces.clone(), helpers }
    }

    /// The world's names it depends on: what it replaces and what its code
    /// uses, not its own helpers.
    pub fn uses(&self) -> std::collections::BTreeSet<Arc<str>> {
        let mut u: std::collections::BTreeSet<Arc<str>> = self.replaces.iter().cloned().collect();
        for f in &self.fns {
            u.extend(f.body.uses());
            for (_, t) in &f.sig.params {
                crate::hir::type_names(t, &mut u);
            }
        }
        u.retain(|n| !self.helpers.contains(n));
        u
    }
}

/// Checks one transaction against the world `env`: all its items together, so
/// definitions may refer to each other in any order. `source` is the
/// transaction's text (kept in every body for line numbers). Returns every
/// diagnostic found, sorted by position, if any.
pub fn check_transaction(prog: &ast::Program, source: &Arc<str>, env: &dyn Env) -> Result<Checked, Vec<Diagnostic>> {
    items::check(prog, source, env, None)
}

/// How a reopened image's newest world is checked: its types keep the
/// schema versions their values carry, and its globals (whose values come
/// from the image) are declared by type only — `var NAME: TYPE = ...` with
/// the initialiser not checked.
#[derive(Clone, Debug, Default)]
pub struct Restoring {
    pub schema: std::collections::HashMap<Arc<str>, u32>,
    /// Checking the standard library itself (world 1), which may take the
    /// names reserved for it.
    prelude: bool,
}

impl Restoring {
    pub fn new(schema: std::collections::HashMap<Arc<str>, u32>) -> Restoring {
        Restoring { schema, prelude: false }
    }
}

/// Checks the newest world of a reopened image as one transaction against
/// world 1, the standard library (see [`Restoring`]).
pub fn check_restored(
    prog: &ast::Program,
    source: &Arc<str>,
    env: &dyn Env,
    restoring: &Restoring,
) -> Result<Checked, Vec<Diagnostic>> {
    items::check(prog, source, env, Some(restoring))
}

/// The standard library's definitions (world 1), checked.
pub fn check_prelude() -> Result<Checked, Vec<Diagnostic>> {
    let (prog, diags) = crate::prelude::parsed();
    if !diags.is_empty() {
        return Err(diags.clone());
    }
    let source: Arc<str> = Arc::from(crate::prelude::SOURCE);
    items::check(prog, &source, &EmptyEnv, Some(&Restoring { prelude: true, ..Restoring::default() }))
}
