//! `.repl` transcripts (SPEC section 13): reading them into inputs with their
//! expected output, comparing actual output, and writing them back out.

/// One input of a transcript and the output expected after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The input lines as written, with their `> `/`. ` markers.
    pub raw: Vec<String>,
    /// The input text (markers removed, continued lines joined by newlines).
    pub input: String,
    pub expected: Vec<String>,
}

/// Splits a transcript into entries; comments and blank lines are dropped.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut continuing = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("> ").or_else(|| (line == ">").then_some("")) {
            entries.push(Entry { raw: vec![line.to_string()], input: rest.to_string(), expected: Vec::new() });
            continuing = true;
            continue;
        }
        if continuing && let Some(rest) = line.strip_prefix(". ").or_else(|| (line == ".").then_some("")) {
            let e = entries.last_mut().expect("an input precedes a continuation");
            e.raw.push(line.to_string());
            e.input.push('\n');
            e.input.push_str(rest);
            continue;
        }
        continuing = false;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(e) = entries.last_mut() {
            e.expected.push(line.trim_end().to_string());
        }
    }
    entries
}

/// An output line as it is written into a transcript: lines that would read
/// as markup get one leading space.
pub fn escape(line: &str) -> String {
    let line = line.trim_end();
    if line.starts_with("> ") || line.starts_with(". ") || line.starts_with('#') || line.starts_with("~ ") {
        format!(" {line}")
    } else {
        line.to_string()
    }
}

/// Checks `actual` (already escaped) against an entry's expectations.
/// Without `~ ` lines the output must equal them; with some, each `~ TEXT`
/// must occur somewhere, and the other lines must appear in order.
pub fn check(expected: &[String], actual: &[String]) -> Result<(), String> {
    let fuzzy: Vec<&str> = expected.iter().filter_map(|l| l.strip_prefix("~ ")).collect();
    if fuzzy.is_empty() {
        if expected == actual {
            return Ok(());
        }
        return Err(diff(expected, actual));
    }
    let whole = actual.join("\n");
    for f in &fuzzy {
        if !whole.contains(f) {
            return Err(format!("expected the output to contain `{f}`\n{}", diff(expected, actual)));
        }
    }
    let mut rest = actual.iter();
    for line in expected.iter().filter(|l| !l.starts_with("~ ")) {
        if !rest.any(|a| a == line) {
            return Err(format!("expected the line `{line}` (in order)\n{}", diff(expected, actual)));
        }
    }
    Ok(())
}

fn diff(expected: &[String], actual: &[String]) -> String {
    let mut s = String::from("expected:\n");
    for l in expected {
        s.push_str(&format!("  | {l}\n"));
    }
    s.push_str("actual:\n");
    for l in actual {
        s.push_str(&format!("  | {l}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_inputs_continuations_and_comments() {
        let t = "# c\n> fn g() -> int { 1 }\n. fn h() -> int { 2 }\nworld 4: g v1, h v1\n\n> h()\n21\n";
        let e = parse(t);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].input, "fn g() -> int { 1 }\nfn h() -> int { 2 }");
        assert_eq!(e[0].expected, vec!["world 4: g v1, h v1"]);
        assert_eq!(e[1].raw, vec!["> h()"]);
        assert_eq!(e[1].expected, vec!["21"]);
    }

    #[test]
    fn exact_and_fuzzy_matching() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(check(&s(&["1"]), &s(&["1"])).is_ok());
        assert!(check(&s(&["1"]), &s(&["1", "2"])).is_err());
        assert!(check(&s(&["~ error", "~ g"]), &s(&["error: breaks", "  g: type mismatch"])).is_ok());
        assert!(check(&s(&["~ error", "a", "b"]), &s(&["error", "a", "x", "b"])).is_ok());
        assert!(check(&s(&["~ error", "b", "a"]), &s(&["error", "a", "b"])).is_err());
    }

    #[test]
    fn escapes_markup_lines() {
        assert_eq!(escape("> x"), " > x");
        assert_eq!(escape("# x"), " # x");
        assert_eq!(escape("plain  "), "plain");
    }
}
