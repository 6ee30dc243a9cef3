//! The `strata` command: parses the command line and wires the session to
//! files and the terminal. No language semantics live here.

mod attach;
mod commands;
mod interactive;
mod say;
mod script;
mod serve;
mod session;
mod transcript;

/// Counts allocations per thread, so each evaluation can be held to its
/// memory limit (`out of memory` instead of exhausting the machine).
#[global_allocator]
static ALLOCATOR: jit::memory::CountingAlloc = jit::memory::CountingAlloc;

use clap::{Parser, Subcommand};
use session::{Session, SessionConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Parser)]
#[command(name = "strata", version, about = "A live programming environment")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a program (FILE.strata: commit its definitions, run its top-level expressions, then `main()`),
    /// or an image (anything else: restart its service tasks and run until they end or a signal).
    Run {
        file: PathBuf,
        /// With an image: an interactive REPL on the running image as well.
        #[arg(long)]
        repl: bool,
        /// Bound every evaluation to this many milliseconds.
        #[arg(long, value_name = "MS")]
        timeout: Option<u64>,
        /// After the run, fail (exit 3) if heap objects are still alive.
        #[arg(long, hide = true)]
        check_leaks: bool,
        /// Heap each evaluation may use, in MiB (default 1024).
        #[arg(long, value_name = "MIB", default_value_t = 1024)]
        memory_limit: u64,
        /// On shutdown (end of the program, SIGINT, SIGTERM), how long running tasks may take to finish.
        #[arg(long, value_name = "MS", default_value_t = 5000)]
        grace: u64,
    },
    /// Check a program without running it.
    Check { file: PathBuf },
    /// Print the newest world of an image as one source file.
    Export { image: PathBuf },
    /// Serve HTTP with `handle(req: Request) -> Response` (an image, or a program committed into a fresh session).
    Serve {
        target: PathBuf,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 7070)]
        port: u16,
        /// Bound on each request, from when it has been read (retries included).
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        request_timeout: u64,
        /// On shutdown, how long in-flight requests and running tasks may take to finish.
        #[arg(long, value_name = "MS", default_value_t = 5000)]
        grace: u64,
        /// Run request-scope overrides from requests carrying this file's token (mode 0600).
        #[arg(long, value_name = "TOKEN_FILE")]
        allow_overrides: Option<PathBuf>,
    },
    /// A REPL connected to the process running IMAGE; `--script` replays a transcript there.
    Attach {
        image: PathBuf,
        #[arg(long)]
        script: Option<PathBuf>,
        #[arg(long, requires = "script")]
        record: bool,
    },
    /// The interactive REPL; `--script` replays a transcript (`--record` prints the actual one).
    Repl {
        image: Option<PathBuf>,
        #[arg(long)]
        script: Option<PathBuf>,
        #[arg(long)]
        record: bool,
        /// On `:quit` (or the end of the script), how long running tasks may take to finish.
        #[arg(long, value_name = "MS", default_value_t = 5000)]
        grace: u64,
        /// Open IMAGE read-only, print the value of EXPR and exit (its writes are discarded).
        #[arg(long, value_name = "EXPR", requires = "image")]
        eval: Option<String>,
    },
}

fn main() -> ExitCode {
    report_panics_briefly();
    let cli = Cli::parse();
    // Evaluations need a deep stack; the whole command runs on one.
    match jit::eval::run_on_eval_stack(move || run_command(cli)) {
        Ok(code) => code,
        Err(e) => {
            crate::say::err!("error: could not start the evaluation thread: {e}");
            ExitCode::from(1)
        }
    }
}

/// A panic is a bug in strata, caught where it happens (the input fails,
/// the session goes on): without `RUST_BACKTRACE` it is reported on one line
/// rather than in Rust's several.
fn report_panics_briefly() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("strata: internal error{at}: {message} (a bug in strata; please report it)");
    }));
}

fn run_command(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::Run { file, repl, timeout, check_leaks, memory_limit, grace }) => {
            let config = SessionConfig {
                memory_limit: memory_limit.saturating_mul(1 << 20),
                grace: Duration::from_millis(grace),
                ..SessionConfig::stdout(timeout.map(Duration::from_millis))
            };
            // SPEC 11: a path ending in `.strata` is a program, anything else an image.
            if file.extension().is_none_or(|e| e != "strata") && !file.is_dir() {
                return run_image(&file, config, repl);
            }
            if repl {
                crate::say::err!("error: --repl is for images: `strata run IMAGE --repl`");
                return ExitCode::from(1);
            }
            let code = run_file(&file, config);
            if check_leaks && (code == ExitCode::SUCCESS || code == ExitCode::from(1)) {
                let live = jit::runtime::heap::live_objects();
                if live != 0 {
                    crate::say::err!("leak: {live} heap objects still live after the run");
                    return ExitCode::from(3);
                }
            }
            code
        }
        Some(Command::Check { file }) => check_file(&file),
        Some(Command::Export { image }) => match session::export(&image) {
            Ok(text) => {
                crate::say::out!("{}", text.trim_end());
                ExitCode::SUCCESS
            }
            Err(e) => {
                crate::say::err!("{e}");
                ExitCode::from(1)
            }
        },
        Some(Command::Attach { image, script, record }) => attach::run(&image, script.as_deref(), record),
        Some(Command::Serve { target, host, port, request_timeout, grace, allow_overrides }) => {
            let token = match allow_overrides.as_deref().map(serve::read_token).transpose() {
                Ok(t) => t,
                Err(e) => {
                    crate::say::err!("{e}");
                    return ExitCode::from(1);
                }
            };
            let opts = serve::ServeOptions {
                host,
                port,
                request_timeout: Duration::from_millis(request_timeout),
                grace: Duration::from_millis(grace),
                token,
            };
            serve_target(&target, opts)
        }
        Some(Command::Repl { image: Some(image), eval: Some(expr), .. }) => eval_in_image(&image, &expr),
        Some(Command::Repl { image, script: Some(script), record, grace, .. }) => {
            script::run(&script, record, Duration::from_millis(grace), image.as_deref())
        }
        Some(Command::Repl { script: None, record: true, .. }) => {
            crate::say::err!("error: --record needs --script FILE.repl");
            ExitCode::from(1)
        }
        Some(Command::Repl { image, script: None, record: false, grace, .. }) => interactive::run(
            SessionConfig { grace: Duration::from_millis(grace), ..SessionConfig::stdout(None) },
            image.as_deref(),
        ),
        None => interactive::run(SessionConfig::stdout(None), None),
    }
}

/// `strata serve IMAGE|FILE.strata`: the image (bound, reachable by
/// `strata attach`), or the program committed into a fresh session with its
/// top-level expressions run (not `main`); then serving until a signal.
fn serve_target(target: &Path, opts: serve::ServeOptions) -> ExitCode {
    let config = SessionConfig { grace: opts.grace, ..SessionConfig::stdout(None) };
    let is_program = target.extension().is_some_and(|e| e == "strata");
    let session = if is_program {
        let source = match read_source(target) {
            Ok(s) => s,
            Err(msg) => {
                crate::say::err!("{msg}");
                return ExitCode::from(1);
            }
        };
        let session = Arc::new(Session::new(config));
        if let Err(f) = run_program(&session, &source, &target.display().to_string(), false) {
            crate::say::err!("{f}");
            return ExitCode::from(1);
        }
        session
    } else {
        match Session::open(config, target, session::Access::Bound) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                crate::say::err!("{e}");
                return ExitCode::from(1);
            }
        }
    };
    let _attach = (!is_program).then(|| attach::serve(&session, target).ok()).flatten();
    let signalled = Arc::new(AtomicBool::new(false));
    if let Err(e) = watch_shutdown_signals(&session, &signalled) {
        crate::say::err!("warning: SIGINT/SIGTERM will not shut down gracefully: {e}");
    }
    serve::run(session, opts)
}

/// `strata repl IMAGE --eval EXPR`: the image read-only, no task resumed;
/// EXPR's value in display form, or its error (exit 1).
fn eval_in_image(image: &Path, expr: &str) -> ExitCode {
    let session = match Session::open(SessionConfig::stdout(None), image, session::Access::ReadOnly) {
        Ok(s) => s,
        Err(e) => {
            crate::say::err!("{e}");
            return ExitCode::from(1);
        }
    };
    match session.input(expr, "<eval>") {
        Ok(o) => {
            if let Some(v) = o.shown {
                crate::say::out!("{v}");
            }
            ExitCode::SUCCESS
        }
        Err((_, f)) => {
            crate::say::err!("{f}");
            ExitCode::from(1)
        }
    }
}

/// `strata run IMAGE [--repl]`: opens the image (restarting its service
/// tasks) and runs until every task has ended or SIGINT/SIGTERM arrives
/// (or, with `--repl`, until the REPL quits), then shuts down gracefully.
fn run_image(image: &Path, config: SessionConfig, repl: bool) -> ExitCode {
    // Running services of an image that is not there is a typo, not a
    // request for a new image (`strata repl IMAGE` makes one).
    if !image.exists() {
        crate::say::err!(
            "error: there is no image at {}: `strata repl {}` creates one",
            image.display(),
            image.display()
        );
        return ExitCode::from(1);
    }
    let session = match Session::open(config, image, session::Access::Bound) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            crate::say::err!("{e}");
            return ExitCode::from(1);
        }
    };
    let _server = match attach::serve(&session, image) {
        Ok(s) => Some(s),
        Err(e) => {
            crate::say::err!("warning: `strata attach` will not reach this process: {e}");
            None
        }
    };
    if repl {
        return interactive::run_with(session);
    }
    let signalled = Arc::new(AtomicBool::new(false));
    if let Err(e) = watch_shutdown_signals(&session, &signalled) {
        crate::say::err!("warning: SIGINT/SIGTERM will not shut down gracefully: {e}");
    }
    session.wait_for_tasks();
    session.shutdown();
    ExitCode::SUCCESS
}

fn read_source(path: &Path) -> Result<String, String> {
    if path.is_dir() {
        return Err(format!("error: {} is a directory, not a program file", path.display()));
    }
    std::fs::read_to_string(path).map_err(|e| format!("error: cannot read {}: {e}", path.display()))
}

/// `strata run FILE.strata`: definitions, then each top-level expression as
/// its own evaluation, then `main()` if defined; the first failure stops it.
fn run_file(path: &Path, config: SessionConfig) -> ExitCode {
    let source = match read_source(path) {
        Ok(s) => s,
        Err(msg) => {
            crate::say::err!("{msg}");
            return ExitCode::from(1);
        }
    };
    let name = path.display().to_string();
    let session = Arc::new(Session::new(config));
    let signalled = Arc::new(AtomicBool::new(false));
    if let Err(e) = watch_shutdown_signals(&session, &signalled) {
        crate::say::err!("warning: SIGINT/SIGTERM will not shut down gracefully: {e}");
    }
    let result = run_program(&session, &source, &name, true);
    session.shutdown();
    drop(session);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Interrupted because the grace period of a requested shutdown ran out.
        Err(_) if signalled.load(Ordering::SeqCst) => ExitCode::SUCCESS,
        Err(f) => {
            crate::say::err!("{f}");
            ExitCode::from(1)
        }
    }
}

/// SIGINT and SIGTERM begin a graceful shutdown (section 8): tasks and
/// the program see `stop_requested()`, and get the grace period to finish.
fn watch_shutdown_signals(session: &Arc<Session>, signalled: &Arc<AtomicBool>) -> std::io::Result<()> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, flag.clone())?;
    let session = Arc::downgrade(session);
    let signalled = signalled.clone();
    std::thread::Builder::new().name("strata-signals".into()).spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let Some(s) = session.upgrade() else { return };
            if flag.swap(false, Ordering::SeqCst) && !s.shutting_down() {
                signalled.store(true, Ordering::SeqCst);
                s.begin_shutdown();
            }
        }
    })?;
    Ok(())
}

/// A file is checked whole first (check errors stop it before anything
/// runs); then its definitions commit as one transaction, and each
/// top-level expression, then `main()`, runs as if entered at the REPL:
/// checked against the newest world when its turn comes, and pinned to it.
fn run_program(session: &Session, source: &str, name: &str, call_main: bool) -> Result<(), session::Failure> {
    session.check(source, name)?;
    let (prog, _) = lang::parser::parse(source);
    let exprs: Vec<std::ops::Range<usize>> = prog
        .items
        .iter()
        .filter_map(|i| match i {
            lang::ast::Item::Expr(e) => Some(with_semicolon(source, e.span.range())),
            _ => None,
        })
        .collect();
    let definitions = blank_out(source, &exprs);
    session.input(&definitions, name).map_err(|(_, f)| f)?;
    for r in &exprs {
        let others: Vec<_> = [0..r.start, r.end..source.len()].into_iter().collect();
        session.input(&blank_out(source, &others), name).map_err(|(_, f)| f)?;
    }
    if call_main && session.has_function("main") {
        session.input("main()", "<main>").map_err(|(_, f)| f)?;
    }
    Ok(())
}

/// `range` extended over the `;` that ends the statement, if any.
fn with_semicolon(source: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let rest = &source[range.end..];
    let skipped = rest.len() - rest.trim_start().len();
    if rest.trim_start().starts_with(';') { range.start..range.end + skipped + 1 } else { range }
}

/// `source` with the given ranges replaced by spaces (newlines kept), so
/// lines and columns of what remains are unchanged for diagnostics.
fn blank_out(source: &str, ranges: &[std::ops::Range<usize>]) -> String {
    let mut out = String::with_capacity(source.len());
    for (i, c) in source.char_indices() {
        let hidden = ranges.iter().any(|r| r.contains(&i));
        out.push(if hidden && c != '\n' { ' ' } else { c });
    }
    out
}

fn check_file(path: &Path) -> ExitCode {
    let source = match read_source(path) {
        Ok(s) => s,
        Err(msg) => {
            crate::say::err!("{msg}");
            return ExitCode::from(1);
        }
    };
    let session = Session::new(SessionConfig::stdout(None));
    match session.check(&source, &path.display().to_string()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            crate::say::err!("{f}");
            ExitCode::from(1)
        }
    }
}
