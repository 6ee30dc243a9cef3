//! The untyped syntax tree the parser produces: items, statements, expressions,
//! patterns and written types, each with the byte span it came from.

use crate::span::Span;

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One transaction's worth of source: a REPL input, a file, a `define` string.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Program {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Fn(FnDef),
    Type(TypeDef),
    Enum(EnumDef),
    /// `let NAME [: T] = EXPR;` or `var ...` at top level.
    Global(GlobalDef),
    Migrate(MigrateDef),
    Forget(Ident),
    Experiment(ExperimentDef),
    Graduate(Ident),
    /// A top-level expression statement.
    Expr(Expr),
}

impl Item {
    /// The span of the whole item; its text is the item's source (section 5.1).
    pub fn span(&self) -> Span {
        match self {
            Item::Fn(d) => d.span,
            Item::Type(d) => d.span,
            Item::Enum(d) => d.span,
            Item::Global(d) => d.span,
            Item::Migrate(d) => d.span,
            Item::Forget(i) | Item::Graduate(i) => i.span,
            Item::Experiment(d) => d.span,
            Item::Expr(e) => e.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    pub overridable: bool,
    pub name: Ident,
    pub params: Vec<Param>,
    /// `None` means `()`.
    pub ret: Option<TypeExpr>,
    pub body: Block,
    /// From `overridable`/`fn` to the closing brace.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeDef {
    pub name: Ident,
    pub fields: Vec<FieldDef>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldDef {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumDef {
    pub name: Ident,
    pub variants: Vec<VariantDef>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VariantDef {
    pub name: Ident,
    pub payload: Vec<TypeExpr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GlobalDef {
    pub mutable: bool,
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub init: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MigrateDef {
    pub type_name: Ident,
    pub param: Ident,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentDef {
    pub name: Ident,
    /// `(traffic: P)`; `None` means 0.
    pub traffic: Option<(i64, Span)>,
    pub items: Vec<Item>,
    pub span: Span,
}

/// A type as written in source.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeExprKind {
    /// `int`, `float`, `bool`, `str` or a user type name.
    Named(String),
    /// `()`
    Unit,
    /// `[T]`
    Vec(Box<TypeExpr>),
    /// `{K: V}`
    Map(Box<TypeExpr>, Box<TypeExpr>),
    /// `fn(A, B) -> R`; a missing `-> R` is `()`.
    Fn(Vec<TypeExpr>, Option<Box<TypeExpr>>),
}

/// `{ stmt; stmt; tail }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    /// The final expression without `;`: the block's value.
    pub tail: Option<Box<Expr>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// A local `let`/`var`.
    Local { mutable: bool, name: Ident, ty: Option<TypeExpr>, init: Expr, span: Span },
    /// An expression statement (`e;`, or a block-like expression without `;`).
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

/// `=`, `+=`, `-=`, `*=`
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AssignOp {
    Set,
    Add,
    Sub,
    Mul,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// `()`
    Unit,
    /// A bare name: local, parameter, global, or function (as an argument).
    Name(Ident),
    /// `Enum::Variant` (a nullary variant, or the callee of a variant call).
    Path(Ident, Ident),
    /// `callee(args)`; the callee is a `Name`, a `Path`, or any expression
    /// (the checker rejects what is not callable).
    Call {
        callee: Box<Expr>,
        args: Vec<Expr>,
    },
    /// `latest f(args)`: the inner expression is a `Call`.
    Latest(Box<Expr>),
    /// `spawn f(args)` / `spawn loop f(args)`: the inner expression is a `Call`.
    Spawn {
        is_loop: bool,
        call: Box<Expr>,
    },
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `target op= value`; target is a `Name`, `Index` or `Field` expression.
    Assign {
        op: AssignOp,
        target: Box<Expr>,
        value: Box<Expr>,
    },
    Field(Box<Expr>, Ident),
    Index(Box<Expr>, Box<Expr>),
    /// `[a, b, c]`
    VecLit(Vec<Expr>),
    /// `{k: v, ...}`, and `{}` (the empty map)
    MapLit(Vec<(Expr, Expr)>),
    /// `Name { f: e, ..base }`
    RecordLit {
        name: Ident,
        fields: Vec<(Ident, Expr)>,
        base: Option<Box<Expr>>,
    },
    /// `if c { } else { }`; `else_` is a `Block` or another `If` expression.
    If {
        cond: Box<Expr>,
        then: Block,
        else_: Option<Box<Expr>>,
    },
    While {
        cond: Box<Expr>,
        body: Block,
    },
    /// `for x in iter { }`
    For {
        var: Ident,
        iter: ForIter,
        body: Block,
    },
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<Arm>,
    },
    Block(Block),
    /// `|a, b: int| body`
    Closure {
        params: Vec<(Ident, Option<TypeExpr>)>,
        body: Box<Expr>,
    },
    Return(Option<Box<Expr>>),
    Break,
    Continue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ForIter {
    /// `a..b`
    Range(Box<Expr>, Box<Expr>),
    /// a vector (or anything else; the checker decides)
    Expr(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arm {
    pub pat: Pattern,
    pub body: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub kind: PatternKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PatternKind {
    /// `_`
    Wildcard,
    /// `x`: binds the value
    Bind(Ident),
    /// `42`, `-1`
    Int(i64),
    /// `"text"`
    Str(String),
    Bool(bool),
    /// `Enum::Variant` or `Enum::Variant(p, ...)`
    Variant {
        enum_name: Ident,
        variant: Ident,
        args: Vec<Pattern>,
    },
}
