//! The image record of a committed transaction: its definitions (texts,
//! versions, schema versions, global types) and the values it produced —
//! new globals' initial values and, after a type change, every global and
//! loop state in the new versions.

use super::{Checked, Globals, Texts, World};
use crate::abi::Header;
use crate::codegen::layout::type_desc;
use crate::image::format::{DefKind, DefRecord, DefsRecord, GlobalWrite, Record, TaskState};
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
        let (_, uses, dependent) = texts.defs.get(name).cloned().unwrap_or_else(|| ("".into(), Arc::from([]), false));
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
        let Some(bits) = globals.value_in(g.id, &world.view) else { continue };
        // SAFETY: `bits` is a live value of the global's type in this
        // world's view (its own, or the copy validation made), and ours.
        let value = unsafe { crate::image::values::to_image(bits, type_desc(&g.sig.ty, &super::RegisteredTypes)) };
        if g.sig.ty.is_heap() {
            // SAFETY: `value_in` gave us this reference.
            unsafe { crate::runtime::heap::dec(bits as *const Header) };
        }
        values.push(GlobalWrite { name: name.to_string(), value });
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
