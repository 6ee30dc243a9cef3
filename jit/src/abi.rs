//! The JIT ABI: the `#[repr(C)]` context every compiled function receives, the
//! heap-object header, and how errors travel (a status, never unwinding).
//! Offsets used by generated code are constants here, checked by tests.
//!
//! Calling convention of compiled Strata functions (SystemV):
//! `fn(ctx: *mut Ctx, env: *const u8, params...) -> (result?, status: i8)`.
//! `env` is null for global functions and points at a closure's environment
//! for closures. `status` is 0 on success; non-zero means an error was
//! recorded in the evaluation (see [`raise`]) and the caller must clean up and
//! return non-zero too, after adding its frame to the backtrace.
//!
//! Host helpers (`rt_*`, `extern "C"`) that can fail set `Ctx::err` to 1 and
//! record the error; generated code tests `err` after calling them.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, AtomicUsize};

/// Per (evaluation, world) context. Generated code reads `table` and
/// `stack_limit`; helpers read the rest.
#[repr(C)]
pub struct Ctx {
    /// The dispatch table of this context's world: slot -> code address.
    pub table: *const *const u8,
    /// Compiled code calls [`rt_stack_check`] when the stack pointer is below
    /// this. Interrupting an evaluation sets it to `usize::MAX`, so the same
    /// compare at function entry and loop back-edges also polls for interrupts.
    pub stack_limit: AtomicUsize,
    /// Set to 1 by a failing helper.
    pub err: AtomicU8,
    /// The evaluation this context belongs to.
    pub eval: *const EvalState,
    /// The age of this context's world (`world_age()`).
    pub world_age: u64,
}

pub const CTX_TABLE: i32 = 0;
pub const CTX_STACK_LIMIT: i32 = 8;
pub const CTX_ERR: i32 = 16;

/// Header of every heap object (str, vector, map, record, enum). Generated code
/// touches `rc` (atomic add/sub at offset 0), reads `tag` of enums and reads
/// fields at `FIELDS_OFFSET + 8 * i`.
#[repr(C)]
pub struct Header {
    /// Reference count. Immortal objects (literals, nullary variants) start at
    /// [`IMMORTAL_RC`] and are never freed.
    pub rc: std::sync::atomic::AtomicU64,
    /// [`Kind`] as u32.
    pub kind: u32,
    /// For records and enums: the runtime type key (name + schema version).
    pub type_key: u32,
    /// For enums: the variant index. For records: 0.
    pub tag: u32,
    /// For records and enums: the number of 8-byte slots after the header.
    pub nslots: u32,
}

pub const HEADER_RC: i32 = 0;
pub const HEADER_TAG: i32 = 16;
pub const FIELDS_OFFSET: i32 = 24;
pub const IMMORTAL_RC: u64 = 1 << 62;

#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Str = 1,
    Vec = 2,
    Map = 3,
    Record = 4,
    Enum = 5,
}

/// One Strata frame of a runtime error's backtrace.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// `NAME vK` for a global function (`(closure)` added for its closures).
    pub function: String,
    /// The world the activation ran in.
    pub world: u64,
    pub line: u32,
    /// How many more times the last `period` frames (this one and the
    /// `period - 1` before it) directly follow: deep recursion, direct
    /// (`period` 1) or through a cycle of functions.
    pub repeats: u32,
    pub period: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeError {
    /// e.g. `division by zero`, `assertion failed: msg` (section 9 phrases).
    pub message: String,
    /// Innermost first.
    pub frames: Vec<Frame>,
}

/// Where `print` output goes for an evaluation.
pub trait Output {
    fn write_line(&self, line: &str);
}

/// Standard output, line by line.
pub struct Stdout;

impl Output for Stdout {
    fn write_line(&self, line: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Standard error, line by line (background tasks in transcripts).
pub struct Stderr;

impl Output for Stderr {
    fn write_line(&self, line: &str) {
        use std::io::Write;
        let mut out = std::io::stderr().lock();
        let _ = writeln!(out, "{line}");
    }
}

/// What one evaluation (a top-level expression, a call of `main`, an
/// initialiser) owns on the Rust side. Lives on the evaluating thread.
pub struct EvalState {
    pub error: RefCell<Option<RuntimeError>>,
    pub output: Box<dyn Output>,
    /// The real stack limit (`Ctx::stack_limit` may be raised to interrupt).
    pub stack_limit: usize,
    /// The engine's side of the evaluation (world, globals, interrupts);
    /// `None` only in runtime unit tests.
    pub host: Option<crate::eval::EvalHost>,
}

impl EvalState {
    /// An evaluation with no engine behind it (for runtime unit tests).
    pub fn detached(output: Box<dyn Output>) -> EvalState {
        EvalState { error: RefCell::new(None), output, stack_limit: 0, host: None }
    }
}

/// Records a runtime error for the evaluation of `ctx` and flags it.
///
/// # Safety
/// `ctx` must be a live context created by this crate.
pub unsafe fn raise(ctx: *mut Ctx, message: impl Into<String>) {
    // SAFETY: the caller guarantees `ctx` and its eval are live.
    unsafe {
        let ctx = &*ctx;
        let eval = &*ctx.eval;
        let mut slot = eval.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(RuntimeError { message: message.into(), frames: Vec::new() });
        }
        ctx.err.store(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The `print` sink of the evaluation of `ctx`.
///
/// # Safety
/// `ctx` must be a live context created by this crate.
pub unsafe fn output<'a>(ctx: *mut Ctx) -> &'a dyn Output {
    // SAFETY: the caller guarantees `ctx` and its eval are live.
    unsafe { &*(*(*ctx).eval).output }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn offsets_match_generated_code() {
        assert_eq!(offset_of!(Ctx, table), CTX_TABLE as usize);
        assert_eq!(offset_of!(Ctx, stack_limit), CTX_STACK_LIMIT as usize);
        assert_eq!(offset_of!(Ctx, err), CTX_ERR as usize);
        assert_eq!(offset_of!(Header, rc), HEADER_RC as usize);
        assert_eq!(offset_of!(Header, tag), HEADER_TAG as usize);
        assert_eq!(std::mem::size_of::<Header>(), FIELDS_OFFSET as usize);
    }
}
