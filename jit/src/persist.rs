//! What an evaluation's commit writes to the image: its global writes and,
//! for a loop step, the loop's new state — one record, all or nothing, with
//! every value in the versions of the newest world (so reopening never
//! needs an older version's layout or migration).

use crate::abi::{Ctx, EvalState, Header, RuntimeError};
use crate::codegen::layout::type_desc;
use crate::eval::EvalHost;
use crate::image::format::{CommitRecord, GlobalWrite, Record, TaskState, Value};
use crate::migrate::{View, compatible, load_error};
use crate::program::{RegisteredTypes, World};
use lang::types::Ty;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize};

/// The image form of `bits` (a live value of `ty` made in view `view`) in
/// `target`'s versions, migrating it (in an evaluation context for
/// `target`, sharing `state`) if it was made in an older view.
///
/// # Safety
/// `bits` must be a live value of `ty`; `state` the running evaluation's.
pub(crate) unsafe fn image_value(
    state: &EvalState,
    shared: &crate::program::Shared,
    target: &Arc<World>,
    view: &Arc<View>,
    bits: u64,
    ty: &Ty,
    place: &str,
) -> Result<Value, RuntimeError> {
    let tdesc = type_desc(ty, &RegisteredTypes);
    if compatible(view, &target.view) {
        // SAFETY: the caller's contract.
        return Ok(unsafe { crate::image::values::to_image(bits, tdesc) });
    }
    let ctx = Ctx {
        table: target.table_ptr(),
        stack_limit: AtomicUsize::new(state.stack_limit),
        err: AtomicU8::new(0),
        eval: state,
        world_age: target.age,
    };
    let ctx = &ctx as *const Ctx as *mut Ctx;
    let heap = ty.is_heap();
    // SAFETY: `ctx` is a context of this evaluation for `target`, whose
    // table has every migration; `bits` is live.
    let converted = unsafe { crate::migrate::convert(ctx, shared, &target.view, bits, heap, &mut HashMap::new()) };
    match converted {
        // SAFETY: `new` is a live value of `ty` in `target`'s view, ours to drop.
        Ok(Some(new)) => unsafe {
            let v = crate::image::values::to_image(new, tdesc);
            if heap {
                crate::runtime::heap::dec(new as *const Header);
            }
            Ok(v)
        },
        // SAFETY: as above; the value needed no change.
        Ok(None) => Ok(unsafe { crate::image::values::to_image(bits, tdesc) }),
        Err(e) => {
            let _ = state.error.borrow_mut().take();
            Err(RuntimeError { message: load_error(&e, place, target.age), frames: vec![] })
        }
    }
}

/// The record of what `host`'s evaluation commits: each write to a global
/// that `target` (the newest world, or the world an initialiser runs in)
/// still has, and a loop step's new state `out` (of type `ret`).
///
/// # Safety
/// `state` must be the evaluation's; `out` a live value of `ret` when a
/// loop step finished.
pub(crate) unsafe fn commit_record(
    host: &EvalHost,
    state: &EvalState,
    target: &Arc<World>,
    ret: &Ty,
    out: u64,
) -> Result<Record, RuntimeError> {
    let shared = &host.shared;
    let mut writes = Vec::new();
    for (&id, (bits, view)) in host.writes.borrow().iter() {
        let name = shared.globals.name(id);
        // A write to a global since redefined with a new cell is invisible
        // to the newest world, so it is not part of the image.
        let Some(g) = target.globals.get(&name).filter(|g| g.id == id) else { continue };
        // SAFETY: the buffered write is a live value of the global's type.
        let value = unsafe { image_value(state, shared, target, view, *bits, &g.sig.ty, &format!("`{name}`"))? };
        writes.push(GlobalWrite { name: name.to_string(), value });
    }
    let task = match &host.task {
        Some(t) if t.is_loop => {
            let place = format!("the state of task {}", t.id);
            // SAFETY: a finished step's result is its loop's new state.
            let value = unsafe { image_value(state, shared, target, &host.world.view, out, ret, &place)? };
            let steps = shared.tasks.steps(t.id) + 1;
            Some(TaskState { id: t.id, state: vec![value], steps })
        }
        _ => None,
    };
    Ok(Record::Commit(CommitRecord { world: target.age, writes, task }))
}

/// Whether the evaluation has anything for the image.
pub(crate) fn commits_anything(host: &EvalHost) -> bool {
    !host.writes.borrow().is_empty() || host.task.as_ref().is_some_and(|t| t.is_loop)
}
