//! Migrating live values between schema versions (SPEC 6.3): a *view* says
//! which version of each user type a world knows, and [`Walk`] rewrites a
//! value written in one view into another, running each record's or enum's
//! migration chain and sharing every part that does not change. The same
//! walk validates a type change at commit and migrates lazily on load.

use crate::abi::{Header, Kind};
use crate::runtime::heap::{self, HeapRef};
use crate::runtime::types::{heap_slots, try_layout};
use crate::runtime::vector::{VecData, new_vec, vec_data};
use std::collections::HashMap;
use std::sync::Arc;

/// The version of each user type a world knows.
pub type View = imbl::HashMap<Arc<str>, u32>;

/// Whether a value written in view `writer` needs nothing to be read in
/// view `reader`: every type both know is at the same version (a type one
/// of them does not know cannot be in the value, or be expected of it).
pub fn compatible(writer: &Arc<View>, reader: &Arc<View>) -> bool {
    if Arc::ptr_eq(writer, reader) {
        return true;
    }
    let (small, large) = if writer.len() <= reader.len() { (writer, reader) } else { (reader, writer) };
    small.iter().all(|(name, v)| large.get(name).is_none_or(|w| w == v))
}

/// Runs one migration step: the migration of type `name` from version
/// `from` to `from + 1` on a borrowed value, giving the new owned value or
/// the error's message.
pub type Step<'a> = &'a dyn Fn(&str, u32, u64) -> Result<u64, String>;

/// Records and enums migrated so far by every walk of the process, for a
/// progress display of long commits (updated every [`PROGRESS_EVERY`]).
pub static PROGRESS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
const PROGRESS_EVERY: u64 = 4096;

/// One walk of values into the `target` view.
pub struct Walk<'a> {
    target: &'a View,
    step: Step<'a>,
    /// How many records and enums were migrated, by type name.
    pub migrated: HashMap<Arc<str>, u64>,
    unreported: u64,
}

impl Drop for Walk<'_> {
    fn drop(&mut self) {
        PROGRESS.fetch_add(self.unreported, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Why a value could not be brought into the target view.
#[derive(Debug)]
pub enum WalkError {
    /// A value of a newer version than the target view knows.
    Newer { name: String, found: u32, known: u32 },
    /// A migration failed on this value (display form) with this message.
    Failed { value: String, message: String },
}

impl<'a> Walk<'a> {
    pub fn new(target: &'a View, step: Step<'a>) -> Walk<'a> {
        Walk { target, step, migrated: HashMap::new(), unreported: 0 }
    }

    /// `bits` (a borrowed value; `heap` says whether it is a pointer) in the
    /// target view: `None` if it already is, else the new owned value.
    ///
    /// # Safety
    /// `bits` must be a live value, a heap pointer exactly when `heap`.
    pub unsafe fn value(&mut self, bits: u64, heap: bool) -> Result<Option<u64>, WalkError> {
        if !heap || bits == 0 {
            return Ok(None);
        }
        // SAFETY: the caller guarantees a live heap value.
        unsafe { self.object(bits as *const Header) }.map(|o| o.map(|p| p as u64))
    }

    unsafe fn object(&mut self, p: *const Header) -> Result<Option<*const Header>, WalkError> {
        // SAFETY (whole body): `p` is a live object; every pointer read out
        // of it is a live object it owns.
        unsafe {
            match (*p).kind {
                k if k == Kind::Vec as u32 => self.vector(p),
                k if k == Kind::Record as u32 || k == Kind::Enum as u32 => self.named(p),
                // Strings hold no user types; maps of records are walked
                // by value (below).
                k if k == Kind::Map as u32 => self.map(p),
                _ => Ok(None),
            }
        }
    }

    unsafe fn vector(&mut self, p: *const Header) -> Result<Option<*const Header>, WalkError> {
        // SAFETY: `p` is a live vector.
        let data = unsafe { vec_data(p) };
        let VecData::Refs(elems) = data else { return Ok(None) };
        let mut changed: Option<imbl::Vector<HeapRef>> = None;
        for (i, e) in elems.iter().enumerate() {
            // SAFETY: elements are live objects owned by the vector.
            if let Some(new) = unsafe { self.object(e.as_ptr())? } {
                let v = changed.get_or_insert_with(|| elems.clone());
                // SAFETY: `new` is an owned reference, given to the vector.
                v.set(i, unsafe { HeapRef::from_owned(new) });
            }
        }
        Ok(changed.map(|v| new_vec(VecData::Refs(v)) as *const Header))
    }

    unsafe fn map(&mut self, p: *const Header) -> Result<Option<*const Header>, WalkError> {
        // SAFETY: `p` is a live map.
        unsafe { crate::runtime::map::map_values(p, &mut |v| self.object(v)) }
    }

    unsafe fn named(&mut self, p: *const Header) -> Result<Option<*const Header>, WalkError> {
        // SAFETY (whole body): `p` is a live record or enum.
        unsafe {
            let key = (*p).type_key;
            let Some(layout) = try_layout(key) else { return Ok(None) };
            let name: &str = &layout.name;
            let known = self.target.get(name).copied().unwrap_or(layout.version);
            if layout.version > known {
                return Err(WalkError::Newer { name: name.to_string(), found: layout.version, known });
            }
            if layout.version < known {
                let mut cur = p;
                heap::inc(cur);
                for from in layout.version..known {
                    let next = (self.step)(name, from, cur as u64).map_err(|message| WalkError::Failed {
                        value: crate::runtime::display::display_named(cur),
                        message,
                    });
                    heap::dec(cur);
                    cur = next? as *const Header;
                }
                match self.migrated.get_mut(name) {
                    Some(n) => *n += 1,
                    None => drop(self.migrated.insert(Arc::from(name), 1)),
                }
                self.unreported += 1;
                if self.unreported == PROGRESS_EVERY {
                    PROGRESS.fetch_add(PROGRESS_EVERY, std::sync::atomic::Ordering::Relaxed);
                    self.unreported = 0;
                }
                // Its fields may hold old versions of other types.
                return Ok(Some(match self.fields(cur)? {
                    Some(new) => {
                        heap::dec(cur);
                        new
                    }
                    None => cur,
                }));
            }
            self.fields(p)
        }
    }

    /// A copy of record/enum `p` with its heap fields walked, if any changed.
    unsafe fn fields(&mut self, p: *const Header) -> Result<Option<*const Header>, WalkError> {
        // SAFETY (whole body): `p` is a live record or enum; slot indices
        // come from its layout.
        unsafe {
            let (key, tag) = ((*p).type_key, (*p).tag);
            let Some(slots) = heap_slots(key, tag) else { return Ok(None) };
            let mut new: Option<*mut Header> = None;
            for &i in slots {
                let field = heap::slot(p, i as usize);
                if field == 0 {
                    continue;
                }
                if let Some(f) = self.object(field as *const Header)? {
                    let copy = *new.get_or_insert_with(|| heap::copy_slots(p));
                    let old = std::mem::replace(&mut *heap::slot_ptr(copy, i as usize), f as u64);
                    heap::dec(old as *const Header);
                }
            }
            Ok(new.map(|c| c as *const Header))
        }
    }
}

/// `bits` (a borrowed value; a pointer when `heap`) brought into view
/// `target` by a [`Walk`] whose migrations run in the evaluation of `ctx`:
/// `None` if it already is in that view, else the new owned value. Adds
/// how many values of each type migrated to `counts`.
///
/// # Safety
/// `ctx` must be a live context whose world has the migrations `target`
/// needs; `bits` a live value.
pub(crate) unsafe fn convert(
    ctx: *mut crate::abi::Ctx,
    shared: &crate::program::Shared,
    target: &View,
    bits: u64,
    heap: bool,
    counts: &mut HashMap<Arc<str>, u64>,
) -> Result<Option<u64>, WalkError> {
    // SAFETY: the caller's contract.
    let step = |n: &str, from: u32, v: u64| unsafe { call_step(ctx, shared, n, from, v) };
    let mut walk = Walk::new(target, &step);
    // SAFETY: the caller's contract.
    let result = unsafe { walk.value(bits, heap) };
    for (t, n) in std::mem::take(&mut walk.migrated) {
        *counts.entry(t).or_default() += n;
    }
    result
}

/// Runs the migration of `name` from version `from` on the borrowed value
/// `bits`, in the evaluation of `ctx` (whose world has the migration's
/// code): the new owned value, or the failure's message.
///
/// # Safety
/// `ctx` must be a live context; `bits` a live value of `name` v`from`.
unsafe fn call_step(
    ctx: *mut crate::abi::Ctx,
    shared: &crate::program::Shared,
    name: &str,
    from: u32,
    bits: u64,
) -> Result<u64, String> {
    static ENTRY: std::sync::OnceLock<Result<crate::codegen::spawn::TaskEntry, String>> = std::sync::OnceLock::new();
    let slot = shared.migration_slot(name, from).ok_or_else(|| format!("no migration of `{name}` from v{from}"))?;
    let entry = ENTRY.get_or_init(|| crate::codegen::spawn::heap_entry().map_err(|e| e.0)).clone()?;
    let args = [bits];
    let mut out = 0u64;
    // SAFETY: the entry calls slot `slot` of ctx's world, the migration
    // `fn(old: name v from) -> name v from+1`, with the borrowed value.
    let status = unsafe { entry(ctx, slot as u64, args.as_ptr(), &mut out) };
    if status == 0 {
        return Ok(out);
    }
    // SAFETY: `ctx` and its evaluation are live.
    unsafe {
        let err = (*(*ctx).eval).error.borrow_mut().take();
        (*ctx).err.store(0, std::sync::atomic::Ordering::Relaxed);
        Err(err.map(|e| e.message).unwrap_or_else(|| "the migration failed".into()))
    }
}

/// The runtime error of a load of a value (`place`: "`GLOBAL`" or "the
/// state of task N") that could not be brought into the view of `world`.
pub(crate) fn load_error(e: &WalkError, place: &str, world: u64) -> String {
    match e {
        WalkError::Newer { name, found, known } => format!(
            "newer version: {place} holds a `{name}` v{found}, but world {world} knows only v{known}; call newer code with `latest`"
        ),
        WalkError::Failed { value, message } => format!("migration failed for {value} (in {place}): {message}"),
    }
}

/// Commit-time validation of a type change (SPEC 6.3): the value of every
/// global is brought into `world`'s view, running the migrations as one
/// evaluation in `world` (not yet published); the converted values are kept
/// with the globals, so later loads in that view are free. Answers how many
/// values of each type migrated, or the first failure (`migration failed
/// for VALUE (in `GLOBAL`): ERROR`), in which case nothing is kept that
/// anyone could see: `world` is never published.
pub(crate) fn validate(
    world: &Arc<crate::program::World>,
    shared: &Arc<crate::program::Shared>,
    options: crate::eval::EvalOptions,
) -> Result<Validated, crate::abi::RuntimeError> {
    let cells = shared.globals.snapshot();
    let states = shared.tasks.loop_states();
    let counts = std::cell::RefCell::new(HashMap::<Arc<str>, u64>::new());
    // Migrated loop states, for the image (their tasks migrate them again
    // before their next step).
    let imaged = std::cell::RefCell::new(Vec::new());
    let keep_states = shared.journal.get().is_some();
    let target = world.view.clone();
    let run = |ctx: *const crate::abi::Ctx, _out: *mut u64| -> u8 {
        let ctx = ctx as *mut crate::abi::Ctx;
        for crate::program::CellSnapshot { id, name, bits: raw, heap, stamp, view } in &cells {
            if compatible(view, &target) {
                continue;
            }
            let mut counts = counts.borrow_mut();
            // SAFETY: `ctx` is this evaluation's; `raw` a live value the
            // snapshot holds a reference to.
            match unsafe { convert(ctx, shared, &target, *raw, *heap, &mut counts) } {
                Ok(Some(new)) => {
                    shared.globals.keep_converted(*id, *stamp, &target, new);
                    // SAFETY: we owned `new`; the globals took their own reference.
                    unsafe { heap::dec(new as *const Header) };
                }
                Ok(None) => shared.globals.keep_converted(*id, *stamp, &target, *raw),
                Err(e) => {
                    // SAFETY: as above.
                    unsafe { crate::abi::raise(ctx, load_error(&e, &format!("`{name}`"), world.age)) };
                    return 1;
                }
            }
        }
        // Loop tasks' states are migrated before their next step; here they
        // are only validated.
        for crate::tasks::LoopState { id, values, view, types, steps } in &states {
            if compatible(view, &target) {
                continue;
            }
            let mut state = Vec::new();
            for (&(bits, heap), ty) in values.iter().zip(types) {
                let tdesc = crate::codegen::layout::type_desc(ty, &crate::program::RegisteredTypes);
                // SAFETY: `ctx` is this evaluation's; `bits` a live value the
                // snapshot holds a reference to.
                match unsafe { convert(ctx, shared, &target, bits, heap, &mut HashMap::new()) } {
                    // SAFETY: we owned `new`, a live value of `ty`.
                    Ok(Some(new)) => unsafe {
                        if keep_states {
                            state.push(crate::image::values::to_image(new, tdesc));
                        }
                        heap::dec(new as *const Header)
                    },
                    // SAFETY: `bits` is a live value of `ty`.
                    Ok(None) if keep_states => state.push(unsafe { crate::image::values::to_image(bits, tdesc) }),
                    Ok(None) => {}
                    Err(e) => {
                        let place = format!("the state of task {id}");
                        // SAFETY: as above.
                        unsafe { crate::abi::raise(ctx, load_error(&e, &place, world.age)) };
                        return 1;
                    }
                }
            }
            if keep_states {
                imaged.borrow_mut().push(crate::image::format::TaskState { id: *id, state, steps: *steps });
            }
        }
        0
    };
    // SAFETY: `run` calls only migrations compiled for `world`.
    let result =
        unsafe { crate::eval::run_entry(world.clone(), shared.clone(), &lang::types::Ty::Unit, options, &run) };
    let roots = cells.iter().map(|c| (c.bits, c.heap)).chain(states.iter().flat_map(|s| s.values.iter().copied()));
    for (raw, heap) in roots {
        if heap && raw != 0 {
            // SAFETY: the snapshots owned these references.
            unsafe { heap::dec(raw as *const Header) };
        }
    }
    result.map(|_| Validated { counts: counts.into_inner(), states: imaged.into_inner() })
}

/// What commit-time validation found: how many values of each type
/// migrated, and (when the program is bound to an image) each migrated
/// loop state in image form.
pub(crate) struct Validated {
    pub counts: HashMap<Arc<str>, u64>,
    pub states: Vec<crate::image::format::TaskState>,
}

/// How many distinct live records or enums of each version of type `name`
/// the values `roots` reach (`:type`).
///
/// # Safety
/// Each root must be a live value, a heap pointer exactly when its flag says.
pub unsafe fn census(roots: &[(u64, bool)], name: &str) -> std::collections::BTreeMap<u32, u64> {
    let mut seen = std::collections::HashSet::new();
    let mut counts = std::collections::BTreeMap::new();
    let mut stack: Vec<*const Header> =
        roots.iter().filter(|(b, heap)| *heap && *b != 0).map(|(b, _)| *b as *const Header).collect();
    while let Some(p) = stack.pop() {
        if !seen.insert(p as usize) {
            continue;
        }
        // SAFETY: every pointer pushed is a live object reachable from a root.
        unsafe {
            match (*p).kind {
                k if k == Kind::Vec as u32 => {
                    if let VecData::Refs(v) = vec_data(p) {
                        stack.extend(v.iter().map(|r| r.as_ptr()));
                    }
                }
                k if k == Kind::Map as u32 => {
                    let _ = crate::runtime::map::map_values::<()>(p, &mut |v| {
                        stack.push(v);
                        Ok(None)
                    });
                }
                k if k == Kind::Record as u32 || k == Kind::Enum as u32 => {
                    let key = (*p).type_key;
                    if let Some(l) = try_layout(key)
                        && l.name == name
                    {
                        *counts.entry(l.version).or_default() += 1;
                    }
                    for &i in heap_slots(key, (*p).tag).unwrap_or(&[]) {
                        let f = heap::slot(p, i as usize);
                        if f != 0 {
                            stack.push(f as *const Header);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    counts
}
