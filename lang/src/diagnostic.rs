//! Check errors as data, and the one renderer that turns them into text
//! (codespan-reporting, no colour), as Gleam and Elm do.

use crate::span::Span;
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Config};

/// One check error. `message` starts with the spec's phrase for its kind
/// (`syntax error`, `unknown name`, `type mismatch`, ...), section 9.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Span,
    /// Short text under the caret.
    pub label: String,
    /// `did you mean ...?` and other advice, one line each.
    pub hints: Vec<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { message: message.into(), span, label: String::new(), hints: Vec::new() }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }
}

/// Renders diagnostics against their source: `error: MESSAGE`, then
/// `┌─ NAME:LINE:COL`, the source line and a caret, then hints.
pub fn render(diags: &[Diagnostic], source_name: &str, source: &str) -> String {
    let file = SimpleFile::new(source_name, source);
    let config = Config::default();
    let mut out = String::new();
    for d in diags {
        let start = (d.span.start as usize).min(source.len());
        let end = (d.span.end as usize).clamp(start, source.len());
        let cs = CsDiagnostic::error()
            .with_message(&d.message)
            .with_labels(vec![Label::primary((), start..end).with_message(&d.label)])
            .with_notes(d.hints.iter().map(|h| format!("hint: {h}")).collect());
        match term::emit_into_string(&config, &file, &cs) {
            Ok(s) => out.push_str(&s),
            Err(_) => out.push_str(&format!("error: {}\n", d.message)),
        }
    }
    out
}

/// Levenshtein-closest candidate for a `did you mean` hint.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(name, c);
        let limit = (name.len().max(c.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_and_hint() {
        let src = "fn f() -> int { nope + 1 }\n";
        let d = Diagnostic::new("unknown name `nope`", Span::new(16, 20))
            .with_label("not defined")
            .with_hint("did you mean `none`?");
        let text = render(&[d], "t.strata", src);
        assert!(text.starts_with("error: unknown name `nope`"), "{text}");
        assert!(text.contains("t.strata:1:17"), "{text}");
        assert!(text.contains("^^^^"), "{text}");
        assert!(text.contains("hint: did you mean `none`?"), "{text}");
    }

    #[test]
    fn closest_finds_typos_only() {
        assert_eq!(closest("lenght", ["len", "length", "push"]), Some("length"));
        assert_eq!(closest("zzz", ["len", "push"]), None);
    }
}
