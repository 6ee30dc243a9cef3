//! Building check diagnostics: the spec's phrases (section 9) in one place, and
//! the messages that recur (type mismatch, unknown name with `did you mean`).

use crate::diagnostic::{Diagnostic, closest};
use crate::span::Span;
use crate::types::Ty;
use std::fmt::{self, Display, Write as _};

pub(super) const SYNTAX: &str = "syntax error";
pub(super) const UNKNOWN: &str = "unknown name";
pub(super) const MISMATCH: &str = "type mismatch";
pub(super) const NOT_EXHAUSTIVE: &str = "not exhaustive";
pub(super) const SECOND_CLASS: &str = "second-class";
pub(super) const WRONG_ARGS: &str = "wrong number of arguments";
pub(super) const NOT_ASSIGNABLE: &str = "not assignable";
pub(super) const RESERVED: &str = "reserved name";

/// The hint every second-class error carries, so users learn the rule once.
pub(super) const SECOND_CLASS_RULE: &str = "functions are second-class: they can be called, or passed as an argument for an `fn(...)` parameter, but never stored, returned or compared";

/// `PHRASE: detail`, with a short label under the caret.
pub(super) fn err(phrase: &str, detail: impl Display, span: Span, label: impl Into<String>) -> Diagnostic {
    Diagnostic::new(format!("{phrase}: {detail}"), span).with_label(label)
}

/// `type mismatch: expected `A`, found `B``, with a conversion hint when one helps.
pub(super) fn mismatch(expected: &Ty, found: &Ty, span: Span) -> Diagnostic {
    let (e, f) = show_pair(expected, found);
    let d = err(MISMATCH, format!("expected `{e}`, found `{f}`"), span, format!("this is `{f}`"));
    match conversion_hint(expected, found) {
        Some(h) => d.with_hint(h),
        None => d,
    }
}

pub(super) fn conversion_hint(expected: &Ty, found: &Ty) -> Option<&'static str> {
    match (expected, found) {
        (Ty::Float, Ty::Int) => Some("there are no implicit conversions: write `float(...)`"),
        (Ty::Int, Ty::Float) => Some("there are no implicit conversions: write `int(...)` (it truncates)"),
        (Ty::Str, Ty::Int | Ty::Float | Ty::Bool) => Some("there are no implicit conversions: write `str(...)`"),
        _ => None,
    }
}

/// Adds `did you mean `x`?` when a candidate is close enough.
pub(super) fn did_you_mean<'c>(d: Diagnostic, name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Diagnostic {
    match closest(name, candidates.into_iter().filter(|c| *c != name)) {
        Some(c) => d.with_hint(format!("did you mean `{c}`?")),
        None => d,
    }
}

/// Renders two types; when they print the same but differ (two versions of one
/// user type), versions are shown so the message is not `expected P, found P`.
pub(super) fn show_pair(a: &Ty, b: &Ty) -> (String, String) {
    let (sa, sb) = (a.to_string(), b.to_string());
    if sa == sb && a != b { (Versioned(a).to_string(), Versioned(b).to_string()) } else { (sa, sb) }
}

struct Versioned<'t>(&'t Ty);

impl Display for Versioned<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ty::Named(n) => write!(f, "{} v{}", n.name, n.version),
            Ty::Vec(e) => write!(f, "[{}]", Versioned(e)),
            Ty::Map(k, v) => write!(f, "{{{}: {}}}", Versioned(k), Versioned(v)),
            Ty::Fn(ft) => {
                f.write_str("fn(")?;
                for (i, p) in ft.params.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Versioned(p))?;
                }
                write!(f, ") -> {}", Versioned(&ft.ret))
            }
            other => write!(f, "{other}"),
        }
    }
}

/// `fn(int, str) -> bool`, or `fn(int) -> ?` when the result is still open.
pub(super) fn fn_ty(params: &[Ty], ret: Option<&Ty>) -> String {
    let mut s = String::from("fn(");
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{p}");
    }
    match ret {
        Some(r) => {
            let _ = write!(s, ") -> {r}");
        }
        None => s.push_str(") -> ?"),
    }
    s
}

/// `1 argument`, `2 arguments`.
pub(super) fn count(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// "`a`", "`a` and `b`", "`a`, `b` and `c`".
pub(super) fn list_and(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// `unknown name `x``
pub(super) fn unknown(name: &str, span: Span, label: impl Into<String>) -> Diagnostic {
    Diagnostic::new(format!("{UNKNOWN} `{name}`"), span).with_label(label)
}
