//! Strings: immutable UTF-8, `Header` followed by a boxed `str`.

use std::collections::HashMap;
use std::sync::Mutex;

use super::display::quote;
use super::errors::{fail, guard, guard_noctx};
use super::heap::{HeapRef, count_alloc, header, inc};
use super::vector::{VecData, new_vec};
use crate::abi::{Ctx, Header, IMMORTAL_RC, Kind};

#[repr(C)]
pub(crate) struct StrObj {
    h: Header,
    s: Box<str>,
}

fn alloc(s: Box<str>, rc: u64) -> *mut Header {
    Box::into_raw(Box::new(StrObj { h: header(Kind::Str, 0, 0, 0, rc), s })) as *mut Header
}

/// A new string with count 1.
///
/// # Safety
/// Always safe; `unsafe` for symmetry with the rest of the heap API.
pub unsafe fn new_str(s: &str) -> *mut Header {
    new_string(s.into())
}

/// A new string with count 1, taking the buffer.
pub(crate) fn new_string(s: String) -> *mut Header {
    let p = alloc(s.into_boxed_str(), 1);
    count_alloc();
    p
}

/// An immortal string (not counted in [`super::live_objects`]); equal texts
/// share one object.
pub fn str_literal(s: &str) -> *const Header {
    static LITERALS: Mutex<Option<HashMap<Box<str>, usize>>> = Mutex::new(None);
    let mut lits = LITERALS.lock().unwrap_or_else(|e| e.into_inner());
    let lits = lits.get_or_insert_with(HashMap::new);
    if let Some(&p) = lits.get(s) {
        return p as *const Header;
    }
    let p = alloc(s.into(), IMMORTAL_RC);
    lits.insert(s.into(), p as usize);
    p
}

/// The text of a string object (`""` for null or a non-string).
///
/// # Safety
/// `p` must be null or a live heap object, which must outlive the result.
#[inline]
pub unsafe fn str_value<'a>(p: *const Header) -> &'a str {
    // SAFETY: caller's contract; the kind check makes the cast valid.
    unsafe {
        match p.as_ref() {
            Some(h) if h.kind == Kind::Str as u32 => &(*(p as *const StrObj)).s,
            _ => "",
        }
    }
}

/// # Safety
/// `p` must be a dead string object.
pub(crate) unsafe fn destroy(p: *mut Header) {
    // SAFETY: allocated by `alloc` as a `Box<StrObj>`.
    drop(unsafe { Box::from_raw(p as *mut StrObj) });
}

// ---------------------------------------------------------------------------
// Helpers. Arguments are borrowed; returned strings are owned.

/// `a + b`.
///
/// # Safety
/// `a` and `b` must be live strings.
pub unsafe extern "C" fn rt_str_concat(a: *const Header, b: *const Header) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let (x, y) = unsafe { (str_value(a), str_value(b)) };
        if y.is_empty() && !a.is_null() {
            // SAFETY: `a` is live; the result is a new reference to it.
            unsafe { inc(a) };
            return a as *mut Header;
        }
        let mut s = String::with_capacity(x.len() + y.len());
        s.push_str(x);
        s.push_str(y);
        new_string(s)
    })
}

/// Length in Unicode scalar values.
///
/// # Safety
/// `a` must be a live string.
pub unsafe extern "C" fn rt_str_len(a: *const Header) -> i64 {
    // SAFETY: caller's contract.
    guard_noctx(|| unsafe { str_value(a) }.chars().count() as i64)
}

/// # Safety
/// `a` and `b` must be live strings.
pub unsafe extern "C" fn rt_str_contains(a: *const Header, b: *const Header) -> u8 {
    // SAFETY: caller's contract.
    guard_noctx(|| unsafe { str_value(a).contains(str_value(b)) } as u8)
}

/// `split(s, sep) -> [str]`; an empty `sep` is `invalid argument`.
///
/// # Safety
/// `ctx` must be live; `s` and `sep` live strings.
pub unsafe extern "C" fn rt_str_split(ctx: *mut Ctx, s: *const Header, sep: *const Header) -> *mut Header {
    guard(ctx, || {
        // SAFETY: caller's contract.
        let (s, sep) = unsafe { (str_value(s), str_value(sep)) };
        if sep.is_empty() {
            // SAFETY: caller's contract.
            return unsafe { fail(ctx, "invalid argument: split with an empty separator") };
        }
        let parts = s
            .split(sep)
            // SAFETY: a fresh string is owned, its reference moves into the vector.
            .map(|p| unsafe { HeapRef::from_owned(new_string(p.to_string())) })
            .collect();
        new_vec(VecData::Refs(parts))
    })
}

/// `join(xs, sep)`.
///
/// # Safety
/// `xs` must be a live vector of strings, `sep` a live string.
pub unsafe extern "C" fn rt_str_join(xs: *const Header, sep: *const Header) -> *mut Header {
    guard_noctx(|| {
        // SAFETY: caller's contract.
        let (d, sep) = unsafe { (super::vector::vec_data(xs), str_value(sep)) };
        let mut out = String::new();
        if let VecData::Refs(v) = d {
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                // SAFETY: elements are live strings held by the vector.
                out.push_str(unsafe { str_value(x.as_ptr()) });
            }
        }
        new_string(out)
    })
}

/// Removes leading and trailing Unicode white space.
///
/// # Safety
/// `s` must be a live string.
pub unsafe extern "C" fn rt_str_trim(s: *const Header) -> *mut Header {
    // SAFETY: caller's contract.
    guard_noctx(|| new_string(unsafe { str_value(s) }.trim().to_string()))
}

/// # Safety
/// `s` must be a live string.
pub unsafe extern "C" fn rt_str_upper(s: *const Header) -> *mut Header {
    // SAFETY: caller's contract.
    guard_noctx(|| new_string(unsafe { str_value(s) }.to_uppercase()))
}

/// # Safety
/// `s` must be a live string.
pub unsafe extern "C" fn rt_str_lower(s: *const Header) -> *mut Header {
    // SAFETY: caller's contract.
    guard_noctx(|| new_string(unsafe { str_value(s) }.to_lowercase()))
}

/// `parse_int(s)` with Rust's `str::parse::<i64>` syntax.
///
/// # Safety
/// `ctx` must be live, `s` a live string.
pub unsafe extern "C" fn rt_parse_int(ctx: *mut Ctx, s: *const Header) -> i64 {
    guard(ctx, || {
        // SAFETY: caller's contract.
        let text = unsafe { str_value(s) };
        match text.parse::<i64>() {
            Ok(n) => n,
            // SAFETY: caller's contract.
            Err(_) => unsafe { fail(ctx, format!("invalid number: {}", quote(text))) },
        }
    })
}

/// `parse_float(s)` with Rust's `str::parse::<f64>` syntax.
///
/// # Safety
/// `ctx` must be live, `s` a live string.
pub unsafe extern "C" fn rt_parse_float(ctx: *mut Ctx, s: *const Header) -> f64 {
    guard(ctx, || {
        // SAFETY: caller's contract.
        let text = unsafe { str_value(s) };
        match text.parse::<f64>() {
            Ok(f) => f,
            // SAFETY: caller's contract.
            Err(_) => unsafe { fail(ctx, format!("invalid number: {}", quote(text))) },
        }
    })
}

/// Byte-wise (code point) comparison: -1, 0 or 1.
///
/// # Safety
/// `a` and `b` must be live strings.
pub unsafe extern "C" fn rt_str_cmp(a: *const Header, b: *const Header) -> i64 {
    // SAFETY: caller's contract.
    guard_noctx(|| unsafe { str_value(a).cmp(str_value(b)) } as i64)
}
