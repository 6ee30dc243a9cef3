//! Recursive-descent parser from text to [`crate::ast::Program`] (section 2.1),
//! with error recovery, and the REPL's "is this input finished?" test.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::{self, Token, TokenKind};
use crate::span::Span;

/// Deeper nesting than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;
/// The tallest tree the parser builds (nesting plus operator chains), so the
/// recursive passes over it (checking, lowering, dropping) stay shallow too.
const MAX_HEIGHT: usize = 1024;

/// Parses one transaction's source. Always returns a (possibly partial)
/// program; any syntax errors come back as diagnostics starting `syntax error`.
pub fn parse(src: &str) -> (Program, Vec<Diagnostic>) {
    let lexed = lexer::lex(src);
    let mut parser = Parser::new(src, lexed.tokens);
    let program = parser.program();
    let mut diagnostics = lexed.diagnostics;
    // The lexer's error already explains a bad token, and an open string why
    // the input ended early.
    let end = src.len() as u32;
    let explained = |d: &Diagnostic| {
        diagnostics.iter().any(|l| l.span.start == d.span.start) || (lexed.unterminated_string && d.span.start == end)
    };
    let parser_diagnostics: Vec<Diagnostic> = parser.diagnostics.into_iter().filter(|d| !explained(d)).collect();
    diagnostics.extend(parser_diagnostics);
    diagnostics.sort_by_key(|d| d.span.start);
    (program, diagnostics)
}

/// True when `src` ends inside an open bracket or string, so the REPL should
/// read another line instead of submitting it.
pub fn is_incomplete(src: &str) -> bool {
    let lexed = lexer::lex(src);
    if lexed.unterminated_string {
        return true;
    }
    let mut open = Vec::new();
    for token in &lexed.tokens {
        match token.kind {
            TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => open.push(closer(&token.kind)),
            // A stray closer can never be completed: submit it for its error.
            TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace if open.pop().as_ref() != Some(&token.kind) => {
                return false;
            }
            _ => {}
        }
    }
    !open.is_empty()
}

fn closer(open: &TokenKind) -> TokenKind {
    match open {
        TokenKind::LParen => TokenKind::RParen,
        TokenKind::LBracket => TokenKind::RBracket,
        _ => TokenKind::RBrace,
    }
}

/// A syntax error was reported; the caller recovers.
struct Reported;

type PResult<T> = Result<T, Reported>;

/// A statement, or the block's final expression.
enum Parsed {
    Stmt(Stmt),
    Tail(Expr),
}

const CMP_PREC: u8 = 3;

fn binary_op(kind: &TokenKind) -> Option<(BinOp, u8)> {
    use TokenKind::*;
    Some(match kind {
        OrOr => (BinOp::Or, 1),
        AndAnd => (BinOp::And, 2),
        EqEq => (BinOp::Eq, CMP_PREC),
        NotEq => (BinOp::Ne, CMP_PREC),
        Lt => (BinOp::Lt, CMP_PREC),
        Le => (BinOp::Le, CMP_PREC),
        Gt => (BinOp::Gt, CMP_PREC),
        Ge => (BinOp::Ge, CMP_PREC),
        Plus => (BinOp::Add, 4),
        Minus => (BinOp::Sub, 4),
        Star => (BinOp::Mul, 5),
        Slash => (BinOp::Div, 5),
        Percent => (BinOp::Rem, 5),
        _ => return None,
    })
}

fn assign_op(kind: &TokenKind) -> Option<AssignOp> {
    Some(match kind {
        TokenKind::Eq => AssignOp::Set,
        TokenKind::PlusEq => AssignOp::Add,
        TokenKind::MinusEq => AssignOp::Sub,
        TokenKind::StarEq => AssignOp::Mul,
        _ => return None,
    })
}

/// Expressions that end a statement (or match arm) without `;` (or `,`).
fn is_block_like(kind: &ExprKind) -> bool {
    matches!(
        kind,
        ExprKind::If { .. }
            | ExprKind::While { .. }
            | ExprKind::For { .. }
            | ExprKind::Match { .. }
            | ExprKind::Block(_)
    )
}

fn can_start_expr(kind: &TokenKind) -> bool {
    use TokenKind::*;
    matches!(
        kind,
        Ident
            | Int(_)
            | Float(_)
            | Str(_)
            | True
            | False
            | LParen
            | LBracket
            | LBrace
            | If
            | While
            | For
            | Match
            | Pipe
            | OrOr
            | Return
            | Break
            | Continue
            | Latest
            | Spawn
            | Minus
            | Bang
    )
}

/// An `i64` literal, or `None` when out of range. `negated` allows `i64::MIN`.
fn int_value(value: Option<u64>, negated: bool) -> Option<i64> {
    let value = i128::from(value?);
    i64::try_from(if negated { -value } else { value }).ok()
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    diagnostics: Vec<Diagnostic>,
    /// Nested brackets, blocks and prefix operators: the parser's own recursion.
    depth: usize,
    /// `depth` plus the links of operator, postfix and `else if` chains, which
    /// the parser builds in loops but the tree's consumers walk recursively.
    height: usize,
    /// In an `if`/`while` condition, `match` scrutinee or `for` iterable, where
    /// `IDENT {` starts the body rather than a record literal.
    no_record: bool,
}

/// The parser state an error may leave unbalanced, restored when recovering.
#[derive(Copy, Clone)]
struct Mark {
    depth: usize,
    height: usize,
    no_record: bool,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, tokens: Vec<Token>) -> Parser<'s> {
        Parser { src, tokens, pos: 0, diagnostics: Vec::new(), depth: 0, height: 0, no_record: false }
    }

    // ----- tokens -----

    fn peek(&self) -> &TokenKind {
        &self.tokens[self.pos].kind
    }

    fn peek_at(&self, n: usize) -> &TokenKind {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].kind
    }

    fn at(&self, kind: &TokenKind) -> bool {
        self.peek() == kind
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].span
    }

    /// Where the last consumed token ended.
    fn prev_end(&self) -> u32 {
        if self.pos == 0 { 0 } else { self.tokens[self.pos - 1].span.end }
    }

    fn span_from(&self, start: u32) -> Span {
        Span { start, end: self.prev_end().max(start) }
    }

    fn bump(&mut self) -> Span {
        let span = self.span();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        span
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        let found = self.at(kind);
        if found {
            self.bump();
        }
        found
    }

    fn bump_is(&mut self, kind: &TokenKind) -> bool {
        let is = self.at(kind);
        self.bump();
        is
    }

    fn expect(&mut self, kind: &TokenKind) -> PResult<Span> {
        if self.at(kind) { Ok(self.bump()) } else { Err(self.expected(&format!("`{}`", kind.text().unwrap_or("?")))) }
    }

    /// Starts an item at top level or in an experiment; `let`/`var` are left
    /// out because they also start statements.
    fn at_item_keyword(&self) -> bool {
        use TokenKind::*;
        match self.peek() {
            Type | Enum | Overridable | Migrate | Forget | Experiment | Graduate => true,
            // `fn(` is a function type, `fn NAME` a definition.
            Fn => self.peek_at(1) == &Ident,
            _ => false,
        }
    }

    // ----- errors and limits -----

    fn found(&self) -> String {
        let token = &self.tokens[self.pos];
        match token.kind {
            TokenKind::Eof => "end of input".into(),
            TokenKind::Str(_) => "a string".into(),
            _ => {
                let text = &self.src[token.span.range()];
                match text.char_indices().nth(40) {
                    Some((cut, _)) => format!("`{}…`", &text[..cut]),
                    None => format!("`{text}`"),
                }
            }
        }
    }

    #[inline(never)]
    fn error(&mut self, diagnostic: Diagnostic) -> Reported {
        // One mistake often trips several enclosing rules at the same token.
        let repeated = self.diagnostics.last().is_some_and(|d| d.span.start == diagnostic.span.start);
        if !repeated {
            self.diagnostics.push(diagnostic);
        }
        Reported
    }

    #[inline(never)]
    fn expected(&mut self, what: &str) -> Reported {
        let message = format!("syntax error: expected {what}, found {}", self.found());
        let diagnostic = Diagnostic::new(message, self.span()).with_label(format!("expected {what}"));
        self.error(diagnostic)
    }

    #[inline(never)]
    fn too_deep(&mut self) -> Reported {
        let diagnostic = Diagnostic::new("syntax error: nesting too deep", self.span())
            .with_label(format!("more than {MAX_DEPTH} levels of nesting"));
        self.error(diagnostic)
    }

    /// One level deeper into the parser's recursion; paired with `leave`
    /// on success, while an error's recovery resets the counters.
    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_DEPTH || self.height >= MAX_HEIGHT {
            return Err(self.too_deep());
        }
        self.depth += 1;
        self.height += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
        self.height -= 1;
    }

    /// One more link in a chain; the caller takes its links off `height`.
    fn link(&mut self) -> PResult<()> {
        if self.height >= MAX_HEIGHT {
            return Err(self.too_deep());
        }
        self.height += 1;
        Ok(())
    }

    /// Allows or forbids bare record literals; returns the old setting.
    fn allow_records(&mut self, allowed: bool) -> bool {
        std::mem::replace(&mut self.no_record, !allowed)
    }

    fn mark(&self) -> Mark {
        Mark { depth: self.depth, height: self.height, no_record: self.no_record }
    }

    /// After an error in the item or statement that began at token `start`
    /// with state `mark`, skips to where the next one can begin: past a `;`
    /// or the `}` closing the broken construct, or before an item keyword,
    /// `let` or `var`. `in_braces`: a `}` the construct did not open ends the
    /// enclosing block or experiment and is left for it.
    fn recover(&mut self, start: usize, mark: Mark, in_braces: bool) {
        use TokenKind::*;
        self.depth = mark.depth;
        self.height = mark.height;
        self.no_record = mark.no_record;
        if self.pos == start && !self.at(&Eof) {
            self.bump();
        }
        let mut open = Vec::new();
        for token in &self.tokens[start..self.pos] {
            match token.kind {
                LParen | LBracket | LBrace => open.push(token.kind.clone()),
                RParen | RBracket | RBrace => close(&mut open, &token.kind),
                _ => {}
            }
        }
        loop {
            let in_block = open.contains(&LBrace);
            match self.peek() {
                Eof => return,
                _ if self.at_item_keyword() => return,
                Let | Var if !in_block => return,
                Semi if !in_block => {
                    self.bump();
                    return;
                }
                RBrace if !in_block => {
                    if !in_braces {
                        self.bump();
                    }
                    return;
                }
                RBrace => {
                    close(&mut open, &RBrace);
                    self.bump();
                    if open.is_empty() {
                        return;
                    }
                }
                kind @ (RParen | RBracket) => {
                    let kind = kind.clone();
                    close(&mut open, &kind);
                    self.bump();
                }
                kind @ (LParen | LBracket | LBrace) => {
                    open.push(kind.clone());
                    self.bump();
                }
                _ => {
                    self.bump();
                }
            }
        }

        /// Closes the innermost matching opener; a `}` also closes the
        /// unbalanced `(`/`[` inside it, a stray `)`/`]` closes nothing.
        fn close(open: &mut Vec<TokenKind>, kind: &TokenKind) {
            if *kind == RBrace {
                if let Some(i) = open.iter().rposition(|k| *k == LBrace) {
                    open.truncate(i);
                }
            } else if open.last().map(closer).as_ref() == Some(kind) {
                open.pop();
            }
        }
    }

    // ----- items -----

    fn program(&mut self) -> Program {
        let mut items = Vec::new();
        while !self.at(&TokenKind::Eof) {
            if self.eat(&TokenKind::Semi) {
                continue;
            }
            let (start, mark) = (self.pos, self.mark());
            match self.item() {
                Ok(item) => items.push(item),
                Err(Reported) => self.recover(start, mark, false),
            }
        }
        Program { items }
    }

    fn item(&mut self) -> PResult<Item> {
        use TokenKind::*;
        match self.peek() {
            Fn | Overridable => self.fn_def().map(Item::Fn),
            Type => self.type_def().map(Item::Type),
            Enum => self.enum_def().map(Item::Enum),
            Let | Var => self.global().map(Item::Global),
            Migrate => self.migrate().map(Item::Migrate),
            Forget | Graduate => {
                let forget = self.bump_is(&Forget);
                let name = self.ident("a name")?;
                self.item_end()?;
                Ok(if forget { Item::Forget(name) } else { Item::Graduate(name) })
            }
            Experiment => self.experiment().map(Item::Experiment),
            // The REPL echoes maps, so a top-level `{}` / `{k: v}` is one.
            LBrace if !self.map_ahead() => self.block_expr().map(|e| self.block_like_item(e)),
            If | While | For | Match => self.block_like().map(|e| self.block_like_item(e)),
            _ => {
                let expr = self.expr()?;
                self.item_end()?;
                Ok(Item::Expr(expr))
            }
        }
    }

    fn block_like_item(&mut self, expr: Expr) -> Item {
        self.eat(&TokenKind::Semi);
        Item::Expr(expr)
    }

    /// The `;` after a top-level item, optional at the very end of the input.
    /// The `;` after a `let`, `var`, `forget` or `graduate` item. It may be
    /// left out at the end of the input (SPEC 2) and — as the conformance
    /// case `serve/basic.sh` writes a file — before an item that starts on
    /// a new line: `var hits: int = 0` then `fn handle(...)`. No expression
    /// continues with an item keyword, so this is never ambiguous.
    fn item_end(&mut self) -> PResult<()> {
        if self.eat(&TokenKind::Semi) || self.at(&TokenKind::Eof) {
            return Ok(());
        }
        let on_new_line = self.src[self.prev_end() as usize..self.span().start as usize].contains('\n');
        let item_follows = self.at_item_keyword() || self.at(&TokenKind::Var) || self.at(&TokenKind::Let);
        if on_new_line && item_follows { Ok(()) } else { Err(self.expected("`;`")) }
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        if self.at(&TokenKind::Ident) {
            let span = self.bump();
            Ok(Ident { name: self.src[span.range()].to_string(), span })
        } else {
            Err(self.expected(what))
        }
    }

    /// A name that may also be `_` (parameters, locals, loop variables).
    fn binder(&mut self, what: &str) -> PResult<Ident> {
        if self.at(&TokenKind::Underscore) {
            let span = self.bump();
            return Ok(Ident { name: "_".into(), span });
        }
        self.ident(what)
    }

    /// `item (, item)* [,] close`, after the opening token.
    fn list<T>(&mut self, close: TokenKind, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        let mut items = Vec::new();
        loop {
            if self.eat(&close) {
                return Ok(items);
            }
            items.push(item(self)?);
            if self.eat(&TokenKind::Comma) {
                continue;
            }
            if self.eat(&close) {
                return Ok(items);
            }
            return Err(self.expected(&format!("`,` or `{}`", close.text().unwrap_or("?"))));
        }
    }

    fn fn_def(&mut self) -> PResult<FnDef> {
        let start = self.span().start;
        let overridable = self.eat(&TokenKind::Overridable);
        self.expect(&TokenKind::Fn)?;
        let name = self.ident("a function name")?;
        self.expect(&TokenKind::LParen)?;
        let params = self.list(TokenKind::RParen, |p| {
            let name = p.binder("a parameter name")?;
            p.expect(&TokenKind::Colon)?;
            let ty = p.ty()?;
            Ok(Param { name, ty })
        })?;
        let ret = if self.eat(&TokenKind::Arrow) { Some(self.ty()?) } else { None };
        let body = self.block()?;
        Ok(FnDef { overridable, name, params, ret, body, span: self.span_from(start) })
    }

    fn type_def(&mut self) -> PResult<TypeDef> {
        let start = self.bump().start;
        let name = self.ident("a type name")?;
        self.expect(&TokenKind::LBrace)?;
        let fields = self.list(TokenKind::RBrace, |p| {
            let name = p.ident("a field name")?;
            p.expect(&TokenKind::Colon)?;
            let ty = p.ty()?;
            let default = if p.eat(&TokenKind::Eq) { Some(p.expr()?) } else { None };
            Ok(FieldDef { name, ty, default })
        })?;
        Ok(TypeDef { name, fields, span: self.span_from(start) })
    }

    fn enum_def(&mut self) -> PResult<EnumDef> {
        let start = self.bump().start;
        let name = self.ident("an enum name")?;
        self.expect(&TokenKind::LBrace)?;
        let variants = self.list(TokenKind::RBrace, |p| {
            let name = p.ident("a variant name")?;
            let payload = if p.eat(&TokenKind::LParen) { p.list(TokenKind::RParen, Self::ty)? } else { Vec::new() };
            Ok(VariantDef { name, payload })
        })?;
        Ok(EnumDef { name, variants, span: self.span_from(start) })
    }

    fn global(&mut self) -> PResult<GlobalDef> {
        let start = self.span().start;
        let mutable = self.bump_is(&TokenKind::Var);
        let name = self.ident("a name")?;
        let ty = if self.eat(&TokenKind::Colon) { Some(self.ty()?) } else { None };
        self.expect(&TokenKind::Eq)?;
        let init = self.expr()?;
        let span = self.span_from(start);
        self.item_end()?;
        Ok(GlobalDef { mutable, name, ty, init, span })
    }

    fn migrate(&mut self) -> PResult<MigrateDef> {
        let start = self.bump().start;
        let type_name = self.ident("a type name")?;
        self.expect(&TokenKind::LParen)?;
        let param = self.binder("a parameter name")?;
        self.expect(&TokenKind::RParen)?;
        let body = self.block()?;
        Ok(MigrateDef { type_name, param, body, span: self.span_from(start) })
    }

    fn experiment(&mut self) -> PResult<ExperimentDef> {
        // Nested experiments are the checker's to refuse, but they recurse.
        self.enter()?;
        let start = self.bump().start;
        let name = self.ident("an experiment name")?;
        let traffic = if self.eat(&TokenKind::LParen) { Some(self.traffic()?) } else { None };
        self.expect(&TokenKind::LBrace)?;
        let mut items = Vec::new();
        loop {
            match self.peek() {
                TokenKind::RBrace => {
                    self.bump();
                    break;
                }
                TokenKind::Eof => return Err(self.expected("`}`")),
                TokenKind::Semi => {
                    self.bump();
                }
                _ => {
                    let (item_start, mark) = (self.pos, self.mark());
                    match self.item() {
                        Ok(item) => items.push(item),
                        Err(Reported) => self.recover(item_start, mark, true),
                    }
                }
            }
        }
        self.leave();
        Ok(ExperimentDef { name, traffic, items, span: self.span_from(start) })
    }

    /// `traffic: P)`, after the `(`; `traffic` is an ordinary identifier.
    fn traffic(&mut self) -> PResult<(i64, Span)> {
        let key = self.ident("`traffic`")?;
        if key.name != "traffic" {
            let message = format!("syntax error: expected `traffic`, found `{}`", key.name);
            return Err(self.error(Diagnostic::new(message, key.span).with_label("expected `traffic`")));
        }
        self.expect(&TokenKind::Colon)?;
        let &TokenKind::Int(value) = self.peek() else {
            return Err(self.expected("a percentage"));
        };
        let span = self.bump();
        let value = self.int_literal(value, false, span);
        self.expect(&TokenKind::RParen)?;
        Ok((value, span))
    }

    /// The literal's value, reporting (and replacing by 0) one out of range.
    #[inline(never)]
    fn int_literal(&mut self, value: Option<u64>, negated: bool, span: Span) -> i64 {
        int_value(value, negated).unwrap_or_else(|| {
            let diagnostic = Diagnostic::new("syntax error: integer literal out of range", span)
                .with_label("does not fit in a 64-bit signed integer");
            self.error(diagnostic);
            0
        })
    }

    // ----- types -----

    fn ty(&mut self) -> PResult<TypeExpr> {
        self.enter()?;
        let start = self.span().start;
        let kind = self.ty_kind()?;
        self.leave();
        Ok(TypeExpr { kind, span: self.span_from(start) })
    }

    fn ty_kind(&mut self) -> PResult<TypeExprKind> {
        Ok(match self.peek() {
            TokenKind::Ident => TypeExprKind::Named(self.ident("a type")?.name),
            TokenKind::LParen => {
                self.bump();
                self.expect(&TokenKind::RParen)?;
                TypeExprKind::Unit
            }
            TokenKind::LBracket => {
                self.bump();
                let element = self.ty()?;
                self.expect(&TokenKind::RBracket)?;
                TypeExprKind::Vec(Box::new(element))
            }
            TokenKind::LBrace => {
                self.bump();
                let key = self.ty()?;
                self.expect(&TokenKind::Colon)?;
                let value = self.ty()?;
                self.expect(&TokenKind::RBrace)?;
                TypeExprKind::Map(Box::new(key), Box::new(value))
            }
            TokenKind::Fn => {
                self.bump();
                self.expect(&TokenKind::LParen)?;
                let params = self.list(TokenKind::RParen, Self::ty)?;
                let ret = if self.eat(&TokenKind::Arrow) { Some(Box::new(self.ty()?)) } else { None };
                TypeExprKind::Fn(params, ret)
            }
            _ => return Err(self.expected("a type")),
        })
    }

    // ----- blocks and statements -----

    /// `{ stmt; ... tail }`. Frames on this path are kept small: the depth
    /// limit is only as good as the stack each level costs.
    fn block(&mut self) -> PResult<Block> {
        self.enter()?;
        let saved = self.allow_records(true);
        let start = self.expect(&TokenKind::LBrace)?.start;
        let mut stmts = Vec::new();
        let mut tail = None;
        loop {
            match self.peek() {
                TokenKind::RBrace => {
                    self.bump();
                    break;
                }
                TokenKind::Eof => return Err(self.expected("`}`")),
                TokenKind::Semi => {
                    self.bump();
                    continue;
                }
                // Most likely the block was never closed.
                _ if self.at_item_keyword() => return Err(self.expected("`}`")),
                _ => {}
            }
            let (stmt_start, mark) = (self.pos, self.mark());
            match self.stmt() {
                Ok(Parsed::Stmt(stmt)) => stmts.push(stmt),
                Ok(Parsed::Tail(expr)) => tail = Some(Box::new(expr)),
                Err(Reported) => self.recover(stmt_start, mark, true),
            }
        }
        self.no_record = saved;
        self.leave();
        Ok(Block { stmts, tail, span: self.span_from(start) })
    }

    fn stmt(&mut self) -> PResult<Parsed> {
        match self.peek() {
            TokenKind::Let | TokenKind::Var => self.local(),
            TokenKind::If | TokenKind::While | TokenKind::For | TokenKind::Match | TokenKind::LBrace => {
                self.block_like_stmt()
            }
            _ => self.expr_stmt(),
        }
    }

    #[inline(never)]
    fn expr_stmt(&mut self) -> PResult<Parsed> {
        let expr = self.expr()?;
        if self.eat(&TokenKind::Semi) {
            Ok(Parsed::Stmt(Stmt::Expr(expr)))
        } else if self.at(&TokenKind::RBrace) {
            Ok(Parsed::Tail(expr))
        } else {
            Err(self.expected("`;` or `}`"))
        }
    }

    /// In statement position `{` is always a block, and a block-like
    /// expression needs no `;`.
    fn block_like_stmt(&mut self) -> PResult<Parsed> {
        let expr = if self.at(&TokenKind::LBrace) { self.block_expr()? } else { self.block_like()? };
        Ok(if !self.eat(&TokenKind::Semi) && self.at(&TokenKind::RBrace) {
            Parsed::Tail(expr)
        } else {
            Parsed::Stmt(Stmt::Expr(expr))
        })
    }

    #[inline(never)]
    fn local(&mut self) -> PResult<Parsed> {
        let start = self.span().start;
        let mutable = self.bump_is(&TokenKind::Var);
        let name = self.binder("a name")?;
        let ty = if self.eat(&TokenKind::Colon) { Some(self.ty()?) } else { None };
        self.expect(&TokenKind::Eq)?;
        let init = self.expr()?;
        let span = self.span_from(start);
        self.expect(&TokenKind::Semi)?;
        Ok(Parsed::Stmt(Stmt::Local { mutable, name, ty, init, span }))
    }

    fn block_expr(&mut self) -> PResult<Expr> {
        let block = self.block()?;
        Ok(Expr { span: block.span, kind: ExprKind::Block(block) })
    }

    /// `if`, `while`, `for` or `match`, which end at their closing brace.
    #[inline(never)]
    fn block_like(&mut self) -> PResult<Expr> {
        match self.peek() {
            TokenKind::If => self.if_expr(),
            TokenKind::While => self.while_expr(),
            TokenKind::For => self.for_expr(),
            _ => self.match_expr(),
        }
    }

    /// Whether the `{` at the cursor opens a map literal: `{}`, or a first
    /// expression followed by `:` (a block's first statement has none at its
    /// own level, unless it begins like a statement or a closure).
    fn map_ahead(&self) -> bool {
        use TokenKind::*;
        match self.peek_at(1) {
            RBrace => return true,
            Let | Var | If | While | For | Match | LBrace | Return | Break | Continue | Pipe | OrOr | Semi => {
                return false;
            }
            _ => {}
        }
        let mut depth = 0usize;
        for token in &self.tokens[self.pos + 1..] {
            match token.kind {
                LParen | LBracket | LBrace => depth += 1,
                RParen | RBracket | RBrace if depth == 0 => return false,
                RParen | RBracket | RBrace => depth -= 1,
                Colon if depth == 0 => return true,
                Semi | FatArrow if depth == 0 => return false,
                _ => {}
            }
        }
        false
    }

    // ----- expressions -----

    /// A full expression: assignment is the loosest and right-associative.
    fn expr(&mut self) -> PResult<Expr> {
        let first = self.binary(0)?;
        if assign_op(self.peek()).is_some() { self.assignment(first) } else { Ok(first) }
    }

    #[inline(never)]
    fn assignment(&mut self, first: Expr) -> PResult<Expr> {
        let mut operands = vec![first];
        let mut ops = Vec::new();
        while let Some(op) = assign_op(self.peek()) {
            self.link()?;
            self.bump();
            ops.push(op);
            operands.push(self.binary(0)?);
        }
        self.height -= ops.len();
        let mut value = operands.pop().expect("at least one operand");
        while let (Some(target), Some(op)) = (operands.pop(), ops.pop()) {
            let span = target.span.to(value.span);
            value = Expr { kind: ExprKind::Assign { op, target: Box::new(target), value: Box::new(value) }, span };
        }
        Ok(value)
    }

    /// Operators binding at least as tightly as `min`; recursion depth is
    /// bounded by the number of precedence levels.
    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        let mut links = 0;
        while let Some((op, prec)) = binary_op(self.peek()) {
            if prec < min {
                break;
            }
            self.link()?;
            links += 1;
            self.bump();
            let rhs = self.binary(prec + 1)?;
            if prec == CMP_PREC {
                self.not_chained()?;
            }
            lhs = binary_node(op, lhs, rhs);
        }
        self.height -= links;
        Ok(lhs)
    }

    /// Comparisons are non-associative: `a < b < c` is an error.
    fn not_chained(&mut self) -> PResult<()> {
        if binary_op(self.peek()).is_none_or(|(_, prec)| prec != CMP_PREC) {
            return Ok(());
        }
        let diagnostic = Diagnostic::new("syntax error: comparison operators cannot be chained", self.span())
            .with_label("second comparison")
            .with_hint("split it with `&&`, as in `a < b && b < c`");
        Err(self.error(diagnostic))
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let expr = match self.peek() {
            TokenKind::Minus | TokenKind::Bang => self.prefixed()?,
            _ => self.postfix()?,
        };
        self.leave();
        Ok(expr)
    }

    #[inline(never)]
    fn prefixed(&mut self) -> PResult<Expr> {
        let op = if self.at(&TokenKind::Minus) { UnOp::Neg } else { UnOp::Not };
        let start = self.bump().start;
        // A negative literal is one value, which is how `-9223372036854775808` fits.
        if op == UnOp::Neg
            && let &TokenKind::Int(value) = self.peek()
            && !matches!(self.peek_at(1), TokenKind::LParen | TokenKind::LBracket | TokenKind::Dot)
        {
            self.bump();
            let span = self.span_from(start);
            let value = self.int_literal(value, true, span);
            return Ok(Expr { kind: ExprKind::Int(value), span });
        }
        let operand = self.unary()?;
        Ok(Expr { kind: ExprKind::Unary(op, Box::new(operand)), span: self.span_from(start) })
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut expr = self.primary()?;
        let mut links = 0;
        while matches!(self.peek(), TokenKind::LParen | TokenKind::LBracket | TokenKind::Dot) {
            self.link()?;
            links += 1;
            expr = self.postfix_op(expr)?;
        }
        self.height -= links;
        Ok(expr)
    }

    #[inline(never)]
    fn postfix_op(&mut self, base: Expr) -> PResult<Expr> {
        match self.peek() {
            TokenKind::LParen => self.call(base),
            TokenKind::LBracket => self.index(base),
            _ => self.field(base),
        }
    }

    fn call(&mut self, callee: Expr) -> PResult<Expr> {
        self.bump();
        let saved = self.allow_records(true);
        let args = self.list(TokenKind::RParen, Self::expr)?;
        self.no_record = saved;
        let span = self.span_from(callee.span.start);
        Ok(Expr { kind: ExprKind::Call { callee: Box::new(callee), args }, span })
    }

    fn index(&mut self, base: Expr) -> PResult<Expr> {
        self.bump();
        let saved = self.allow_records(true);
        let index = self.expr()?;
        self.no_record = saved;
        self.expect(&TokenKind::RBracket)?;
        let span = self.span_from(base.span.start);
        Ok(Expr { kind: ExprKind::Index(Box::new(base), Box::new(index)), span })
    }

    fn field(&mut self, base: Expr) -> PResult<Expr> {
        self.bump();
        let field = self.ident("a field name")?;
        let span = self.span_from(base.span.start);
        Ok(Expr { kind: ExprKind::Field(Box::new(base), field), span })
    }

    fn primary(&mut self) -> PResult<Expr> {
        use TokenKind::*;
        match self.peek() {
            Int(_) | Float(_) | Str(_) | True | False => self.literal(),
            Ident => self.name_expr(),
            LParen => self.paren(),
            LBracket => self.vec_lit(),
            LBrace if self.map_ahead() => self.map_lit(),
            LBrace => self.block_expr(),
            If | While | For | Match => self.block_like(),
            Pipe | OrOr => self.closure(),
            Return => self.return_expr(),
            Latest | Spawn => self.task_call(),
            Break | Continue => {
                let kind = if self.at(&Break) { ExprKind::Break } else { ExprKind::Continue };
                Ok(Expr { kind, span: self.bump() })
            }
            _ => Err(self.expected("an expression")),
        }
    }

    #[inline(never)]
    fn literal(&mut self) -> PResult<Expr> {
        let span = self.bump();
        let kind = match &self.tokens[self.pos - 1].kind {
            &TokenKind::Int(value) => ExprKind::Int(self.int_literal(value, false, span)),
            &TokenKind::Float(value) => ExprKind::Float(value),
            TokenKind::Str(text) => ExprKind::Str(text.clone()),
            kind => ExprKind::Bool(*kind == TokenKind::True),
        };
        Ok(Expr { kind, span })
    }

    /// A name, an `Enum::Variant` path, or a record literal.
    #[inline(never)]
    fn name_expr(&mut self) -> PResult<Expr> {
        let name = self.ident("a name")?;
        if self.eat(&TokenKind::ColonColon) {
            let variant = self.ident("a variant name")?;
            let span = name.span.to(variant.span);
            Ok(Expr { kind: ExprKind::Path(name, variant), span })
        } else if self.at(&TokenKind::LBrace) && !self.no_record {
            self.record_lit(name)
        } else {
            Ok(Expr { span: name.span, kind: ExprKind::Name(name) })
        }
    }

    /// `()` or `(e)`; the parentheses become part of `e`'s span.
    fn paren(&mut self) -> PResult<Expr> {
        let start = self.bump().start;
        if self.eat(&TokenKind::RParen) {
            return Ok(Expr { kind: ExprKind::Unit, span: self.span_from(start) });
        }
        let saved = self.allow_records(true);
        let inner = self.expr()?;
        self.no_record = saved;
        self.expect(&TokenKind::RParen)?;
        Ok(Expr { kind: inner.kind, span: self.span_from(start) })
    }

    #[inline(never)]
    fn vec_lit(&mut self) -> PResult<Expr> {
        let start = self.bump().start;
        let saved = self.allow_records(true);
        let elements = self.list(TokenKind::RBracket, Self::expr)?;
        self.no_record = saved;
        Ok(Expr { kind: ExprKind::VecLit(elements), span: self.span_from(start) })
    }

    #[inline(never)]
    fn map_lit(&mut self) -> PResult<Expr> {
        let start = self.bump().start;
        let saved = self.allow_records(true);
        let entries = self.list(TokenKind::RBrace, |p| {
            let key = p.expr()?;
            p.expect(&TokenKind::Colon)?;
            Ok((key, p.expr()?))
        })?;
        self.no_record = saved;
        Ok(Expr { kind: ExprKind::MapLit(entries), span: self.span_from(start) })
    }

    #[inline(never)]
    fn return_expr(&mut self) -> PResult<Expr> {
        let start = self.bump().start;
        let value = if can_start_expr(self.peek()) { Some(Box::new(self.expr()?)) } else { None };
        Ok(Expr { kind: ExprKind::Return(value), span: self.span_from(start) })
    }

    /// `latest CALL`, `spawn CALL` or `spawn loop CALL`.
    #[inline(never)]
    fn task_call(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        let latest = self.bump_is(&TokenKind::Latest);
        let is_loop = !latest && self.eat(&TokenKind::Loop);
        // The prefix takes the call only: `latest f(x).y` is
        // `(latest f(x)).y`, the field read from what the call returns.
        let callee = self.primary()?;
        let call = Box::new(if self.at(&TokenKind::LParen) { self.call(callee)? } else { callee });
        if !matches!(call.kind, ExprKind::Call { .. }) {
            let keyword = if latest {
                "latest"
            } else if is_loop {
                "spawn loop"
            } else {
                "spawn"
            };
            let diagnostic =
                Diagnostic::new(format!("syntax error: `{keyword}` must be followed by a call"), call.span)
                    .with_label("not a call")
                    .with_hint(format!("write `{keyword} f(args)`"));
            self.error(diagnostic);
        }
        let kind = if latest { ExprKind::Latest(call) } else { ExprKind::Spawn { is_loop, call } };
        Ok(Expr { kind, span: self.span_from(start) })
    }

    /// `Name { f: e, g, ..base }`, the name already read.
    #[inline(never)]
    fn record_lit(&mut self, name: Ident) -> PResult<Expr> {
        self.bump();
        let saved = self.allow_records(true);
        let mut fields = Vec::new();
        let mut base = None;
        loop {
            if self.eat(&TokenKind::RBrace) {
                break;
            }
            if self.eat(&TokenKind::DotDot) {
                base = Some(Box::new(self.expr()?));
                self.expect(&TokenKind::RBrace)?;
                break;
            }
            let field = self.ident("a field name")?;
            // `P { x }` is short for `P { x: x }`, as in Rust.
            let value = if self.eat(&TokenKind::Colon) {
                self.expr()?
            } else {
                Expr { span: field.span, kind: ExprKind::Name(field.clone()) }
            };
            fields.push((field, value));
            if !self.eat(&TokenKind::Comma) && !self.at(&TokenKind::RBrace) {
                return Err(self.expected("`,` or `}`"));
            }
        }
        self.no_record = saved;
        let span = self.span_from(name.span.start);
        Ok(Expr { kind: ExprKind::RecordLit { name, fields, base }, span })
    }

    #[inline(never)]
    fn closure(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        let params = if self.eat(&TokenKind::OrOr) {
            Vec::new()
        } else {
            self.bump();
            self.list(TokenKind::Pipe, |p| {
                let name = p.binder("a parameter name")?;
                let ty = if p.eat(&TokenKind::Colon) { Some(p.ty()?) } else { None };
                Ok((name, ty))
            })?
        };
        // `|x| {}` does nothing; it is not an empty map.
        let body = if self.at(&TokenKind::LBrace) && self.peek_at(1) == &TokenKind::RBrace {
            self.block_expr()?
        } else {
            self.expr()?
        };
        Ok(Expr { kind: ExprKind::Closure { params, body: Box::new(body) }, span: self.span_from(start) })
    }

    /// A condition, scrutinee or iterable: no bare record literal.
    fn head_expr(&mut self) -> PResult<Expr> {
        let saved = self.allow_records(false);
        let expr = self.expr()?;
        self.no_record = saved;
        Ok(expr)
    }

    /// `if c {} else if d {} else {}`: the `else if` chain is read in a loop,
    /// so it costs no parser recursion, only tree height.
    #[inline(never)]
    fn if_expr(&mut self) -> PResult<Expr> {
        let mut branches = Vec::new();
        let else_ = loop {
            self.link()?;
            branches.push(self.if_branch()?);
            if !self.eat(&TokenKind::Else) {
                break None;
            }
            if !self.at(&TokenKind::If) {
                break Some(self.block_expr()?);
            }
        };
        self.height -= branches.len();
        let end = self.prev_end();
        let mut expr = else_;
        while let Some((start, cond, then)) = branches.pop() {
            let kind = ExprKind::If { cond: Box::new(cond), then, else_: expr.take().map(Box::new) };
            expr = Some(Expr { kind, span: Span { start, end } });
        }
        Ok(expr.expect("at least one branch"))
    }

    /// `if c { ... }`: where it starts, the condition and the block.
    fn if_branch(&mut self) -> PResult<(u32, Expr, Block)> {
        let start = self.bump().start;
        let cond = self.head_expr()?;
        Ok((start, cond, self.block()?))
    }

    #[inline(never)]
    fn while_expr(&mut self) -> PResult<Expr> {
        let start = self.bump().start;
        let cond = self.head_expr()?;
        let body = self.block()?;
        Ok(Expr { kind: ExprKind::While { cond: Box::new(cond), body }, span: self.span_from(start) })
    }

    #[inline(never)]
    fn for_expr(&mut self) -> PResult<Expr> {
        let start = self.bump().start;
        let var = self.binder("a loop variable")?;
        self.expect(&TokenKind::In)?;
        let first = self.head_expr()?;
        let iter = if self.eat(&TokenKind::DotDot) {
            ForIter::Range(Box::new(first), Box::new(self.head_expr()?))
        } else {
            ForIter::Expr(Box::new(first))
        };
        let body = self.block()?;
        Ok(Expr { kind: ExprKind::For { var, iter, body }, span: self.span_from(start) })
    }

    #[inline(never)]
    fn match_expr(&mut self) -> PResult<Expr> {
        // Arms that are themselves `match`es recurse without passing a block.
        self.enter()?;
        let start = self.bump().start;
        let scrutinee = self.head_expr()?;
        self.expect(&TokenKind::LBrace)?;
        let saved = self.allow_records(true);
        let mut arms = Vec::new();
        while !self.eat(&TokenKind::RBrace) {
            let arm = self.arm()?;
            let block_like = is_block_like(&arm.body.kind);
            arms.push(arm);
            if !self.eat(&TokenKind::Comma) && !self.at(&TokenKind::RBrace) && !block_like {
                return Err(self.expected("`,` or `}`"));
            }
        }
        self.no_record = saved;
        self.leave();
        Ok(Expr { kind: ExprKind::Match { scrutinee: Box::new(scrutinee), arms }, span: self.span_from(start) })
    }

    /// `PAT => EXPR`. As in Rust, a body that starts like a block ends with
    /// it; `=> {}` is an empty block, not an empty map.
    fn arm(&mut self) -> PResult<Arm> {
        let pat = self.pattern()?;
        self.expect(&TokenKind::FatArrow)?;
        let body = match self.peek() {
            TokenKind::If | TokenKind::While | TokenKind::For | TokenKind::Match => self.block_like()?,
            TokenKind::LBrace if self.peek_at(1) == &TokenKind::RBrace || !self.map_ahead() => self.block_expr()?,
            _ => self.expr()?,
        };
        Ok(Arm { span: pat.span.to(body.span), pat, body })
    }

    // ----- patterns -----

    fn pattern(&mut self) -> PResult<Pattern> {
        self.enter()?;
        let start = self.span().start;
        let kind = self.pattern_kind()?;
        self.leave();
        Ok(Pattern { kind, span: self.span_from(start) })
    }

    fn pattern_kind(&mut self) -> PResult<PatternKind> {
        let start = self.span().start;
        Ok(match self.peek() {
            TokenKind::Underscore => {
                self.bump();
                PatternKind::Wildcard
            }
            &TokenKind::Int(value) => {
                let span = self.bump();
                PatternKind::Int(self.int_literal(value, false, span))
            }
            TokenKind::Minus => {
                self.bump();
                let &TokenKind::Int(value) = self.peek() else {
                    return Err(self.expected("an integer"));
                };
                self.bump();
                let span = self.span_from(start);
                PatternKind::Int(self.int_literal(value, true, span))
            }
            TokenKind::Str(text) => {
                let text = text.clone();
                self.bump();
                PatternKind::Str(text)
            }
            TokenKind::True | TokenKind::False => PatternKind::Bool(self.bump_is(&TokenKind::True)),
            TokenKind::Ident => {
                let name = self.ident("a pattern")?;
                if !self.eat(&TokenKind::ColonColon) {
                    return Ok(PatternKind::Bind(name));
                }
                let variant = self.ident("a variant name")?;
                let args = if self.eat(&TokenKind::LParen) {
                    self.list(TokenKind::RParen, Self::pattern)?
                } else {
                    Vec::new()
                };
                PatternKind::Variant { enum_name: name, variant, args }
            }
            _ => return Err(self.expected("a pattern")),
        })
    }
}

fn binary_node(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span }
}
