//! The JSON builtins of section 14.1 on values of the standard library's
//! `enum Json { Null, Bool(bool), Int(int), Num(float), Str(str),
//! Arr([Json]), Obj({str: Json}) }`.
//!
//! * `json_parse` reads the text with serde_json (its recursion limit, 128
//!   levels, bounds the depth of what it accepts, so the conversion below may
//!   recurse) and builds the runtime value directly. A number is `Int` when
//!   its text has no `.`, `e` or `E` and fits in i64, else `Num` (Rust's
//!   correctly rounded `f64` parse: `1e400` is `inf`); that is why serde_json
//!   runs with `arbitrary_precision`, which keeps each number's text (without
//!   it `-0` would already be a float). Objects keep a repeated key's last
//!   value. Errors are `invalid json at byte N: ...`, N counted from 0.
//! * `json_text` walks the value with an explicit stack (a user-built value
//!   may be nested arbitrarily deep) and writes it compactly: object keys in
//!   key order (the map's own order), strings escaping only `"`, `\`, `\n`,
//!   `\r`, `\t` and the other control characters U+0000–U+001F (as
//!   `\u00xx`), `Num` in its display form (section 3.2); NaN and infinities
//!   have no JSON form (`invalid argument`).
//! * `json_get` looks a key up in an `Obj`, else answers `Json::Null`.
//!
//! The variants are found by name in the layout of the value's type key (or
//! of the type descriptor codegen passes), so nothing depends on their order.

use std::fmt::Write as _;

use serde_json::Value;

use super::errors::{fail, guard};
use super::heap::{HeapRef, enum_unit, inc, rt_alloc_enum, slot, slot_ptr};
use super::map::{KEY_STR, build_map, map_obj, rt_map_get_or};
use super::string::{new_string, str_value};
use super::types::{LayoutKind, RType, TD_STR, try_layout, try_rtype};
use super::vector::{VecData, new_vec, vec_data};
use crate::abi::{Ctx, Header, Kind};

/// The type key of one version of `Json` and its variants' tags.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct JsonType {
    pub key: u32,
    null: u32,
    bool_: u32,
    int: u32,
    num: u32,
    str_: u32,
    arr: u32,
    obj: u32,
}

impl JsonType {
    /// The `Json` shape of type key `key`, or why it is not one.
    pub fn of_key(key: u32) -> Result<JsonType, String> {
        let layout = try_layout(key).ok_or_else(|| format!("internal error: unknown type key {key}"))?;
        let LayoutKind::Enum { variants } = &layout.kind else {
            return Err(format!("internal error: `{}` is not the `Json` enum", layout.name));
        };
        let tag = |name: &str, payload: Option<fn(&RType) -> bool>| {
            let found = variants.iter().position(|(v, tds)| {
                v == name
                    && match payload {
                        None => tds.is_empty(),
                        Some(ok) => tds.len() == 1 && try_rtype(tds[0]).is_some_and(ok),
                    }
            });
            found.map(|i| i as u32).ok_or_else(|| {
                format!("internal error: `{}` v{} has no `Json` variant {name}", layout.name, layout.version)
            })
        };
        Ok(JsonType {
            key,
            null: tag("Null", None)?,
            bool_: tag("Bool", Some(|t| *t == RType::Bool))?,
            int: tag("Int", Some(|t| *t == RType::Int))?,
            num: tag("Num", Some(|t| *t == RType::Float))?,
            str_: tag("Str", Some(|t| *t == RType::Str))?,
            arr: tag("Arr", Some(|t| matches!(t, RType::Vec(_))))?,
            obj: tag("Obj", Some(|t| matches!(t, RType::Map(k, _) if *k == TD_STR)))?,
        })
    }

    /// The `Json` shape of the static type `tdesc` (a `Ty::Named` of it).
    pub fn of_tdesc(tdesc: u32) -> Result<JsonType, String> {
        match try_rtype(tdesc) {
            Some(&RType::Named(key)) => JsonType::of_key(key),
            other => Err(format!("internal error: `Json` expected, the type is {other:?}")),
        }
    }

    /// `Json::Null` (an immortal object: owning it costs nothing).
    pub fn null(&self) -> *const Header {
        enum_unit(self.key, self.null)
    }

    /// A new one-payload variant (count 1) owning `bits`.
    fn one(&self, tag: u32, bits: u64) -> u64 {
        // SAFETY: the variant gets its single slot written at once.
        unsafe {
            let p = rt_alloc_enum(self.key, tag, 1);
            *slot_ptr(p, 0) = bits;
            p as u64
        }
    }
}

/// `json_parse(text)`: a new `Json` value (an owned reference) of the type
/// `tdesc`, or the error message (`invalid json at byte N: ...`).
pub fn parse(text: &str, tdesc: u32) -> Result<u64, String> {
    let t = JsonType::of_tdesc(tdesc)?;
    let v: Value = serde_json::from_str(text).map_err(|e| invalid_json(text, &e))?;
    Ok(build(v, &t))
}

/// The message of a serde_json error, with its line and column turned into
/// a byte offset: the byte where reading failed, or the end of the text
/// when it ended too soon.
fn invalid_json(text: &str, e: &serde_json::Error) -> String {
    let at = if e.classify() == serde_json::error::Category::Eof {
        text.len()
    } else {
        // serde_json counts lines from 1 and columns in bytes; the column is
        // that of the byte after the one it could not take.
        let line_start = match e.line() {
            0 | 1 => 0,
            n => text.bytes().enumerate().filter(|&(_, b)| b == b'\n').nth(n - 2).map_or(text.len(), |(i, _)| i + 1),
        };
        (line_start + e.column()).saturating_sub(1).min(text.len())
    };
    let full = e.to_string();
    let what = full.rsplit_once(" at line ").map_or(full.as_str(), |(w, _)| w);
    format!("invalid json at byte {at}: {what}")
}

/// `Int` when the number's text has no `.`, `e`, `E` and fits in i64.
fn int_of(text: &str) -> Option<i64> {
    if text.contains(['.', 'e', 'E']) { None } else { text.parse().ok() }
}

/// The runtime form of a parsed document. Recursive, but serde_json has
/// refused anything nested more than 128 levels deep.
fn build(v: Value, t: &JsonType) -> u64 {
    match v {
        Value::Null => t.null() as u64,
        Value::Bool(b) => t.one(t.bool_, b as u64),
        Value::Number(n) => match int_of(n.as_str()) {
            Some(i) => t.one(t.int, i as u64),
            // serde_json has checked the syntax, which Rust's parse accepts.
            None => t.one(t.num, n.as_str().parse::<f64>().unwrap_or(f64::NAN).to_bits()),
        },
        Value::String(s) => t.one(t.str_, new_string(s) as u64),
        Value::Array(xs) => {
            // SAFETY: `build` returns owned references, given to the vector.
            let refs = xs.into_iter().map(|x| unsafe { HeapRef::from_owned(build(x, t) as *const Header) }).collect();
            t.one(t.arr, new_vec(VecData::Refs(refs)) as u64)
        }
        Value::Object(m) => {
            let entries = m.into_iter().map(|(k, x)| (new_string(k) as u64, build(x, t))).collect();
            // SAFETY: owned str keys and `Json` values, given to the map.
            t.one(t.obj, unsafe { build_map(KEY_STR, entries, true) } as u64)
        }
    }
}

/// Appends `s` as a JSON string: in double quotes, escaping only `"`, `\`,
/// `\n`, `\r`, `\t` and the other control characters (`\u00xx`).
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    // Copy runs of characters that need no escape at once.
    while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c >> 4) as usize] as char);
                out.push(HEX[(c & 15) as usize] as char);
            }
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// `s` as a JSON string (see [`push_json_str`]).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    out
}

enum Work {
    Val(u64),
    Text(&'static str),
    /// An object key (a borrowed str) and its `:`.
    Key(u64),
}

/// `json_text(j)`: the compact JSON text of a `Json` value, or the error
/// message (`invalid argument: ...` for a NaN or infinite `Num`).
///
/// # Safety
/// `j` must be a live value of a `Json` type.
pub unsafe fn text(j: u64) -> Result<String, String> {
    let mut out = String::new();
    let mut stack = vec![Work::Val(j)];
    let mut ty: Option<JsonType> = None;
    while let Some(w) = stack.pop() {
        match w {
            Work::Text(s) => out.push_str(s),
            Work::Key(k) => {
                // SAFETY: a key of a live map (reached from `j`).
                push_json_str(&mut out, unsafe { str_value(k as *const Header) });
                out.push(':');
            }
            Work::Val(bits) => {
                let p = bits as *const Header;
                // SAFETY: values reached from a live value are live.
                let Some(h) = (unsafe { p.as_ref() }) else { return Err("internal error: a null `Json`".into()) };
                if h.kind != Kind::Enum as u32 {
                    return Err("internal error: a `Json` that is not an enum".into());
                }
                let t = match ty {
                    Some(t) if t.key == h.type_key => t,
                    _ => *ty.insert(JsonType::of_key(h.type_key)?),
                };
                let tag = h.tag;
                if tag == t.null {
                    out.push_str("null");
                    continue;
                }
                if h.nslots < 1 {
                    return Err("internal error: a `Json` variant without its value".into());
                }
                // SAFETY: the variant has its one slot (checked above).
                let x = unsafe { slot(p, 0) };
                if tag == t.bool_ {
                    out.push_str(if x != 0 { "true" } else { "false" });
                } else if tag == t.int {
                    let _ = write!(out, "{}", x as i64);
                } else if tag == t.num {
                    let f = f64::from_bits(x);
                    if !f.is_finite() {
                        return Err(format!("invalid argument: json_text of {f:?}, which JSON cannot write"));
                    }
                    super::display::push_float(&mut out, f);
                } else if tag == t.str_ {
                    // SAFETY: the payload of `Str` is a live str.
                    push_json_str(&mut out, unsafe { str_value(x as *const Header) });
                } else if tag == t.arr {
                    // SAFETY: the payload of `Arr` is a live vector of `Json`.
                    let items = unsafe { vec_data(x as *const Header) };
                    out.push('[');
                    stack.push(Work::Text("]"));
                    let n = items.len();
                    for (i, e) in items.iter_bits().rev().enumerate() {
                        stack.push(Work::Val(e));
                        if i + 1 < n {
                            stack.push(Work::Text(","));
                        }
                    }
                } else if tag == t.obj {
                    // SAFETY: the payload of `Obj` is a live `{str: Json}` map.
                    let m = unsafe { map_obj(x as *const Header) };
                    out.push('{');
                    stack.push(Work::Text("}"));
                    let n = m.data.len();
                    for (i, (k, v)) in m.data.iter_bits().rev().enumerate() {
                        stack.push(Work::Val(v));
                        stack.push(Work::Key(k.bits()));
                        if i + 1 < n {
                            stack.push(Work::Text(","));
                        }
                    }
                } else {
                    return Err(format!("internal error: `Json` has no variant {tag}"));
                }
            }
        }
    }
    Ok(out)
}

/// `json_get(j, key)`: the value under `key` if `j` is an `Obj` that has
/// it, else `Json::Null` of type `t`; an owned reference either way.
///
/// # Safety
/// `j` must be a live `Json` value of type `t`, `key` a live str.
pub unsafe fn get(j: *const Header, key: *const Header, t: &JsonType) -> *const Header {
    let null = t.null();
    // SAFETY: the caller's contract.
    unsafe {
        match j.as_ref() {
            Some(h) if h.kind == Kind::Enum as u32 && h.type_key == t.key && h.tag == t.obj && h.nslots >= 1 => {
                let found = rt_map_get_or(slot(j, 0) as *const Header, key as i64, null as i64) as *const Header;
                inc(found);
                found
            }
            _ => null,
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers. Arguments are borrowed; returned values are owned.

/// `json_parse(s)`, a `Json` of type `tdesc`; raises `invalid json`.
///
/// # Safety
/// `ctx` must be live, `s` a live string.
pub unsafe extern "C" fn rt_json_parse(ctx: *mut Ctx, s: *const Header, tdesc: u32) -> *mut Header {
    guard(ctx, || {
        // SAFETY: caller's contract.
        match parse(unsafe { str_value(s) }, tdesc) {
            Ok(bits) => bits as *mut Header,
            // SAFETY: caller's contract.
            Err(msg) => unsafe { fail(ctx, msg) },
        }
    })
}

/// `json_text(j)`; raises `invalid argument` for a NaN or infinite `Num`.
///
/// # Safety
/// `ctx` must be live, `j` a live `Json` value.
pub unsafe extern "C" fn rt_json_text(ctx: *mut Ctx, j: *const Header) -> *mut Header {
    guard(ctx, || {
        // SAFETY: caller's contract.
        match unsafe { text(j as u64) } {
            Ok(s) => new_string(s),
            // SAFETY: caller's contract.
            Err(msg) => unsafe { fail(ctx, msg) },
        }
    })
}

/// `json_get(j, key)`, a `Json` of type `tdesc`.
///
/// # Safety
/// `ctx` must be live, `j` a live `Json` value of type `tdesc`, `key` a live
/// string.
pub unsafe extern "C" fn rt_json_get(ctx: *mut Ctx, j: *const Header, key: *const Header, tdesc: u32) -> *mut Header {
    guard(ctx, || match JsonType::of_tdesc(tdesc) {
        // SAFETY: caller's contract.
        Ok(t) => unsafe { get(j, key, &t) as *mut Header },
        // SAFETY: caller's contract.
        Err(msg) => unsafe { fail(ctx, msg) },
    })
}
