//! One session: the single path every input takes — parse, drop unchanged
//! definitions, check against the newest world (re-checking dependents of
//! changed signatures), commit, run the top-level expressions — shared by
//! `strata run`, transcripts and `define(...)` from running code.

use jit::abi::{Output, RuntimeError};
use jit::eval::{Definer, EvalOptions, Interrupt};
use jit::program::{CommitError, Program, Shared, Thunk};
use jit::tasks::{ClosureView, Status, TaskSignals, TaskView};
use lang::ast::{self, Item};
use lang::check::check_transaction;
use lang::diagnostic::render;
use lang::types::Ty;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod deps;
#[cfg(test)]
mod enum_tests;
#[cfg(test)]
mod experiment_tests;
mod experiments;
mod image;
#[cfg(test)]
mod image_tests;
mod items;
#[cfg(test)]
mod latest_tests;
#[cfg(test)]
mod migration_props;
#[cfg(test)]
mod override_tests;
mod overrides;
mod serve;
#[cfg(test)]
mod serve_tests;
#[cfg(test)]
mod task_tests;

use deps::{Hiding, forgotten, render_breaks, settle_or_revert, still_used, texts_of};
pub use image::{Access, export};
use items::{ack_items, def_name, drop_unchanged, ends_with_expression};
pub use serve::{HttpReply, HttpRequest, refusal};

/// How an input failed; `Display` gives the full user-facing message.
#[derive(Debug)]
pub enum Failure {
    /// Rendered check diagnostics (`error: ...` with snippets).
    Check(String),
    Runtime(RuntimeError),
    Internal(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Check(text) => write!(f, "{}", text.trim_end()),
            Failure::Runtime(e) => write!(f, "{}", render_runtime_error(e)),
            Failure::Internal(msg) => write!(f, "error: internal: {msg}"),
        }
    }
}

/// `error: MESSAGE` then one `  at FUNCTION vK (world W, line N)` per
/// Strata frame, innermost first.
pub fn render_runtime_error(e: &RuntimeError) -> String {
    let mut s = format!("error: {}", e.message);
    for fr in &e.frames {
        s.push_str(&format!("\n  at {} (world {}, line {})", fr.function, fr.world, fr.line));
        match (fr.repeats, fr.period) {
            (0, _) => {}
            (n, 0 | 1) => s.push_str(&format!("\n  ... the frame above repeated {n} more times")),
            (n, p) => s.push_str(&format!("\n  ... the {p} frames above repeated {n} more times")),
        }
    }
    s
}

/// Where output of evaluations goes and how long they may run.
pub struct SessionConfig {
    pub output: OutputFactory,
    /// Where background tasks' `print` goes (standard error in transcripts).
    pub task_output: OutputFactory,
    /// Bounds every evaluation, background tasks' included (`--timeout`).
    pub timeout: Option<Duration>,
    /// Heap bytes each evaluation may use (`--memory-limit`).
    pub memory_limit: u64,
    /// How long shutdown waits for running tasks (`--grace`).
    pub grace: Duration,
    /// Show progress on standard error when a commit's migrations take
    /// long (a terminal only, SPEC 6.3).
    pub progress: bool,
}

impl SessionConfig {
    /// Everything printed to standard output, tasks' `print` included.
    pub fn stdout(timeout: Option<Duration>) -> SessionConfig {
        SessionConfig {
            output: Arc::new(|| Box::new(jit::abi::Stdout)),
            task_output: Arc::new(|| Box::new(jit::abi::Stdout)),
            timeout,
            memory_limit: jit::eval::DEFAULT_MEMORY_LIMIT,
            grace: DEFAULT_GRACE,
            progress: false,
        }
    }
}

/// A progress line on standard error for a commit whose migrations take
/// more than half a second; cleared when dropped.
struct Progress {
    done: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start() -> Progress {
        use std::sync::atomic::Ordering::Relaxed;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        let base = jit::migrate::PROGRESS.load(Relaxed);
        let thread = std::thread::Builder::new()
            .name("strata-progress".into())
            .spawn(move || {
                let start = std::time::Instant::now();
                let mut shown = false;
                while !d.load(Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    if start.elapsed() >= Duration::from_millis(500) {
                        let n = jit::migrate::PROGRESS.load(Relaxed).saturating_sub(base);
                        eprint!("\r  migrating live values: {n} so far ({:.1} s)", start.elapsed().as_secs_f64());
                        shown = true;
                    }
                }
                if shown {
                    eprint!("\r\x1b[K");
                }
            })
            .ok();
        Progress { done, thread }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The shutdown grace period of SPEC section 8.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Milliseconds; 0 means no bound.
fn millis(d: Option<Duration>) -> u64 {
    d.map(|d| d.as_millis().clamp(1, u64::MAX as u128) as u64).unwrap_or(0)
}

/// The state behind a session, shared with `define` calls from running code.
struct Engine {
    program: Mutex<Program>,
    /// The newest world's definitions as salsa inputs (locked after
    /// `program`, only while a transaction is checked and committed).
    incremental: Mutex<lang::incremental::Incremental>,
    shared: Arc<Shared>,
    config: SessionConfig,
    /// The bound on each evaluation in ms (0: none); `:timeout` changes it.
    timeout_ms: std::sync::atomic::AtomicU64,
    interrupt: Arc<Interrupt>,
    /// Compiled request overrides (`strata serve`).
    overrides: Mutex<overrides::OverrideCache>,
    /// Requests in flight (`:requests`).
    requests: Mutex<serve::Requests>,
    /// Serving requests: the newest world must keep a `handle`.
    serving: std::sync::atomic::AtomicBool,
}

pub struct Session {
    engine: Arc<Engine>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What `:stop`, `:kill` and `:resume` do to a task.
#[derive(Copy, Clone, Debug)]
pub enum TaskAction {
    Stop,
    Kill,
    Resume,
}

/// A committed transaction, ready to run.
struct Transacted {
    /// `world N: ...` or `unchanged`, when the input had definitions.
    ack: Option<String>,
    exprs: Vec<Thunk>,
    /// The input ends with an expression whose value the REPL shows.
    echo_last: bool,
    compiled: Vec<String>,
}

/// What one REPL input produced.
pub struct InputOutcome {
    pub ack: Option<String>,
    /// The echoed value of the input's final expression.
    pub echo: Option<String>,
    /// The same value in display form (strings unquoted, as `print` shows).
    pub shown: Option<String>,
    /// The global functions this input compiled (its own and re-checked
    /// dependents; everything else reused its code).
    pub compiled: Vec<String>,
}

/// Makes one output for each evaluation.
pub type OutputFactory = Arc<dyn Fn() -> Box<dyn Output> + Send + Sync>;

thread_local! {
    /// Where this thread's inputs print instead of the session's output
    /// (an attached client's inputs print to that client).
    static OUTPUT: std::cell::RefCell<Option<OutputFactory>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's inputs printing to `output`.
pub fn with_output<T>(output: OutputFactory, f: impl FnOnce() -> T) -> T {
    let old = OUTPUT.with(|o| o.replace(Some(output)));
    let result = f();
    OUTPUT.with(|o| *o.borrow_mut() = old);
    result
}

impl Engine {
    fn options(self: &Arc<Self>, in_initialiser: bool) -> EvalOptions {
        let output = OUTPUT.with(|o| o.borrow().clone()).unwrap_or_else(|| self.config.output.clone());
        EvalOptions {
            timeout: match self.timeout_ms.load(std::sync::atomic::Ordering::SeqCst) {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            interrupt: self.interrupt.clone(),
            definer: Some(self.definer()),
            in_initialiser,
            memory_limit: self.config.memory_limit,
            ..EvalOptions::new(output())
        }
    }

    /// A background task's evaluation: its own interrupt, `--timeout` (not
    /// `:timeout`, which bounds only the session's inputs), its own output.
    fn task_options(self: &Arc<Self>, interrupt: Arc<Interrupt>, task: Arc<TaskSignals>) -> EvalOptions {
        EvalOptions {
            timeout: self.config.timeout,
            interrupt,
            definer: Some(self.definer()),
            memory_limit: self.config.memory_limit,
            task: Some(task),
            ..EvalOptions::new((self.config.task_output)())
        }
    }

    /// `define(src)`: commit `src` as a transaction, run its expressions,
    /// and answer the newest world age.
    fn definer(self: &Arc<Self>) -> Definer {
        let engine = Arc::downgrade(self);
        Arc::new(move |src: &str| {
            let engine = engine.upgrade().ok_or("the session is gone")?;
            let t = engine.transact(src, "<define>").map_err(|f| {
                let text = f.to_string();
                text.strip_prefix("error: ").map(str::to_string).unwrap_or(text)
            })?;
            for thunk in &t.exprs {
                jit::program::run(&engine.shared, thunk, engine.options(false)).map_err(|e| e.message)?;
            }
            Ok(engine.shared.latest_age())
        })
    }

    /// Parses, checks and commits one transaction (not its expressions).
    fn transact(self: &Arc<Self>, source: &str, source_name: &str) -> Result<Transacted, Failure> {
        let (prog, diags) = lang::parser::parse(source);
        if !diags.is_empty() {
            return Err(Failure::Check(render(&diags, source_name, source)));
        }
        let expanded = experiments::expand_graduations(&prog, source, &self.shared.newest())
            .map_err(|d| Failure::Check(render(&d, source_name, source)))?;
        if let Some(expanded) = expanded {
            return self.transact(&expanded, source_name);
        }
        let echo_last = ends_with_expression(&prog, source);
        let mut program = self.program.lock().unwrap_or_else(|e| e.into_inner());
        let world = program.newest();
        let had_defs = prog.items.iter().any(|i| def_name(i).is_some() || matches!(i, Item::Forget(_)));
        let forgets = forgotten(&prog, &world).map_err(|d| Failure::Check(render(&d, source_name, source)))?;
        let all_items = prog.items;
        let prog =
            ast::Program { items: all_items.iter().filter(|i| !matches!(i, Item::Forget(_))).cloned().collect() };
        let kept = drop_unchanged(&prog, source, &world, &HashSet::new());
        let src: Arc<str> = Arc::from(source);
        let env = Hiding { world: &world, hidden: &forgets };
        let checked =
            check_transaction(&kept, &src, &env).map_err(|d| Failure::Check(render(&d, source_name, source)))?;
        let ours: HashSet<Arc<str>> = kept.items.iter().filter_map(|i| def_name(i).map(Arc::from)).collect();
        if let Some(msg) = still_used(&world, &forgets, &ours) {
            return Err(Failure::Check(msg));
        }
        if self.serving.load(std::sync::atomic::Ordering::SeqCst)
            && (forgets.contains("handle") || serve::handle_sig_ok(&checked) == Some(false))
        {
            return Err(Failure::Check(format!(
                "error: breaks: this change leaves world {} without `handle(req: Request) -> Response`, which the server calls for every request\n  = hint: keep `handle` with that type",
                world.age + 1
            )));
        }
        let replaced: HashSet<Arc<str>> = ours.union(&forgets).cloned().collect();
        experiments::check_traffic(&kept, &world, &replaced)
            .map_err(|d| Failure::Check(render(&d, source_name, source)))?;

        // Definitions that use a name whose signature changed are re-checked
        // (and recompiled) with the transaction; if one breaks, nothing commits.
        let forget_list: Vec<Arc<str>> = forgets.iter().cloned().collect();
        let mut incr = self.incremental.lock().unwrap_or_else(|e| e.into_inner());
        let mut prospect = deps::apply(&mut incr, &checked, &texts_of(&kept, &src, &checked, &[]), &forget_list);
        let skip: HashSet<Arc<str>> = ours.union(&forgets).cloned().collect();
        let mut dependents = match incr.recheck(&mut prospect, &skip) {
            Ok(d) => d,
            Err(broken) => {
                incr.revert(prospect);
                return Err(Failure::Check(render_breaks(&broken)));
            }
        };
        let rechecked = experiments::recheck(&world, &incr.env(), &skip);
        match rechecked {
            Ok(d) => dependents.extend(d),
            Err(broken) => {
                incr.revert(prospect);
                return Err(Failure::Check(render_breaks(&broken)));
            }
        }
        let texts = texts_of(&kept, &src, &checked, &dependents);
        let checked = deps::with_dependents(checked, &dependents);

        let engine = self.clone();
        let options = move || engine.options(true);
        let log_line =
            |versions: &HashMap<Arc<str>, u32>| ack_items(&all_items, &ours, versions, &HashMap::new()).join(", ");
        let progress = (self.config.progress && world.redefines_types(&checked)).then(Progress::start);
        let committed = program.commit(&checked, &texts, &forget_list, &log_line, &options);
        drop(progress);
        let committed = settle_or_revert(&mut incr, prospect, &dependents, committed).map_err(|e| match e {
            // A feature not built yet is the user's news, not an internal fault.
            CommitError::Codegen(msg) if msg.contains("not supported yet") => Failure::Check(format!("error: {msg}")),
            CommitError::Codegen(msg) => Failure::Internal(msg),
            CommitError::Init { global, mut error } => {
                error.message = format!("{} (in the initialiser of `{global}`)", error.message);
                Failure::Runtime(error)
            }
            CommitError::Migration(error) => Failure::Runtime(error),
            CommitError::Image(msg) => Failure::Check(format!("error: {msg}")),
        })?;
        if let Some(msg) = committed.unsaved {
            return Err(Failure::Check(format!("error: {msg}")));
        }
        let ack = had_defs.then(|| {
            let items = ack_items(&all_items, &ours, &committed.versions, &committed.migrated);
            if items.is_empty() {
                "unchanged".to_string()
            } else {
                format!("world {}: {}", committed.world.age, items.join(", "))
            }
        });
        let compiled = committed.compiled.iter().map(|n| n.to_string()).collect();
        Ok(Transacted { ack, exprs: committed.exprs, echo_last, compiled })
    }
}

impl Session {
    /// A fresh session, or one bound to (or reading) an image.
    pub fn open_or_new(config: SessionConfig, image: Option<(&std::path::Path, Access)>) -> Result<Session, String> {
        match image {
            Some((path, access)) => Session::open(config, path, access),
            None => Ok(Session::new(config)),
        }
    }

    pub fn new(config: SessionConfig) -> Session {
        let mut program = Program::new();
        let mut incremental = lang::incremental::Incremental::new();
        match lang::check::check_prelude() {
            Ok(checked) => {
                program.install_prelude(&checked);
                // Re-checked dependents see world 1 through the database too.
                let texts = texts_of(&lang::prelude::parsed().0, lang::prelude::SOURCE, &checked, &[]);
                let prospect = deps::apply(&mut incremental, &checked, &texts, &[]);
                incremental.settle(prospect, &[]);
            }
            // The standard library's own text is fixed: a failure is a bug
            // of this build, and the session goes on without it.
            Err(d) => crate::say::err!("internal error: the standard library does not check: {:?}", d.first()),
        }
        let shared = program.shared.clone();
        let timeout_ms = std::sync::atomic::AtomicU64::new(millis(config.timeout));
        let engine = Engine {
            program: Mutex::new(program),
            incremental: Mutex::new(incremental),
            shared,
            config,
            timeout_ms,
            interrupt: Arc::new(Interrupt::default()),
            overrides: Mutex::default(),
            requests: Mutex::default(),
            serving: std::sync::atomic::AtomicBool::new(false),
        };
        let engine = Arc::new(engine);
        // Weak: the tasks live inside the engine's shared state.
        let weak = Arc::downgrade(&engine);
        engine.shared.tasks.set_launcher(Arc::new(move |interrupt, task| match weak.upgrade() {
            Some(engine) => engine.task_options(interrupt, task),
            None => EvalOptions { interrupt, task: Some(task), ..EvalOptions::new(Box::new(jit::abi::Stdout)) },
        }));
        Session { engine }
    }

    /// Shutdown (section 8): no new tasks or steps, `stop_requested()`
    /// true, up to the grace period for running evaluations, then the rest
    /// interrupted and rolled back. Idempotent.
    pub fn shutdown(&self) {
        if !self.shutting_down() {
            self.checkpoint_before_shutdown();
        }
        self.engine.shared.tasks.shutdown(self.engine.config.grace);
    }

    /// A shutdown signal: `stop_requested()` turns true at once; the
    /// session's running evaluation is interrupted if it has not finished
    /// when the grace period ends.
    pub fn begin_shutdown(self: &Arc<Self>) {
        if !self.shutting_down() {
            self.checkpoint_before_shutdown();
        }
        let began = self.engine.shared.tasks.begin_shutdown();
        let session = Arc::downgrade(self);
        let grace = self.engine.config.grace;
        let _ = std::thread::Builder::new().name("strata-grace".into()).spawn(move || {
            std::thread::sleep((began + grace).saturating_duration_since(std::time::Instant::now()));
            if let Some(s) = session.upgrade() {
                s.interrupt();
            }
        });
    }

    /// Blocks until no task is running (or shutdown has begun).
    pub fn wait_for_tasks(&self) {
        while !self.shutting_down() && self.engine.shared.tasks.list().iter().any(|t| t.status == Status::Running) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        self.engine.shared.tasks.shutting_down()
    }

    /// Every task of the session, finished ones included.
    pub fn tasks(&self) -> Vec<TaskView> {
        self.engine.shared.tasks.list()
    }

    /// `:stop ID`, `:kill ID`, `:resume ID`.
    pub fn control_task(&self, action: TaskAction, id: i64) -> Result<String, String> {
        let tasks = &self.engine.shared.tasks;
        Ok(match action {
            TaskAction::Stop => format!("task {id}: stop requested ({})", tasks.stop(id)?),
            TaskAction::Kill => match tasks.kill(id)? {
                Status::Running => {
                    // Let the interrupted evaluation unwind (it stops at its
                    // next poll), so that a `:tasks` right after shows it.
                    let deadline = std::time::Instant::now() + Duration::from_secs(1);
                    while std::time::Instant::now() < deadline
                        && self.tasks().iter().any(|t| t.id == id as u64 && t.status == Status::Running)
                    {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    format!("task {id}: interrupted; it ends as stopped")
                }
                Status::Paused => format!("task {id}: stopped"),
                other => format!("task {id}: already {other}"),
            },
            TaskAction::Resume => match tasks.resume(&self.engine.shared, id)? {
                true => format!("task {id}: running"),
                false => format!("task {id}: not paused, nothing to resume"),
            },
        })
    }

    /// Every closure alive in a running activation.
    pub fn closures(&self) -> Vec<ClosureView> {
        self.engine.shared.tasks.closures()
    }

    /// Lets running tasks reach a blocking point (at most 100 ms) before
    /// reporting what they are bound to.
    pub fn settle_tasks(&self) {
        self.engine.shared.tasks.settle(Duration::from_millis(100));
    }

    /// How many live values of each version of type `name` the globals hold.
    pub fn type_census(&self, name: &str) -> std::collections::BTreeMap<u32, u64> {
        self.engine.shared.globals.census(name)
    }

    /// `:migrate T`: rewrites every global's value to the newest versions
    /// and drops the old versions' storage — refused while a running task
    /// is pinned to a world that knows an older version of `T`.
    pub fn migrate_type(&self, name: &str) -> Result<String, String> {
        let world = self.engine.shared.newest();
        let Some(current) = world.types.get(name).map(|t| t.info.named.version) else {
            return Err(format!("unknown name `{name}`: no type of that name in world {}", world.age));
        };
        let older: Vec<String> = self
            .tasks()
            .iter()
            .filter(|t| t.status == Status::Running && t.world > 0)
            .filter(|t| self.version_in(name, t.world).is_some_and(|v| v < current))
            .map(|t| format!("task {} ({}, world {})", t.id, t.function, t.world))
            .collect();
        if !older.is_empty() {
            return Err(format!(
                "invalid argument: cannot drop older versions of `{name}` while {} still run in worlds that know them; wait for them or :kill them",
                older.join(", ")
            ));
        }
        let n = jit::program::migrate_all(&self.engine.shared, self.engine.options(false))
            .map_err(|e| render_runtime_error(&e).trim_start_matches("error: ").to_string())?;
        Ok(format!("type {name} v{current}: {n} globals rewritten to the newest versions; older copies dropped"))
    }

    /// Whether the newest world defines a type `name`.
    pub fn has_type(&self, name: &str) -> bool {
        self.engine.shared.newest().types.contains_key(name)
    }

    /// The version of `name` in world `age`, if it was defined there.
    pub fn version_in(&self, name: &str, age: u64) -> Option<u32> {
        self.history(name)
            .iter()
            .find(|h| h.meta.since <= age && h.left.is_none_or(|l| age < l))
            .map(|h| h.meta.version)
    }

    /// Whether the newest world defines a global function `name`.
    pub fn has_function(&self, name: &str) -> bool {
        self.engine.shared.newest().fns.contains_key(name)
    }

    /// The newest world's age.
    pub fn world_age(&self) -> u64 {
        self.engine.shared.latest_age()
    }

    /// Bounds each later evaluation (`:timeout MS`; `None` removes the bound).
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        self.engine.timeout_ms.store(millis(timeout), std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops the running evaluation (Ctrl-C); it fails with `interrupted`.
    pub fn interrupt(&self) {
        self.engine.interrupt.trip(jit::eval::StopReason::Interrupted);
    }

    /// The most recent `n` worlds and what each changed.
    pub fn recent_worlds(&self, n: usize) -> Vec<(u64, String)> {
        self.engine.program.lock().unwrap_or_else(|e| e.into_inner()).recent_worlds(n)
    }

    /// `NAME vK` in the newest world, or `None` if it is not defined there.
    pub fn which(&self, name: &str) -> Option<(u32, u64)> {
        let world = self.engine.shared.newest();
        world.meta_of(name).map(|m| (m.version, world.age))
    }

    /// `:clif NAME`: the Cranelift IR of NAME's current version (compiled
    /// again from its text, exactly as it was).
    pub fn clif(&self, name: &str) -> Result<String, Failure> {
        let world = self.engine.shared.newest();
        let Some(entry) = world.fns.get(name) else {
            return Err(Failure::Check(format!(
                "error: unknown name `{name}`: no function of that name in world {}",
                world.age
            )));
        };
        let text: Arc<str> = entry.meta.text.clone();
        let (prog, _) = lang::parser::parse(&text);
        let checked = check_transaction(&prog, &text, &*world).map_err(|d| Failure::Check(render(&d, name, &text)))?;
        let body = &checked.fns.first().ok_or_else(|| Failure::Internal("no function in its own text".into()))?.body;
        jit::codegen::clif_text(&*world, body).map_err(|e| Failure::Internal(e.0))
    }

    /// Every name the newest world defines (for completion).
    pub fn names(&self) -> Vec<String> {
        use lang::check::Env;
        self.engine.shared.newest().names().iter().map(|n| n.to_string()).collect()
    }

    /// Every version of `name`, oldest first.
    pub fn history(&self, name: &str) -> Vec<jit::program::HistoryEntry> {
        self.engine.program.lock().unwrap_or_else(|e| e.into_inner()).history(name)
    }

    /// `:revert NAME [vN]`: commits the text of vN (default: the version
    /// before the current one) as a new version; history is never rewritten.
    pub fn revert(&self, name: &str, version: Option<u32>) -> Result<InputOutcome, (Option<String>, Failure)> {
        let history = self.history(name);
        let current = self.engine.shared.newest().meta_of(name).map(|m| m.version);
        let target = match version {
            Some(v) => history.iter().map(|h| &h.meta).find(|m| m.version == v),
            None => {
                let cur = current.unwrap_or(u32::MAX);
                history.iter().map(|h| &h.meta).rev().find(|m| m.version < cur)
            }
        };
        let Some(target) = target else {
            let what = version.map(|v| format!("no version v{v}")).unwrap_or_else(|| "no earlier version".into());
            return Err((
                None,
                Failure::Check(format!("error: unknown name: `{name}` has {what}; see :history {name}")),
            ));
        };
        let text = target.text.to_string();
        self.input(&text, &format!("<{name} v{}>", target.version))
    }

    /// Checks `source` against the newest world without committing it.
    pub fn check(&self, source: &str, source_name: &str) -> Result<(), Failure> {
        let (prog, diags) = lang::parser::parse(source);
        if !diags.is_empty() {
            return Err(Failure::Check(render(&diags, source_name, source)));
        }
        let world = self.engine.shared.newest();
        let src: Arc<str> = Arc::from(source);
        check_transaction(&prog, &src, &*world).map(|_| ()).map_err(|d| Failure::Check(render(&d, source_name, source)))
    }

    /// Runs one input: commits its definitions, then runs its top-level
    /// expressions in order, each pinned to the newest world when it starts;
    /// stops at the first failure.
    pub fn input(&self, source: &str, source_name: &str) -> Result<InputOutcome, (Option<String>, Failure)> {
        self.engine.interrupt.reset();
        let t = self.engine.transact(source, source_name).map_err(|f| (None, f))?;
        self.run_thunks(&t.exprs, t.echo_last, t.ack, t.compiled)
    }

    /// Runs an input's compiled expressions in order, each its own
    /// evaluation; the last one's value is echoed if the input ends with it.
    fn run_thunks(
        &self,
        thunks: &[Thunk],
        echo_last: bool,
        ack: Option<String>,
        compiled: Vec<String>,
    ) -> Result<InputOutcome, (Option<String>, Failure)> {
        let (mut echo, mut shown) = (None, None);
        let n = thunks.len();
        for (i, thunk) in thunks.iter().enumerate() {
            let v = jit::program::run(&self.engine.shared, thunk, self.engine.options(false))
                .map_err(|e| (ack.clone(), Failure::Runtime(e)))?;
            if i + 1 == n && echo_last && !matches!(v.ty, Ty::Unit | Ty::Never | Ty::Error) {
                echo = Some(v.display(true));
                shown = Some(v.display(false));
            }
        }
        Ok(InputOutcome { ack, echo, shown, compiled })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jit::abi::Output;

    pub(super) struct Quiet;
    impl Output for Quiet {
        fn write_line(&self, _: &str) {}
    }

    pub(super) fn session() -> Session {
        Session::new(SessionConfig {
            output: Arc::new(|| Box::new(Quiet)),
            task_output: Arc::new(|| Box::new(Quiet)),
            ..SessionConfig::stdout(None)
        })
    }

    pub(super) fn ok(s: &Session, src: &str) -> InputOutcome {
        match s.input(src, "<test>") {
            Ok(o) => o,
            Err((_, f)) => panic!("{src}: {f}"),
        }
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn a_body_change_recompiles_only_that_function() {
        let s = session();
        ok(&s, "fn f() -> int { 1 }\nfn g() -> int { f() + 1 }\nfn h() -> int { g() * 2 }");
        let o = ok(&s, "fn f() -> int { 5 }");
        assert_eq!(o.compiled, vec!["f"]);
        assert_eq!(o.ack.as_deref(), Some("world 3: f v2"));
        assert_eq!(ok(&s, "h()").echo.as_deref(), Some("12"));
    }

    #[test]
    fn a_signature_change_recompiles_dependents_without_new_versions() {
        let s = session();
        ok(&s, "fn f() -> int { 1 }\nfn g() -> int { f() + 1 }\nfn k() -> int { 7 }");
        let o = ok(&s, "fn f() -> str { \"x\" }\nfn g() -> int { len(f()) }");
        assert_eq!(sorted(o.compiled), vec!["f", "g"]);
        assert_eq!(o.ack.as_deref(), Some("world 3: f v2, g v2"));
        // A dependent that still checks is recompiled, keeps its version, and is not acknowledged.
        ok(&s, "fn user() -> str { f() }");
        let o = ok(&s, "fn f() -> str { \"yy\" }");
        assert_eq!(o.compiled, vec!["f"]);
        assert_eq!(s.which("user"), Some((1, 5)));
    }

    #[test]
    fn a_breaking_change_commits_nothing() {
        let s = session();
        ok(&s, "fn f() -> int { 1 }\nfn g() -> int { f() + 1 }");
        let age = s.world_age();
        let err = s.input("fn f() -> str { \"x\" }", "<test>").err().expect("rejected");
        let text = err.1.to_string();
        assert!(text.contains("breaks") && text.contains("`g`"), "{text}");
        assert_eq!(s.world_age(), age);
        assert_eq!(ok(&s, "g()").echo.as_deref(), Some("2"));
    }

    #[test]
    fn a_redefined_let_is_seen_by_code_compiled_before() {
        let s = session();
        ok(&s, "let x = 1;\nfn f() -> int { x }");
        let o = ok(&s, "let x = 2");
        assert_eq!(o.compiled, vec!["f"]);
        assert_eq!(ok(&s, "f()").echo.as_deref(), Some("2"));
    }

    #[test]
    fn dependencies_come_from_resolved_names_not_text() {
        let s = session();
        ok(&s, "fn helper() -> int { 7 }\nfn user() -> int { let helper = 1; helper }");
        // `user` only has a local called `helper`: forgetting the function is fine.
        assert_eq!(ok(&s, "forget helper;").ack.as_deref(), Some("world 3: forget helper"));
        ok(&s, "type P { x: int }\nfn getx(p: P) -> int { p.x }");
        let err = s.input("forget P;", "<test>").err().expect("P is used");
        assert!(err.1.to_string().contains("`getx` uses `P`"), "{}", err.1);
    }

    #[test]
    fn unchanged_text_makes_no_world() {
        let s = session();
        ok(&s, "fn f() -> int { 1 }");
        let o = ok(&s, "fn f() -> int {   1 } // same tokens");
        assert_eq!(o.ack.as_deref(), Some("unchanged"));
        assert!(o.compiled.is_empty());
        assert_eq!(s.world_age(), 2);
    }

    #[test]
    fn a_running_call_stays_in_its_world() {
        let s = session();
        ok(&s, "fn f() -> int { 1 }");
        ok(&s, "fn g() -> int { define(\"fn f() -> int { 2 }\"); f() * 10 + latest f() }");
        assert_eq!(ok(&s, "g()").echo.as_deref(), Some("12"));
        assert_eq!(ok(&s, "f()").echo.as_deref(), Some("2"));
    }

    #[test]
    fn backtraces_fold_direct_recursion_and_cycles_of_calls() {
        let s = session();
        ok(
            &s,
            "fn r(n: int) -> int { if n == 0 { 1 / n } else { r(n - 1) } }\nfn c1(n: int) -> int { c2(n) }\nfn c2(n: int) -> int { if n == 0 { 1 / n } else { c1(n - 1) } }",
        );
        let err = |src: &str| s.input(src, "<test>").err().map(|(_, f)| f.to_string()).unwrap_or_default();
        let direct = err("r(30)");
        assert!(direct.contains("at r v1 (world 2, line 1)\n  ... the frame above repeated 30 more times"), "{direct}");
        let cycle = err("c1(20)");
        assert!(
            cycle.contains(
                "at c2 v1 (world 2, line 3)\n  at c1 v1 (world 2, line 2)\n  ... the 2 frames above repeated 20 more times"
            ),
            "{cycle}"
        );
        assert!(cycle.lines().count() < 8, "{cycle}");
    }

    #[test]
    fn a_failed_evaluation_changes_no_global() {
        let s = session();
        ok(&s, "var n: int = 0;\nfn bump() -> int { n += 1; 1 / (n - n) }");
        assert!(s.input("bump()", "<test>").is_err());
        assert_eq!(ok(&s, "n").echo.as_deref(), Some("0"));
    }

    #[test]
    fn latest_refuses_a_changed_signature() {
        let s = session();
        ok(&s, "fn f() -> int { 1 }");
        // The define also replaces g, so the change breaks no definition; the
        // running (old) g's `latest f()` then finds a different signature.
        ok(&s, "fn g() -> int { define(\"fn f() -> str { \\\"x\\\" }\\nfn g() -> int { 0 }\"); latest f() }");
        let err = s.input("g()", "<test>").err().expect("fails");
        let text = err.1.to_string();
        assert!(text.contains("signature changed") && text.contains("world"), "{text}");
    }

    /// The checks the incremental database ran since the last call, sorted.
    fn checks_run(s: &Session) -> Vec<String> {
        let incr = s.engine.incremental.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<String> = incr.take_log().into_iter().filter(|l| l.starts_with("check_def")).collect();
        v.sort();
        v
    }

    #[test]
    fn only_users_of_a_changed_signature_are_re_checked() {
        let s = session();
        s.engine.incremental.lock().unwrap_or_else(|e| e.into_inner()).keep_log();
        ok(&s, "fn f() -> int { 1 }\nfn g() -> int { f() + 1 }\nfn h() -> int { g() * 2 }\nfn k() -> int { 7 }");
        checks_run(&s);
        ok(&s, "fn f() -> int { 5 }");
        assert!(checks_run(&s).is_empty(), "a body-only change re-checks no other definition");
        let o = ok(&s, "fn g() -> float { 1.5 }\nfn h() -> int { 3 }\nfn f() -> str { \"s\" }");
        assert_eq!(sorted(o.compiled), vec!["f", "g", "h"]);
        assert!(checks_run(&s).is_empty(), "g used f, but is redefined in the same input");
        ok(&s, "fn user() -> float { g() * 2.0 }\nfn other() -> int { k() }");
        checks_run(&s);
        let o = ok(&s, "fn g() -> float { 2.5 }\nfn k() -> int { 8 }");
        assert!(checks_run(&s).is_empty(), "{:?}", o.compiled);
        let o = ok(&s, "type T { x: int }\nfn g() -> int { 1 }\nfn user() -> int { g() }\nfn t(v: T) -> int { v.x }");
        assert_eq!(sorted(o.compiled), vec!["g", "t", "user"]);
        checks_run(&s);
        let o = ok(&s, "type T { x: int, y: int = 0 }");
        assert_eq!(o.compiled, vec!["t"]);
        assert_eq!(checks_run(&s), vec!["check_def(t)"]);
    }

    #[test]
    fn a_rejected_input_leaves_the_incremental_database_as_it_was() {
        let s = session();
        ok(&s, "fn f() -> int { 1 }\nfn g() -> int { f() + 1 }\nlet x = 2;");
        let lookup = |n: &str| s.engine.incremental.lock().unwrap_or_else(|e| e.into_inner()).lookup(n);
        let before = (lookup("f"), lookup("g"), lookup("x"));
        let err =
            s.input("fn f() -> str { \"x\" }\nfn fresh() -> int { 1 }\nforget x;", "<test>").err().expect("breaks");
        assert!(err.1.to_string().starts_with("error: breaks: this change breaks `g`\n  g: "), "{}", err.1);
        assert_eq!((lookup("f"), lookup("g"), lookup("x")), before);
        assert_eq!(lookup("fresh"), None);
        // A failing initialiser rejects the commit after checking: no trace either.
        assert!(s.input("fn f() -> int { 1 / 0 }\nlet y = f();", "<test>").is_err());
        assert_eq!((lookup("f"), lookup("y")), (before.0.clone(), None));
        assert_eq!(ok(&s, "g()").echo.as_deref(), Some("2"));
    }
}
