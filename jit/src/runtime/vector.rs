//! Persistent vectors: `Header` followed by an `imbl::Vector` of raw bits
//! (int/float/bool/unit elements) or of [`HeapRef`]s (heap elements).

use std::sync::LazyLock;

use imbl::Vector;

use super::errors::{fail, guard, guard_noctx};
use super::heap::{HeapRef, count_alloc, dec, header, inc};
use super::string::str_value;
use super::types::{RType, try_rtype};
use crate::abi::{Ctx, Header, Kind};

#[derive(Clone)]
pub(crate) enum VecData {
    Bits(Vector<u64>),
    Refs(Vector<HeapRef>),
}

impl VecData {
    pub(crate) fn empty(heap: bool) -> Self {
        if heap { VecData::Refs(Vector::new()) } else { VecData::Bits(Vector::new()) }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            VecData::Bits(v) => v.len(),
            VecData::Refs(v) => v.len(),
        }
    }

    pub(crate) fn is_heap(&self) -> bool {
        matches!(self, VecData::Refs(_))
    }

    /// Element `i` as bits (borrowed for heap elements).
    pub(crate) fn get(&self, i: usize) -> Option<u64> {
        match self {
            VecData::Bits(v) => v.get(i).copied(),
            VecData::Refs(v) => v.get(i).map(|r| r.as_ptr() as u64),
        }
    }

    /// All elements as bits (borrowed for heap elements), in order.
    pub(crate) fn iter_bits(&self) -> Box<dyn DoubleEndedIterator<Item = u64> + '_> {
        match self {
            VecData::Bits(v) => Box::new(v.iter().copied()),
            VecData::Refs(v) => Box::new(v.iter().map(|r| r.as_ptr() as u64)),
        }
    }

    /// Appends `x`, taking over its reference if heap.
    ///
    /// # Safety
    /// For heap vectors `x` must be null or a live object the caller gives up.
    unsafe fn push_owned(&mut self, x: i64) {
        match self {
            VecData::Bits(v) => v.push_back(x as u64),
            // SAFETY: caller's contract.
            VecData::Refs(v) => v.push_back(unsafe { HeapRef::from_owned(x as *const Header) }),
        }
    }

    /// Appends `x`, taking a new reference if heap.
    ///
    /// # Safety
    /// For heap vectors `x` must be null or live.
    unsafe fn push_borrowed(&mut self, x: i64) {
        // SAFETY: caller's contract; the new reference is given to `push_owned`.
        unsafe {
            if self.is_heap() {
                inc(x as *const Header);
            }
            self.push_owned(x);
        }
    }
}

#[repr(C)]
pub(crate) struct VecObj {
    h: Header,
    data: VecData,
}

/// A new vector object with count 1.
pub(crate) fn new_vec(data: VecData) -> *mut Header {
    let p = Box::into_raw(Box::new(VecObj { h: header(Kind::Vec, 0, 0, 0, 1), data })) as *mut Header;
    count_alloc();
    p
}

static EMPTY: LazyLock<VecData> = LazyLock::new(|| VecData::Bits(Vector::new()));

/// The contents of a vector object (an empty vector for null or a non-vector).
///
/// # Safety
/// `p` must be null or a live heap object, which must outlive the result.
pub(crate) unsafe fn vec_data<'a>(p: *const Header) -> &'a VecData {
    // SAFETY: caller's contract; the kind check makes the cast valid.
    unsafe {
        match p.as_ref() {
            Some(h) if h.kind == Kind::Vec as u32 => &(*(p as *const VecObj)).data,
            _ => &EMPTY,
        }
    }
}

/// # Safety
/// `p` must be a dead vector object.
pub(crate) unsafe fn destroy(p: *mut Header) {
    // SAFETY: allocated by `new_vec` as a `Box<VecObj>`. Elements that die are
    // queued on the free worklist by `HeapRef::drop`.
    drop(unsafe { Box::from_raw(p as *mut VecObj) });
}

fn index(i: i64, len: usize) -> Option<usize> {
    usize::try_from(i).ok().filter(|&i| i < len)
}

fn oob(i: i64, len: usize) -> String {
    format!("index out of bounds: index {i}, length {len}")
}

// ---------------------------------------------------------------------------
// Helpers. Vectors and elements passed in are borrowed unless noted;
// returned vectors are owned.

/// A new empty vector (`heap` != 0: elements are heap pointers).
///
/// # Safety
/// Always safe; part of the JIT ABI.
pub unsafe extern "C" fn rt_vec_new(heap: u8) -> *mut Header {
    guard_noctx(|| new_vec(VecData::empty(heap != 0)))
}

/// Appends `x` in place to a vector just created by the caller and solely
/// owned by it (literals). CONSUMES `x`.
///
/// # Safety
/// `v` must be a fresh vector nobody else can see; `x` an owned element.
pub unsafe extern "C" fn rt_vec_build_push(v: *mut Header, x: i64) {
    guard_noctx(|| {
        // SAFETY: caller's contract: `v` is solely owned, so mutation is unobserved.
        unsafe {
            if let Some(h) = v.as_ref()
                && h.kind == Kind::Vec as u32
            {
                (*(v as *mut VecObj)).data.push_owned(x);
            }
        }
    })
}

/// # Safety
/// `v` must be a live vector.
pub unsafe extern "C" fn rt_vec_len(v: *const Header) -> i64 {
    // SAFETY: caller's contract.
    unsafe { vec_data(v) }.len() as i64
}

/// `xs[i]` as borrowed bits.
///
/// # Safety
/// `ctx` must be live, `v` a live vector.
pub unsafe extern "C" fn rt_vec_get(ctx: *mut Ctx, v: *const Header, i: i64) -> i64 {
    guard(ctx, || {
        // SAFETY: caller's contract.
        let d = unsafe { vec_data(v) };
        match index(i, d.len()).and_then(|j| d.get(j)) {
            Some(bits) => bits as i64,
            // SAFETY: caller's contract.
            None => unsafe { fail(ctx, oob(i, d.len())) },
        }
    })
}

/// `push(xs, x)`.
///
/// # Safety
/// `v` must be a live vector, `x` a live element.
pub unsafe extern "C" fn rt_vec_push(v: *const Header, x: i64) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let mut d = unsafe { vec_data(v) }.clone();
        // SAFETY: caller's contract.
        unsafe { d.push_borrowed(x) };
        new_vec(d)
    })
}

/// `set(xs, i, x)`.
///
/// # Safety
/// `ctx` must be live, `v` a live vector, `x` a live element.
pub unsafe extern "C" fn rt_vec_set(ctx: *mut Ctx, v: *const Header, i: i64, x: i64) -> *mut Header {
    guard(ctx, || {
        // SAFETY: caller's contract.
        let d = unsafe { vec_data(v) };
        let Some(j) = index(i, d.len()) else {
            // SAFETY: caller's contract.
            return unsafe { fail(ctx, oob(i, d.len())) };
        };
        new_vec(match d {
            VecData::Bits(xs) => VecData::Bits(xs.update(j, x as u64)),
            // SAFETY: `x` is live; the vector takes a new reference.
            VecData::Refs(xs) => VecData::Refs(xs.update(j, unsafe { HeapRef::from_borrowed(x as *const Header) })),
        })
    })
}

/// `pop(xs)`: without its last element.
///
/// # Safety
/// `ctx` must be live, `v` a live vector.
pub unsafe extern "C" fn rt_vec_pop(ctx: *mut Ctx, v: *const Header) -> *mut Header {
    guard(ctx, || {
        // SAFETY: caller's contract.
        let d = unsafe { vec_data(v) };
        if d.len() == 0 {
            // SAFETY: caller's contract.
            return unsafe { fail(ctx, "index out of bounds: pop of an empty vector") };
        }
        let mut d = d.clone();
        match &mut d {
            VecData::Bits(xs) => drop(xs.pop_back()),
            VecData::Refs(xs) => drop(xs.pop_back()),
        }
        new_vec(d)
    })
}

/// `slice(xs, a, b)`: the elements a <= i < b; needs 0 <= a <= b <= len.
///
/// # Safety
/// `ctx` must be live, `v` a live vector.
pub unsafe extern "C" fn rt_vec_slice(ctx: *mut Ctx, v: *const Header, a: i64, b: i64) -> *mut Header {
    guard(ctx, || {
        // SAFETY: caller's contract.
        let d = unsafe { vec_data(v) };
        let len = d.len();
        if !(0 <= a && a <= b && (b as u64) <= len as u64) {
            // SAFETY: caller's contract.
            return unsafe { fail(ctx, format!("index out of bounds: slice {a}..{b} of length {len}")) };
        }
        let (a, b) = (a as usize, b as usize);
        new_vec(match d {
            VecData::Bits(xs) => VecData::Bits(xs.take(b).skip(a)),
            VecData::Refs(xs) => VecData::Refs(xs.take(b).skip(a)),
        })
    })
}

/// `concat(a, b)`.
///
/// # Safety
/// `a` and `b` must be live vectors of the same element type.
pub unsafe extern "C" fn rt_vec_concat(a: *const Header, b: *const Header) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let (x, y) = unsafe { (vec_data(a), vec_data(b)) };
        new_vec(match (x, y) {
            (VecData::Bits(x), VecData::Bits(y)) => {
                let mut r = x.clone();
                r.append(y.clone());
                VecData::Bits(r)
            }
            (VecData::Refs(x), VecData::Refs(y)) => {
                let mut r = x.clone();
                r.append(y.clone());
                VecData::Refs(r)
            }
            // Differently tagged only when one is empty (statically typed).
            _ if y.len() == 0 => x.clone(),
            _ => y.clone(),
        })
    })
}

/// `reverse(xs)`.
///
/// # Safety
/// `v` must be a live vector.
pub unsafe extern "C" fn rt_vec_reverse(v: *const Header) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        new_vec(match unsafe { vec_data(v) } {
            VecData::Bits(xs) => VecData::Bits(xs.iter().rev().copied().collect()),
            VecData::Refs(xs) => VecData::Refs(xs.iter().rev().cloned().collect()),
        })
    })
}

/// `sort(xs)`: ints and bools by value, floats by `total_cmp`, strs by
/// bytes (code points). Stable. Other element types are returned unchanged.
///
/// # Safety
/// `v` must be a live vector whose elements have tdesc `elem_tdesc`.
pub unsafe extern "C" fn rt_vec_sort(v: *const Header, elem_tdesc: u32) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let d = unsafe { vec_data(v) };
        new_vec(match (d, try_rtype(elem_tdesc)) {
            (VecData::Bits(xs), Some(RType::Int | RType::Bool)) => {
                let mut items: Vec<u64> = xs.iter().copied().collect();
                items.sort_by_key(|&x| x as i64);
                VecData::Bits(items.into_iter().collect())
            }
            (VecData::Bits(xs), Some(RType::Float)) => {
                let mut items: Vec<u64> = xs.iter().copied().collect();
                items.sort_by(|&x, &y| f64::from_bits(x).total_cmp(&f64::from_bits(y)));
                VecData::Bits(items.into_iter().collect())
            }
            (VecData::Refs(xs), Some(RType::Str)) => {
                let mut items: Vec<HeapRef> = xs.iter().cloned().collect();
                // SAFETY: elements are live strings held by `items`.
                items.sort_by(|x, y| unsafe { str_value(x.as_ptr()).cmp(str_value(y.as_ptr())) });
                VecData::Refs(items.into_iter().collect())
            }
            _ => d.clone(),
        })
    })
}

/// `range(a, b)`: the ints a <= i < b (empty when a >= b).
///
/// # Safety
/// Always safe; part of the JIT ABI.
pub unsafe extern "C" fn rt_range(ctx: *mut Ctx, a: i64, b: i64) -> *mut Header {
    guard(ctx, || {
        let n = (b as i128 - a as i128).max(0) as u128;
        // One huge request fails cleanly instead of exhausting the machine.
        if n.saturating_mul(8) > u64::MAX as u128 || crate::memory::would_exceed((n * 8) as u64) {
            // SAFETY: caller's contract.
            return unsafe { fail(ctx, format!("out of memory: range({a}, {b}) would need {n} elements")) };
        }
        new_vec(VecData::Bits((a..b).map(|i| i as u64).collect()))
    })
}

/// The data of a vector this caller holds the only reference to, for
/// updating in place; `None` when it is shared.
///
/// # Safety
/// `v` must be a live vector whose reference the caller owns.
unsafe fn unique_data<'a>(v: *mut Header) -> Option<&'a mut VecData> {
    // SAFETY: caller's contract; a count of 1 means no one else can see it.
    unsafe {
        let h = &*v;
        (h.kind == Kind::Vec as u32 && h.rc.load(std::sync::atomic::Ordering::Acquire) == 1)
            .then(|| &mut (*(v as *mut VecObj)).data)
    }
}

/// `xs = set(xs, i, x)` on a variable: CONSUMES `v` and `x` and returns the
/// updated vector, changed in place when `v` was not shared. On an index
/// error `x` is dropped and `v` is returned unchanged.
///
/// # Safety
/// `ctx` must be live, `v` a live vector and `x` a live element, both owned.
pub unsafe extern "C" fn rt_vec_set_move(ctx: *mut Ctx, v: *mut Header, i: i64, x: i64) -> *mut Header {
    guard(ctx, || {
        // SAFETY: caller's contract.
        unsafe {
            let len = vec_data(v).len();
            let Some(j) = index(i, len) else {
                if vec_data(v).is_heap() {
                    dec(x as *const Header);
                }
                fail::<()>(ctx, oob(i, len));
                return v;
            };
            if let Some(d) = unique_data(v) {
                match d {
                    VecData::Bits(xs) => drop(xs.set(j, x as u64)),
                    VecData::Refs(xs) => drop(xs.set(j, HeapRef::from_owned(x as *const Header))),
                };
                return v;
            }
            let r = rt_vec_set(ctx, v, i, x);
            if vec_data(v).is_heap() {
                dec(x as *const Header);
            }
            dec(v);
            r
        }
    })
}

/// `xs = push(xs, x)` on a variable: CONSUMES `v` and `x`; appends in place
/// when `v` was not shared.
///
/// # Safety
/// `v` must be a live vector and `x` a live element, both owned.
pub unsafe extern "C" fn rt_vec_push_move(v: *mut Header, x: i64) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        unsafe {
            if let Some(d) = unique_data(v) {
                d.push_owned(x);
                return v;
            }
            let r = rt_vec_push(v, x);
            if vec_data(v).is_heap() {
                dec(x as *const Header);
            }
            dec(v);
            r
        }
    })
}
