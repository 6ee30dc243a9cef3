//! Everything that runs Strata code: Cranelift code generation, the runtime
//! (heap values, reference counting, strings, vectors, maps, printing), the
//! per-world dispatch tables compiled code calls through, and evaluations.
//!
//! This crate does not parse: it receives checked HIR from `lang`.

pub mod abi;
pub mod codegen;
pub mod eval;
pub mod image;
pub mod memory;
pub mod migrate;
mod persist;
pub mod program;
pub mod runtime;
pub mod tasks;
