//! Strata's static types (section 3) and the checked shape of user types.

use std::fmt;
use std::sync::Arc;

/// A user `type` or `enum` at one version. Two named types are the same type
/// exactly when name and version agree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NamedTy {
    pub name: Arc<str>,
    pub version: u32,
    pub is_enum: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    Int,
    Float,
    Bool,
    Str,
    Unit,
    Vec(Arc<Ty>),
    Map(Arc<Ty>, Arc<Ty>),
    Named(Arc<NamedTy>),
    /// Only as a parameter type (section 4).
    Fn(Arc<FnTy>),
    /// The type of `return`, `break`, `continue`: fits anywhere.
    Never,
    /// Stands in after an error was reported, so one mistake gives one message.
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FnTy {
    pub params: Vec<Ty>,
    pub ret: Ty,
}

impl Ty {
    pub fn vec(elem: Ty) -> Ty {
        Ty::Vec(Arc::new(elem))
    }

    pub fn map(k: Ty, v: Ty) -> Ty {
        Ty::Map(Arc::new(k), Arc::new(v))
    }

    /// The same type as written in source: equal except that a named type
    /// may be at another schema version (SPEC 6.2: its values migrate).
    pub fn same_written(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Named(a), Ty::Named(b)) => a.name == b.name && a.is_enum == b.is_enum,
            (Ty::Vec(a), Ty::Vec(b)) => a.same_written(b),
            (Ty::Map(ak, av), Ty::Map(bk, bv)) => ak.same_written(bk) && av.same_written(bv),
            (Ty::Fn(a), Ty::Fn(b)) => {
                a.params.len() == b.params.len()
                    && a.params.iter().zip(&b.params).all(|(x, y)| x.same_written(y))
                    && a.ret.same_written(&b.ret)
            }
            (a, b) => a == b,
        }
    }

    /// This type with each named type it mentions (inside vectors, maps and
    /// function types too) replaced by what `f` gives; `None` if `f` gives
    /// `None` for any of them.
    pub fn try_map_named(&self, f: &mut dyn FnMut(&Arc<NamedTy>) -> Option<Arc<NamedTy>>) -> Option<Ty> {
        Some(match self {
            Ty::Named(n) => Ty::Named(f(n)?),
            Ty::Vec(e) => Ty::vec(e.try_map_named(f)?),
            Ty::Map(k, v) => Ty::map(k.try_map_named(f)?, v.try_map_named(f)?),
            Ty::Fn(ft) => Ty::Fn(Arc::new(FnTy {
                params: ft.params.iter().map(|p| p.try_map_named(f)).collect::<Option<_>>()?,
                ret: ft.ret.try_map_named(f)?,
            })),
            other => other.clone(),
        })
    }

    /// Values of this type are pointers to reference-counted heap objects.
    pub fn is_heap(&self) -> bool {
        matches!(self, Ty::Str | Ty::Vec(_) | Ty::Map(..) | Ty::Named(_))
    }

    /// Whether `self` can stand where `other` is expected (`Never` and `Error`
    /// fit anywhere).
    pub fn fits(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Never | Ty::Error, _) | (_, Ty::Error) => true,
            (Ty::Vec(a), Ty::Vec(b)) => a.fits(b),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => ka.fits(kb) && va.fits(vb),
            (a, b) => a == b,
        }
    }

    /// Like [`Ty::fits`], but two versions of one named type count as the
    /// same (also inside vectors and maps). Only migration bodies use it,
    /// for values they store (SPEC 6.2: a field type written the same is the
    /// same type; the runtime migrates the nested value when it is loaded).
    pub fn fits_any_version(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Named(a), Ty::Named(b)) => a.name == b.name,
            (Ty::Vec(a), Ty::Vec(b)) => a.fits_any_version(b),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => ka.fits_any_version(kb) && va.fits_any_version(vb),
            (a, b) => a.fits(b),
        }
    }

    /// Contains `Error` somewhere: diagnostics about it would be noise.
    pub fn has_error(&self) -> bool {
        match self {
            Ty::Error => true,
            Ty::Vec(e) => e.has_error(),
            Ty::Map(k, v) => k.has_error() || v.has_error(),
            Ty::Fn(f) => f.params.iter().any(Ty::has_error) || f.ret.has_error(),
            _ => false,
        }
    }

    /// Holds values of user types (a record, an enum, or vectors and maps of
    /// them): a value whose schema versions may differ between worlds.
    pub fn has_named(&self) -> bool {
        match self {
            Ty::Named(_) => true,
            Ty::Vec(e) => e.has_named(),
            Ty::Map(k, v) => k.has_named() || v.has_named(),
            _ => false,
        }
    }

    /// Contains a function type anywhere (only allowed as a parameter type).
    pub fn has_fn(&self) -> bool {
        match self {
            Ty::Fn(_) => true,
            Ty::Vec(e) => e.has_fn(),
            Ty::Map(k, v) => k.has_fn() || v.has_fn(),
            _ => false,
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Int => write!(f, "int"),
            Ty::Float => write!(f, "float"),
            Ty::Bool => write!(f, "bool"),
            Ty::Str => write!(f, "str"),
            Ty::Unit => write!(f, "()"),
            Ty::Vec(e) => write!(f, "[{e}]"),
            Ty::Map(k, v) => write!(f, "{{{k}: {v}}}"),
            Ty::Named(n) => write!(f, "{}", n.name),
            Ty::Fn(ft) => {
                write!(f, "fn(")?;
                for (i, p) in ft.params.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{p}")?;
                }
                write!(f, ") -> {}", ft.ret)
            }
            Ty::Never => write!(f, "!"),
            Ty::Error => write!(f, "?"),
        }
    }
}

/// The signature of a global function.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FnSig {
    pub params: Vec<(Arc<str>, Ty)>,
    pub ret: Ty,
    pub overridable: bool,
    /// The body neither reads nor assigns globals, prints, spawns, defines,
    /// sleeps, waits nor resumes, and calls only pure functions: migrations
    /// may call it (SPEC 6.2). Part of the signature so that a function
    /// becoming impure re-checks its users.
    pub pure: bool,
}

/// A user type at one version, as checked.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeInfo {
    pub named: Arc<NamedTy>,
    pub kind: TypeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    Record { fields: Vec<FieldInfo> },
    Enum { variants: Vec<VariantInfo> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldInfo {
    pub name: Arc<str>,
    pub ty: Ty,
    /// The default's source expression, checked against `ty`.
    pub default: Option<crate::ast::Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VariantInfo {
    pub name: Arc<str>,
    pub payload: Vec<Ty>,
}

impl TypeInfo {
    pub fn fields(&self) -> &[FieldInfo] {
        match &self.kind {
            TypeKind::Record { fields } => fields,
            TypeKind::Enum { .. } => &[],
        }
    }

    pub fn variants(&self) -> &[VariantInfo] {
        match &self.kind {
            TypeKind::Enum { variants } => variants,
            TypeKind::Record { .. } => &[],
        }
    }
}

/// The type and mutability of a global `let`/`var`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GlobalSig {
    pub ty: Ty,
    pub mutable: bool,
}
