//! The image record of a committed transaction: its definitions (texts,
//! versions, schema versions, global types) and the values it produced —
//! new globals' initial values and, after a type change, every global and
//! loop state in the new versions.

use super::{Checked, DefMeta, DefText, Globals, Program, Texts, World};
use crate::abi::Header;
use crate::codegen::layout::type_desc;
use crate::image::format::{
    CheckpointRecord, CurrentDef, DefKind, DefRecord, DefsRecord, GlobalWrite, Record, TaskState, Value,
};
use std::sync::Arc;

/// The record of the transaction that made `world`. `fresh` are the cells
/// its initialisers filled; with `all_values` (a type changed) every
/// global's value in the new view is written, migrated.
#[allow(clippy::too_many_arguments)]
pub(super) fn defs_record(
    world: &World,
    globals: &Globals,
    checked: &Checked,
    texts: &Texts,
    forgets: &[Arc<str>],
    fresh: &[u32],
    all_values: bool,
    task_states: Vec<TaskState>,
    summary: String,
) -> Record {
    let mut defs = Vec::new();
    let mut def = |name: &Arc<str>, kind: DefKind, schema: u32, global: Option<&lang::types::GlobalSig>| {
        let Some(meta) = world.meta_of(name) else { return };
        let DefText { uses, dependent, .. } = texts.defs.get(name).cloned().unwrap_or_default();
        defs.push(DefRecord {
            name: name.to_string(),
            kind,
            version: meta.version,
            new_version: !dependent,
            text: meta.text.to_string(),
            uses: uses.iter().map(|u| u.to_string()).collect(),
            schema,
            global_ty: global.map(|g| g.ty.to_string()).unwrap_or_default(),
            mutable: global.is_some_and(|g| g.mutable),
        });
    };
    for t in &checked.types {
        def(&t.named.name, DefKind::Type, t.named.version, None);
    }
    for f in &checked.fns {
        def(&f.name, DefKind::Function, 0, None);
    }
    for g in &checked.globals {
        def(&g.name, DefKind::Global, 0, Some(&g.sig));
    }
    for e in &checked.experiments {
        def(&e.name, DefKind::Experiment, 0, None);
    }
    let mut values = Vec::new();
    for (name, g) in world.globals.iter() {
        if !all_values && !fresh.contains(&g.id) {
            continue;
        }
        if let Some(value) = image_value(world, globals, g) {
            values.push(GlobalWrite { name: name.to_string(), value });
        }
    }
    Record::Defs(DefsRecord {
        world: world.age,
        committed_ms: super::now_ms(),
        summary,
        defs,
        forgets: forgets.iter().map(|f| f.to_string()).collect(),
        values,
        task_states,
    })
}

/// A global's value in `world`'s view, in image form, if it has one
/// there without migrating anything.
fn image_value(world: &World, globals: &Globals, g: &super::GlobalEntry) -> Option<Value> {
    let bits = globals.value_in(g.id, &world.view)?;
    // SAFETY: `bits` is a live value of the global's type in this world's
    // view (its own, or the copy validation made), and ours.
    let value = unsafe { crate::image::values::to_image(bits, type_desc(&g.sig.ty, &super::RegisteredTypes)) };
    if g.sig.ty.is_heap() {
        // SAFETY: `value_in` gave us this reference.
        unsafe { crate::runtime::heap::dec(bits as *const Header) };
    }
    Some(value)
}

impl Program {
    /// Appends the whole newest state to `journal` as a checkpoint, taken
    /// and appended while no commit can land (a commit between the two
    /// would come before the checkpoint in the file but not be in it).
    /// Writes nothing when a global's newest value is only in an older view
    /// (written by old-world code since a type change): the image already
    /// has it migrated in the record of that write, so reopening from the
    /// log alone stays right. Answers whether it wrote one.
    pub fn write_checkpoint(&self, journal: &crate::image::Journal) -> Result<bool, String> {
        let frozen = self.shared.globals.freeze();
        let Some(record) = self.checkpoint() else { return Ok(false) };
        let seq = journal.append(&record)?;
        drop(frozen);
        journal.checkpointed(seq)?;
        Ok(true)
    }

    fn checkpoint(&self) -> Option<Record> {
        let world = self.newest();
        let mut defs = Vec::new();
        let mut def =
            |name: &Arc<str>, kind: DefKind, meta: &DefMeta, schema: u32, g: Option<&lang::types::GlobalSig>| {
                defs.push(CurrentDef {
                    def: DefRecord {
                        name: name.to_string(),
                        kind,
                        version: meta.version,
                        new_version: true,
                        text: meta.text.to_string(),
                        uses: meta.uses.iter().map(|u| u.to_string()).collect(),
                        schema,
                        global_ty: g.map(|g| g.ty.to_string()).unwrap_or_default(),
                        mutable: g.is_some_and(|g| g.mutable),
                    },
                    since: meta.since,
                    committed_ms: meta.committed_ms,
                })
            };
        for (n, t) in world.types.iter() {
            def(n, DefKind::Type, &t.meta, t.info.named.version, None);
        }
        for (n, f) in world.fns.iter() {
            def(n, DefKind::Function, &f.meta, 0, None);
        }
        for (n, g) in world.globals.iter() {
            def(n, DefKind::Global, &g.meta, 0, Some(&g.sig));
        }
        for (n, e) in world.experiments.iter() {
            def(n, DefKind::Experiment, &e.meta, 0, None);
        }
        // World 1's definitions are the standard library's, not the image's.
        defs.retain(|d| d.since > 1);
        defs.sort_by(|a, b| (a.since, &a.def.name).cmp(&(b.since, &b.def.name)));
        let mut values = Vec::new();
        for (name, g) in world.globals.iter() {
            values.push(GlobalWrite { name: name.to_string(), value: image_value(&world, &self.shared.globals, g)? });
        }
        Some(Record::Checkpoint(CheckpointRecord {
            world: world.age,
            defs,
            versions: self.versions.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
            values,
            tasks: self.shared.tasks.records(),
        }))
    }
}
