//! The standard library's own definitions (world 1, SPEC 14.1): the types a
//! request handler takes and gives back, and JSON values. Every session
//! starts with them; user definitions may not take these names, nor those
//! of the JSON builtins.

pub const SOURCE: &str = r#"
type Request { method: str, path: str, query: {str: str}, headers: {str: str}, body: str }
type Response { status: int = 200, headers: {str: str} = {}, body: str = "" }
enum Json { Null, Bool(bool), Int(int), Num(float), Str(str), Arr([Json]), Obj({str: Json}) }
"#;

/// The names of section 14.1 that no user definition may take.
pub const RESERVED: [&str; 6] = ["Request", "Response", "Json", "json_parse", "json_text", "json_get"];

/// The standard library's source parsed, once per process (every session
/// checks it, and hands its items' texts to the incremental database).
pub fn parsed() -> &'static (crate::ast::Program, Vec<crate::diagnostic::Diagnostic>) {
    static PARSED: std::sync::OnceLock<(crate::ast::Program, Vec<crate::diagnostic::Diagnostic>)> =
        std::sync::OnceLock::new();
    PARSED.get_or_init(|| crate::parser::parse(SOURCE))
}
