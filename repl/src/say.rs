//! Writing to standard output and error without panicking when the other
//! end has gone away (`strata ... | head`): a closed pipe ends output
//! quietly instead of crashing the process.

use std::io::Write;

pub fn out_line(text: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(text).and_then(|()| out.write_all(b"\n"));
}

pub fn err_line(text: std::fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(text).and_then(|()| err.write_all(b"\n"));
}

/// `println!` that never panics.
macro_rules! out {
    ($($t:tt)*) => { $crate::say::out_line(format_args!($($t)*)) };
}

/// `eprintln!` that never panics.
macro_rules! err {
    ($($t:tt)*) => { $crate::say::err_line(format_args!($($t)*)) };
}

pub(crate) use {err, out};
