//! Translation of one HIR body (global function, closure or entry thunk) into
//! Cranelift IR, with the reference-count bookkeeping of its values.
//!
//! Ownership discipline: every heap value an expression yields is either
//! *borrowed* (kept alive by something that outlives the use: an immutable
//! local, a parameter, a match scrutinee, a literal) or *owned* (a temporary
//! this function must release). Owned temporaries are tracked in `temps`, so
//! every exit — normal, `break`, `return`, or an error — releases exactly the
//! live ones. `var` reads are owned, because a closure or a later assignment
//! may replace the variable while the value is still in use.

use super::layout::{clif_types, entry_signature, function_signature, type_desc};
use super::{CodegenError, UnitCx};
use crate::abi::{CTX_ERR, CTX_STACK_LIMIT, CTX_TABLE, FIELDS_OFFSET};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    AtomicRmwOp, Block, BlockArg, FuncRef, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Type, Value, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_module::{FuncId, Module};
use lang::hir::{self, Body, Closure, ExprKind, LocalId, Stmt};
use lang::span::Span;
use lang::types::Ty;
use std::collections::HashMap;

pub(super) type R<T> = Result<T, CodegenError>;

#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Abi {
    /// `fn(ctx, env, params...) -> (result..., status)`
    Function,
    /// `extern "C" fn(ctx, out) -> status`
    Entry,
}

/// A closure literal met while compiling its parent; compiled right after.
pub(crate) struct PendingClosure {
    id: FuncId,
    closure: Closure,
}

/// A compiled value: its Cranelift values, its type, and — when this function
/// owns it — the id of its entry in `temps`.
#[derive(Clone, Debug)]
pub(super) struct CV {
    pub vals: Vec<Value>,
    pub ty: Ty,
    pub temp: Option<u32>,
}

impl CV {
    pub fn v(&self) -> Value {
        self.vals[0]
    }
}

#[derive(Clone)]
enum Store {
    /// SSA variables (one per Cranelift value).
    Var(Vec<Variable>),
    /// A stack slot of this frame (captured by a closure).
    Stack(cranelift_codegen::ir::StackSlot),
    /// Captured from an enclosing activation: `env[1 + index]` holds its address.
    Env(usize),
}

#[derive(Clone)]
struct LocalState {
    store: Store,
    types: Vec<Type>,
}

#[derive(Copy, Clone)]
enum TempLoc {
    Val(Value),
    Var(Variable),
}

/// An unwind block asked for and not yet emitted, with what it releases.
struct PendingUnwind {
    block: Block,
    temps: Vec<TempLoc>,
    locals: Vec<LocalId>,
}

struct LoopCx {
    continue_to: Block,
    exit: Block,
    scope_depth: usize,
    temp_depth: usize,
}

pub(super) struct FnCx<'a, 'r, 'f> {
    pub b: FunctionBuilder<'f>,
    pub unit: &'a mut UnitCx<'r>,
    pub(super) body: &'a Body,
    abi: Abi,
    pub ctx: Value,
    env: Value,
    out: Option<Value>,
    ret: Ty,
    locals: HashMap<LocalId, LocalState>,
    /// Owned locals per open scope, innermost last.
    scopes: Vec<Vec<LocalId>>,
    temps: Vec<(u32, TempLoc)>,
    next_temp: u32,
    loops: Vec<LoopCx>,
    frame_id: u32,
    line_starts: std::sync::Arc<Vec<u32>>,
    func_refs: HashMap<FuncId, FuncRef>,
    /// The global function being compiled (closures inside it included):
    /// its calls to itself are direct, since an activation of `f` in world W
    /// always resolves `f` to this very code.
    self_fn: Option<(std::sync::Arc<str>, FuncId)>,
    /// Shared unwind blocks by (live temps, open scopes).
    unwinds: HashMap<(Vec<u32>, Vec<Vec<LocalId>>), Block>,
    pending_unwinds: Vec<PendingUnwind>,
}

/// Compiles `body` (and every closure literal inside it) into function `id`.
pub(crate) fn compile_body(unit: &mut UnitCx, body: &Body, id: FuncId, abi: Abi) -> R<()> {
    let params: Vec<Ty> = body.params.iter().map(|&p| body.local(p).ty.clone()).collect();
    let sig = match abi {
        Abi::Function => function_signature(&params, &body.ret, unit.call_conv),
        Abi::Entry => entry_signature(unit.call_conv),
    };
    let frame_name = body.name.to_string();
    let self_fn = (abi == Abi::Function).then(|| (body.name.clone(), id));
    compile_one(unit, body, id, abi, sig, &body.params, &body.ret, &body.body, &[], &frame_name, &self_fn)?;
    while let Some(p) = unit.pending.pop() {
        let params: Vec<Ty> = p.closure.params.iter().map(|&l| body.local(l).ty.clone()).collect();
        let sig = function_signature(&params, &p.closure.ret, unit.call_conv);
        let name = format!("{} (closure)", body.name);
        compile_one(
            unit,
            body,
            p.id,
            Abi::Function,
            sig,
            &p.closure.params,
            &p.closure.ret,
            &p.closure.body,
            &p.closure.captures,
            &name,
            &self_fn,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn compile_one(
    unit: &mut UnitCx,
    body: &Body,
    id: FuncId,
    abi: Abi,
    sig: cranelift_codegen::ir::Signature,
    params: &[LocalId],
    ret: &Ty,
    expr: &hir::Expr,
    captures: &[LocalId],
    frame_name: &str,
    self_fn: &Option<(std::sync::Arc<str>, FuncId)>,
) -> R<()> {
    let mut ctx = unit.module.make_context();
    ctx.func.signature = sig;
    let mut fbc = FunctionBuilderContext::new();
    let frame_id = unit.resolver.frame_id(frame_name);
    {
        let b = FunctionBuilder::new(&mut ctx.func, &mut fbc);
        let line_starts = unit.line_starts(&body.source);
        let mut f = FnCx {
            b,
            unit: &mut *unit,
            body,
            abi,
            ctx: Value::from_u32(0),
            env: Value::from_u32(0),
            out: None,
            ret: ret.clone(),
            locals: HashMap::new(),
            scopes: Vec::new(),
            temps: Vec::new(),
            next_temp: 0,
            loops: Vec::new(),
            frame_id,
            line_starts,
            func_refs: HashMap::new(),
            self_fn: self_fn.clone(),
            unwinds: HashMap::new(),
            pending_unwinds: Vec::new(),
        };
        f.emit(params, expr, captures)?;
        f.b.seal_all_blocks();
        let config = f.unit.module.target_config();
        f.b.finalize(config);
    }
    if let Some(out) = unit.clif.as_mut() {
        out.push_str(&format!("; {frame_name}\n{}\n", ctx.func.display()));
    }
    if std::env::var_os("STRATA_DUMP_CLIF").is_some() {
        eprintln!("; {frame_name}\n{}", ctx.func.display());
    }
    unit.built.push((id, ctx, frame_name.to_string()));
    Ok(())
}

impl<'a, 'r, 'f> FnCx<'a, 'r, 'f> {
    fn emit(&mut self, params: &[LocalId], expr: &hir::Expr, captures: &[LocalId]) -> R<()> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        self.b.seal_block(entry);
        let ps = self.b.block_params(entry).to_vec();
        self.ctx = ps[0];
        match self.abi {
            Abi::Function => self.env = ps[1],
            Abi::Entry => {
                self.out = Some(ps[1]);
                self.env = self.b.ins().iconst(types::I64, 0);
            }
        }
        for (i, &c) in captures.iter().enumerate() {
            let types = clif_types(&self.body.local(c).ty);
            self.locals.insert(c, LocalState { store: Store::Env(i), types });
        }
        self.scopes.push(Vec::new());
        let mut next = 2;
        for &p in params {
            let n = clif_types(&self.body.local(p).ty).len();
            let vals = ps[next..next + n].to_vec();
            next += n;
            self.declare_local(p, vals, false);
        }
        // A leaf (no calls into Strata code, no loops) uses bounded stack and
        // time, so the checks in its callers and loops cover it.
        if !is_leaf(expr) {
            let line = self.line(expr.span);
            self.stack_check(line);
        }
        let v = self.expr(expr)?;
        let v = self.own(v);
        let v = self.coerce(v, &self.ret.clone());
        let vals = self.give(v);
        self.emit_return(vals);
        self.emit_unwinds()
    }

    // ----- small utilities -------------------------------------------------

    pub fn line(&self, span: Span) -> u32 {
        match self.line_starts.binary_search(&span.start) {
            Ok(i) => i as u32 + 1,
            Err(i) => i as u32,
        }
    }

    pub fn iconst(&mut self, ty: Type, v: i64) -> Value {
        self.b.ins().iconst(ty, v)
    }

    fn func_ref(&mut self, id: FuncId) -> FuncRef {
        if let Some(&r) = self.func_refs.get(&id) {
            return r;
        }
        let r = self.unit.module.declare_func_in_func(id, self.b.func);
        self.func_refs.insert(id, r);
        r
    }

    /// Calls a host helper that cannot fail.
    pub fn call_helper(&mut self, name: &'static str, args: &[Value]) -> R<Option<Value>> {
        let id = self.unit.helper(name)?;
        let fref = self.func_ref(id);
        let inst = self.b.ins().call(fref, args);
        Ok(self.b.inst_results(inst).first().copied())
    }

    /// Calls a host helper that reports failure through `ctx.err`.
    pub fn call_fallible(&mut self, name: &'static str, args: &[Value], span: Span) -> R<Option<Value>> {
        let r = self.call_helper(name, args)?;
        let flag = self.b.ins().load(types::I8, MemFlagsData::trusted(), self.ctx, CTX_ERR);
        self.branch_error(flag, span)?;
        Ok(r)
    }

    /// If `flag` is non-zero, unwind this activation (the error is recorded).
    pub fn branch_error(&mut self, flag: Value, span: Span) -> R<()> {
        let target = self.unwind_target();
        let line = self.iconst(types::I32, self.line(span) as i64);
        let cont = self.b.create_block();
        self.b.ins().brif(flag, target, &[BlockArg::Value(line)], cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
        Ok(())
    }

    /// Branches to a new cold block when `cond` holds and continues there;
    /// returns the block where the normal path goes on (see [`Self::end_cold`]).
    pub fn begin_cold(&mut self, cond: Value) -> Block {
        let cold = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(cold);
        self.b.ins().brif(cond, cold, &[], cont, &[]);
        self.b.switch_to_block(cold);
        self.b.seal_block(cold);
        cont
    }

    /// Resumes the normal path after a cold block has been terminated.
    pub fn end_cold(&mut self, cont: Block) {
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// If `cond` holds, raise runtime error `code` (see `rt_raise`) and unwind.
    pub fn raise_if(&mut self, cond: Value, code: u32, span: Span) -> R<()> {
        let cont = self.begin_cold(cond);
        let c = self.iconst(types::I32, code as i64);
        self.call_helper("rt_raise", &[self.ctx, c])?;
        let target = self.unwind_target();
        let line = self.iconst(types::I32, self.line(span) as i64);
        self.b.ins().jump(target, &[BlockArg::Value(line)]);
        self.end_cold(cont);
        Ok(())
    }

    /// The block that unwinds this activation from the current point: it
    /// releases everything owned here, adds the frame (its line is the
    /// block's parameter) and returns the error status. Points that own the
    /// same values share one block; the blocks are emitted at the end.
    fn unwind_target(&mut self) -> Block {
        let key = (self.temps.iter().map(|&(id, _)| id).collect::<Vec<_>>(), self.scopes.clone());
        if let Some(&b) = self.unwinds.get(&key) {
            return b;
        }
        let block = self.b.create_block();
        self.b.append_block_param(block, types::I32);
        self.b.set_cold_block(block);
        let temps = self.temps.iter().rev().map(|&(_, t)| t).collect();
        let locals = self.scopes.iter().rev().flat_map(|s| s.iter().rev().copied()).collect();
        self.pending_unwinds.push(PendingUnwind { block, temps, locals });
        self.unwinds.insert(key, block);
        block
    }

    /// Emits the unwind blocks asked for while compiling the body.
    fn emit_unwinds(&mut self) -> R<()> {
        for u in std::mem::take(&mut self.pending_unwinds) {
            self.b.switch_to_block(u.block);
            let line = self.b.block_params(u.block)[0];
            // Unwinding is cold: a call per release keeps these blocks small.
            for t in u.temps {
                let v = match t {
                    TempLoc::Val(v) => v,
                    TempLoc::Var(var) => self.b.use_var(var),
                };
                self.call_helper("rt_dec", &[v])?;
            }
            for id in u.locals {
                let vals = self.read_local_raw(id)?;
                if let Some(&p) = vals.first() {
                    self.call_helper("rt_dec", &[p])?;
                }
            }
            let fid = self.iconst(types::I32, self.frame_id as i64);
            self.call_helper("rt_push_frame", &[self.ctx, fid, line])?;
            let one = self.iconst(types::I8, 1);
            match self.abi {
                Abi::Entry => {
                    self.b.ins().return_(&[one]);
                }
                Abi::Function => {
                    let mut rets: Vec<Value> = clif_types(&self.ret).into_iter().map(|t| self.zero(t)).collect();
                    rets.push(one);
                    self.b.ins().return_(&rets);
                }
            }
        }
        Ok(())
    }

    fn emit_return(&mut self, vals: Vec<Value>) {
        let zero = self.iconst(types::I8, 0);
        match self.abi {
            Abi::Entry => {
                if let Some(&v) = vals.first() {
                    let bits = self.bits_of(v, &self.ret.clone());
                    let out = self.out.expect("entry has an out pointer");
                    self.b.ins().store(MemFlagsData::trusted(), bits, out, 0);
                }
                self.b.ins().return_(&[zero]);
            }
            Abi::Function => {
                let mut rets = vals;
                rets.push(zero);
                self.b.ins().return_(&rets);
            }
        }
    }

    pub fn zero(&mut self, t: Type) -> Value {
        if t == types::F64 { self.b.ins().f64const(0.0) } else { self.b.ins().iconst(t, 0) }
    }

    /// Code after a `return`/`break`/`continue` goes into an unreachable block.
    fn start_dead_block(&mut self) {
        let dead = self.b.create_block();
        self.b.switch_to_block(dead);
        self.b.seal_block(dead);
    }

    /// Function entry and loop back-edges: one compare of the stack pointer
    /// against `ctx.stack_limit` (which interrupts also trip).
    /// The interrupt poll on a loop's back-edge. The `bench-no-polls`
    /// feature leaves it out, only to measure what it costs (benches/tasks.sh):
    /// such a build cannot stop a dead loop.
    fn loop_poll(&mut self, line: u32) {
        if !cfg!(feature = "bench-no-polls") {
            self.stack_check(line);
        }
    }

    pub fn stack_check(&mut self, line: u32) {
        let sp = self.b.ins().get_stack_pointer(types::I64);
        let limit = self.b.ins().load(types::I64, MemFlagsData::trusted(), self.ctx, CTX_STACK_LIMIT);
        let low = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        let cont = self.begin_cold(low);
        // Only fails on a helper-lookup bug, which the first compile reports.
        if let Ok(Some(stop)) = self.call_helper("rt_stack_check", &[self.ctx]) {
            let target = self.unwind_target();
            let l = self.iconst(types::I32, line as i64);
            self.b.ins().brif(stop, target, &[BlockArg::Value(l)], cont, &[]);
        } else {
            self.b.ins().jump(cont, &[]);
        }
        self.end_cold(cont);
    }

    // ----- reference counting -----------------------------------------------

    pub fn emit_inc(&mut self, p: Value) {
        let one = self.iconst(types::I64, 1);
        self.b.ins().atomic_rmw(types::I64, MemFlagsData::trusted(), AtomicRmwOp::Add, p, one);
    }

    pub fn emit_dec(&mut self, p: Value) -> R<()> {
        let one = self.iconst(types::I64, 1);
        let old = self.b.ins().atomic_rmw(types::I64, MemFlagsData::trusted(), AtomicRmwOp::Sub, p, one);
        let last = self.b.ins().icmp_imm_s(IntCC::Equal, old, 1);
        let cont = self.begin_cold(last);
        self.call_helper("rt_free", &[p])?;
        self.b.ins().jump(cont, &[]);
        self.end_cold(cont);
        Ok(())
    }

    fn track(&mut self, loc: TempLoc) -> u32 {
        let id = self.next_temp;
        self.next_temp += 1;
        self.temps.push((id, loc));
        id
    }

    fn untrack(&mut self, id: u32) {
        if let Some(pos) = self.temps.iter().rposition(|&(t, _)| t == id) {
            self.temps.remove(pos);
        }
    }

    /// A value this function now owns (heap types are tracked).
    pub fn owned(&mut self, vals: Vec<Value>, ty: Ty) -> CV {
        let temp = if ty.is_heap() { Some(self.track(TempLoc::Val(vals[0]))) } else { None };
        CV { vals, ty, temp }
    }

    pub fn borrowed(vals: Vec<Value>, ty: Ty) -> CV {
        CV { vals, ty, temp: None }
    }

    /// Makes sure the function owns `cv` (increments a borrowed heap value).
    pub fn own(&mut self, cv: CV) -> CV {
        if cv.ty.is_heap() && cv.temp.is_none() && !cv.vals.is_empty() {
            self.emit_inc(cv.v());
            let temp = Some(self.track(TempLoc::Val(cv.v())));
            CV { temp, ..cv }
        } else {
            cv
        }
    }

    /// Drops this function's ownership of `cv` (decrements an owned value).
    pub fn release(&mut self, cv: &CV) -> R<()> {
        if let Some(id) = cv.temp {
            self.untrack(id);
            self.emit_dec(cv.v())?;
        }
        Ok(())
    }

    /// Hands `cv`'s ownership to whoever receives the values (a local, a
    /// container, the caller).
    pub fn give(&mut self, cv: CV) -> Vec<Value> {
        if let Some(id) = cv.temp {
            self.untrack(id);
        }
        cv.vals
    }

    /// A value of type `ty` from `cv`, which may be a `Never` placeholder.
    pub fn coerce(&mut self, cv: CV, ty: &Ty) -> CV {
        let want = clif_types(ty);
        if cv.vals.len() == want.len() {
            return cv;
        }
        let vals = want.into_iter().map(|t| self.zero(t)).collect();
        CV { vals, ty: ty.clone(), temp: None }
    }

    // ----- value conversions ------------------------------------------------

    /// The 64-bit form stored in containers, records and globals.
    pub fn bits_of(&mut self, v: Value, ty: &Ty) -> Value {
        match ty {
            Ty::Float => self.b.ins().bitcast(types::I64, MemFlagsData::new(), v),
            Ty::Bool => self.b.ins().uextend(types::I64, v),
            _ => v,
        }
    }

    pub fn cv_bits(&mut self, cv: &CV) -> Value {
        match cv.vals.first() {
            Some(&v) => self.bits_of(v, &cv.ty),
            None => self.iconst(types::I64, 0),
        }
    }

    /// The values of type `ty` whose 64-bit form is `bits` (the inverse of
    /// `bits_of`).
    pub fn values_of(&mut self, bits: Value, ty: &Ty) -> Vec<Value> {
        match ty {
            Ty::Float => vec![self.b.ins().bitcast(types::F64, MemFlagsData::new(), bits)],
            Ty::Bool => vec![self.b.ins().ireduce(types::I8, bits)],
            Ty::Unit | Ty::Never | Ty::Error | Ty::Fn(_) => vec![],
            _ => vec![bits],
        }
    }

    pub fn tdesc(&mut self, ty: &Ty) -> Value {
        let d = type_desc(ty, self.unit.resolver);
        self.iconst(types::I32, d as i64)
    }

    /// Loads slot `index` of a record or enum object as a value of `ty`.
    pub fn load_slot(&mut self, obj: Value, index: u32, ty: &Ty) -> Vec<Value> {
        let off = FIELDS_OFFSET + 8 * index as i32;
        let bits = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), obj, off);
        self.values_of(bits, ty)
    }

    // ----- locals -----------------------------------------------------------

    fn declare_local(&mut self, id: LocalId, vals: Vec<Value>, owns: bool) {
        let info = self.body.local(id);
        let types = clif_types(&info.ty);
        let store = if info.captured {
            let size = 8 * types.len().max(1) as u32;
            let slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
            for (i, &v) in vals.iter().enumerate() {
                self.b.ins().stack_store(types::I64, v, slot, 8 * i as i32);
            }
            Store::Stack(slot)
        } else {
            let vars: Vec<Variable> = types.iter().map(|&t| self.b.declare_var(t)).collect();
            for (&var, &v) in vars.iter().zip(&vals) {
                self.b.def_var(var, v);
            }
            Store::Var(vars)
        };
        self.locals.insert(id, LocalState { store, types });
        if owns
            && info.ty.is_heap()
            && let Some(scope) = self.scopes.last_mut()
        {
            scope.push(id);
        }
    }

    fn local_state(&self, id: LocalId) -> R<LocalState> {
        self.locals.get(&id).cloned().ok_or_else(|| CodegenError(format!("local {id:?} used before its declaration")))
    }

    fn captured_addr(&mut self, index: usize) -> Value {
        self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), self.env, 8 * (1 + index as i32))
    }

    pub(super) fn read_local_raw(&mut self, id: LocalId) -> R<Vec<Value>> {
        let st = self.local_state(id)?;
        Ok(match st.store {
            Store::Var(vars) => vars.iter().map(|&v| self.b.use_var(v)).collect(),
            Store::Stack(slot) => st
                .types
                .iter()
                .enumerate()
                .map(|(i, &t)| self.b.ins().stack_load(types::I64, t, slot, 8 * i as i32))
                .collect(),
            Store::Env(index) => {
                let addr = self.captured_addr(index);
                st.types
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| self.b.ins().load(t, MemFlagsData::trusted(), addr, 8 * i as i32))
                    .collect()
            }
        })
    }

    pub(super) fn write_local_raw(&mut self, id: LocalId, vals: &[Value]) -> R<()> {
        let st = self.local_state(id)?;
        match st.store {
            Store::Var(vars) => {
                for (&var, &v) in vars.iter().zip(vals) {
                    self.b.def_var(var, v);
                }
            }
            Store::Stack(slot) => {
                for (i, &v) in vals.iter().enumerate() {
                    self.b.ins().stack_store(types::I64, v, slot, 8 * i as i32);
                }
            }
            Store::Env(index) => {
                let addr = self.captured_addr(index);
                for (i, &v) in vals.iter().enumerate() {
                    self.b.ins().store(MemFlagsData::trusted(), v, addr, 8 * i as i32);
                }
            }
        }
        Ok(())
    }

    /// The address of a captured local's storage, for a closure environment.
    fn local_addr(&mut self, id: LocalId) -> R<Value> {
        match self.local_state(id)?.store {
            Store::Stack(slot) => Ok(self.b.ins().stack_addr(types::I64, slot, 0)),
            Store::Env(index) => Ok(self.captured_addr(index)),
            Store::Var(_) => Err(CodegenError(format!("local {id:?} is captured but not marked captured"))),
        }
    }

    fn release_scope_locals(&mut self, depth: usize) -> R<()> {
        let ids: Vec<LocalId> = self.scopes[depth].iter().rev().copied().collect();
        for id in ids {
            let vals = self.read_local_raw(id)?;
            if let Some(&p) = vals.first() {
                self.emit_dec(p)?;
            }
        }
        Ok(())
    }

    fn pop_scope(&mut self) -> R<()> {
        let depth = self.scopes.len() - 1;
        self.release_scope_locals(depth)?;
        self.scopes.pop();
        Ok(())
    }

    // ----- expressions ------------------------------------------------------

    pub fn expr(&mut self, e: &hir::Expr) -> R<CV> {
        let v = self.expr_kind(e)?;
        // Closure literals live exactly as long as the call they are passed
        // to (section 4); the call has returned, so they are gone.
        let closures = closure_args(e);
        if closures > 0 {
            let n = self.iconst(types::I32, closures as i64);
            self.call_helper("rt_closures_pop", &[self.ctx, n])?;
        }
        Ok(v)
    }

    fn expr_kind(&mut self, e: &hir::Expr) -> R<CV> {
        match &e.kind {
            ExprKind::Int(n) => Ok(Self::borrowed(vec![self.iconst(types::I64, *n)], Ty::Int)),
            ExprKind::Float(x) => Ok(Self::borrowed(vec![self.b.ins().f64const(*x)], Ty::Float)),
            ExprKind::Bool(v) => Ok(Self::borrowed(vec![self.iconst(types::I8, *v as i64)], Ty::Bool)),
            ExprKind::Str(s) => {
                let p = crate::runtime::string::str_literal(s) as i64;
                Ok(Self::borrowed(vec![self.iconst(types::I64, p)], Ty::Str))
            }
            ExprKind::Unit => Ok(Self::borrowed(vec![], Ty::Unit)),
            ExprKind::Local(id) => {
                let vals = self.read_local_raw(*id)?;
                let cv = Self::borrowed(vals, e.ty.clone());
                Ok(if self.body.local(*id).mutable { self.own(cv) } else { cv })
            }
            ExprKind::Global(name) => {
                let gid = self.unit.resolver.global_id(name);
                let g = self.iconst(types::I32, gid as i64);
                let bits = self.call_fallible("rt_global_get", &[self.ctx, g], e.span)?.expect("returns bits");
                let vals = self.values_of(bits, &e.ty);
                Ok(self.owned(vals, e.ty.clone()))
            }
            ExprKind::FnRef(name) => self.fn_ref(name, &e.ty),
            ExprKind::Closure(c) => self.closure(c, &e.ty),
            ExprKind::Call { func, args, latest } => self.call_global(func, args, *latest, &e.ty, e.span),
            ExprKind::CallLocal { local, args } => {
                let f = Self::borrowed(self.read_local_raw(*local)?, self.body.local(*local).ty.clone());
                let mut cvs = Vec::new();
                for a in args {
                    cvs.push(self.expr(a)?);
                }
                self.call_fn_value(&f, cvs, e.span)
            }
            ExprKind::Builtin { op, args } => self.builtin(*op, args, &e.ty, e.span),
            ExprKind::Spawn { is_loop, func, args } => self.spawn(*is_loop, func, args, e.span),
            ExprKind::Unary(op, x) => self.unary(*op, x, e.span),
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, &e.ty, e.span),
            ExprKind::AssignLocal { local, value } => {
                if let Some(cv) = self.update_in_place(*local, value)? {
                    return Ok(cv);
                }
                if let Some(cv) = self.record_update_in_place(*local, value)? {
                    return Ok(cv);
                }
                let v = self.expr(value)?;
                let v = self.own(v);
                let ty = self.body.local(*local).ty.clone();
                let v = self.coerce(v, &ty);
                let old = self.read_local_raw(*local)?;
                let vals = self.give(v);
                self.write_local_raw(*local, &vals)?;
                if ty.is_heap() {
                    self.emit_dec(old[0])?;
                }
                Ok(Self::borrowed(vec![], Ty::Unit))
            }
            ExprKind::AssignGlobal { name, value } => {
                let v = self.expr(value)?;
                let v = self.own(v);
                let bits = self.cv_bits(&v);
                let gid = self.unit.resolver.global_id(name);
                let g = self.iconst(types::I32, gid as i64);
                self.give(v);
                self.call_fallible("rt_global_set", &[self.ctx, g, bits], e.span)?;
                Ok(Self::borrowed(vec![], Ty::Unit))
            }
            ExprKind::Field { base, index } => {
                // A field of a `var` no closure sees is loaded right away:
                // nothing can reassign the variable in between, so the
                // record need not be retained for the read.
                if let ExprKind::Local(l) = base.kind {
                    let info = self.body.local(l);
                    if info.mutable && !info.captured {
                        let obj = self.read_local_raw(l)?[0];
                        let vals = self.load_slot(obj, *index, &e.ty);
                        return Ok(self.own(Self::borrowed(vals, e.ty.clone())));
                    }
                }
                let b = self.expr(base)?;
                let vals = self.load_slot(b.v(), *index, &e.ty);
                self.child_of(b, vals, &e.ty)
            }
            ExprKind::Index { base, index } => self.index(base, index, &e.ty, e.span),
            ExprKind::VecLit(elems) => self.vec_lit(elems, &e.ty),
            ExprKind::MapLit(entries) => self.map_lit(entries, &e.ty),
            ExprKind::Record { ty, fields } => {
                let mut vals = Vec::new();
                for f in fields {
                    let v = self.expr(f)?;
                    vals.push(self.own(v));
                }
                let p = self.build_record(ty, vals)?;
                Ok(self.owned(vec![p], e.ty.clone()))
            }
            ExprKind::RecordUpdate { ty, base, fields } => self.record_update(ty, base, fields, &e.ty),
            ExprKind::Variant { ty, tag, args } => {
                let key = self.unit.resolver.type_key(ty);
                if args.is_empty() {
                    let p = crate::runtime::heap::enum_unit(key, *tag) as i64;
                    return Ok(Self::borrowed(vec![self.iconst(types::I64, p)], e.ty.clone()));
                }
                let mut vals = Vec::new();
                for a in args {
                    let v = self.expr(a)?;
                    vals.push(self.own(v));
                }
                let k = self.iconst(types::I32, key as i64);
                let t = self.iconst(types::I32, *tag as i64);
                let n = self.iconst(types::I32, vals.len() as i64);
                let p = self.call_helper("rt_alloc_enum", &[k, t, n])?.expect("pointer");
                self.store_slots(p, vals)?;
                Ok(self.owned(vec![p], e.ty.clone()))
            }
            ExprKind::If { cond, then, else_ } => self.if_expr(cond, then, else_.as_deref(), &e.ty),
            ExprKind::While { cond, body } => self.while_loop(cond, body, e.span),
            ExprKind::ForRange { var, start, end, body } => self.for_range(*var, start, end, body, e.span),
            ExprKind::ForVec { var, iter, body } => self.for_vec(*var, iter, body, e.span),
            ExprKind::Match { scrutinee, arms } => self.match_expr(scrutinee, arms, &e.ty, e.span),
            ExprKind::Block { stmts, tail } => self.block(stmts, tail.as_deref(), &e.ty),
            ExprKind::Return(v) => {
                let cv = match v {
                    Some(x) => self.expr(x)?,
                    None => Self::borrowed(vec![], Ty::Unit),
                };
                let cv = self.own(cv);
                let ret = self.ret.clone();
                let cv = self.coerce(cv, &ret);
                let vals = self.give(cv);
                self.release_all_temps_and_locals(0, 0)?;
                self.emit_return(vals);
                self.start_dead_block();
                Ok(Self::borrowed(vec![], Ty::Never))
            }
            ExprKind::Break | ExprKind::Continue => {
                let Some(lp) = self.loops.last() else {
                    return Err(CodegenError("`break` outside a loop".into()));
                };
                let (target, sd, td) = (
                    if matches!(e.kind, ExprKind::Break) { lp.exit } else { lp.continue_to },
                    lp.scope_depth,
                    lp.temp_depth,
                );
                self.release_all_temps_and_locals(sd, td)?;
                self.b.ins().jump(target, &[]);
                self.start_dead_block();
                Ok(Self::borrowed(vec![], Ty::Never))
            }
        }
    }

    /// Emits releases of temps above `temp_depth` and owned locals of scopes
    /// deeper than `scope_depth`, without forgetting them (the code that
    /// follows is unreachable but still compiled).
    fn release_all_temps_and_locals(&mut self, scope_depth: usize, temp_depth: usize) -> R<()> {
        let temps: Vec<TempLoc> =
            self.temps[temp_depth.min(self.temps.len())..].iter().rev().map(|&(_, t)| t).collect();
        for t in temps {
            let v = match t {
                TempLoc::Val(v) => v,
                TempLoc::Var(var) => self.b.use_var(var),
            };
            self.emit_dec(v)?;
        }
        for depth in (scope_depth..self.scopes.len()).rev() {
            self.release_scope_locals(depth)?;
        }
        Ok(())
    }

    /// A value loaded out of `parent`: borrowed if the parent is, else owned
    /// (taken before the parent is released).
    pub fn child_of(&mut self, parent: CV, vals: Vec<Value>, ty: &Ty) -> R<CV> {
        let child = Self::borrowed(vals, ty.clone());
        if parent.temp.is_some() {
            let child = self.own(child);
            self.release(&parent)?;
            Ok(child)
        } else {
            Ok(child)
        }
    }

    /// The field types of record type `ty`, in declaration (slot) order.
    pub(super) fn field_types(&self, ty: &lang::types::NamedTy) -> R<Vec<Ty>> {
        let info = self.unit.resolver.type_info(ty).ok_or_else(|| CodegenError(format!("unknown type {}", ty.name)))?;
        Ok(info.fields().iter().map(|f| f.ty.clone()).collect())
    }

    /// A record of type `ty` with `n` slots, which the caller fills at once.
    pub(super) fn alloc_record(&mut self, ty: &lang::types::NamedTy, n: usize) -> R<Value> {
        let key = self.unit.resolver.type_key(ty);
        let k = self.iconst(types::I32, key as i64);
        let n = self.iconst(types::I32, n as i64);
        Ok(self.call_helper("rt_alloc_record", &[k, n])?.expect("pointer"))
    }

    /// A new record of type `ty` holding `vals` (their ownership moves in).
    fn build_record(&mut self, ty: &lang::types::NamedTy, vals: Vec<CV>) -> R<Value> {
        let p = self.alloc_record(ty, vals.len())?;
        self.store_slots(p, vals)?;
        Ok(p)
    }

    pub(super) fn store_slots(&mut self, p: Value, vals: Vec<CV>) -> R<()> {
        for (i, v) in vals.into_iter().enumerate() {
            let bits = self.cv_bits(&v);
            self.give(v);
            self.b.ins().store(MemFlagsData::trusted(), bits, p, FIELDS_OFFSET + 8 * i as i32);
        }
        Ok(())
    }

    fn record_update(
        &mut self,
        ty: &std::sync::Arc<lang::types::NamedTy>,
        base: &hir::Expr,
        fields: &[(u32, hir::Expr)],
        result_ty: &Ty,
    ) -> R<CV> {
        let b = self.expr(base)?;
        let mut replaced = HashMap::new();
        for (i, f) in fields {
            let v = self.expr(f)?;
            replaced.insert(*i, self.own(v));
        }
        let field_tys = self.field_types(ty)?;
        let mut vals = Vec::new();
        for (i, fty) in field_tys.iter().enumerate() {
            match replaced.remove(&(i as u32)) {
                Some(v) => vals.push(v),
                None => {
                    let loaded = self.load_slot(b.v(), i as u32, fty);
                    let cv = Self::borrowed(loaded, fty.clone());
                    vals.push(self.own(cv));
                }
            }
        }
        let p = self.build_record(ty, vals)?;
        self.release(&b)?;
        Ok(self.owned(vec![p], result_ty.clone()))
    }

    fn fn_ref(&mut self, name: &str, ty: &Ty) -> R<CV> {
        let slot = self.unit.resolver.fn_slot(name);
        let table = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), self.ctx, CTX_TABLE);
        let code = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), table, 8 * slot as i32);
        let env_slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
        self.b.ins().stack_store(types::I64, self.ctx, env_slot, 0);
        let env = self.b.ins().stack_addr(types::I64, env_slot, 0);
        Ok(Self::borrowed(vec![code, env], ty.clone()))
    }

    fn closure(&mut self, c: &Closure, ty: &Ty) -> R<CV> {
        let params: Vec<Ty> = c.params.iter().map(|&l| self.body.local(l).ty.clone()).collect();
        let sig = function_signature(&params, &c.ret, self.unit.call_conv);
        let id = super::declare(self.unit, &sig)?;
        let fref = self.func_ref(id);
        let code = self.b.ins().func_addr(types::I64, fref);
        let size = 8 * (1 + c.captures.len() as u32);
        let env_slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
        self.b.ins().stack_store(types::I64, self.ctx, env_slot, 0);
        for (i, &cap) in c.captures.iter().enumerate() {
            let addr = self.local_addr(cap)?;
            self.b.ins().stack_store(types::I64, addr, env_slot, 8 * (1 + i as i32));
        }
        let env = self.b.ins().stack_addr(types::I64, env_slot, 0);
        self.unit.pending.push(PendingClosure { id, closure: c.clone() });
        // Registered so `:closures` and `:which` can say what live closures
        // are bound to.
        let mut calls = std::collections::BTreeSet::new();
        c.body.any(&mut |e: &hir::Expr| {
            if let ExprKind::Call { func, .. } = &e.kind {
                calls.insert(func.clone());
            }
            false
        });
        let creator = self.body.name.split(' ').next().unwrap_or_default();
        let site = crate::tasks::register_closure_site(creator, calls.into_iter().collect());
        let site = self.iconst(types::I32, site as i64);
        self.call_helper("rt_closure_push", &[self.ctx, site])?;
        Ok(Self::borrowed(vec![code, env], ty.clone()))
    }

    /// `spawn [loop] f(args)`: the arguments' owned 64-bit forms go to the
    /// runtime, which starts the task and answers its id.
    fn spawn(&mut self, is_loop: bool, func: &str, args: &[hir::Expr], span: Span) -> R<CV> {
        let sig = self.unit.resolver.fn_sig(func).ok_or_else(|| CodegenError(format!("unknown function {func}")))?;
        let params: Vec<Ty> = sig.params.iter().map(|(_, t)| t.clone()).collect();
        let entry = super::spawn::task_entry(&params, &sig.ret)?;
        let site = crate::tasks::register_site(crate::tasks::SpawnSite {
            func: std::sync::Arc::from(func),
            params: params.clone(),
            ret: sig.ret.clone(),
            is_loop,
            slot: self.unit.resolver.fn_slot(func),
            entry,
        });
        let mut cvs = Vec::new();
        for (a, t) in args.iter().zip(&params) {
            let cv = self.expr(a)?;
            let cv = self.own(cv);
            cvs.push(self.coerce(cv, t));
        }
        let size = 8 * cvs.len().max(1) as u32;
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
        for (i, cv) in cvs.iter().enumerate() {
            let bits = self.cv_bits(cv);
            self.b.ins().stack_store(types::I64, bits, slot, 8 * i as i32);
        }
        // From here the runtime owns the arguments (it drops them if the
        // spawn fails), so nothing may release them on an unwind.
        for cv in cvs {
            self.give(cv);
        }
        let addr = self.b.ins().stack_addr(types::I64, slot, 0);
        let site = self.iconst(types::I32, site as i64);
        let id = self.call_fallible("rt_spawn", &[self.ctx, site, addr], span)?.expect("task id");
        Ok(Self::borrowed(vec![id], Ty::Int))
    }

    /// Arguments in Cranelift form; fn values expand to (code, env).
    fn arg_values(&mut self, args: &[CV]) -> Vec<Value> {
        args.iter().flat_map(|a| a.vals.iter().copied()).collect()
    }

    fn finish_call(&mut self, inst: cranelift_codegen::ir::Inst, args: Vec<CV>, ret: &Ty, span: Span) -> R<CV> {
        let results = self.b.inst_results(inst).to_vec();
        let (status, vals) = results.split_last().expect("status result");
        let vals = vals.to_vec();
        self.branch_error(*status, span)?;
        for a in args.iter().rev() {
            self.release(a)?;
        }
        Ok(self.owned(vals, ret.clone()))
    }

    fn call_global(&mut self, func: &str, args: &[hir::Expr], latest: bool, ret: &Ty, span: Span) -> R<CV> {
        let sig = self.unit.resolver.fn_sig(func).ok_or_else(|| CodegenError(format!("unknown function {func}")))?;
        let mut cvs = Vec::new();
        for a in args {
            cvs.push(self.expr(a)?);
        }
        let null = self.iconst(types::I64, 0);
        if latest {
            // The callee's whole activation runs in the newest world.
            let name_id = self.iconst(types::I32, crate::eval::register_frame(func) as i64);
            let sig_id = self.iconst(types::I32, crate::eval::register_sig(&sig) as i64);
            let ctx2 = self.call_fallible("rt_latest_ctx", &[self.ctx, name_id, sig_id], span)?.expect("ctx");
            // Values of user types cross into the newest world's versions
            // (the callee gets the migrated copies; both are released after).
            let mut passed = Vec::new();
            for (cv, (_, ty)) in cvs.iter().zip(&sig.params) {
                // (An argument that never returns has no value to convert.)
                if ty.has_named() && !cv.vals.is_empty() {
                    let v = self.call_fallible("rt_latest_arg", &[self.ctx, ctx2, cv.v()], span)?.expect("value");
                    passed.push(self.owned(vec![v], ty.clone()));
                } else {
                    passed.push(Self::borrowed(cv.vals.clone(), cv.ty.clone()));
                }
            }
            let slot = self.unit.resolver.fn_slot(func);
            let table = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), ctx2, CTX_TABLE);
            let code = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), table, 8 * slot as i32);
            let params: Vec<Ty> = sig.params.iter().map(|(_, t)| t.clone()).collect();
            let sigref = self.b.import_signature(function_signature(&params, &sig.ret, self.unit.call_conv));
            let mut call_args = vec![ctx2, null];
            call_args.extend(self.arg_values(&passed));
            let inst = self.b.ins().call_indirect(sigref, code, &call_args);
            cvs.extend(passed);
            let mut result = self.finish_call(inst, cvs, ret, span)?;
            if ret.has_named() {
                // The caller's world may not know the newest world's versions.
                let v = self.give(result);
                let back = self.call_fallible("rt_latest_result", &[self.ctx, ctx2, v[0]], span)?.expect("value");
                result = self.owned(vec![back], ret.clone());
            }
            self.call_helper("rt_latest_release", &[self.ctx, ctx2])?;
            return Ok(result);
        }
        let mut call_args = vec![self.ctx, null];
        call_args.extend(self.arg_values(&cvs));
        if let Some((_, id)) = self.self_fn.clone().filter(|(name, _)| &**name == func) {
            let fref = self.func_ref(id);
            let inst = self.b.ins().call(fref, &call_args);
            return self.finish_call(inst, cvs, ret, span);
        }
        let slot = self.unit.resolver.fn_slot(func);
        let table = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), self.ctx, CTX_TABLE);
        let code = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), table, 8 * slot as i32);
        let params: Vec<Ty> = sig.params.iter().map(|(_, t)| t.clone()).collect();
        let csig = function_signature(&params, &sig.ret, self.unit.call_conv);
        let sigref = self.b.import_signature(csig);
        let inst = self.b.ins().call_indirect(sigref, code, &call_args);
        self.finish_call(inst, cvs, ret, span)
    }

    /// Calls a function value (code, env): the callee runs in the world of
    /// the context stored at `env[0]` (a closure's creator's world).
    pub fn call_fn_value(&mut self, f: &CV, args: Vec<CV>, span: Span) -> R<CV> {
        let Ty::Fn(fty) = &f.ty else {
            return Err(CodegenError("calling a non-function value".into()));
        };
        let fty = fty.clone();
        let (code, env) = (f.vals[0], f.vals[1]);
        let callee_ctx = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), env, 0);
        let csig = function_signature(&fty.params, &fty.ret, self.unit.call_conv);
        let sigref = self.b.import_signature(csig);
        let mut call_args = vec![callee_ctx, env];
        let args: Vec<CV> = args.into_iter().zip(&fty.params).map(|(a, t)| self.coerce(a, t)).collect();
        call_args.extend(self.arg_values(&args));
        let inst = self.b.ins().call_indirect(sigref, code, &call_args);
        self.finish_call(inst, args, &fty.ret, span)
    }

    fn unary(&mut self, op: lang::ast::UnOp, x: &hir::Expr, span: Span) -> R<CV> {
        let v = self.expr(x)?;
        use lang::ast::UnOp;
        let r = match (op, &v.ty) {
            (UnOp::Neg, Ty::Int) => {
                let zero = self.iconst(types::I64, 0);
                let (r, of) = self.b.ins().ssub_overflow(zero, v.v());
                self.raise_if(of, 2, span)?;
                r
            }
            (UnOp::Neg, Ty::Float) => self.b.ins().fneg(v.v()),
            (UnOp::Not, Ty::Bool) => self.b.ins().bxor_imm_u(v.v(), 1),
            _ => return Ok(Self::borrowed(vec![], Ty::Never)),
        };
        Ok(Self::borrowed(vec![r], v.ty))
    }

    fn binary(&mut self, op: lang::ast::BinOp, l: &hir::Expr, r: &hir::Expr, ty: &Ty, span: Span) -> R<CV> {
        use lang::ast::BinOp::*;
        if matches!(op, And | Or) {
            return self.short_circuit(op == And, l, r);
        }
        let a = self.expr(l)?;
        let b = self.expr(r)?;
        if a.vals.is_empty() && !matches!(a.ty, Ty::Unit) || b.vals.is_empty() && !matches!(b.ty, Ty::Unit) {
            // An operand diverged; this code is unreachable.
            return Ok(self.coerce(Self::borrowed(vec![], Ty::Never), ty));
        }
        let result = match (&a.ty, op) {
            (Ty::Int, Add | Sub | Mul) => {
                let (x, of) = match op {
                    Add => self.b.ins().sadd_overflow(a.v(), b.v()),
                    Sub => self.b.ins().ssub_overflow(a.v(), b.v()),
                    _ => self.b.ins().smul_overflow(a.v(), b.v()),
                };
                self.raise_if(of, 2, span)?;
                Self::borrowed(vec![x], Ty::Int)
            }
            (Ty::Int, Div | Rem) => {
                let is_zero = self.b.ins().icmp_imm_s(IntCC::Equal, b.v(), 0);
                self.raise_if(is_zero, 1, span)?;
                let is_min = self.b.ins().icmp_imm_s(IntCC::Equal, a.v(), i64::MIN);
                let is_m1 = self.b.ins().icmp_imm_s(IntCC::Equal, b.v(), -1);
                let both = self.b.ins().band(is_min, is_m1);
                self.raise_if(both, 2, span)?;
                let x = if op == Div { self.b.ins().sdiv(a.v(), b.v()) } else { self.b.ins().srem(a.v(), b.v()) };
                Self::borrowed(vec![x], Ty::Int)
            }
            (Ty::Int | Ty::Bool, Eq | Ne | Lt | Le | Gt | Ge) => {
                let cc = int_cc(op);
                Self::borrowed(vec![self.b.ins().icmp(cc, a.v(), b.v())], Ty::Bool)
            }
            (Ty::Float, Add) => Self::borrowed(vec![self.b.ins().fadd(a.v(), b.v())], Ty::Float),
            (Ty::Float, Sub) => Self::borrowed(vec![self.b.ins().fsub(a.v(), b.v())], Ty::Float),
            (Ty::Float, Mul) => Self::borrowed(vec![self.b.ins().fmul(a.v(), b.v())], Ty::Float),
            (Ty::Float, Div) => Self::borrowed(vec![self.b.ins().fdiv(a.v(), b.v())], Ty::Float),
            (Ty::Float, Rem) => {
                let x = self.call_helper("rt_fmod", &[a.v(), b.v()])?.expect("f64");
                Self::borrowed(vec![x], Ty::Float)
            }
            (Ty::Float, Eq | Ne | Lt | Le | Gt | Ge) => {
                use cranelift_codegen::ir::condcodes::FloatCC;
                let cc = match op {
                    Eq => FloatCC::Equal,
                    Ne => FloatCC::NotEqual,
                    Lt => FloatCC::LessThan,
                    Le => FloatCC::LessThanOrEqual,
                    Gt => FloatCC::GreaterThan,
                    _ => FloatCC::GreaterThanOrEqual,
                };
                Self::borrowed(vec![self.b.ins().fcmp(cc, a.v(), b.v())], Ty::Bool)
            }
            (Ty::Unit, Eq | Ne) => Self::borrowed(vec![self.iconst(types::I8, (op == Eq) as i64)], Ty::Bool),
            (Ty::Str, Add) => {
                let x = self.call_helper("rt_str_concat", &[a.v(), b.v()])?.expect("str");
                self.owned(vec![x], Ty::Str)
            }
            (Ty::Str, Lt | Le | Gt | Ge) => {
                let c = self.call_helper("rt_str_cmp", &[a.v(), b.v()])?.expect("i64");
                let x = self.b.ins().icmp_imm_s(int_cc(op), c, 0);
                Self::borrowed(vec![x], Ty::Bool)
            }
            (_, Eq | Ne) => {
                let d = self.tdesc(&a.ty);
                let x = self.call_helper("rt_eq", &[a.v(), b.v(), d])?.expect("u8");
                let x = if op == Ne { self.b.ins().bxor_imm_u(x, 1) } else { x };
                Self::borrowed(vec![x], Ty::Bool)
            }
            _ => return Err(CodegenError(format!("operator {op:?} on {} is not supported", a.ty))),
        };
        self.release(&b)?;
        self.release(&a)?;
        Ok(result)
    }

    fn short_circuit(&mut self, is_and: bool, l: &hir::Expr, r: &hir::Expr) -> R<CV> {
        let a = self.expr(l)?;
        let a = self.coerce(a, &Ty::Bool);
        let rhs = self.b.create_block();
        let merge = self.b.create_block();
        self.b.append_block_param(merge, types::I8);
        let av = [BlockArg::Value(a.v())];
        if is_and {
            self.b.ins().brif(a.v(), rhs, &[], merge, &av);
        } else {
            self.b.ins().brif(a.v(), merge, &av, rhs, &[]);
        }
        self.b.switch_to_block(rhs);
        self.b.seal_block(rhs);
        let b = self.expr(r)?;
        let b = self.coerce(b, &Ty::Bool);
        self.b.ins().jump(merge, &[BlockArg::Value(b.v())]);
        self.b.switch_to_block(merge);
        self.b.seal_block(merge);
        Ok(Self::borrowed(vec![self.b.block_params(merge)[0]], Ty::Bool))
    }

    fn index(&mut self, base: &hir::Expr, index: &hir::Expr, ty: &Ty, span: Span) -> R<CV> {
        let b = self.expr(base)?;
        let i = self.expr(index)?;
        let ib = self.cv_bits(&i);
        let helper = if matches!(b.ty, Ty::Map(..)) { "rt_map_get" } else { "rt_vec_get" };
        let bits = self.call_fallible(helper, &[self.ctx, b.v(), ib], span)?.expect("bits");
        let vals = self.values_of(bits, ty);
        let child = Self::borrowed(vals, ty.clone());
        let child = if b.temp.is_some() || i.temp.is_some() { self.own(child) } else { child };
        self.release(&i)?;
        self.release(&b)?;
        Ok(child)
    }

    fn vec_lit(&mut self, elems: &[hir::Expr], ty: &Ty) -> R<CV> {
        let Ty::Vec(elem_ty) = ty else {
            return Err(CodegenError(format!("vector literal of type {ty}")));
        };
        let heap = self.iconst(types::I8, elem_ty.is_heap() as i64);
        let v = self.call_helper("rt_vec_new", &[heap])?.expect("vec");
        let out = self.owned(vec![v], ty.clone());
        for el in elems {
            let x = self.expr(el)?;
            let x = self.own(x);
            let bits = self.cv_bits(&x);
            self.give(x);
            self.call_helper("rt_vec_build_push", &[v, bits])?;
        }
        Ok(out)
    }

    fn map_lit(&mut self, entries: &[(hir::Expr, hir::Expr)], ty: &Ty) -> R<CV> {
        let Ty::Map(k_ty, v_ty) = ty else {
            return Err(CodegenError(format!("map literal of type {ty}")));
        };
        let kk = self.iconst(types::I32, super::layout::key_kind(k_ty) as i64);
        let vh = self.iconst(types::I8, v_ty.is_heap() as i64);
        let m = self.call_helper("rt_map_new", &[kk, vh])?.expect("map");
        let out = self.owned(vec![m], ty.clone());
        for (k, v) in entries {
            let kc = self.expr(k)?;
            let kc = self.own(kc);
            let vc = self.expr(v)?;
            let vc = self.own(vc);
            let kb = self.cv_bits(&kc);
            let vb = self.cv_bits(&vc);
            self.give(kc);
            self.give(vc);
            self.call_helper("rt_map_build_insert", &[m, kb, vb])?;
        }
        Ok(out)
    }

    fn merge_block(&mut self, ty: &Ty) -> Block {
        let merge = self.b.create_block();
        for t in clif_types(ty) {
            self.b.append_block_param(merge, t);
        }
        merge
    }

    /// Ends a branch: its value, owned, flows into `merge`.
    pub fn jump_with(&mut self, merge: Block, cv: CV, ty: &Ty) {
        let cv = self.own(cv);
        let cv = self.coerce(cv, ty);
        let vals = self.give(cv);
        let args: Vec<BlockArg> = vals.into_iter().map(BlockArg::Value).collect();
        self.b.ins().jump(merge, &args);
    }

    pub fn finish_merge(&mut self, merge: Block, ty: &Ty) -> CV {
        self.b.switch_to_block(merge);
        self.b.seal_block(merge);
        let vals = self.b.block_params(merge).to_vec();
        if ty.is_heap() { self.owned(vals, ty.clone()) } else { Self::borrowed(vals, ty.clone()) }
    }

    fn if_expr(&mut self, cond: &hir::Expr, then: &hir::Expr, else_: Option<&hir::Expr>, ty: &Ty) -> R<CV> {
        let c = self.expr(cond)?;
        let c = self.coerce(c, &Ty::Bool);
        let tb = self.b.create_block();
        let eb = self.b.create_block();
        let merge = self.merge_block(ty);
        self.b.ins().brif(c.v(), tb, &[], eb, &[]);
        self.b.switch_to_block(tb);
        self.b.seal_block(tb);
        let tv = self.expr(then)?;
        self.jump_with(merge, tv, ty);
        self.b.switch_to_block(eb);
        self.b.seal_block(eb);
        let ev = match else_ {
            Some(e) => self.expr(e)?,
            None => Self::borrowed(vec![], Ty::Unit),
        };
        self.jump_with(merge, ev, ty);
        Ok(self.finish_merge(merge, ty))
    }

    fn push_loop(&mut self, continue_to: Block, exit: Block) {
        self.loops.push(LoopCx { continue_to, exit, scope_depth: self.scopes.len(), temp_depth: self.temps.len() });
    }

    fn while_loop(&mut self, cond: &hir::Expr, body: &hir::Expr, span: Span) -> R<CV> {
        let header = self.b.create_block();
        let body_b = self.b.create_block();
        let latch = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let c = self.expr(cond)?;
        let c = self.coerce(c, &Ty::Bool);
        self.b.ins().brif(c.v(), body_b, &[], exit, &[]);
        self.b.switch_to_block(body_b);
        self.b.seal_block(body_b);
        self.push_loop(latch, exit);
        let v = self.expr(body)?;
        self.release(&v)?;
        self.loops.pop();
        self.b.ins().jump(latch, &[]);
        self.b.switch_to_block(latch);
        self.b.seal_block(latch);
        let line = self.line(span);
        self.loop_poll(line);
        self.b.ins().jump(header, &[]);
        self.b.seal_block(header);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        Ok(Self::borrowed(vec![], Ty::Unit))
    }

    fn for_range(&mut self, var: LocalId, start: &hir::Expr, end: &hir::Expr, body: &hir::Expr, span: Span) -> R<CV> {
        let s = self.expr(start)?;
        let s = self.coerce(s, &Ty::Int);
        let e = self.expr(end)?;
        let e = self.coerce(e, &Ty::Int);
        let i = self.b.declare_var(types::I64);
        self.b.def_var(i, s.v());
        self.counted_loop(i, e.v(), span, |f, iv| {
            f.scopes.push(Vec::new());
            f.declare_local(var, vec![iv], false);
            let v = f.expr(body)?;
            f.release(&v)?;
            f.pop_scope()
        })?;
        Ok(Self::borrowed(vec![], Ty::Unit))
    }

    fn for_vec(&mut self, var: LocalId, iter: &hir::Expr, body: &hir::Expr, span: Span) -> R<CV> {
        let xs = self.expr(iter)?;
        let Ty::Vec(elem_ty) = xs.ty.clone() else {
            return Ok(Self::borrowed(vec![], Ty::Unit));
        };
        let n = self.call_helper("rt_vec_len", &[xs.v()])?.expect("len");
        let i = self.b.declare_var(types::I64);
        let zero = self.iconst(types::I64, 0);
        self.b.def_var(i, zero);
        let xv = xs.v();
        self.counted_loop(i, n, span, |f, iv| {
            let bits = f.call_helper("rt_vec_get", &[f.ctx, xv, iv])?.expect("bits");
            let vals = f.values_of(bits, &elem_ty);
            f.scopes.push(Vec::new());
            f.declare_local(var, vals, false);
            let v = f.expr(body)?;
            f.release(&v)?;
            f.pop_scope()
        })?;
        self.release(&xs)?;
        Ok(Self::borrowed(vec![], Ty::Unit))
    }

    /// A loop of `i` from its current value up to `end` (exclusive). The
    /// iterations run in chunks of at most [`POLL_EVERY`], with the
    /// interrupt poll between chunks rather than on every back-edge
    /// ("loop strip mining"): a tight loop pays for one poll per chunk. A
    /// chunk's body has no loop or call without its own poll, so a chunk
    /// takes bounded time. `break`/`continue` inside `body` work.
    pub fn counted_loop(
        &mut self,
        i: Variable,
        end: Value,
        span: Span,
        mut body: impl FnMut(&mut Self, Value) -> R<()>,
    ) -> R<()> {
        let outer = self.b.create_block();
        let chunk = self.b.create_block();
        let inner = self.b.create_block();
        let body_b = self.b.create_block();
        let latch = self.b.create_block();
        let poll = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(outer, &[]);
        self.b.switch_to_block(outer);
        let iv = self.b.use_var(i);
        let c = self.b.ins().icmp(IntCC::SignedLessThan, iv, end);
        self.b.ins().brif(c, chunk, &[], exit, &[]);
        self.b.switch_to_block(chunk);
        self.b.seal_block(chunk);
        // chunk_end = min(end, i + POLL_EVERY), minding overflow near i64::MAX.
        let t = self.b.ins().iadd_imm_s(iv, POLL_EVERY);
        let wrapped = self.b.ins().icmp(IntCC::SignedLessThan, t, iv);
        let past = self.b.ins().icmp(IntCC::SignedGreaterThan, t, end);
        let use_end = self.b.ins().bor(wrapped, past);
        let chunk_end = self.b.ins().select(use_end, end, t);
        self.b.ins().jump(inner, &[]);
        self.b.switch_to_block(inner);
        let iv = self.b.use_var(i);
        let c = self.b.ins().icmp(IntCC::SignedLessThan, iv, chunk_end);
        self.b.ins().brif(c, body_b, &[], poll, &[]);
        self.b.switch_to_block(body_b);
        self.b.seal_block(body_b);
        self.push_loop(latch, exit);
        let iv = self.b.use_var(i);
        body(self, iv)?;
        self.loops.pop();
        self.b.ins().jump(latch, &[]);
        self.b.switch_to_block(latch);
        self.b.seal_block(latch);
        let iv = self.b.use_var(i);
        let next = self.b.ins().iadd_imm_s(iv, 1);
        self.b.def_var(i, next);
        self.b.ins().jump(inner, &[]);
        self.b.seal_block(inner);
        self.b.switch_to_block(poll);
        self.b.seal_block(poll);
        let line = self.line(span);
        self.loop_poll(line);
        self.b.ins().jump(outer, &[]);
        self.b.seal_block(outer);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        Ok(())
    }

    /// Makes a variable that owns an accumulated heap value visible to error
    /// unwinding (e.g. `fold`'s accumulator).
    pub fn track_var(&mut self, var: Variable) -> u32 {
        self.track(TempLoc::Var(var))
    }

    pub fn untrack_id(&mut self, id: u32) {
        self.untrack(id)
    }

    fn block(&mut self, stmts: &[Stmt], tail: Option<&hir::Expr>, ty: &Ty) -> R<CV> {
        self.scopes.push(Vec::new());
        for s in stmts {
            match s {
                Stmt::Let { local, init } => {
                    let v = self.expr(init)?;
                    let info = self.body.local(*local);
                    let (mutable, lty) = (info.mutable, info.ty.clone());
                    let v = if mutable { self.own(v) } else { v };
                    let v = self.coerce(v, &lty);
                    let owns = v.temp.is_some();
                    let vals = self.give(v);
                    self.declare_local(*local, vals, owns);
                }
                Stmt::Expr(e) => {
                    let v = self.expr(e)?;
                    self.release(&v)?;
                }
            }
        }
        let v = match tail {
            Some(t) => self.expr(t)?,
            None => Self::borrowed(vec![], Ty::Unit),
        };
        let owns_locals = !self.scopes.last().is_some_and(|s| s.is_empty());
        let v = if owns_locals { self.own(v) } else { v };
        let v = self.coerce(v, ty);
        self.pop_scope()?;
        Ok(v)
    }

    pub fn declare_pattern_local(&mut self, id: LocalId, vals: Vec<Value>) {
        self.declare_local(id, vals, false);
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    pub fn end_scope(&mut self) -> R<()> {
        self.pop_scope()
    }
}

/// Whether `e` neither calls Strata code (functions, closures, `fn`
/// parameters, higher-order builtins, `define`) nor loops.
fn is_leaf(e: &hir::Expr) -> bool {
    use hir::Builtin::{Define, Each, Filter, Fold, Map};
    !e.any(&mut |x: &hir::Expr| {
        matches!(
            &x.kind,
            ExprKind::Call { .. }
                | ExprKind::CallLocal { .. }
                | ExprKind::While { .. }
                | ExprKind::ForRange { .. }
                | ExprKind::ForVec { .. }
                | ExprKind::Closure(_)
                | ExprKind::Builtin { op: Each | Map | Filter | Fold | Define, .. }
        )
    })
}

fn int_cc(op: lang::ast::BinOp) -> IntCC {
    use lang::ast::BinOp::*;
    match op {
        Eq => IntCC::Equal,
        Ne => IntCC::NotEqual,
        Lt => IntCC::SignedLessThan,
        Le => IntCC::SignedLessThanOrEqual,
        Gt => IntCC::SignedGreaterThan,
        _ => IntCC::SignedGreaterThanOrEqual,
    }
}

/// Iterations of a counted loop between two interrupt polls.
const POLL_EVERY: i64 = 1024;

/// How many closure literals `e` passes directly as call arguments.
fn closure_args(e: &hir::Expr) -> usize {
    match &e.kind {
        ExprKind::Call { args, .. } | ExprKind::CallLocal { args, .. } | ExprKind::Builtin { args, .. } => {
            args.iter().filter(|a| matches!(a.kind, ExprKind::Closure(_))).count()
        }
        _ => 0,
    }
}
