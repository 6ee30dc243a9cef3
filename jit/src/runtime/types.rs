//! The process-global runtime type registry.
//!
//! * **Type descriptors** (`tdesc: u32`) name a static Strata type ([`RType`]);
//!   generic helpers (`rt_print`, `rt_eq`, `rt_to_str`) receive one so they know
//!   how to read the bits they are given. Interning is idempotent.
//! * **Type keys** (`type_key: u32`, stored in every record/enum header) name one
//!   schema version of a user type and map to its [`Layout`]. Freeing a record
//!   reads its layout to find which slots hold heap pointers, so lookups are
//!   lock-free: entries live in append-only chunked arrays that are never moved
//!   or freed. Writers (the compiler) take a mutex.
//!
//! Keys start at 1 (0 is never a valid key). Tdescs 0..=4 are the primitives
//! ([`TD_INT`] .. [`TD_STR`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// A static type as the runtime sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RType {
    Int,
    Float,
    Bool,
    Unit,
    Str,
    /// Vector of the element tdesc.
    Vec(u32),
    /// Map from key tdesc to value tdesc.
    Map(u32, u32),
    /// A record or enum, by type key.
    Named(u32),
}

impl RType {
    /// Values of this type are pointers to reference-counted heap objects.
    pub fn is_heap(&self) -> bool {
        matches!(self, RType::Str | RType::Vec(_) | RType::Map(..) | RType::Named(_))
    }
}

pub const TD_INT: u32 = 0;
pub const TD_FLOAT: u32 = 1;
pub const TD_BOOL: u32 = 2;
pub const TD_UNIT: u32 = 3;
pub const TD_STR: u32 = 4;
const N_PRIMS: u32 = 5;
static PRIMS: [RType; N_PRIMS as usize] = [RType::Int, RType::Float, RType::Bool, RType::Unit, RType::Str];

/// The layout of one version of a user type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub name: String,
    pub version: u32,
    pub kind: LayoutKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutKind {
    /// Fields in declaration order, each with its tdesc; slot i is field i.
    Record { fields: Vec<(String, u32)> },
    /// Variants in declaration order (tag = index), each with its payload tdescs.
    Enum { variants: Vec<(String, Vec<u32>)> },
}

// ---------------------------------------------------------------------------
// Append-only chunked storage with lock-free reads.

const FIRST_CHUNK_BITS: u32 = 6;
const FIRST_CHUNK: usize = 1 << FIRST_CHUNK_BITS;
const N_CHUNKS: usize = 27; // 64 * (2^27 - 1) slots: more than u32 ids can name

/// Slots never move once created: chunk `c` holds `64 << c` slots.
struct Chunked<T> {
    chunks: [OnceLock<Box<[T]>>; N_CHUNKS],
}

impl<T: Default> Chunked<T> {
    const fn new() -> Self {
        Chunked { chunks: [const { OnceLock::new() }; N_CHUNKS] }
    }

    fn locate(i: u32) -> (usize, usize) {
        let j = i as usize + FIRST_CHUNK;
        let c = (usize::BITS - 1 - j.leading_zeros() - FIRST_CHUNK_BITS) as usize;
        (c, j - (FIRST_CHUNK << c))
    }

    /// The slot if its chunk exists (lock-free).
    fn get(&self, i: u32) -> Option<&T> {
        let (c, o) = Self::locate(i);
        self.chunks.get(c)?.get()?.get(o)
    }

    /// The slot, creating its chunk if needed.
    fn slot(&self, i: u32) -> &T {
        let (c, o) = Self::locate(i);
        let chunk = self.chunks[c].get_or_init(|| (0..FIRST_CHUNK << c).map(|_| T::default()).collect());
        &chunk[o]
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// Type descriptors.

struct TdescIds {
    ids: HashMap<RType, u32>,
    next: u32,
}

static TDESC_IDS: Mutex<Option<TdescIds>> = Mutex::new(None);
static TDESCS: Chunked<OnceLock<RType>> = Chunked::new();

/// Interns `t`: the same `RType` always gives the same id.
pub fn tdesc(t: RType) -> u32 {
    match t {
        RType::Int => return TD_INT,
        RType::Float => return TD_FLOAT,
        RType::Bool => return TD_BOOL,
        RType::Unit => return TD_UNIT,
        RType::Str => return TD_STR,
        _ => {}
    }
    let mut guard = lock(&TDESC_IDS);
    let state = guard.get_or_insert_with(|| TdescIds { ids: HashMap::new(), next: N_PRIMS });
    if let Some(&id) = state.ids.get(&t) {
        return id;
    }
    let id = state.next;
    state.next += 1;
    // Publish the slot before the id can be handed out.
    let _ = TDESCS.slot(id).set(t.clone());
    state.ids.insert(t, id);
    id
}

/// The type a tdesc stands for, without locking; `None` for an unknown id.
pub fn try_rtype(tdesc: u32) -> Option<&'static RType> {
    if tdesc < N_PRIMS {
        return PRIMS.get(tdesc as usize);
    }
    TDESCS.get(tdesc)?.get()
}

/// The type a tdesc stands for. Panics on an id [`tdesc`] never returned.
pub fn rtype(tdesc: u32) -> RType {
    match try_rtype(tdesc) {
        Some(t) => t.clone(),
        None => panic!("unknown tdesc {tdesc}"),
    }
}

/// Whether values of this tdesc are heap pointers (unknown ids: no).
pub fn is_heap(tdesc: u32) -> bool {
    try_rtype(tdesc).is_some_and(RType::is_heap)
}

// ---------------------------------------------------------------------------
// Type keys and layouts.

pub(crate) struct TypeEntry {
    pub(crate) layout: Layout,
    /// Per variant (one for records): the indices of the slots that hold
    /// heap pointers (freeing a record of floats then touches no slot).
    pub(crate) heap: Vec<Box<[u32]>>,
    /// Only reserved: the layout is a placeholder without fields.
    reserved: bool,
}

impl TypeEntry {
    fn new(layout: Layout, reserved: bool) -> Self {
        let mask = |tds: &[u32]| {
            tds.iter().enumerate().filter(|&(_, &t)| is_heap(t)).map(|(i, _)| i as u32).collect::<Box<[u32]>>()
        };
        let heap = match &layout.kind {
            LayoutKind::Record { fields } => {
                vec![mask(&fields.iter().map(|(_, t)| *t).collect::<Vec<_>>())]
            }
            LayoutKind::Enum { variants } => variants.iter().map(|(_, tds)| mask(tds)).collect(),
        };
        TypeEntry { layout, heap, reserved }
    }
}

struct KeyNames {
    keys: HashMap<(String, u32), u32>,
    next: u32,
}

static KEY_NAMES: Mutex<Option<KeyNames>> = Mutex::new(None);
/// Entries are leaked boxes: a reference handed out stays valid forever, even
/// after [`set_layout`] replaces the entry.
static ENTRIES: Chunked<AtomicPtr<TypeEntry>> = Chunked::new();

fn publish(key: u32, entry: TypeEntry) {
    let p = Box::into_raw(Box::new(entry));
    ENTRIES.slot(key).store(p, Ordering::Release);
}

fn key_for(names: &mut Option<KeyNames>, name: &str, version: u32) -> (u32, bool) {
    let state = names.get_or_insert_with(|| KeyNames { keys: HashMap::new(), next: 1 });
    if let Some(&k) = state.keys.get(&(name.to_string(), version)) {
        return (k, false);
    }
    let k = state.next;
    state.next += 1;
    state.keys.insert((name.to_string(), version), k);
    (k, true)
}

/// The key for `name` version `version`, creating it with a placeholder layout
/// (a record without fields) if new, so recursive types can name themselves
/// before their layout is complete. Complete it with [`set_layout`].
pub fn reserve_type_key(name: &str, version: u32) -> u32 {
    let mut names = lock(&KEY_NAMES);
    let (key, fresh) = key_for(&mut names, name, version);
    if fresh {
        let placeholder = Layout { name: name.to_string(), version, kind: LayoutKind::Record { fields: Vec::new() } };
        publish(key, TypeEntry::new(placeholder, true));
    }
    key
}

/// Sets (or replaces) the layout of a key returned by [`reserve_type_key`] or
/// [`register_layout`]. References returned earlier by [`layout`] stay valid
/// and keep showing the old layout.
pub fn set_layout(key: u32, l: Layout) {
    let names = lock(&KEY_NAMES);
    let known = names.as_ref().is_some_and(|n| key >= 1 && key < n.next);
    if known {
        publish(key, TypeEntry::new(l, false));
    }
}

/// Registers a layout and returns its type key. Registering the same name and
/// version again returns the existing key (completing it if it was only
/// reserved; an already complete layout is kept).
pub fn register_layout(l: Layout) -> u32 {
    let mut names = lock(&KEY_NAMES);
    let (key, fresh) = key_for(&mut names, &l.name, l.version);
    let complete = !fresh && entry(key).is_some_and(|e| !e.reserved);
    if !complete {
        publish(key, TypeEntry::new(l, false));
    }
    key
}

/// The key already registered or reserved for `name` version `version`.
pub fn lookup_type_key(name: &str, version: u32) -> Option<u32> {
    let names = lock(&KEY_NAMES);
    names.as_ref()?.keys.get(&(name.to_string(), version)).copied()
}

pub(crate) fn entry(key: u32) -> Option<&'static TypeEntry> {
    let p = ENTRIES.get(key)?.load(Ordering::Acquire);
    // SAFETY: non-null entries are leaked boxes that are never freed or mutated.
    unsafe { p.as_ref() }
}

/// The layout of a type key, without locking; `None` for an unknown key.
pub fn try_layout(type_key: u32) -> Option<&'static Layout> {
    entry(type_key).map(|e| &e.layout)
}

/// The layout of a type key. Panics on a key never registered or reserved.
pub fn layout(type_key: u32) -> &'static Layout {
    match try_layout(type_key) {
        Some(l) => l,
        None => panic!("unknown type key {type_key}"),
    }
}

/// The slots of a record (variant 0) or of enum variant `tag` that hold heap
/// pointers (lock-free).
pub(crate) fn heap_slots(type_key: u32, variant: u32) -> Option<&'static [u32]> {
    entry(type_key)?.heap.get(variant as usize).map(|b| &**b)
}
