//! Experiments in a session (SPEC 14.2–14.3): `graduate NAME;` expanded
//! into the experiment's functions and a `forget`, the traffic total,
//! experiments re-checked as dependents of what they replace or call,
//! `:try`, `:experiments`.

use super::{Failure, InputOutcome, Session};
use jit::program::World;
use lang::ast::{self, Item};
use lang::check::{OverlayEnv, check_transaction};
use lang::diagnostic::{Diagnostic, render};
use lang::incremental::{Broken, Rechecked};
use std::collections::HashSet;
use std::sync::Arc;

/// `source` with each `graduate NAME;` replaced by NAME's functions (its
/// replacements prefixed with `overridable `, so they stay overridable)
/// and `forget NAME;` — or `None` if it graduates nothing.
pub(super) fn expand_graduations(
    prog: &ast::Program,
    source: &str,
    world: &World,
) -> Result<Option<String>, Vec<Diagnostic>> {
    let mut out = String::new();
    let mut at = 0;
    let mut errors = Vec::new();
    for item in &prog.items {
        let Item::Graduate(id) = item else { continue };
        let Some(e) = world.experiments.get(id.name.as_str()) else {
            errors.push(
                Diagnostic::new(format!("unknown experiment `{}`: there is nothing to graduate", id.name), id.span)
                    .with_label("not an experiment"),
            );
            continue;
        };
        // The item's span is its name: take `graduate` before it and the
        // `;` after it too.
        let name = item.span().range();
        let start = source[..name.start].rfind("graduate").unwrap_or(name.start);
        let rest = &source[name.end..];
        let end = match rest.trim_start().strip_prefix(';') {
            Some(after) => source.len() - after.len(),
            None => name.end,
        };
        let range = start..end;
        out.push_str(&source[at..range.start]);
        let text = &e.meta.text;
        let (exp, _) = lang::parser::parse(text);
        for inner in exp.items.iter().flat_map(|i| match i {
            Item::Experiment(d) => d.items.iter().collect::<Vec<_>>(),
            _ => Vec::new(),
        }) {
            let Item::Fn(fd) = inner else { continue };
            let fn_text = &text[inner.span().range()];
            if e.sig.replaces.iter().any(|r| **r == *fd.name.name) && !fd.overridable {
                out.push_str("overridable ");
            }
            out.push_str(fn_text);
            out.push('\n');
        }
        out.push_str(&format!("forget {};", id.name));
        at = range.end;
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if at == 0 {
        return Ok(None);
    }
    out.push_str(&source[at..]);
    Ok(Some(out))
}

/// Shares may total at most 100: the experiments that stay, with the
/// transaction's.
pub(super) fn check_traffic(
    prog: &ast::Program,
    world: &World,
    replaced: &HashSet<Arc<str>>,
) -> Result<(), Vec<Diagnostic>> {
    let kept: u32 = world.experiments.iter().filter(|(n, _)| !replaced.contains(*n)).map(|(_, e)| e.sig.traffic).sum();
    let mut total = kept;
    for item in &prog.items {
        let Item::Experiment(d) = item else { continue };
        let share = d.traffic.map_or(0, |(p, _)| p.clamp(0, 100) as u32);
        total += share;
        if total > 100 && share > 0 {
            let span = d.traffic.map_or(d.span, |(_, s)| s);
            return Err(vec![
                Diagnostic::new(format!("traffic over 100: experiments would take {total}% of the traffic"), span)
                    .with_label(format!("{share}% here"))
                    .with_hint("lower a share, or forget or graduate an experiment in the same input"),
            ]);
        }
    }
    Ok(())
}

/// Experiments of `world` that use a name the transaction defines or
/// forgets (or take a helper name it defines), re-checked against the
/// prospective world `env`: the ones that still check (to recompile, keeping
/// their versions), or every failure, named `experiment NAME`.
pub(super) fn recheck(
    world: &World,
    env: &dyn lang::check::Env,
    touched: &HashSet<Arc<str>>,
) -> Result<Vec<Rechecked>, Vec<Broken>> {
    let mut ok = Vec::new();
    let mut broken = Vec::new();
    for (name, e) in world.experiments.iter() {
        if touched.contains(name) {
            continue;
        }
        let helpers = e.sig.helpers.iter().map(|(h, _)| h);
        if !e.meta.uses.iter().chain(helpers).any(|u| touched.contains(u)) {
            continue;
        }
        let text = e.meta.text.clone();
        let (prog, diags) = lang::parser::parse(&text);
        let checked = if diags.is_empty() { check_transaction(&prog, &text, env) } else { Err(diags) };
        match checked {
            Ok(checked) => ok.push(Rechecked { name: name.clone(), text, checked }),
            Err(diags) => broken.push(Broken { name: Arc::from(format!("experiment {name}").as_str()), diags }),
        }
    }
    if broken.is_empty() { Ok(ok) } else { Err(broken) }
}

impl Session {
    /// `:try NAME INPUT`: INPUT's expressions run as if entered at the
    /// prompt, under experiment NAME's overlay (its helpers visible).
    pub fn try_in(&self, name: &str, source: &str) -> Result<InputOutcome, (Option<String>, Failure)> {
        let fail = |msg: String| Err((None, Failure::Check(msg)));
        self.engine.interrupt.reset();
        let world = self.engine.shared.newest();
        let Some(e) = world.experiments.get(name) else {
            return fail(format!("error: unknown experiment `{name}`: see :experiments"));
        };
        let (prog, diags) = lang::parser::parse(source);
        if !diags.is_empty() {
            return fail(render(&diags, "<try>", source));
        }
        if let Some(item) = prog.items.iter().find(|i| !matches!(i, Item::Expr(_))) {
            let d = Diagnostic::new(
                "not allowed in an overlay: `:try` runs expressions; define outside the experiment".to_string(),
                item.span(),
            )
            .with_label("a definition");
            return fail(render(&[d], "<try>", source));
        }
        let echo_last = super::items::ends_with_expression(&prog, source);
        let src: Arc<str> = Arc::from(source);
        let env = OverlayEnv { base: &*world, helpers: &e.sig.helpers };
        let checked =
            check_transaction(&prog, &src, &env).map_err(|d| (None, Failure::Check(render(&d, "<try>", source))))?;
        let thunks = {
            let program = self.engine.program.lock().unwrap_or_else(|e| e.into_inner());
            program.overlay_thunks(&checked, name).map_err(|e| (None, Failure::Internal(e.0)))?
        };
        self.run_thunks(&thunks, echo_last, None, Vec::new())
    }

    /// `:experiments`: a line per experiment, by name.
    pub fn experiments(&self) -> Vec<String> {
        let world = self.engine.shared.newest();
        let mut names: Vec<&Arc<str>> = world.experiments.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let e = &world.experiments[n];
                let (served, failed) = self.engine.shared.experiment_counts(n);
                let replaces: Vec<&str> = e.sig.replaces.iter().map(|r| &**r).collect();
                format!(
                    "{n} v{} traffic {}% replaces {} served {served} failed {failed}",
                    e.meta.version,
                    e.sig.traffic,
                    replaces.join(", ")
                )
            })
            .collect()
    }

    /// `experiment E vK` for each experiment replacing `name`, by name.
    pub fn experiments_replacing(&self, name: &str) -> Vec<String> {
        let world = self.engine.shared.newest();
        let mut out: Vec<String> = world
            .experiments
            .iter()
            .filter(|(_, e)| e.sig.replaces.iter().any(|r| &**r == name))
            .map(|(n, e)| format!("experiment {n} v{}", e.meta.version))
            .collect();
        out.sort();
        out
    }
}
