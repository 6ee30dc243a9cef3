//! Runtime values to and from the image's [`Value`]s. Containers of scalars
//! do not say what their bits are, so both directions follow a runtime type
//! descriptor; records and enums follow their own header (the type name and
//! schema version the value was made with).

use super::format::Value;
use crate::abi::Header;
use crate::runtime::heap::{self, HeapRef};
use crate::runtime::types::{LayoutKind, RType, is_heap, lookup_type_key, rtype, try_layout};
use crate::runtime::vector::{VecData, new_vec, vec_data};

/// The image form of `bits`, a value of type `tdesc`.
///
/// # Safety
/// `bits` must be a live value of type `tdesc`.
pub unsafe fn to_image(bits: u64, tdesc: u32) -> Value {
    // SAFETY (whole body): `bits` is a live value of `tdesc`, and so is every
    // part of it read below.
    unsafe {
        match rtype(tdesc) {
            RType::Int => Value::Int(bits as i64),
            RType::Float => Value::Float(bits),
            RType::Bool => Value::Bool(bits != 0),
            RType::Unit => Value::Unit,
            RType::Str => Value::Str(crate::runtime::string::str_value(bits as *const Header).to_string()),
            RType::Vec(e) => Value::Vec(vec_data(bits as *const Header).iter_bits().map(|x| to_image(x, e)).collect()),
            RType::Map(k, v) => Value::Map(
                crate::runtime::map::entries(bits as *const Header)
                    .into_iter()
                    .map(|(kb, vb)| (to_image(kb, k), to_image(vb, v)))
                    .collect(),
            ),
            RType::Named(_) => named(bits as *const Header),
        }
    }
}

unsafe fn named(p: *const Header) -> Value {
    // SAFETY: `p` is a live record or enum.
    unsafe {
        let (key, tag) = ((*p).type_key, (*p).tag);
        let Some(layout) = try_layout(key) else { return Value::Unit };
        let slots = |tds: &[u32]| -> Vec<Value> {
            tds.iter().enumerate().map(|(i, &t)| to_image(heap::slot(p, i), t)).collect()
        };
        match &layout.kind {
            LayoutKind::Record { fields } => Value::Record {
                ty: layout.name.clone(),
                version: layout.version,
                fields: slots(&fields.iter().map(|(_, t)| *t).collect::<Vec<_>>()),
            },
            LayoutKind::Enum { variants } => Value::Enum {
                ty: layout.name.clone(),
                version: layout.version,
                variant: tag,
                payload: variants.get(tag as usize).map(|(_, tds)| slots(tds)).unwrap_or_default(),
            },
        }
    }
}

/// A new runtime value (an owned reference, for heap types) of type `tdesc`
/// from its image form, or why the form does not fit the type.
pub fn from_image(v: &Value, tdesc: u32) -> Result<u64, String> {
    let t = rtype(tdesc);
    Ok(match (v, &t) {
        (Value::Int(n), RType::Int) => *n as u64,
        (Value::Float(b), RType::Float) => *b,
        (Value::Bool(b), RType::Bool) => *b as u64,
        (Value::Unit, RType::Unit) => 0,
        (Value::Str(s), RType::Str) => crate::runtime::string::new_string(s.clone()) as u64,
        (Value::Vec(items), RType::Vec(e)) => {
            let bits = all(items.iter().map(|x| (x, *e)))?;
            let data = if is_heap(*e) {
                // SAFETY: `all` made owned references, given to the vector.
                VecData::Refs(bits.into_iter().map(|b| unsafe { HeapRef::from_owned(b as *const Header) }).collect())
            } else {
                VecData::Bits(bits.into_iter().collect())
            };
            new_vec(data) as u64
        }
        (Value::Map(entries), RType::Map(k, val)) => {
            let keys = all(entries.iter().map(|(x, _)| (x, *k)))?;
            let vals = match all(entries.iter().map(|(_, x)| (x, *val))) {
                Ok(v) => v,
                Err(e) => {
                    release(&keys, *k);
                    return Err(e);
                }
            };
            let kind = match rtype(*k) {
                RType::Bool => crate::runtime::map::KEY_BOOL,
                RType::Str => crate::runtime::map::KEY_STR,
                _ => crate::runtime::map::KEY_INT,
            };
            // SAFETY: owned keys and values, given to the map.
            unsafe { crate::runtime::map::build_map(kind, keys.into_iter().zip(vals).collect(), is_heap(*val)) as u64 }
        }
        (Value::Record { ty, version, fields }, RType::Named(_)) => {
            let (key, layout) = type_of(ty, *version)?;
            let LayoutKind::Record { fields: tds } = &layout.kind else {
                return Err(format!("`{ty}` v{version} is an enum, the image has a record"));
            };
            if tds.len() != fields.len() {
                return Err(format!("`{ty}` v{version} has {} fields, the image has {}", tds.len(), fields.len()));
            }
            let bits = all(fields.iter().zip(tds).map(|(f, (_, t))| (f, *t)))?;
            // SAFETY: the record gets exactly its slots, written at once.
            unsafe { filled(heap::rt_alloc_record(key, bits.len() as u32), &bits) }
        }
        (Value::Enum { ty, version, variant, payload }, RType::Named(_)) => {
            let (key, layout) = type_of(ty, *version)?;
            let LayoutKind::Enum { variants } = &layout.kind else {
                return Err(format!("`{ty}` v{version} is a record, the image has an enum"));
            };
            let Some((_, tds)) = variants.get(*variant as usize) else {
                return Err(format!("`{ty}` v{version} has no variant {variant}"));
            };
            if tds.len() != payload.len() {
                return Err(format!(
                    "a variant of `{ty}` v{version} has {} values, the image has {}",
                    tds.len(),
                    payload.len()
                ));
            }
            if tds.is_empty() {
                heap::enum_unit(key, *variant) as u64
            } else {
                let bits = all(payload.iter().zip(tds).map(|(x, t)| (x, *t)))?;
                // SAFETY: as for records.
                unsafe { filled(heap::rt_alloc_enum(key, *variant, bits.len() as u32), &bits) }
            }
        }
        (v, t) => return Err(format!("the image has {} where the type is {t:?}", kind_of(v))),
    })
}

/// Converts every `(value, tdesc)`; on a failure releases what was made.
fn all<'a>(items: impl Iterator<Item = (&'a Value, u32)>) -> Result<Vec<u64>, String> {
    let mut made: Vec<(u64, u32)> = Vec::new();
    for (v, t) in items {
        match from_image(v, t) {
            Ok(b) => made.push((b, t)),
            Err(e) => {
                for (b, t) in made {
                    release(&[b], t);
                }
                return Err(e);
            }
        }
    }
    Ok(made.into_iter().map(|(b, _)| b).collect())
}

fn release(bits: &[u64], tdesc: u32) {
    if is_heap(tdesc) {
        for &b in bits {
            // SAFETY: owned references made by `from_image`.
            unsafe { heap::dec(b as *const Header) };
        }
    }
}

/// Writes `bits` into the slots of a freshly allocated record or enum.
///
/// # Safety
/// `p` must be a new record/enum with exactly `bits.len()` slots.
unsafe fn filled(p: *mut Header, bits: &[u64]) -> u64 {
    for (i, &b) in bits.iter().enumerate() {
        // SAFETY: the caller's contract.
        unsafe { *heap::slot_ptr(p, i) = b };
    }
    p as u64
}

fn type_of(ty: &str, version: u32) -> Result<(u32, &'static crate::runtime::types::Layout), String> {
    let key = lookup_type_key(ty, version)
        .ok_or_else(|| format!("the image has a `{ty}` v{version}, a type version this program does not have"))?;
    let layout = try_layout(key).ok_or_else(|| format!("`{ty}` v{version} has no layout"))?;
    Ok((key, layout))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Unit => "()",
        Value::Int(_) => "an int",
        Value::Float(_) => "a float",
        Value::Bool(_) => "a bool",
        Value::Str(_) => "a str",
        Value::Vec(_) => "a vector",
        Value::Map(_) => "a map",
        Value::Record { .. } => "a record",
        Value::Enum { .. } => "an enum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::{Layout, TD_BOOL, TD_FLOAT, TD_INT, TD_STR, register_layout, tdesc};

    fn types() -> (u32, u32) {
        let rec = register_layout(Layout {
            name: "ImageTestP".into(),
            version: 1,
            kind: LayoutKind::Record { fields: vec![("x".into(), TD_INT), ("s".into(), TD_STR)] },
        });
        let en = register_layout(Layout {
            name: "ImageTestE".into(),
            version: 2,
            kind: LayoutKind::Enum { variants: vec![("A".into(), vec![]), ("B".into(), vec![TD_FLOAT, TD_BOOL])] },
        });
        (tdesc(RType::Named(rec)), tdesc(RType::Named(en)))
    }

    fn round_trip(v: Value, td: u32) {
        let bits = from_image(&v, td).unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: `bits` was just made as a value of `td`.
        let back = unsafe { to_image(bits, td) };
        release(&[bits], td);
        assert_eq!(back, v);
    }

    #[test]
    fn values_round_trip_through_the_runtime() {
        let (p, e) = types();
        let rec = |x: i64, s: &str| Value::Record {
            ty: "ImageTestP".into(),
            version: 1,
            fields: vec![Value::Int(x), Value::Str(s.into())],
        };
        round_trip(Value::Vec(vec![rec(1, "a"), rec(-2, "")]), tdesc(RType::Vec(p)));
        let map = Value::Map(vec![(Value::Str("k".into()), Value::Vec(vec![Value::Int(3)]))]);
        round_trip(map, tdesc(RType::Map(TD_STR, tdesc(RType::Vec(TD_INT)))));
        let b = Value::Enum {
            ty: "ImageTestE".into(),
            version: 2,
            variant: 1,
            payload: vec![Value::Float(2.5f64.to_bits()), Value::Bool(true)],
        };
        let a = Value::Enum { ty: "ImageTestE".into(), version: 2, variant: 0, payload: vec![] };
        round_trip(Value::Vec(vec![a, b]), tdesc(RType::Vec(e)));
    }

    #[test]
    fn forms_that_do_not_fit_the_type_are_refused() {
        let (p, _) = types();
        let bad = Value::Record { ty: "ImageTestP".into(), version: 1, fields: vec![Value::Int(1), Value::Int(2)] };
        assert!(from_image(&bad, p).unwrap_err().contains("where the type is"));
        let unknown = Value::Record { ty: "Nope".into(), version: 9, fields: vec![] };
        assert!(from_image(&unknown, p).unwrap_err().contains("does not have"));
        assert!(from_image(&Value::Str("x".into()), TD_INT).is_err());
    }
}
