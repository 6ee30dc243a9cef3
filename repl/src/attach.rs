//! `strata attach IMAGE`: a REPL connected to the process running IMAGE
//! over a Unix socket beside the image (`IMAGE.sock`, owner-only). The
//! server side runs each input through the same path as a transcript
//! (`script::replay_one`) with the input's output sent back to its client;
//! the client is a line editor or a transcript replayer.
//!
//! Wire format (both directions): `[length: u32 LE][UTF-8 payload]`. A
//! request is one input (at most [`MAX_MESSAGE`] bytes); its reply is the
//! lines the input produced, joined with `\n`. A malformed or oversized
//! request closes that connection and nothing else.

use crate::script::{Captured, replay_one};
use crate::session::{Session, with_output};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Weak};

/// The largest request accepted (1 MiB).
pub const MAX_MESSAGE: u32 = 1 << 20;

/// Where the socket of the process running `image` is.
pub fn socket_path(image: &Path) -> PathBuf {
    let mut p = image.as_os_str().to_owned();
    p.push(".sock");
    PathBuf::from(p)
}

/// The listening socket; removed when dropped.
pub struct Server {
    path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts accepting `strata attach` clients for the session bound to
/// `image`. The caller holds the image's write lock, so a socket already
/// there was left by a process that died: it is replaced.
pub fn serve(session: &Arc<Session>, image: &Path) -> Result<Server, String> {
    let path = socket_path(image);
    // Bound under a temporary name and made owner-only before it takes its
    // real one, so that no one else can connect in between.
    let mut temp = path.clone().into_os_string();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    let _ = std::fs::remove_file(&temp);
    let listener = UnixListener::bind(&temp).map_err(|e| format!("cannot listen on {}: {e}", temp.display()))?;
    let placed = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot make {} owner-only: {e}", temp.display()))
        .and_then(|()| std::fs::rename(&temp, &path).map_err(|e| format!("cannot place {}: {e}", path.display())));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    let server = Server { path: path.clone() };
    let session = Arc::downgrade(session);
    std::thread::Builder::new()
        .name("strata-attach".into())
        .spawn(move || accept(listener, session))
        .map_err(|e| format!("cannot start the attach listener: {e}"))?;
    Ok(server)
}

fn accept(listener: UnixListener, session: Weak<Session>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if session.strong_count() == 0 {
            return;
        }
        let session = session.clone();
        // Inputs run on the connection's thread, which needs an evaluation stack.
        let _ = jit::eval::spawn_eval_thread("strata-attached".into(), move || serve_client(stream, session));
    }
}

/// One client: requests until it disconnects or sends something malformed.
fn serve_client(mut stream: UnixStream, session: Weak<Session>) {
    let captured = Captured::default();
    let sink = captured.clone();
    let output: crate::session::OutputFactory = Arc::new(move || Box::new(sink.clone()));
    while let Some(input) = read_request(&mut stream) {
        let Some(session) = session.upgrade() else { return };
        let lines = with_output(output.clone(), || replay_one(&session, &captured, &input));
        if write_frame(&mut stream, &lines.join("\n")).is_err() {
            return;
        }
    }
}

/// The next request, or `None` at the end of the connection or when the
/// request is malformed (too long, not UTF-8).
fn read_request(stream: &mut UnixStream) -> Option<String> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let len = u32::from_le_bytes(len);
    if len > MAX_MESSAGE {
        return None;
    }
    let mut buf = vec![0u8; len as usize];
    stream.read_exact(&mut buf).ok()?;
    String::from_utf8(buf).ok()
}

fn write_frame(stream: &mut UnixStream, text: &str) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(4 + text.len());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    stream.write_all(&out)
}

/// A connection to the process running an image.
struct Client {
    stream: UnixStream,
}

impl Client {
    fn connect(image: &Path) -> Result<Client, String> {
        let path = socket_path(image);
        let stream = UnixStream::connect(&path).map_err(|e| {
            format!(
                "error: no strata process is running {} ({}: {e}); start one with `strata run {}`",
                image.display(),
                path.display(),
                image.display()
            )
        })?;
        Ok(Client { stream })
    }

    /// Sends one input; answers the lines it produced.
    fn send(&mut self, input: &str) -> Result<Vec<String>, String> {
        let lost = |e: std::io::Error| format!("error: the connection to the running image was lost: {e}");
        if input.len() > MAX_MESSAGE as usize {
            return Err(format!("error: the input is too long to send ({} bytes; at most {MAX_MESSAGE})", input.len()));
        }
        write_frame(&mut self.stream, input).map_err(lost)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(lost)?;
        let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
        self.stream.read_exact(&mut buf).map_err(lost)?;
        let text = String::from_utf8_lossy(&buf);
        Ok(if text.is_empty() { Vec::new() } else { text.split('\n').map(str::to_string).collect() })
    }
}

/// `strata attach IMAGE [--script FILE [--record]]`.
pub fn run(image: &Path, script: Option<&Path>, record: bool) -> ExitCode {
    let mut client = match Client::connect(image) {
        Ok(c) => c,
        Err(e) => {
            crate::say::err!("{e}");
            return ExitCode::from(1);
        }
    };
    if let Some(script) = script {
        return crate::script::replay(script, record, &mut |input| client.send(input).unwrap_or_else(|e| vec![e]));
    }
    interactive(&mut client, image)
}

fn interactive(client: &mut Client, image: &Path) -> ExitCode {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            crate::say::err!("error: cannot start the line editor: {e}");
            return ExitCode::from(1);
        }
    };
    crate::say::out!("attached to {} — :help for commands, Ctrl-D to detach", image.display());
    loop {
        match editor.readline("strata (attached)> ") {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) if matches!(line.trim(), ":quit" | ":q") => return ExitCode::SUCCESS,
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                match client.send(&line) {
                    Ok(lines) => lines.iter().for_each(|l| crate::say::out!("{l}")),
                    Err(e) => {
                        crate::say::err!("{e}");
                        return ExitCode::from(1);
                    }
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => return ExitCode::SUCCESS,
            Err(e) => {
                crate::say::err!("error: reading input failed: {e}");
                return ExitCode::from(1);
            }
        }
    }
}
