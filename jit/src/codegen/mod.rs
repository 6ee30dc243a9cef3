//! Cranelift code generation: one JIT module per transaction, holding the
//! machine code of that transaction's functions, closures and entry thunks.
//!
//! Compiled code never embeds another global function's address: a call loads
//! the callee from the caller's world dispatch table (`ctx.table[slot]`).

mod builtins;
mod func;
pub mod layout;
mod pattern;
pub mod spawn;
mod update;

use crate::runtime::helpers::{AbiTy, Helper};
use cranelift_codegen::ir::{AbiParam, Signature, types};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Module, default_libcall_names};
use lang::hir::Body;
use lang::types::{FnSig, NamedTy, TypeInfo};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

pub use layout::TypeKeys;

/// What code generation needs to know about the world it compiles for.
pub trait Resolver: TypeKeys {
    /// The dispatch-table slot of a global function.
    fn fn_slot(&self, name: &str) -> u32;
    fn fn_sig(&self, name: &str) -> Option<FnSig>;
    /// The id of a global `let`/`var`.
    fn global_id(&self, name: &str) -> u32;
    fn type_info(&self, named: &NamedTy) -> Option<Arc<TypeInfo>>;
    /// Registers a function name for backtraces; returns its frame id.
    fn frame_id(&self, function: &str) -> u32;
}

/// A failure of code generation itself (not of the program): a bug or an
/// unsupported feature. Reported as an error, never a panic.
#[derive(Debug)]
pub struct CodegenError(pub String);

/// The machine code of one transaction. Keeping it alive keeps the code valid.
pub struct CompiledUnit {
    module: Option<JITModule>,
    /// Entry addresses of the global functions, in the order given.
    pub functions: Vec<*const u8>,
    /// Entry thunks: `extern "C" fn(ctx, out) -> u8`, in the order given.
    pub thunks: Vec<*const u8>,
}

// SAFETY: the module's code is immutable once finalized; addresses are plain
// code pointers usable from any thread.
unsafe impl Send for CompiledUnit {}
unsafe impl Sync for CompiledUnit {}

fn isa() -> Result<OwnedTargetIsa, CodegenError> {
    static ISA: OnceLock<Result<OwnedTargetIsa, String>> = OnceLock::new();
    ISA.get_or_init(|| {
        let mut flags = settings::builder();
        let set = |f: &mut settings::Builder, k: &str, v: &str| f.set(k, v).map_err(|e| e.to_string());
        set(&mut flags, "use_colocated_libcalls", "false")?;
        set(&mut flags, "is_pic", "false")?;
        set(&mut flags, "opt_level", "speed")?;
        set(&mut flags, "preserve_frame_pointers", "true")?;
        // The verifier re-checks every function Cranelift builds; it costs a
        // noticeable share of compile time and guards only our own bugs.
        set(&mut flags, "enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
        let builder = cranelift_native::builder().map_err(|e| e.to_string())?;
        builder.finish(settings::Flags::new(flags)).map_err(|e| e.to_string())
    })
    .clone()
    .map_err(CodegenError)
}

fn abi_type(t: AbiTy) -> cranelift_codegen::ir::Type {
    match t {
        AbiTy::I8 => types::I8,
        AbiTy::I32 => types::I32,
        AbiTy::I64 => types::I64,
        AbiTy::F64 => types::F64,
    }
}

/// Rust expects `u8` arguments and results zero-extended (SysV/clang).
fn abi_param(t: AbiTy) -> AbiParam {
    let p = AbiParam::new(abi_type(t));
    if t == AbiTy::I8 { p.uext() } else { p }
}

/// Every host helper compiled code may call: the runtime's and the evaluator's.
fn find_helper(name: &str) -> Option<&'static Helper> {
    crate::runtime::helpers::helpers().iter().chain(crate::eval::helpers().iter()).find(|h| h.name == name)
}

/// State shared by all functions of one unit while it is being compiled.
pub(crate) struct UnitCx<'r> {
    pub module: JITModule,
    pub resolver: &'r dyn Resolver,
    helpers: HashMap<&'static str, FuncId>,
    pub call_conv: CallConv,
    /// Closure bodies found while compiling, compiled after their parent.
    pub pending: Vec<func::PendingClosure>,
    /// Byte offsets of line starts per source text (many bodies share one).
    lines: HashMap<usize, Arc<Vec<u32>>>,
    /// When set, the Cranelift IR of every function compiled is appended.
    pub clif: Option<String>,
    /// Functions whose IR is built, waiting to be compiled (in parallel).
    pub built: Vec<(FuncId, cranelift_codegen::Context, String)>,
}

/// IR built before compiling: bounds memory while giving the compile
/// threads enough work.
const BATCH: usize = 256;

/// Below this many functions one thread compiles them (a thread costs more
/// than a small function's compile).
const PARALLEL_FROM: usize = 8;

/// Threads to compile on: the cores this process may use, asked once
/// (the answer reads cgroup files, too slow to do per transaction).
fn compile_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(8))
}

/// Compiles one function's IR to machine code and its relocations.
fn compile_ir(
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    (id, mut ctx, name): (FuncId, cranelift_codegen::Context, String),
) -> Result<(FuncId, u64, Vec<u8>, Vec<cranelift_module::ModuleReloc>), CodegenError> {
    ctx.compile(isa, &mut cranelift_codegen::control::ControlPlane::default())
        .map_err(|e| CodegenError(format!("compiling {name}: {:?}", e.inner)))?;
    let code = ctx.compiled_code().ok_or_else(|| CodegenError(format!("compiling {name}: no code")))?;
    let relocs =
        code.buffer.relocs().iter().map(|r| cranelift_module::ModuleReloc::from_mach_reloc(r, &ctx.func, id)).collect();
    Ok((id, code.buffer.alignment as u64, code.code_buffer().to_vec(), relocs))
}

impl UnitCx<'_> {
    /// Compiles the built functions — on every core when there are many —
    /// and defines them in the module.
    pub fn flush(&mut self) -> Result<(), CodegenError> {
        let built = std::mem::take(&mut self.built);
        if built.is_empty() {
            return Ok(());
        }
        let isa = isa()?;
        let compiled: Vec<_> = if built.len() < PARALLEL_FROM || compile_threads() < 2 {
            built.into_iter().map(|b| compile_ir(&*isa, b)).collect()
        } else {
            let per = built.len().div_ceil(compile_threads());
            let mut chunks: Vec<Vec<_>> = Vec::new();
            let mut rest = built.into_iter();
            loop {
                let chunk: Vec<_> = rest.by_ref().take(per).collect();
                if chunk.is_empty() {
                    break;
                }
                chunks.push(chunk);
            }
            let isa = &*isa;
            std::thread::scope(|s| {
                let handles: Vec<_> = chunks
                    .into_iter()
                    .map(|c| s.spawn(move || c.into_iter().map(|b| compile_ir(isa, b)).collect::<Vec<_>>()))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| {
                        h.join().unwrap_or_else(|_| vec![Err(CodegenError("a compile thread panicked".into()))])
                    })
                    .collect()
            })
        };
        for c in compiled {
            let (id, align, bytes, relocs) = c?;
            self.module
                .define_function_bytes(id, align, &bytes, &relocs)
                .map_err(|e| CodegenError(format!("defining compiled code: {e}")))?;
        }
        Ok(())
    }

    /// Where each line of `source` starts, computed once per source text.
    pub fn line_starts(&mut self, source: &Arc<str>) -> Arc<Vec<u32>> {
        let key = Arc::as_ptr(source) as *const u8 as usize;
        self.lines
            .entry(key)
            .or_insert_with(|| {
                let mut starts = vec![0u32];
                starts.extend(source.bytes().enumerate().filter(|&(_, c)| c == b'\n').map(|(i, _)| i as u32 + 1));
                Arc::new(starts)
            })
            .clone()
    }

    /// The module-level id of a host helper, declared on first use.
    pub fn helper(&mut self, name: &'static str) -> Result<FuncId, CodegenError> {
        if let Some(&id) = self.helpers.get(name) {
            return Ok(id);
        }
        let h = find_helper(name).ok_or_else(|| CodegenError(format!("unknown runtime helper {name}")))?;
        let mut sig = Signature::new(self.call_conv);
        for &p in h.params {
            sig.params.push(abi_param(p));
        }
        if let Some(r) = h.ret {
            sig.returns.push(abi_param(r));
        }
        let id = self
            .module
            .declare_function(name, cranelift_module::Linkage::Import, &sig)
            .map_err(|e| CodegenError(format!("declaring {name}: {e}")))?;
        self.helpers.insert(name, id);
        Ok(id)
    }
}

/// Compiles a transaction's global functions and entry thunks into one module.
pub fn compile_unit(
    resolver: &dyn Resolver,
    functions: &[&Body],
    thunks: &[&Body],
) -> Result<CompiledUnit, CodegenError> {
    // A compiler bug fails the input being compiled, not the session (a
    // half-built module is leaked, not freed: nothing points into it).
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build_unit(resolver, functions, thunks))).unwrap_or_else(
        |e| Err(CodegenError(format!("the compiler failed: {}", crate::runtime::errors::panic_text(&*e)))),
    )
}

fn build_unit(resolver: &dyn Resolver, functions: &[&Body], thunks: &[&Body]) -> Result<CompiledUnit, CodegenError> {
    let mut unit = new_unit(resolver)?;
    let call_conv = unit.call_conv;

    let mut fn_ids = Vec::new();
    for body in functions {
        let params: Vec<_> = body.params.iter().map(|&p| body.local(p).ty.clone()).collect();
        let sig = layout::function_signature(&params, &body.ret, call_conv);
        let id = declare(&mut unit, &sig)?;
        func::compile_body(&mut unit, body, id, func::Abi::Function)?;
        fn_ids.push(id);
        if unit.built.len() >= BATCH {
            unit.flush()?;
        }
    }
    let mut thunk_ids = Vec::new();
    for body in thunks {
        let sig = layout::entry_signature(call_conv);
        let id = declare(&mut unit, &sig)?;
        func::compile_body(&mut unit, body, id, func::Abi::Entry)?;
        thunk_ids.push(id);
    }
    unit.flush()?;
    unit.module.finalize_definitions().map_err(|e| CodegenError(format!("finalizing: {e}")))?;
    let functions = fn_ids.iter().map(|&id| unit.module.get_finalized_function(id)).collect();
    let thunks = thunk_ids.iter().map(|&id| unit.module.get_finalized_function(id)).collect();
    LIVE_UNITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(CompiledUnit { module: Some(unit.module), functions, thunks })
}

static LIVE_UNITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Compiled units (JIT modules) whose code is still allocated.
pub fn live_units() -> usize {
    LIVE_UNITS.load(std::sync::atomic::Ordering::Relaxed)
}

impl Drop for CompiledUnit {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: the last reference is gone: no world's table points
            // here and no activation runs this code (evaluations, closures'
            // creators and thunks all hold the unit through their world or
            // directly).
            unsafe { module.free_memory() };
            LIVE_UNITS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn new_unit(resolver: &dyn Resolver) -> Result<UnitCx<'_>, CodegenError> {
    let isa = isa()?;
    let call_conv = isa.default_call_conv();
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    builder.symbol_lookup_fn(Box::new(|name| find_helper(name).map(|h| h.addr)));
    let module = JITModule::new(builder);
    Ok(UnitCx {
        module,
        resolver,
        helpers: HashMap::new(),
        call_conv,
        pending: Vec::new(),
        lines: HashMap::new(),
        clif: None,
        built: Vec::new(),
    })
}

/// The Cranelift IR of a global function (and its closures), as `:clif`
/// shows it. The code is compiled the same way, then thrown away.
pub fn clif_text(resolver: &dyn Resolver, body: &Body) -> Result<String, CodegenError> {
    let mut unit = new_unit(resolver)?;
    unit.clif = Some(String::new());
    let params: Vec<_> = body.params.iter().map(|&p| body.local(p).ty.clone()).collect();
    let sig = layout::function_signature(&params, &body.ret, unit.call_conv);
    let id = declare(&mut unit, &sig)?;
    func::compile_body(&mut unit, body, id, func::Abi::Function)?;
    let text = unit.clif.take().unwrap_or_default();
    // SAFETY: nothing was finalized or handed out from this module.
    unsafe { unit.module.free_memory() };
    Ok(text)
}

pub(crate) fn declare(unit: &mut UnitCx, sig: &Signature) -> Result<FuncId, CodegenError> {
    unit.module.declare_anonymous_function(sig).map_err(|e| CodegenError(format!("declaring a function: {e}")))
}
