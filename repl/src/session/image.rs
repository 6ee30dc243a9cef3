//! A session bound to an image: opening one (its history and values
//! folded from the records, its newest world checked once and compiled,
//! its tasks brought back), exporting its newest world as source, and
//! `:save`. Writing each commit is the runtime's (`jit::image`).

use super::{Engine, Session, SessionConfig, deps};
use jit::image::format::{CurrentDef, DefKind, DefRecord};
use jit::image::replay::Replayed;
use jit::image::{ImageFile, Journal, frame};
use lang::diagnostic::render;
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
fn restore_source(defs: &[CurrentDef]) -> String {
    let mut src = String::new();
    for CurrentDef { def: d, .. } in defs {
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
    let image = frame::read_only(path).map_err(|e| format!("error: {e}"))?;
    let replayed = Replayed::open(&image).map_err(|e| format!("error: {e}"))?;
    let mut out = format!("// The newest world (world {}) of {}, exported by strata.\n", replayed.age, path.display());
    for c in &replayed.current {
        out.push('\n');
        out.push_str(&as_statement(&c.def));
        out.push('\n');
    }
    Ok(out)
}

impl Session {
    /// Opens (or creates) the image at `path` as a session.
    pub fn open(config: SessionConfig, path: &Path, access: Access) -> Result<Session, String> {
        let (file, image) = match access {
            Access::Bound => {
                let (file, image) = ImageFile::open(path).map_err(|e| format!("error: {e}"))?;
                (Some(file), image)
            }
            Access::ReadOnly => (None, frame::read_only(path).map_err(|e| format!("error: {e}"))?),
        };
        let replayed = Replayed::open(&image).map_err(|e| format!("error: {e}"))?;
        drop(image);
        let session = Session::new(config);
        session.engine.restore(&replayed, &path.display().to_string())?;
        if let Some(file) = file {
            let journal = Arc::new(Journal::new(file, replayed.since_checkpoint).map_err(|e| format!("error: {e}"))?);
            // Many records since the last checkpoint (a process that never
            // shut down cleanly): start from a compacted copy, so the next
            // open reads little and superseded values are dropped.
            if replayed.since_checkpoint > CHECKPOINT_EVERY
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
        let (path, size) = journal.save(to)?;
        Ok(format!("saved {} ({size} bytes)", path.display()))
    }

    /// Appends a checkpoint of the whole state to the bound image, if the
    /// state can be written as one (see `Program::checkpoint`).
    fn checkpoint(&self, journal: &Journal) -> Result<(), String> {
        let program = self.engine.program.lock().unwrap_or_else(|e| e.into_inner());
        program.write_checkpoint(journal).map(|_| ())
    }

    /// Before shutdown stops any task: a checkpoint if many records were
    /// written since the last one, so the next open starts near the end of
    /// the file (tasks still running are checkpointed running).
    pub(super) fn checkpoint_before_shutdown(&self) {
        let Some(journal) = self.engine.shared.journal.get() else { return };
        if journal.since_checkpoint() > CHECKPOINT_AT_SHUTDOWN
            && let Err(e) = self.checkpoint(journal)
        {
            crate::say::err!("warning: could not write a checkpoint: {e}");
        }
    }
}

/// Records after the last checkpoint that make opening write a new one.
const CHECKPOINT_EVERY: usize = 1000;
/// ... and that make a clean shutdown write one.
const CHECKPOINT_AT_SHUTDOWN: usize = 64;

impl Engine {
    /// Rebuilds the program an image holds into this (fresh) engine.
    fn restore(&self, replayed: &Replayed, image: &str) -> Result<(), String> {
        if replayed.current.is_empty() && replayed.history.is_empty() {
            return Ok(());
        }
        let defs = &replayed.current;
        let source = restore_source(defs);
        let name = format!("{image} (newest world)");
        let (prog, diags) = lang::parser::parse(&source);
        if !diags.is_empty() {
            return Err(format!("error: the image's newest world does not parse:\n{}", render(&diags, &name, &source)));
        }
        let schema = defs
            .iter()
            .filter(|c| c.def.kind == DefKind::Type)
            .map(|c| (Arc::from(c.def.name.as_str()), c.def.schema))
            .collect();
        let src: Arc<str> = Arc::from(source.as_str());
        let world1 = self.shared.newest();
        let checked = lang::check::check_restored(&prog, &src, &*world1, &lang::check::Restoring::new(schema))
            .map_err(|d| format!("error: the image's newest world does not check:\n{}", render(&d, &name, &source)))?;
        let mut program = self.program.lock().unwrap_or_else(|e| e.into_inner());
        let world =
            program.restore(replayed, &checked).map_err(|e| format!("error: cannot reopen {image}: {}", e.0))?;
        // The incremental database starts from the newest world's texts.
        let mut texts = jit::program::Texts::default();
        for CurrentDef { def: d, .. } in defs {
            let uses = d.uses.iter().map(|u| Arc::from(u.as_str())).collect();
            let text = jit::program::DefText { text: Arc::from(d.text.as_str()), uses, dependent: false };
            texts.defs.insert(Arc::from(d.name.as_str()), text);
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
