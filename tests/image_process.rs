//! Images as processes see them: `strata attach` to a running image
//! (several clients at once, a malformed or oversized message closes only
//! its own connection, the socket is owner-only and removed at exit), and a
//! full disk (a write limit, `ulimit -f`): the failing inputs are refused
//! with a clear error, the session goes on, and the image reopens to
//! exactly what was acknowledged.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const STRATA: &str = env!("CARGO_BIN_EXE_strata");

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("strata-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn strata(dir: &Path, args: &[&str]) -> Output {
    Command::new(STRATA).args(args).current_dir(dir).env("XDG_DATA_HOME", dir).output().expect("runs strata")
}

fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("writes the transcript");
    p
}

/// Kills the server if the test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn request(stream: &mut UnixStream, input: &str) -> String {
    stream.write_all(&(input.len() as u32).to_le_bytes()).expect("sends");
    stream.write_all(input.as_bytes()).expect("sends");
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).expect("a reply");
    let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
    stream.read_exact(&mut buf).expect("a reply");
    String::from_utf8(buf).expect("UTF-8")
}

#[test]
fn attached_clients_share_the_running_image_and_a_bad_one_harms_nobody() {
    let dir = scratch("attach");
    let img = dir.join("svc.simg");
    let init = "> var n: int = 0\nworld 2: n v1\n> fn step(k: int) -> int { n += 1; sleep(2); k + 1 }\nworld 3: step v1\n> spawn loop step(0);\n";
    let out = strata(&dir, &["repl", "svc.simg", "--script", script(&dir, "init.repl", init).to_str().unwrap()]);
    assert!(out.status.success() && img.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut server = Server(
        Command::new(STRATA)
            .args(["run", "svc.simg"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts"),
    );
    let sock = dir.join("svc.simg.sock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "no socket beside the image");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(std::fs::metadata(&sock).expect("stat").permissions().mode() & 0o777, 0o600, "owner-only");

    // A client that sends a length over the limit, and one that sends bytes
    // that are not UTF-8: each loses its own connection only.
    let mut big = UnixStream::connect(&sock).expect("connects");
    big.write_all(&(u32::MAX).to_le_bytes()).expect("sends");
    let mut buf = [0u8; 4];
    assert_eq!(big.read(&mut buf).unwrap_or(0), 0, "an oversized request closes the connection");
    let mut junk = UnixStream::connect(&sock).expect("connects");
    junk.write_all(&[2, 0, 0, 0, 0xff, 0xfe]).expect("sends");
    assert_eq!(junk.read(&mut buf).unwrap_or(0), 0, "a request that is not UTF-8 closes the connection");

    // Two clients at once, each defining and calling its own function.
    let clients: Vec<_> = (0..2)
        .map(|i| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let mut c = UnixStream::connect(&sock).expect("connects");
                let ack = request(&mut c, &format!("fn mine{i}() -> int {{ {i} * 10 }}"));
                assert!(ack.contains(&format!("mine{i} v1")), "{ack}");
                for _ in 0..20 {
                    assert_eq!(request(&mut c, &format!("mine{i}()")), format!("{}", i * 10));
                }
                request(&mut c, "n > 0")
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().expect("a client"), "true", "the service ran while clients worked");
    }
    // The same through the command, with a transcript.
    let t = "> mine0() + mine1()\n10\n> :tasks\n~ step  loop  running\n";
    let out = strata(&dir, &["attach", "svc.simg", "--script", script(&dir, "a.repl", t).to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let term = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().expect("kill");
    assert!(term.success());
    let status = server.0.wait().expect("exits");
    assert!(status.success(), "{status}");
    assert!(!sock.exists(), "the socket is removed at exit");
    let out = strata(&dir, &["repl", "svc.simg", "--eval", "mine1() + 1"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "11\n", "what attached clients committed is in the image");
    let out = strata(&dir, &["attach", "svc.simg"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no strata process is running"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_disk_refuses_the_input_and_keeps_the_image_whole() {
    let dir = scratch("disk-full");
    let mut t = String::from("> var xs: [str] = []\nworld 2: xs v1\n> fn add() { xs = push(xs, \"");
    t.push_str(&"x".repeat(200));
    t.push_str("\"); }\nworld 3: add v1\n");
    for _ in 0..120 {
        t.push_str("> add();\n");
    }
    t.push_str("> len(xs)\n");
    let path = script(&dir, "fill.repl", &t);
    // Writes past 64 KiB fail (EFBIG, with SIGXFSZ ignored) as on a full disk.
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "trap '' XFSZ; ulimit -f 64; exec '{STRATA}' repl img.simg --script '{}' --record",
                path.display()
            ),
        ])
        .current_dir(&dir)
        .env("XDG_DATA_HOME", &dir)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "the session goes on: {}", String::from_utf8_lossy(&out.stderr));
    let refused = stdout.lines().filter(|l| l.contains("the image could not be written")).count();
    assert!(refused > 0, "some inputs must hit the limit:\n{stdout}");
    assert!(stdout.contains("free some disk space"), "the error says what to do:\n{stdout}");
    let shown: usize = stdout.lines().last().and_then(|l| l.parse().ok()).expect("len(xs) at the end");
    assert_eq!(shown, 120 - refused, "refused inputs changed nothing in memory");
    let size = std::fs::metadata(dir.join("img.simg")).expect("stat").len();
    assert!(size <= 64 * 1024, "{size}");
    let out = strata(&dir, &["repl", "img.simg", "--eval", "len(xs)"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{shown}\n"), "the image holds what was acknowledged");
    let _ = std::fs::remove_dir_all(&dir);
}
