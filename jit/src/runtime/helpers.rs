//! The registration table of `extern "C"` helpers, consumed by code generation
//! to declare and link the symbols.
//!
//! Each entry is written once, as `name(param types) -> ret`. The macro casts
//! the function to exactly that `unsafe extern "C" fn` type, so an entry that
//! disagrees with the function's real signature does not compile, and the
//! Cranelift types are derived from the same Rust types.
//!
//! ABI note for code generation: Rust (LLVM) assumes `u8` arguments arrive
//! zero-extended to 32 bits (SysV/clang convention), so declare `I8` params
//! with `AbiParam::new(types::I8).uext()` (and `I8` returns likewise).

use std::collections::HashMap;
use std::sync::LazyLock;

use super::*;
use crate::abi::{Ctx, Header};

/// Cranelift-level type of a helper parameter or result.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AbiTy {
    /// `u8` (bools); zero-extend.
    I8,
    /// `u32` (tdescs, type keys, tags, kinds, codes).
    I32,
    /// `i64`, pointers, ints, unit.
    I64,
    /// `f64`.
    F64,
}

/// One helper: its symbol name, address and signature.
pub struct Helper {
    pub name: &'static str,
    pub addr: *const u8,
    pub params: &'static [AbiTy],
    pub ret: Option<AbiTy>,
}

// SAFETY: `addr` is the address of a function, immutable and valid on every thread.
unsafe impl Sync for Helper {}
// SAFETY: as above.
unsafe impl Send for Helper {}

/// Rust types allowed in helper signatures.
trait Abi {
    const TY: AbiTy;
}
impl Abi for u8 {
    const TY: AbiTy = AbiTy::I8;
}
impl Abi for u32 {
    const TY: AbiTy = AbiTy::I32;
}
impl Abi for i64 {
    const TY: AbiTy = AbiTy::I64;
}
impl Abi for f64 {
    const TY: AbiTy = AbiTy::F64;
}
impl Abi for *const Header {
    const TY: AbiTy = AbiTy::I64;
}
impl Abi for *mut Header {
    const TY: AbiTy = AbiTy::I64;
}
impl Abi for *mut Ctx {
    const TY: AbiTy = AbiTy::I64;
}

macro_rules! ret_ty {
    () => {
        None
    };
    ($r:ty) => {
        Some(<$r as Abi>::TY)
    };
}

macro_rules! helpers {
    ($( $name:ident ( $($p:ty),* $(,)? ) $(-> $r:ty)? ; )*) => {
        fn build() -> Vec<Helper> {
            vec![$(
                Helper {
                    name: stringify!($name),
                    addr: ($name as unsafe extern "C" fn($($p),*) $(-> $r)?) as *const u8,
                    params: const { &[$(<$p as Abi>::TY),*] },
                    ret: ret_ty!($($r)?),
                },
            )*]
        }
    };
}

helpers! {
    // objects
    rt_alloc_record(u32, u32) -> *mut Header;
    rt_alloc_enum(u32, u32, u32) -> *mut Header;
    rt_free(*mut Header);
    rt_dec(*const Header);
    // errors
    rt_raise(*mut Ctx, u32);
    rt_assert_failed(*mut Ctx, *const Header);
    // strings
    rt_str_concat(*const Header, *const Header) -> *mut Header;
    rt_str_len(*const Header) -> i64;
    rt_str_contains(*const Header, *const Header) -> u8;
    rt_str_split(*mut Ctx, *const Header, *const Header) -> *mut Header;
    rt_str_join(*const Header, *const Header) -> *mut Header;
    rt_str_trim(*const Header) -> *mut Header;
    rt_str_upper(*const Header) -> *mut Header;
    rt_str_lower(*const Header) -> *mut Header;
    rt_parse_int(*mut Ctx, *const Header) -> i64;
    rt_parse_float(*mut Ctx, *const Header) -> f64;
    rt_str_cmp(*const Header, *const Header) -> i64;
    // generic
    rt_to_str(i64, u32) -> *mut Header;
    rt_print(*mut Ctx, i64, u32);
    rt_eq(i64, i64, u32) -> u8;
    // numbers
    rt_pow_int(*mut Ctx, i64, i64) -> i64;
    rt_pow_float(f64, f64) -> f64;
    rt_float_to_int(*mut Ctx, f64) -> i64;
    rt_fmod(f64, f64) -> f64;
    rt_now_ms() -> i64;
    // vectors
    rt_vec_new(u8) -> *mut Header;
    rt_vec_build_push(*mut Header, i64);
    rt_vec_len(*const Header) -> i64;
    rt_vec_get(*mut Ctx, *const Header, i64) -> i64;
    rt_vec_push(*const Header, i64) -> *mut Header;
    rt_vec_set(*mut Ctx, *const Header, i64, i64) -> *mut Header;
    rt_vec_pop(*mut Ctx, *const Header) -> *mut Header;
    rt_vec_slice(*mut Ctx, *const Header, i64, i64) -> *mut Header;
    rt_vec_concat(*const Header, *const Header) -> *mut Header;
    rt_vec_reverse(*const Header) -> *mut Header;
    rt_vec_sort(*const Header, u32) -> *mut Header;
    rt_range(*mut Ctx, i64, i64) -> *mut Header;
    rt_vec_set_move(*mut Ctx, *mut Header, i64, i64) -> *mut Header;
    rt_vec_push_move(*mut Header, i64) -> *mut Header;
    // maps
    rt_map_new(u32, u8) -> *mut Header;
    rt_map_build_insert(*mut Header, i64, i64);
    rt_map_insert_move(*mut Header, i64, i64) -> *mut Header;
    rt_map_len(*const Header) -> i64;
    rt_map_get(*mut Ctx, *const Header, i64) -> i64;
    rt_map_get_or(*const Header, i64, i64) -> i64;
    rt_map_has(*const Header, i64) -> u8;
    rt_map_insert(*const Header, i64, i64) -> *mut Header;
    rt_map_remove(*const Header, i64) -> *mut Header;
    rt_map_keys(*const Header) -> *mut Header;
    rt_map_values(*const Header) -> *mut Header;
    // JSON (section 14.1)
    rt_json_parse(*mut Ctx, *const Header, u32) -> *mut Header;
    rt_json_text(*mut Ctx, *const Header) -> *mut Header;
    rt_json_get(*mut Ctx, *const Header, *const Header, u32) -> *mut Header;
}

static TABLE: LazyLock<Vec<Helper>> = LazyLock::new(build);
static BY_NAME: LazyLock<HashMap<&'static str, usize>> =
    LazyLock::new(|| TABLE.iter().enumerate().map(|(i, h)| (h.name, i)).collect());

/// Every helper.
pub fn helpers() -> &'static [Helper] {
    &TABLE
}

/// The helper called `name`. Panics if there is none (codegen only asks for
/// literal names).
pub fn helper(name: &str) -> &'static Helper {
    match BY_NAME.get(name) {
        Some(&i) => &TABLE[i],
        None => panic!("unknown runtime helper {name:?}"),
    }
}
