//! A session bound to an image: opening one (its history and values
//! folded from the records, its newest world checked once and compiled,
//! its tasks brought back), exporting its newest world as source, and
//! `:save`. Writing each commit is the runtime's (`jit::image`).

use super::{Engine, Session, SessionConfig, deps};
use jit::image::format::{DefKind, DefRecord};
use jit::image::replay::{Replayed, newest_defs};
use jit::image::{ImageFile, Journal, frame};
use lang::diagnostic::render;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// How an image is opened.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Locked, every commit written to it; its service tasks restart.
    Bound,
    /// Read as it is, never written (`--eval`, `export`); tasks stay still.
    ReadOnly,
}

/// The newest world's definitions as one source text for checking: each
/// definition's own text, but globals as `var NAME: TYPE = 0;` — their
/// values come from the image, so their initialisers are not checked
/// (`lang::check::check_restored`).
fn restore_source(defs: &[(DefRecord, u64, u64)]) -> String {
    let mut src = String::new();
    for (d, _, _) in defs {
        match d.kind {
            DefKind::Global => {
                let kw = if d.mutable { "var" } else { "let" };
                src.push_str(&format!("{kw} {}: {} = 0;", d.name, d.global_ty));
            }
            _ => src.push_str(&d.text),
        }
        src.push_str("\n\n");
    }
    src
}

/// A global's text as a statement of a source file.
fn as_statement(d: &DefRecord) -> String {
    let text = d.text.trim_end();
    if d.kind == DefKind::Global && !text.ends_with(';') { format!("{text};") } else { text.to_string() }
}

/// `strata export IMAGE`: every definition of the newest world as one
/// source file, each with its current text verbatim, in the order they
/// were first defined (one transaction, so any order checks).
pub fn export(path: &Path) -> Result<String, String> {
    let opened = frame::read_only(path).map_err(|e| format!("error: {e}"))?;
    let replayed = Replayed::new(opened.records);
    let mut out = format!("// The newest world (world {}) of {}, exported by strata.\n", replayed.age, path.display());
    for (d, _, _) in newest_defs(&replayed.transactions) {
        out.push('\n');
        out.push_str(&as_statement(&d));
        out.push('\n');
    }
    Ok(out)
}

impl Session {
    /// Opens (or creates) the image at `path` as a session.
    pub fn open(config: SessionConfig, path: &Path, access: Access) -> Result<Session, String> {
        let (file, opened) = match access {
            Access::Bound => {
                let (file, opened) = ImageFile::open(path).map_err(|e| format!("error: {e}"))?;
                (Some(file), opened)
            }
            Access::ReadOnly => (None, frame::read_only(path).map_err(|e| format!("error: {e}"))?),
        };
        let records = opened.records.len();
        let replayed = Replayed::new(opened.records);
        let session = Session::new(config);
        session.engine.restore(&replayed, &path.display().to_string())?;
        if let Some(file) = file {
            let journal = Arc::new(Journal::new(file).map_err(|e| format!("error: {e}"))?);
            // Mostly superseded writes: start from a compacted copy, so the
            // file (and the next open) stays proportional to what it holds.
            let live = replayed.transactions.len() + replayed.globals.len() + replayed.tasks.len();
            if records > 2 * live + 1000
                && let Err(e) = journal.save(None)
            {
                crate::say::err!("warning: could not compact {}: {e}", path.display());
            }
            let shared = &session.engine.shared;
            let _ = shared.journal.set(journal.clone());
            shared.tasks.bind(journal);
            shared.tasks.start_restored(shared);
        }
        Ok(session)
    }

    /// `:save [PATH]`: a compacted copy of the bound image (every version
    /// of every definition, the newest values and tasks), written
    /// atomically; without PATH, the bound image itself is compacted.
    pub fn save(&self, to: Option<&Path>) -> Result<String, String> {
        let Some(journal) = self.engine.shared.journal.get() else {
            return Err(
                "invalid argument: this session is not bound to an image; start it with `strata repl IMAGE`".into()
            );
        };
        let (path, records, size) = journal.save(to)?;
        Ok(format!("saved {} ({records} records, {size} bytes)", path.display()))
    }
}

impl Engine {
    /// Rebuilds the program an image holds into this (fresh) engine.
    fn restore(&self, replayed: &Replayed, image: &str) -> Result<(), String> {
        if replayed.transactions.is_empty() {
            return Ok(());
        }
        let defs = newest_defs(&replayed.transactions);
        let source = restore_source(&defs);
        let name = format!("{image} (newest world)");
        let (prog, diags) = lang::parser::parse(&source);
        if !diags.is_empty() {
            return Err(format!("error: the image's newest world does not parse:\n{}", render(&diags, &name, &source)));
        }
        let schema = defs
            .iter()
            .filter(|(d, _, _)| d.kind == DefKind::Type)
            .map(|(d, _, _)| (Arc::from(d.name.as_str()), d.schema))
            .collect();
        let src: Arc<str> = Arc::from(source.as_str());
        let checked = lang::check::check_restored(&prog, &src, &lang::check::Restoring { schema })
            .map_err(|d| format!("error: the image's newest world does not check:\n{}", render(&d, &name, &source)))?;
        let mut program = self.program.lock().unwrap_or_else(|e| e.into_inner());
        let world = program
            .restore(&replayed.transactions, &checked, &replayed.globals)
            .map_err(|e| format!("error: cannot reopen {image}: {}", e.0))?;
        // The incremental database starts from the newest world's texts.
        let mut texts = jit::program::Texts::default();
        let uses: HashMap<&str, Arc<[Arc<str>]>> = defs
            .iter()
            .map(|(d, _, _)| (d.name.as_str(), d.uses.iter().map(|u| Arc::from(u.as_str())).collect()))
            .collect();
        for (d, _, _) in &defs {
            texts
                .defs
                .insert(Arc::from(d.name.as_str()), (Arc::from(d.text.as_str()), uses[d.name.as_str()].clone(), false));
        }
        let mut incr = self.incremental.lock().unwrap_or_else(|e| e.into_inner());
        let prospect = deps::apply(&mut incr, &checked, &texts, &[]);
        incr.settle(prospect, &[]);
        for problem in self.shared.tasks.restore(&world, &replayed.tasks) {
            crate::say::err!("warning: {problem}");
        }
        Ok(())
    }
}
