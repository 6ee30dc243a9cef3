//! Recursive-descent parser from text to [`crate::ast::Program`]. (Being written.)

use crate::ast::Program;
use crate::diagnostic::Diagnostic;

/// Parses one transaction's source. Always returns a (possibly partial)
/// program; any syntax errors come back as diagnostics starting `syntax error`.
pub fn parse(_src: &str) -> (Program, Vec<Diagnostic>) {
    (Program::default(), Vec::new())
}

/// True when `src` ends inside an open bracket or string, so the REPL should
/// read another line instead of submitting it.
pub fn is_incomplete(_src: &str) -> bool {
    false
}
