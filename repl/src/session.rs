//! One session: the single path every input takes — parse, check against the
//! newest world, commit, run the top-level expressions — shared by
//! `strata run`, the REPL and transcripts.

use jit::abi::{Output, RuntimeError};
use jit::eval::{EvalOptions, Interrupt, OwnedValue};
use jit::program::{CommitError, Program};
use lang::check::check_transaction;
use lang::diagnostic::render;
use std::sync::Arc;
use std::time::Duration;

/// How an input failed; `Display` gives the full user-facing message.
#[derive(Debug)]
pub enum Failure {
    /// Rendered check diagnostics (`error: ...` with snippets).
    Check(String),
    Runtime(RuntimeError),
    Internal(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Check(text) => write!(f, "{}", text.trim_end()),
            Failure::Runtime(e) => write!(f, "{}", render_runtime_error(e)),
            Failure::Internal(msg) => write!(f, "error: internal: {msg}"),
        }
    }
}

/// `error: MESSAGE` then one `  at FUNCTION (line N)` per Strata frame.
pub fn render_runtime_error(e: &RuntimeError) -> String {
    let mut s = format!("error: {}", e.message);
    for fr in &e.frames {
        s.push_str(&format!("\n  at {} (line {})", fr.function, fr.line));
        if fr.repeats > 0 {
            s.push_str(&format!("\n  ... the frame above repeated {} more times", fr.repeats));
        }
    }
    s
}

/// Where output of evaluations goes and how long they may run.
pub struct SessionConfig {
    pub output: Arc<dyn Fn() -> Box<dyn Output> + Send + Sync>,
    pub timeout: Option<Duration>,
}

pub struct Session {
    program: Program,
    config: SessionConfig,
    interrupt: Arc<Interrupt>,
}

impl Session {
    pub fn new(config: SessionConfig) -> Session {
        Session { program: Program::new(), config, interrupt: Arc::new(Interrupt::default()) }
    }

    fn options(&self) -> EvalOptions {
        EvalOptions { output: (self.config.output)(), timeout: self.config.timeout, interrupt: self.interrupt.clone() }
    }

    /// Whether the newest world defines a global function `name`.
    pub fn has_function(&self, name: &str) -> bool {
        self.program.newest().fns.contains_key(name)
    }

    /// Checks `source` against the newest world without committing it.
    pub fn check(&self, source: &str, source_name: &str) -> Result<(), Failure> {
        let src: Arc<str> = Arc::from(source);
        let (prog, diags) = lang::parser::parse(&src);
        if !diags.is_empty() {
            return Err(Failure::Check(render(&diags, source_name, &src)));
        }
        let world = self.program.newest();
        check_transaction(&prog, &src, &*world).map(|_| ()).map_err(|d| Failure::Check(render(&d, source_name, &src)))
    }

    /// Runs one transaction: commits its definitions, then runs its
    /// top-level expressions in order, each as its own evaluation; stops at
    /// the first failure. `on_value` sees each expression's value as it ends.
    pub fn eval(
        &mut self,
        source: &str,
        source_name: &str,
        mut on_value: impl FnMut(&OwnedValue),
    ) -> Result<(), Failure> {
        let src: Arc<str> = Arc::from(source);
        let (prog, diags) = lang::parser::parse(&src);
        if !diags.is_empty() {
            return Err(Failure::Check(render(&diags, source_name, &src)));
        }
        let world = self.program.newest();
        let checked = check_transaction(&prog, &src, &*world).map_err(|d| Failure::Check(render(&d, source_name, &src)))?;
        let (output, timeout, interrupt) = (self.config.output.clone(), self.config.timeout, self.interrupt.clone());
        let options = move || EvalOptions { output: output(), timeout, interrupt: interrupt.clone() };
        let committed = self.program.commit(&checked, &src, &options).map_err(|e| match e {
            CommitError::Codegen(msg) => Failure::Internal(msg),
            CommitError::Init { global, mut error } => {
                error.message = format!("{} (in the initialiser of `{global}`)", error.message);
                Failure::Runtime(error)
            }
        })?;
        for thunk in &committed.exprs {
            let v = self.program.run(thunk, self.options()).map_err(Failure::Runtime)?;
            on_value(&v);
        }
        Ok(())
    }
}
