//! The plain-Rust peer of `benches/serve.sh`: hyper 1.x HTTP/1.1 on tokio's default
//! multi-thread runtime (one worker thread per core), nothing else.
//!
//!   serve-peer trivial   every request: 200 "ok"
//!   serve-peer json      parse the body with serde_json, read "name", increment a global
//!                        counter behind a Mutex, answer "hello NAME HITS"
//!
//! Binds 127.0.0.1 on a free port and prints `listening on http://127.0.0.1:P` first.
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write;
use std::sync::Mutex;

static HITS: Mutex<i64> = Mutex::new(0);

async fn trivial(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

async fn json(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(Response::builder().status(400).body(Full::new(Bytes::new())).unwrap()),
    };
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return Ok(Response::builder().status(500).body(Full::new(Bytes::from(e.to_string()))).unwrap()),
    };
    let name = match v.get("name") {
        Some(serde_json::Value::String(s)) => s.as_str(),
        _ => "world",
    };
    let hits = {
        let mut h = HITS.lock().unwrap();
        *h += 1;
        *h
    };
    Ok(Response::new(Full::new(Bytes::from(format!("hello {name} {hits}")))))
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "trivial".into());
    let is_json = match mode.as_str() {
        "trivial" => false,
        "json" => true,
        m => {
            eprintln!("usage: serve-peer trivial|json (not {m})");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening on http://{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let io = TokioIo::new(stream);
                let _ = if is_json {
                    http1::Builder::new().serve_connection(io, service_fn(json)).await
                } else {
                    http1::Builder::new().serve_connection(io, service_fn(trivial)).await
                };
            });
        }
    });
}
