//! Task entries: the Cranelift-generated code through which a task calls
//! the function it was spawned with, `extern "C" fn(ctx, slot, args, out)
//! -> status`. One entry per call shape (the Cranelift types of the
//! parameters and result), shared by every world and kept for the life of
//! the process: a task may outlive the unit that spawned it, so its entry
//! must not live in that unit.

use super::layout::{clif_types, function_signature};
use super::{CodegenError, isa};
use crate::abi::CTX_TABLE;
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, Signature, Type, types};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Module, default_libcall_names};
use lang::types::Ty;
use std::collections::HashMap;
use std::sync::Mutex;

/// `extern "C" fn(ctx, slot, args: *const u64, out: *mut u64) -> u8`: loads
/// the arguments' 64-bit forms from `args`, calls `ctx.table[slot]` with
/// them (borrowed, as every call passes arguments), and stores the result's
/// 64-bit form in `out`.
pub type TaskEntry = unsafe extern "C" fn(*const crate::abi::Ctx, u64, *const u64, *mut u64) -> u8;

/// The compiled entries: addresses by call shape, and the modules holding
/// them, kept (never freed) because entry addresses are handed to tasks that
/// may run as long as the process.
#[derive(Default)]
struct Entries {
    by_shape: HashMap<Vec<Type>, usize>,
    modules: Vec<JITModule>,
}

static ENTRIES: Mutex<Option<Entries>> = Mutex::new(None);

/// The task entry for calling a function with `params` returning `ret`.
pub fn task_entry(params: &[Ty], ret: &Ty) -> Result<TaskEntry, CodegenError> {
    let mut shape: Vec<Type> = params.iter().flat_map(clif_types).collect();
    // The result shape follows a separator (INVALID) so `(int) -> ()` and
    // `() -> int` differ.
    shape.push(types::INVALID);
    shape.extend(clif_types(ret));
    let mut guard = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
    let entries = guard.get_or_insert_with(Entries::default);
    let addr = match entries.by_shape.get(&shape) {
        Some(&a) => a,
        None => {
            let (module, addr) = compile_entry(params, ret)?;
            entries.modules.push(module);
            entries.by_shape.insert(shape, addr);
            addr
        }
    };
    // SAFETY: `addr` is the finalized code of a function compiled with
    // exactly the `TaskEntry` signature, in a module that is never freed.
    Ok(unsafe { std::mem::transmute::<usize, TaskEntry>(addr) })
}

/// The entry for a function of one heap value to a heap value (a
/// migration `fn(old: T vN) -> T vN+1`).
pub fn heap_entry() -> Result<TaskEntry, CodegenError> {
    task_entry(&[Ty::Str], &Ty::Str)
}

fn compile_entry(params: &[Ty], ret: &Ty) -> Result<(JITModule, usize), CodegenError> {
    let isa = isa()?;
    let call_conv = isa.default_call_conv();
    let mut module = JITModule::new(JITBuilder::with_isa(isa.clone(), default_libcall_names()));
    let mut sig = Signature::new(call_conv);
    for _ in 0..4 {
        sig.params.push(AbiParam::new(types::I64));
    }
    sig.returns.push(AbiParam::new(types::I8));
    let id =
        module.declare_anonymous_function(&sig).map_err(|e| CodegenError(format!("declaring a task entry: {e}")))?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    let mut fbc = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fbc);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let ps = b.block_params(block).to_vec();
        let (cx, slot, args, out) = (ps[0], ps[1], ps[2], ps[3]);
        let flags = MemFlagsData::trusted();
        let table = b.ins().load(types::I64, flags.with_readonly(), cx, CTX_TABLE);
        let offset = b.ins().imul_imm_u(slot, 8);
        let at = b.ins().iadd(table, offset);
        let code = b.ins().load(types::I64, flags.with_readonly(), at, 0);
        let null = b.ins().iconst(types::I64, 0);
        let mut call_args = vec![cx, null];
        for (i, p) in params.iter().enumerate() {
            for t in clif_types(p) {
                call_args.push(b.ins().load(t, flags, args, 8 * i as i32));
            }
        }
        let sigref = b.import_signature(function_signature(params, ret, call_conv));
        let inst = b.ins().call_indirect(sigref, code, &call_args);
        let results = b.inst_results(inst).to_vec();
        let (status, vals) = results.split_last().ok_or_else(|| CodegenError("a call without a status".into()))?;
        if let Some(&v) = vals.first() {
            let bits = match ret {
                Ty::Float => b.ins().bitcast(types::I64, MemFlagsData::new(), v),
                Ty::Bool => b.ins().uextend(types::I64, v),
                _ => v,
            };
            b.ins().store(flags, bits, out, 0);
        }
        b.ins().return_(&[*status]);
        b.finalize(module.target_config());
    }
    let built = (id, ctx, "task entry".to_string());
    let (id, align, bytes, relocs) = super::compile_ir(&*isa, built)?;
    module
        .define_function_bytes(id, align, &bytes, &relocs)
        .map_err(|e| CodegenError(format!("defining a task entry: {e}")))?;
    module.finalize_definitions().map_err(|e| CodegenError(format!("finalizing a task entry: {e}")))?;
    let addr = module.get_finalized_function(id) as usize;
    Ok((module, addr))
}
