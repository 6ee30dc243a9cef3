//! Tasks (SPEC section 8): one-shot jobs pinned to the world that spawned
//! them and service loops whose every step is its own evaluation in the
//! newest world, each on its own OS thread; their status, quarantine
//! (a failed step pauses its loop with the state kept), `wait`/`resume`,
//! stop and kill, and shutdown. Also the registry of live evaluations and
//! their closures that `:which` and `:closures` read.

use crate::abi::{self, Ctx, RuntimeError};
use crate::codegen::spawn::TaskEntry;
use crate::eval::{EvalOptions, Interrupt, StopReason};
use crate::program::{Shared, World};
use lang::types::Ty;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod image;

// ----- spawn and closure sites (registered at compile time) ------------------

/// What a `spawn [loop] f(args)` site starts.
#[derive(Clone, Debug)]
pub struct SpawnSite {
    pub func: Arc<str>,
    pub params: Vec<Ty>,
    pub ret: Ty,
    pub is_loop: bool,
    /// `func`'s dispatch-table slot (the same in every world).
    pub slot: u32,
    pub entry: TaskEntry,
}

impl SpawnSite {
    /// The slot counts: sites are shared by every program of the process
    /// (tests run several sessions), and slots are per program.
    fn same(&self, o: &SpawnSite) -> bool {
        self.func == o.func
            && self.slot == o.slot
            && self.params == o.params
            && self.ret == o.ret
            && self.is_loop == o.is_loop
    }
}

static SPAWN_SITES: Mutex<Vec<Arc<SpawnSite>>> = Mutex::new(Vec::new());

/// Registers a spawn site; equal sites share an id.
pub fn register_site(site: SpawnSite) -> u32 {
    let mut sites = SPAWN_SITES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = sites.iter().position(|s| s.same(&site)) {
        return i as u32;
    }
    sites.push(Arc::new(site));
    sites.len() as u32 - 1
}

/// How many arguments the site's function takes.
pub(crate) fn site_arity(id: u32) -> usize {
    spawn_site(id).map_or(0, |s| s.params.len())
}

/// Whether the site starts a service loop.
pub(crate) fn site_is_loop(id: u32) -> bool {
    spawn_site(id).is_some_and(|s| s.is_loop)
}

fn spawn_site(id: u32) -> Option<Arc<SpawnSite>> {
    SPAWN_SITES.lock().unwrap_or_else(|e| e.into_inner()).get(id as usize).cloned()
}

/// A closure literal: the global function whose activation creates it and
/// the global functions its body calls.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosureSite {
    pub creator: String,
    pub calls: Vec<Arc<str>>,
}

static CLOSURE_SITES: Mutex<Vec<Arc<ClosureSite>>> = Mutex::new(Vec::new());

/// Registers a closure literal; equal sites share an id.
pub fn register_closure_site(creator: &str, calls: Vec<Arc<str>>) -> u32 {
    let site = ClosureSite { creator: creator.to_string(), calls };
    let mut sites = CLOSURE_SITES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = sites.iter().position(|s| **s == site) {
        return i as u32;
    }
    sites.push(Arc::new(site));
    sites.len() as u32 - 1
}

// ----- live evaluations ------------------------------------------------------

/// One running evaluation as `:which`/`:closures` see it.
pub struct LiveEval {
    /// The task it belongs to; 0 for the session's own inputs.
    pub task: u64,
    /// (closure site, world) of each closure alive in it, oldest first.
    closures: Mutex<Vec<(u32, u64)>>,
    overlay: Option<OverlayView>,
    /// Blocked in `sleep` or `wait`: its activations stay as they are.
    parked: AtomicBool,
}

impl LiveEval {
    pub(crate) fn new(task: u64, overlay: Option<OverlayView>) -> LiveEval {
        LiveEval { task, closures: Mutex::new(Vec::new()), overlay, parked: AtomicBool::new(false) }
    }
    pub(crate) fn set_parked(&self, parked: bool) {
        self.parked.store(parked, Ordering::SeqCst);
    }
    pub(crate) fn push_closure(&self, site: u32, world: u64) {
        self.closures.lock().unwrap_or_else(|e| e.into_inner()).push((site, world));
    }
    pub(crate) fn pop_closures(&self, n: usize) {
        let mut c = self.closures.lock().unwrap_or_else(|e| e.into_inner());
        let keep = c.len().saturating_sub(n);
        c.truncate(keep);
    }
}

/// A closure alive in a running activation.
#[derive(Clone, Debug)]
pub struct ClosureView {
    pub creator: String,
    /// 0: the session's own input (`repl`).
    pub task: u64,
    pub world: u64,
    pub calls: Vec<Arc<str>>,
    /// The overlay its evaluation runs under.
    pub overlay: Option<OverlayView>,
}

/// The overlay an evaluation runs under, as `:tasks`, `:closures` and
/// `:which` show it (SPEC 14.2).
#[derive(Clone, Debug)]
pub struct OverlayView {
    /// `experiment NAME vK` or `request`.
    pub label: String,
    /// The functions it replaces.
    pub replaces: Vec<Arc<str>>,
}

impl OverlayView {
    /// Experiment `name` as `world` has it.
    pub(crate) fn experiment(world: &World, name: &str) -> Option<OverlayView> {
        let e = world.experiments.get(name)?;
        Some(OverlayView { label: format!("experiment {name} v{}", e.meta.version), replaces: e.sig.replaces.clone() })
    }
}

// ----- tasks -------------------------------------------------------------------

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Paused,
    Done,
    Failed,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Stopped => "stopped",
        })
    }
}

/// A loop task's state as commit-time validation sees it: new references
/// to its values (with whether each is a heap value) and their view.
pub(crate) struct LoopState {
    pub id: u64,
    pub values: Vec<(u64, bool)>,
    pub view: Arc<crate::migrate::View>,
    /// The state's types (for writing it to an image) and the steps so far.
    pub types: Vec<Ty>,
    pub steps: u64,
}

/// What an evaluation running inside a task reads (`task_id()`,
/// `stop_requested()`, `done()`).
pub struct TaskSignals {
    pub id: u64,
    pub is_loop: bool,
    stop: AtomicBool,
    done: AtomicBool,
}

impl TaskSignals {
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
    pub(crate) fn set_done(&self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

/// One line of `:tasks`.
#[derive(Clone, Debug)]
pub struct TaskView {
    pub id: u64,
    pub function: Arc<str>,
    pub is_loop: bool,
    pub status: Status,
    /// The world of its current or last evaluation (0: none yet).
    pub world: u64,
    pub steps: u64,
    pub error: Option<RuntimeError>,
    /// The experiment whose overlay it runs under (a job spawned in one).
    pub overlay: Option<OverlayView>,
}

struct Task {
    site: Arc<SpawnSite>,
    status: Status,
    world: u64,
    steps: u64,
    error: Option<RuntimeError>,
    /// Owned 64-bit forms of the arguments (a loop's: its state).
    values: Vec<u64>,
    /// The type versions the values were made in (a loop's state is
    /// migrated into the newest view before a step).
    view: Arc<crate::migrate::View>,
    /// The world a job runs in (the spawning activation's).
    home: Option<Arc<World>>,
    /// The experiment whose overlay a job runs under (its spawner's).
    overlay: Option<Arc<str>>,
    /// That overlay as `:tasks` shows it, fixed when the job was spawned
    /// (it outlives the job's world).
    shown: Option<OverlayView>,
    signals: Arc<TaskSignals>,
    interrupt: Arc<Interrupt>,
    killed: bool,
    /// Spawned by an initialiser of the world with this age, which is not
    /// published yet: the task starts when it is (never, if it is not).
    pending: Option<u64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Task {
    /// A task of `site` with no values yet.
    fn new(id: u64, site: Arc<SpawnSite>, status: Status, error: Option<RuntimeError>) -> Task {
        Task {
            status,
            world: 0,
            steps: 0,
            error,
            values: Vec::new(),
            view: Arc::default(),
            home: None,
            overlay: None,
            shown: None,
            signals: Arc::new(TaskSignals {
                id,
                is_loop: site.is_loop,
                stop: AtomicBool::new(false),
                done: AtomicBool::new(false),
            }),
            interrupt: Arc::new(Interrupt::default()),
            killed: false,
            pending: None,
            thread: None,
            site,
        }
    }

    fn release_values(&mut self) {
        for (bits, ty) in self.values.drain(..).zip(&self.site.params) {
            if ty.is_heap() {
                // SAFETY: the task owned this reference.
                unsafe { crate::runtime::heap::dec(bits as *const abi::Header) };
            }
        }
    }
}

/// How a task's evaluations are set up (output, limits, `define`): given by
/// the session, which owns those settings.
pub type Launcher = Arc<dyn Fn(Arc<Interrupt>, Arc<TaskSignals>) -> EvalOptions + Send + Sync>;

/// Every task of a program, finished ones included (`:tasks`).
#[derive(Default)]
pub struct Tasks {
    table: Mutex<Vec<Task>>,
    changed: Condvar,
    shutting_down: AtomicBool,
    /// When shutdown began (the grace period counts from there).
    shutdown_began: Mutex<Option<Instant>>,
    launcher: Mutex<Option<Launcher>>,
    live: Mutex<Vec<Arc<LiveEval>>>,
    /// The image status changes are written to (the program's).
    journal: std::sync::OnceLock<Arc<crate::image::Journal>>,
}

/// Why a task operation was refused, as the runtime error's message.
type Refusal = String;

fn unknown(id: i64) -> Refusal {
    format!("unknown task {id}: no task has that id (see :tasks)")
}

/// Where task `id` is in the table (ids count from 1).
fn index(id: i64) -> Result<usize, Refusal> {
    id.checked_sub(1).and_then(|i| usize::try_from(i).ok()).ok_or_else(|| unknown(id))
}

impl Tasks {
    fn lock(&self) -> MutexGuard<'_, Vec<Task>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits (at most `timeout`) for a task's status to change.
    fn wait_changed<'a>(&self, table: MutexGuard<'a, Vec<Task>>, timeout: Duration) -> MutexGuard<'a, Vec<Task>> {
        match self.changed.wait_timeout(table, timeout) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        }
    }

    pub fn set_launcher(&self, launcher: Launcher) {
        *self.launcher.lock().unwrap_or_else(|e| e.into_inner()) = Some(launcher);
    }

    /// Writes every later status change to `journal`.
    pub fn bind(&self, journal: Arc<crate::image::Journal>) {
        let _ = self.journal.set(journal);
    }

    /// How many steps task `id` has committed.
    pub(crate) fn steps(&self, id: u64) -> u64 {
        self.lock().get(id as usize - 1).map_or(0, |t| t.steps)
    }

    /// A loop step of task `id` committed: `bits` (owned, made in `view`)
    /// is its new state. Called while the commit still holds the gate, so
    /// a type change sees either the old state or this one with its globals.
    pub(crate) fn step_committed(&self, id: u64, bits: u64, view: Arc<crate::migrate::View>) {
        let mut table = self.lock();
        let Some(t) = table.get_mut(id as usize - 1) else { return };
        t.steps += 1;
        t.view = view;
        let heap = t.site.ret.is_heap();
        let old = std::mem::replace(&mut t.values[0], bits);
        if heap {
            // SAFETY: the task owned the previous state.
            unsafe { crate::runtime::heap::dec(old as *const abi::Header) };
        }
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Creates a task owning `values`; starts it at once unless `pending`
    /// (an unpublished world's initialiser spawned it). Returns its id.
    pub(crate) fn spawn(
        &self,
        shared: &Arc<Shared>,
        site: u32,
        values: Vec<u64>,
        home: Arc<World>,
        pending: Option<u64>,
        overlay: Option<Arc<str>>,
    ) -> Result<u64, Refusal> {
        let site = spawn_site(site).ok_or("internal error: unknown spawn site")?;
        let mut table = self.lock();
        let id = table.len() as u64 + 1;
        let is_loop = site.is_loop;
        let mut task = Task::new(id, site, Status::Running, None);
        task.values = values;
        task.view = home.view.clone();
        task.shown = overlay.as_ref().and_then(|name| OverlayView::experiment(&home, name));
        task.home = (!is_loop).then_some(home);
        task.overlay = overlay;
        task.pending = pending;
        if self.shutting_down() {
            task.release_values();
            return Err("stop requested: the session is shutting down and starts no new tasks".into());
        }
        table.push(task);
        self.record(&table, id, false);
        if pending.is_none() {
            self.start(shared, &mut table, id);
            drop(self.until_under_way(table, id));
        }
        Ok(id)
    }

    /// Waits (at most a second) until task `id`'s evaluation is under way.
    /// This makes a task observable as soon as `spawn` returns (`:which`,
    /// `:closures`) and keeps a burst of spawns from outrunning the
    /// scheduler.
    fn until_under_way<'a>(&self, mut table: MutexGuard<'a, Vec<Task>>, id: u64) -> MutexGuard<'a, Vec<Task>> {
        let deadline = Instant::now() + Duration::from_secs(1);
        while table[id as usize - 1].world == 0 && table[id as usize - 1].status == Status::Running {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            table = self.wait_changed(table, deadline - now);
        }
        table
    }

    /// Starts (or restarts) task `id`'s thread.
    fn start(&self, shared: &Arc<Shared>, table: &mut [Task], id: u64) {
        let shared2 = shared.clone();
        let spawned = crate::eval::spawn_eval_thread(format!("strata-task-{id}"), move || run_task(shared2, id));
        let task = &mut table[id as usize - 1];
        match spawned {
            Ok(handle) => {
                let old = task.thread.replace(handle);
                // A paused loop's earlier thread has finished (or is finishing).
                drop(old);
            }
            Err(e) => {
                task.status = if task.site.is_loop { Status::Paused } else { Status::Failed };
                task.error = Some(plain(format!("could not start a thread for the task: {e}")));
                self.record(table, id, true);
                self.changed.notify_all();
            }
        }
    }

    /// Starts the tasks spawned by initialisers of world `age`, now published.
    pub fn start_pending(&self, shared: &Arc<Shared>, age: u64) {
        let mut table = self.lock();
        let ids: Vec<u64> =
            table.iter().enumerate().filter(|(_, t)| t.pending == Some(age)).map(|(i, _)| i as u64 + 1).collect();
        for id in ids {
            table[id as usize - 1].pending = None;
            self.start(shared, &mut table, id);
            table = self.until_under_way(table, id);
        }
    }

    /// Forgets the tasks spawned by initialisers of world `age`, which was
    /// rejected: they never start.
    pub fn cancel_pending(&self, age: u64) {
        let mut table = self.lock();
        let mut ids = Vec::new();
        for (i, t) in table.iter_mut().enumerate().filter(|(_, t)| t.pending == Some(age)) {
            t.pending = None;
            t.status = Status::Stopped;
            t.error = Some(plain("not started: the transaction that spawned it was rejected".into()));
            t.release_values();
            ids.push(i as u64 + 1);
        }
        for id in ids {
            self.record(&table, id, true);
        }
        self.changed.notify_all();
    }

    /// `wait(id)`: blocks until the task is not running. `poll` is asked
    /// every few milliseconds whether the waiting evaluation must stop.
    pub(crate) fn wait(&self, id: i64, me: u64, poll: &dyn Fn() -> bool) -> Result<(), Refusal> {
        if id > 0 && id as u64 == me {
            return Err(format!("invalid argument: task {id} cannot wait for itself"));
        }
        let mut table = self.lock();
        loop {
            let t = table.get(index(id)?).ok_or_else(|| unknown(id))?;
            if t.pending.is_some() {
                return Err(format!(
                    "invalid argument: task {id} starts when this transaction commits, so it cannot be waited for here"
                ));
            }
            if t.status != Status::Running {
                return Ok(());
            }
            table = self.wait_changed(table, Duration::from_millis(10));
            if poll() {
                return Ok(());
            }
        }
    }

    /// `resume(id)` / `:resume ID`: a paused task runs its step again in the
    /// newest world; any other task is left as it is. Answers whether it
    /// was paused.
    pub fn resume(&self, shared: &Arc<Shared>, id: i64) -> Result<bool, Refusal> {
        let mut table = self.lock();
        let t = table.get_mut(index(id)?).ok_or_else(|| unknown(id))?;
        if t.status != Status::Paused {
            return Ok(false);
        }
        if self.shutting_down() {
            return Err("stop requested: the session is shutting down".into());
        }
        t.status = Status::Running;
        t.error = None;
        self.record(&table, id as u64, true);
        self.start(shared, &mut table, id as u64);
        Ok(true)
    }

    /// `:stop ID`: the task's `stop_requested()` turns true and a loop ends
    /// at its next step boundary.
    pub fn stop(&self, id: i64) -> Result<Status, Refusal> {
        let mut table = self.lock();
        let t = table.get_mut(index(id)?).ok_or_else(|| unknown(id))?;
        t.signals.stop.store(true, Ordering::SeqCst);
        if t.status == Status::Paused {
            t.status = Status::Stopped;
            t.release_values();
            self.record(&table, id as u64, true);
            self.changed.notify_all();
        }
        Ok(table[id as usize - 1].status)
    }

    /// `:kill ID`: interrupts the task's running evaluation (rolled back,
    /// error `interrupted`) and ends it with status `stopped`. Answers the
    /// status it had.
    pub fn kill(&self, id: i64) -> Result<Status, Refusal> {
        let mut table = self.lock();
        let t = table.get_mut(index(id)?).ok_or_else(|| unknown(id))?;
        match t.status {
            Status::Running => {
                t.killed = true;
                t.signals.stop.store(true, Ordering::SeqCst);
                t.interrupt.trip(StopReason::Interrupted);
            }
            Status::Paused => {
                t.status = Status::Stopped;
                t.release_values();
                self.record(&table, id as u64, true);
                self.changed.notify_all();
                return Ok(Status::Paused);
            }
            _ => {}
        }
        Ok(t.status)
    }

    /// The states of loop tasks that can still step (running or paused):
    /// id, new references to the state's values with whether each is a
    /// heap value, and the view they were made in (commit-time validation).
    pub(crate) fn loop_states(&self) -> Vec<LoopState> {
        let table = self.lock();
        table
            .iter()
            .enumerate()
            .filter(|(_, t)| t.site.is_loop && matches!(t.status, Status::Running | Status::Paused))
            .map(|(i, t)| {
                let values = t
                    .values
                    .iter()
                    .zip(&t.site.params)
                    .map(|(&b, ty)| {
                        if ty.is_heap() && b != 0 {
                            // SAFETY: the task owns a live reference; we hand out another.
                            unsafe { crate::runtime::heap::inc(b as *const abi::Header) };
                        }
                        (b, ty.is_heap())
                    })
                    .collect();
                LoopState {
                    id: i as u64 + 1,
                    values,
                    view: t.view.clone(),
                    types: t.site.params.clone(),
                    steps: t.steps,
                }
            })
            .collect()
    }

    /// Every task, oldest first.
    pub fn list(&self) -> Vec<TaskView> {
        self.lock()
            .iter()
            .enumerate()
            .map(|(i, t)| TaskView {
                id: i as u64 + 1,
                function: t.site.func.clone(),
                is_loop: t.site.is_loop,
                status: t.status,
                world: t.world,
                steps: t.steps,
                error: t.error.clone(),
                overlay: t.shown.clone(),
            })
            .collect()
    }

    /// Starts shutting down (a signal arrived): `stop_requested()` turns
    /// true and no new tasks or steps start. Answers when shutdown began.
    pub fn begin_shutdown(&self) -> Instant {
        let began = *self.shutdown_began.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Instant::now);
        self.shutting_down.store(true, Ordering::SeqCst);
        for t in self.lock().iter() {
            t.signals.stop.store(true, Ordering::SeqCst);
        }
        self.changed.notify_all();
        began
    }

    /// Shutdown (section 8): no new steps or tasks, `stop_requested()`
    /// true everywhere, up to `grace` for running evaluations to finish;
    /// the rest are interrupted (and rolled back). Joins every task thread.
    pub fn shutdown(&self, grace: Duration) {
        let deadline = self.begin_shutdown() + grace;
        let mut table = self.lock();
        while table.iter().any(|t| t.status == Status::Running && t.pending.is_none()) {
            let now = Instant::now();
            if now >= deadline {
                for t in table.iter_mut().filter(|t| t.status == Status::Running) {
                    t.killed = true;
                    t.interrupt.trip(StopReason::Interrupted);
                }
                break;
            }
            table = self.wait_changed(table, (deadline - now).min(Duration::from_millis(50)));
        }
        let threads: Vec<_> = table.iter_mut().filter_map(|t| t.thread.take()).collect();
        drop(table);
        for h in threads {
            let _ = h.join();
        }
        let mut table = self.lock();
        for t in table.iter_mut() {
            t.release_values();
        }
    }

    // ----- live evaluations --------------------------------------------------

    pub(crate) fn enter(&self, eval: &Arc<LiveEval>) {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).push(eval.clone());
    }

    pub(crate) fn leave(&self, eval: &Arc<LiveEval>) {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).retain(|e| !Arc::ptr_eq(e, eval));
    }

    /// Waits (at most `max`) until every running task is blocked in
    /// `sleep` or `wait`, so that what `:which` and `:closures` report is
    /// a settled picture rather than one taken mid-step.
    pub fn settle(&self, max: Duration) {
        let deadline = Instant::now() + max;
        loop {
            let running: Vec<u64> = self
                .lock()
                .iter()
                .enumerate()
                .filter(|(_, t)| t.status == Status::Running && t.pending.is_none())
                .map(|(i, _)| i as u64 + 1)
                .collect();
            let live = self.live.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let parked = |id: &u64| live.iter().any(|e| e.task == *id && e.parked.load(Ordering::SeqCst));
            if running.iter().all(parked) || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Every closure alive in a running activation.
    pub fn closures(&self) -> Vec<ClosureView> {
        let sites = CLOSURE_SITES.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out = Vec::new();
        for e in live {
            for &(site, world) in e.closures.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                if let Some(s) = sites.get(site as usize) {
                    out.push(ClosureView {
                        creator: s.creator.clone(),
                        task: e.task,
                        world,
                        calls: s.calls.clone(),
                        overlay: e.overlay.clone(),
                    });
                }
            }
        }
        out
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        let table = self.table.get_mut().unwrap_or_else(|e| e.into_inner());
        for t in table.iter_mut() {
            t.release_values();
        }
    }
}

/// Whether a function signature still takes the task's arguments and
/// gives back what it expects.
fn fits(site: &SpawnSite, sig: &lang::types::FnSig) -> bool {
    // A type written the same at a newer version fits: the state migrates.
    sig.params.len() == site.params.len()
        && sig.params.iter().zip(&site.params).all(|((_, a), b)| a.same_written(b))
        && sig.ret.same_written(&site.ret)
}

/// The thread of task `id`: one evaluation for a job, steps until it ends
/// or pauses for a loop.
fn run_task(shared: Arc<Shared>, id: u64) {
    let tasks = &shared.tasks;
    loop {
        let (site, home, overlay, values, signals, interrupt, view) = {
            let mut table = tasks.lock();
            let t = &mut table[id as usize - 1];
            if t.killed || (t.site.is_loop && (t.signals.stop_requested() || tasks.shutting_down())) {
                t.status = Status::Stopped;
                if t.killed {
                    t.error.get_or_insert_with(|| plain("interrupted".into()));
                }
                t.release_values();
                tasks.record(&table, id, true);
                tasks.changed.notify_all();
                return;
            }
            t.interrupt.reset();
            let t = &*t;
            (
                t.site.clone(),
                t.home.clone(),
                t.overlay.clone(),
                t.values.clone(),
                t.signals.clone(),
                t.interrupt.clone(),
                t.view.clone(),
            )
        };
        let world = home.unwrap_or_else(|| shared.newest());
        if site.is_loop {
            let entry = world.fns.get(&site.func);
            if !entry.is_some_and(|e| fits(&site, &e.sig)) {
                let now = entry
                    .map(|e| format!("is now `{}`", crate::eval::show_sig(&e.sig)))
                    .unwrap_or_else(|| "is not defined".into());
                let mut table = tasks.lock();
                let t = &mut table[id as usize - 1];
                t.status = Status::Paused;
                t.world = world.age;
                t.error = Some(plain(format!(
                    "signature changed: the step function `{}` {now} in world {}, and no longer takes the task's state; fix it, then resume({id})",
                    site.func, world.age
                )));
                tasks.record(&table, id, true);
                tasks.changed.notify_all();
                return;
            }
        }
        {
            let mut table = tasks.lock();
            table[id as usize - 1].world = world.age;
            tasks.changed.notify_all();
            if table[id as usize - 1].killed {
                continue;
            }
        }
        let launcher = tasks.launcher.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(launcher) = launcher else { return };
        let options = EvalOptions { overlay, ..launcher(interrupt, signals.clone()) };
        let entry = site.entry;
        let slot = site.slot as u64;
        let target = world.view.clone();
        let migrate = !crate::migrate::compatible(&view, &target);
        let step = |ctx: *const Ctx, out: *mut u64| -> u8 {
            let ctx = ctx as *mut Ctx;
            if !migrate {
                // SAFETY: `entry` is a task entry for exactly `site`'s shape;
                // the world has `site.func` with that signature (checked
                // above for loops; a job's home world spawned it); `values`
                // stay owned by the task during the call, which borrows them.
                return unsafe { entry(ctx, slot, values.as_ptr(), out) };
            }
            // A loop's state made before a type changed is migrated first.
            let mut args = values.clone();
            let mut owned = Vec::new();
            for (a, ty) in args.iter_mut().zip(&site.params) {
                // SAFETY: `ctx` is this evaluation's; `a` a live value of `ty`.
                let walked =
                    unsafe { crate::migrate::convert(ctx, &shared, &target, *a, ty.is_heap(), &mut HashMap::new()) };
                match walked {
                    Ok(Some(new)) => {
                        *a = new;
                        owned.push(new);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        owned.iter().for_each(|&o| unsafe { crate::runtime::heap::dec(o as *const abi::Header) });
                        // SAFETY: as above.
                        unsafe {
                            abi::raise(
                                ctx,
                                crate::migrate::load_error(&e, &format!("the state of task {id}"), world.age),
                            )
                        };
                        return 1;
                    }
                }
            }
            // SAFETY: as above, with the migrated arguments.
            let status = unsafe { entry(ctx, slot, args.as_ptr(), out) };
            // SAFETY: we owned the migrated copies.
            owned.iter().for_each(|&o| unsafe { crate::runtime::heap::dec(o as *const abi::Header) });
            status
        };
        // SAFETY: `step` calls code of `world` only.
        let result = unsafe { crate::eval::run_entry(world.clone(), shared.clone(), &site.ret, options, &step) };
        let mut table = tasks.lock();
        let t = &mut table[id as usize - 1];
        match result {
            // The commit handed the new state to the task (`step_committed`).
            Ok(_) if site.is_loop => {
                if signals.done.load(Ordering::SeqCst) {
                    t.status = Status::Done;
                    t.release_values();
                    tasks.record(&table, id, true);
                    tasks.changed.notify_all();
                    return;
                }
            }
            Ok(v) => {
                drop(v);
                t.steps = 1;
                t.status = Status::Done;
                t.release_values();
                t.home = None;
                tasks.record(&table, id, true);
                tasks.changed.notify_all();
                return;
            }
            // Another evaluation committed first: the step runs again, from
            // the same state, in the newest world.
            Err(e) if site.is_loop && is_write_conflict(&e) && !t.killed => std::thread::yield_now(),
            Err(e) => {
                let interrupted = e.message.starts_with("interrupted");
                t.error = Some(e);
                t.status = if t.killed || (tasks.shutting_down() && interrupted) {
                    Status::Stopped
                } else if site.is_loop {
                    Status::Paused
                } else {
                    Status::Failed
                };
                if t.status != Status::Paused {
                    t.release_values();
                }
                t.home = None;
                tasks.record(&table, id, true);
                tasks.changed.notify_all();
                return;
            }
        }
        tasks.changed.notify_all();
    }
}

/// A runtime error without Strata frames (the task machinery's own).
fn plain(message: String) -> RuntimeError {
    RuntimeError { message, frames: Vec::new() }
}

fn is_write_conflict(e: &RuntimeError) -> bool {
    e.message.starts_with("write conflict")
}
