//! Numeric builtins that are not single instructions.

use super::errors::{ERR_INTEGER_OVERFLOW, fail, guard, guard_noctx, rt_raise};
use crate::abi::Ctx;

fn checked_pow(mut base: i64, mut exp: u64) -> Option<i64> {
    let mut acc: i64 = 1;
    loop {
        if exp & 1 == 1 {
            acc = acc.checked_mul(base)?;
        }
        exp >>= 1;
        if exp == 0 {
            return Some(acc);
        }
        base = base.checked_mul(base)?;
    }
}

/// `pow(int, int)`: a negative exponent is `invalid argument`, overflow is
/// `integer overflow`.
///
/// # Safety
/// `ctx` must be live.
pub unsafe extern "C" fn rt_pow_int(ctx: *mut Ctx, a: i64, b: i64) -> i64 {
    guard(ctx, || {
        if b < 0 {
            // SAFETY: caller's contract.
            return unsafe { fail(ctx, "invalid argument: negative exponent") };
        }
        match checked_pow(a, b as u64) {
            Some(r) => r,
            None => {
                // SAFETY: caller's contract.
                unsafe { rt_raise(ctx, ERR_INTEGER_OVERFLOW) };
                0
            }
        }
    })
}

/// `pow(float, float)`.
///
/// # Safety
/// Always safe; part of the JIT ABI.
pub unsafe extern "C" fn rt_pow_float(a: f64, b: f64) -> f64 {
    a.powf(b)
}

/// `int(f)`: truncates; NaN or out of range is `invalid conversion`.
///
/// # Safety
/// `ctx` must be live.
pub unsafe extern "C" fn rt_float_to_int(ctx: *mut Ctx, f: f64) -> i64 {
    guard(ctx, || {
        // -2^63 <= trunc(f) < 2^63, NaN fails both comparisons.
        if f > -9_223_372_036_854_777_856.0 && f < 9_223_372_036_854_775_808.0 {
            f as i64
        } else {
            // SAFETY: caller's contract.
            unsafe { fail(ctx, format!("invalid conversion: {f:?} to int")) }
        }
    })
}

/// Float `%` (Rust's: the sign of the dividend).
///
/// # Safety
/// Always safe; part of the JIT ABI.
pub unsafe extern "C" fn rt_fmod(a: f64, b: f64) -> f64 {
    a % b
}

/// Milliseconds since the Unix epoch.
///
/// # Safety
/// Always safe; part of the JIT ABI.
pub unsafe extern "C" fn rt_now_ms() -> i64 {
    guard_noctx(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}
