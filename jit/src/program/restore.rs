//! Rebuilding a program from a reopened image: the history of every name
//! and the world log from the image's transactions (no checking, no code),
//! and the newest world from its definitions checked once as one
//! transaction (`lang::check::check_restored`), compiled, and given the
//! image's values — so reopening costs what the newest world holds, not
//! how long its history is.

use super::{DefMeta, FnEntry, GlobalEntry, HistoryEntry, Program, TypeEntry, World, register_layout};
use crate::codegen::{self, layout::type_desc};
use crate::image::format::DefsRecord;
use crate::image::replay::Replayed;
use lang::check::Checked;
use std::collections::HashMap;
use std::sync::Arc;

/// Why an image's newest world could not be rebuilt.
#[derive(Debug)]
pub struct RestoreError(pub String);

impl Program {
    /// Rebuilds the program an image holds: `replayed` gives the newest
    /// world's definitions (with their versions and worlds), the last
    /// version of every name and the values; `checked` is those definitions
    /// checked with their recorded schema versions. The history is decoded
    /// only when first asked for ([`Program::load_history`]).
    pub fn restore(&mut self, replayed: &Replayed, checked: &Checked) -> Result<Arc<World>, RestoreError> {
        let values = &replayed.globals;
        let age = replayed.age;
        let metas: HashMap<Arc<str>, DefMeta> = replayed
            .current
            .iter()
            .map(|c| {
                let meta = DefMeta {
                    version: c.def.version,
                    text: Arc::from(c.def.text.as_str()),
                    uses: c.def.uses.iter().map(|u| Arc::from(u.as_str())).collect(),
                    since: c.since,
                    committed_ms: c.committed_ms,
                };
                (Arc::from(c.def.name.as_str()), meta)
            })
            .collect();
        self.versions = replayed.versions.iter().map(|(n, v)| (Arc::from(n.as_str()), *v)).collect();
        self.pending_history = Some(replayed.history.clone());
        let meta = |name: &Arc<str>| {
            metas.get(name).cloned().ok_or_else(|| RestoreError(format!("`{name}` has no recorded definition")))
        };

        // Built on world 1, the standard library.
        let mut world = self.newest().successor(age);
        for t in &checked.types {
            register_layout(t);
            world.types.insert(t.named.name.clone(), TypeEntry { info: t.clone(), meta: meta(&t.named.name)? });
        }
        if !checked.types.is_empty() {
            world.view = Arc::new(world.types.iter().map(|(n, e)| (n.clone(), e.info.named.version)).collect());
        }

        let mut slots = Vec::new();
        for f in &checked.fns {
            let next = self.slots.len() as u32;
            let slot = *self.slots.entry(f.name.clone()).or_insert(next);
            slots.push(slot);
            let entry = FnEntry { sig: f.sig.clone(), slot, meta: meta(&f.name)?, unit: None };
            world.fns.insert(f.name.clone(), entry);
        }
        for g in &checked.globals {
            let id = self.shared.globals.add(g.name.clone(), g.sig.ty.is_heap());
            world.globals.insert(g.name.clone(), GlobalEntry { sig: g.sig.clone(), id, meta: meta(&g.name)? });
        }
        let bodies: Vec<&lang::hir::Body> = checked.fns.iter().map(|f| &f.body).collect();
        let unit = codegen::compile_unit(&world, &bodies, &[]).map_err(|e| RestoreError(e.0))?;
        let unit = Arc::new(unit);
        world.table.resize(self.slots.len(), 0);
        for (&slot, &addr) in slots.iter().zip(&unit.functions) {
            world.table[slot as usize] = addr as usize;
        }
        for f in &checked.fns {
            if let Some(e) = world.fns.get_mut(&f.name) {
                e.unit = Some(unit.clone());
            }
        }
        for e in &checked.experiments {
            let entry = self.compile_experiment(&world, e, meta(&e.name)?).map_err(|e| RestoreError(e.0))?;
            world.experiments.insert(e.name.clone(), entry);
        }
        // A name defined once and forgotten since: a new type of that name
        // continues after its last version (a type's schema version counts
        // with its definition's version, so this is never below it).
        for (name, &v) in &self.versions {
            if world.meta_of(name).is_none() {
                world.retired_types.insert(name.clone(), v);
            }
        }
        for (name, g) in world.globals.iter() {
            let Some(v) = values.get(&**name) else { continue };
            let bits =
                crate::image::values::from_image(v, type_desc(&g.sig.ty, &super::RegisteredTypes)).map_err(|e| {
                    RestoreError(format!("the value of `{name}` does not fit its type `{}`: {e}", g.sig.ty))
                })?;
            self.shared.globals.set(g.id, bits, world.view.clone());
        }
        let world = Arc::new(world);
        self.shared.publish(world.clone());
        Ok(world)
    }
}

impl Program {
    /// Builds every name's history and the world log from a reopened
    /// image's transactions, the first time they are needed (`:history`,
    /// `:worlds`, the next commit). Until then reopening has not paid for a
    /// long history.
    pub(super) fn load_history(&mut self) {
        let Some(pending) = self.pending_history.take() else { return };
        let transactions = match pending.decode() {
            Ok(t) => t,
            Err(e) => {
                // Checksummed bytes that do not decode: a bug, not damage.
                // `:worlds` says so; the newest world is unaffected.
                self.log.push((0, format!("the image's earlier history could not be read: {e}")));
                return;
            }
        };
        let mut history: HashMap<Arc<str>, Vec<HistoryEntry>> = HashMap::new();
        let mut log = Vec::with_capacity(transactions.len());
        for t in &transactions {
            apply_history(&mut history, t);
            log.push((t.world, t.summary.clone()));
        }
        // Every commit loads the history before adding to it, so nothing
        // was recorded since the image was opened.
        debug_assert!(self.history.is_empty() && self.log.is_empty());
        self.history = history;
        self.log = log;
    }
}

/// One transaction's versions and forgets, added to `history`.
fn apply_history(history: &mut HashMap<Arc<str>, Vec<HistoryEntry>>, t: &DefsRecord) {
    for name in &t.forgets {
        if let Some(last) = history.get_mut(name.as_str()).and_then(|h| h.last_mut()) {
            last.left.get_or_insert(t.world);
        }
    }
    for d in t.defs.iter().filter(|d| d.new_version) {
        let meta = DefMeta {
            version: d.version,
            text: Arc::from(d.text.as_str()),
            uses: d.uses.iter().map(|u| Arc::from(u.as_str())).collect(),
            since: t.world,
            committed_ms: t.committed_ms,
        };
        let versions = history.entry(Arc::from(d.name.as_str())).or_default();
        if let Some(last) = versions.last_mut() {
            last.left.get_or_insert(t.world);
        }
        versions.push(HistoryEntry { meta, left: None });
    }
}
