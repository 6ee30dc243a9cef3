//! Calls of the native builtins (section 3.3): inline instructions where
//! Cranelift has them, runtime helpers otherwise, and inline loops for the
//! higher-order ones (`each`, `map`, `filter`, `fold`), so the closure is
//! called directly from compiled code.

use super::CodegenError;
use super::func::{CV, FnCx, R};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{InstBuilder, types};
use lang::hir::{self, Builtin};
use lang::span::Span;
use lang::types::Ty;

impl FnCx<'_, '_, '_> {
    pub(super) fn builtin(&mut self, op: Builtin, args: &[hir::Expr], ty: &Ty, span: Span) -> R<CV> {
        match op {
            Builtin::Each | Builtin::Map | Builtin::Filter | Builtin::Fold => {
                return self.higher_order(op, args, ty, span);
            }
            Builtin::Assert => return self.assert(args, span),
            _ => {}
        }
        let mut a = Vec::new();
        for x in args {
            a.push(self.expr(x)?);
        }
        if a.iter().zip(args).any(|(cv, x)| cv.vals.is_empty() && !matches!(x.ty, Ty::Unit)) {
            // An argument diverged; this code is unreachable.
            let never = CV { vals: vec![], ty: Ty::Never, temp: None };
            return Ok(self.coerce(never, ty));
        }
        let arg_ty = a.first().map(|c| c.ty.clone()).unwrap_or(Ty::Unit);
        let ctx = self.ctx;
        let result = match op {
            Builtin::Print => {
                let bits = self.cv_bits(&a[0]);
                let d = self.tdesc(&arg_ty);
                self.call_helper("rt_print", &[ctx, bits, d])?;
                Self::borrowed(vec![], Ty::Unit)
            }
            Builtin::Str => {
                let bits = self.cv_bits(&a[0]);
                let d = self.tdesc(&arg_ty);
                let s = self.call_helper("rt_to_str", &[bits, d])?.expect("str");
                self.owned(vec![s], Ty::Str)
            }
            Builtin::Abs if arg_ty == Ty::Float => Self::borrowed(vec![self.b.ins().fabs(a[0].v())], Ty::Float),
            Builtin::Abs => {
                let x = a[0].v();
                let zero = self.iconst(types::I64, 0);
                let (neg, of) = self.b.ins().ssub_overflow(zero, x);
                self.raise_if(of, 2, span)?;
                let is_neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
                Self::borrowed(vec![self.b.ins().select(is_neg, neg, x)], Ty::Int)
            }
            Builtin::Min | Builtin::Max => {
                let (x, y) = (a[0].v(), a[1].v());
                let less = if arg_ty == Ty::Float {
                    self.b.ins().fcmp(FloatCC::LessThan, x, y)
                } else {
                    self.b.ins().icmp(IntCC::SignedLessThan, x, y)
                };
                let r =
                    if op == Builtin::Min { self.b.ins().select(less, x, y) } else { self.b.ins().select(less, y, x) };
                Self::borrowed(vec![r], arg_ty.clone())
            }
            Builtin::Sqrt => Self::borrowed(vec![self.b.ins().sqrt(a[0].v())], Ty::Float),
            Builtin::Floor => Self::borrowed(vec![self.b.ins().floor(a[0].v())], Ty::Float),
            Builtin::Pow if arg_ty == Ty::Float => {
                let r = self.call_helper("rt_pow_float", &[a[0].v(), a[1].v()])?.expect("f64");
                Self::borrowed(vec![r], Ty::Float)
            }
            Builtin::Pow => {
                let r = self.call_fallible("rt_pow_int", &[ctx, a[0].v(), a[1].v()], span)?.expect("i64");
                Self::borrowed(vec![r], Ty::Int)
            }
            Builtin::Float => Self::borrowed(vec![self.b.ins().fcvt_from_sint(types::F64, a[0].v())], Ty::Float),
            Builtin::Int => {
                let r = self.call_fallible("rt_float_to_int", &[ctx, a[0].v()], span)?.expect("i64");
                Self::borrowed(vec![r], Ty::Int)
            }
            Builtin::Len => {
                let helper = match arg_ty {
                    Ty::Str => "rt_str_len",
                    Ty::Map(..) => "rt_map_len",
                    _ => "rt_vec_len",
                };
                let r = self.call_helper(helper, &[a[0].v()])?.expect("i64");
                Self::borrowed(vec![r], Ty::Int)
            }
            Builtin::Contains => {
                let r = self.call_helper("rt_str_contains", &[a[0].v(), a[1].v()])?.expect("u8");
                Self::borrowed(vec![r], Ty::Bool)
            }
            Builtin::Split => self.heap_call("rt_str_split", &[ctx, a[0].v(), a[1].v()], ty, Some(span))?,
            Builtin::Join => self.heap_call("rt_str_join", &[a[0].v(), a[1].v()], ty, None)?,
            Builtin::Trim => self.heap_call("rt_str_trim", &[a[0].v()], ty, None)?,
            Builtin::Upper => self.heap_call("rt_str_upper", &[a[0].v()], ty, None)?,
            Builtin::Lower => self.heap_call("rt_str_lower", &[a[0].v()], ty, None)?,
            Builtin::ParseInt => {
                let r = self.call_fallible("rt_parse_int", &[ctx, a[0].v()], span)?.expect("i64");
                Self::borrowed(vec![r], Ty::Int)
            }
            Builtin::ParseFloat => {
                let r = self.call_fallible("rt_parse_float", &[ctx, a[0].v()], span)?.expect("f64");
                Self::borrowed(vec![r], Ty::Float)
            }
            Builtin::Push => {
                let x = self.cv_bits(&a[1]);
                self.heap_call("rt_vec_push", &[a[0].v(), x], ty, None)?
            }
            Builtin::Set => {
                let x = self.cv_bits(&a[2]);
                self.heap_call("rt_vec_set", &[ctx, a[0].v(), a[1].v(), x], ty, Some(span))?
            }
            Builtin::Pop => self.heap_call("rt_vec_pop", &[ctx, a[0].v()], ty, Some(span))?,
            Builtin::Slice => self.heap_call("rt_vec_slice", &[ctx, a[0].v(), a[1].v(), a[2].v()], ty, Some(span))?,
            Builtin::Concat => self.heap_call("rt_vec_concat", &[a[0].v(), a[1].v()], ty, None)?,
            Builtin::Reverse => self.heap_call("rt_vec_reverse", &[a[0].v()], ty, None)?,
            Builtin::Sort => {
                let Ty::Vec(elem) = &arg_ty else {
                    return Err(CodegenError("sort of a non-vector".into()));
                };
                let d = self.tdesc(elem);
                self.heap_call("rt_vec_sort", &[a[0].v(), d], ty, None)?
            }
            Builtin::Range => self.heap_call("rt_range", &[ctx, a[0].v(), a[1].v()], ty, Some(span))?,
            Builtin::Get => {
                let k = self.cv_bits(&a[1]);
                let d = self.cv_bits(&a[2]);
                let bits = self.call_helper("rt_map_get_or", &[a[0].v(), k, d])?.expect("bits");
                let vals = self.values_of(bits, ty);
                // Borrowed from the map or the default: own it before they go.
                let cv = Self::borrowed(vals, ty.clone());
                self.own(cv)
            }
            Builtin::Has => {
                let k = self.cv_bits(&a[1]);
                let r = self.call_helper("rt_map_has", &[a[0].v(), k])?.expect("u8");
                Self::borrowed(vec![r], Ty::Bool)
            }
            Builtin::Insert => {
                let k = self.cv_bits(&a[1]);
                let v = self.cv_bits(&a[2]);
                self.heap_call("rt_map_insert", &[a[0].v(), k, v], ty, None)?
            }
            Builtin::Remove => {
                let k = self.cv_bits(&a[1]);
                self.heap_call("rt_map_remove", &[a[0].v(), k], ty, None)?
            }
            Builtin::Keys => self.heap_call("rt_map_keys", &[a[0].v()], ty, None)?,
            Builtin::Values => self.heap_call("rt_map_values", &[a[0].v()], ty, None)?,
            Builtin::NowMs => {
                let r = self.call_helper("rt_now_ms", &[])?.expect("i64");
                Self::borrowed(vec![r], Ty::Int)
            }
            Builtin::WorldAge => {
                let r = self.call_helper("rt_world_age", &[ctx])?.expect("i64");
                Self::borrowed(vec![r], Ty::Int)
            }
            Builtin::LatestWorld => {
                let r = self.call_helper("rt_latest_world", &[ctx])?.expect("i64");
                Self::borrowed(vec![r], Ty::Int)
            }
            Builtin::Define => {
                let r = self.call_fallible("rt_define", &[ctx, a[0].v()], span)?.expect("i64");
                Self::borrowed(vec![r], Ty::Int)
            }
            Builtin::Sleep => {
                self.call_fallible("rt_sleep", &[ctx, a[0].v()], span)?;
                Self::borrowed(vec![], Ty::Unit)
            }
            Builtin::Wait => {
                self.call_fallible("rt_wait", &[ctx, a[0].v()], span)?;
                Self::borrowed(vec![], Ty::Unit)
            }
            Builtin::Resume => {
                self.call_fallible("rt_resume", &[ctx, a[0].v()], span)?;
                Self::borrowed(vec![], Ty::Unit)
            }
            Builtin::Done => {
                self.call_fallible("rt_done", &[ctx], span)?;
                Self::borrowed(vec![], Ty::Unit)
            }
            Builtin::TaskId => {
                let r = self.call_helper("rt_task_id", &[ctx])?.expect("i64");
                Self::borrowed(vec![r], Ty::Int)
            }
            Builtin::StopRequested => {
                let r = self.call_helper("rt_stop_requested", &[ctx])?.expect("u8");
                Self::borrowed(vec![r], Ty::Bool)
            }
            Builtin::JsonParse => {
                let d = self.tdesc(ty);
                self.heap_call("rt_json_parse", &[ctx, a[0].v(), d], ty, Some(span))?
            }
            Builtin::JsonText => self.heap_call("rt_json_text", &[ctx, a[0].v()], ty, Some(span))?,
            Builtin::JsonGet => {
                let d = self.tdesc(ty);
                self.heap_call("rt_json_get", &[ctx, a[0].v(), a[1].v(), d], ty, Some(span))?
            }
            Builtin::Each | Builtin::Map | Builtin::Filter | Builtin::Fold | Builtin::Assert => {
                unreachable!("handled above")
            }
        };
        for cv in a.iter().rev() {
            self.release(cv)?;
        }
        Ok(result)
    }

    /// Calls a helper returning a new heap value (fallible when `span` is given).
    fn heap_call(
        &mut self,
        name: &'static str,
        args: &[cranelift_codegen::ir::Value],
        ty: &Ty,
        span: Option<Span>,
    ) -> R<CV> {
        let r = match span {
            Some(s) => self.call_fallible(name, args, s)?,
            None => self.call_helper(name, args)?,
        };
        Ok(self.owned(vec![r.expect("pointer")], ty.clone()))
    }

    fn assert(&mut self, args: &[hir::Expr], span: Span) -> R<CV> {
        let c = self.expr(&args[0])?;
        let c = self.coerce(c, &Ty::Bool);
        let msg = self.expr(&args[1])?;
        let msg = self.coerce(msg, &Ty::Str);
        let failed = self.b.ins().bxor_imm_u(c.v(), 1);
        let ok = self.begin_cold(failed);
        self.call_fallible("rt_assert_failed", &[self.ctx, msg.v()], span)?;
        self.b.ins().jump(ok, &[]);
        self.end_cold(ok);
        self.release(&msg)?;
        Ok(Self::borrowed(vec![], Ty::Unit))
    }

    /// `each`, `map`, `filter`, `fold` as loops calling the function value.
    fn higher_order(&mut self, op: Builtin, args: &[hir::Expr], ty: &Ty, span: Span) -> R<CV> {
        let xs = self.expr(&args[0])?;
        let Ty::Vec(elem_ty) = xs.ty.clone() else {
            let never = CV { vals: vec![], ty: Ty::Never, temp: None };
            return Ok(self.coerce(never, ty));
        };
        let init = if op == Builtin::Fold {
            let v = self.expr(&args[1])?;
            Some(self.own(v))
        } else {
            None
        };
        let f = self.expr(args.last().expect("a function argument"))?;
        if f.vals.len() != 2 {
            let never = CV { vals: vec![], ty: Ty::Never, temp: None };
            return Ok(self.coerce(never, ty));
        }
        let n = self.call_helper("rt_vec_len", &[xs.v()])?.expect("len");
        let i = self.b.declare_var(types::I64);
        let zero = self.iconst(types::I64, 0);
        self.b.def_var(i, zero);

        // map/filter build a fresh vector in place.
        let out = match op {
            Builtin::Map | Builtin::Filter => {
                let out_elem = match ty {
                    Ty::Vec(e) => e.is_heap(),
                    _ => false,
                };
                let heap = self.iconst(types::I8, out_elem as i64);
                let v = self.call_helper("rt_vec_new", &[heap])?.expect("vec");
                Some(self.owned(vec![v], ty.clone()))
            }
            _ => None,
        };
        // fold's accumulator lives in variables, tracked for unwinding.
        let acc = init.map(|init| {
            let acc_ty = init.ty.clone();
            let tys = super::layout::clif_types(&acc_ty);
            let vars: Vec<_> = tys.iter().map(|&t| self.b.declare_var(t)).collect();
            let vals = self.give(init);
            for (&var, &v) in vars.iter().zip(&vals) {
                self.b.def_var(var, v);
            }
            let tracked = if acc_ty.is_heap() { Some(self.track_var(vars[0])) } else { None };
            (vars, acc_ty, tracked)
        });

        let xv = xs.v();
        let outv = out.as_ref().map(|o| o.v());
        self.counted_loop(i, n, span, |fc, iv| {
            let bits = fc.call_helper("rt_vec_get", &[fc.ctx, xv, iv])?.expect("bits");
            let vals = fc.values_of(bits, &elem_ty);
            let x = Self::borrowed(vals, (*elem_ty).clone());
            match op {
                Builtin::Each => {
                    let r = fc.call_fn_value(&f, vec![x], span)?;
                    fc.release(&r)?;
                }
                Builtin::Map => {
                    let r = fc.call_fn_value(&f, vec![x], span)?;
                    let r = fc.own(r);
                    let rb = fc.cv_bits(&r);
                    fc.give(r);
                    fc.call_helper("rt_vec_build_push", &[outv.expect("out"), rb])?;
                }
                Builtin::Filter => {
                    let keep = fc.call_fn_value(&f, vec![x.clone()], span)?;
                    let keep = fc.coerce(keep, &Ty::Bool);
                    let yes = fc.b.create_block();
                    let next = fc.b.create_block();
                    fc.b.ins().brif(keep.v(), yes, &[], next, &[]);
                    fc.b.switch_to_block(yes);
                    fc.b.seal_block(yes);
                    if x.ty.is_heap() {
                        fc.emit_inc(x.v());
                    }
                    let xb = fc.cv_bits(&x);
                    fc.call_helper("rt_vec_build_push", &[outv.expect("out"), xb])?;
                    fc.b.ins().jump(next, &[]);
                    fc.b.switch_to_block(next);
                    fc.b.seal_block(next);
                }
                Builtin::Fold => {
                    let (vars, acc_ty, _) = acc.as_ref().expect("fold has an accumulator");
                    let cur: Vec<_> = vars.iter().map(|&v| fc.b.use_var(v)).collect();
                    let cur_cv = Self::borrowed(cur.clone(), acc_ty.clone());
                    let r = fc.call_fn_value(&f, vec![cur_cv, x], span)?;
                    let r = fc.own(r);
                    let r = fc.coerce(r, acc_ty);
                    let new = fc.give(r);
                    for (&var, &v) in vars.iter().zip(&new) {
                        fc.b.def_var(var, v);
                    }
                    if acc_ty.is_heap() {
                        fc.emit_dec(cur[0])?;
                    }
                }
                _ => unreachable!("only higher-order builtins loop"),
            }
            Ok(())
        })?;

        let result = match (op, out, acc) {
            (Builtin::Fold, _, Some((vars, acc_ty, tracked))) => {
                if let Some(id) = tracked {
                    self.untrack_id(id);
                }
                let vals: Vec<_> = vars.iter().map(|&v| self.b.use_var(v)).collect();
                self.owned(vals, acc_ty)
            }
            (_, Some(out), _) => out,
            _ => Self::borrowed(vec![], Ty::Unit),
        };
        self.release(&xs)?;
        Ok(result)
    }
}
