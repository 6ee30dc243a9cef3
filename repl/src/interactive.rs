//! The interactive REPL: rustyline for editing (multi-line input while
//! brackets are open, persistent history, completion), Ctrl-C to interrupt
//! a running evaluation. Every input goes through the same session as
//! transcripts do.

use crate::commands;
use crate::session::Session;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Editing help: completion of names and commands, and "keep reading"
/// while the input is incomplete (open brackets or string).
struct StrataHelper {
    names: Arc<Mutex<Vec<String>>>,
}

impl Completer for StrataHelper {
    type Candidate = String;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<String>)> {
        let before = &line[..pos];
        let start = before.rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).map_or(0, |i| i + 1);
        let word = &before[start..];
        let mut out: Vec<String> = if word.starts_with(':') {
            commands::COMMANDS.iter().map(|(c, _)| c.to_string()).filter(|c| c.starts_with(word)).collect()
        } else if word.is_empty() {
            Vec::new()
        } else {
            let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
            let builtins = lang::hir::Builtin::ALL.iter().map(|(n, _)| n.to_string());
            names.iter().cloned().chain(builtins).filter(|n| n.starts_with(word)).collect()
        };
        out.sort();
        out.dedup();
        Ok((start, out))
    }
}

impl Hinter for StrataHelper {
    type Hint = String;
}

impl Highlighter for StrataHelper {}

impl Validator for StrataHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if !input.trim_start().starts_with(':') && lang::parser::is_incomplete(input) {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Helper for StrataHelper {}

/// `$XDG_DATA_HOME/strata/history` (or `~/.local/share/strata/history`).
fn history_path() -> Option<PathBuf> {
    // An empty XDG_DATA_HOME counts as unset (XDG base directory spec).
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("strata").join("history"))
}

/// Turns SIGINT during an evaluation into an interrupt of that evaluation.
/// (At the prompt the terminal is raw and rustyline sees Ctrl-C as a key.)
fn watch_ctrl_c(session: Arc<Session>) -> std::io::Result<()> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())?;
    std::thread::Builder::new().name("strata-ctrl-c".into()).spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(20));
            if flag.swap(false, Ordering::SeqCst) {
                session.interrupt();
            }
        }
    })?;
    Ok(())
}

pub fn run(config: crate::session::SessionConfig, image: Option<&std::path::Path>) -> ExitCode {
    use std::io::IsTerminal;
    let progress = std::io::stderr().is_terminal();
    let config = crate::session::SessionConfig { progress, ..config };
    let session = match Session::open_or_new(config, image.map(|p| (p, crate::session::Access::Bound))) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            crate::say::err!("{e}");
            return ExitCode::from(1);
        }
    };
    let _server = image.and_then(|image| {
        crate::attach::serve(&session, image)
            .map_err(|e| crate::say::err!("warning: `strata attach` will not reach this session: {e}"))
            .ok()
    });
    run_with(session)
}

/// The REPL loop on a session that already exists (`strata run IMAGE --repl`).
pub fn run_with(session: Arc<Session>) -> ExitCode {
    if let Err(e) = watch_ctrl_c(session.clone()) {
        crate::say::err!("warning: Ctrl-C will not interrupt evaluations: {e}");
    }
    let names = Arc::new(Mutex::new(Vec::new()));
    let mut editor: Editor<StrataHelper, DefaultHistory> = match Editor::new() {
        Ok(e) => e,
        Err(e) => {
            crate::say::err!("error: cannot start the line editor: {e}");
            return ExitCode::from(1);
        }
    };
    editor.set_helper(Some(StrataHelper { names: names.clone() }));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    crate::say::out!("Strata — :help for commands, Ctrl-D to quit");
    loop {
        *names.lock().unwrap_or_else(|e| e.into_inner()) = session.names();
        match editor.readline("strata> ") {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line.as_str());
                let input = line.trim();
                if input == ":quit" || input == ":q" {
                    break;
                }
                if input.starts_with(':') {
                    let text = commands::run(&session, input);
                    if !text.is_empty() {
                        crate::say::out!("{text}");
                    }
                    continue;
                }
                // Values and acknowledgements to stdout, errors to stderr.
                match session.input(&line, "<input>") {
                    Ok(o) => {
                        for l in o.ack.into_iter().chain(o.echo) {
                            crate::say::out!("{l}");
                        }
                    }
                    Err((ack, failure)) => {
                        if let Some(a) = ack {
                            crate::say::out!("{a}");
                        }
                        crate::say::err!("{failure}");
                    }
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => {
                crate::say::err!("error: reading input failed: {e}");
                break;
            }
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(h);
    }
    let running = session.tasks().iter().filter(|t| t.status == jit::tasks::Status::Running).count();
    if running > 0 {
        crate::say::err!("waiting for {running} running task(s) to finish (they see stop_requested())...");
    }
    session.shutdown();
    ExitCode::SUCCESS
}
