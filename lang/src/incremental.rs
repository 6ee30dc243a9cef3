//! The program database for incremental checking (section 5.4): salsa
//! inputs for the newest world's definitions, the tracked queries that check
//! one definition against the signatures it reads, and the reverse index that
//! finds the definitions a changed signature may break.
//!
//! A transaction's own definitions are checked together by
//! [`check_transaction`](crate::check::check_transaction); this database
//! answers the other question: which *existing* definitions must be checked
//! again, and what they check to. Each definition's check reads names only
//! through [`resolve`] and [`signature`], so salsa records exactly which
//! signatures it depends on; [`signature`] backdates when a redefinition keeps
//! the signature, so a body-only change re-runs no other definition's check.

use crate::check::{Checked, Env, check_transaction};
use crate::diagnostic::Diagnostic;
use crate::types::{FnSig, GlobalSig, Ty, TypeInfo};
use salsa::Setter;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// What a definition offers the code that uses it. Two equal signatures mean
/// its users need neither re-checking nor recompiling.
#[derive(Clone, Debug, PartialEq)]
pub enum Sig {
    Fn(FnSig),
    /// A type's fields or variants, and its schema version.
    Type(Arc<TypeInfo>),
    /// A global's type, and which store cell holds it: a redefined `let` is a
    /// new cell (its users must be recompiled to read it) while a `var` of
    /// the same type keeps its cell (`cell` 0).
    Global {
        sig: GlobalSig,
        cell: u64,
    },
}

/// The check of one definition's text in the newest world.
pub type DefCheck = Result<Checked, Vec<Diagnostic>>;

/// One definition of the newest world. A name keeps its input across
/// versions (and across `forget`), so memos stay keyed by name.
#[salsa::input(debug)]
pub struct Def {
    #[returns(ref)]
    pub name: Arc<str>,
    /// The definition's own text, verbatim.
    #[returns(ref)]
    pub text: Arc<str>,
    /// The signature its transaction checked it to.
    #[returns(ref)]
    pub committed: Sig,
}

/// Which name means which definition. Only [`resolve`] reads it, so a
/// change to the map re-runs those lookups (cheap, and backdated when the
/// name still means the same input), never the checks behind them.
#[salsa::input]
pub struct Scope {
    #[returns(ref)]
    pub defs: imbl::HashMap<Arc<str>, Def>,
}

/// Interned names, never reclaimed: a reclaimed name would look changed to
/// every check that read it, and re-run it for nothing.
#[salsa::interned(revisions = usize::MAX)]
pub struct Name<'db> {
    #[returns(ref)]
    pub text: Arc<str>,
}

#[salsa::db]
pub trait Db: salsa::Database {
    /// The one scope of the newest world.
    fn scope(&self) -> Scope;
    /// Records that a query body ran, when the log is on (the
    /// incrementality tests read it).
    fn note(&self, what: std::fmt::Arguments<'_>);
}

/// The definition `name` means in the newest world, if any.
#[salsa::tracked(returns(copy))]
pub fn resolve<'db>(db: &'db dyn Db, name: Name<'db>) -> Option<Def> {
    db.scope().defs(db).get(name.text(db)).copied()
}

/// A definition's signature. It re-runs whenever its definition is set, and
/// backdates when the value is equal: that is the early cutoff that keeps a
/// body-only change from re-checking its users.
#[salsa::tracked(returns(ref))]
pub fn signature(db: &dyn Db, def: Def) -> Sig {
    db.note(format_args!("signature({})", def.name(db)));
    def.committed(db).clone()
}

/// Checks one definition's text against the newest world, reading every
/// other name through [`resolve`] and [`signature`].
#[salsa::tracked(returns(ref))]
pub fn check_def(db: &dyn Db, def: Def) -> DefCheck {
    db.note(format_args!("check_def({})", def.name(db)));
    let text = def.text(db).clone();
    let (prog, diags) = crate::parser::parse(&text);
    if !diags.is_empty() {
        return Err(diags);
    }
    check_transaction(&prog, &text, &DbEnv { db })
}

/// The world as the checker sees it, answered by the queries.
struct DbEnv<'db> {
    db: &'db dyn Db,
}

impl DbEnv<'_> {
    fn sig(&self, name: &str) -> Option<&Sig> {
        let def = resolve(self.db, Name::new(self.db, Arc::from(name)))?;
        Some(signature(self.db, def))
    }
}

impl Env for DbEnv<'_> {
    fn function(&self, name: &str) -> Option<FnSig> {
        match self.sig(name)? {
            Sig::Fn(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn type_info(&self, name: &str) -> Option<Arc<TypeInfo>> {
        match self.sig(name)? {
            Sig::Type(t) => Some(t.clone()),
            _ => None,
        }
    }
    fn global(&self, name: &str) -> Option<GlobalSig> {
        match self.sig(name)? {
            Sig::Global { sig, .. } => Some(sig.clone()),
            _ => None,
        }
    }
    fn names(&self) -> Vec<Arc<str>> {
        // Only for `did you mean` hints, after an error: reading the whole
        // scope makes this (failed) check depend on every name, which is right.
        self.db.scope().defs(self.db).keys().cloned().collect()
    }
}

#[salsa::db]
#[derive(Default)]
struct Database {
    storage: salsa::Storage<Self>,
    scope: Option<Scope>,
    /// `None` (the default) keeps no log: a long session must not grow.
    log: Arc<Mutex<Option<Vec<String>>>>,
}

#[salsa::db]
impl salsa::Database for Database {}

#[salsa::db]
impl Db for Database {
    fn scope(&self) -> Scope {
        self.scope.expect("the scope is created with the database")
    }
    fn note(&self, what: std::fmt::Arguments<'_>) {
        if let Some(log) = self.log.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            log.push(what.to_string());
        }
    }
}

/// A definition as a transaction commits it.
#[derive(Clone, Debug)]
pub struct NewDef {
    pub name: Arc<str>,
    pub text: Arc<str>,
    pub sig: Sig,
    /// The names its checked code depends on.
    pub uses: Arc<[Arc<str>]>,
}

/// A transaction applied to the inputs but not yet committed: what it
/// changed, and how to take it back.
#[must_use = "a prospect must be settled or reverted"]
pub struct Prospect {
    /// Names whose signature the transaction changes (forgotten names too).
    pub changed: Vec<Arc<str>>,
    /// The scope before, if the transaction changed it.
    old_scope: Option<imbl::HashMap<Arc<str>, Def>>,
    /// Each input the transaction set, with its previous text and signature.
    undo: Vec<(Def, Arc<str>, Sig)>,
    defs: Vec<NewDef>,
    forgets: Vec<Arc<str>>,
}

/// A dependent that still checks in the prospective world: recompile it.
#[derive(Clone, Debug)]
pub struct Rechecked {
    pub name: Arc<str>,
    pub text: Arc<str>,
    pub checked: Checked,
}

/// A dependent that no longer checks, with its own errors.
#[derive(Clone, Debug)]
pub struct Broken {
    pub name: Arc<str>,
    pub diags: Vec<Diagnostic>,
}

/// What each definition of a checked transaction depends on: the names its
/// checked code resolves to and the types its signature mentions.
pub fn uses_of(checked: &Checked) -> HashMap<Arc<str>, Arc<[Arc<str>]>> {
    let mut out = HashMap::new();
    for f in &checked.fns {
        let mut u = f.body.uses();
        for (_, t) in &f.sig.params {
            crate::hir::type_names(t, &mut u);
        }
        out.insert(f.name.clone(), u.into_iter().collect());
    }
    for g in &checked.globals {
        let mut u = g.init.uses();
        crate::hir::type_names(&g.sig.ty, &mut u);
        out.insert(g.name.clone(), u.into_iter().collect());
    }
    for t in &checked.types {
        let mut u = BTreeSet::new();
        for f in t.fields() {
            crate::hir::type_names(&f.ty, &mut u);
        }
        for v in t.variants() {
            v.payload.iter().for_each(|p| crate::hir::type_names(p, &mut u));
        }
        out.insert(t.named.name.clone(), u.into_iter().collect());
    }
    for e in &checked.experiments {
        out.insert(e.name.clone(), e.uses().into_iter().collect());
    }
    out
}

/// The newest world as salsa inputs, plus who uses what.
pub struct Incremental {
    db: Database,
    /// Every input ever created, by name (inputs live as long as the database).
    handles: HashMap<Arc<str>, Def>,
    /// Reverse dependencies: name -> the definitions whose code uses it.
    users: HashMap<Arc<str>, BTreeSet<Arc<str>>>,
    /// Forward dependencies, to take the old edges out on redefinition.
    uses: HashMap<Arc<str>, Arc<[Arc<str>]>>,
    last_cell: u64,
}

impl Default for Incremental {
    fn default() -> Self {
        Incremental::new()
    }
}

impl Incremental {
    /// An empty world (world 1 has no user definitions).
    pub fn new() -> Incremental {
        let mut db = Database::default();
        db.scope = Some(Scope::new(&db, imbl::HashMap::new()));
        Incremental { db, handles: HashMap::new(), users: HashMap::new(), uses: HashMap::new(), last_cell: 0 }
    }

    /// The signatures a checked transaction gives its definitions, by name.
    /// Every `let` gets a new cell, as it does in the global store.
    pub fn signatures(&mut self, checked: &Checked) -> HashMap<Arc<str>, Sig> {
        let mut out = HashMap::new();
        for f in &checked.fns {
            out.insert(f.name.clone(), Sig::Fn(f.sig.clone()));
        }
        for t in &checked.types {
            out.insert(t.named.name.clone(), Sig::Type(t.clone()));
        }
        for g in &checked.globals {
            let cell = if g.sig.mutable { 0 } else { self.fresh_cell() };
            out.insert(g.name.clone(), Sig::Global { sig: g.sig.clone(), cell });
        }
        out
    }

    fn fresh_cell(&mut self) -> u64 {
        self.last_cell += 1;
        self.last_cell
    }

    /// Sets the inputs to the prospective world (the newest plus `defs`,
    /// without `forgets`) and answers which signatures that changes.
    pub fn apply(&mut self, defs: Vec<NewDef>, forgets: &[Arc<str>]) -> Prospect {
        let scope = self.db.scope();
        let old_scope = scope.defs(&self.db).clone();
        let mut new_scope = old_scope.clone();
        let mut changed = Vec::new();
        let mut undo = Vec::new();
        // Tracked rather than found by comparing the maps: that is O(program).
        let mut scope_changed = false;
        for name in forgets {
            if new_scope.remove(name).is_some() {
                changed.push(name.clone());
                scope_changed = true;
            }
        }
        for d in &defs {
            match self.handles.get(&d.name).copied() {
                Some(def) => {
                    let was_live = new_scope.contains_key(&d.name);
                    let old_sig = signature(&self.db, def).clone();
                    if was_live && old_sig != d.sig {
                        changed.push(d.name.clone());
                    }
                    undo.push((def, def.text(&self.db).clone(), old_sig));
                    def.set_text(&mut self.db).to(d.text.clone());
                    def.set_committed(&mut self.db).to(d.sig.clone());
                    if !was_live {
                        new_scope.insert(d.name.clone(), def);
                        scope_changed = true;
                    }
                }
                None => {
                    let def = Def::new(&self.db, d.name.clone(), d.text.clone(), d.sig.clone());
                    self.handles.insert(d.name.clone(), def);
                    new_scope.insert(d.name.clone(), def);
                    scope_changed = true;
                }
            }
        }
        if scope_changed {
            scope.set_defs(&mut self.db).to(new_scope);
        }
        changed.sort();
        let old_scope = scope_changed.then_some(old_scope);
        Prospect { changed, old_scope, undo, defs, forgets: forgets.to_vec() }
    }

    /// The existing definitions that use a changed name, other than those in
    /// `skip` (the transaction's own and forgotten ones), sorted by name.
    pub fn dependents(&self, changed: &[Arc<str>], skip: &HashSet<Arc<str>>) -> Vec<Arc<str>> {
        let mut out = BTreeSet::new();
        for name in changed {
            for user in self.users.get(name).into_iter().flatten() {
                if !skip.contains(user) && user != name {
                    out.insert(user.clone());
                }
            }
        }
        out.into_iter().collect()
    }

    /// Checks, in the prospective world, every definition that uses a name
    /// whose signature the prospect changes (other than those in `skip`).
    /// Salsa re-runs only the checks whose signatures changed; the others
    /// answer from their memo. Every failure is returned, by name.
    pub fn recheck(&mut self, p: &mut Prospect, skip: &HashSet<Arc<str>>) -> Result<Vec<Rechecked>, Vec<Broken>> {
        let mut ok = Vec::new();
        let mut broken = Vec::new();
        // A type whose own text is unchanged keeps its version when a type
        // it mentions changes (SPEC 6.2: `type Booking { who: Person }`
        // stays v1): it takes the new shapes of what it mentions, and its
        // users follow — round by round, since types mention types.
        let mut changed: Vec<Arc<str>> = p.changed.clone();
        let mut all_changed: BTreeSet<Arc<str>> = changed.iter().cloned().collect();
        let mut types: HashMap<Arc<str>, Rechecked> = HashMap::new();
        for _round in 0..MAX_TYPE_ROUNDS {
            let mut next = Vec::new();
            for name in self.dependents(&changed, skip) {
                let Some(&def) = self.handles.get(&name) else { continue };
                let committed = def.committed(&self.db).clone();
                let Sig::Type(old) = &committed else { continue };
                let text = def.text(&self.db).clone();
                let info = match check_def(&self.db, def) {
                    Ok(checked) => checked.types.first().map(|t| keep_version(t, &old.named)),
                    Err(diags) => {
                        broken.push(Broken { name: name.clone(), diags: diags.clone() });
                        None
                    }
                };
                let Some(info) = info else { continue };
                let sig = Sig::Type(info.clone());
                if sig != committed {
                    p.undo.push((def, text.clone(), committed.clone()));
                    def.set_committed(&mut self.db).to(sig);
                    next.push(name.clone());
                }
                let checked = Checked { types: vec![info], ..Checked::default() };
                types.insert(name.clone(), Rechecked { name, text, checked });
            }
            if next.is_empty() {
                break;
            }
            all_changed.extend(next.iter().cloned());
            changed = next;
        }
        let all_changed: Vec<Arc<str>> = all_changed.into_iter().collect();
        let mut dependents: Vec<Arc<str>> =
            self.dependents(&all_changed, skip).into_iter().filter(|n| !types.contains_key(n)).collect();
        // A global whose type is written the same keeps its value, migrated
        // to the new versions (SPEC 6.3): it gets its type at those versions
        // first, so that code using it is checked against what it will hold.
        let mut retyped = Vec::new();
        for name in &dependents {
            let Some(&def) = self.handles.get(name) else { continue };
            let committed = def.committed(&self.db).clone();
            if let Sig::Global { sig, cell } = &committed
                && let Some(ty) = self.at_newest_versions(&sig.ty)
                && ty != sig.ty
            {
                p.undo.push((def, def.text(&self.db).clone(), committed.clone()));
                let sig = GlobalSig { ty, ..sig.clone() };
                def.set_committed(&mut self.db).to(Sig::Global { sig, cell: *cell });
                retyped.push(name.clone());
            }
        }
        if !retyped.is_empty() {
            let mut all: BTreeSet<Arc<str>> = dependents.into_iter().collect();
            all.extend(self.dependents(&retyped, skip).into_iter().filter(|n| !types.contains_key(n)));
            dependents = all.into_iter().collect();
        }
        // A function re-checked because a type it mentions changed takes
        // that type's new version in its signature (`fn area(p: P)` now
        // takes P v2), and what calls it is checked against that — round by
        // round, as calls chain. Salsa re-runs only the checks that read a
        // signature set here.
        let mut results: BTreeMap<Arc<str>, Result<Rechecked, Broken>> = BTreeMap::new();
        let mut pending: BTreeSet<Arc<str>> = dependents.into_iter().collect();
        for _round in 0..MAX_TYPE_ROUNDS {
            let mut resigned = Vec::new();
            for name in &pending {
                let Some(&def) = self.handles.get(name) else { continue };
                let text = def.text(&self.db).clone();
                let result = match check_def(&self.db, def).clone() {
                    Ok(checked) => {
                        let committed = def.committed(&self.db).clone();
                        match (&committed, checked.fns.first(), checked.globals.first()) {
                            (Sig::Fn(old), Some(f), _) if *old != f.sig => {
                                p.undo.push((def, text.clone(), committed.clone()));
                                def.set_committed(&mut self.db).to(Sig::Fn(f.sig.clone()));
                                resigned.push(name.clone());
                                Ok(Rechecked { name: name.clone(), text, checked })
                            }
                            // A global's type is what its users and its stored
                            // value rely on: only its own redefinition changes
                            // it, never a change elsewhere (a `let x = f()`
                            // whose `f` now returns another type).
                            (Sig::Global { sig, .. }, _, Some(g)) if sig.ty != g.sig.ty => Err(Broken {
                                name: name.clone(),
                                diags: vec![changed_global_type(name, &sig.ty, &g.sig.ty)],
                            }),
                            _ => Ok(Rechecked { name: name.clone(), text, checked }),
                        }
                    }
                    Err(diags) => {
                        match self.kept_global(def).filter(|_| self.uses_a_changed_type(name, &all_changed)) {
                            Some(checked) => Ok(Rechecked { name: name.clone(), text, checked }),
                            None => Err(Broken { name: name.clone(), diags }),
                        }
                    }
                };
                results.insert(name.clone(), result);
            }
            if resigned.is_empty() {
                break;
            }
            // Only what calls a re-signed function can check differently now.
            pending = self.dependents(&resigned, skip).into_iter().filter(|n| !types.contains_key(n)).collect();
        }
        ok.extend(types.into_values());
        for result in results.into_values() {
            match result {
                Ok(r) => ok.push(r),
                Err(b) => broken.push(b),
            }
        }
        if broken.is_empty() { Ok(ok) } else { Err(broken) }
    }

    /// A global whose initialiser no longer checks because a type it uses
    /// changed, while its own type is still written the same: it keeps its
    /// value, migrated to the new versions (SPEC 6.3), and its initialiser
    /// never runs again — so it stays, as the text it was committed with,
    /// and the global gets its type at the new versions.
    fn kept_global(&self, def: Def) -> Option<Checked> {
        let Sig::Global { sig, .. } = def.committed(&self.db) else { return None };
        let ty = self.at_newest_versions(&sig.ty)?;
        let name = def.name(&self.db).clone();
        let text = def.text(&self.db).clone();
        let init = crate::hir::Body::never_runs(&name, ty.clone(), text, Default::default());
        let sig = GlobalSig { ty, ..sig.clone() };
        let global = crate::check::CheckedGlobal { name, sig, init, item: 0 };
        Some(Checked { globals: vec![global], ..Checked::default() })
    }

    /// Whether `name`'s code uses a type among `changed` (whose users a type
    /// change re-checks; a global that no longer checks because of one keeps
    /// its value).
    fn uses_a_changed_type(&self, name: &Arc<str>, changed: &[Arc<str>]) -> bool {
        let uses = self.uses.get(name).cloned().unwrap_or_else(|| Arc::from([]));
        uses.iter()
            .filter(|u| changed.contains(u))
            .any(|u| self.handles.get(u).is_some_and(|d| matches!(d.committed(&self.db), Sig::Type(_))))
    }

    /// `ty` with each named type at its version in the newest world (if
    /// every one still exists there).
    fn at_newest_versions(&self, ty: &Ty) -> Option<Ty> {
        ty.try_map_named(&mut |n| {
            let def = resolve(&self.db, Name::new(&self.db, n.name.clone()))?;
            match signature(&self.db, def) {
                Sig::Type(info) => Some(info.named.clone()),
                _ => None,
            }
        })
    }

    /// The check of `name`'s current definition (memoised).
    pub fn check(&self, name: &str) -> Option<&DefCheck> {
        let def = *self.handles.get(name)?;
        Some(check_def(&self.db, def))
    }

    /// The newest world (prospective while a transaction is applied), for
    /// checking a transaction's text against it.
    pub fn env(&self) -> impl Env + '_ {
        DbEnv { db: &self.db }
    }

    /// Takes a rejected transaction back: every input as it was.
    pub fn revert(&mut self, p: Prospect) {
        for (def, text, sig) in p.undo.into_iter().rev() {
            def.set_text(&mut self.db).to(text);
            def.set_committed(&mut self.db).to(sig);
        }
        if let Some(old) = p.old_scope {
            let scope = self.db.scope();
            scope.set_defs(&mut self.db).to(old);
        }
    }

    /// Keeps a committed transaction and its re-checked dependents (their
    /// text is unchanged; their signatures may be new, e.g. a type's schema
    /// version); the reverse index learns every new edge.
    pub fn settle(&mut self, p: Prospect, dependents: &[Rechecked]) {
        for name in &p.forgets {
            self.set_uses(name, Arc::from([]));
        }
        for d in p.defs {
            self.set_uses(&d.name, d.uses);
        }
        for r in dependents {
            let mut uses = uses_of(&r.checked);
            let sigs = self.signatures(&r.checked);
            if let (Some(def), Some(sig)) = (self.handles.get(&r.name).copied(), sigs.get(&r.name))
                && def.committed(&self.db) != sig
            {
                def.set_committed(&mut self.db).to(sig.clone());
            }
            self.set_uses(&r.name, uses.remove(&r.name).unwrap_or_else(|| Arc::from([])));
        }
    }

    fn set_uses(&mut self, name: &Arc<str>, uses: Arc<[Arc<str>]>) {
        if let Some(old) = self.uses.remove(name) {
            for u in old.iter() {
                if let Some(set) = self.users.get_mut(u) {
                    set.remove(name);
                    if set.is_empty() {
                        self.users.remove(u);
                    }
                }
            }
        }
        for u in uses.iter() {
            self.users.entry(u.clone()).or_default().insert(name.clone());
        }
        if !uses.is_empty() {
            self.uses.insert(name.clone(), uses);
        }
    }

    /// Starts logging which query bodies run (for tests of incrementality).
    pub fn keep_log(&self) {
        self.db.log.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Vec::new);
    }

    /// The query bodies that ran since the last call (or since
    /// [`Self::keep_log`]), as `query(name)`, in the order they ran.
    pub fn take_log(&self) -> Vec<String> {
        self.db.log.lock().unwrap_or_else(|e| e.into_inner()).as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The definition `name` means in the newest world, with its text and
    /// signature (for tests: a reverted transaction leaves these as they were).
    pub fn lookup(&self, name: &str) -> Option<(Arc<str>, Sig)> {
        let def = resolve(&self.db, Name::new(&self.db, Arc::from(name)))?;
        Some((def.text(&self.db).clone(), signature(&self.db, def).clone()))
    }
}

#[cfg(test)]
mod tests;

/// The error of a global whose inferred type a change elsewhere would alter.
fn changed_global_type(name: &str, old: &Ty, new: &Ty) -> Diagnostic {
    Diagnostic::new(
        format!("type mismatch: `{name}` is `{old}`, and this change would make it `{new}`"),
        crate::span::Span::default(),
    )
    .with_hint(format!("redefine `{name}` (with its type written) in the same input"))
}

/// Rounds of re-checking types that mention changed types, and callers of
/// functions whose signatures took a changed type's new version (a chain of
/// types each mentioning the next, or of calls, needs one round per link).
const MAX_TYPE_ROUNDS: usize = 16;

/// `info` (a re-check of a type whose text is unchanged, which the checker
/// numbered as a new version) at its committed version `named`.
fn keep_version(info: &TypeInfo, named: &Arc<crate::types::NamedTy>) -> Arc<TypeInfo> {
    // Its own name in its fields (recursive types) moves with it.
    let own = |t: &Ty| {
        t.try_map_named(&mut |n| Some(if *n == info.named { named.clone() } else { n.clone() }))
            .unwrap_or_else(|| t.clone())
    };
    let kind = match &info.kind {
        crate::types::TypeKind::Record { fields } => crate::types::TypeKind::Record {
            fields: fields.iter().map(|f| crate::types::FieldInfo { ty: own(&f.ty), ..f.clone() }).collect(),
        },
        crate::types::TypeKind::Enum { variants } => crate::types::TypeKind::Enum {
            variants: variants
                .iter()
                .map(|v| crate::types::VariantInfo {
                    name: v.name.clone(),
                    payload: v.payload.iter().map(own).collect(),
                })
                .collect(),
        },
    };
    Arc::new(TypeInfo { named: named.clone(), kind })
}
