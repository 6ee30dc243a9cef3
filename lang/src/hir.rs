//! The typed, name-resolved program the checker hands to code generation.
//! Every expression carries its type; names are resolved to locals, globals,
//! global functions or builtins; sugar (`+=`, `xs[i] = v`, omitted fields,
//! defaults) is already expanded.

use crate::ast::{BinOp, UnOp};
use crate::span::Span;
use crate::types::{NamedTy, Ty};
use std::sync::Arc;

/// Index into [`Body::locals`]. Unique within a function body, closures included.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(pub u32);

#[derive(Clone, Debug, PartialEq)]
pub struct LocalInfo {
    pub name: Arc<str>,
    pub ty: Ty,
    /// Declared with `var` (assignable).
    pub mutable: bool,
    /// Read or assigned by a closure literal: it must live in memory, not a register.
    pub captured: bool,
    /// Bound by a `match` pattern: borrows from the scrutinee, owns nothing.
    pub pattern_bound: bool,
}

/// What gets compiled into one machine-code function: a global function, a
/// top-level expression (no params, returns the expression's value), a global
/// initialiser, or a migration.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// The function's name, or `<expr>`/`<init NAME>` for thunks.
    pub name: Arc<str>,
    pub params: Vec<LocalId>,
    pub ret: Ty,
    pub locals: Vec<LocalInfo>,
    pub body: Expr,
    /// Line numbers are computed from spans against this text.
    pub source: Arc<str>,
}

impl Body {
    pub fn local(&self, id: LocalId) -> &LocalInfo {
        &self.locals[id.0 as usize]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(Arc<str>),
    Unit,
    /// Read a local or parameter (for an `fn` parameter: only as a call
    /// argument of `fn` type).
    Local(LocalId),
    /// Read a global `let`/`var`.
    Global(Arc<str>),
    /// A global function passed as an `fn(...)` argument.
    FnRef(Arc<str>),
    /// A closure literal passed as an `fn(...)` argument.
    Closure(Box<Closure>),
    /// Call a global function. `latest` calls it in the newest world.
    Call {
        func: Arc<str>,
        args: Vec<Expr>,
        latest: bool,
    },
    /// Call an `fn(...)` parameter (or a captured one).
    CallLocal {
        local: LocalId,
        args: Vec<Expr>,
    },
    /// A native builtin; overloads are told apart by the argument types.
    Builtin {
        op: Builtin,
        args: Vec<Expr>,
    },
    /// `spawn f(args)` / `spawn loop f(state)`: starts a task, answers its id.
    Spawn {
        is_loop: bool,
        func: Arc<str>,
        args: Vec<Expr>,
    },
    Unary(UnOp, Box<Expr>),
    /// Operands have the same type (`lhs.ty`); `&&`/`||` short-circuit.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `local = value` (compound assignments and `xs[i] = v` already expanded).
    AssignLocal {
        local: LocalId,
        value: Box<Expr>,
    },
    /// `global = value`.
    AssignGlobal {
        name: Arc<str>,
        value: Box<Expr>,
    },
    /// `base.field`, by field index in the record type's declaration order.
    Field {
        base: Box<Expr>,
        index: u32,
    },
    /// `xs[i]` on a vector, or `m[k]` on a map (told apart by `base.ty`).
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    VecLit(Vec<Expr>),
    MapLit(Vec<(Expr, Expr)>),
    /// A record construction; `fields` in declaration order, defaults filled in.
    Record {
        ty: Arc<NamedTy>,
        fields: Vec<Expr>,
    },
    /// `T { f: e, ..base }`: copy `base` with the listed fields replaced.
    RecordUpdate {
        ty: Arc<NamedTy>,
        base: Box<Expr>,
        fields: Vec<(u32, Expr)>,
    },
    /// `E::V(args)` or `E::V`; `tag` is the variant's index in declaration order.
    Variant {
        ty: Arc<NamedTy>,
        tag: u32,
        args: Vec<Expr>,
    },
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        else_: Option<Box<Expr>>,
    },
    While {
        cond: Box<Expr>,
        body: Box<Expr>,
    },
    /// `for var in start..end`
    ForRange {
        var: LocalId,
        start: Box<Expr>,
        end: Box<Expr>,
        body: Box<Expr>,
    },
    /// `for var in vector`
    ForVec {
        var: LocalId,
        iter: Box<Expr>,
        body: Box<Expr>,
    },
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<Arm>,
    },
    Block {
        stmts: Vec<Stmt>,
        tail: Option<Box<Expr>>,
    },
    Return(Option<Box<Expr>>),
    Break,
    Continue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// A local `let`/`var` declaration.
    Let {
        local: LocalId,
        init: Expr,
    },
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Closure {
    pub params: Vec<LocalId>,
    pub ret: Ty,
    pub body: Expr,
    /// Locals of enclosing activations this closure (or a closure nested in
    /// it) reads or assigns, in first-use order.
    pub captures: Vec<LocalId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arm {
    pub pat: Pat,
    pub body: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Pat {
    Wild,
    Bind(LocalId),
    Int(i64),
    Str(Arc<str>),
    Bool(bool),
    /// A variant of the scrutinee's enum type, with sub-patterns for its payload.
    Variant {
        tag: u32,
        args: Vec<Pat>,
    },
}

/// The native builtins of section 3.3.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    Print,
    Assert,
    Abs,
    Min,
    Max,
    Sqrt,
    Floor,
    Pow,
    Float,
    Int,
    Str,
    Len,
    Contains,
    Split,
    Join,
    Trim,
    Upper,
    Lower,
    ParseInt,
    ParseFloat,
    Push,
    Set,
    Pop,
    Slice,
    Concat,
    Reverse,
    Sort,
    Each,
    Map,
    Filter,
    Fold,
    Range,
    Get,
    Has,
    Insert,
    Remove,
    Keys,
    Values,
    NowMs,
    Sleep,
    Wait,
    Resume,
    TaskId,
    StopRequested,
    Done,
    WorldAge,
    LatestWorld,
    Define,
    /// `json_parse(str) -> Json` and the other JSON builtins of section 14.1;
    /// their signatures name the standard library's `Json` type.
    JsonParse,
    JsonText,
    JsonGet,
}

impl Builtin {
    pub const ALL: &'static [(&'static str, Builtin)] = &[
        ("print", Builtin::Print),
        ("assert", Builtin::Assert),
        ("abs", Builtin::Abs),
        ("min", Builtin::Min),
        ("max", Builtin::Max),
        ("sqrt", Builtin::Sqrt),
        ("floor", Builtin::Floor),
        ("pow", Builtin::Pow),
        ("float", Builtin::Float),
        ("int", Builtin::Int),
        ("str", Builtin::Str),
        ("len", Builtin::Len),
        ("contains", Builtin::Contains),
        ("split", Builtin::Split),
        ("join", Builtin::Join),
        ("trim", Builtin::Trim),
        ("upper", Builtin::Upper),
        ("lower", Builtin::Lower),
        ("parse_int", Builtin::ParseInt),
        ("parse_float", Builtin::ParseFloat),
        ("push", Builtin::Push),
        ("set", Builtin::Set),
        ("pop", Builtin::Pop),
        ("slice", Builtin::Slice),
        ("concat", Builtin::Concat),
        ("reverse", Builtin::Reverse),
        ("sort", Builtin::Sort),
        ("each", Builtin::Each),
        ("map", Builtin::Map),
        ("filter", Builtin::Filter),
        ("fold", Builtin::Fold),
        ("range", Builtin::Range),
        ("get", Builtin::Get),
        ("has", Builtin::Has),
        ("insert", Builtin::Insert),
        ("remove", Builtin::Remove),
        ("keys", Builtin::Keys),
        ("values", Builtin::Values),
        ("now_ms", Builtin::NowMs),
        ("sleep", Builtin::Sleep),
        ("wait", Builtin::Wait),
        ("resume", Builtin::Resume),
        ("task_id", Builtin::TaskId),
        ("stop_requested", Builtin::StopRequested),
        ("done", Builtin::Done),
        ("world_age", Builtin::WorldAge),
        ("latest_world", Builtin::LatestWorld),
        ("define", Builtin::Define),
        ("json_parse", Builtin::JsonParse),
        ("json_text", Builtin::JsonText),
        ("json_get", Builtin::JsonGet),
    ];

    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.iter().find(|(n, _)| *n == name).map(|&(_, b)| b)
    }

    pub fn name(self) -> &'static str {
        Builtin::ALL.iter().find(|(_, b)| *b == self).map(|&(n, _)| n).unwrap_or("?")
    }
}

impl Expr {
    /// Whether `f` holds for this expression or any expression inside it
    /// (closure bodies included).
    pub fn any(&self, f: &mut impl FnMut(&Expr) -> bool) -> bool {
        if f(self) {
            return true;
        }
        let mut any_of = |es: &mut dyn Iterator<Item = &Expr>| {
            for e in es {
                if e.any(f) {
                    return true;
                }
            }
            false
        };
        match &self.kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Unit
            | ExprKind::Local(_)
            | ExprKind::Global(_)
            | ExprKind::FnRef(_)
            | ExprKind::Break
            | ExprKind::Continue => false,
            ExprKind::Closure(c) => any_of(&mut std::iter::once(&c.body)),
            ExprKind::Call { args, .. }
            | ExprKind::CallLocal { args, .. }
            | ExprKind::Builtin { args, .. }
            | ExprKind::Spawn { args, .. }
            | ExprKind::VecLit(args)
            | ExprKind::Variant { args, .. } => any_of(&mut args.iter()),
            ExprKind::Record { fields, .. } => any_of(&mut fields.iter()),
            ExprKind::RecordUpdate { base, fields, .. } => {
                any_of(&mut std::iter::once(&**base).chain(fields.iter().map(|(_, e)| e)))
            }
            ExprKind::MapLit(entries) => any_of(&mut entries.iter().flat_map(|(k, v)| [k, v])),
            ExprKind::Unary(_, x) | ExprKind::Field { base: x, .. } => any_of(&mut std::iter::once(&**x)),
            ExprKind::AssignLocal { value, .. } | ExprKind::AssignGlobal { value, .. } => {
                any_of(&mut std::iter::once(&**value))
            }
            ExprKind::Binary(_, a, b)
            | ExprKind::Index { base: a, index: b }
            | ExprKind::While { cond: a, body: b } => any_of(&mut [&**a, &**b].into_iter()),
            ExprKind::ForRange { start, end, body, .. } => any_of(&mut [&**start, &**end, &**body].into_iter()),
            ExprKind::ForVec { iter, body, .. } => any_of(&mut [&**iter, &**body].into_iter()),
            ExprKind::If { cond, then, else_ } => any_of(&mut [&**cond, &**then].into_iter().chain(else_.as_deref())),
            ExprKind::Match { scrutinee, arms } => {
                any_of(&mut std::iter::once(&**scrutinee).chain(arms.iter().map(|a| &a.body)))
            }
            ExprKind::Block { stmts, tail } => any_of(
                &mut stmts
                    .iter()
                    .map(|s| match s {
                        Stmt::Let { init, .. } => init,
                        Stmt::Expr(e) => e,
                    })
                    .chain(tail.as_deref()),
            ),
            ExprKind::Return(v) => any_of(&mut v.as_deref().into_iter()),
        }
    }
}

/// Adds the user type names `ty` mentions (inside vectors, maps, functions).
pub fn type_names(ty: &Ty, out: &mut std::collections::BTreeSet<Arc<str>>) {
    match ty {
        Ty::Named(n) => {
            out.insert(n.name.clone());
        }
        Ty::Vec(e) => type_names(e, out),
        Ty::Map(k, v) => {
            type_names(k, out);
            type_names(v, out);
        }
        Ty::Fn(f) => {
            f.params.iter().for_each(|p| type_names(p, out));
            type_names(&f.ret, out);
        }
        _ => {}
    }
}

impl Body {
    /// The global names this body depends on: functions it calls or passes,
    /// globals it reads or writes, and user types it mentions. Exact (from
    /// resolved names), unlike scanning the text.
    /// The initialiser of a global whose value comes from elsewhere (an
    /// image, or a type change that kept it): it never runs.
    pub fn never_runs(global: &str, ty: Ty, source: Arc<str>, span: crate::span::Span) -> Body {
        Body {
            name: Arc::from(format!("<init {global}>").as_str()),
            params: Vec::new(),
            ret: ty,
            locals: Vec::new(),
            body: Expr { kind: ExprKind::Unit, ty: Ty::Never, span },
            source,
        }
    }

    pub fn uses(&self) -> std::collections::BTreeSet<Arc<str>> {
        let mut out = std::collections::BTreeSet::new();
        type_names(&self.ret, &mut out);
        for l in &self.locals {
            type_names(&l.ty, &mut out);
        }
        self.body.any(&mut |e: &Expr| {
            type_names(&e.ty, &mut out);
            match &e.kind {
                ExprKind::Call { func, .. } | ExprKind::FnRef(func) | ExprKind::Spawn { func, .. } => {
                    out.insert(func.clone());
                }
                ExprKind::Global(name) | ExprKind::AssignGlobal { name, .. } => {
                    out.insert(name.clone());
                }
                ExprKind::Record { ty, .. } | ExprKind::RecordUpdate { ty, .. } | ExprKind::Variant { ty, .. } => {
                    out.insert(ty.name.clone());
                }
                _ => {}
            }
            false
        });
        out
    }
}
