//! Tasks and the image: each change of a task's status is written there
//! (a loop's state is written with each step's commit, `crate::persist`),
//! and reopening an image brings its tasks back — loops that were running
//! start again from their last committed state, in the newest world.

use super::{Status, Task, Tasks, plain, spawn_site};
use crate::codegen::layout::type_desc;
use crate::image::format::{TaskRecord, TaskStatus};
use crate::program::{RegisteredTypes, Shared, World};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `pending` mark of a restored loop not started yet (no world has age
/// 0, so nothing else starts it).
const NOT_STARTED: u64 = 0;

fn to_image_status(s: Status) -> TaskStatus {
    match s {
        Status::Running => TaskStatus::Running,
        Status::Paused => TaskStatus::Paused,
        Status::Done => TaskStatus::Done,
        Status::Failed => TaskStatus::Failed,
        Status::Stopped => TaskStatus::Stopped,
    }
}

fn from_image_status(s: TaskStatus) -> Status {
    match s {
        TaskStatus::Running => Status::Running,
        TaskStatus::Paused => Status::Paused,
        TaskStatus::Done => Status::Done,
        TaskStatus::Failed => Status::Failed,
        TaskStatus::Stopped => Status::Stopped,
    }
}

impl Tasks {
    /// Writes task `id` as it is now to the image, if the program is bound
    /// to one. A task stopped by shutdown is not written: in the image it is
    /// still running, and starts again when the image is reopened.
    pub(super) fn record(&self, table: &[Task], id: u64, sync: bool) {
        let Some(journal) = self.journal.get() else { return };
        let Some(t) = table.get(id as usize - 1) else { return };
        if t.status == Status::Stopped && self.shutting_down() {
            return;
        }
        let record = task_record(t, id);
        // A failure here also fails the next commit, which reports it.
        if let Ok(seq) = journal.append(&crate::image::Record::Task(record))
            && sync
        {
            let _ = journal.sync(seq);
        }
    }

    /// Every task as the image records it (for a checkpoint).
    pub fn records(&self) -> Vec<TaskRecord> {
        self.lock().iter().enumerate().map(|(i, t)| task_record(t, i as u64 + 1)).collect()
    }

    /// Brings back the tasks of a reopened image (ids kept): loops that
    /// were running or paused get their state back, bound to the newest
    /// world's step function; everything else keeps its final status. Loops
    /// that were running are left `Running` but not started
    /// ([`Tasks::start_restored`]). Answers a line for each task that could
    /// not be brought back as it was.
    pub fn restore(&self, world: &World, records: &BTreeMap<u64, TaskRecord>) -> Vec<String> {
        let mut problems = Vec::new();
        let mut table = self.lock();
        let Some(&last) = records.keys().next_back() else { return problems };
        for id in 1..=last {
            let task = match records.get(&id) {
                Some(r) => self.restored(world, r).unwrap_or_else(|failed| {
                    let (task, why) = *failed;
                    problems.push(format!("task {id} ({}): {why}", r.function));
                    task
                }),
                None => placeholder(id, "its record was never written"),
            };
            table.push(task);
        }
        problems
    }

    fn restored(&self, world: &World, r: &TaskRecord) -> Result<Task, Box<(Task, String)>> {
        let mut status = from_image_status(r.status);
        let mut error = r.error.clone().map(plain);
        let alive = matches!(status, Status::Running | Status::Paused);
        if !r.is_loop && alive {
            // Jobs are not restarted (section 8): one that was running ended
            // with the process.
            status = Status::Stopped;
            error = Some(plain("interrupted: the process ended before the task finished".into()));
        }
        let fail = |why: String| Box::new((placeholder_named(r.id, &r.function, r.is_loop, &why), why));
        let sig = world.fns.get(r.function.as_str()).map(|f| f.sig.clone());
        let (params, ret) = match sig {
            Some(s) => (s.params.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(), s.ret),
            None if status == Status::Running || status == Status::Paused => {
                return Err(fail(format!("`{}` is not defined in world {}", r.function, world.age)));
            }
            None => (Vec::new(), lang::types::Ty::Unit),
        };
        let mut values = Vec::new();
        if matches!(status, Status::Running | Status::Paused) {
            if params.len() != r.state.len() {
                return Err(fail(format!("`{}` no longer takes the task's state", r.function)));
            }
            for (v, ty) in r.state.iter().zip(&params) {
                match crate::image::values::from_image(v, type_desc(ty, &RegisteredTypes)) {
                    Ok(b) => values.push(b),
                    Err(e) => {
                        let task = placeholder_named(r.id, &r.function, r.is_loop, &e);
                        for (b, ty) in values.into_iter().zip(&params) {
                            if ty.is_heap() {
                                // SAFETY: from_image gave us this reference.
                                unsafe { crate::runtime::heap::dec(b as *const crate::abi::Header) };
                            }
                        }
                        return Err(Box::new((task, format!("its state does not fit `{}`: {e}", r.function))));
                    }
                }
            }
        }
        let slot = world.fns.get(r.function.as_str()).map(|f| f.slot).unwrap_or(u32::MAX);
        let site = site(&r.function, params, ret, r.is_loop, slot).map_err(fail)?;
        let mut task = Task::new(r.id, site, status, error);
        if status == Status::Running {
            task.pending = Some(NOT_STARTED);
        }
        task.values = values;
        task.steps = r.steps;
        task.view = world.view.clone();
        Ok(task)
    }

    /// Starts the restored loops that were running.
    pub fn start_restored(&self, shared: &Arc<Shared>) {
        let mut table = self.lock();
        let ids: Vec<u64> = table
            .iter()
            .enumerate()
            .filter(|(_, t)| t.status == Status::Running && t.pending == Some(NOT_STARTED))
            .map(|(i, _)| i as u64 + 1)
            .collect();
        for id in ids {
            table[id as usize - 1].pending = None;
            self.start(shared, &mut table, id);
        }
    }
}

fn site(
    func: &str,
    params: Vec<lang::types::Ty>,
    ret: lang::types::Ty,
    is_loop: bool,
    slot: u32,
) -> Result<Arc<super::SpawnSite>, String> {
    let entry = crate::codegen::spawn::task_entry(&params, &ret).map_err(|e| e.0)?;
    let id = super::register_site(super::SpawnSite { func: Arc::from(func), params, ret, is_loop, slot, entry });
    spawn_site(id).ok_or_else(|| "internal error: a spawn site vanished".to_string())
}

/// A stopped task that stands for one that could not be brought back.
fn placeholder_named(id: u64, func: &str, is_loop: bool, why: &str) -> Task {
    let site = site(func, Vec::new(), lang::types::Ty::Unit, is_loop, u32::MAX)
        .unwrap_or_else(|_| unreachable_site(func, is_loop));
    Task::new(id, site, Status::Stopped, Some(plain(format!("not restored: {why}"))))
}

fn placeholder(id: u64, why: &str) -> Task {
    placeholder_named(id, "?", false, why)
}

/// Compiling the smallest task entry failed (the JIT itself is broken): a
/// site that is never started still needs an entry to point at.
fn unreachable_site(func: &str, is_loop: bool) -> Arc<super::SpawnSite> {
    unsafe extern "C" fn never(_: *const crate::abi::Ctx, _: u64, _: *const u64, _: *mut u64) -> u8 {
        1
    }
    Arc::new(super::SpawnSite {
        func: Arc::from(func),
        params: Vec::new(),
        ret: lang::types::Ty::Unit,
        is_loop,
        slot: u32::MAX,
        entry: never,
    })
}

fn task_record(t: &Task, id: u64) -> TaskRecord {
    let state = t
        .values
        .iter()
        .zip(&t.site.params)
        // SAFETY: the task owns its live values of the site's types.
        .map(|(&b, ty)| unsafe { crate::image::values::to_image(b, type_desc(ty, &RegisteredTypes)) })
        .collect();
    TaskRecord {
        id,
        function: t.site.func.to_string(),
        is_loop: t.site.is_loop,
        status: to_image_status(t.status),
        state,
        steps: t.steps,
        error: t.error.as_ref().map(|e| e.message.clone()),
    }
}
