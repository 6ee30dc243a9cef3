//! Load test of `strata serve` (issue 8; SPEC section 14), bounded in time, on 127.0.0.1
//! only. An image is served whose `handle` increments a global counter and calls two
//! helpers: `tag` (a plain function) and `greet` (overridable). After a warm-up, for
//! `RUN` these run at once:
//!
//! * `CLIENTS` threads sending plain `GET /` in a loop (a tiny HTTP/1.1 client over
//!   `TcpStream`, one `Connection: close` request per connection);
//! * one client that redefines both helpers `REDEFINITIONS` times through
//!   `strata attach IMAGE --script` (redefinition k commits world 5 + k with
//!   `tag v(k+1), greet v(k+1)`, whose bodies say `vK` and `gK`);
//! * one client that sends request-scope overrides of `greet` that loop forever, with the
//!   token: each must be answered 503 (`timeout`) within about the request timeout.
//!
//! Then: every plain answer is a 200 whose body is consistent with the world it names
//! (`gK x vK N` with K = world − 5: helpers of one world only) and the counters `N` the
//! 200s carry are exactly 1..=total (no write lost or applied twice, none leaked from the
//! discarded override evaluations); `GET /count`, and `strata repl IMAGE --eval hits` after
//! SIGTERM (which must exit 0), equal the number of 200s; the server's resident memory
//! (VmRSS) after an idle pause at the end stays near its warm baseline.

mod common;

use common::{Background, Out, PROCESS_TIMEOUT, STRATA, Scratch, wait_bounded};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long the concurrent phase lasts.
const RUN: Duration = Duration::from_secs(10);
/// Threads sending plain requests.
const CLIENTS: usize = 8;
/// Live redefinitions of the helpers during the run.
const REDEFINITIONS: usize = 50;
/// `--request-timeout` of the server (milliseconds).
const REQUEST_TIMEOUT_MS: u64 = 500;
/// How late after the request timeout a dead-loop answer may arrive, as the client sees it
/// (connection, queueing on a 2-core machine under load, the interrupt reaching the loop).
const TIMEOUT_SLACK: Duration = Duration::from_millis(1000);
/// Socket timeouts of the HTTP client: a request that takes longer counts as hung.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The first world the redefinitions build on (see `INIT`).
const BASE_WORLD: u64 = 5;
const TOKEN: &str = "load-test-token-7f3a9c";
const DEAD_LOOP: &str = r#"{"override": {"greet": "fn greet(n: str) -> str { var i = 0; while true { i += 1; } n }"}}"#;

const INIT: &str = r#"> var hits: int = 0
world 2: hits v1
> fn tag(n: int) -> str { "v0" }
world 3: tag v1
> overridable fn greet(n: str) -> str { "g0 " + n }
world 4: greet v1
> fn handle(req: Request) -> Response {
.     if req.path == "/count" { return Response { body: str(hits) }; }
.     hits += 1;
.     Response { body: greet("x") + " " + tag(hits) + " " + str(hits) }
. }
world 5: handle v1
"#;

/// The last 20 lines the server wrote to its standard error, for a failure's message.
fn stderr_tail(server: &Background) -> String {
    let text = server.stderr();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Runs `strata args` in `dir` to completion (bounded by `PROCESS_TIMEOUT`), its output
/// going to files named after `tag` (never pipes).
fn strata(dir: &Path, tag: &str, args: &[&str]) -> Result<Out, String> {
    Background::start(Command::new(STRATA).args(args).current_dir(dir).env("XDG_DATA_HOME", dir), dir, tag)
        .unwrap_or_else(|e| panic!("cannot start {STRATA}: {e}"))
        .finish(PROCESS_TIMEOUT)
        .ok_or_else(|| format!("strata {} did not finish within {PROCESS_TIMEOUT:?}", args.join(" ")))
}

/// An HTTP answer.
struct Answer {
    status: u16,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: String,
    elapsed: Duration,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn describe(&self) -> String {
        let headers: Vec<String> = self.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        format!("{} after {:?} [{}] {:?}", self.status, self.elapsed, headers.join("; "), self.body)
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), the whole answer
/// read and parsed. Any transport or framing problem is an `Err` describing it.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Result<Answer, String> {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    let _ = s.set_nodelay(true);
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read after {:?}: {e} (got {} bytes)", start.elapsed(), raw.len()))?;
    let elapsed = start.elapsed();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {:?}", String::from_utf8_lossy(&raw)))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut payload = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut hs = Vec::new();
    for line in lines {
        let (n, v) = line.split_once(':').ok_or_else(|| format!("bad header line {line:?}"))?;
        hs.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let find = |name: &str| hs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    if find("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        payload = dechunk(&payload)?;
    } else if let Some(len) = find("content-length") {
        let len: usize = len.parse().map_err(|_| format!("bad content-length {len:?}"))?;
        if payload.len() != len {
            return Err(format!("content-length {len} but {} bytes of body", payload.len()));
        }
    }
    let body = String::from_utf8(payload).map_err(|_| "body is not UTF-8".to_string())?;
    Ok(Answer { status, headers: hs, body, elapsed })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`: resident memory, `VmHWM`: its peak).
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("reads /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} line in /proc/{pid}/status"))
}

/// Linux scheduling policies, as `/proc/PID/task/TID/stat` shows them.
const SCHED_OTHER: u32 = 0;
const SCHED_IDLE: u32 = 5;

/// Each thread of process `pid`: its name and scheduling policy.
fn thread_policies(pid: u32) -> Vec<(String, u32)> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).expect("reads /proc/PID/task");
    tasks
        .filter_map(|t| fs::read_to_string(t.ok()?.path().join("stat")).ok())
        .filter_map(|stat| {
            // `TID (NAME) STATE ...`: the policy is field 41, the 39th after the name.
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_string();
            Some((name, rest.split_whitespace().nth(38)?.parse().ok()?))
        })
        .collect()
}

/// What a plain-request client saw.
#[derive(Default)]
struct Plain {
    ok: u64,
    /// The counter value each 200 reported.
    hits: Vec<u64>,
    /// How many 200s ran in each world (index: world − `BASE_WORLD`).
    worlds: Vec<u64>,
    /// Every answer that was not as expected (and every transport error).
    bad: Vec<String>,
    max_latency: Duration,
}

impl Plain {
    fn merge(&mut self, p: Plain) {
        self.ok += p.ok;
        self.hits.extend(p.hits);
        self.bad.extend(p.bad);
        if self.worlds.len() < p.worlds.len() {
            self.worlds.resize(p.worlds.len(), 0);
        }
        for (k, c) in p.worlds.iter().enumerate() {
            self.worlds[k] += c;
        }
        self.max_latency = self.max_latency.max(p.max_latency);
    }
}

/// Sends one plain `GET /` and checks its answer.
fn plain_request(addr: SocketAddr, out: &mut Plain) {
    match http(addr, "GET", "/", &[], "") {
        Err(e) => out.bad.push(format!("transport: {e}")),
        Ok(a) => {
            out.max_latency = out.max_latency.max(a.elapsed);
            if a.status != 200 {
                out.bad.push(a.describe());
                return;
            }
            out.ok += 1;
            match check_plain_body(&a) {
                Ok((k, n)) => {
                    out.hits.push(n);
                    if out.worlds.len() <= k {
                        out.worlds.resize(k + 1, 0);
                    }
                    out.worlds[k] += 1;
                }
                Err(e) => out.bad.push(format!("{e}: {}", a.describe())),
            }
        }
    }
}

/// A 200's body must be `gK x vK N` with K = its world − `BASE_WORLD`: both helpers from
/// the world the request was pinned to. Returns K and N.
fn check_plain_body(a: &Answer) -> Result<(usize, u64), String> {
    if a.header("x-strata-scope") != Some("service") {
        return Err("scope is not service".into());
    }
    let world: u64 = a.header("x-strata-world").and_then(|w| w.parse().ok()).ok_or("no x-strata-world")?;
    let k = world.checked_sub(BASE_WORLD).ok_or("world before handle")?;
    let words: Vec<&str> = a.body.split(' ').collect();
    let [g, x, v, n] = words[..] else { return Err("body is not `gK x vK N`".into()) };
    if g != format!("g{k}") || x != "x" || v != format!("v{k}") {
        return Err(format!("helpers not those of world {world} (expected g{k} and v{k})"));
    }
    Ok((k as usize, n.parse().map_err(|_| "counter is not a number")?))
}

/// What the dead-loop client saw.
#[derive(Default)]
struct DeadLoops {
    sent: u64,
    bad: Vec<String>,
    max_latency: Duration,
}

fn dead_loop_request(addr: SocketAddr, out: &mut DeadLoops) {
    out.sent += 1;
    let headers = [("content-type", "application/json"), ("x-strata-token", TOKEN)];
    match http(addr, "POST", "/", &headers, DEAD_LOOP) {
        Err(e) => out.bad.push(format!("transport: {e}")),
        Ok(a) => {
            out.max_latency = out.max_latency.max(a.elapsed);
            let ok = a.status == 503
                && a.body.contains("timeout")
                && a.header("x-strata-scope") == Some("request")
                && a.header("x-strata-writes") == Some("discarded")
                && a.elapsed <= Duration::from_millis(REQUEST_TIMEOUT_MS) + TIMEOUT_SLACK;
            if !ok {
                out.bad.push(a.describe());
            }
        }
    }
}

/// What the redefining client saw.
#[derive(Default)]
struct Redefs {
    done: usize,
    bad: Vec<String>,
    max_duration: Duration,
}

/// Commits redefinition `k` (1-based) through `strata attach IMAGE --script`.
fn redefine(dir: &Path, k: usize, out: &mut Redefs) {
    let world = BASE_WORLD as usize + k;
    let t = format!(
        "> fn tag(n: int) -> str {{ \"v\" + str({k}) }}\n\
         . overridable fn greet(n: str) -> str {{ \"g{k} \" + n }}\n\
         world {world}: tag v{v}, greet v{v}\n",
        v = k + 1
    );
    let path = dir.join(format!("redef{k}.repl"));
    fs::write(&path, t).expect("writes the transcript");
    let start = Instant::now();
    match strata(dir, "attach", &["attach", "app.simg", "--script", path.to_str().unwrap()]) {
        Err(e) => out.bad.push(format!("redefinition {k}: {e}")),
        Ok(o) if !o.status.success() => out.bad.push(format!("redefinition {k}: {}", o.describe())),
        Ok(_) => out.done += 1,
    }
    out.max_duration = out.max_duration.max(start.elapsed());
}

fn first_few(v: &[String]) -> String {
    let mut s: Vec<String> = v.iter().take(5).cloned().collect();
    if v.len() > 5 {
        s.push(format!("... and {} more", v.len() - 5));
    }
    s.join("\n  ")
}

#[test]
fn serving_under_load_with_live_redefinitions_and_dead_loop_overrides() {
    let scratch = Scratch::new("serve-load");
    let dir = scratch.0.clone();

    // The image.
    fs::write(dir.join("init.repl"), INIT).expect("writes init.repl");
    let out = strata(&dir, "init", &["repl", "app.simg", "--script", "init.repl"]).expect("init");
    assert!(out.status.success(), "creating the image: {}", out.describe());
    let token = dir.join("token");
    fs::write(&token, format!("{TOKEN}\n")).expect("writes the token");
    fs::set_permissions(&token, fs::Permissions::from_mode(0o600)).expect("chmod 600");

    // The server, SIGKILLed if the test fails half-way.
    let mut server = Background::start(
        Command::new(STRATA)
            .args(["serve", "app.simg", "--port", "0", "--request-timeout", &REQUEST_TIMEOUT_MS.to_string()])
            .arg("--allow-overrides")
            .arg(&token)
            .current_dir(&dir)
            .env("XDG_DATA_HOME", &dir),
        &dir,
        "serve",
    )
    .unwrap_or_else(|e| panic!("cannot start {STRATA} serve: {e}"));
    let pid = server.child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: SocketAddr = loop {
        let text = fs::read_to_string(&server.stdout).unwrap_or_default();
        // The first line, once complete.
        if let Some(url) = text.lines().next().and_then(|l| l.strip_prefix("listening on http://"))
            && text.contains('\n')
        {
            break url.trim().parse().unwrap_or_else(|e| panic!("bad address {url:?}: {e}"));
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("strata serve exited ({status}) before listening: {}", stderr_tail(&server));
        }
        assert!(Instant::now() < deadline, "no 'listening on' line: {}", stderr_tail(&server));
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(addr.ip().is_loopback(), "serving on {addr}, not 127.0.0.1");
    // Overrides run in the idle scheduling class, the service's requests in the normal one.
    let policies = thread_policies(pid);
    let of = |prefix: &str| -> Vec<u32> {
        policies.iter().filter(|(n, _)| n.starts_with(prefix)).map(|(_, p)| *p).collect()
    };
    let (overrides, workers) = (of("strata-override"), of("strata-worker"));
    assert!(overrides.len() >= 2 && overrides.iter().all(|&p| p == SCHED_IDLE), "threads: {policies:?}");
    assert!(workers.len() >= 2 && workers.iter().all(|&p| p == SCHED_OTHER), "threads: {policies:?}");
    // A repeated token header is compared as `handle` sees it, joined.
    let twice = [("content-type", "application/json"), ("x-strata-token", TOKEN), ("x-strata-token", "zzz")];
    let a = http(addr, "POST", "/", &twice, DEAD_LOOP).expect("an answer");
    assert_eq!(a.status, 403, "{}", a.describe());

    // Warm-up: some plain requests from all clients and two dead loops, then an idle
    // pause, then the baseline memory.
    let mut plain = Plain::default();
    let warm: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut p = Plain::default();
                for _ in 0..25 {
                    plain_request(addr, &mut p);
                }
                p
            })
        })
        .collect();
    let mut dead = DeadLoops::default();
    for _ in 0..2 {
        dead_loop_request(addr, &mut dead);
    }
    for t in warm {
        let p = t.join().expect("a warm-up client");
        plain.merge(p);
    }
    assert!(
        plain.bad.is_empty() && dead.bad.is_empty(),
        "warm-up failed:\n  {}\n  {}\n--- server stderr:\n{}",
        first_few(&plain.bad),
        first_few(&dead.bad),
        stderr_tail(&server)
    );
    std::thread::sleep(Duration::from_millis(500));
    let rss_warm = proc_kib(pid, "VmRSS");

    // The run.
    let start = Instant::now();
    let end = start + RUN;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut p = Plain::default();
                while Instant::now() < end {
                    plain_request(addr, &mut p);
                }
                p
            })
        })
        .collect();
    let dead_client = std::thread::spawn(move || {
        let mut d = DeadLoops::default();
        while Instant::now() < end {
            dead_loop_request(addr, &mut d);
        }
        d
    });
    // Redefinitions spread over the run (leaving its last second free), each starting as
    // soon as the previous one is done if the schedule is behind.
    let mut redefs = Redefs::default();
    let spacing = (RUN - Duration::from_secs(1)) / REDEFINITIONS as u32;
    for k in 1..=REDEFINITIONS {
        let at = start + spacing * (k as u32 - 1);
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        redefine(&dir, k, &mut redefs);
    }
    let redefs_took = start.elapsed();
    for c in clients {
        let p = c.join().expect("a plain client");
        plain.merge(p);
    }
    let d = dead_client.join().expect("the dead-loop client");
    dead.sent += d.sent;
    dead.bad.extend(d.bad);
    dead.max_latency = dead.max_latency.max(d.max_latency);
    let run_took = start.elapsed();

    // Memory after an idle pause.
    std::thread::sleep(Duration::from_millis(1000));
    let rss_end = proc_kib(pid, "VmRSS");
    let rss_peak = proc_kib(pid, "VmHWM");
    let count = http(addr, "GET", "/count", &[], "");

    eprintln!(
        "serve_load: {} plain 200s in {run_took:?} ({:.0}/s, max latency {:?}), {} problems; \
         {} dead-loop overrides (max latency {:?}), {} problems; {}/{REDEFINITIONS} redefinitions \
         in {redefs_took:?} (slowest {:?}); worlds served {}; VmRSS warm {} KiB, end {} KiB, peak {} KiB",
        plain.ok,
        plain.ok as f64 / run_took.as_secs_f64(),
        plain.max_latency,
        plain.bad.len(),
        dead.sent,
        dead.max_latency,
        dead.bad.len(),
        redefs.done,
        redefs.max_duration,
        plain.worlds.iter().filter(|&&c| c > 0).count(),
        rss_warm,
        rss_end,
        rss_peak,
    );

    // Shutdown.
    let term = Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill");
    assert!(term.success(), "the server was already gone: {}", stderr_tail(&server));
    let status = wait_bounded(&mut server.child, Duration::from_secs(15));

    // The checks.
    assert!(
        plain.bad.is_empty(),
        "{} plain requests were not served as expected:\n  {}\n--- server stderr:\n{}",
        plain.bad.len(),
        first_few(&plain.bad),
        stderr_tail(&server)
    );
    assert!(
        dead.bad.is_empty(),
        "{} of {} dead-loop overrides were not answered 503 within {REQUEST_TIMEOUT_MS} ms + {TIMEOUT_SLACK:?}:\n  {}",
        dead.bad.len(),
        dead.sent,
        first_few(&dead.bad)
    );
    assert!(dead.sent >= 5, "only {} dead-loop overrides ran in {RUN:?}", dead.sent);
    assert!(redefs.bad.is_empty(), "redefinitions failed:\n  {}", first_few(&redefs.bad));
    assert_eq!(redefs.done, REDEFINITIONS);
    // Each redefinition went live while the clients ran: every world served some of them.
    let unserved: Vec<u64> = (0..=REDEFINITIONS)
        .filter(|&k| plain.worlds.get(k).is_none_or(|&c| c == 0))
        .map(|k| BASE_WORLD + k as u64)
        .collect();
    assert!(unserved.is_empty(), "no plain request ran in worlds {unserved:?}");
    assert!(plain.ok >= 1000, "only {} plain requests were served in {RUN:?}", plain.ok);
    let mut hits = plain.hits.clone();
    hits.sort_unstable();
    let expected: Vec<u64> = (1..=plain.ok).collect();
    if hits != expected {
        let mut dup = Vec::new();
        for w in hits.windows(2) {
            if w[0] == w[1] {
                dup.push(w[0]);
            }
        }
        let missing: Vec<u64> = expected.iter().copied().filter(|n| hits.binary_search(n).is_err()).take(10).collect();
        panic!(
            "the 200s' counters are not exactly 1..={}: duplicates {:?}, missing {:?}, max {:?}",
            plain.ok,
            &dup[..dup.len().min(10)],
            missing,
            hits.last()
        );
    }
    let count = count.unwrap_or_else(|e| panic!("GET /count: {e}"));
    assert_eq!(count.status, 200, "GET /count: {}", count.describe());
    assert_eq!(count.body, plain.ok.to_string(), "the counter read by a request != the number of 200s");
    assert_eq!(
        count.header("x-strata-world"),
        Some((BASE_WORLD + REDEFINITIONS as u64).to_string().as_str()),
        "GET /count did not run in the newest world"
    );
    let status = status.unwrap_or_else(|| panic!("still running 15 s after SIGTERM: {}", stderr_tail(&server)));
    assert!(status.success(), "exit after SIGTERM: {status}\n{}", stderr_tail(&server));
    let out = strata(&dir, "eval", &["repl", "app.simg", "--eval", "hits"]).expect("--eval");
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(out.stdout.trim(), plain.ok.to_string(), "the counter in the image != the number of 200s");
    let out = strata(&dir, "eval2", &["repl", "app.simg", "--eval", "greet(\"y\") + \" \" + tag(0)"]).expect("--eval");
    assert_eq!(
        out.stdout.trim(),
        format!("g{REDEFINITIONS} y v{REDEFINITIONS}"),
        "the last redefinition is not in the image: {}",
        out.describe()
    );

    // Memory: back near the warm baseline once idle. Expected to stay: code of the
    // newest world, and the request-override cache (the dead-loop override is one text,
    // compiled once per world it ran in).
    assert!(
        rss_end <= 2 * rss_warm + 64 * 1024,
        "VmRSS after the run and an idle second: {rss_end} KiB, warm baseline {rss_warm} KiB"
    );
}
