//! How Strata types are represented in machine code: Cranelift value types,
//! function signatures, and runtime type descriptors.

use crate::runtime::types::{RType, tdesc};
use cranelift_codegen::ir::{AbiParam, Signature, Type, types};
use cranelift_codegen::isa::CallConv;
use lang::types::{NamedTy, Ty};

/// Maps a user type (name + version) to the runtime's type key.
pub trait TypeKeys {
    fn type_key(&self, named: &NamedTy) -> u32;
}

/// The Cranelift values one Strata value occupies: none for `()`, two for a
/// function value (code address, environment pointer), else one.
pub fn clif_types(ty: &Ty) -> Vec<Type> {
    match ty {
        Ty::Int => vec![types::I64],
        Ty::Float => vec![types::F64],
        Ty::Bool => vec![types::I8],
        Ty::Str | Ty::Vec(_) | Ty::Map(..) | Ty::Named(_) => vec![types::I64],
        Ty::Fn(_) => vec![types::I64, types::I64],
        Ty::Unit | Ty::Never | Ty::Error => vec![],
    }
}

/// `fn(ctx, env, params...) -> (result..., status: i8)`: see `abi`.
pub fn function_signature(params: &[Ty], ret: &Ty, call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    for p in params {
        for t in clif_types(p) {
            sig.params.push(AbiParam::new(t));
        }
    }
    for t in clif_types(ret) {
        sig.returns.push(AbiParam::new(t));
    }
    sig.returns.push(AbiParam::new(types::I8));
    sig
}

/// Entry thunks (top-level expressions, initialisers) are called from Rust as
/// `extern "C" fn(ctx, out: *mut u64) -> u8`.
pub fn entry_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I8));
    sig
}

/// The runtime descriptor of a static type (for printing, equality, sorting).
pub fn type_desc(ty: &Ty, keys: &dyn TypeKeys) -> u32 {
    tdesc(rtype(ty, keys))
}

fn rtype(ty: &Ty, keys: &dyn TypeKeys) -> RType {
    match ty {
        Ty::Int => RType::Int,
        Ty::Float => RType::Float,
        Ty::Bool => RType::Bool,
        Ty::Str => RType::Str,
        Ty::Vec(e) => RType::Vec(type_desc(e, keys)),
        Ty::Map(k, v) => RType::Map(type_desc(k, keys), type_desc(v, keys)),
        Ty::Named(n) => RType::Named(keys.type_key(n)),
        Ty::Unit | Ty::Never | Ty::Error | Ty::Fn(_) => RType::Unit,
    }
}

/// Map key kinds as the runtime's `rt_map_new` takes them.
pub fn key_kind(ty: &Ty) -> u32 {
    match ty {
        Ty::Bool => 1,
        Ty::Str => 2,
        _ => 0,
    }
}
