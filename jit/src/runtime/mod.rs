//! The runtime that compiled Strata code calls: heap values with atomic
//! reference counts, strings, persistent vectors and maps, display and
//! structural equality, and the native builtins as `extern "C"` helpers
//! (listed with their signatures in [`helpers`]).
//!
//! Value representation (as `u64`/`i64` bits): int = i64, float = f64 bits,
//! bool = 0/1, unit = 0; str, vector, map, record and enum values are pointers
//! to heap objects starting with [`crate::abi::Header`]. Heap objects are
//! immutable once built and may be shared by threads (the count is atomic).
//! Immortal objects (literals, payload-less variants) have a count of at least
//! [`crate::abi::IMMORTAL_RC`] and are never freed. Freeing is iterative
//! (see [`heap`]), so million-deep values are no problem.
//!
//! Helper conventions: heap arguments are borrowed unless the helper says it
//! consumes them; returned heap values are owned (count 1, or incremented);
//! lookups (`rt_vec_get`, `rt_map_get`, `rt_map_get_or`) return borrowed bits.
//! A failing helper records the error on its `ctx` (`crate::abi::raise`, the
//! section 9 phrases) and returns 0. No helper unwinds: bodies run under
//! `catch_unwind`, and a panic becomes `internal error`.
//!
//! Why `imbl`: vectors and maps are persistent values ("updates return a new
//! value sharing structure"), so `push`/`set`/`insert` on a value that other
//! code still holds must not copy it. `imbl` provides exactly that — an RRB
//! vector and a B-tree ordered map with structural sharing, O(log n) updates,
//! cheap clones and thread-safe (`Arc`) nodes, and in-key-order iteration for
//! printing and `keys`/`values` — and it is the maintained fork of the
//! unmaintained `im` crate. Heap elements are stored as [`HeapRef`], whose
//! `Clone`/`Drop` adjust the element's count, so sharing inside `imbl` keeps
//! counts right without the runtime walking the trees.

pub mod display;
pub mod errors;
pub mod heap;
pub mod helpers;
pub mod json;
pub mod map;
pub mod numbers;
pub mod string;
pub mod types;
pub mod vector;

#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod tests;

pub use display::{display, equal, quote, rt_eq, rt_print, rt_to_str};
pub use errors::{ERR_DIVISION_BY_ZERO, ERR_INTEGER_OVERFLOW, rt_assert_failed, rt_raise};
pub use heap::{HeapRef, dec, enum_unit, free, inc, live_objects, rt_alloc_enum, rt_alloc_record, rt_dec, rt_free};
pub use helpers::{AbiTy, Helper, helper, helpers};
pub use json::{rt_json_get, rt_json_parse, rt_json_text};
pub use map::{
    KEY_BOOL, KEY_INT, KEY_STR, rt_map_build_insert, rt_map_get, rt_map_get_or, rt_map_has, rt_map_insert,
    rt_map_insert_move, rt_map_keys, rt_map_len, rt_map_new, rt_map_remove, rt_map_values,
};
pub use numbers::{rt_float_to_int, rt_fmod, rt_now_ms, rt_pow_float, rt_pow_int};
pub use string::{
    new_str, rt_parse_float, rt_parse_int, rt_str_cmp, rt_str_concat, rt_str_contains, rt_str_join, rt_str_len,
    rt_str_lower, rt_str_split, rt_str_trim, rt_str_upper, str_literal, str_value,
};
pub use types::{
    Layout, LayoutKind, RType, TD_BOOL, TD_FLOAT, TD_INT, TD_STR, TD_UNIT, layout, register_layout, reserve_type_key,
    rtype, set_layout, tdesc,
};
pub use vector::{
    rt_range, rt_vec_build_push, rt_vec_concat, rt_vec_get, rt_vec_len, rt_vec_new, rt_vec_pop, rt_vec_push,
    rt_vec_push_move, rt_vec_reverse, rt_vec_set, rt_vec_set_move, rt_vec_slice, rt_vec_sort,
};
