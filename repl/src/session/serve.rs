//! One served request as an evaluation (SPEC 14.1): `handle(req)` pinned
//! to the newest world when it starts, under the experiment the request is
//! routed to; a `write conflict` is retried in the newest world while time
//! is left; failures become JSON error answers. The HTTP side is
//! `crate::serve`'s.

use super::Session;
use super::overrides::override_source;
use jit::image::Value;
use jit::program::World;
use lang::types::Ty;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// A request as `handle` sees it (header names lower-case, repeated ones
/// joined; path and query percent-decoded).
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// A request-scope override (SPEC 14.4), already allowed by its token:
    /// each function name with the source that defines it.
    pub overrides: Option<Vec<(String, String)>>,
}

/// What goes back to the client.
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Where a request runs (`x-strata-scope`).
enum Scope {
    Service,
    Experiment(Arc<str>),
    Request,
}

impl Scope {
    fn header(&self) -> String {
        match self {
            Scope::Service => "service".into(),
            Scope::Experiment(n) => format!("experiment {n}"),
            Scope::Request => "request".into(),
        }
    }
}

/// A request being served, as `:requests` shows it.
struct InFlight {
    method: String,
    path: String,
    world: u64,
    scope: String,
    started: Instant,
}

/// The requests in flight, by id (`:requests`).
#[derive(Default)]
pub struct Requests {
    next: u64,
    live: BTreeMap<u64, InFlight>,
}

/// Takes a request off `:requests` when it is answered.
struct Served<'a>(&'a std::sync::Mutex<Requests>, u64);

impl Drop for Served<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).live.remove(&self.1);
    }
}

/// Whether `handle` has the type `fn(Request) -> Response` in a transaction
/// (`None`: it does not define `handle`).
pub(super) fn handle_sig_ok(checked: &lang::check::Checked) -> Option<bool> {
    checked.fns.iter().find(|f| &*f.name == "handle").map(|f| is_handle(&f.sig))
}

/// Whether a signature is `fn(Request) -> Response`.
fn is_handle(sig: &lang::types::FnSig) -> bool {
    let named = |t: &Ty, n: &str| matches!(t, Ty::Named(nt) if &*nt.name == n);
    sig.params.len() == 1 && named(&sig.params[0].1, "Request") && named(&sig.ret, "Response")
}

/// An answer given before any evaluation (in service scope, or in request
/// scope for a refused override), in the name of world `world`.
pub fn refusal(status: u16, message: &str, world: u64, request: bool) -> HttpReply {
    error_reply(status, message, world, if request { &Scope::Request } else { &Scope::Service })
}

/// `{"error": MESSAGE, "world": N}` in `json_text` form.
fn error_body(message: &str, world: u64) -> String {
    format!("{{\"error\":{},\"world\":{world}}}", jit::runtime::json::json_str(message))
}

/// The JSON error answer.
fn error_reply(status: u16, message: &str, world: u64, scope: &Scope) -> HttpReply {
    HttpReply {
        status,
        headers: strata_headers(world, scope, Some("application/json")),
        body: error_body(message, world),
    }
}

fn strata_headers(world: u64, scope: &Scope, content_type: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![("x-strata-world".into(), world.to_string()), ("x-strata-scope".into(), scope.header())];
    if matches!(scope, Scope::Request) {
        h.push(("x-strata-writes".into(), "discarded".into()));
    }
    if let Some(ct) = content_type {
        h.push(("content-type".into(), ct.into()));
    }
    h
}

/// FNV-1a, 64-bit: a key's bucket is this mod 10,000 (SPEC 14.3).
pub fn bucket(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % 10_000
}

/// The experiment a request runs in: named by `x-strata-experiment`, or
/// the one whose share holds its `x-strata-key`'s bucket (shares are
/// consecutive ranges from 0, in the order of the worlds that gave them).
/// `was_experiment` says whether a name the world does not have was ever an
/// experiment (graduated or forgotten since: service scope, SPEC 14.3).
fn route(world: &World, req: &HttpRequest, was_experiment: &dyn Fn(&str) -> bool) -> Result<Scope, String> {
    if let Some(name) = req.headers.get("x-strata-experiment") {
        return match world.experiments.get_key_value(name.as_str()) {
            Some((n, _)) => Ok(Scope::Experiment(n.clone())),
            None if was_experiment(name) => Ok(Scope::Service),
            None => Err(format!("unknown experiment {name}")),
        };
    }
    let Some(key) = req.headers.get("x-strata-key") else { return Ok(Scope::Service) };
    let b = bucket(key);
    let mut shares: Vec<(u64, &Arc<str>, u32)> = world
        .experiments
        .iter()
        .filter(|(_, e)| e.sig.traffic > 0)
        .map(|(n, e)| (e.meta.since, n, e.sig.traffic))
        .collect();
    shares.sort();
    let mut start = 0u64;
    for (_, name, share) in shares {
        let end = start + share as u64 * 100;
        if (start..end).contains(&b) {
            return Ok(Scope::Experiment(name.clone()));
        }
        start = end;
    }
    Ok(Scope::Service)
}

/// Whether `handle` has the type `fn(Request) -> Response` in `world`.
fn has_handle(world: &World) -> bool {
    world.fns.get("handle").is_some_and(|f| is_handle(&f.sig))
}

fn str_map(m: &BTreeMap<String, String>) -> Value {
    Value::Map(m.iter().map(|(k, v)| (Value::Str(k.clone()), Value::Str(v.clone()))).collect())
}

impl Session {
    /// `:requests`: a line per request in flight.
    pub fn requests(&self) -> Vec<String> {
        let r = self.engine.requests.lock().unwrap_or_else(|e| e.into_inner());
        r.live
            .iter()
            .map(|(id, f)| {
                let ms = f.started.elapsed().as_millis();
                format!("request {id}  {} {}  world {}  {}  {ms} ms", f.method, f.path, f.world, f.scope)
            })
            .collect()
    }

    /// From now on, a transaction that would leave the newest world without
    /// `handle(req: Request) -> Response` is rejected (`strata serve`).
    pub fn set_serving(&self) {
        self.engine.serving.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Serves one request: `handle(req)` in the newest world, retried there
    /// after a write conflict, until `deadline`.
    pub fn serve_request(&self, req: &HttpRequest, deadline: Instant) -> HttpReply {
        let shared = &self.engine.shared;
        let id = {
            let mut r = self.engine.requests.lock().unwrap_or_else(|e| e.into_inner());
            r.next += 1;
            let f = InFlight {
                method: req.method.clone(),
                path: req.path.clone(),
                world: 0,
                scope: "service".into(),
                started: Instant::now(),
            };
            let id = r.next;
            r.live.insert(id, f);
            id
        };
        let _served = Served(&self.engine.requests, id);
        let source = match req.overrides.as_deref().map(override_source) {
            Some(Ok(source)) => Some(source),
            Some(Err(msg)) => return error_reply(400, &msg, shared.latest_age(), &Scope::Request),
            None => None,
        };
        loop {
            let world = shared.newest();
            let was_experiment =
                |name: &str| self.history(name).iter().any(|h| h.meta.text.trim_start().starts_with("experiment"));
            let routed = match route(&world, req, &was_experiment) {
                Ok(s) => s,
                Err(msg) => return error_reply(400, &msg, world.age, &Scope::Service),
            };
            // Request beats experiment beats service: an override runs over
            // the experiment the request is routed to.
            let experiment = match &routed {
                Scope::Experiment(e) => Some(e.clone()),
                _ => None,
            };
            let scope = if source.is_some() { Scope::Request } else { routed };
            let request = match &source {
                Some(source) => match self.engine.request_overlay(&world, experiment.as_ref(), source) {
                    Ok(o) => Some(o),
                    Err(msg) => return error_reply(400, &msg, world.age, &scope),
                },
                None => None,
            };
            if !has_handle(&world) {
                let msg = format!("no handle(req: Request) -> Response in world {}", world.age);
                return error_reply(503, &msg, world.age, &scope);
            }
            let version = world.types.get("Request").map_or(1, |t| t.info.named.version);
            let arg = Value::Record {
                ty: "Request".into(),
                version,
                fields: vec![
                    Value::Str(req.method.clone()),
                    Value::Str(req.path.clone()),
                    str_map(&req.query),
                    str_map(&req.headers),
                    Value::Str(req.body.clone()),
                ],
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return error_reply(503, "timeout: the request timeout ran out", world.age, &scope);
            }
            if let Some(f) = self.engine.requests.lock().unwrap_or_else(|e| e.into_inner()).live.get_mut(&id) {
                f.world = world.age;
                f.scope = scope.header();
            }
            let mut options = self.engine.options(false);
            // Each request has its own interrupt: one request's timeout
            // must not stop the others.
            options.interrupt = Arc::new(jit::eval::Interrupt::default());
            options.timeout = Some(left);
            options.overlay = experiment;
            options.request = request;
            let age = world.age;
            let result = jit::program::call(shared, world, "handle", &[arg], options);
            if let Scope::Experiment(n) = &scope {
                shared.count_experiment_request(n, result.is_err());
            }
            match result {
                Ok(v) => {
                    return reply_from(&v, age, &scope).unwrap_or_else(|msg| {
                        crate::say::err!("request {} {} failed in world {age}: {msg}", req.method, req.path);
                        error_reply(500, &msg, age, &scope)
                    });
                }
                Err(e) if e.message.starts_with("write conflict") && Instant::now() < deadline => continue,
                Err(e) => {
                    let status = if e.message.starts_with("timeout") { 503 } else { 500 };
                    crate::say::err!("request {} {} failed in world {age}: {}", req.method, req.path, e.message);
                    return error_reply(status, &e.message, age, &scope);
                }
            }
        }
    }
}

/// The HTTP answer of a `Response` value, or why it cannot be one (the
/// request then fails). The Strata headers override the handler's own of
/// the same name, and the message framing is the server's: a handler's
/// `content-length`, `transfer-encoding` or `connection` is dropped.
fn reply_from(v: &Value, world: u64, scope: &Scope) -> Result<HttpReply, String> {
    let Value::Record { fields, .. } = v else {
        return Err("internal error: handle returned no Response".into());
    };
    let status = match fields.first() {
        Some(Value::Int(s)) if (100..=999).contains(s) => *s as u16,
        Some(Value::Int(s)) => return Err(format!("invalid argument: {s} is not an HTTP status")),
        _ => 200,
    };
    const SERVERS: [&str; 6] =
        ["x-strata-world", "x-strata-scope", "x-strata-writes", "content-length", "transfer-encoding", "connection"];
    let mut headers = Vec::new();
    if let Some(Value::Map(m)) = fields.get(1) {
        for (k, v) in m {
            let (Value::Str(k), Value::Str(v)) = (k, v) else { continue };
            if SERVERS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                continue;
            }
            if !is_header_name(k) {
                return Err(format!("invalid argument: {k:?} is not an HTTP header name"));
            }
            if !is_header_value(v) {
                return Err(format!("invalid argument: the value of header {k:?} holds a control character"));
            }
            headers.push((k.clone(), v.clone()));
        }
    }
    headers.extend(strata_headers(world, scope, None));
    let body = match fields.get(2) {
        Some(Value::Str(b)) => b.clone(),
        _ => String::new(),
    };
    Ok(HttpReply { status, headers, body })
}

/// An HTTP header name: one or more token characters (RFC 9110 5.1).
fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// An HTTP header value: no control characters but tab (RFC 9110 5.5).
fn is_header_value(value: &str) -> bool {
    value.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::{bucket, is_header_name, is_header_value};

    #[test]
    fn header_names_are_tokens_and_values_hold_no_control_characters() {
        assert!(is_header_name("x-request-id") && is_header_name("Content-Type"));
        assert!(!is_header_name("bad header") && !is_header_name("") && !is_header_name("a:b"));
        assert!(is_header_value("text/plain; q=1\tx") && is_header_value("é"));
        assert!(!is_header_value("a\nb") && !is_header_value("a\rb") && !is_header_value("\0"));
    }

    #[test]
    fn buckets_are_fnv1a_mod_10000() {
        // FNV-1a 64 of the empty string is the offset basis.
        assert_eq!(bucket(""), 0xcbf2_9ce4_8422_2325 % 10_000);
        assert_eq!(bucket("a"), 0xaf63_dc4c_8601_ec8c % 10_000);
    }
}
