//! Raising runtime errors from helpers, and the panic guard every helper runs
//! under (a panic must never unwind across `extern "C"`: it would abort).

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::string::str_value;
use crate::abi::{Ctx, Header, raise};

/// The value a helper returns after raising (or after a caught panic).
pub(crate) trait Zero {
    fn zero() -> Self;
}

macro_rules! zero {
    ($($t:ty => $v:expr),* $(,)?) => { $(impl Zero for $t { #[inline] fn zero() -> Self { $v } })* };
}
zero! {
    () => (),
    u8 => 0,
    u32 => 0,
    i64 => 0,
    f64 => 0.0,
    *const Header => std::ptr::null(),
    *mut Header => std::ptr::null_mut(),
}

/// A caught panic's message.
pub(crate) fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = e.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic in runtime helper".to_string()
    }
}

/// Runs `f`; a panic becomes the runtime error `internal error: ...` on `ctx`.
#[inline]
pub(crate) fn guard<R: Zero>(ctx: *mut Ctx, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(e) => {
            if !ctx.is_null() {
                // SAFETY: helpers receive a live ctx from compiled code.
                unsafe { raise(ctx, format!("internal error: {}", panic_text(&*e))) };
            }
            R::zero()
        }
    }
}

/// Runs `f` for a helper without a ctx; a panic returns zero/null.
#[inline]
pub(crate) fn guard_noctx<R: Zero>(f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| R::zero())
}

/// Raises `msg` on `ctx` and returns zero, for `return fail(ctx, ...)`.
///
/// # Safety
/// `ctx` must be live.
pub(crate) unsafe fn fail<R: Zero>(ctx: *mut Ctx, msg: impl Into<String>) -> R {
    // SAFETY: caller's contract.
    unsafe { raise(ctx, msg) };
    R::zero()
}

pub const ERR_DIVISION_BY_ZERO: u32 = 1;
pub const ERR_INTEGER_OVERFLOW: u32 = 2;

/// Raises an error by code: 1 `division by zero`, 2 `integer overflow`.
///
/// # Safety
/// `ctx` must be live.
pub unsafe extern "C" fn rt_raise(ctx: *mut Ctx, code: u32) {
    let msg = match code {
        ERR_DIVISION_BY_ZERO => "division by zero".to_string(),
        ERR_INTEGER_OVERFLOW => "integer overflow".to_string(),
        other => format!("internal error: unknown error code {other}"),
    };
    // SAFETY: caller's contract.
    guard(ctx, || unsafe { raise(ctx, msg) })
}

/// Raises `assertion failed: MSG`.
///
/// # Safety
/// `ctx` must be live and `msg` a live str (borrowed).
pub unsafe extern "C" fn rt_assert_failed(ctx: *mut Ctx, msg: *const Header) {
    // SAFETY: caller's contract.
    guard(ctx, || unsafe { raise(ctx, format!("assertion failed: {}", str_value(msg))) })
}
