//! The transaction's global namespace: its own types, functions and globals,
//! which shadow whatever the world (`Env`) holds under the same name.

use super::Env;
use crate::hir::Builtin;
use crate::types::{FieldInfo, FnSig, GlobalSig, NamedTy, Ty, TypeInfo, TypeKind, VariantInfo};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The built-in type names; also valid as written types.
pub(super) const PRIM_TYPES: [&str; 4] = ["int", "float", "bool", "str"];

/// What a global name stands for while the transaction is being checked.
#[derive(Clone, Debug)]
pub(super) enum GlobalEntry {
    Known(GlobalSig),
    /// A transaction global without a type annotation whose initialiser has
    /// not been checked yet (globals are typed in source order).
    Pending,
}

pub(super) struct Namespace<'a> {
    pub env: &'a dyn Env,
    /// Every name the transaction defines; these hide the env's entirely.
    tx_names: HashSet<Arc<str>>,
    named: HashMap<Arc<str>, Arc<NamedTy>>,
    infos: HashMap<Arc<str>, Arc<TypeInfo>>,
    /// The version a transaction type replaces (the env's current one), so
    /// that values of the old version (a migration's `old`) keep their shape.
    old_infos: HashMap<Arc<str>, Arc<TypeInfo>>,
    fns: HashMap<Arc<str>, FnSig>,
    globals: HashMap<Arc<str>, GlobalEntry>,
    /// Field defaults of transaction types that failed to check: already
    /// reported once at the definition, so uses stay quiet.
    bad_defaults: HashSet<(Arc<str>, usize)>,
}

impl<'a> Namespace<'a> {
    pub fn new(env: &'a dyn Env) -> Namespace<'a> {
        Namespace {
            env,
            tx_names: HashSet::new(),
            named: HashMap::new(),
            infos: HashMap::new(),
            old_infos: HashMap::new(),
            fns: HashMap::new(),
            globals: HashMap::new(),
            bad_defaults: HashSet::new(),
        }
    }

    /// Records that the transaction defines `name`; false if it already did.
    pub fn claim(&mut self, name: &str) -> bool {
        self.tx_names.insert(Arc::from(name))
    }

    pub fn is_tx(&self, name: &str) -> bool {
        self.tx_names.contains(name)
    }

    pub fn add_named(&mut self, nt: Arc<NamedTy>) {
        self.named.insert(nt.name.clone(), nt);
    }

    pub fn add_info(&mut self, info: Arc<TypeInfo>) {
        self.infos.insert(info.named.name.clone(), info);
    }

    pub fn add_old_info(&mut self, info: Arc<TypeInfo>) {
        self.old_infos.insert(info.named.name.clone(), info);
    }

    /// The version of a transaction type that the transaction replaces.
    pub fn old_info(&self, name: &str) -> Option<Arc<TypeInfo>> {
        self.old_infos.get(name).cloned()
    }

    pub fn add_fn(&mut self, name: Arc<str>, sig: FnSig) {
        self.fns.insert(name, sig);
    }

    pub fn set_global(&mut self, name: Arc<str>, entry: GlobalEntry) {
        self.globals.insert(name, entry);
    }

    pub fn mark_bad_default(&mut self, ty: Arc<str>, field: usize) {
        self.bad_defaults.insert((ty, field));
    }

    pub fn bad_default(&self, ty: &Arc<str>, field: usize) -> bool {
        self.bad_defaults.contains(&(ty.clone(), field))
    }

    pub fn named_ty(&self, name: &str) -> Option<Arc<NamedTy>> {
        if self.is_tx(name) { self.named.get(name).cloned() } else { self.env.type_info(name).map(|i| i.named.clone()) }
    }

    pub fn type_info(&self, name: &str) -> Option<Arc<TypeInfo>> {
        if self.is_tx(name) {
            self.infos.get(name).cloned()
        } else {
            self.env.type_info(name).map(|i| self.info_at_tx_versions(i))
        }
    }

    /// A world type as this transaction sees it: one the transaction does
    /// not redefine keeps its version but holds the new versions of those it
    /// does (SPEC 6.2: `type B { a: A }` stays v1 and holds the new `A`), so
    /// code in the same transaction reads `b.a` with the new `A`'s shape.
    fn info_at_tx_versions(&self, info: Arc<TypeInfo>) -> Arc<TypeInfo> {
        if self.named.is_empty() {
            // Most transactions define no type: nothing to see anew.
            return info;
        }
        let kind = match &info.kind {
            TypeKind::Record { fields } => TypeKind::Record {
                fields: fields.iter().map(|f| FieldInfo { ty: self.at_tx_versions(&f.ty), ..f.clone() }).collect(),
            },
            TypeKind::Enum { variants } => TypeKind::Enum {
                variants: variants
                    .iter()
                    .map(|v| VariantInfo {
                        payload: v.payload.iter().map(|t| self.at_tx_versions(t)).collect(),
                        ..v.clone()
                    })
                    .collect(),
            },
        };
        if kind == info.kind { info } else { Arc::new(TypeInfo { named: info.named.clone(), kind }) }
    }

    /// The shape of a named type at its version: the previous version of a
    /// type the transaction redefines (what a migration's `old` has), else
    /// the newest. Older versions of env types are not reachable via `Env`.
    pub fn type_info_of(&self, nt: &NamedTy) -> Option<Arc<TypeInfo>> {
        if let Some(old) = self.old_infos.get(&nt.name)
            && old.named.version == nt.version
        {
            return Some(old.clone());
        }
        self.type_info(&nt.name)
    }

    /// True when the type was defined by this transaction (its spans point
    /// into this transaction's source).
    pub fn is_tx_type(&self, name: &str) -> bool {
        self.is_tx(name) && self.named.contains_key(name)
    }

    pub fn function(&self, name: &str) -> Option<FnSig> {
        if self.is_tx(name) {
            return self.fns.get(name).cloned();
        }
        // A world function whose signature names a type this transaction
        // redefines is re-checked with it (a dependent): the transaction's
        // code sees it at the new versions.
        self.env.function(name).map(|sig| FnSig {
            params: sig.params.iter().map(|(n, t)| (n.clone(), self.at_tx_versions(t))).collect(),
            ret: self.at_tx_versions(&sig.ret),
            ..sig
        })
    }

    pub fn global(&self, name: &str) -> Option<GlobalEntry> {
        if self.is_tx(name) {
            return self.globals.get(name).cloned();
        }
        // A world global whose type names a redefined type keeps its value,
        // migrated to the new version: the transaction sees it at that one.
        self.env.global(name).map(|g| GlobalEntry::Known(GlobalSig { ty: self.at_tx_versions(&g.ty), ..g }))
    }

    /// `ty` with each type this transaction redefines at its new version.
    fn at_tx_versions(&self, ty: &Ty) -> Ty {
        let mut renew = |n: &Arc<NamedTy>| match self.named.get(&n.name) {
            Some(new) if self.is_tx(&n.name) => Some(new.clone()),
            _ => Some(n.clone()),
        };
        ty.try_map_named(&mut renew).unwrap_or_else(|| ty.clone())
    }

    /// Every global name, for `did you mean` hints (builtins included).
    pub fn all_names(&self) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = self.tx_names.iter().cloned().collect();
        out.extend(self.env.names());
        out.extend(Builtin::ALL.iter().map(|(n, _)| Arc::from(*n)));
        out
    }

    /// Every type name, for `did you mean` hints.
    pub fn type_names(&self) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = PRIM_TYPES.iter().map(|n| Arc::from(*n)).collect();
        out.extend(self.named.keys().cloned());
        out.extend(self.env.names().into_iter().filter(|n| !self.is_tx(n) && self.env.type_info(n).is_some()));
        out
    }
}
