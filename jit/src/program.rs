//! The running program: worlds (immutable maps from names to definitions, each
//! with its dispatch table), function slots, the global-variable store, and
//! committing a checked transaction as a new world.

use crate::abi::{Header, RuntimeError};
use crate::codegen::{self, CompiledUnit, Resolver, TypeKeys};
use crate::eval::{self, EvalOptions, OwnedValue};
use crate::migrate::View;
use crate::runtime::types::{Layout, LayoutKind, reserve_type_key, set_layout};
use lang::check::{Checked, Env};
use lang::hir::Body;
use lang::types::{FnSig, GlobalSig, NamedTy, Ty, TypeInfo, TypeKind};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

mod image;
mod overlay;
mod restore;

pub use overlay::{CompiledOverride, ExperimentEntry, OverlayTable, Rebase, RequestOverlay};

/// Type keys come from the runtime's process-wide registry.
pub struct RegisteredTypes;

impl TypeKeys for RegisteredTypes {
    fn type_key(&self, named: &NamedTy) -> u32 {
        reserve_type_key(&named.name, named.version)
    }
}

/// What every definition records besides its meaning: its version, its own
/// source text (the item, verbatim) and the names it mentions (an
/// over-approximation of what it depends on).
#[derive(Clone, Debug)]
pub struct DefMeta {
    pub version: u32,
    pub text: Arc<str>,
    pub uses: Arc<[Arc<str>]>,
    /// The world this version entered.
    pub since: u64,
    /// When it was committed (milliseconds since the Unix epoch).
    pub committed_ms: u64,
}

/// One version in a name's history: its meta and the world it left
/// (replaced or forgotten), if it has.
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    pub meta: DefMeta,
    pub left: Option<u64>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[derive(Clone)]
pub struct FnEntry {
    pub sig: FnSig,
    pub slot: u32,
    pub meta: DefMeta,
    /// The machine code the table's slot points into; when no world and no
    /// running activation holds it any more, the code is freed.
    unit: Option<Arc<CompiledUnit>>,
}

#[derive(Clone, Debug)]
pub struct TypeEntry {
    pub info: Arc<TypeInfo>,
    pub meta: DefMeta,
}

#[derive(Clone, Debug)]
pub struct GlobalEntry {
    pub sig: GlobalSig,
    pub id: u32,
    pub meta: DefMeta,
}

/// The text and uses of each definition in a transaction, by name, from the
/// session (which parsed it).
#[derive(Clone, Debug, Default)]
pub struct Texts {
    pub defs: HashMap<Arc<str>, DefText>,
}

/// What a committed world changed, as `:worlds` shows it, from the version
/// each name got.
pub type LogLine<'a> = dyn Fn(&HashMap<Arc<str>, u32>) -> String + 'a;

/// One definition's own text and the names it mentions.
#[derive(Clone, Debug, Default)]
pub struct DefText {
    pub text: Arc<str>,
    pub uses: Arc<[Arc<str>]>,
    /// Re-checked only because something it uses changed signature: it
    /// keeps its version.
    pub dependent: bool,
}

impl World {
    /// The current version's text of a definition, if `name` is defined.
    pub fn text_of(&self, name: &str) -> Option<Arc<str>> {
        self.meta_of(name).map(|m| m.text.clone())
    }

    pub fn meta_of(&self, name: &str) -> Option<&DefMeta> {
        self.fns
            .get(name)
            .map(|f| &f.meta)
            .or_else(|| self.types.get(name).map(|t| &t.meta))
            .or_else(|| self.globals.get(name).map(|g| &g.meta))
            .or_else(|| self.experiments.get(name).map(|e| &e.meta))
    }

    /// Every definition with its meta, for finding dependents.
    pub fn all_defs(&self) -> Vec<(Arc<str>, DefMeta)> {
        let f = self.fns.iter().map(|(n, e)| (n.clone(), e.meta.clone()));
        let t = self.types.iter().map(|(n, e)| (n.clone(), e.meta.clone()));
        let g = self.globals.iter().map(|(n, e)| (n.clone(), e.meta.clone()));
        let x = self.experiments.iter().map(|(n, e)| (n.clone(), e.meta.clone()));
        f.chain(t).chain(g).chain(x).collect()
    }
}

/// An immutable world: what every name means, and where its code is.
pub struct World {
    pub age: u64,
    /// Slot -> code address, read by compiled code through `Ctx::table`.
    table: Vec<usize>,
    pub fns: imbl::HashMap<Arc<str>, FnEntry>,
    pub types: imbl::HashMap<Arc<str>, TypeEntry>,
    pub globals: imbl::HashMap<Arc<str>, GlobalEntry>,
    /// The units holding migrations, which no function entry may keep.
    migration_units: imbl::Vector<Arc<CompiledUnit>>,
    /// The version of each user type this world knows (a new map only when
    /// the transaction defines types, so most worlds share their base's).
    pub view: Arc<View>,
    pub experiments: imbl::HashMap<Arc<str>, ExperimentEntry>,
    overlay_tables: overlay::OverlayTables,
    /// The last schema version of each type `forget` removed (a new type of
    /// the name takes later versions; see `Env::retired_version`).
    retired_types: imbl::HashMap<Arc<str>, u32>,
}

impl World {
    /// Whether `checked` gives a type of this world a new version (its live
    /// values must then be migrated).
    pub fn redefines_types(&self, checked: &Checked) -> bool {
        checked.types.iter().any(|t| self.types.contains_key(&t.named.name))
    }

    /// A copy of this world to build the next one from (a fresh overlay
    /// table cache: its tables belong to this world's table).
    fn successor(&self, age: u64) -> World {
        World {
            age,
            table: self.table.clone(),
            fns: self.fns.clone(),
            types: self.types.clone(),
            globals: self.globals.clone(),
            view: self.view.clone(),
            migration_units: self.migration_units.clone(),
            experiments: self.experiments.clone(),
            overlay_tables: Default::default(),
            retired_types: self.retired_types.clone(),
        }
    }

    pub fn table_ptr(&self) -> *const *const u8 {
        self.table.as_ptr() as *const *const u8
    }
}

impl Env for World {
    fn function(&self, name: &str) -> Option<FnSig> {
        self.fns.get(name).map(|f| f.sig.clone())
    }
    fn type_info(&self, name: &str) -> Option<Arc<TypeInfo>> {
        self.types.get(name).map(|t| t.info.clone())
    }
    fn global(&self, name: &str) -> Option<GlobalSig> {
        self.globals.get(name).map(|g| g.sig.clone())
    }
    fn names(&self) -> Vec<Arc<str>> {
        let defs = self.fns.keys().chain(self.types.keys()).chain(self.globals.keys());
        defs.chain(self.experiments.keys()).cloned().collect()
    }
    fn experiment(&self, name: &str) -> Option<lang::check::ExperimentSig> {
        self.experiments.get(name).map(|e| e.sig.clone())
    }
    fn retired_version(&self, name: &str) -> Option<u32> {
        self.retired_types.get(name).copied()
    }
}

impl TypeKeys for World {
    fn type_key(&self, named: &NamedTy) -> u32 {
        RegisteredTypes.type_key(named)
    }
}

impl Resolver for World {
    fn fn_slot(&self, name: &str) -> u32 {
        self.fns.get(name).map(|f| f.slot).unwrap_or(u32::MAX)
    }
    fn fn_sig(&self, name: &str) -> Option<FnSig> {
        self.function(name)
    }
    fn global_id(&self, name: &str) -> u32 {
        self.globals.get(name).map(|g| g.id).unwrap_or(u32::MAX)
    }
    fn type_info(&self, named: &NamedTy) -> Option<Arc<TypeInfo>> {
        self.types.get(&*named.name).filter(|t| t.info.named.version == named.version).map(|t| t.info.clone())
    }
    fn frame_id(&self, function: &str) -> u32 {
        // Backtraces name the version: `f v2`, `f v2 (closure)`.
        let (base, rest) = function.split_once(' ').map_or((function, ""), |(b, r)| (b, r));
        match self.fns.get(base) {
            Some(e) if rest.is_empty() => eval::register_frame(&format!("{base} v{}", e.meta.version)),
            Some(e) => eval::register_frame(&format!("{base} v{} {rest}", e.meta.version)),
            None => eval::register_frame(function),
        }
    }
}

/// The world being committed as the compiler sees it, plus the shapes of
/// the versions its types replace: a migration's `old` value is of the base
/// world's version (matching an old enum's variants needs their payloads).
struct WithPrevious<'a> {
    world: &'a World,
    base: &'a World,
}

impl TypeKeys for WithPrevious<'_> {
    fn type_key(&self, named: &NamedTy) -> u32 {
        self.world.type_key(named)
    }
}

impl Resolver for WithPrevious<'_> {
    fn fn_slot(&self, name: &str) -> u32 {
        self.world.fn_slot(name)
    }
    fn fn_sig(&self, name: &str) -> Option<FnSig> {
        self.world.fn_sig(name)
    }
    fn global_id(&self, name: &str) -> u32 {
        self.world.global_id(name)
    }
    fn type_info(&self, named: &NamedTy) -> Option<Arc<TypeInfo>> {
        Resolver::type_info(self.world, named).or_else(|| Resolver::type_info(self.base, named))
    }
    fn frame_id(&self, function: &str) -> u32 {
        self.world.frame_id(function)
    }
}

struct Cell {
    name: Arc<str>,
    heap: bool,
    value: Option<u64>,
    /// Bumped by every commit that writes the cell (write-conflict check).
    stamp: u64,
    /// The type versions the value was written in (its writer's view).
    view: Arc<View>,
    /// The value brought into other views (owned), each made at most once
    /// per written value: by commit-time validation or by a lazy load.
    converted: Vec<(Arc<View>, u64)>,
}

impl Cell {
    fn clear_converted(&mut self) {
        for (_, bits) in self.converted.drain(..) {
            if self.heap {
                // SAFETY: the cell owned this reference.
                unsafe { crate::runtime::heap::dec(bits as *const Header) };
            }
        }
    }
}

/// A global's value as a reader in some view gets it.
pub enum Read {
    /// In the reader's view: an owned reference, and the stamp.
    Ready(u64, u64),
    /// Written in another view: an owned reference to the raw value, its
    /// stamp and its view; the reader must walk it into its own view
    /// ([`crate::migrate::Walk`]) and may keep the result with
    /// [`Globals::keep_converted`].
    Convert(u64, u64, Arc<View>),
}

/// At most this many converted copies per global (older views are rare).
const MAX_CONVERTED: usize = 4;

/// The committed values of global variables. Evaluations read snapshots and
/// buffer their writes; [`Globals::commit`] applies them atomically.
#[derive(Default)]
pub struct Globals {
    cells: RwLock<Vec<Cell>>,
    /// Evaluations bound to an image commit holding this for reading; a
    /// transaction holds it for writing while what it writes to the image
    /// must not interleave with them (see [`Globals::freeze`]).
    gate: RwLock<()>,
}

impl Globals {
    fn add(&self, name: Arc<str>, heap: bool) -> u32 {
        let mut cells = self.cells.write().unwrap_or_else(|e| e.into_inner());
        cells.push(Cell { name, heap, value: None, stamp: 0, view: Arc::default(), converted: Vec::new() });
        cells.len() as u32 - 1
    }

    pub fn is_heap(&self, id: u32) -> bool {
        let cells = self.cells.read().unwrap_or_else(|e| e.into_inner());
        cells.get(id as usize).is_some_and(|c| c.heap)
    }

    pub fn name(&self, id: u32) -> Arc<str> {
        let cells = self.cells.read().unwrap_or_else(|e| e.into_inner());
        cells.get(id as usize).map(|c| c.name.clone()).unwrap_or_else(|| "?".into())
    }

    /// The committed value as a reader in view `reader` gets it (an owned
    /// reference for the caller).
    pub fn read(&self, id: u32, reader: &Arc<View>) -> Option<Read> {
        let cells = self.cells.read().unwrap_or_else(|e| e.into_inner());
        let c = cells.get(id as usize)?;
        let v = c.value?;
        let give = |bits: u64| {
            if c.heap {
                // SAFETY: the cell owns a live reference; we hand out another.
                unsafe { crate::runtime::heap::inc(bits as *const Header) };
            }
            bits
        };
        if crate::migrate::compatible(&c.view, reader) {
            return Some(Read::Ready(give(v), c.stamp));
        }
        if let Some((_, bits)) = c.converted.iter().find(|(w, _)| Arc::ptr_eq(w, reader)) {
            return Some(Read::Ready(give(*bits), c.stamp));
        }
        Some(Read::Convert(give(v), c.stamp, c.view.clone()))
    }

    /// How many live values of each version of type `name` the globals
    /// hold (their values and converted copies; `:type`).
    pub fn census(&self, name: &str) -> std::collections::BTreeMap<u32, u64> {
        let cells = self.cells.read().unwrap_or_else(|e| e.into_inner());
        let roots: Vec<(u64, bool)> = cells
            .iter()
            .flat_map(|c| c.value.iter().chain(c.converted.iter().map(|(_, b)| b)).map(move |&b| (b, c.heap)))
            .collect();
        // SAFETY: the cells own these values, and the read lock keeps them.
        unsafe { crate::migrate::census(&roots, name) }
    }

    /// Makes each global's copy in view `view` its value, dropping the value
    /// it was written as and every other copy (`:migrate`: old versions'
    /// storage is freed once nothing else holds it). Answers how many
    /// globals changed.
    pub fn promote(&self, view: &Arc<View>) -> usize {
        let mut cells = self.cells.write().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for c in cells.iter_mut() {
            let Some(i) = c.converted.iter().position(|(w, _)| Arc::ptr_eq(w, view)) else { continue };
            let (w, bits) = c.converted.remove(i);
            if let Some(old) = c.value.replace(bits)
                && c.heap
            {
                // SAFETY: the cell owned this reference.
                unsafe { crate::runtime::heap::dec(old as *const Header) };
            }
            c.view = w;
            c.clear_converted();
            n += 1;
        }
        n
    }

    /// Keeps `bits` (a new reference is taken) as the value of `id` in view
    /// `view`, if the value is still the one with `stamp`.
    pub fn keep_converted(&self, id: u32, stamp: u64, view: &Arc<View>, bits: u64) {
        let mut cells = self.cells.write().unwrap_or_else(|e| e.into_inner());
        let Some(c) = cells.get_mut(id as usize) else { return };
        if c.stamp != stamp || c.converted.iter().any(|(w, _)| Arc::ptr_eq(w, view)) {
            return;
        }
        if c.converted.len() >= MAX_CONVERTED {
            let (_, old) = c.converted.remove(0);
            if c.heap {
                // SAFETY: the cell owned this reference.
                unsafe { crate::runtime::heap::dec(old as *const Header) };
            }
        }
        if c.heap {
            // SAFETY: `bits` is live (the caller holds it); the cell takes a reference.
            unsafe { crate::runtime::heap::inc(bits as *const Header) };
        }
        c.converted.push((view.clone(), bits));
    }

    /// The value of `id` as a reader in `view` sees it without migrating
    /// anything (its value, or a copy already converted into `view`): a new
    /// reference, or `None` if there is none yet.
    pub fn value_in(&self, id: u32, view: &Arc<View>) -> Option<u64> {
        let cells = self.cells.read().unwrap_or_else(|e| e.into_inner());
        let c = cells.get(id as usize)?;
        let v = c.value?;
        let bits = if crate::migrate::compatible(&c.view, view) {
            v
        } else {
            c.converted.iter().find(|(w, _)| Arc::ptr_eq(w, view)).map(|(_, b)| *b)?
        };
        if c.heap {
            // SAFETY: the cell owns a live reference; we hand out another.
            unsafe { crate::runtime::heap::inc(bits as *const Header) };
        }
        Some(bits)
    }

    /// Every global with a value (for commit-time validation of a type
    /// change); each holds a new reference to the raw value.
    pub fn snapshot(&self) -> Vec<CellSnapshot> {
        let cells = self.cells.read().unwrap_or_else(|e| e.into_inner());
        cells
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let v = c.value?;
                if c.heap {
                    // SAFETY: the cell owns a live reference; we hand out another.
                    unsafe { crate::runtime::heap::inc(v as *const Header) };
                }
                Some(CellSnapshot {
                    id: i as u32,
                    name: c.name.clone(),
                    bits: v,
                    heap: c.heap,
                    stamp: c.stamp,
                    view: c.view.clone(),
                })
            })
            .collect()
    }

    /// An evaluation's commit holds this (for reading) while it writes to
    /// the image and applies its writes.
    pub fn gate(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds every evaluation's commit back: while a transaction migrates
    /// values and writes them to the image, no other write may land between
    /// its snapshot of the values and its record.
    pub fn freeze(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `writes` (moving their references into the cells) if no cell
    /// in `reads` changed since it was read. `before` runs first, with the
    /// cells locked (writing the image record, so the file's order is the
    /// commit order); if it fails nothing is applied.
    pub fn commit(
        &self,
        reads: &HashMap<u32, (u64, u64)>,
        writes: &mut Writes,
        before: &mut dyn FnMut() -> Result<(), RuntimeError>,
    ) -> Result<(), RuntimeError> {
        if writes.is_empty() && reads.is_empty() {
            return before();
        }
        let mut cells = self.cells.write().unwrap_or_else(|e| e.into_inner());
        for (&id, &(_, stamp)) in reads {
            if cells.get(id as usize).is_some_and(|c| c.stamp != stamp) {
                let name = cells[id as usize].name.clone();
                return Err(RuntimeError {
                    message: format!("write conflict: `{name}` was changed by another evaluation"),
                    frames: vec![],
                });
            }
        }
        before()?;
        for (id, (bits, view)) in writes.drain() {
            if let Some(c) = cells.get_mut(id as usize) {
                if let Some(old) = c.value.replace(bits)
                    && c.heap
                {
                    // SAFETY: the cell owned this reference.
                    unsafe { crate::runtime::heap::dec(old as *const Header) };
                }
                c.clear_converted();
                c.view = view;
                c.stamp += 1;
            }
        }
        Ok(())
    }

    /// Drops buffered writes that were not committed.
    pub fn discard(&self, writes: &mut Writes) {
        for (id, (bits, _)) in writes.drain() {
            if self.is_heap(id) {
                // SAFETY: the buffer owned this reference.
                unsafe { crate::runtime::heap::dec(bits as *const Header) };
            }
        }
    }

    /// Drops an evaluation's read snapshots.
    pub fn release_reads(&self, reads: &mut HashMap<u32, (u64, u64)>) {
        for (id, (bits, _)) in reads.drain() {
            if self.is_heap(id) {
                // SAFETY: the snapshot owned this reference.
                unsafe { crate::runtime::heap::dec(bits as *const Header) };
            }
        }
    }

    fn set(&self, id: u32, bits: u64, view: Arc<View>) {
        let mut writes = HashMap::from([(id, (bits, view))]);
        // A fresh initialiser's write cannot conflict: no reads are checked.
        let _ = self.commit(&HashMap::new(), &mut writes, &mut || Ok(()));
    }
}

/// One global's value as [`Globals::snapshot`] saw it.
pub struct CellSnapshot {
    pub id: u32,
    pub name: Arc<str>,
    /// An owned reference to the value as written.
    pub bits: u64,
    pub heap: bool,
    pub stamp: u64,
    /// The view it was written in.
    pub view: Arc<View>,
}

/// An evaluation's buffered writes: id -> (owned bits, the writer's view).
pub type Writes = HashMap<u32, (u64, Arc<View>)>;

impl Drop for Globals {
    fn drop(&mut self) {
        let cells = self.cells.get_mut().unwrap_or_else(|e| e.into_inner());
        for c in cells.iter_mut() {
            c.clear_converted();
            if let (Some(v), true) = (c.value.take(), c.heap) {
                // SAFETY: the cell owned this reference.
                unsafe { crate::runtime::heap::dec(v as *const Header) };
            }
        }
    }
}

/// State shared by every evaluation of a program.
pub struct Shared {
    pub globals: Globals,
    /// The image the program is bound to, if any: every commit is written
    /// there (and fsync'd) before it counts.
    pub journal: std::sync::OnceLock<Arc<crate::image::Journal>>,
    pub tasks: crate::tasks::Tasks,
    /// The dispatch-table slot of each migration, by type and from version.
    migrations: RwLock<HashMap<Arc<str>, HashMap<u32, u32>>>,
    latest: AtomicU64,
    newest: std::sync::Mutex<Arc<World>>,
    /// Requests routed to each experiment, and how many of them failed.
    experiment_stats: std::sync::Mutex<HashMap<Arc<str>, (u64, u64)>>,
}

impl Shared {
    /// How many requests this process routed to experiment `name`, and how
    /// many of them failed.
    pub fn experiment_counts(&self, name: &str) -> (u64, u64) {
        let stats = self.experiment_stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.get(name).copied().unwrap_or((0, 0))
    }

    /// Counts a request routed to experiment `name`.
    pub fn count_experiment_request(&self, name: &Arc<str>, failed: bool) {
        let mut stats = self.experiment_stats.lock().unwrap_or_else(|e| e.into_inner());
        let entry = stats.entry(name.clone()).or_default();
        entry.0 += 1;
        entry.1 += failed as u64;
    }

    /// The slot of the migration of `name` from version `from` to the next.
    pub fn migration_slot(&self, name: &str, from: u32) -> Option<u32> {
        let m = self.migrations.read().unwrap_or_else(|e| e.into_inner());
        m.get(name)?.get(&from).copied()
    }

    pub fn latest_age(&self) -> u64 {
        self.latest.load(Ordering::SeqCst)
    }

    /// The newest published world.
    pub fn newest(&self) -> Arc<World> {
        self.newest.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn publish(&self, world: Arc<World>) {
        let age = world.age;
        *self.newest.lock().unwrap_or_else(|e| e.into_inner()) = world;
        self.latest.store(age, Ordering::SeqCst);
    }
}

/// Why a transaction could not be committed.
#[derive(Debug)]
pub enum CommitError {
    /// Code generation failed (a bug or an unsupported feature).
    Codegen(String),
    /// A global initialiser failed; nothing was committed.
    Init { global: Arc<str>, error: RuntimeError },
    /// A live value could not be migrated to a changed type; nothing was
    /// committed.
    Migration(RuntimeError),
    /// The image could not be written; nothing was committed.
    Image(String),
}

/// Whether two global signatures are written the same: the same types, a
/// type it names possibly at another version (its values are migrated).
fn same_written(a: &GlobalSig, b: &GlobalSig) -> bool {
    a.mutable == b.mutable && a.ty.same_written(&b.ty)
}

/// A committed transaction: its world (if it defined anything) and its
/// top-level expressions, compiled and ready to run in order.
pub struct Committed {
    pub world: Arc<World>,
    pub created_world: bool,
    pub exprs: Vec<Thunk>,
    /// The version each (non-dependent) definition got.
    pub versions: HashMap<Arc<str>, u32>,
    /// The global functions compiled by this commit (the rest reuse code).
    pub compiled: Vec<Arc<str>>,
    /// How many live values of each changed type were migrated.
    pub migrated: HashMap<Arc<str>, u64>,
    /// Why the image could not be synced, if it could not: the commit holds
    /// in memory but may not survive a crash.
    pub unsaved: Option<String>,
}

/// A compiled top-level expression.
pub struct Thunk {
    code: *const u8,
    pub ret: Ty,
    /// The world it was checked and compiled in, which it runs in.
    world: Arc<World>,
    /// The experiment whose overlay it runs under (`:try`).
    overlay: Option<Arc<str>>,
    _unit: Arc<CompiledUnit>,
}

/// The program database of one session (issue 3: one transaction per file).
pub struct Program {
    slots: HashMap<Arc<str>, u32>,
    /// The last version number given to each name (never restarts).
    versions: HashMap<Arc<str>, u32>,
    /// Every version of every name, oldest first (`:history`, `:revert`).
    history: HashMap<Arc<str>, Vec<HistoryEntry>>,
    /// Each world after 1 and what its transaction changed (`:worlds`).
    log: Vec<(u64, String)>,
    /// A reopened image's history, not decoded yet ([`Program::load_history`]).
    pending_history: Option<crate::image::replay::History>,
    pub shared: Arc<Shared>,
}

impl Default for Program {
    fn default() -> Self {
        Program::new()
    }
}

impl Program {
    /// A fresh program in world 1 (the standard library).
    pub fn new() -> Program {
        let world = World {
            age: 1,
            table: Vec::new(),
            fns: imbl::HashMap::new(),
            types: imbl::HashMap::new(),
            globals: imbl::HashMap::new(),
            view: Arc::default(),
            migration_units: imbl::Vector::new(),
            experiments: imbl::HashMap::new(),
            overlay_tables: Default::default(),
            retired_types: imbl::HashMap::new(),
        };
        let world = Arc::new(world);
        let shared = Arc::new(Shared {
            globals: Globals::default(),
            journal: std::sync::OnceLock::new(),
            tasks: crate::tasks::Tasks::default(),
            migrations: RwLock::default(),
            latest: AtomicU64::new(1),
            newest: std::sync::Mutex::new(world.clone()),
            experiment_stats: Default::default(),
        });
        Program {
            slots: HashMap::new(),
            versions: HashMap::new(),
            history: HashMap::new(),
            log: Vec::new(),
            pending_history: None,
            shared,
        }
    }

    /// Puts the standard library's types (SPEC 14.1) into world 1, which
    /// stays world 1: they are no user's definitions, have no history, and
    /// are neither exported nor written to images.
    pub fn install_prelude(&mut self, checked: &Checked) {
        let base = self.newest();
        let mut types = base.types.clone();
        for t in &checked.types {
            register_layout(t);
            let meta = DefMeta { version: 1, text: Arc::from(""), uses: Arc::from([]), since: 1, committed_ms: 0 };
            types.insert(t.named.name.clone(), TypeEntry { info: t.clone(), meta });
        }
        let mut world = base.successor(1);
        world.view = Arc::new(types.iter().map(|(n, e)| (n.clone(), e.info.named.version)).collect());
        world.types = types;
        self.shared.publish(Arc::new(world));
    }

    /// Every version of `name`, oldest first.
    pub fn history(&mut self, name: &str) -> Vec<HistoryEntry> {
        self.load_history();
        self.history.get(name).cloned().unwrap_or_default()
    }

    /// The most recent `n` worlds and what each changed, oldest first.
    pub fn recent_worlds(&mut self, n: usize) -> Vec<(u64, String)> {
        self.load_history();
        self.log[self.log.len().saturating_sub(n)..].to_vec()
    }

    pub fn newest(&self) -> Arc<World> {
        self.shared.newest()
    }

    /// Commits a checked transaction: registers its types, compiles its
    /// functions and expressions, runs its global initialisers in the new
    /// world, then publishes the world. A failing initialiser commits nothing.
    /// `log_line` says what the world changed (`:worlds`), given the version
    /// each name got.
    pub fn commit(
        &mut self,
        checked: &Checked,
        texts: &Texts,
        forgets: &[Arc<str>],
        log_line: &LogLine<'_>,
        options: &dyn Fn() -> EvalOptions,
    ) -> Result<Committed, CommitError> {
        let base = self.newest();
        let defines = !checked.fns.is_empty()
            || !checked.types.is_empty()
            || !checked.globals.is_empty()
            || !checked.experiments.is_empty()
            || !forgets.is_empty();
        if defines {
            // History is appended to below: a reopened image's is read first.
            self.load_history();
        }
        let mut world = base.successor(if defines { base.age + 1 } else { base.age });
        for name in forgets {
            world.fns.remove(name);
            if let Some(t) = world.types.remove(name) {
                world.retired_types.insert(name.clone(), t.info.named.version);
            }
            world.globals.remove(name);
            world.experiments.remove(name);
        }
        let age = world.age;
        let mut versions = HashMap::new();
        let mut new_metas = Vec::new();
        let mut meta = |name: &Arc<str>, old: Option<&DefMeta>| -> DefMeta {
            let DefText { text, uses, dependent } = texts.defs.get(name).cloned().unwrap_or_default();
            match old {
                Some(m) if dependent => DefMeta { text, uses, ..m.clone() },
                _ => {
                    let v = self.versions.get(name).copied().unwrap_or(0) + 1;
                    versions.insert(name.clone(), v);
                    let m = DefMeta { version: v, text, uses, since: age, committed_ms: now_ms() };
                    new_metas.push((name.clone(), m.clone()));
                    m
                }
            }
        };
        for t in &checked.types {
            register_layout(t);
            let m = meta(&t.named.name, base.types.get(&t.named.name).map(|e| &e.meta));
            world.types.insert(t.named.name.clone(), TypeEntry { info: t.clone(), meta: m });
        }
        // A new view only when an existing type gets a new version: values
        // written in the old view are then migrated (validated below).
        let types_changed = base.redefines_types(checked);
        if !checked.types.is_empty() {
            world.view = Arc::new(world.types.iter().map(|(n, e)| (n.clone(), e.info.named.version)).collect());
        }
        // Migrations are functions with slots of their own (no name users
        // can call), kept by every later world.
        let mut migration_slots = Vec::new();
        for m in &checked.migrations {
            let key: Arc<str> = Arc::from(format!("migrate {} v{}", m.type_name, m.from).as_str());
            let next = self.slots.len() as u32;
            let slot = *self.slots.entry(key).or_insert(next);
            migration_slots.push(slot);
        }
        let mut fn_slots = Vec::new();
        for f in &checked.fns {
            let next = self.slots.len() as u32;
            let slot = *self.slots.entry(f.name.clone()).or_insert(next);
            fn_slots.push(slot);
            let m = meta(&f.name, base.fns.get(&f.name).map(|e| &e.meta));
            world.fns.insert(f.name.clone(), FnEntry { sig: f.sig.clone(), slot, meta: m, unit: None });
        }
        let experiment_metas: Vec<DefMeta> =
            checked.experiments.iter().map(|e| meta(&e.name, base.experiments.get(&e.name).map(|x| &x.meta))).collect();
        let mut new_globals = Vec::new();
        // A redefined `var` of the same type keeps its value (its new
        // initialiser does not run); anything else gets a fresh cell.
        let mut keeps_value = Vec::new();
        for g in &checked.globals {
            // A dependent re-checked because something it uses changed
            // signature keeps its text, so its value (and the effects of its
            // initialiser, such as a spawned task) stays when its type does.
            let dependent = texts.defs.get(&g.name).is_some_and(|d| d.dependent);
            let (id, keep) = match base.globals.get(&g.name) {
                Some(e) if same_written(&e.sig, &g.sig) && (g.sig.mutable || dependent) => (e.id, true),
                _ => (self.shared.globals.add(g.name.clone(), g.sig.ty.is_heap()), false),
            };
            keeps_value.push(keep);
            let m = meta(&g.name, base.globals.get(&g.name).map(|e| &e.meta));
            world.globals.insert(g.name.clone(), GlobalEntry { sig: g.sig.clone(), id, meta: m });
            new_globals.push(id);
        }

        let mut fn_bodies: Vec<&Body> = checked.fns.iter().map(|f| &f.body).collect();
        fn_bodies.extend(checked.migrations.iter().map(|m| &m.body));
        fn_slots.extend(&migration_slots);
        let mut thunks: Vec<&Body> = checked.globals.iter().map(|g| &g.init).collect();
        thunks.extend(checked.exprs.iter().map(|e| &e.body));
        let resolver = WithPrevious { world: &world, base: &base };
        let unit = codegen::compile_unit(&resolver, &fn_bodies, &thunks).map_err(|e| CommitError::Codegen(e.0))?;
        let unit = Arc::new(unit);
        world.table.resize(self.slots.len(), 0);
        for (&slot, &addr) in fn_slots.iter().zip(&unit.functions) {
            world.table[slot as usize] = addr as usize;
        }
        for f in &checked.fns {
            if let Some(e) = world.fns.get_mut(&f.name) {
                e.unit = Some(unit.clone());
            }
        }
        if !checked.migrations.is_empty() {
            world.migration_units.push_back(unit.clone());
        }
        // Experiments are compiled against the world with this
        // transaction's functions in it, each in a unit of its own.
        for (e, m) in checked.experiments.iter().zip(experiment_metas) {
            let entry = self.compile_experiment(&world, e, m).map_err(|e| CommitError::Codegen(e.0))?;
            world.experiments.insert(e.name.clone(), entry);
        }
        let world = Arc::new(world);
        let mut migrated = HashMap::new();
        let mut migrated_states = Vec::new();
        let journal = self.shared.journal.get().cloned();
        // Held while values are migrated and until the world is published,
        // so that no commit lands between the migrated values and the
        // image record that carries them.
        let mut freeze = (types_changed && journal.is_some()).then(|| self.shared.globals.freeze());
        if types_changed {
            {
                let mut slots = self.shared.migrations.write().unwrap_or_else(|e| e.into_inner());
                for (m, &slot) in checked.migrations.iter().zip(&migration_slots) {
                    slots.entry(m.type_name.clone()).or_default().insert(m.from, slot);
                }
            }
            let validated = crate::migrate::validate(&world, &self.shared, options()).map_err(|error| {
                self.shared.tasks.cancel_pending(age);
                CommitError::Migration(error)
            })?;
            migrated = validated.counts;
            migrated_states = validated.states;
        }

        // Initialisers run in the new world before it is published.
        for (i, g) in checked.globals.iter().enumerate() {
            if keeps_value[i] {
                continue;
            }
            let code = unit.thunks[i];
            // SAFETY: `code` is this unit's initialiser thunk; `unit` is alive.
            match unsafe { eval::run_thunk(world.clone(), self.shared.clone(), code, &g.sig.ty, options()) } {
                Ok(v) => {
                    let bits = v.bits;
                    std::mem::forget(v);
                    self.shared.globals.set(new_globals[i], bits, world.view.clone());
                }
                Err(error) => {
                    self.shared.tasks.cancel_pending(age);
                    return Err(CommitError::Init { global: g.name.clone(), error });
                }
            }
        }
        let mut seq = 0;
        if defines && let Some(journal) = &journal {
            if freeze.is_none() {
                freeze = Some(self.shared.globals.freeze());
            }
            let fresh: Vec<u32> =
                new_globals.iter().zip(&keeps_value).filter(|(_, k)| !**k).map(|(id, _)| *id).collect();
            let record = image::defs_record(
                &world,
                &self.shared.globals,
                checked,
                texts,
                forgets,
                &fresh,
                types_changed,
                migrated_states,
                log_line(&versions),
            );
            seq = journal.append(&record).map_err(|msg| {
                self.shared.tasks.cancel_pending(age);
                CommitError::Image(msg)
            })?;
        }
        if defines {
            for (name, &v) in &versions {
                self.versions.insert(name.clone(), v);
            }
            for name in forgets.iter().chain(new_metas.iter().map(|(n, _)| n)) {
                if let Some(last) = self.history.get_mut(name).and_then(|h| h.last_mut()) {
                    last.left.get_or_insert(age);
                }
            }
            for (name, m) in new_metas {
                self.history.entry(name).or_default().push(HistoryEntry { meta: m, left: None });
            }
            self.log.push((age, log_line(&versions)));
            self.shared.publish(world.clone());
            drop(freeze);
            self.shared.tasks.start_pending(&self.shared, age);
        }
        // Synced after publishing: other commits may share this fsync. If it
        // fails, the change is in memory only, and the caller must say so.
        let unsaved = journal.as_ref().and_then(|j| j.sync(j.written().max(seq)).err());
        let exprs = checked
            .exprs
            .iter()
            .enumerate()
            .map(|(i, e)| Thunk {
                code: unit.thunks[checked.globals.len() + i],
                ret: e.body.ret.clone(),
                world: world.clone(),
                overlay: None,
                _unit: unit.clone(),
            })
            .collect();
        let compiled = checked.fns.iter().map(|f| f.name.clone()).collect();
        Ok(Committed { world, created_world: defines, exprs, versions, compiled, migrated, unsaved })
    }
}

/// `:migrate`: brings every global's value into the newest world's view
/// (running the migrations still needed) and makes that its only copy.
/// Answers how many globals were rewritten.
pub fn migrate_all(shared: &Arc<Shared>, options: EvalOptions) -> Result<usize, RuntimeError> {
    let world = shared.newest();
    crate::migrate::validate(&world, shared, options)?;
    Ok(shared.globals.promote(&world.view))
}

/// Runs one compiled top-level expression as its own evaluation, in the
/// world it was checked in (the newest when its transaction committed).
pub fn run(shared: &Arc<Shared>, thunk: &Thunk, options: EvalOptions) -> Result<OwnedValue, RuntimeError> {
    let options = EvalOptions { overlay: thunk.overlay.clone().or(options.overlay), ..options };
    // SAFETY: a `Thunk` holds its entry address and the unit it lives in.
    unsafe { eval::run_thunk(thunk.world.clone(), shared.clone(), thunk.code, &thunk.ret, options) }
}

/// Calls global function `name` of `world` as one top-level evaluation
/// (a served request: `handle(req)`), its arguments given in image form
/// and converted to runtime values of its parameter types; answers the
/// result in image form. `Err` carries the runtime error (or why the call
/// could not be made).
pub fn call(
    shared: &Arc<Shared>,
    world: Arc<World>,
    name: &str,
    args: &[crate::image::Value],
    options: EvalOptions,
) -> Result<crate::image::Value, RuntimeError> {
    let plain = |message: String| RuntimeError { message, frames: vec![] };
    let f = world.fns.get(name).ok_or_else(|| plain(format!("unknown name `{name}` in world {}", world.age)))?;
    let (slot, sig) = (f.slot, f.sig.clone());
    if sig.params.len() != args.len() {
        return Err(plain(format!("`{name}` takes {} arguments, not {}", sig.params.len(), args.len())));
    }
    let entry = codegen::spawn::task_entry(&sig.params.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(), &sig.ret)
        .map_err(|e| plain(e.0))?;
    let mut bits = Vec::new();
    for (v, (_, ty)) in args.iter().zip(&sig.params) {
        match crate::image::values::from_image(v, codegen::layout::type_desc(ty, &RegisteredTypes)) {
            Ok(b) => bits.push(OwnedValue { bits: b, ty: ty.clone() }),
            Err(e) => return Err(plain(format!("invalid argument: {e}"))),
        }
    }
    let raw: Vec<u64> = bits.iter().map(|v| v.bits).collect();
    // SAFETY: the entry calls slot `slot` of the evaluation's table, which
    // holds `name` with exactly this signature; the arguments are live
    // values of its parameter types, borrowed for the call.
    let value = unsafe {
        eval::run_entry(world, shared.clone(), &sig.ret, options, &|ctx, out| {
            entry(ctx, slot as u64, raw.as_ptr(), out)
        })
    }?;
    drop(bits);
    // SAFETY: `value` is a live value of the function's result type.
    Ok(unsafe { crate::image::values::to_image(value.bits, codegen::layout::type_desc(&sig.ret, &RegisteredTypes)) })
}

/// Tells the runtime the layout of one version of a user type.
fn register_layout(t: &TypeInfo) {
    let key = reserve_type_key(&t.named.name, t.named.version);
    let kind = match &t.kind {
        TypeKind::Record { fields } => LayoutKind::Record {
            fields: fields
                .iter()
                .map(|f| (f.name.to_string(), codegen::layout::type_desc(&f.ty, &RegisteredTypes)))
                .collect(),
        },
        TypeKind::Enum { variants } => LayoutKind::Enum {
            variants: variants
                .iter()
                .map(|v| {
                    let tys = v.payload.iter().map(|p| codegen::layout::type_desc(p, &RegisteredTypes)).collect();
                    (v.name.to_string(), tys)
                })
                .collect(),
        },
    };
    set_layout(key, Layout { name: t.named.name.to_string(), version: t.named.version, kind });
}
