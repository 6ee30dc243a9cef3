//! Request overrides (SPEC 14.4): a request's texts checked as an overlay
//! over the world it runs in, compiled once and kept (the 1,000 most
//! recently used) for as long as what they use keeps its signature, and
//! checked again in the newest world when the request calls `latest`.

use super::Engine;
use jit::program::{CompiledOverride, OverlayTable, RequestOverlay, World};
use std::collections::HashMap;
use std::sync::Arc;

/// Compiled request overrides by their source, with when each was last used.
#[derive(Default)]
pub struct OverrideCache {
    entries: HashMap<Arc<str>, (Arc<CompiledOverride>, u64)>,
    tick: u64,
}

const OVERRIDE_CACHE: usize = 1000;

impl OverrideCache {
    fn get(&mut self, source: &str) -> Option<Arc<CompiledOverride>> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(source).map(|(o, used)| {
            *used = tick;
            o.clone()
        })
    }

    fn put(&mut self, source: Arc<str>, compiled: Arc<CompiledOverride>) {
        if !self.entries.contains_key(&source)
            && self.entries.len() >= OVERRIDE_CACHE
            && let Some(oldest) = self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
        self.tick += 1;
        self.entries.insert(source, (compiled, self.tick));
    }
}

/// The name a request's override is checked under (no user name has `__`
/// this way: it only has to be distinct from the world's names).
const REQUEST_OVERLAY: &str = "__request_override";

/// The texts of an override (each function name with the source that
/// defines it) as one experiment's source; `Err` is the 400 answer's message.
/// Each text must parse on its own as `fn` items, so that none can close the
/// experiment around them and put items of its own outside it.
pub(super) fn override_source(texts: &[(String, String)]) -> Result<Arc<str>, String> {
    // The first text starts on the first line, so its diagnostics' line
    // numbers are its own.
    let mut source = format!("experiment {REQUEST_OVERLAY} {{ ");
    for (name, text) in texts {
        let (prog, diags) = lang::parser::parse(text);
        if !diags.is_empty() {
            return Err(lang::diagnostic::render(&diags, &format!("<override {name}>"), text).trim_end().to_string());
        }
        if !prog.items.iter().all(|i| matches!(i, lang::ast::Item::Fn(_))) {
            return Err(format!("invalid override: the text for `{name}` may hold only `fn` items"));
        }
        if !prog.items.iter().any(|i| matches!(i, lang::ast::Item::Fn(f) if f.name.name == *name)) {
            return Err(format!("invalid override: the text for `{name}` must define `fn {name}`"));
        }
        source.push_str(text);
        source.push('\n');
    }
    source.push('}');
    Ok(Arc::from(source))
}

impl Engine {
    /// A request's overlay over `world` under `experiment`'s (if the world
    /// has it): the override compiled for `world` or reused from the cache;
    /// `Err` is the 400 answer's message, with diagnostics.
    pub(super) fn request_overlay(
        self: &Arc<Self>,
        world: &Arc<World>,
        experiment: Option<&Arc<str>>,
        source: &Arc<str>,
    ) -> Result<Arc<RequestOverlay>, String> {
        let compiled = self.compiled_override(world, source).map_err(|diags| diags.render())?;
        let engine = Arc::downgrade(self);
        let (source, experiment) = (source.clone(), experiment.cloned());
        let table = compiled.table(world, experiment.as_ref());
        let rebase = move |newest: &Arc<World>| -> Result<Arc<OverlayTable>, String> {
            let engine = engine.upgrade().ok_or("the session is gone")?;
            let compiled = engine.compiled_override(newest, &source).map_err(|d| d.first())?;
            Ok(compiled.table(newest, experiment.as_ref()))
        };
        Ok(Arc::new(RequestOverlay { table, replaces: compiled.replaces().to_vec(), rebase: Arc::new(rebase) }))
    }

    /// The override `source` compiled for `world`: the cached compilation
    /// if nothing it uses changed meaning since, else checked and compiled
    /// again (and cached).
    pub(super) fn compiled_override(
        &self,
        world: &World,
        source: &Arc<str>,
    ) -> Result<Arc<CompiledOverride>, OverrideErrors> {
        let cached = self.overrides.lock().unwrap_or_else(|e| e.into_inner()).get(source);
        if let Some(c) = cached.filter(|c| c.fits(world)) {
            return Ok(c);
        }
        let (prog, diags) = lang::parser::parse(source);
        let checked = if diags.is_empty() { lang::check::check_transaction(&prog, source, world) } else { Err(diags) };
        let checked = checked.map_err(|diags| OverrideErrors::Check(diags, source.clone()))?;
        let Some(e) = checked.experiments.first() else {
            return Err(OverrideErrors::Other("invalid override: no functions".into()));
        };
        let compiled = {
            let mut program = self.program.lock().unwrap_or_else(|e| e.into_inner());
            program.compile_override(world, e).map_err(|e| OverrideErrors::Other(format!("internal error: {}", e.0)))?
        };
        self.overrides.lock().unwrap_or_else(|e| e.into_inner()).put(source.clone(), compiled.clone());
        Ok(compiled)
    }
}

/// Why an override cannot run.
pub(super) enum OverrideErrors {
    /// It does not check: the diagnostics, against its source.
    Check(Vec<lang::diagnostic::Diagnostic>, Arc<str>),
    Other(String),
}

impl OverrideErrors {
    /// All diagnostics with their snippets (the 400 answer).
    fn render(&self) -> String {
        match self {
            OverrideErrors::Check(diags, source) => {
                lang::diagnostic::render(diags, "<override>", source).trim_end().to_string()
            }
            OverrideErrors::Other(message) => message.clone(),
        }
    }

    /// The first diagnostic's message (`latest`'s runtime error).
    fn first(&self) -> String {
        match self {
            OverrideErrors::Check(diags, _) => diags.first().map(|d| d.message.clone()).unwrap_or_default(),
            OverrideErrors::Other(message) => message.clone(),
        }
    }
}
