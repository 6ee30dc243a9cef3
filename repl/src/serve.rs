//! `strata serve IMAGE|FILE.strata` (SPEC 14.1): HTTP/1.1 with hyper on a
//! small tokio reactor, which only reads requests and writes answers; every
//! evaluation runs on a pool of worker threads with evaluation stacks (at
//! least two, so one dead loop never holds up the rest). The request as an
//! evaluation is the session's (`session::serve`).

use crate::session::{HttpReply, HttpRequest, Session, refusal};
use crossbeam_channel::Sender;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A body over this is answered 413.
const MAX_BODY: usize = 1 << 20;

pub struct ServeOptions {
    pub host: String,
    pub port: u16,
    pub request_timeout: Duration,
    pub grace: Duration,
    /// The token requests must carry to run an override (`--allow-overrides`).
    pub token: Option<String>,
}

/// An override's sources may hold this much in all (SPEC 14.4).
const MAX_OVERRIDE: usize = 64 << 10;

/// Reads `--allow-overrides TOKEN_FILE`: refused if others could read it,
/// if it cannot be read, or if it is blank.
pub fn read_token(path: &std::path::Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let unreadable = |e: std::io::Error| format!("error: cannot read the token file {}: {e}", path.display());
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "error: the token file {} is readable by group or others; overrides are code execution: chmod 600 it",
            path.display()
        ));
    }
    let token = std::fs::read_to_string(path).map_err(unreadable)?.trim().to_string();
    if token.is_empty() {
        return Err(format!("error: the token file {} is blank", path.display()));
    }
    Ok(token)
}

/// Compares a request's token with ours in time that does not depend on
/// where they differ.
fn same_token(given: &str, ours: &str) -> bool {
    let (a, b) = (given.as_bytes(), ours.as_bytes());
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// A request handed to the worker pool, with where its answer goes.
struct Job {
    request: HttpRequest,
    deadline: Instant,
    reply: tokio::sync::oneshot::Sender<HttpReply>,
}

/// Where requests wait for a worker: the service's pool, and (with
/// `--allow-overrides`) a pool of its own for request-scope overrides.
#[derive(Clone)]
struct Pools {
    service: Sender<Job>,
    overrides: Option<Sender<Job>>,
}

/// The machine's cores (at least 2, so that there are always two workers).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).max(2)
}

/// The reactor only parses and writes HTTP, a small part of a request's
/// cost, so it gets a thread per 4 cores. Each thread more costs wake-ups:
/// tokio wakes an idle reactor thread when work arrives, and on a 2-core
/// machine a second one made every request cross CPUs once more — with a
/// dead-loop override spinning, that put the p99 of a single connection's
/// requests at 2–3 ms instead of 0.15 ms, at no gain in throughput.
fn reactor_threads() -> usize {
    (cores() / 4).max(1)
}

impl Pools {
    fn start(session: &Arc<Session>, overrides: bool) -> Pools {
        let cores = cores();
        Pools {
            service: start_workers(session, "worker", cores * 2, false),
            overrides: overrides.then(|| start_workers(session, "override", cores, true)),
        }
    }

    fn queue(&self, request: &HttpRequest) -> &Sender<Job> {
        match (&request.overrides, &self.overrides) {
            (Some(_), Some(pool)) => pool,
            _ => &self.service,
        }
    }
}

/// Serves `session` until it shuts down (SIGINT/SIGTERM).
pub fn run(session: Arc<Session>, opts: ServeOptions) -> ExitCode {
    let listener = match std::net::TcpListener::bind((opts.host.as_str(), opts.port)) {
        Ok(l) => l,
        Err(e) => {
            crate::say::err!("error: cannot listen on {}:{}: {e}", opts.host, opts.port);
            return ExitCode::from(1);
        }
    };
    let addr = match listener.local_addr().and_then(|a| listener.set_nonblocking(true).map(|_| a)) {
        Ok(a) => a,
        Err(e) => {
            crate::say::err!("error: cannot listen: {e}");
            return ExitCode::from(1);
        }
    };
    session.set_serving();
    crate::say::out!("listening on http://{addr}");
    let jobs = Pools::start(&session, opts.token.is_some());
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(reactor_threads()).enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                crate::say::err!("error: cannot start the HTTP reactor: {e}");
                return ExitCode::from(1);
            }
        };
    let served = runtime.block_on(accept_loop(listener, session.clone(), jobs, opts));
    drop(runtime);
    session.shutdown();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::say::err!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `n` worker threads (each with an evaluation stack; `idle`: at the idle
/// scheduling policy); they take requests from one queue in arrival order.
fn start_workers(session: &Arc<Session>, name: &str, n: usize, idle: bool) -> Sender<Job> {
    let (tx, rx) = crossbeam_channel::unbounded::<Job>();
    for i in 0..n {
        let rx = rx.clone();
        let session = Arc::downgrade(session);
        let _ = jit::eval::spawn_eval_thread(format!("strata-{name}-{i}"), move || {
            if idle {
                run_when_idle();
            }
            while let Ok(job) = rx.recv() {
                let Some(session) = session.upgrade() else { return };
                let reply = session.serve_request(&job.request, job.deadline);
                let _ = job.reply.send(reply);
            }
        });
    }
    tx
}

/// Puts the calling thread in the idle scheduling class (Linux
/// `SCHED_IDLE`): it runs only on CPU time no normal thread wants, and a
/// normal thread waking up preempts it at once. Request overrides run there:
/// one is client code that may spin until the request timeout ends it, and
/// it must not slow the service's requests meanwhile (nice 10 did not
/// suffice: the scheduler lets a niced thread finish its slice, ~2 ms, before
/// a woken request runs). A thread can leave a class it lowered itself to
/// only with privileges, hence pools of their own rather than a worker
/// lowered per request. Best effort: a thread left in the normal class still
/// runs its requests correctly.
fn run_when_idle() {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_setscheduler with pid 0 changes only the calling
    // thread's policy; `param` is a valid sched_param it only reads.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    session: Arc<Session>,
    jobs: Pools,
    opts: ServeOptions,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let timeout = opts.request_timeout;
    let token: Arc<Option<String>> = Arc::new(opts.token.clone());
    loop {
        if session.shutting_down() {
            break;
        }
        let accepted = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
        let Ok(Ok((stream, _))) = accepted else { continue };
        let jobs = jobs.clone();
        let session = session.clone();
        let token = token.clone();
        let service = service_fn(move |req| answer(req, jobs.clone(), session.clone(), token.clone(), timeout));
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    // In-flight requests get the grace period (section 8).
    let _ = tokio::time::timeout(opts.grace, graceful.shutdown()).await;
    Ok(())
}

/// One HTTP request: read (bounded), handed to a worker, answered.
async fn answer(
    req: hyper::Request<Incoming>,
    jobs: Pools,
    session: Arc<Session>,
    token: Arc<Option<String>>,
    timeout: Duration,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(refused(413, "too large: the body is over 1 MiB", &session, false)),
    };
    // Request-scope overrides are code from the client: refused, before
    // anything is checked or run, unless this server accepts them and the
    // request carries its token (SPEC 14.4).
    let overrides = match override_member(&body) {
        None => None,
        Some(member) => {
            // The header as `handle` sees it: repeated ones joined.
            let given: Vec<String> = parts
                .headers
                .get_all("x-strata-token")
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string())
                .collect();
            let allowed = match token.as_ref() {
                Some(ours) if !given.is_empty() => same_token(&given.join(", "), ours),
                _ => false,
            };
            if !allowed {
                let msg = match token.as_ref() {
                    None => {
                        "override refused: this server does not accept request overrides (start it with --allow-overrides TOKEN_FILE)"
                    }
                    Some(_) => "override refused: the request does not carry the server's x-strata-token",
                };
                return Ok(refused(403, msg, &session, true));
            }
            match override_texts(member) {
                Ok(texts) => Some(texts),
                Err((status, msg)) => return Ok(refused(status, &msg, &session, true)),
            }
        }
    };
    let deadline = Instant::now() + timeout;
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in parts.headers.iter() {
        let value = String::from_utf8_lossy(value.as_bytes()).to_string();
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let path = percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8_lossy().to_string();
    let query =
        parts.uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let request = HttpRequest {
        method: parts.method.to_string(),
        path,
        query,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
        overrides,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    if jobs.queue(&request).send(Job { request, deadline, reply: tx }).is_err() {
        return Ok(refused(503, "stop requested: the server is shutting down", &session, false));
    }
    match rx.await {
        Ok(reply) => Ok(to_http(reply)),
        Err(_) => Ok(refused(503, "stop requested: the server is shutting down", &session, false)),
    }
}

/// The `"override"` member of a body that is a JSON object with one.
fn override_member(body: &[u8]) -> Option<serde_json::Value> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut m)) => m.remove("override"),
        _ => None,
    }
}

/// An override's function names and sources: an object of strings, 64 KiB
/// in all at most (else 413); anything else is a 400.
fn override_texts(member: serde_json::Value) -> Result<Vec<(String, String)>, (u16, String)> {
    let serde_json::Value::Object(m) = member else {
        return Err((
            400,
            "invalid override: \"override\" must be an object of function names to Strata source".into(),
        ));
    };
    let mut texts = Vec::new();
    let mut size = 0;
    for (name, text) in m {
        let serde_json::Value::String(text) = text else {
            return Err((400, format!("invalid override: the override of `{name}` must be a string of Strata source")));
        };
        size += text.len();
        texts.push((name, text));
    }
    if size > MAX_OVERRIDE {
        return Err((413, format!("too large: the override's sources hold {size} bytes, more than {MAX_OVERRIDE}")));
    }
    Ok(texts)
}

/// An answer given before any evaluation: in the newest world's name.
fn refused(status: u16, message: &str, session: &Session, request: bool) -> hyper::Response<Full<Bytes>> {
    to_http(refusal(status, message, session.world_age(), request))
}

fn to_http(reply: HttpReply) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Full::new(Bytes::from(reply.body))).unwrap_or_else(|e| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(format!("{{\"error\":\"invalid response: {e}\"}}"))));
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_exactly() {
        assert!(same_token("tok-123", "tok-123"));
        assert!(!same_token("tok-12", "tok-123"));
        assert!(!same_token("tok-124", "tok-123"));
        assert!(!same_token("", "tok"));
    }

    #[test]
    fn an_override_is_an_object_of_sources_of_bounded_size() {
        let ok = serde_json::json!({ "greet": "fn greet() -> int { 1 }" });
        assert_eq!(override_texts(ok).map(|t| t.len()), Ok(1));
        assert_eq!(override_texts(serde_json::json!("fn f() {}")).map_err(|e| e.0), Err(400));
        assert_eq!(override_texts(serde_json::json!({ "f": 1 })).map_err(|e| e.0), Err(400));
        let big = "x".repeat(MAX_OVERRIDE + 1);
        assert_eq!(override_texts(serde_json::json!({ "f": big })).map_err(|e| e.0), Err(413));
        assert!(override_member(br#"{"name": "ann"}"#).is_none());
        assert!(override_member(br#"[1, 2]"#).is_none());
        assert!(override_member(br#"{"override": {}}"#).is_some());
    }

    #[test]
    fn a_token_file_others_can_read_or_a_blank_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let p = std::env::temp_dir().join(format!("strata-token-{}", std::process::id()));
        std::fs::write(&p, "  secret \n").expect("writes");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(read_token(&p).expect_err("refused").contains("readable by group or others"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read_token(&p), Ok("secret".to_string()));
        std::fs::write(&p, " \n").expect("writes");
        assert!(read_token(&p).expect_err("refused").contains("blank"));
        let _ = std::fs::remove_file(&p);
    }
}
