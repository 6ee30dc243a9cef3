//! Persistent ordered maps: `Header`, the key kind, then an `imbl::OrdMap`
//! from [`Key`] to raw bits (scalar values) or [`HeapRef`]s (heap values).
//! Keys order as the spec says: ints numerically, `false < true`, strs
//! byte-wise (code point order).

use std::cmp::Ordering;
use std::mem::ManuallyDrop;
use std::sync::LazyLock;

use imbl::OrdMap;

use super::display::quote;
use super::errors::{fail, guard, guard_noctx};
use super::heap::{HeapRef, count_alloc, dec, header, inc};
use super::string::str_value;
use super::vector::{VecData, new_vec};
use crate::abi::{Ctx, Header, Kind};

pub const KEY_INT: u32 = 0;
pub const KEY_BOOL: u32 = 1;
pub const KEY_STR: u32 = 2;

#[derive(Clone)]
pub(crate) enum Key {
    Int(i64),
    Bool(bool),
    Str(HeapRef),
}

impl Key {
    fn rank(&self) -> u8 {
        match self {
            Key::Int(_) => 0,
            Key::Bool(_) => 1,
            Key::Str(_) => 2,
        }
    }

    /// The key as bits (borrowed for strs).
    pub(crate) fn bits(&self) -> u64 {
        match self {
            Key::Int(i) => *i as u64,
            Key::Bool(b) => *b as u64,
            Key::Str(r) => r.as_ptr() as u64,
        }
    }

    /// The quoted display form (as inside containers).
    pub(crate) fn display(&self) -> String {
        match self {
            Key::Int(i) => i.to_string(),
            Key::Bool(b) => b.to_string(),
            // SAFETY: the key holds a reference to a live string.
            Key::Str(r) => quote(unsafe { str_value(r.as_ptr()) }),
        }
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => a.cmp(b),
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            // SAFETY: keys hold references to live strings.
            (Key::Str(a), Key::Str(b)) => unsafe { str_value(a.as_ptr()).cmp(str_value(b.as_ptr())) },
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

/// A key of kind `kind` viewing `bits` without taking a reference (never drop
/// it as a `Key`).
///
/// # Safety
/// For str keys `bits` must be a live string that outlives the view.
unsafe fn key_view(kind: u32, bits: i64) -> ManuallyDrop<Key> {
    // SAFETY: the ManuallyDrop never decrements the borrowed string.
    ManuallyDrop::new(unsafe { key_owned(kind, bits) })
}

/// A key taking over the reference in `bits` (for strs).
///
/// # Safety
/// For str keys `bits` must be a live string whose reference the caller gives up.
unsafe fn key_owned(kind: u32, bits: i64) -> Key {
    match kind {
        KEY_BOOL => Key::Bool(bits != 0),
        // SAFETY: caller's contract.
        KEY_STR => Key::Str(unsafe { HeapRef::from_owned(bits as *const Header) }),
        _ => Key::Int(bits),
    }
}

/// A key with a new reference to the borrowed `bits` (for strs).
///
/// # Safety
/// For str keys `bits` must be a live string.
unsafe fn key_borrowed(kind: u32, bits: i64) -> Key {
    // SAFETY: caller's contract; the new reference goes to the key.
    unsafe {
        if kind == KEY_STR {
            inc(bits as *const Header);
        }
        key_owned(kind, bits)
    }
}

#[derive(Clone)]
pub(crate) enum MapData {
    Bits(OrdMap<Key, u64>),
    Refs(OrdMap<Key, HeapRef>),
}

impl MapData {
    pub(crate) fn len(&self) -> usize {
        match self {
            MapData::Bits(m) => m.len(),
            MapData::Refs(m) => m.len(),
        }
    }

    fn get(&self, k: &Key) -> Option<u64> {
        match self {
            MapData::Bits(m) => m.get(k).copied(),
            MapData::Refs(m) => m.get(k).map(|r| r.as_ptr() as u64),
        }
    }

    /// Entries in key order, values as bits (borrowed for heap values).
    pub(crate) fn iter_bits(&self) -> Box<dyn DoubleEndedIterator<Item = (&Key, u64)> + '_> {
        match self {
            MapData::Bits(m) => Box::new(m.iter().map(|(k, v)| (k, *v))),
            MapData::Refs(m) => Box::new(m.iter().map(|(k, v)| (k, v.as_ptr() as u64))),
        }
    }

    /// Inserts, taking over the references of `k` and `v`.
    ///
    /// # Safety
    /// For heap values `v` must be live and given up by the caller.
    unsafe fn insert_owned(&mut self, k: Key, v: i64) {
        match self {
            MapData::Bits(m) => drop(m.insert(k, v as u64)),
            // SAFETY: caller's contract.
            MapData::Refs(m) => drop(m.insert(k, unsafe { HeapRef::from_owned(v as *const Header) })),
        }
    }

    fn remove(&mut self, k: &Key) {
        match self {
            MapData::Bits(m) => drop(m.remove(k)),
            MapData::Refs(m) => drop(m.remove(k)),
        }
    }
}

#[repr(C)]
pub(crate) struct MapObj {
    h: Header,
    pub(crate) key_kind: u32,
    pub(crate) data: MapData,
}

fn new_map(key_kind: u32, data: MapData) -> *mut Header {
    let p = Box::into_raw(Box::new(MapObj { h: header(Kind::Map, 0, 0, 0, 1), key_kind, data })) as *mut Header;
    count_alloc();
    p
}

static EMPTY: LazyLock<MapObj> = LazyLock::new(|| MapObj {
    h: header(Kind::Map, 0, 0, 0, super::heap::IMMORTAL_THRESHOLD * 2),
    key_kind: KEY_INT,
    data: MapData::Bits(OrdMap::new()),
});

/// The map object (an empty map for null or a non-map).
///
/// # Safety
/// `p` must be null or a live heap object, which must outlive the result.
pub(crate) unsafe fn map_obj<'a>(p: *const Header) -> &'a MapObj {
    // SAFETY: caller's contract; the kind check makes the cast valid.
    unsafe {
        match p.as_ref() {
            Some(h) if h.kind == Kind::Map as u32 => &*(p as *const MapObj),
            _ => &EMPTY,
        }
    }
}

/// # Safety
/// `p` must be a dead map object.
pub(crate) unsafe fn destroy(p: *mut Header) {
    // SAFETY: allocated by `new_map` as a `Box<MapObj>`. Keys and values that
    // die are queued on the free worklist by `HeapRef::drop`.
    drop(unsafe { Box::from_raw(p as *mut MapObj) });
}

/// A new map (count 1) of key kind `key_kind` from owned key and value bits
/// (`heap`: values are heap references); a later duplicate key wins.
///
/// # Safety
/// Str keys and heap values must be live references the caller gives up.
pub(crate) unsafe fn build_map(key_kind: u32, entries: Vec<(u64, u64)>, heap: bool) -> *mut Header {
    let mut data = if heap { MapData::Refs(OrdMap::new()) } else { MapData::Bits(OrdMap::new()) };
    for (k, v) in entries {
        // SAFETY: the caller gives up these references.
        unsafe { data.insert_owned(key_owned(key_kind, k as i64), v as i64) };
    }
    new_map(key_kind, data)
}

/// Each entry of map `p` as (key bits, value bits), both borrowed.
///
/// # Safety
/// `p` must be a live map that outlives the use of the bits.
pub(crate) unsafe fn entries(p: *const Header) -> Vec<(u64, u64)> {
    // SAFETY: the caller's contract.
    unsafe { map_obj(p) }.data.iter_bits().map(|(k, v)| (k.bits(), v)).collect()
}

/// A copy of map `p` with `f` applied to each heap value: `f` answers a new
/// owned value or `None` to keep it. `None` if nothing changed.
///
/// # Safety
/// `p` must be a live map.
pub(crate) unsafe fn map_values<E>(
    p: *const Header,
    f: &mut dyn FnMut(*const Header) -> Result<Option<*const Header>, E>,
) -> Result<Option<*const Header>, E> {
    // SAFETY: `p` is a live map; its values are live objects it owns.
    let obj = unsafe { map_obj(p) };
    let MapData::Refs(m) = &obj.data else { return Ok(None) };
    let mut changed: Option<OrdMap<Key, HeapRef>> = None;
    for (k, v) in m.iter() {
        if let Some(new) = f(v.as_ptr())? {
            // SAFETY: `new` is an owned reference, given to the map.
            changed.get_or_insert_with(|| m.clone()).insert(k.clone(), unsafe { HeapRef::from_owned(new) });
        }
    }
    Ok(changed.map(|m| new_map(obj.key_kind, MapData::Refs(m)) as *const Header))
}

// ---------------------------------------------------------------------------
// Helpers. Maps, keys and values passed in are borrowed unless noted; returned
// maps and vectors are owned; looked-up values are borrowed bits.

/// A new empty map (`key_kind`: 0 int, 1 bool, 2 str; `val_heap` != 0: values
/// are heap pointers).
///
/// # Safety
/// Always safe; part of the JIT ABI.
pub unsafe extern "C" fn rt_map_new(key_kind: u32, val_heap: u8) -> *mut Header {
    guard_noctx(|| {
        let data = if val_heap != 0 { MapData::Refs(OrdMap::new()) } else { MapData::Bits(OrdMap::new()) };
        new_map(key_kind, data)
    })
}

/// Inserts in place into a map just created by the caller and solely owned
/// by it (literals). CONSUMES `k` and `v`.
///
/// # Safety
/// `m` must be a fresh map nobody else can see; `k`, `v` owned.
pub unsafe extern "C" fn rt_map_build_insert(m: *mut Header, k: i64, v: i64) {
    guard_noctx(|| {
        // SAFETY: caller's contract: `m` is solely owned, so mutation is unobserved.
        unsafe {
            if let Some(h) = m.as_ref()
                && h.kind == Kind::Map as u32
            {
                let obj = &mut *(m as *mut MapObj);
                let key = key_owned(obj.key_kind, k);
                obj.data.insert_owned(key, v);
            }
        }
    })
}

/// # Safety
/// `m` must be a live map.
pub unsafe extern "C" fn rt_map_len(m: *const Header) -> i64 {
    // SAFETY: caller's contract.
    unsafe { map_obj(m) }.data.len() as i64
}

/// `m[k]` as borrowed bits; a missing key is `key not found`.
///
/// # Safety
/// `ctx` must be live, `m` a live map, `k` a live key.
pub unsafe extern "C" fn rt_map_get(ctx: *mut Ctx, m: *const Header, k: i64) -> i64 {
    guard(ctx, || {
        // SAFETY: caller's contract.
        let (obj, key) = unsafe { (map_obj(m), key_view(map_obj(m).key_kind, k)) };
        match obj.data.get(&key) {
            Some(v) => v as i64,
            // SAFETY: caller's contract.
            None => unsafe { fail(ctx, format!("key not found: {}", key.display())) },
        }
    })
}

/// `get(m, k, default)` as borrowed bits: the map's value or `default` itself.
///
/// # Safety
/// `m` must be a live map, `k` a live key.
pub unsafe extern "C" fn rt_map_get_or(m: *const Header, k: i64, default: i64) -> i64 {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let (obj, key) = unsafe { (map_obj(m), key_view(map_obj(m).key_kind, k)) };
        obj.data.get(&key).map_or(default, |v| v as i64)
    })
}

/// `has(m, k)`.
///
/// # Safety
/// `m` must be a live map, `k` a live key.
pub unsafe extern "C" fn rt_map_has(m: *const Header, k: i64) -> u8 {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let (obj, key) = unsafe { (map_obj(m), key_view(map_obj(m).key_kind, k)) };
        obj.data.get(&key).is_some() as u8
    })
}

/// `insert(m, k, v)`.
///
/// # Safety
/// `m` must be a live map, `k` and `v` live.
pub unsafe extern "C" fn rt_map_insert(m: *const Header, k: i64, v: i64) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let obj = unsafe { map_obj(m) };
        let mut data = obj.data.clone();
        // SAFETY: caller's contract; new references go into the map.
        unsafe {
            let key = key_borrowed(obj.key_kind, k);
            if matches!(data, MapData::Refs(_)) {
                inc(v as *const Header);
            }
            data.insert_owned(key, v);
        }
        new_map(obj.key_kind, data)
    })
}

/// `remove(m, k)` (an absent key is fine).
///
/// # Safety
/// `m` must be a live map, `k` a live key.
pub unsafe extern "C" fn rt_map_remove(m: *const Header, k: i64) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let (obj, key) = unsafe { (map_obj(m), key_view(map_obj(m).key_kind, k)) };
        let mut data = obj.data.clone();
        data.remove(&key);
        new_map(obj.key_kind, data)
    })
}

/// `keys(m)` in key order.
///
/// # Safety
/// `m` must be a live map.
pub unsafe extern "C" fn rt_map_keys(m: *const Header) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let obj = unsafe { map_obj(m) };
        let keys = obj.data.iter_bits().map(|(k, _)| k);
        new_vec(if obj.key_kind == KEY_STR {
            VecData::Refs(
                keys.filter_map(|k| match k {
                    Key::Str(r) => Some(r.clone()),
                    _ => None,
                })
                .collect(),
            )
        } else {
            VecData::Bits(keys.map(Key::bits).collect())
        })
    })
}

/// `values(m)` in key order.
///
/// # Safety
/// `m` must be a live map.
pub unsafe extern "C" fn rt_map_values(m: *const Header) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        new_vec(match &unsafe { map_obj(m) }.data {
            MapData::Bits(m) => VecData::Bits(m.values().copied().collect()),
            MapData::Refs(m) => VecData::Refs(m.values().cloned().collect()),
        })
    })
}

/// `m = insert(m, k, v)` (and `m[k] = v`) on a variable: CONSUMES `m`, `k`
/// and `v`; inserts in place when `m` was not shared.
///
/// # Safety
/// `m` must be a live map, `k` a live key and `v` a live value, all owned.
pub unsafe extern "C" fn rt_map_insert_move(m: *mut Header, k: i64, v: i64) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract; a count of 1 means no one else can see it.
        unsafe {
            let h = &*m;
            if h.kind == Kind::Map as u32 && h.rc.load(std::sync::atomic::Ordering::Acquire) == 1 {
                let obj = &mut *(m as *mut MapObj);
                let key = key_owned(obj.key_kind, k);
                obj.data.insert_owned(key, v);
                return m;
            }
            let r = rt_map_insert(m, k, v);
            let obj = map_obj(m);
            if obj.key_kind == KEY_STR {
                dec(k as *const Header);
            }
            if matches!(obj.data, MapData::Refs(_)) {
                dec(v as *const Header);
            }
            dec(m);
            r
        }
    })
}
