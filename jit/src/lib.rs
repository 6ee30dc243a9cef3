//! Everything that runs Strata code: Cranelift code generation, the runtime
//! (heap values, reference counting, strings, vectors, maps, printing), and
//! the per-world dispatch tables that compiled code calls through.

pub mod abi;
pub mod runtime;
