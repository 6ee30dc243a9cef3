//! Heap objects: allocation, atomic reference counting and iterative freeing.
//!
//! Every object starts with [`Header`]. Records and enums are one raw
//! allocation of `24 + 8 * nslots` bytes; strings, vectors and maps are boxed
//! Rust structs (see `string.rs`, `vector.rs`, `map.rs`) whose first field is
//! the header.
//!
//! Freeing never recurses on the native stack: an object whose count reaches 0
//! while another object is being freed on this thread is pushed onto a
//! thread-local worklist, and the outermost [`free`] drains it. This covers
//! both record/enum slots and [`HeapRef`]s dropped inside `imbl` structures.

use std::alloc::Layout as AllocLayout;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering, fence};

use super::errors::guard_noctx;
use super::types::heap_slots;
use super::{map, string, vector};
use crate::abi::{FIELDS_OFFSET, Header, IMMORTAL_RC, Kind};

pub use super::string::{new_str, str_literal, str_value};

/// Objects with a count at or above this are immortal: never freed, and
/// [`dec`] leaves them alone.
pub(crate) const IMMORTAL_THRESHOLD: u64 = IMMORTAL_RC / 2;

static LIVE: AtomicI64 = AtomicI64::new(0);

#[cfg(test)]
thread_local! {
    static THREAD_LIVE: Cell<i64> = const { Cell::new(0) };
}

/// Non-immortal heap objects allocated and not yet freed, process-wide.
pub fn live_objects() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// Like [`live_objects`] but only counting allocations and frees made on the
/// current thread (tests run in parallel and share the global counter).
#[cfg(test)]
pub(crate) fn thread_live_objects() -> i64 {
    THREAD_LIVE.with(Cell::get)
}

#[inline]
pub(crate) fn count_alloc() {
    LIVE.fetch_add(1, Ordering::Relaxed);
    #[cfg(test)]
    let _ = THREAD_LIVE.try_with(|c| c.set(c.get() + 1));
}

#[inline]
fn count_free() {
    LIVE.fetch_sub(1, Ordering::Relaxed);
    #[cfg(test)]
    let _ = THREAD_LIVE.try_with(|c| c.set(c.get() - 1));
}

/// A header with count `rc`.
pub(crate) fn header(kind: Kind, type_key: u32, tag: u32, nslots: u32, rc: u64) -> Header {
    Header { rc: AtomicU64::new(rc), kind: kind as u32, type_key, tag, nslots }
}

/// Increments the count of `p` (null is ignored).
///
/// # Safety
/// `p` must be null or a live heap object.
#[inline]
pub unsafe fn inc(p: *const Header) {
    // SAFETY: the caller guarantees `p` is null or live.
    if let Some(h) = unsafe { p.as_ref() } {
        h.rc.fetch_add(1, Ordering::Relaxed);
    }
}

/// Decrements the count of `p` (null and immortal objects are ignored) and
/// frees it when it reaches 0.
///
/// # Safety
/// `p` must be null or a live heap object whose reference the caller owns.
#[inline]
pub unsafe fn dec(p: *const Header) {
    // SAFETY: the caller guarantees `p` is null or live.
    let Some(h) = (unsafe { p.as_ref() }) else { return };
    if h.rc.load(Ordering::Relaxed) >= IMMORTAL_THRESHOLD {
        return;
    }
    if h.rc.fetch_sub(1, Ordering::Release) == 1 {
        fence(Ordering::Acquire);
        // SAFETY: the count reached 0, so this was the last reference.
        unsafe { free(p as *mut Header) };
    }
}

struct FreeState {
    active: Cell<bool>,
    worklist: RefCell<Vec<*mut Header>>,
}

thread_local! {
    static FREE: FreeState = const {
        FreeState { active: Cell::new(false), worklist: RefCell::new(Vec::new()) }
    };
}

/// Resets the `active` flag even if a destructor unwinds.
struct Active<'a>(&'a FreeState);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.set(false);
        let mut list = self.0.worklist.borrow_mut();
        list.clear();
        if list.capacity() > 4096 {
            list.shrink_to(4096);
        }
    }
}

/// Frees an object whose count has reached 0, and everything only it kept
/// alive, iteratively.
///
/// # Safety
/// `p` must be a heap object with count 0 that nothing will use again.
pub unsafe fn free(p: *mut Header) {
    let done = FREE.try_with(|st| {
        if st.active.get() {
            st.worklist.borrow_mut().push(p);
            return;
        }
        st.active.set(true);
        let _active = Active(st);
        // Record/enum children go straight onto this local stack; only
        // `HeapRef`s dropped inside strings, vectors and maps take the
        // thread-local worklist.
        let mut pending: Vec<*mut Header> = Vec::new();
        // SAFETY: the caller's contract; children reach here through `dec`.
        unsafe { destroy(p, &mut pending) };
        loop {
            let next = pending.pop().or_else(|| st.worklist.borrow_mut().pop());
            match next {
                // SAFETY: only objects whose count reached 0 are pushed.
                Some(q) => unsafe { destroy(q, &mut pending) },
                None => break,
            }
        }
    });
    if done.is_err() {
        // The thread is exiting and its worklist is gone: free directly.
        let mut pending = Vec::new();
        // SAFETY: as above.
        unsafe { destroy(p, &mut pending) };
        while let Some(q) = pending.pop() {
            // SAFETY: as above.
            unsafe { destroy(q, &mut pending) };
        }
    }
}

/// Releases one object; children of records and enums whose count reaches
/// 0 are pushed onto `pending`, others die through `dec`.
unsafe fn destroy(p: *mut Header, pending: &mut Vec<*mut Header>) {
    // SAFETY: `p` is a dead object (caller's contract) that we now own.
    unsafe {
        let h = &*p;
        if h.rc.load(Ordering::Relaxed) >= IMMORTAL_THRESHOLD {
            return;
        }
        match h.kind {
            k if k == Kind::Str as u32 => string::destroy(p),
            k if k == Kind::Vec as u32 => vector::destroy(p),
            k if k == Kind::Map as u32 => map::destroy(p),
            k if k == Kind::Record as u32 || k == Kind::Enum as u32 => {
                let variant = if k == Kind::Enum as u32 { h.tag } else { 0 };
                let n = h.nslots as usize;
                if let Some(slots) = heap_slots(h.type_key, variant) {
                    for &i in slots.iter().filter(|&&i| (i as usize) < n) {
                        let child = *slot_ptr(p, i as usize) as *mut Header;
                        if let Some(c) = child.as_ref()
                            && c.rc.load(Ordering::Relaxed) < IMMORTAL_THRESHOLD
                            && c.rc.fetch_sub(1, Ordering::Release) == 1
                        {
                            fence(Ordering::Acquire);
                            pending.push(child);
                        }
                    }
                }
                release_slots(p, h.nslots);
            }
            _ => return, // not ours: leak rather than guess
        }
    }
    count_free();
}

/// Allocation layout of a record/enum with `nslots` slots.
fn slots_layout(nslots: u32) -> AllocLayout {
    let size = FIELDS_OFFSET as usize + 8 * nslots as usize;
    // Cannot fail: at most 24 + 8 * u32::MAX bytes, aligned to 8.
    AllocLayout::from_size_align(size, 8).unwrap_or(AllocLayout::new::<Header>())
}

/// Pointer to slot `i` of a record/enum.
///
/// # Safety
/// `p` must be a record/enum with more than `i` slots.
#[inline]
pub(crate) unsafe fn slot_ptr(p: *const Header, i: usize) -> *mut u64 {
    // SAFETY: the caller guarantees the slot exists.
    unsafe { (p as *mut u8).add(FIELDS_OFFSET as usize + 8 * i) as *mut u64 }
}

/// Slot `i` of a record/enum.
///
/// # Safety
/// `p` must be a record/enum with more than `i` slots.
#[inline]
pub(crate) unsafe fn slot(p: *const Header, i: usize) -> u64 {
    // SAFETY: as for `slot_ptr`.
    unsafe { *slot_ptr(p, i) }
}

/// Small records and enums are recycled through per-thread free lists, one
/// per slot count: trees and lists allocate and free millions of same-sized
/// nodes, and a list pop is much cheaper than a trip through malloc.
const CACHED_SLOTS: usize = 8;
const CACHE_LIMIT: usize = 1 << 16;

struct SlotCache {
    free: RefCell<[Vec<*mut u8>; CACHED_SLOTS]>,
}

impl Drop for SlotCache {
    fn drop(&mut self) {
        for (n, list) in self.free.get_mut().iter_mut().enumerate() {
            for p in list.drain(..) {
                // SAFETY: every cached block came from `alloc` with this layout.
                unsafe { std::alloc::dealloc(p, slots_layout(n as u32)) };
            }
        }
    }
}

thread_local! {
    static SLOT_CACHE: SlotCache = const { SlotCache { free: RefCell::new([const { Vec::new() }; CACHED_SLOTS]) } };
}

/// Returns a dead record/enum's memory to this thread's cache or the allocator.
///
/// # Safety
/// `p` must be a record/enum allocation of `nslots` slots that nothing uses.
unsafe fn release_slots(p: *mut Header, nslots: u32) {
    let n = nslots as usize;
    let cached = n < CACHED_SLOTS
        && SLOT_CACHE
            .try_with(|c| {
                let mut free = c.free.borrow_mut();
                let list = &mut free[n];
                if list.len() < CACHE_LIMIT {
                    list.push(p as *mut u8);
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
    if !cached {
        // SAFETY: caller's contract; allocated with this layout.
        unsafe { std::alloc::dealloc(p as *mut u8, slots_layout(nslots)) };
    }
}

/// Slots are left uninitialised: compiled code evaluates every field first
/// and stores them all right after allocating, before anything can fail or
/// observe the object (zeroing cost a measurable share of allocation).
fn alloc_slots(kind: Kind, type_key: u32, tag: u32, nslots: u32, rc: u64) -> *mut Header {
    let n = nslots as usize;
    let recycled =
        if n < CACHED_SLOTS { SLOT_CACHE.try_with(|c| c.free.borrow_mut()[n].pop()).ok().flatten() } else { None };
    let p = match recycled {
        Some(p) => p as *mut Header,
        None => {
            let layout = slots_layout(nslots);
            // SAFETY: the layout has non-zero size (at least the header).
            let p = unsafe { std::alloc::alloc(layout) } as *mut Header;
            if p.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            p
        }
    };
    // SAFETY: freshly allocated (or recycled), large enough and aligned for a header.
    unsafe { p.write(header(kind, type_key, tag, nslots, rc)) };
    p
}

/// A record with `nslots` uninitialised slots the caller must fill at once, count 1.
///
/// # Safety
/// Always safe to call; unsafe only because it is part of the JIT ABI.
pub unsafe extern "C" fn rt_alloc_record(type_key: u32, nslots: u32) -> *mut Header {
    guard_noctx(|| {
        let p = alloc_slots(Kind::Record, type_key, 0, nslots, 1);
        count_alloc();
        p
    })
}

/// An enum value of variant `tag` with `nslots` uninitialised payload slots
/// the caller must fill at once, count 1.
///
/// # Safety
/// Always safe to call; unsafe only because it is part of the JIT ABI.
pub unsafe extern "C" fn rt_alloc_enum(type_key: u32, tag: u32, nslots: u32) -> *mut Header {
    guard_noctx(|| {
        let p = alloc_slots(Kind::Enum, type_key, tag, nslots, 1);
        count_alloc();
        p
    })
}

/// A copy (count 1) of record or enum `p`: same type, variant and slots,
/// with a new reference to each heap slot (migrations replace some).
///
/// # Safety
/// `p` must be a live record or enum.
pub(crate) unsafe fn copy_slots(p: *const Header) -> *mut Header {
    // SAFETY: `p` is live; the copy has as many slots, all written before
    // anyone sees it.
    unsafe {
        let (kind, key, tag, n) = ((*p).kind, (*p).type_key, (*p).tag, (*p).nslots);
        let kind = if kind == Kind::Enum as u32 { Kind::Enum } else { Kind::Record };
        let c = alloc_slots(kind, key, tag, n, 1);
        count_alloc();
        std::ptr::copy_nonoverlapping(slot_ptr(p, 0), slot_ptr(c, 0), n as usize);
        for &i in super::types::heap_slots(key, tag).unwrap_or(&[]) {
            let f = slot(c, i as usize);
            if f != 0 {
                inc(f as *const Header);
            }
        }
        c
    }
}

/// Releases one reference to `p` (for cold paths of compiled code, where a
/// call is smaller than the inline decrement).
///
/// # Safety
/// `p` must be a live heap object whose reference the caller owns.
pub unsafe extern "C" fn rt_dec(p: *const Header) {
    // SAFETY: caller's contract.
    guard_noctx(|| unsafe { dec(p) })
}

/// Frees `p`, whose count compiled code has just brought to 0.
///
/// # Safety
/// `p` must be a heap object with count 0 (or null, ignored).
pub unsafe extern "C" fn rt_free(p: *mut Header) {
    // SAFETY: caller's contract; null and immortal objects are ignored.
    guard_noctx(|| unsafe {
        if let Some(h) = p.as_ref()
            && h.rc.load(Ordering::Relaxed) < IMMORTAL_THRESHOLD
        {
            free(p);
        }
    })
}

/// The immortal singleton of a payload-less variant (cached per key and tag).
pub fn enum_unit(type_key: u32, tag: u32) -> *const Header {
    static UNITS: Mutex<Option<HashMap<(u32, u32), usize>>> = Mutex::new(None);
    let mut units = UNITS.lock().unwrap_or_else(|e| e.into_inner());
    let units = units.get_or_insert_with(HashMap::new);
    *units.entry((type_key, tag)).or_insert_with(|| alloc_slots(Kind::Enum, type_key, tag, 0, IMMORTAL_RC) as usize)
        as *const Header
}

/// An owned reference to a heap object: `Clone` increments, `Drop`
/// decrements (deferring to the free worklist), so `imbl`'s structural sharing
/// keeps counts right.
#[repr(transparent)]
pub struct HeapRef(*const Header);

// SAFETY: heap objects are immutable once built and their counts are atomic,
// so references to them may move between and be shared by threads.
unsafe impl Send for HeapRef {}
// SAFETY: as above; `&HeapRef` only allows reading the immutable object.
unsafe impl Sync for HeapRef {}

impl HeapRef {
    /// Takes over a reference the caller owns.
    ///
    /// # Safety
    /// `p` must be null or live, and the caller gives up one reference.
    #[inline]
    pub unsafe fn from_owned(p: *const Header) -> Self {
        HeapRef(p)
    }

    /// Takes a new reference to a borrowed object.
    ///
    /// # Safety
    /// `p` must be null or live.
    #[inline]
    pub unsafe fn from_borrowed(p: *const Header) -> Self {
        // SAFETY: caller's contract.
        unsafe { inc(p) };
        HeapRef(p)
    }

    #[inline]
    pub fn as_ptr(&self) -> *const Header {
        self.0
    }

    /// Gives the reference back to the caller without decrementing.
    #[inline]
    pub fn into_raw(self) -> *const Header {
        let p = self.0;
        std::mem::forget(self);
        p
    }
}

impl Clone for HeapRef {
    #[inline]
    fn clone(&self) -> Self {
        // SAFETY: we hold a reference, so the object is live.
        unsafe { inc(self.0) };
        HeapRef(self.0)
    }
}

impl Drop for HeapRef {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { dec(self.0) };
    }
}
