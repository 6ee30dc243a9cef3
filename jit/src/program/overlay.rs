//! Experiments as overlays (SPEC 14.2): an experiment's functions are
//! compiled once, in a unit of their own, calling through the dispatch
//! table like all code; running under an overlay means running with a copy
//! of the world's table in which the replaced slots point at the
//! experiment's code (and its helpers have slots of their own). A call costs
//! the same load and indirect call as anywhere else, and base code calls the
//! replacements without knowing it.

use super::{DefMeta, Program, World};
use crate::codegen::{self, CodegenError};
use crate::codegen::{CompiledUnit, Resolver, TypeKeys};
use lang::check::CheckedExperiment;
use lang::check::ExperimentSig;
use lang::types::{FnSig, NamedTy, TypeInfo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct ExperimentEntry {
    pub sig: ExperimentSig,
    pub meta: DefMeta,
    /// The slot and code address of each of its functions (a replacement
    /// takes its base function's slot; a helper has its own).
    pub(super) code: Vec<(u32, usize)>,
    /// Each helper with its signature and slot.
    pub(super) helpers: Vec<(Arc<str>, FnSig, u32)>,
    /// Keeps the code alive while a world holds the experiment.
    pub(super) _unit: Arc<CompiledUnit>,
}

impl ExperimentEntry {
    /// `base`'s slots with this overlay's functions in theirs.
    fn over(&self, base: &[usize]) -> Vec<usize> {
        let mut table = base.to_vec();
        for &(slot, addr) in &self.code {
            if table.len() <= slot as usize {
                table.resize(slot as usize + 1, 0);
            }
            table[slot as usize] = addr;
        }
        table
    }
}

/// An overlay's dispatch table: a world's table with an overlay's functions
/// in their slots. It keeps the overlay code it points at alive; the world
/// it was made from (which every evaluation using it holds) keeps the rest.
pub struct OverlayTable {
    slots: Vec<usize>,
    _units: Vec<Arc<CompiledUnit>>,
}

impl OverlayTable {
    /// What a context's `table` points at.
    pub(crate) fn as_ptr(&self) -> *const *const u8 {
        self.slots.as_ptr() as *const *const u8
    }
}

/// The dispatch tables of a world's overlays, made when first needed.
#[derive(Default)]
pub(super) struct OverlayTables(Mutex<HashMap<Arc<str>, Arc<OverlayTable>>>);

impl World {
    /// The dispatch table of the world under experiment `name`'s overlay.
    pub fn overlay_table(&self, name: &str) -> Option<Arc<OverlayTable>> {
        let e = self.experiments.get(name)?;
        let mut cache = self.overlay_tables.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = cache.get(name) {
            return Some(t.clone());
        }
        let table = Arc::new(OverlayTable { slots: e.over(&self.table), _units: vec![e._unit.clone()] });
        cache.insert(Arc::from(name), table.clone());
        Some(table)
    }
}

/// Resolves names for code compiled inside an overlay: the world's, plus
/// the overlay's helpers at their own slots.
pub(super) struct OverlayResolver<'a> {
    pub world: &'a World,
    pub helpers: &'a [(Arc<str>, FnSig, u32)],
}

impl TypeKeys for OverlayResolver<'_> {
    fn type_key(&self, named: &NamedTy) -> u32 {
        self.world.type_key(named)
    }
}

impl Resolver for OverlayResolver<'_> {
    fn fn_slot(&self, name: &str) -> u32 {
        match self.helpers.iter().find(|(n, _, _)| &**n == name) {
            Some((_, _, slot)) => *slot,
            None => self.world.fn_slot(name),
        }
    }
    fn fn_sig(&self, name: &str) -> Option<FnSig> {
        match self.helpers.iter().find(|(n, _, _)| &**n == name) {
            Some((_, sig, _)) => Some(sig.clone()),
            None => self.world.fn_sig(name),
        }
    }
    fn global_id(&self, name: &str) -> u32 {
        self.world.global_id(name)
    }
    fn type_info(&self, named: &NamedTy) -> Option<Arc<TypeInfo>> {
        Resolver::type_info(self.world, named)
    }
    fn frame_id(&self, function: &str) -> u32 {
        self.world.frame_id(function)
    }
}

impl Program {
    /// Compiles experiment `e` (checked against `world`) in a unit of its
    /// own: helpers get slots of their own (`EXPERIMENT/HELPER`, kept
    /// across versions), replacements use their base function's.
    pub(super) fn compile_experiment(
        &mut self,
        world: &World,
        e: &CheckedExperiment,
        meta: DefMeta,
    ) -> Result<ExperimentEntry, CodegenError> {
        let mut helpers = Vec::new();
        for f in e.fns.iter().filter(|f| e.helpers.contains(&f.name)) {
            let key: Arc<str> = Arc::from(format!("{}/{}", e.name, f.name).as_str());
            let next = self.slots.len() as u32;
            let slot = *self.slots.entry(key).or_insert(next);
            helpers.push((f.name.clone(), f.sig.clone(), slot));
        }
        let resolver = OverlayResolver { world, helpers: &helpers };
        let bodies: Vec<&lang::hir::Body> = e.fns.iter().map(|f| &f.body).collect();
        let unit = codegen::compile_unit(&resolver, &bodies, &[])?;
        let code: Vec<(u32, usize)> =
            e.fns.iter().zip(&unit.functions).map(|(f, &addr)| (resolver.fn_slot(&f.name), addr as usize)).collect();
        Ok(ExperimentEntry { sig: e.sig(), meta, code, helpers, _unit: Arc::new(unit) })
    }
}

impl Program {
    /// Compiles the top-level expressions of `checked` (checked inside
    /// experiment `name`'s overlay: its helpers visible) to run in the
    /// newest world under that overlay (`:try`).
    pub fn overlay_thunks(
        &self,
        checked: &lang::check::Checked,
        name: &str,
    ) -> Result<Vec<super::Thunk>, CodegenError> {
        let world = self.newest();
        let e = world.experiments.get(name).ok_or_else(|| CodegenError(format!("unknown experiment `{name}`")))?;
        let resolver = OverlayResolver { world: &world, helpers: &e.helpers };
        let bodies: Vec<&lang::hir::Body> = checked.exprs.iter().map(|x| &x.body).collect();
        let unit = Arc::new(codegen::compile_unit(&resolver, &[], &bodies)?);
        Ok(checked
            .exprs
            .iter()
            .zip(&unit.thunks)
            .map(|(x, &code)| super::Thunk {
                code,
                ret: x.body.ret.clone(),
                world: world.clone(),
                overlay: Some(Arc::from(name)),
                _unit: unit.clone(),
            })
            .collect())
    }
}

/// A request's override compiled once (SPEC 14.4) and reused in later
/// worlds while every name it uses, and each of its own, means what it
/// meant when it was checked: its code calls through the dispatch table, so
/// only a changed signature, type version or global cell makes it stale.
/// (Its code does not depend on the experiment under it either — the
/// request's functions do not see the experiment's helpers — so one
/// compilation serves every experiment.)
pub struct CompiledOverride {
    entry: ExperimentEntry,
    basis: Vec<(Arc<str>, Meaning)>,
    /// The table made last: consecutive requests mostly share its world
    /// and experiment.
    last: Mutex<Option<LastTable>>,
}

/// A table with the world (age) and experiment it was made for.
type LastTable = (u64, Option<Arc<str>>, Arc<OverlayTable>);

/// What a name means to compiled code.
#[derive(PartialEq)]
struct Meaning {
    function: Option<FnSig>,
    ty: Option<Arc<TypeInfo>>,
    global: Option<(lang::types::GlobalSig, u32)>,
}

impl Meaning {
    fn of(world: &World, name: &str) -> Meaning {
        Meaning {
            function: world.fns.get(name).map(|f| f.sig.clone()),
            ty: world.types.get(name).map(|t| t.info.clone()),
            global: world.globals.get(name).map(|g| (g.sig.clone(), g.id)),
        }
    }
}

impl CompiledOverride {
    /// The functions it replaces, in its order.
    pub fn replaces(&self) -> &[Arc<str>] {
        &self.entry.sig.replaces
    }

    /// Whether it can run in `world` as compiled (else check it again there).
    pub fn fits(&self, world: &World) -> bool {
        self.basis.iter().all(|(name, meaning)| Meaning::of(world, name) == *meaning)
    }

    /// Its dispatch table over `world` under `experiment`'s overlay, if the
    /// world has it (request beats experiment beats service).
    pub fn table(&self, world: &World, experiment: Option<&Arc<str>>) -> Arc<OverlayTable> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((age, e, t)) = &*last
            && *age == world.age
            && e.as_ref() == experiment
        {
            return t.clone();
        }
        let under = experiment.and_then(|e| world.overlay_table(e));
        let (base, mut units) = match &under {
            Some(t) => (&t.slots, t._units.clone()),
            None => (&world.table, Vec::new()),
        };
        units.push(self.entry._unit.clone());
        let table = Arc::new(OverlayTable { slots: self.entry.over(base), _units: units });
        *last = Some((world.age, experiment.cloned(), table.clone()));
        table
    }
}

impl Program {
    /// Compiles a request's override (checked as an experiment against
    /// `world`).
    pub fn compile_override(
        &mut self,
        world: &World,
        e: &CheckedExperiment,
    ) -> Result<Arc<CompiledOverride>, CodegenError> {
        let meta = DefMeta { version: 1, text: Arc::from(""), uses: Arc::from([]), since: world.age, committed_ms: 0 };
        let entry = self.compile_experiment(world, e, meta)?;
        let mut names = e.uses();
        names.extend(e.fns.iter().map(|f| f.name.clone()));
        let basis = names.into_iter().map(|n| (n.clone(), Meaning::of(world, &n))).collect();
        Ok(Arc::new(CompiledOverride { entry, basis, last: Mutex::new(None) }))
    }
}

/// The same override's table over a newer world, for `latest` (SPEC 14.2),
/// or why its texts no longer check there.
pub type Rebase = Arc<dyn Fn(&Arc<World>) -> Result<Arc<OverlayTable>, String> + Send + Sync>;

/// A request's own overlay as an evaluation runs under it.
pub struct RequestOverlay {
    pub table: Arc<OverlayTable>,
    /// The functions it replaces (`:which`).
    pub replaces: Vec<Arc<str>>,
    pub rebase: Rebase,
}
