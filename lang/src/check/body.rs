//! Per-body checking state: the locals table, lexical scopes, the stack of
//! closure frames that computes captures, and the recursion guard.

use super::diag::{self, SYNTAX};
use super::names::Namespace;
use super::resolve_ty::{self, TyPos};
use crate::ast;
use crate::diagnostic::Diagnostic;
use crate::hir::{self, LocalId, LocalInfo};
use crate::span::Span;
use crate::types::Ty;
use std::sync::Arc;

/// Nesting deeper than this (expressions, blocks, patterns; a nested `if`
/// costs two) is reported instead of recursed into. The parser already caps
/// nesting at 256 and operator/postfix/`else if` chains are checked in loops,
/// so this is a backstop for trees built by other means; at a few KiB of
/// debug-build stack per level it stays within a 2 MiB thread stack.
pub(super) const MAX_DEPTH: u32 = 600;

/// How a local came to be; decides assignability and error wording.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum LocalKind {
    Let,
    Var,
    Param,
    Pattern,
    LoopVar,
    /// A checker-made temporary (sugar expansion); never visible by name.
    Temp,
}

/// What `return` means in the current frame.
#[derive(Clone, Debug)]
pub(super) enum Ret {
    /// A function or closure whose result type is known.
    Fixed(Ty),
    /// A closure whose result type is being inferred (`map`'s `U`): the
    /// first `return` with a value fixes it.
    Infer(Option<Ty>),
    /// No function to return from; the text names where we are.
    Outside(&'static str),
}

/// One activation being checked: the body itself (frame 0) or a closure.
pub(super) struct Frame {
    pub captures: Vec<LocalId>,
    pub loops: u32,
    pub ret: Ret,
}

pub(super) struct BodyCx<'n, 'a> {
    pub ns: &'n Namespace<'a>,
    pub locals: Vec<LocalInfo>,
    kinds: Vec<LocalKind>,
    /// The frame index that declared each local.
    owners: Vec<usize>,
    scopes: Vec<Vec<(Arc<str>, LocalId)>>,
    pub frames: Vec<Frame>,
    pub diags: Vec<Diagnostic>,
    depth: u32,
    too_deep_reported: bool,
    /// Field defaults being expanded right now (type name, field index): a
    /// default that needs itself would expand forever.
    pub defaults_in_progress: Vec<(Arc<str>, usize)>,
    /// Checking a migration body: a stored value (record field, variant
    /// payload) may be another version of the named type expected there.
    pub migration: bool,
}

impl<'n, 'a> BodyCx<'n, 'a> {
    pub fn new(ns: &'n Namespace<'a>, ret: Ret) -> BodyCx<'n, 'a> {
        BodyCx {
            ns,
            locals: Vec::new(),
            kinds: Vec::new(),
            owners: Vec::new(),
            scopes: vec![Vec::new()],
            frames: vec![Frame { captures: Vec::new(), loops: 0, ret }],
            diags: Vec::new(),
            depth: 0,
            too_deep_reported: false,
            defaults_in_progress: Vec::new(),
            migration: false,
        }
    }

    pub fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn resolve_ty(&mut self, te: &ast::TypeExpr, pos: TyPos) -> Ty {
        resolve_ty::resolve(self.ns, te, pos, &mut self.diags)
    }

    // ----- locals and scopes -----

    pub fn declare(&mut self, name: &str, ty: Ty, kind: LocalKind) -> LocalId {
        let id = LocalId(self.locals.len() as u32);
        let name: Arc<str> = Arc::from(name);
        self.locals.push(LocalInfo {
            name: name.clone(),
            ty,
            mutable: kind == LocalKind::Var,
            captured: false,
            pattern_bound: kind == LocalKind::Pattern,
        });
        self.kinds.push(kind);
        self.owners.push(self.frames.len() - 1);
        if kind != LocalKind::Temp
            && let Some(scope) = self.scopes.last_mut()
        {
            scope.push((name, id));
        }
        id
    }

    pub fn lookup(&self, name: &str) -> Option<LocalId> {
        self.scopes.iter().rev().flat_map(|s| s.iter().rev()).find(|(n, _)| &**n == name).map(|&(_, id)| id)
    }

    pub fn local_ty(&self, id: LocalId) -> Ty {
        self.locals.get(id.0 as usize).map(|l| l.ty.clone()).unwrap_or(Ty::Error)
    }

    pub fn local_kind(&self, id: LocalId) -> LocalKind {
        self.kinds.get(id.0 as usize).copied().unwrap_or(LocalKind::Temp)
    }

    /// Notes a read or write of a local. Used from inside a closure, the local
    /// becomes captured by every closure between its owner and here, so a
    /// middle closure can hand it on to the inner one.
    pub fn use_local(&mut self, id: LocalId) {
        let Some(&owner) = self.owners.get(id.0 as usize) else { return };
        let top = self.frames.len() - 1;
        if owner < top {
            if let Some(l) = self.locals.get_mut(id.0 as usize) {
                l.captured = true;
            }
            for f in &mut self.frames[owner + 1..] {
                if !f.captures.contains(&id) {
                    f.captures.push(id);
                }
            }
        }
    }

    /// A local reading expression (marking the capture).
    pub fn read_local(&mut self, id: LocalId, span: Span) -> hir::Expr {
        self.use_local(id);
        hir::Expr { kind: hir::ExprKind::Local(id), ty: self.local_ty(id), span }
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    /// Hides every local (a field default is checked as if in its own body).
    pub fn take_scopes(&mut self) -> Vec<Vec<(Arc<str>, LocalId)>> {
        std::mem::replace(&mut self.scopes, vec![Vec::new()])
    }

    pub fn restore_scopes(&mut self, scopes: Vec<Vec<(Arc<str>, LocalId)>>) {
        self.scopes = scopes;
    }

    /// Names of the locals in scope, for `did you mean` hints.
    pub fn local_names(&self) -> Vec<Arc<str>> {
        self.scopes.iter().flatten().map(|(n, _)| n.clone()).collect()
    }

    // ----- frames -----

    pub fn frame(&mut self) -> &mut Frame {
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    pub fn enter_closure(&mut self, ret: Ret) {
        self.frames.push(Frame { captures: Vec::new(), loops: 0, ret });
        self.push_scope();
    }

    pub fn exit_closure(&mut self) -> Frame {
        self.pop_scope();
        // Frame 0 is never popped: enter/exit are paired by the callers.
        if self.frames.len() > 1 {
            self.frames.pop().unwrap_or(Frame { captures: Vec::new(), loops: 0, ret: Ret::Outside("") })
        } else {
            Frame { captures: Vec::new(), loops: 0, ret: Ret::Outside("") }
        }
    }

    pub fn in_closure(&self) -> bool {
        self.frames.len() > 1
    }

    // ----- recursion guard -----

    /// Call before recursing into a node; `false` means too deep (reported
    /// once). Always pair with [`BodyCx::leave`].
    pub fn enter(&mut self, span: Span) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            if !self.too_deep_reported {
                self.too_deep_reported = true;
                self.error(diag::err(
                    SYNTAX,
                    format!("this is nested too deeply (more than {MAX_DEPTH} levels)"),
                    span,
                    "too deep",
                ));
            }
            return false;
        }
        true
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Packs the checked body.
    pub fn finish(
        self,
        name: Arc<str>,
        params: Vec<LocalId>,
        ret: Ty,
        body: hir::Expr,
        source: &Arc<str>,
    ) -> (hir::Body, Vec<Diagnostic>) {
        let b = hir::Body { name, params, ret, locals: self.locals, body, source: source.clone() };
        (b, self.diags)
    }
}

/// An expression standing in for something that failed to check.
pub(super) fn error_expr(span: Span) -> hir::Expr {
    hir::Expr { kind: hir::ExprKind::Unit, ty: Ty::Error, span }
}

pub(super) fn mk(kind: hir::ExprKind, ty: Ty, span: Span) -> hir::Expr {
    hir::Expr { kind, ty, span }
}
