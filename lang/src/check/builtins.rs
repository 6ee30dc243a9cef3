//! The native builtins of section 3.3: their arities and overloads, and which
//! names user definitions may not take.

use super::body::{BodyCx, error_expr, mk};
use super::diag::{self, MISMATCH, UNKNOWN, WRONG_ARGS};
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
    Experiment,
}

/// Whether a definition of this kind may not take `name` (section 5.1).
///
/// The built-in type names are reserved for everything. A *function* may take
/// a builtin function's name and then shadows it (calls resolve to user
/// functions first): conformance case `lang/recursive_types.strata` defines
/// `fn insert`, which a strict reading of section 5.1 would reject. Other
/// definitions (types, globals) may not take a builtin's name.
pub(super) fn reserved(name: &str, kind: DefKind) -> bool {
    if matches!(name, "int" | "float" | "bool" | "str") || crate::prelude::RESERVED.contains(&name) {
        return true;
    }
    kind != DefKind::Fn && B::from_name(name).is_some()
}

fn arity(b: B) -> usize {
    match b {
        B::NowMs | B::TaskId | B::StopRequested | B::Done | B::WorldAge | B::LatestWorld => 0,
        B::Print
        | B::Abs
        | B::Sqrt
        | B::Floor
        | B::Float
        | B::Int
        | B::Str
        | B::Len
        | B::Trim
        | B::Upper
        | B::Lower => 1,
        B::ParseInt | B::ParseFloat | B::Pop | B::Reverse | B::Sort | B::Keys | B::Values => 1,
        B::Sleep | B::Wait | B::Resume | B::Define => 1,
        B::JsonParse | B::JsonText => 1,
        B::Assert | B::Min | B::Max | B::Pow | B::Contains | B::Split | B::Join | B::Push | B::Concat => 2,
        B::Each | B::Map | B::Filter | B::Range | B::Has | B::Remove | B::JsonGet => 2,
        B::Set | B::Slice | B::Fold | B::Get | B::Insert => 3,
    }
}

/// The builtins with one fixed signature: parameter and result types.
fn fixed(b: B) -> Option<(Vec<Ty>, Ty)> {
    let s = Ty::Str;
    Some(match b {
        B::Assert => (vec![Ty::Bool, s], Ty::Unit),
        B::Sqrt | B::Floor => (vec![Ty::Float], Ty::Float),
        B::Float => (vec![Ty::Int], Ty::Float),
        B::Int => (vec![Ty::Float], Ty::Int),
        B::Contains => (vec![s.clone(), s], Ty::Bool),
        B::Split => (vec![s.clone(), s.clone()], Ty::vec(s)),
        B::Join => (vec![Ty::vec(s.clone()), s.clone()], s),
        B::Trim | B::Upper | B::Lower => (vec![s.clone()], s),
        B::ParseInt => (vec![s], Ty::Int),
        B::ParseFloat => (vec![s], Ty::Float),
        B::Range => (vec![Ty::Int, Ty::Int], Ty::vec(Ty::Int)),
        B::NowMs | B::TaskId | B::WorldAge | B::LatestWorld => (Vec::new(), Ty::Int),
        B::StopRequested => (Vec::new(), Ty::Bool),
        B::Done => (Vec::new(), Ty::Unit),
        B::Sleep | B::Wait | B::Resume => (vec![Ty::Int], Ty::Unit),
        B::Define => (vec![s], Ty::Int),
        _ => return None,
    })
}

type Checked = (Vec<hir::Expr>, Ty);

impl BodyCx<'_, '_> {
    /// A call of a builtin. Each overload shape has its own small function:
    /// nested calls recurse through here, and debug builds give every
    /// temporary of a function its own stack slot.
    pub fn builtin(&mut self, b: B, args: &[ast::Expr], span: Span, expected: Option<&Ty>) -> hir::Expr {
        let want = arity(b);
        if args.len() != want {
            self.builtin_arity(b, want, args, span);
            return error_expr(span);
        }
        let (hargs, ty) = match b {
            B::Print | B::Str => self.bi_printable(b, args),
            B::Abs | B::Min | B::Max | B::Pow => self.bi_numeric(b, args, expected),
            B::Len => self.bi_len(args),
            B::Push => self.bi_push(args, expected),
            B::Set => self.bi_set(args, expected),
            B::Pop | B::Reverse | B::Sort | B::Slice => self.bi_vec_same(b, args, expected),
            B::Concat => self.bi_concat(args, expected),
            B::Each | B::Map | B::Filter => self.bi_higher(b, args, expected),
            B::Fold => self.bi_fold(args, expected),
            B::Get | B::Has | B::Insert | B::Remove | B::Keys | B::Values => self.bi_map(b, args, expected),
            B::JsonParse | B::JsonText | B::JsonGet => self.bi_json(b, args, span),
            _ => self.bi_fixed(b, args),
        };
        mk(H::Builtin { op: b, args: hargs }, ty, span)
    }

    fn builtin_arity(&mut self, b: B, want: usize, args: &[ast::Expr], span: Span) {
        self.error(diag::err(
            WRONG_ARGS,
            format!("`{}` takes {want}, got {}", b.name(), args.len()),
            span,
            format!("expected {}", diag::count(want, "argument")),
        ));
        args.iter().for_each(|a| self.loose(a));
    }

    fn bi_fixed(&mut self, b: B, a: &[ast::Expr]) -> Checked {
        let Some((params, ret)) = fixed(b) else { return (Vec::new(), Ty::Error) };
        let hargs = a.iter().zip(&params).map(|(x, t)| self.expect(x, t)).collect();
        (hargs, ret)
    }

    /// `json_parse(str) -> Json`, `json_text(Json) -> str`,
    /// `json_get(Json, str) -> Json` (section 14.1), with `Json` the type of
    /// that name in the world the call is checked in (the standard library's,
    /// world 1). Without one, the call is an error, not a panic.
    fn bi_json(&mut self, b: B, a: &[ast::Expr], span: Span) -> Checked {
        let Some(json) = self.ns.named_ty("Json") else {
            self.error(diag::err(
                UNKNOWN,
                format!("`{}` needs the standard library type `Json`, which this world does not have", b.name()),
                span,
                "no `Json` type here",
            ));
            a.iter().for_each(|x| self.loose(x));
            return (Vec::new(), Ty::Error);
        };
        let json = Ty::Named(json);
        let (params, ret) = match b {
            B::JsonParse => (vec![Ty::Str], json),
            B::JsonText => (vec![json], Ty::Str),
            _ => (vec![json.clone(), Ty::Str], json),
        };
        let hargs = a.iter().zip(&params).map(|(x, t)| self.expect(x, t)).collect();
        (hargs, ret)
    }

    /// `print(x)`, `str(x)`: any value (functions cannot get here as values).
    fn bi_printable(&mut self, b: B, a: &[ast::Expr]) -> Checked {
        let x = self.expr(&a[0], None);
        (vec![x], if b == B::Print { Ty::Unit } else { Ty::Str })
    }

    /// `abs(T)`, `min/max/pow(T, T)` for T int or float.
    fn bi_numeric(&mut self, b: B, a: &[ast::Expr], expected: Option<&Ty>) -> Checked {
        let x = self.expr(&a[0], numeric(expected));
        let ty = self.require_num(b.name(), &x, a[0].span);
        let mut hargs = vec![x];
        if let Some(second) = a.get(1) {
            hargs.push(self.expect(second, &ty));
        }
        (hargs, ty)
    }

    fn bi_len(&mut self, a: &[ast::Expr]) -> Checked {
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

    fn bi_push(&mut self, a: &[ast::Expr], expected: Option<&Ty>) -> Checked {
        if needs_expected(&a[0]) && vec_of(expected).is_none() {
            // `push([], x)`: the element fixes the vector's type.
            let v = self.expr(&a[1], None);
            let vt = Ty::vec(v.ty.clone());
            let xs = self.expect(&a[0], &vt);
            return (vec![xs, v], vt);
        }
        let (xs, t) = self.vec_arg("push", &a[0], vec_of(expected));
        let v = self.expect(&a[1], &t);
        (vec![xs, v], Ty::vec(t))
    }

    fn bi_set(&mut self, a: &[ast::Expr], expected: Option<&Ty>) -> Checked {
        let (xs, t) = self.vec_arg("set", &a[0], vec_of(expected));
        let i = self.expect(&a[1], &Ty::Int);
        let v = self.expect(&a[2], &t);
        (vec![xs, i, v], Ty::vec(t))
    }

    /// `pop`, `reverse`, `sort`, `slice`: a vector in, the same type out.
    fn bi_vec_same(&mut self, b: B, a: &[ast::Expr], expected: Option<&Ty>) -> Checked {
        let (xs, t) = self.vec_arg(b.name(), &a[0], vec_of(expected));
        if b == B::Sort && !matches!(t, Ty::Int | Ty::Float | Ty::Str | Ty::Error | Ty::Never) {
            self.error(diag::err(
                MISMATCH,
                format!("`sort` sorts ints, floats or strs, found `[{t}]`"),
                a[0].span,
                "not sortable",
            ));
        }
        let mut hargs = vec![xs];
        hargs.extend(a[1..].iter().map(|x| self.expect(x, &Ty::Int)));
        (hargs, Ty::vec(t))
    }

    fn bi_concat(&mut self, a: &[ast::Expr], expected: Option<&Ty>) -> Checked {
        let (xs, ys) = if needs_expected(&a[0]) && vec_of(expected).is_none() {
            let ys = self.expr(&a[1], None);
            let xs = self.expr(&a[0], known(&ys.ty));
            (xs, ys)
        } else {
            let xs = self.expr(&a[0], expected);
            let ys = self.expr(&a[1], known(&xs.ty));
            (xs, ys)
        };
        let t = self.vec_elem("concat", &xs, a[0].span);
        let u = self.vec_elem("concat", &ys, a[1].span);
        if !u.fits(&t) && !t.fits(&u) {
            self.error(diag::mismatch(&Ty::vec(t.clone()), &ys.ty, a[1].span));
        }
        let t = if matches!(t, Ty::Never) { u } else { t };
        (vec![xs, ys], Ty::vec(t))
    }

    /// `each(xs, fn(T) -> R)`, `map(xs, fn(T) -> U)`, `filter(xs, fn(T) -> bool)`.
    fn bi_higher(&mut self, b: B, a: &[ast::Expr], expected: Option<&Ty>) -> Checked {
        let vec_expected = if b == B::Filter { vec_of(expected) } else { None };
        let (xs, t) = self.vec_arg(b.name(), &a[0], vec_expected);
        let ret = match b {
            B::Filter => Some(Ty::Bool),
            B::Map => elem_of(expected),
            _ => None,
        };
        let (f, r) = self.fn_arg(&a[1], std::slice::from_ref(&t), ret.as_ref());
        let ty = match b {
            B::Each => Ty::Unit,
            B::Map => Ty::vec(r),
            _ => Ty::vec(t),
        };
        (vec![xs, f], ty)
    }

    /// `fold(xs, init: A, fn(A, T) -> A) -> A`
    fn bi_fold(&mut self, a: &[ast::Expr], expected: Option<&Ty>) -> Checked {
        let (xs, t) = self.vec_arg("fold", &a[0], None);
        let init = self.expr(&a[1], expected);
        let acc = if matches!(init.ty, Ty::Never) { Ty::Error } else { init.ty.clone() };
        let (f, _) = self.fn_arg(&a[2], &[acc.clone(), t], Some(&acc));
        (vec![xs, init, f], acc)
    }

    /// `get`, `has`, `insert`, `remove`, `keys`, `values`.
    fn bi_map(&mut self, b: B, a: &[ast::Expr], expected: Option<&Ty>) -> Checked {
        let m_expected = if matches!(b, B::Insert | B::Remove) { map_of(expected) } else { None };
        let (m, k, v) = self.map_arg(b.name(), &a[0], m_expected);
        let mut hargs = vec![m];
        if let Some(key) = a.get(1).filter(|_| !matches!(b, B::Keys | B::Values)) {
            hargs.push(self.expect(key, &k));
        }
        if let Some(val) = a.get(2) {
            hargs.push(self.expect(val, &v));
        }
        let ty = match b {
            B::Get => v,
            B::Has => Ty::Bool,
            B::Keys => Ty::vec(k),
            B::Values => Ty::vec(v),
            _ => Ty::map(k, v),
        };
        (hargs, ty)
    }

    /// `int` or `float` (the overloads of abs/min/max/pow), else an error.
    fn require_num(&mut self, name: &str, x: &hir::Expr, span: Span) -> Ty {
        match &x.ty {
            Ty::Int | Ty::Float | Ty::Error => x.ty.clone(),
            Ty::Never => Ty::Error,
            other => {
                self.error(diag::err(
                    MISMATCH,
                    format!("`{name}` takes an `int` or a `float`, found `{other}`"),
                    span,
                    format!("this is `{other}`"),
                ));
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
                self.error(diag::err(
                    MISMATCH,
                    format!("`{name}` takes a vector, found `{other}`"),
                    span,
                    format!("this is `{other}`"),
                ));
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
                self.error(diag::err(
                    MISMATCH,
                    format!("`{name}` takes a map, found `{other}`"),
                    e.span,
                    format!("this is `{other}`"),
                ));
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
