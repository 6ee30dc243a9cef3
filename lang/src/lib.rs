//! The Strata language: syntax, types and checking. No IO, no Cranelift.
//!
//! Pipeline: [`parser::parse`] turns text into an [`ast::Program`];
//! [`check::check_transaction`] resolves names and types against an
//! [`check::Env`] (the world the transaction is checked in) and produces
//! [`hir`] bodies that `jit` compiles.

#![forbid(unsafe_code)]

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod hir;
pub mod incremental;
pub mod lexer;
pub mod parser;
pub mod prelude;
pub mod span;
pub mod types;
