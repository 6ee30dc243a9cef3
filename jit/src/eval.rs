//! Running compiled code: one evaluation is a context for its world, its
//! recorded error, its buffered global writes, and its interrupt switch.
//! Also the host helpers that need the evaluation (frames, stack checks,
//! globals, world ages).

use crate::abi::{self, Ctx, EvalState, Frame, Output, RuntimeError};
use crate::program::{OverlayTable, Read, RequestOverlay, Shared, World, Writes};
use crate::runtime::helpers::{AbiTy, Helper};
use crate::tasks::{LiveEval, OverlayView, TaskSignals};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Stack size of the threads that run evaluations; deep recursion ends in
/// `stack overflow` well before it is used up.
pub const EVAL_STACK_SIZE: usize = 1 << 30;
/// Room kept below the limit for host helpers (printing, freeing, compiling).
const STACK_MARGIN: usize = 64 << 20;

thread_local! {
    /// The lowest usable stack address of this thread, if it was started by
    /// [`run_on_eval_stack`].
    static STACK_FLOOR: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn stack_pointer() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Runs `f` on a thread with a stack large enough for deep Strata recursion.
pub fn run_on_eval_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> std::io::Result<T> {
    let handle = spawn_eval_thread("strata-eval".into(), f)?;
    handle.join().map_err(|_| std::io::Error::other("the evaluation thread panicked"))
}

/// Starts a thread that can run evaluations (a large stack whose floor the
/// stack checks know).
pub fn spawn_eval_thread<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<T>> {
    std::thread::Builder::new().name(name).stack_size(EVAL_STACK_SIZE).spawn(move || {
        STACK_FLOOR.with(|c| c.set(stack_pointer().saturating_sub(EVAL_STACK_SIZE) + STACK_MARGIN));
        f()
    })
}

fn stack_limit() -> usize {
    let floor = STACK_FLOOR.with(|c| c.get());
    if floor != 0 { floor } else { stack_pointer().saturating_sub(256 << 10) }
}

/// Why an evaluation was asked to stop.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StopReason {
    None = 0,
    Interrupted = 1,
    Timeout = 2,
    OutOfMemory = 3,
}

/// The switch another thread (Ctrl-C handler, watchdog) flips to stop an
/// evaluation: it trips every context of the evaluation at once.
#[derive(Default)]
pub struct Interrupt {
    reason: AtomicU8,
    ctxs: Mutex<Vec<usize>>,
}

impl Interrupt {
    pub fn trip(&self, reason: StopReason) {
        self.reason.store(reason as u8, Ordering::SeqCst);
        if let Ok(ctxs) = self.ctxs.lock() {
            for &c in ctxs.iter() {
                // SAFETY: contexts are unregistered (under this lock) before
                // they are dropped.
                unsafe { (*(c as *const Ctx)).stack_limit.store(usize::MAX, Ordering::SeqCst) };
            }
        }
    }

    /// Clears a stop request before the next evaluation starts.
    pub fn reset(&self) {
        self.reason.store(StopReason::None as u8, Ordering::SeqCst);
    }

    fn reason(&self) -> StopReason {
        match self.reason.load(Ordering::SeqCst) {
            1 => StopReason::Interrupted,
            2 => StopReason::Timeout,
            3 => StopReason::OutOfMemory,
            _ => StopReason::None,
        }
    }

    fn register(&self, ctx: &Ctx) {
        if let Ok(mut ctxs) = self.ctxs.lock() {
            ctxs.push(ctx as *const Ctx as usize);
            if self.reason() != StopReason::None {
                ctx.stack_limit.store(usize::MAX, Ordering::SeqCst);
            }
        }
    }

    fn unregister(&self, ctx: &Ctx) {
        if let Ok(mut ctxs) = self.ctxs.lock() {
            ctxs.retain(|&c| c != ctx as *const Ctx as usize);
        }
    }
}

/// A context entered with `latest`: the world it runs in and, under an
/// overlay, that overlay's table there (the context points into it).
pub(crate) type LatestCtx = (Box<Ctx>, Arc<World>, Option<Arc<OverlayTable>>);

/// The engine's side of one evaluation.
pub struct EvalHost {
    pub world: Arc<World>,
    pub shared: Arc<Shared>,
    pub interrupt: Arc<Interrupt>,
    /// First-read snapshots of globals: id -> (bits, stamp). Owned references.
    pub(crate) reads: RefCell<HashMap<u32, (u64, u64)>>,
    /// Buffered writes: id -> (bits, writer's view). Owned references.
    pub(crate) writes: RefCell<Writes>,
    /// Contexts for newer worlds entered with `latest`, kept until the end.
    pub(crate) latest_ctxs: RefCell<Vec<LatestCtx>>,
    pub(crate) definer: Option<Definer>,
    pub(crate) in_initialiser: bool,
    /// The task this evaluation belongs to, if any.
    pub(crate) task: Option<Arc<TaskSignals>>,
    /// What `:which`/`:closures` see of this evaluation.
    pub(crate) live: Arc<LiveEval>,
    /// The experiment it runs under (`request` in request scope) and that
    /// overlay's table (kept alive while the evaluation's context points
    /// into it).
    pub(crate) overlay: Option<(Arc<str>, Arc<OverlayTable>)>,
    /// Request scope: writes are discarded; `spawn` and `resume` refused.
    pub(crate) request: Option<Arc<RequestOverlay>>,
}

impl EvalHost {
    /// The world `ctx` runs in: the evaluation's own, or a newer one entered
    /// with `latest`.
    ///
    /// # Safety
    /// `ctx` must be a live context of this evaluation.
    unsafe fn world_of(&self, ctx: *mut Ctx) -> Arc<World> {
        // SAFETY: the caller guarantees a live context.
        let age = unsafe { (*ctx).world_age };
        if age == self.world.age {
            return self.world.clone();
        }
        let latest = self.latest_ctxs.borrow();
        latest.iter().find(|(_, w, _)| w.age == age).map(|(_, w, _)| w.clone()).unwrap_or_else(|| self.world.clone())
    }

    /// The type versions of the world `ctx` runs in (global reads and
    /// writes ask on every access, so the common case clones only the view).
    ///
    /// # Safety
    /// `ctx` must be a live context of this evaluation.
    unsafe fn view_of(&self, ctx: *mut Ctx) -> Arc<crate::migrate::View> {
        // SAFETY: the caller guarantees a live context.
        if unsafe { (*ctx).world_age } == self.world.age {
            return self.world.view.clone();
        }
        // SAFETY: as above.
        unsafe { self.world_of(ctx) }.view.clone()
    }
}

/// Commits source text as a transaction from running code (`define`):
/// returns the newest world age, or the check error's text.
pub type Definer = Arc<dyn Fn(&str) -> Result<u64, String> + Send + Sync>;

/// What to run and how.
pub struct EvalOptions {
    pub output: Box<dyn Output>,
    pub timeout: Option<Duration>,
    pub interrupt: Arc<Interrupt>,
    /// What `define(src)` calls; `None` makes `define` fail.
    pub definer: Option<Definer>,
    /// Global initialisers may not `define`.
    pub in_initialiser: bool,
    /// Bytes the evaluation may allocate (net) before it fails with
    /// `out of memory`.
    pub memory_limit: u64,
    /// The task the evaluation runs for (`None`: the session's own input).
    pub task: Option<Arc<TaskSignals>>,
    /// The experiment whose overlay the evaluation runs under, if any.
    pub overlay: Option<Arc<str>>,
    /// A request's own overlay (SPEC 14.4): it beats `overlay`, and the
    /// evaluation's writes are discarded even when it succeeds.
    pub request: Option<Arc<RequestOverlay>>,
}

/// The default per-evaluation heap limit (SPEC section 9): 1 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 1 << 30;

impl EvalOptions {
    /// A session's own input printing to `output`: no time limit, its own
    /// interrupt, no `define`, the default memory limit, no overlay.
    pub fn new(output: Box<dyn Output>) -> EvalOptions {
        EvalOptions {
            output,
            timeout: None,
            interrupt: Arc::new(Interrupt::default()),
            definer: None,
            in_initialiser: false,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            task: None,
            overlay: None,
            request: None,
        }
    }
}

/// A value an evaluation produced, owned by the holder.
pub struct OwnedValue {
    pub bits: u64,
    pub ty: lang::types::Ty,
}

impl OwnedValue {
    /// The display form; strings quoted when `quoted` (the REPL's echo).
    pub fn display(&self, quoted: bool) -> String {
        let d = crate::codegen::layout::type_desc(&self.ty, &crate::program::RegisteredTypes);
        // SAFETY: `bits` is a live value of type `ty`, owned by self.
        unsafe { crate::runtime::display::display(self.bits, d, quoted) }
    }
}

impl Drop for OwnedValue {
    fn drop(&mut self) {
        if self.ty.is_heap() {
            // SAFETY: we own one reference to this heap value.
            unsafe { crate::runtime::heap::dec(self.bits as *const abi::Header) };
        }
    }
}

/// Runs an entry thunk as one top-level evaluation in `world`; commits its
/// global writes if it succeeds, discards them if it fails.
///
/// # Safety
/// `thunk` must be the entry address of a thunk compiled for `world` (with
/// the entry signature), in a unit that stays alive during the call.
pub(crate) unsafe fn run_thunk(
    world: Arc<World>,
    shared: Arc<Shared>,
    thunk: *const u8,
    ret: &lang::types::Ty,
    opts: EvalOptions,
) -> Result<OwnedValue, RuntimeError> {
    // SAFETY: the caller guarantees `thunk` is an entry thunk, compiled
    // with the signature `extern "C" fn(*mut Ctx, *mut u64) -> u8`, whose
    // module stays alive.
    unsafe {
        let f: extern "C" fn(*const Ctx, *mut u64) -> u8 = std::mem::transmute(thunk);
        run_entry(world, shared, ret, opts, &|ctx, out| f(ctx, out))
    }
}

/// Runs one top-level evaluation in `world`: `invoke(ctx, out)` calls the
/// compiled code, which leaves a value of type `ret` in `out` and answers
/// its status. Commits the evaluation's global writes if it succeeds.
///
/// # Safety
/// `invoke` must call code compiled for `world` (alive during the call)
/// that follows the entry convention.
pub(crate) unsafe fn run_entry(
    world: Arc<World>,
    shared: Arc<Shared>,
    ret: &lang::types::Ty,
    opts: EvalOptions,
    invoke: &dyn Fn(*const Ctx, *mut u64) -> u8,
) -> Result<OwnedValue, RuntimeError> {
    // An experiment that no longer exists in this world leaves the
    // evaluation in service scope.
    let (overlay, shown) = match &opts.request {
        Some(r) => {
            let shown = OverlayView { label: "request".into(), replaces: r.replaces.clone() };
            (Some((Arc::from("request"), r.table.clone())), Some(shown))
        }
        None => match opts.overlay.and_then(|name| world.overlay_table(&name).map(|t| (name, t))) {
            Some((name, t)) => {
                let shown = OverlayView::experiment(&world, &name);
                (Some((name, t)), shown)
            }
            None => (None, None),
        },
    };
    let live = Arc::new(LiveEval::new(opts.task.as_ref().map_or(0, |t| t.id), shown));
    let table = overlay.as_ref().map_or(world.table_ptr(), |(_, t)| t.as_ptr());
    shared.tasks.enter(&live);
    let host = EvalHost {
        world: world.clone(),
        shared: shared.clone(),
        interrupt: opts.interrupt.clone(),
        reads: RefCell::new(HashMap::new()),
        writes: RefCell::new(HashMap::new()),
        latest_ctxs: RefCell::new(Vec::new()),
        definer: opts.definer,
        in_initialiser: opts.in_initialiser,
        task: opts.task,
        live: live.clone(),
        overlay,
        request: opts.request,
    };
    let limit = stack_limit();
    let state = EvalState { error: RefCell::new(None), output: opts.output, stack_limit: limit, host: Some(host) };
    let ctx = Box::new(Ctx {
        table,
        stack_limit: AtomicUsize::new(limit),
        err: AtomicU8::new(0),
        eval: &state,
        world_age: world.age,
    });
    opts.interrupt.register(&ctx);
    let watchdog = opts.timeout.map(|t| Watchdog::start(t, opts.interrupt.clone()));
    let memory_watch = crate::memory::Watch::start(opts.memory_limit, &opts.interrupt);
    let mut out: u64 = 0;
    let status = invoke(&*ctx, &mut out);
    drop(memory_watch);
    drop(watchdog);
    opts.interrupt.unregister(&ctx);
    let host = state.host.as_ref().expect("host set above");
    for (c, _, _) in host.latest_ctxs.borrow().iter() {
        opts.interrupt.unregister(c);
    }
    let result = if status == 0 {
        // SAFETY: the evaluation finished; `out` holds its value of `ret`.
        match unsafe { commit(&shared, &state, host, ret, out) } {
            Ok(Some(v)) => Ok(v),
            // A loop step's state now belongs to its task.
            Ok(None) => Ok(OwnedValue { bits: 0, ty: lang::types::Ty::Unit }),
            Err(e) => {
                let v = OwnedValue { bits: out, ty: ret.clone() };
                drop(v);
                Err(e)
            }
        }
    } else {
        let err = state.error.borrow_mut().take();
        Err(err.unwrap_or_else(|| RuntimeError {
            message: "internal error: failed without an error".into(),
            frames: vec![],
        }))
    };
    shared.globals.discard(&mut host.writes.borrow_mut());
    shared.globals.release_reads(&mut host.reads.borrow_mut());
    shared.tasks.leave(&live);
    result
}

/// Commits a finished evaluation: its global writes and, for a loop step,
/// the new state — written to the image first when the program is bound to
/// one, and durable (fsync'd) before this returns. Answers the value, or
/// `None` when a loop step's state was handed to its task.
///
/// # Safety
/// `out` must be a live value of `ret` owned by the caller.
unsafe fn commit(
    shared: &Arc<Shared>,
    state: &EvalState,
    host: &EvalHost,
    ret: &lang::types::Ty,
    out: u64,
) -> Result<Option<OwnedValue>, RuntimeError> {
    if host.request.is_some() {
        // A request-scope evaluation changes no state (SPEC 14.4).
        shared.globals.discard(&mut host.writes.borrow_mut());
        return Ok(Some(OwnedValue { bits: out, ty: ret.clone() }));
    }
    let journal = shared.journal.get().filter(|_| crate::persist::commits_anything(host));
    let loop_task = host.task.as_ref().filter(|t| t.is_loop).map(|t| t.id);
    // Initialisers run inside their transaction's commit, which holds the
    // gate itself; their records describe the world they run in.
    let _gate = (journal.is_some() && !host.in_initialiser).then(|| shared.globals.gate());
    let mut seq = 0;
    {
        let record = match journal {
            Some(_) => {
                let target = if host.in_initialiser { host.world.clone() } else { shared.newest() };
                // SAFETY: the caller's contract.
                Some(unsafe { crate::persist::commit_record(host, state, &target, ret, out)? })
            }
            None => None,
        };
        let mut write_record = || {
            if let (Some(j), Some(r)) = (journal, &record) {
                seq = j.append(r).map_err(|message| RuntimeError { message, frames: vec![] })?;
            }
            Ok(())
        };
        shared.globals.commit(&host.reads.borrow(), &mut host.writes.borrow_mut(), &mut write_record)?;
    }
    let value = match loop_task {
        Some(id) => {
            shared.tasks.step_committed(id, out, host.world.view.clone());
            None
        }
        None => Some(OwnedValue { bits: out, ty: ret.clone() }),
    };
    drop(_gate);
    // Everything appended so far, not only this record: what the evaluation
    // read or spawned must be durable before its result is shown.
    if let Some(j) = shared.journal.get()
        && let Err(message) = j.sync(j.written().max(seq))
    {
        drop(value);
        return Err(RuntimeError { message, frames: vec![] });
    }
    Ok(value)
}

/// Trips the interrupt when the time is up, unless dropped first. Every
/// watchdog of the process shares one timer thread (a thread per
/// evaluation cost more than a small request's whole evaluation).
struct Watchdog {
    key: (Instant, u64),
}

/// The deadlines of every running watchdog, and when the timer thread
/// wakes next.
struct Timers {
    state: Mutex<TimerState>,
    wake: Condvar,
    next: std::sync::atomic::AtomicU64,
}

struct TimerState {
    /// Nearest first.
    due: std::collections::BTreeMap<(Instant, u64), Arc<Interrupt>>,
    /// When the timer thread wakes up by itself (`None`: only when told).
    /// A new deadline wakes it only if it is sooner, so a steady stream of
    /// evaluations with equal timeouts costs no thread wake-up each — a
    /// finished evaluation's deadline is not removed from its sleep, the
    /// thread just finds nothing due then.
    wakes_at: Option<Instant>,
}

fn timers() -> &'static Timers {
    static TIMERS: std::sync::OnceLock<&'static Timers> = std::sync::OnceLock::new();
    TIMERS.get_or_init(|| {
        let t: &'static Timers = Box::leak(Box::new(Timers {
            state: Mutex::new(TimerState { due: std::collections::BTreeMap::new(), wakes_at: None }),
            wake: Condvar::new(),
            next: std::sync::atomic::AtomicU64::new(0),
        }));
        // If the thread cannot start, timeouts are not enforced; nothing else breaks.
        let _ = std::thread::Builder::new().name("strata-timers".into()).spawn(move || t.run());
        t
    })
}

impl Timers {
    fn run(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            while let Some(entry) = state.due.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                entry.remove().trip(StopReason::Timeout);
            }
            state.wakes_at = state.due.first_key_value().map(|((t, _), _)| *t);
            state = match state.wakes_at {
                Some(t) => self.wake.wait_timeout(state, t - now).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0),
                None => self.wake.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

impl Watchdog {
    fn start(timeout: Duration, interrupt: Arc<Interrupt>) -> Watchdog {
        let t = timers();
        let key = (Instant::now() + timeout, t.next.fetch_add(1, Ordering::Relaxed));
        let mut state = t.state.lock().unwrap_or_else(|e| e.into_inner());
        state.due.insert(key, interrupt);
        if state.wakes_at.is_none_or(|at| key.0 < at) {
            state.wakes_at = Some(key.0);
            t.wake.notify_one();
        }
        Watchdog { key }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        timers().state.lock().unwrap_or_else(|e| e.into_inner()).due.remove(&self.key);
    }
}

// ----- frames ----------------------------------------------------------------

/// Function names for backtraces, by frame id (with the reverse index).
struct FrameNames {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

static FRAMES: Mutex<Option<FrameNames>> = Mutex::new(None);

/// Registers a function name for backtraces (at compile time).
pub fn register_frame(name: &str) -> u32 {
    let mut guard = FRAMES.lock().unwrap_or_else(|e| e.into_inner());
    let frames = guard.get_or_insert_with(|| FrameNames { names: Vec::new(), ids: HashMap::new() });
    if let Some(&id) = frames.ids.get(name) {
        return id;
    }
    let id = frames.names.len() as u32;
    frames.names.push(name.to_string());
    frames.ids.insert(name.to_string(), id);
    id
}

// ----- host helpers that need the evaluation ----------------------------------------

/// # Safety
/// `ctx` must be a live context created by [`run_thunk`].
unsafe fn host<'a>(ctx: *mut Ctx) -> Option<&'a EvalHost> {
    // SAFETY: the caller guarantees `ctx` and its eval are live.
    unsafe { (*(*ctx).eval).host.as_ref() }
}

/// Backtraces keep at most this many distinct frames (recursion is folded).
const MAX_FRAMES: usize = 100;
/// The longest cycle of calls folded into one (`f` calls `g` calls `f`: 2).
const MAX_PERIOD: usize = 4;

/// Folds a cycle that has just repeated at the end of `frames`: if the last
/// `p` frames are the `p` before them again, they are dropped and counted
/// on the window they repeat. Answers whether it folded.
fn fold_cycle(frames: &mut Vec<Frame>) -> bool {
    let same = |a: &Frame, b: &Frame| a.function == b.function && a.line == b.line && a.world == b.world;
    let n = frames.len();
    for p in 2..=MAX_PERIOD.min(n / 2) {
        let (earlier, last) = (&frames[n - 2 * p..n - p], &frames[n - p..]);
        let plain = |w: &[Frame]| w.iter().all(|f| f.repeats == 0);
        let folded_before = earlier[p - 1].period == p as u32 || earlier[p - 1].repeats == 0;
        if earlier.iter().zip(last).all(|(a, b)| same(a, b)) && plain(last) && plain(&earlier[..p - 1]) && folded_before
        {
            frames.truncate(n - p);
            let end = &mut frames[n - p - 1];
            end.period = p as u32;
            end.repeats += 1;
            return true;
        }
    }
    false
}

/// Adds a Strata frame to the error being propagated; recursion is counted
/// instead of repeated (identical consecutive frames, and cycles of up to
/// [`MAX_PERIOD`] frames).
unsafe extern "C" fn rt_push_frame(ctx: *mut Ctx, frame: u32, line: u32) {
    // SAFETY: called by compiled code with its live context.
    let eval = unsafe { &*(*ctx).eval };
    let Ok(mut e) = eval.error.try_borrow_mut() else { return };
    let Some(err) = e.as_mut() else { return };
    let frames = FRAMES.lock().unwrap_or_else(|e| e.into_inner());
    let name = frames.as_ref().and_then(|f| f.names.get(frame as usize)).map(String::as_str).unwrap_or("?");
    // SAFETY: as above.
    let world = unsafe { (*ctx).world_age };
    match err.frames.last_mut() {
        Some(last) if last.period <= 1 && last.function == name && last.line == line && last.world == world => {
            last.repeats += 1;
        }
        _ => {
            err.frames.push(Frame { function: name.to_string(), world, line, repeats: 0, period: 1 });
            // A cycle is only seen once two rounds of it are in: keep up to
            // MAX_PERIOD frames past the limit.
            if !fold_cycle(&mut err.frames) && err.frames.len() > MAX_FRAMES + MAX_PERIOD {
                err.frames.pop();
            }
        }
    }
}

/// The slow path of the stack/interrupt check. Returns 1 (error recorded)
/// to stop, 0 to go on.
unsafe extern "C" fn rt_stack_check(ctx: *mut Ctx) -> u8 {
    // SAFETY: called by compiled code with its live context.
    unsafe {
        let c = &*ctx;
        let eval = &*c.eval;
        if let Some(h) = host(ctx) {
            match h.interrupt.reason() {
                StopReason::Interrupted => {
                    abi::raise(ctx, "interrupted");
                    return 1;
                }
                StopReason::Timeout => {
                    abi::raise(ctx, "timeout: the evaluation ran longer than its time limit");
                    return 1;
                }
                StopReason::OutOfMemory => {
                    abi::raise(ctx, "out of memory: the evaluation went past its heap limit (see --memory-limit)");
                    return 1;
                }
                StopReason::None => {}
            }
        }
        if stack_pointer() < eval.stack_limit {
            abi::raise(ctx, "stack overflow: recursion too deep");
            return 1;
        }
        c.stack_limit.store(eval.stack_limit, Ordering::SeqCst);
        0
    }
}

unsafe extern "C" fn rt_no_match(ctx: *mut Ctx) {
    // SAFETY: called by compiled code with its live context.
    unsafe { abi::raise(ctx, "internal error: no match arm matched") };
}

unsafe extern "C" fn rt_world_age(ctx: *mut Ctx) -> i64 {
    // SAFETY: called by compiled code with its live context.
    unsafe { (*ctx).world_age as i64 }
}

/// `define(src)`: commits `src` from running code; the caller stays in its
/// world. Returns the newest world age.
unsafe extern "C" fn rt_define(ctx: *mut Ctx, src: *const abi::Header) -> i64 {
    // SAFETY: called by compiled code with its live context and a live str.
    unsafe {
        let Some(h) = host(ctx) else { return 0 };
        if h.in_initialiser {
            abi::raise(ctx, "define failed: `define` is not allowed in a global initialiser");
            return 0;
        }
        if let Some((name, _)) = &h.overlay {
            let inside =
                if h.request.is_some() { "a request's overlay".to_string() } else { format!("experiment `{name}`") };
            abi::raise(
                ctx,
                format!("not allowed in an overlay: `define` cannot change the program from inside {inside}"),
            );
            return 0;
        }
        let Some(definer) = h.definer.clone() else {
            abi::raise(ctx, "define failed: this evaluation cannot define");
            return 0;
        };
        let text = crate::runtime::heap::str_value(src).to_string();
        match definer(&text) {
            Ok(age) => age as i64,
            Err(msg) => {
                abi::raise(ctx, format!("define failed: {msg}"));
                0
            }
        }
    }
}

/// Called when a `latest` call has returned: its context is no longer
/// needed (closures cannot outlive the activation), so a loop of `latest`
/// calls retains no worlds.
unsafe extern "C" fn rt_latest_release(ctx: *mut Ctx, latest: *mut Ctx) {
    // SAFETY: called by compiled code with its live contexts.
    unsafe {
        if latest == ctx {
            return;
        }
        let Some(h) = host(ctx) else { return };
        let mut ctxs = h.latest_ctxs.borrow_mut();
        if let Some(i) = ctxs.iter().rposition(|(c, _, _)| std::ptr::eq(&**c, latest)) {
            let (c, _world, _overlay) = ctxs.remove(i);
            h.interrupt.unregister(&c);
        }
    }
}

// ----- task builtins ---------------------------------------------------------

/// Whether the evaluation of `ctx` has been asked to stop (interrupt,
/// timeout, memory); if so its error is recorded.
///
/// # Safety
/// `ctx` must be a live context.
unsafe fn must_stop(ctx: *mut Ctx) -> bool {
    // SAFETY: as the caller guarantees.
    unsafe { (*ctx).stack_limit.load(Ordering::SeqCst) == usize::MAX && rt_stack_check(ctx) != 0 }
}

/// `sleep(ms)`: waits, in short slices so that an interrupt or timeout
/// still stops the evaluation within its polling bound.
unsafe extern "C" fn rt_sleep(ctx: *mut Ctx, ms: i64) {
    let deadline = std::time::Instant::now() + Duration::from_millis(ms.max(0) as u64);
    // SAFETY: called by compiled code with its live context.
    let host = unsafe { host(ctx) };
    host.inspect(|h| h.live.set_parked(true));
    loop {
        let now = std::time::Instant::now();
        // SAFETY: as above.
        if now >= deadline || unsafe { must_stop(ctx) } {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
    }
    host.inspect(|h| h.live.set_parked(false));
}

/// `task_id()`: 0 outside a task.
unsafe extern "C" fn rt_task_id(ctx: *mut Ctx) -> i64 {
    // SAFETY: called by compiled code with its live context.
    unsafe { host(ctx).and_then(|h| h.task.as_ref()).map_or(0, |t| t.id as i64) }
}

/// `stop_requested()`: `:stop` of this task, or the session shutting down.
unsafe extern "C" fn rt_stop_requested(ctx: *mut Ctx) -> u8 {
    // SAFETY: called by compiled code with its live context.
    let Some(h) = (unsafe { host(ctx) }) else { return 0 };
    (h.shared.tasks.shutting_down() || h.task.as_ref().is_some_and(|t| t.stop_requested())) as u8
}

/// `done()` ends a loop task after this step; anywhere else it is an error.
unsafe extern "C" fn rt_done(ctx: *mut Ctx) {
    // SAFETY: called by compiled code with its live context.
    unsafe {
        match host(ctx).and_then(|h| h.task.as_ref()) {
            Some(t) if t.is_loop => t.set_done(),
            _ => abi::raise(ctx, "invalid argument: `done()` ends a loop task, and this evaluation is not one"),
        }
    }
}

/// `spawn [loop] f(args)`: takes ownership of the arguments' 64-bit forms
/// (`args`, as many as the site's function has parameters) and answers the
/// new task's id. A task spawned by an initialiser starts when its world is
/// published.
unsafe extern "C" fn rt_spawn(ctx: *mut Ctx, site: u32, args: *const u64) -> i64 {
    // SAFETY: called by compiled code with its live context and `args`
    // holding the site's arguments.
    unsafe {
        let Some(h) = host(ctx) else { return 0 };
        if h.request.is_some() {
            abi::raise(ctx, "not allowed in an overlay: a task would outlive the request's scope");
            return 0;
        }
        let overlay = h.overlay.as_ref().map(|(name, _)| name.clone());
        if let Some(name) = &overlay
            && crate::tasks::site_is_loop(site)
        {
            abi::raise(
                ctx,
                format!("not allowed in an overlay: a service loop would outlive experiment `{name}`'s scope"),
            );
            return 0;
        }
        let n = crate::tasks::site_arity(site);
        let values = std::slice::from_raw_parts(args, n).to_vec();
        let home = h.world_of(ctx);
        let pending = h.in_initialiser.then_some(home.age);
        match h.shared.tasks.spawn(&h.shared, site, values, home, pending, overlay) {
            Ok(id) => id as i64,
            Err(msg) => {
                abi::raise(ctx, msg);
                0
            }
        }
    }
}

/// `wait(id)`: blocks until task `id` is not running (done, failed,
/// stopped or paused); never fails because of the task's own error.
unsafe extern "C" fn rt_wait(ctx: *mut Ctx, id: i64) {
    // SAFETY: called by compiled code with its live context.
    unsafe {
        let Some(h) = host(ctx) else { return };
        let me = h.task.as_ref().map_or(0, |t| t.id);
        let poll = || must_stop(ctx);
        h.live.set_parked(true);
        let waited = h.shared.tasks.wait(id, me, &poll);
        h.live.set_parked(false);
        if let Err(msg) = waited {
            abi::raise(ctx, msg);
        }
    }
}

/// `resume(id)`: a paused task is running again when this returns.
unsafe extern "C" fn rt_resume(ctx: *mut Ctx, id: i64) {
    // SAFETY: called by compiled code with its live context.
    unsafe {
        let Some(h) = host(ctx) else { return };
        if h.request.is_some() {
            abi::raise(ctx, "not allowed in an overlay: `resume` changes a task, which outlives the request's scope");
            return;
        }
        if let Err(msg) = h.shared.tasks.resume(&h.shared, id) {
            abi::raise(ctx, msg);
        }
    }
}

/// A closure literal is being passed to a call: it is alive until
/// [`rt_closures_pop`].
unsafe extern "C" fn rt_closure_push(ctx: *mut Ctx, site: u32) {
    // SAFETY: called by compiled code with its live context.
    unsafe {
        if let Some(h) = host(ctx) {
            h.live.push_closure(site, (*ctx).world_age);
        }
    }
}

/// The call that took `n` closure literals has returned.
unsafe extern "C" fn rt_closures_pop(ctx: *mut Ctx, n: u32) {
    // SAFETY: called by compiled code with its live context.
    unsafe {
        if let Some(h) = host(ctx) {
            h.live.pop_closures(n as usize);
        }
    }
}

static SIGS: Mutex<Vec<lang::types::FnSig>> = Mutex::new(Vec::new());

/// Registers the signature a `latest` call site expects (at compile time).
pub fn register_sig(sig: &lang::types::FnSig) -> u32 {
    let mut sigs = SIGS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) =
        sigs.iter().position(|s| s.params.iter().map(|p| &p.1).eq(sig.params.iter().map(|p| &p.1)) && s.ret == sig.ret)
    {
        return i as u32;
    }
    sigs.push(sig.clone());
    sigs.len() as u32 - 1
}

pub(crate) fn show_sig(sig: &lang::types::FnSig) -> String {
    let params: Vec<String> = sig.params.iter().map(|(_, t)| t.to_string()).collect();
    format!("fn({}) -> {}", params.join(", "), sig.ret)
}

/// `latest f(...)`: a context for the newest world (the same evaluation),
/// after checking that the newest `f` still has the signature the caller
/// was checked against — types written the same, at any version: values
/// of user types cross the boundary migrated (`rt_latest_arg`,
/// `rt_latest_result`; SPEC 6.3). Function types must match exactly (a
/// closure of the caller's world cannot take newer values).
unsafe extern "C" fn rt_latest_ctx(ctx: *mut Ctx, name: u32, sig: u32) -> *mut Ctx {
    // SAFETY: called by compiled code with its live context.
    unsafe {
        let Some(h) = host(ctx) else { return ctx };
        let newest = h.shared.newest();
        let fname = FRAMES
            .lock()
            .ok()
            .and_then(|f| f.as_ref().and_then(|f| f.names.get(name as usize).cloned()))
            .unwrap_or_default();
        let expected = SIGS.lock().ok().and_then(|s| s.get(sig as usize).cloned());
        let found = newest.fns.get(fname.as_str()).map(|e| e.sig.clone());
        let fits = match (&expected, &found) {
            (Some(e), Some(f)) => {
                e.params.len() == f.params.len()
                    && e.params.iter().zip(&f.params).all(|(a, b)| a.1.fits_any_version(&b.1))
                    && f.ret.fits_any_version(&e.ret)
            }
            _ => false,
        };
        if !fits {
            let want = expected.as_ref().map(show_sig).unwrap_or_default();
            let got = found.as_ref().map(show_sig).unwrap_or_else(|| "not defined".into());
            abi::raise(
                ctx,
                format!(
                    "signature changed: `{fname}` is {want} in world {} but {got} in world {}; `latest` cannot call it",
                    (*ctx).world_age,
                    newest.age
                ),
            );
            return ctx;
        }
        if newest.age == (*ctx).world_age {
            return ctx;
        }
        let c = &*ctx;
        // Under an overlay, the experiment's version in the newest world
        // (none if it was graduated or forgotten), or the request's texts
        // checked there.
        let overlay = match &h.request {
            Some(r) => match (r.rebase)(&newest) {
                Ok(t) => Some(t),
                Err(why) => {
                    abi::raise(
                        ctx,
                        format!(
                            "signature changed: the request's override does not check in world {}: {why}",
                            newest.age
                        ),
                    );
                    return ctx;
                }
            },
            None => h.overlay.as_ref().and_then(|(name, _)| newest.overlay_table(name)),
        };
        let new = Box::new(Ctx {
            table: overlay.as_ref().map_or(newest.table_ptr(), |t| t.as_ptr()),
            stack_limit: AtomicUsize::new(c.stack_limit.load(Ordering::SeqCst)),
            err: AtomicU8::new(0),
            eval: c.eval,
            world_age: newest.age,
        });
        h.interrupt.register(&new);
        let p = &*new as *const Ctx as *mut Ctx;
        h.latest_ctxs.borrow_mut().push((new, newest, overlay));
        p
    }
}

/// A `latest` call's argument (borrowed, a heap value holding user types)
/// in the view of the newest world the call runs in (`latest`, the context
/// `rt_latest_ctx` made), migrated if it holds older versions: an owned
/// reference.
unsafe extern "C" fn rt_latest_arg(ctx: *mut Ctx, latest: *mut Ctx, bits: i64) -> i64 {
    // SAFETY: called by compiled code with its live contexts and a live value.
    unsafe { cross_latest(ctx, ctx, latest, latest, bits as u64, "an argument of `latest`") }
}

/// A `latest` call's result (owned, a heap value holding user types) back
/// in the caller's view: an owned reference; fails (`newer version`) if it
/// holds versions the caller's world does not know.
unsafe extern "C" fn rt_latest_result(ctx: *mut Ctx, latest: *mut Ctx, bits: i64) -> i64 {
    // SAFETY: called by compiled code with its live contexts and an owned value.
    unsafe {
        let out = cross_latest(ctx, latest, ctx, ctx, bits as u64, "the result of `latest`");
        crate::runtime::heap::dec(bits as *const abi::Header);
        out
    }
}

/// `bits` (borrowed), made in the world of `from`, brought into the view of
/// `into`'s world, migrations running in `runner`'s world: an owned
/// reference (0 with an error raised on `ctx` if it cannot be). Between
/// worlds that agree on every type's version it is the value itself, not
/// walked.
///
/// # Safety
/// The contexts must be live contexts of one evaluation; `bits` a live heap value.
unsafe fn cross_latest(ctx: *mut Ctx, from: *mut Ctx, into: *mut Ctx, runner: *mut Ctx, bits: u64, place: &str) -> i64 {
    // SAFETY: the caller's contract.
    unsafe {
        let same = |h: &EvalHost| crate::migrate::compatible(&h.view_of(from), &h.view_of(into));
        let h = match host(ctx) {
            Some(h) if !same(h) => h,
            _ => {
                crate::runtime::heap::inc(bits as *const abi::Header);
                return bits as i64;
            }
        };
        let view = h.view_of(into);
        match crate::migrate::convert(runner, &h.shared, &view, bits, true, &mut HashMap::new()) {
            Ok(Some(new)) => new as i64,
            Ok(None) => {
                crate::runtime::heap::inc(bits as *const abi::Header);
                bits as i64
            }
            Err(e) => {
                abi::raise(ctx, crate::migrate::load_error(&e, place, (*into).world_age));
                0
            }
        }
    }
}

unsafe extern "C" fn rt_latest_world(ctx: *mut Ctx) -> i64 {
    // SAFETY: called by compiled code with its live context.
    unsafe { host(ctx).map(|h| h.shared.latest_age() as i64).unwrap_or(0) }
}

/// Reads a global: this evaluation's own write, else its first-read snapshot,
/// else the newest committed value. Returns an owned reference.
unsafe extern "C" fn rt_global_get(ctx: *mut Ctx, id: u32) -> i64 {
    // SAFETY: called by compiled code with its live context.
    unsafe {
        let Some(h) = host(ctx) else {
            abi::raise(ctx, "internal error: globals need an engine");
            return 0;
        };
        let heap = h.shared.globals.is_heap(id);
        let bits = if let Some(&(b, _)) = h.writes.borrow().get(&id) {
            b
        } else if let Some(&(b, _)) = h.reads.borrow().get(&id) {
            b
        } else {
            let view = h.view_of(ctx);
            match h.shared.globals.read(id, &view) {
                Some(Read::Ready(b, stamp)) => {
                    h.reads.borrow_mut().insert(id, (b, stamp));
                    b
                }
                Some(Read::Convert(raw, stamp, _)) => {
                    // Written in another view (a type changed since, or the
                    // writer knew newer versions): bring it into ours.
                    let converted = crate::migrate::convert(ctx, &h.shared, &view, raw, heap, &mut HashMap::new());
                    let b = match converted {
                        Ok(Some(new)) => {
                            crate::runtime::heap::dec(raw as *const abi::Header);
                            h.shared.globals.keep_converted(id, stamp, &view, new);
                            new
                        }
                        Ok(None) => {
                            h.shared.globals.keep_converted(id, stamp, &view, raw);
                            raw
                        }
                        Err(e) => {
                            if heap {
                                crate::runtime::heap::dec(raw as *const abi::Header);
                            }
                            let name = h.shared.globals.name(id);
                            abi::raise(ctx, crate::migrate::load_error(&e, &format!("`{name}`"), (*ctx).world_age));
                            return 0;
                        }
                    };
                    h.reads.borrow_mut().insert(id, (b, stamp));
                    b
                }
                None => {
                    let name = h.shared.globals.name(id);
                    abi::raise(ctx, format!("unknown name `{name}`: it is read before its initialiser has run"));
                    return 0;
                }
            }
        };
        if heap {
            crate::runtime::heap::inc(bits as *const abi::Header);
        }
        bits as i64
    }
}

/// Buffers a write of a global (consumes the value).
unsafe extern "C" fn rt_global_set(ctx: *mut Ctx, id: u32, bits: i64) {
    // SAFETY: called by compiled code with its live context.
    unsafe {
        let Some(h) = host(ctx) else {
            abi::raise(ctx, "internal error: globals need an engine");
            return;
        };
        let view = h.view_of(ctx);
        let old = h.writes.borrow_mut().insert(id, (bits as u64, view));
        if let Some((old, _)) = old
            && h.shared.globals.is_heap(id)
        {
            crate::runtime::heap::dec(old as *const abi::Header);
        }
    }
}

/// The helpers above, for code generation.
pub fn helpers() -> &'static [Helper] {
    use AbiTy::*;
    static HELPERS: std::sync::LazyLock<Vec<Helper>> = std::sync::LazyLock::new(|| {
        vec![
            Helper { name: "rt_push_frame", addr: rt_push_frame as *const u8, params: &[I64, I32, I32], ret: None },
            Helper { name: "rt_stack_check", addr: rt_stack_check as *const u8, params: &[I64], ret: Some(I8) },
            Helper { name: "rt_no_match", addr: rt_no_match as *const u8, params: &[I64], ret: None },
            Helper { name: "rt_world_age", addr: rt_world_age as *const u8, params: &[I64], ret: Some(I64) },
            Helper { name: "rt_latest_world", addr: rt_latest_world as *const u8, params: &[I64], ret: Some(I64) },
            Helper { name: "rt_define", addr: rt_define as *const u8, params: &[I64, I64], ret: Some(I64) },
            Helper {
                name: "rt_latest_ctx",
                addr: rt_latest_ctx as *const u8,
                params: &[I64, I32, I32],
                ret: Some(I64),
            },
            Helper { name: "rt_latest_release", addr: rt_latest_release as *const u8, params: &[I64, I64], ret: None },
            Helper {
                name: "rt_latest_arg",
                addr: rt_latest_arg as *const u8,
                params: &[I64, I64, I64],
                ret: Some(I64),
            },
            Helper {
                name: "rt_latest_result",
                addr: rt_latest_result as *const u8,
                params: &[I64, I64, I64],
                ret: Some(I64),
            },
            Helper { name: "rt_sleep", addr: rt_sleep as *const u8, params: &[I64, I64], ret: None },
            Helper { name: "rt_task_id", addr: rt_task_id as *const u8, params: &[I64], ret: Some(I64) },
            Helper { name: "rt_stop_requested", addr: rt_stop_requested as *const u8, params: &[I64], ret: Some(I8) },
            Helper { name: "rt_done", addr: rt_done as *const u8, params: &[I64], ret: None },
            Helper { name: "rt_spawn", addr: rt_spawn as *const u8, params: &[I64, I32, I64], ret: Some(I64) },
            Helper { name: "rt_wait", addr: rt_wait as *const u8, params: &[I64, I64], ret: None },
            Helper { name: "rt_resume", addr: rt_resume as *const u8, params: &[I64, I64], ret: None },
            Helper { name: "rt_closure_push", addr: rt_closure_push as *const u8, params: &[I64, I32], ret: None },
            Helper { name: "rt_closures_pop", addr: rt_closures_pop as *const u8, params: &[I64, I32], ret: None },
            Helper { name: "rt_global_get", addr: rt_global_get as *const u8, params: &[I64, I32], ret: Some(I64) },
            Helper { name: "rt_global_set", addr: rt_global_set as *const u8, params: &[I64, I32, I64], ret: None },
        ]
    });
    &HELPERS
}
