//! Tokens of Strata source (section 2): the lexer turns text into tokens with
//! byte spans, reporting bad characters, numbers, escapes and open strings.

use crate::diagnostic::Diagnostic;
use crate::span::Span;

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// The name is the token's source text.
    Ident,
    /// `None` when the literal does not even fit in a `u64`. The i64 range is
    /// the parser's business, since `-9223372036854775808` is a valid literal.
    Int(Option<u64>),
    Float(f64),
    /// The text with escapes already resolved.
    Str(String),

    Fn,
    Type,
    Enum,
    Let,
    Var,
    If,
    Else,
    While,
    For,
    In,
    Match,
    Return,
    Break,
    Continue,
    True,
    False,
    Latest,
    Spawn,
    Loop,
    Migrate,
    Forget,
    Overridable,
    Experiment,
    Graduate,

    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Semi,
    Colon,
    ColonColon,
    Dot,
    DotDot,
    Arrow,
    FatArrow,
    Eq,
    PlusEq,
    MinusEq,
    StarEq,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Pipe,
    Underscore,

    /// A character that starts no token; already reported by the lexer.
    Unknown,
    Eof,
}

impl TokenKind {
    /// The fixed text of a keyword or punctuation token, for messages.
    pub fn text(&self) -> Option<&'static str> {
        use TokenKind::*;
        Some(match self {
            Ident | Int(_) | Float(_) | Str(_) | Unknown | Eof => return None,
            Fn => "fn",
            Type => "type",
            Enum => "enum",
            Let => "let",
            Var => "var",
            If => "if",
            Else => "else",
            While => "while",
            For => "for",
            In => "in",
            Match => "match",
            Return => "return",
            Break => "break",
            Continue => "continue",
            True => "true",
            False => "false",
            Latest => "latest",
            Spawn => "spawn",
            Loop => "loop",
            Migrate => "migrate",
            Forget => "forget",
            Overridable => "overridable",
            Experiment => "experiment",
            Graduate => "graduate",
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            LBrace => "{",
            RBrace => "}",
            Comma => ",",
            Semi => ";",
            Colon => ":",
            ColonColon => "::",
            Dot => ".",
            DotDot => "..",
            Arrow => "->",
            FatArrow => "=>",
            Eq => "=",
            PlusEq => "+=",
            MinusEq => "-=",
            StarEq => "*=",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            EqEq => "==",
            NotEq => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            AndAnd => "&&",
            OrOr => "||",
            Bang => "!",
            Pipe => "|",
            Underscore => "_",
        })
    }
}

fn keyword(word: &str) -> Option<TokenKind> {
    use TokenKind::*;
    Some(match word {
        "fn" => Fn,
        "type" => Type,
        "enum" => Enum,
        "let" => Let,
        "var" => Var,
        "if" => If,
        "else" => Else,
        "while" => While,
        "for" => For,
        "in" => In,
        "match" => Match,
        "return" => Return,
        "break" => Break,
        "continue" => Continue,
        "true" => True,
        "false" => False,
        "latest" => Latest,
        "spawn" => Spawn,
        "loop" => Loop,
        "migrate" => Migrate,
        "forget" => Forget,
        "overridable" => Overridable,
        "experiment" => Experiment,
        "graduate" => Graduate,
        "_" => Underscore,
        _ => return None,
    })
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// The lexer's result. `tokens` always ends with one [`TokenKind::Eof`].
#[derive(Clone, Debug)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub diagnostics: Vec<Diagnostic>,
    /// The input ended inside a string literal (the REPL reads another line).
    pub unterminated_string: bool,
}

pub fn lex(src: &str) -> Lexed {
    let mut lexer = Lexer { src, pos: 0, tokens: Vec::new(), diagnostics: Vec::new(), unterminated: false };
    lexer.run();
    let end = Span::new(src.len(), src.len());
    lexer.tokens.push(Token { kind: TokenKind::Eof, span: end });
    Lexed { tokens: lexer.tokens, diagnostics: lexer.diagnostics, unterminated_string: lexer.unterminated }
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    tokens: Vec<Token>,
    diagnostics: Vec<Diagnostic>,
    unterminated: bool,
}

impl Lexer<'_> {
    fn byte_at(&self, i: usize) -> u8 {
        self.src.as_bytes().get(i).copied().unwrap_or(0)
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token { kind, span: Span::new(start, self.pos) });
    }

    fn error(&mut self, message: String, start: usize, end: usize, label: &str) {
        self.diagnostics.push(Diagnostic::new(message, Span::new(start, end)).with_label(label));
    }

    fn run(&mut self) {
        while let Some(c) = self.peek_char() {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if c == '/' && self.byte_at(start + 1) == b'/' {
                self.pos = self.src[start..].find('\n').map_or(self.src.len(), |i| start + i);
            } else if c.is_ascii_alphabetic() || c == '_' {
                self.word();
            } else if c.is_ascii_digit() {
                self.number();
            } else if c == '"' {
                self.string();
            } else if let Some((kind, len)) = self.punct() {
                self.pos += len;
                self.push(kind, start);
            } else {
                self.pos += c.len_utf8();
                let message = format!("syntax error: unexpected character `{}`", c.escape_debug());
                let mut diagnostic = Diagnostic::new(message, Span::new(start, self.pos)).with_label("not valid here");
                if c == '&' {
                    diagnostic = diagnostic.with_hint("did you mean `&&`?");
                }
                self.diagnostics.push(diagnostic);
                self.push(TokenKind::Unknown, start);
            }
        }
    }

    fn word(&mut self) {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() && (bytes[self.pos].is_ascii_alphanumeric() || bytes[self.pos] == b'_') {
            self.pos += 1;
        }
        let kind = keyword(&self.src[start..self.pos]).unwrap_or(TokenKind::Ident);
        self.push(kind, start);
    }

    fn digits(&mut self) {
        while self.byte_at(self.pos).is_ascii_digit() || self.byte_at(self.pos) == b'_' {
            self.pos += 1;
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        self.digits();
        let mut is_float = false;
        // `1..3` is a range and `x.0` no float: a fraction needs a digit after the dot.
        if self.byte_at(self.pos) == b'.' && self.byte_at(self.pos + 1).is_ascii_digit() {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.byte_at(self.pos), b'e' | b'E') {
            let after = self.byte_at(self.pos + 1);
            let signed = matches!(after, b'+' | b'-') && self.byte_at(self.pos + 2).is_ascii_digit();
            if after.is_ascii_digit() || signed {
                self.pos += if signed { 2 } else { 1 };
                self.digits();
                is_float = true;
            }
        }
        let bytes = self.src.as_bytes();
        if self.pos < bytes.len() && (bytes[self.pos].is_ascii_alphanumeric() || bytes[self.pos] == b'_') {
            while self.pos < bytes.len() && (bytes[self.pos].is_ascii_alphanumeric() || bytes[self.pos] == b'_') {
                self.pos += 1;
            }
            let text = &self.src[start..self.pos];
            self.error(format!("syntax error: invalid number `{text}`"), start, self.pos, "not a number");
            self.push(TokenKind::Int(Some(0)), start);
            return;
        }
        let text: String = self.src[start..self.pos].chars().filter(|&c| c != '_').collect();
        if is_float {
            let value = text.parse::<f64>().unwrap_or(f64::INFINITY);
            if !value.is_finite() {
                self.error("syntax error: float literal out of range".into(), start, self.pos, "too large for a float");
            }
            self.push(TokenKind::Float(if value.is_finite() { value } else { 0.0 }), start);
        } else {
            self.push(TokenKind::Int(text.parse::<u64>().ok()), start);
        }
    }

    fn string(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                self.unterminated = true;
                self.error("syntax error: unterminated string".into(), start, start + 1, "this string is never closed");
                break;
            };
            let at = self.pos;
            self.pos += c.len_utf8();
            match c {
                '"' => break,
                '\\' => {
                    let Some(e) = self.peek_char() else { continue };
                    self.pos += e.len_utf8();
                    match e {
                        'n' => text.push('\n'),
                        't' => text.push('\t'),
                        'r' => text.push('\r'),
                        '\\' => text.push('\\'),
                        '"' => text.push('"'),
                        '0' => text.push('\0'),
                        _ => {
                            let message = format!("syntax error: unknown escape `\\{}`", e.escape_debug());
                            self.error(message, at, self.pos, "valid escapes are \\n \\t \\r \\\\ \\\" \\0");
                        }
                    }
                }
                _ => text.push(c),
            }
        }
        self.push(TokenKind::Str(text), start);
    }

    fn punct(&self) -> Option<(TokenKind, usize)> {
        use TokenKind::*;
        let two = match (self.byte_at(self.pos), self.byte_at(self.pos + 1)) {
            (b':', b':') => Some(ColonColon),
            (b'.', b'.') => Some(DotDot),
            (b'-', b'>') => Some(Arrow),
            (b'=', b'>') => Some(FatArrow),
            (b'+', b'=') => Some(PlusEq),
            (b'-', b'=') => Some(MinusEq),
            (b'*', b'=') => Some(StarEq),
            (b'=', b'=') => Some(EqEq),
            (b'!', b'=') => Some(NotEq),
            (b'<', b'=') => Some(Le),
            (b'>', b'=') => Some(Ge),
            (b'&', b'&') => Some(AndAnd),
            (b'|', b'|') => Some(OrOr),
            _ => None,
        };
        if let Some(kind) = two {
            return Some((kind, 2));
        }
        let one = match self.byte_at(self.pos) {
            b'(' => LParen,
            b')' => RParen,
            b'[' => LBracket,
            b']' => RBracket,
            b'{' => LBrace,
            b'}' => RBrace,
            b',' => Comma,
            b';' => Semi,
            b':' => Colon,
            b'.' => Dot,
            b'=' => Eq,
            b'+' => Plus,
            b'-' => Minus,
            b'*' => Star,
            b'/' => Slash,
            b'%' => Percent,
            b'<' => Lt,
            b'>' => Gt,
            b'!' => Bang,
            b'|' => Pipe,
            _ => return None,
        };
        Some((one, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::TokenKind::*;
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let lexed = lex(src);
        assert!(lexed.diagnostics.is_empty(), "{:?}", lexed.diagnostics);
        lexed.tokens.into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(kinds("1..3"), [Int(Some(1)), DotDot, Int(Some(3)), Eof]);
        assert_eq!(kinds("1_000 1.5 1e9 3.5e-2"), [Int(Some(1000)), Float(1.5), Float(1e9), Float(3.5e-2), Eof]);
        assert_eq!(kinds("99999999999999999999"), [Int(None), Eof]);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(kinds(r#""a\n\"b\0""#), [Str("a\n\"b\0".into()), Eof]);
        let lexed = lex(r#""\q""#);
        assert!(lexed.diagnostics[0].message.starts_with("syntax error: unknown escape"));
        assert!(lex("\"open").unterminated_string);
    }

    #[test]
    fn punctuation_and_comments() {
        assert_eq!(kinds("a::b // c\n|| |x| _"), [Ident, ColonColon, Ident, OrOr, Pipe, Ident, Pipe, Underscore, Eof]);
    }
}
