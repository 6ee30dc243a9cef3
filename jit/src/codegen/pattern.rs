//! `match`: arms tested in order; pattern bindings borrow from the scrutinee,
//! which stays alive until the whole match is done.

use super::CodegenError;
use super::func::{CV, FnCx, R};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, MemFlagsData, Value, types};
use lang::hir::{self, Pat};
use lang::span::Span;
use lang::types::Ty;

impl FnCx<'_, '_, '_> {
    pub(super) fn match_expr(&mut self, scrutinee: &hir::Expr, arms: &[hir::Arm], ty: &Ty, span: Span) -> R<CV> {
        let s = self.expr(scrutinee)?;
        let s = self.coerce(s, &scrutinee.ty.clone());
        let merge = self.b.create_block();
        for t in super::layout::clif_types(ty) {
            self.b.append_block_param(merge, t);
        }
        for arm in arms {
            let next = self.b.create_block();
            self.push_scope();
            self.test_pattern(&arm.pat, &s.vals, &s.ty, next)?;
            let v = self.expr(&arm.body)?;
            let v = self.own(v);
            let v = self.coerce(v, ty);
            // Release the arm's scope before leaving it; the value is owned.
            let vals = self.give(v);
            self.end_scope()?;
            let args: Vec<_> = vals.into_iter().map(cranelift_codegen::ir::BlockArg::Value).collect();
            self.b.ins().jump(merge, &args);
            self.b.switch_to_block(next);
            self.b.seal_block(next);
        }
        // The checker proved the arms exhaustive; reaching here is a bug,
        // reported as an error rather than undefined behaviour.
        self.call_fallible("rt_no_match", &[self.ctx], span)?;
        let dummy = CV { vals: vec![], ty: Ty::Never, temp: None };
        let dummy = self.coerce(dummy, ty);
        let args: Vec<_> = dummy.vals.into_iter().map(cranelift_codegen::ir::BlockArg::Value).collect();
        self.b.ins().jump(merge, &args);
        let result = self.finish_merge(merge, ty);
        self.release(&s)?;
        Ok(result)
    }

    /// Emits tests of `pat` against `vals`; on failure jumps to `fail`, on
    /// success continues in a fresh block with the bindings declared.
    fn test_pattern(&mut self, pat: &Pat, vals: &[Value], ty: &Ty, fail: Block) -> R<()> {
        match pat {
            Pat::Wild => Ok(()),
            Pat::Bind(id) => {
                self.declare_pattern_local(*id, vals.to_vec());
                Ok(())
            }
            Pat::Int(n) => {
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, vals[0], *n);
                self.continue_if(c, fail);
                Ok(())
            }
            Pat::Bool(v) => {
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, vals[0], *v as i64);
                self.continue_if(c, fail);
                Ok(())
            }
            Pat::Str(s) => {
                let lit = crate::runtime::string::str_literal(s) as i64;
                let lit = self.iconst(types::I64, lit);
                let d = self.tdesc(&Ty::Str);
                let c = self.call_helper("rt_eq", &[vals[0], lit, d])?.expect("u8");
                self.continue_if(c, fail);
                Ok(())
            }
            Pat::Variant { tag, args } => {
                let Ty::Named(named) = ty else {
                    return Err(CodegenError(format!("variant pattern on a value of type {ty}")));
                };
                let t = self.b.ins().load(
                    types::I32,
                    MemFlagsData::trusted().with_readonly(),
                    vals[0],
                    crate::abi::HEADER_TAG,
                );
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, t, *tag as i64);
                self.continue_if(c, fail);
                if args.iter().all(|p| matches!(p, Pat::Wild)) {
                    return Ok(());
                }
                let info = self
                    .unit
                    .resolver
                    .type_info(named)
                    .ok_or_else(|| CodegenError(format!("unknown type {}", named.name)))?;
                let payload = info
                    .variants()
                    .get(*tag as usize)
                    .map(|v| v.payload.clone())
                    .ok_or_else(|| CodegenError(format!("bad variant {tag} of {}", named.name)))?;
                for (i, (p, pty)) in args.iter().zip(&payload).enumerate() {
                    if matches!(p, Pat::Wild) {
                        continue;
                    }
                    let sub = self.load_slot(vals[0], i as u32, pty);
                    self.test_pattern(p, &sub, pty, fail)?;
                }
                Ok(())
            }
        }
    }

    fn continue_if(&mut self, cond: Value, fail: Block) {
        let ok = self.b.create_block();
        self.b.ins().brif(cond, ok, &[], fail, &[]);
        self.b.switch_to_block(ok);
        self.b.seal_block(ok);
    }
}
