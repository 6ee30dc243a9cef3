//! The native builtins of section 3.3: their arities and overloads, and which
//! names user definitions may not take.

use super::body::{BodyCx, error_expr, mk};
use super::diag::{self, MISMATCH, WRONG_ARGS};
use super::expr::{known, needs_expected};
use crate::ast;
use crate::hir::{self, Builtin as B, ExprKind as H};
use crate::span::Span;
use crate::types::Ty;

/// What kind of definition wants a name (for [`reserved`]).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum DefKind {
    Fn,
    Type,
    Global,
}

/// Whether a definition of this kind may not take `name` (section 5.1).
///
/// The built-in type names are reserved for everything. A *function* may take
/// a builtin function's name and then shadows it (calls resolve to user
/// functions first): conformance case `lang/recursive_types.strata` defines
/// `fn insert`, which a strict reading of section 5.1 would reject. Other
/// definitions (types, globals) may not take a builtin's name.
pub(super) fn reserved(name: &str, kind: DefKind) -> bool {
    if matches!(name, "int" | "float" | "bool" | "str") {
        return true;
    }
    kind != DefKind::Fn && B::from_name(name).is_some()
}

fn arity(b: B) -> usize {
    match b {
        B::NowMs | B::TaskId | B::StopRequested | B::Done | B::WorldAge | B::LatestWorld => 0,
        B::Print | B::Abs | B::Sqrt | B::Floor | B::Float | B::Int | B::Str | B::Len | B::Trim | B::Upper | B::Lower => 1,
        B::ParseInt | B::ParseFloat | B::Pop | B::Reverse | B::Sort | B::Keys | B::Values => 1,
        B::Sleep | B::Wait | B::Resume | B::Define => 1,
        B::Assert | B::Min | B::Max | B::Pow | B::Contains | B::Split | B::Join | B::Push | B::Concat => 2,
        B::Each | B::Map | B::Filter | B::Range | B::Has | B::Remove => 2,
        B::Set | B::Slice | B::Fold | B::Get | B::Insert => 3,
    }
}

impl BodyCx<'_, '_> {
    pub fn builtin(&mut self, b: B, args: &[ast::Expr], span: Span, expected: Option<&Ty>) -> hir::Expr {
        let name = b.name();
        let want = arity(b);
        if args.len() != want {
            self.error(diag::err(
                WRONG_ARGS,
                format!("`{name}` takes {want}, got {}", args.len()),
                span,
                format!("expected {}", diag::count(want, "argument")),
            ));
            args.iter().for_each(|a| self.loose(a));
            return error_expr(span);
        }
        let a = args;
        let (hargs, ty): (Vec<hir::Expr>, Ty) = match b {
            B::Print | B::Str => {
                let x = self.expr(&a[0], None);
                let ty = if b == B::Print { Ty::Unit } else { Ty::Str };
                (vec![x], ty)
            }
            B::Assert => (vec![self.expect(&a[0], &Ty::Bool), self.expect(&a[1], &Ty::Str)], Ty::Unit),
            B::Abs => {
                let x = self.expr(&a[0], numeric(expected));
                let ty = self.require_num(name, &x, a[0].span);
                (vec![x], ty)
            }
            B::Min | B::Max | B::Pow => {
                let x = self.expr(&a[0], numeric(expected));
                let ty = self.require_num(name, &x, a[0].span);
                let y = self.expect(&a[1], &ty);
                (vec![x, y], ty)
            }
            B::Sqrt | B::Floor => (vec![self.expect(&a[0], &Ty::Float)], Ty::Float),
            B::Float => (vec![self.expect(&a[0], &Ty::Int)], Ty::Float),
            B::Int => (vec![self.expect(&a[0], &Ty::Float)], Ty::Int),
            B::Len => {
                let x = self.expr(&a[0], None);
                if !matches!(x.ty, Ty::Str | Ty::Vec(_) | Ty::Map(..) | Ty::Error | Ty::Never) {
                    self.error(diag::err(
                        MISMATCH,
                        format!("`len` takes a `str`, a vector or a map, found `{}`", x.ty),
                        a[0].span,
                        format!("this is `{}`", x.ty),
                    ));
                }
                (vec![x], Ty::Int)
            }
            B::Contains => (vec![self.expect(&a[0], &Ty::Str), self.expect(&a[1], &Ty::Str)], Ty::Bool),
            B::Split => (vec![self.expect(&a[0], &Ty::Str), self.expect(&a[1], &Ty::Str)], Ty::vec(Ty::Str)),
            B::Join => (vec![self.expect(&a[0], &Ty::vec(Ty::Str)), self.expect(&a[1], &Ty::Str)], Ty::Str),
            B::Trim | B::Upper | B::Lower => (vec![self.expect(&a[0], &Ty::Str)], Ty::Str),
            B::ParseInt => (vec![self.expect(&a[0], &Ty::Str)], Ty::Int),
            B::ParseFloat => (vec![self.expect(&a[0], &Ty::Str)], Ty::Float),
            B::Push => {
                if needs_expected(&a[0]) && vec_of(expected).is_none() {
                    // `push([], x)`: the element fixes the vector's type.
                    let v = self.expr(&a[1], None);
                    let vt = Ty::vec(v.ty.clone());
                    let xs = self.expect(&a[0], &vt);
                    (vec![xs, v], vt)
                } else {
                    let (xs, t) = self.vec_arg(name, &a[0], vec_of(expected));
                    let v = self.expect(&a[1], &t);
                    (vec![xs, v], Ty::vec(t))
                }
            }
            B::Set => {
                let (xs, t) = self.vec_arg(name, &a[0], vec_of(expected));
                let i = self.expect(&a[1], &Ty::Int);
                let v = self.expect(&a[2], &t);
                (vec![xs, i, v], Ty::vec(t))
            }
            B::Pop | B::Reverse => {
                let (xs, t) = self.vec_arg(name, &a[0], vec_of(expected));
                (vec![xs], Ty::vec(t))
            }
            B::Sort => {
                let (xs, t) = self.vec_arg(name, &a[0], vec_of(expected));
                if !matches!(t, Ty::Int | Ty::Float | Ty::Str | Ty::Error | Ty::Never) {
                    self.error(diag::err(MISMATCH, format!("`sort` sorts ints, floats or strs, found `[{t}]`"), a[0].span, "not sortable"));
                }
                (vec![xs], Ty::vec(t))
            }
            B::Slice => {
                let (xs, t) = self.vec_arg(name, &a[0], vec_of(expected));
                let i = self.expect(&a[1], &Ty::Int);
                let j = self.expect(&a[2], &Ty::Int);
                (vec![xs, i, j], Ty::vec(t))
            }
            B::Concat => {
                let (xs, ys) = if needs_expected(&a[0]) && vec_of(expected).is_none() {
                    let ys = self.expr(&a[1], None);
                    let xs = self.expr(&a[0], known(&ys.ty));
                    (xs, ys)
                } else {
                    let xs = self.expr(&a[0], expected);
                    let ys = self.expr(&a[1], known(&xs.ty));
                    (xs, ys)
                };
                let t = self.vec_elem(name, &xs, a[0].span);
                let u = self.vec_elem(name, &ys, a[1].span);
                if !u.fits(&t) && !t.fits(&u) {
                    self.error(diag::mismatch(&Ty::vec(t.clone()), &ys.ty, a[1].span));
                }
                let t = if matches!(t, Ty::Never) { u } else { t };
                (vec![xs, ys], Ty::vec(t))
            }
            B::Each => {
                let (xs, t) = self.vec_arg(name, &a[0], None);
                let (f, _) = self.fn_arg(&a[1], &[t], None);
                (vec![xs, f], Ty::Unit)
            }
            B::Map => {
                let (xs, t) = self.vec_arg(name, &a[0], None);
                let (f, u) = self.fn_arg(&a[1], &[t], elem_of(expected).as_ref());
                (vec![xs, f], Ty::vec(u))
            }
            B::Filter => {
                let (xs, t) = self.vec_arg(name, &a[0], vec_of(expected));
                let (f, _) = self.fn_arg(&a[1], &[t.clone()], Some(&Ty::Bool));
                (vec![xs, f], Ty::vec(t))
            }
            B::Fold => {
                let (xs, t) = self.vec_arg(name, &a[0], None);
                let init = self.expr(&a[1], expected);
                let acc = if matches!(init.ty, Ty::Never) { Ty::Error } else { init.ty.clone() };
                let (f, _) = self.fn_arg(&a[2], &[acc.clone(), t], Some(&acc));
                (vec![xs, init, f], acc)
            }
            B::Range => (vec![self.expect(&a[0], &Ty::Int), self.expect(&a[1], &Ty::Int)], Ty::vec(Ty::Int)),
            B::Get => {
                let (m, k, v) = self.map_arg(name, &a[0], None);
                let kh = self.expect(&a[1], &k);
                let d = self.expect(&a[2], &v);
                (vec![m, kh, d], v)
            }
            B::Has => {
                let (m, k, _) = self.map_arg(name, &a[0], None);
                let kh = self.expect(&a[1], &k);
                (vec![m, kh], Ty::Bool)
            }
            B::Insert => {
                let (m, k, v) = self.map_arg(name, &a[0], map_of(expected));
                let kh = self.expect(&a[1], &k);
                let vh = self.expect(&a[2], &v);
                (vec![m, kh, vh], Ty::map(k, v))
            }
            B::Remove => {
                let (m, k, v) = self.map_arg(name, &a[0], map_of(expected));
                let kh = self.expect(&a[1], &k);
                (vec![m, kh], Ty::map(k, v))
            }
            B::Keys => {
                let (m, k, _) = self.map_arg(name, &a[0], None);
                (vec![m], Ty::vec(k))
            }
            B::Values => {
                let (m, _, v) = self.map_arg(name, &a[0], None);
                (vec![m], Ty::vec(v))
            }
            B::NowMs | B::TaskId | B::WorldAge | B::LatestWorld => (Vec::new(), Ty::Int),
            B::StopRequested => (Vec::new(), Ty::Bool),
            B::Done => (Vec::new(), Ty::Unit),
            B::Sleep | B::Wait | B::Resume => (vec![self.expect(&a[0], &Ty::Int)], Ty::Unit),
            B::Define => (vec![self.expect(&a[0], &Ty::Str)], Ty::Int),
        };
        mk(H::Builtin { op: b, args: hargs }, ty, span)
    }

    /// `int` or `float` (the overloads of abs/min/max/pow), else an error.
    fn require_num(&mut self, name: &str, x: &hir::Expr, span: Span) -> Ty {
        match &x.ty {
            Ty::Int | Ty::Float | Ty::Error => x.ty.clone(),
            Ty::Never => Ty::Error,
            other => {
                self.error(diag::err(MISMATCH, format!("`{name}` takes an `int` or a `float`, found `{other}`"), span, format!("this is `{other}`")));
                Ty::Error
            }
        }
    }

    /// A vector argument and its element type (`Error` after a reported mismatch).
    fn vec_arg(&mut self, name: &str, e: &ast::Expr, expected: Option<Ty>) -> (hir::Expr, Ty) {
        let h = self.expr(e, expected.as_ref());
        let t = self.vec_elem(name, &h, e.span);
        (h, t)
    }

    fn vec_elem(&mut self, name: &str, h: &hir::Expr, span: Span) -> Ty {
        match &h.ty {
            Ty::Vec(t) => (**t).clone(),
            Ty::Error | Ty::Never => Ty::Error,
            other => {
                self.error(diag::err(MISMATCH, format!("`{name}` takes a vector, found `{other}`"), span, format!("this is `{other}`")));
                Ty::Error
            }
        }
    }

    /// A map argument with its key and value types.
    fn map_arg(&mut self, name: &str, e: &ast::Expr, expected: Option<Ty>) -> (hir::Expr, Ty, Ty) {
        let h = self.expr(e, expected.as_ref());
        let (k, v) = match &h.ty {
            Ty::Map(k, v) => ((**k).clone(), (**v).clone()),
            Ty::Error | Ty::Never => (Ty::Error, Ty::Error),
            other => {
                self.error(diag::err(MISMATCH, format!("`{name}` takes a map, found `{other}`"), e.span, format!("this is `{other}`")));
                (Ty::Error, Ty::Error)
            }
        };
        (h, k, v)
    }
}

fn numeric(expected: Option<&Ty>) -> Option<&Ty> {
    expected.filter(|t| matches!(t, Ty::Int | Ty::Float))
}

/// The expected type when it is a vector type (passed to a vector argument).
fn vec_of(expected: Option<&Ty>) -> Option<Ty> {
    expected.filter(|t| matches!(t, Ty::Vec(_))).cloned()
}

/// The element type of an expected vector type (`map`'s `U`).
fn elem_of(expected: Option<&Ty>) -> Option<Ty> {
    match expected {
        Some(Ty::Vec(t)) => Some((**t).clone()),
        _ => None,
    }
}

fn map_of(expected: Option<&Ty>) -> Option<Ty> {
    expected.filter(|t| matches!(t, Ty::Map(..))).cloned()
}
