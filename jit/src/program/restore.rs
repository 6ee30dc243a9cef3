//! Rebuilding a program from a reopened image: the history of every name
//! and the world log from the image's transactions (no checking, no code),
//! and the newest world from its definitions checked once as one
//! transaction (`lang::check::check_restored`), compiled, and given the
//! image's values — so reopening costs what the newest world holds, not
//! how long its history is.

use super::{DefMeta, FnEntry, GlobalEntry, HistoryEntry, Program, TypeEntry, World, register_layout};
use crate::codegen::{self, layout::type_desc};
use crate::image::format::{DefsRecord, Value};
use lang::check::Checked;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Why an image's newest world could not be rebuilt.
#[derive(Debug)]
pub struct RestoreError(pub String);

impl Program {
    /// Rebuilds the program an image holds: `transactions` (oldest first)
    /// give the history, `checked` is the newest world's definitions checked
    /// with their recorded schema versions, `values` the globals' values.
    pub fn restore(
        &mut self,
        transactions: &[DefsRecord],
        checked: &Checked,
        values: &BTreeMap<String, Value>,
    ) -> Result<Arc<World>, RestoreError> {
        let mut metas: HashMap<Arc<str>, DefMeta> = HashMap::new();
        let mut age = 1;
        for t in transactions {
            age = age.max(t.world);
            for name in &t.forgets {
                if let Some(last) = self.history.get_mut(name.as_str()).and_then(|h| h.last_mut()) {
                    last.left.get_or_insert(t.world);
                }
                metas.remove(name.as_str());
            }
            for d in &t.defs {
                let name: Arc<str> = Arc::from(d.name.as_str());
                let uses: Arc<[Arc<str>]> = d.uses.iter().map(|u| Arc::from(u.as_str())).collect();
                let text: Arc<str> = Arc::from(d.text.as_str());
                if !d.new_version
                    && let Some(m) = metas.get_mut(&name)
                {
                    m.text = text;
                    m.uses = uses;
                    continue;
                }
                let meta = DefMeta { version: d.version, text, uses, since: t.world, committed_ms: t.committed_ms };
                let versions = self.history.entry(name.clone()).or_default();
                if let Some(last) = versions.last_mut() {
                    last.left.get_or_insert(t.world);
                }
                versions.push(HistoryEntry { meta: meta.clone(), left: None });
                let v = self.versions.entry(name.clone()).or_insert(0);
                *v = (*v).max(d.version);
                metas.insert(name, meta);
            }
            self.log.push((t.world, t.summary.clone()));
        }
        let meta = |name: &Arc<str>| {
            metas.get(name).cloned().ok_or_else(|| RestoreError(format!("`{name}` has no recorded definition")))
        };

        let base = self.newest();
        let mut world = World {
            age,
            table: Vec::new(),
            fns: imbl::HashMap::new(),
            types: imbl::HashMap::new(),
            globals: imbl::HashMap::new(),
            view: base.view.clone(),
            migration_units: imbl::Vector::new(),
            experiments: imbl::HashMap::new(),
            overlay_tables: Default::default(),
        };
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
