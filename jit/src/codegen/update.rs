//! In-place updates of `var`s nothing else can see: `xs[i] = v`,
//! `xs = push(xs, v)`, `m[k] = v` and `p = T { f: e, ..p }` move the
//! variable's reference into a consuming helper (or reuse the record), so
//! the value is changed in place when it is not shared.

use super::func::{CV, FnCx, R};
use crate::abi::{CTX_ERR, FIELDS_OFFSET};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{BlockArg, InstBuilder, MemFlagsData, types};
use lang::hir::{self, ExprKind, LocalId};
use lang::types::Ty;

impl FnCx<'_, '_, '_> {
    /// `xs = set(xs, i, v)`, `xs = push(xs, v)`, `m = insert(m, k, v)` (and
    /// the `xs[i] = v` / `m[k] = v` they come from) on a `var` no closure
    /// can see: the variable's reference is moved into a consuming helper,
    /// which updates the value in place when nothing else shares it — so
    /// building a vector in a loop costs O(1) per step, not a copy.
    /// The other arguments are evaluated first; they cannot assign the
    /// variable (checked), so the order is not observable.
    pub(super) fn update_in_place(&mut self, local: LocalId, value: &hir::Expr) -> R<Option<CV>> {
        let ExprKind::Builtin { op, args } = &value.kind else { return Ok(None) };
        let helper = match op {
            hir::Builtin::Set => "rt_vec_set_move",
            hir::Builtin::Push => "rt_vec_push_move",
            hir::Builtin::Insert => "rt_map_insert_move",
            _ => return Ok(None),
        };
        let same_var = matches!(args.first().map(|a| &a.kind), Some(ExprKind::Local(l)) if *l == local);
        if !same_var || !self.movable_var(local, &mut args[1..].iter()) {
            return Ok(None);
        }
        let mut rest = Vec::new();
        for a in &args[1..] {
            let v = self.expr(a)?;
            rest.push(self.own(v));
        }
        let old = self.read_local_raw(local)?[0];
        let mut call_args = Vec::new();
        if *op == hir::Builtin::Set {
            call_args.push(self.ctx);
        }
        call_args.push(old);
        for v in &rest {
            let bits = self.cv_bits(v);
            call_args.push(bits);
        }
        for v in rest {
            self.give(v);
        }
        let new = self.call_helper(helper, &call_args)?.expect("updated value");
        self.write_local_raw(local, &[new])?;
        if *op == hir::Builtin::Set {
            let flag = self.b.ins().load(types::I8, MemFlagsData::trusted(), self.ctx, CTX_ERR);
            self.branch_error(flag, value.span)?;
        }
        Ok(Some(Self::borrowed(vec![], Ty::Unit)))
    }

    /// Whether `local` is a `var` only this function's own code can assign
    /// (no closure sees it) and none of `exprs` assigns it.
    fn movable_var(&self, local: LocalId, exprs: &mut dyn Iterator<Item = &hir::Expr>) -> bool {
        let info = self.body.local(local);
        if !info.mutable || info.captured || !info.ty.is_heap() {
            return false;
        }
        let assigns_it = |e: &hir::Expr| matches!(&e.kind, ExprKind::AssignLocal { local: l, .. } if *l == local);
        for e in exprs {
            if e.any(&mut { assigns_it }) {
                return false;
            }
        }
        true
    }

    /// `p = T { f: e, ..p }` on a `var` no closure can see: when the record
    /// is not shared, its fields are replaced in place instead of copying it.
    pub(super) fn record_update_in_place(&mut self, local: LocalId, value: &hir::Expr) -> R<Option<CV>> {
        let ExprKind::RecordUpdate { ty, base, fields } = &value.kind else { return Ok(None) };
        let same_var = matches!(&base.kind, ExprKind::Local(l) if *l == local);
        if !same_var || !self.movable_var(local, &mut fields.iter().map(|(_, e)| e)) {
            return Ok(None);
        }
        let field_tys = self.field_types(ty)?;
        let mut new_vals = Vec::new();
        for (i, e) in fields {
            let v = self.expr(e)?;
            let v = self.own(v);
            let bits = self.cv_bits(&v);
            self.give(v);
            new_vals.push((*i as usize, bits));
        }
        let obj = self.read_local_raw(local)?[0];
        let rc = self.b.ins().load(types::I64, MemFlagsData::trusted(), obj, crate::abi::HEADER_RC);
        let unique = self.b.ins().icmp_imm_s(IntCC::Equal, rc, 1);
        let in_place = self.b.create_block();
        let copy = self.b.create_block();
        let merge = self.b.create_block();
        self.b.append_block_param(merge, types::I64);
        self.b.ins().brif(unique, in_place, &[], copy, &[]);

        self.b.switch_to_block(in_place);
        self.b.seal_block(in_place);
        for &(i, bits) in &new_vals {
            let off = FIELDS_OFFSET + 8 * i as i32;
            if field_tys[i].is_heap() {
                let old = self.b.ins().load(types::I64, MemFlagsData::trusted(), obj, off);
                self.emit_dec(old)?;
            }
            self.b.ins().store(MemFlagsData::trusted(), bits, obj, off);
        }
        self.b.ins().jump(merge, &[BlockArg::Value(obj)]);

        self.b.switch_to_block(copy);
        self.b.seal_block(copy);
        let p = self.alloc_record(ty, field_tys.len())?;
        for (i, fty) in field_tys.iter().enumerate() {
            let off = FIELDS_OFFSET + 8 * i as i32;
            let bits = match new_vals.iter().find(|(j, _)| *j == i) {
                Some(&(_, bits)) => bits,
                None => {
                    let bits = self.b.ins().load(types::I64, MemFlagsData::trusted(), obj, off);
                    if fty.is_heap() {
                        self.emit_inc(bits);
                    }
                    bits
                }
            };
            self.b.ins().store(MemFlagsData::trusted(), bits, p, off);
        }
        self.emit_dec(obj)?;
        self.b.ins().jump(merge, &[BlockArg::Value(p)]);

        self.b.switch_to_block(merge);
        self.b.seal_block(merge);
        let result = self.b.block_params(merge)[0];
        self.write_local_raw(local, &[result])?;
        Ok(Some(Self::borrowed(vec![], Ty::Unit)))
    }
}
