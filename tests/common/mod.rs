//! Scaffolding shared by the integration tests that drive the `strata` binary as a process
//! (`image_crash`, `image_damage`, `serve_load`): scratch directories, `strata` started
//! with its output in files, waits with a deadline, and a deterministic PRNG.
//!
//! Each of those test files says `mod common;`, so every test binary compiles its own
//! copy of this module.

// A test binary uses only part of this module (no one of them needs all of it), and what
// it leaves unused would otherwise be warned about as dead code in that binary.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The `strata` binary of this package, as Cargo built it for its integration tests (the
/// binary under test, never one found on `PATH`).
pub const STRATA: &str = env!("CARGO_BIN_EXE_strata");

/// No single `strata` invocation that a test runs to completion may take longer: a hang
/// must fail the test with a message, not stall the whole run.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(20);

/// How often a bounded wait looks whether the child has exited: short, because the tests
/// run `strata` hundreds of times and every wait ends up to this much after the exit.
const POLL: Duration = Duration::from_millis(2);

/// A temporary directory, removed on drop (kept when `STRATA_KEEP_TMP` is set), so that a
/// test cleans up after itself even when an assertion fails, and its files can still be
/// looked at when asked for. The name holds the test process's id, so that concurrent runs
/// of the tests do not share files.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("strata-{name}.{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("STRATA_KEEP_TMP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// SplitMix64: a small deterministic PRNG, so that a test that picks random moments or
/// damage replays exactly the same ones on every run (and a failure can be reproduced).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn nonzero_byte(&mut self) -> u8 {
        (self.below(255) + 1) as u8
    }
}

/// A finished `strata` invocation.
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The status and both outputs, for an assertion's message.
    pub fn describe(&self) -> String {
        format!("{}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.status, self.stdout, self.stderr)
    }
}

/// A process started by a test, its standard output and error going to files — never
/// pipes, so nothing can block on a full pipe while the test waits or polls — and its
/// standard input empty. Killed on drop if it is still running, so that a failed assertion
/// (which unwinds through here) never leaves a `strata` process behind: a writer holding
/// an image, or a server holding a port.
pub struct Background {
    pub child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Background {
    /// Starts `command` with its output going to `dir/TAG.stdout` and `dir/TAG.stderr`
    /// (created or truncated). The error is the spawn's, for the caller's own message.
    pub fn start(command: &mut Command, dir: &Path, tag: &str) -> io::Result<Background> {
        let stdout = dir.join(format!("{tag}.stdout"));
        let stderr = dir.join(format!("{tag}.stderr"));
        let child = command
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("stdout file"))
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()?;
        Ok(Background { child, stdout, stderr })
    }

    /// What the process has written to its standard output so far.
    pub fn stdout(&self) -> String {
        read_text(&self.stdout)
    }

    /// What the process has written to its standard error so far.
    pub fn stderr(&self) -> String {
        read_text(&self.stderr)
    }

    /// Waits for the process at most `timeout` (see [`wait_bounded`]) and returns its
    /// status and whole output; `None` if it had to be killed.
    pub fn finish(mut self, timeout: Duration) -> Option<Out> {
        let status = wait_bounded(&mut self.child, timeout)?;
        Some(Out { status, stdout: self.stdout(), stderr: self.stderr() })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child` at most `timeout`; on timeout it is SIGKILLed (and reaped) and `None`
/// returned. A test never waits unboundedly: a process that hangs fails the test instead.
pub fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// A file's text as far as it is readable (a process may be writing it, or cut off in the
/// middle of a character): invalid UTF-8 replaced, a missing file read as empty.
pub fn read_text(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}
