//! Display forms (spec section 3.2) and structural equality. Both walk values
//! with an explicit stack, so arbitrarily deep values never overflow the
//! native stack.
//!
//! Records and enums are read through the layout of the type key in their own
//! header; vectors and maps through the static tdesc's element types.

use super::errors::{guard, guard_noctx};
use super::heap::slot;
use super::map::{Key, map_obj};
use super::string::{new_string, str_value};
use super::types::{LayoutKind, RType, TD_BOOL, TD_INT, TD_STR, try_layout, try_rtype};
use super::vector::{VecData, vec_data};
use crate::abi::{Ctx, Header, Kind, output};

/// A string as written inside containers: in double quotes, escaping exactly
/// `\\ \" \n \t \r \0`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_quoted(&mut out, s);
    out
}

fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float's display form (section 3.2: Rust's `{:?}` for f64, so `1.0`,
/// `0.1`, `1e300`, `inf`, `NaN`); `json_text` writes `Num` the same way.
pub fn push_float(out: &mut String, f: f64) {
    use std::fmt::Write;
    let _ = write!(out, "{f:?}");
}

enum Work {
    Val(u64, u32, bool),
    Text(&'static str),
}

/// The kind of a heap object, if `bits` points at one.
///
/// # Safety
/// `bits` must be null or a live heap object.
unsafe fn kind_of(bits: u64) -> Option<u32> {
    // SAFETY: caller's contract.
    unsafe { (bits as *const Header).as_ref().map(|h| h.kind) }
}

/// The display form of a value of tdesc `tdesc`; `quoted_top` quotes a
/// top-level string (the REPL echo) — nested strings are always quoted.
///
/// # Safety
/// `bits` must be a live value of type `tdesc`.
pub unsafe fn display(bits: u64, tdesc: u32, quoted_top: bool) -> String {
    let mut out = String::new();
    let mut stack = vec![Work::Val(bits, tdesc, quoted_top)];
    while let Some(w) = stack.pop() {
        match w {
            Work::Text(s) => out.push_str(s),
            // SAFETY: values reached from a live value are live.
            Work::Val(bits, td, quoted) => unsafe { display_one(&mut out, &mut stack, bits, td, quoted) },
        }
    }
    out
}

/// Writes the start of one value and pushes the rest (in reverse) on `stack`.
unsafe fn display_one(out: &mut String, stack: &mut Vec<Work>, bits: u64, td: u32, quoted: bool) {
    use std::fmt::Write;
    let Some(rt) = try_rtype(td) else {
        out.push_str("<?>");
        return;
    };
    match rt {
        RType::Int => {
            let _ = write!(out, "{}", bits as i64);
        }
        RType::Float => push_float(out, f64::from_bits(bits)),
        RType::Bool => out.push_str(if bits != 0 { "true" } else { "false" }),
        RType::Unit => out.push_str("()"),
        RType::Str => {
            // SAFETY: a live string (caller's contract).
            let s = unsafe { str_value(bits as *const Header) };
            if quoted { push_quoted(out, s) } else { out.push_str(s) }
        }
        &RType::Vec(elem) => {
            // SAFETY: a live vector.
            let d = unsafe { vec_data(bits as *const Header) };
            out.push('[');
            stack.push(Work::Text("]"));
            let n = d.len();
            for (j, e) in d.iter_bits().rev().enumerate() {
                stack.push(Work::Val(e, elem, true));
                if j + 1 < n {
                    stack.push(Work::Text(", "));
                }
            }
        }
        &RType::Map(_, vtd) => {
            // SAFETY: a live map.
            let obj = unsafe { map_obj(bits as *const Header) };
            out.push('{');
            stack.push(Work::Text("}"));
            let n = obj.data.len();
            for (j, (k, v)) in obj.data.iter_bits().rev().enumerate() {
                stack.push(Work::Val(v, vtd, true));
                stack.push(Work::Text(": "));
                let ktd = match k {
                    Key::Int(_) => TD_INT,
                    Key::Bool(_) => TD_BOOL,
                    Key::Str(_) => TD_STR,
                };
                stack.push(Work::Val(k.bits(), ktd, true));
                if j + 1 < n {
                    stack.push(Work::Text(", "));
                }
            }
        }
        RType::Named(_) => {
            let p = bits as *const Header;
            // SAFETY: a live record or enum.
            let Some(h) = (unsafe { p.as_ref() }) else {
                out.push_str("<null>");
                return;
            };
            let Some(layout) = try_layout(h.type_key) else {
                out.push_str("<?>");
                return;
            };
            let n = h.nslots as usize;
            match &layout.kind {
                LayoutKind::Record { fields } if h.kind == Kind::Record as u32 => {
                    out.push_str(&layout.name);
                    if fields.is_empty() || n == 0 {
                        out.push_str(" {}");
                        return;
                    }
                    out.push_str(" { ");
                    stack.push(Work::Text(" }"));
                    for (i, (name, ftd)) in fields.iter().enumerate().take(n).rev() {
                        // SAFETY: i < nslots.
                        stack.push(Work::Val(unsafe { slot(p, i) }, *ftd, true));
                        stack.push(Work::Text(": "));
                        stack.push(Work::Text(name.as_str()));
                        if i > 0 {
                            stack.push(Work::Text(", "));
                        }
                    }
                }
                LayoutKind::Enum { variants } if h.kind == Kind::Enum as u32 => {
                    out.push_str(&layout.name);
                    out.push_str("::");
                    let Some((vname, tds)) = variants.get(h.tag as usize) else {
                        out.push_str("<?>");
                        return;
                    };
                    out.push_str(vname);
                    if tds.is_empty() || n == 0 {
                        return;
                    }
                    out.push('(');
                    stack.push(Work::Text(")"));
                    for (i, ptd) in tds.iter().enumerate().take(n).rev() {
                        // SAFETY: i < nslots.
                        stack.push(Work::Val(unsafe { slot(p, i) }, *ptd, true));
                        if i > 0 {
                            stack.push(Work::Text(", "));
                        }
                    }
                }
                _ => out.push_str("<?>"),
            }
        }
    }
}

/// Scalars and containers of scalars (no floats), where identical bits or
/// pointers imply equality.
fn reflexive(td: u32) -> bool {
    match try_rtype(td) {
        Some(RType::Int | RType::Bool | RType::Unit | RType::Str) => true,
        Some(&RType::Vec(e)) => reflexive(e),
        Some(&RType::Map(_, v)) => reflexive(v),
        _ => false,
    }
}

/// Structural equality of two values of tdesc `tdesc` (floats by IEEE `==`).
///
/// # Safety
/// `a` and `b` must be live values of type `tdesc`.
pub unsafe fn equal(a: u64, b: u64, tdesc: u32) -> bool {
    let mut stack = vec![(a, b, tdesc)];
    while let Some((a, b, td)) = stack.pop() {
        // SAFETY: values reached from live values are live.
        if !unsafe { equal_one(&mut stack, a, b, td) } {
            return false;
        }
    }
    true
}

/// Compares the top level of one pair, pushing nested pairs on `stack`.
unsafe fn equal_one(stack: &mut Vec<(u64, u64, u32)>, a: u64, b: u64, td: u32) -> bool {
    let Some(rt) = try_rtype(td) else { return a == b };
    match rt {
        RType::Int | RType::Bool | RType::Unit => a == b,
        RType::Float => f64::from_bits(a) == f64::from_bits(b),
        // SAFETY: live strings (caller's contract).
        RType::Str => a == b || unsafe { str_value(a as *const Header) == str_value(b as *const Header) },
        &RType::Vec(elem) => {
            if a == b && reflexive(td) {
                return true;
            }
            // SAFETY: live vectors.
            let (x, y) = unsafe { (vec_data(a as *const Header), vec_data(b as *const Header)) };
            if x.len() != y.len() {
                return false;
            }
            match (x, y, try_rtype(elem)) {
                (VecData::Bits(x), VecData::Bits(y), Some(RType::Float)) => {
                    x.iter().zip(y.iter()).all(|(p, q)| f64::from_bits(*p) == f64::from_bits(*q))
                }
                (VecData::Bits(x), VecData::Bits(y), _) => x == y,
                _ => {
                    stack.extend(x.iter_bits().zip(y.iter_bits()).map(|(p, q)| (p, q, elem)));
                    true
                }
            }
        }
        &RType::Map(_, vtd) => {
            if a == b && reflexive(td) {
                return true;
            }
            // SAFETY: live maps.
            let (x, y) = unsafe { (map_obj(a as *const Header), map_obj(b as *const Header)) };
            if x.data.len() != y.data.len() {
                return false;
            }
            for ((kx, vx), (ky, vy)) in x.data.iter_bits().zip(y.data.iter_bits()) {
                if kx != ky {
                    return false;
                }
                stack.push((vx, vy, vtd));
            }
            true
        }
        RType::Named(_) => {
            let (p, q) = (a as *const Header, b as *const Header);
            // SAFETY: live records/enums.
            let (Some(h), Some(k)) = (unsafe { p.as_ref() }, unsafe { q.as_ref() }) else { return a == b };
            if h.kind != k.kind || h.type_key != k.type_key || h.nslots != k.nslots {
                return false;
            }
            if h.kind == Kind::Enum as u32 && h.tag != k.tag {
                return false;
            }
            let Some(layout) = try_layout(h.type_key) else { return a == b };
            let n = h.nslots as usize;
            // SAFETY: i < nslots of both.
            let pair = |i: usize, td: u32| unsafe { (slot(p, i), slot(q, i), td) };
            match &layout.kind {
                LayoutKind::Record { fields } => {
                    stack.extend(fields.iter().take(n).enumerate().map(|(i, (_, td))| pair(i, *td)));
                }
                LayoutKind::Enum { variants } => match variants.get(h.tag as usize) {
                    Some((_, tds)) => stack.extend(tds.iter().take(n).enumerate().map(|(i, td)| pair(i, *td))),
                    None => return a == b,
                },
            }
            true
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers.

/// `str(x)`: the display form as a new string (a str is returned as itself).
///
/// # Safety
/// `bits` must be a live value of type `tdesc`.
pub unsafe extern "C" fn rt_to_str(bits: i64, tdesc: u32) -> *mut Header {
    guard_noctx(|| {
        if tdesc == TD_STR {
            // SAFETY: caller's contract.
            if unsafe { kind_of(bits as u64) } == Some(Kind::Str as u32) {
                // SAFETY: a live string; the result is a new reference to it.
                unsafe { super::heap::inc(bits as *const Header) };
                return bits as *mut Header;
            }
        }
        // SAFETY: caller's contract.
        new_string(unsafe { display(bits as u64, tdesc, false) })
    })
}

/// `print(x)`: the display form and a newline, to the evaluation's output.
///
/// # Safety
/// `ctx` must be live; `bits` a live value of type `tdesc`.
pub unsafe extern "C" fn rt_print(ctx: *mut Ctx, bits: i64, tdesc: u32) {
    guard(ctx, || {
        // SAFETY: caller's contract.
        unsafe {
            let line = display(bits as u64, tdesc, false);
            output(ctx).write_line(&line);
        }
    })
}

/// `a == b`, structurally (floats by IEEE `==`).
///
/// # Safety
/// `a` and `b` must be live values of type `tdesc`.
pub unsafe extern "C" fn rt_eq(a: i64, b: i64, tdesc: u32) -> u8 {
    // SAFETY: caller's contract.
    guard_noctx(|| unsafe { equal(a as u64, b as u64, tdesc) } as u8)
}

/// The display form of record or enum `p` (as in error messages).
///
/// # Safety
/// `p` must be a live record or enum.
pub unsafe fn display_named(p: *const crate::abi::Header) -> String {
    // SAFETY: the caller guarantees a live record or enum.
    unsafe {
        let key = (*p).type_key;
        display(p as u64, super::types::tdesc(super::types::RType::Named(key)), true)
    }
}
