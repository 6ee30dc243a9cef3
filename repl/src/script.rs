//! `strata repl --script FILE [--record]`: replays a transcript through the
//! same session as every other input, capturing everything each input
//! produces, in order, to compare it (or, with `--record`, to print it).

use crate::session::{Session, SessionConfig};
use crate::transcript;
use jit::abi::Output;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// `print` output of the input being replayed, in order.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Output for Captured {
    fn write_line(&self, line: &str) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines.extend(line.split('\n').map(str::to_string));
    }
}

impl Captured {
    fn push(&self, text: &str) {
        self.write_line(text);
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Runs one REPL input (a transaction or a `:` command) and returns every
/// line it produced.
pub fn replay_one(session: &Session, captured: &Captured, input: &str) -> Vec<String> {
    if input.trim_start().starts_with(':') {
        let text = crate::commands::run(session, input.trim());
        if !text.is_empty() {
            captured.push(&text);
        }
        return captured.take();
    }
    match session.input(input, "<input>") {
        Ok(outcome) => {
            // The ack comes before anything the expressions printed.
            let printed = captured.take();
            if let Some(ack) = outcome.ack {
                captured.push(&ack);
            }
            for l in printed {
                captured.push(&l);
            }
            if let Some(echo) = outcome.echo {
                captured.push(&echo);
            }
        }
        Err((ack, failure)) => {
            let printed = captured.take();
            if let Some(ack) = ack {
                captured.push(&ack);
            }
            for l in printed {
                captured.push(&l);
            }
            captured.push(&failure.to_string());
        }
    }
    captured.take()
}

pub fn run(path: &Path, record: bool, grace: std::time::Duration, image: Option<&Path>) -> ExitCode {
    let captured = Captured::default();
    let sink = captured.clone();
    let config = SessionConfig {
        output: Arc::new(move || Box::new(sink.clone())),
        // Section 13: nothing asynchronous on standard output.
        task_output: Arc::new(|| Box::new(jit::abi::Stderr)),
        grace,
        ..SessionConfig::stdout(None)
    };
    let session = match Session::open_or_new(config, image.map(|p| (p, crate::session::Access::Bound))) {
        Ok(s) => s,
        Err(e) => {
            crate::say::err!("{e}");
            return ExitCode::from(1);
        }
    };
    replay(path, record, &mut |input| replay_one(&session, &captured, input))
}

/// Replays the transcript at `path` through `run_input` (which answers the
/// lines an input produced): compares them with the expected lines, or
/// with `record` prints the transcript with the actual ones.
pub fn replay(path: &Path, record: bool, run_input: &mut dyn FnMut(&str) -> Vec<String>) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            crate::say::err!("error: cannot read {}: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    for entry in transcript::parse(&text) {
        if matches!(entry.input.trim(), ":quit" | ":q") {
            // Leaves the session as the end of the transcript does.
            if record {
                entry.raw.iter().for_each(|l| crate::say::out!("{l}"));
            }
            break;
        }
        let actual: Vec<String> = run_input(&entry.input).iter().map(|l| transcript::escape(l)).collect();
        if record {
            for l in entry.raw.iter().chain(&actual) {
                crate::say::out!("{l}");
            }
        } else if let Err(diff) = transcript::check(&entry.expected, &actual) {
            crate::say::err!("{}: the output of this input differs:", path.display());
            for l in &entry.raw {
                crate::say::err!("{l}");
            }
            crate::say::err!("{diff}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::replay;

    #[test]
    fn quit_ends_a_transcript_like_its_end() {
        let path = std::env::temp_dir().join(format!("strata-quit-{}.repl", std::process::id()));
        std::fs::write(&path, "> 1 + 1\n2\n> :quit\n> never run\nnot checked\n").expect("writes");
        let mut ran = Vec::new();
        let code = replay(&path, false, &mut |input| {
            ran.push(input.to_string());
            vec!["2".to_string()]
        });
        let _ = std::fs::remove_file(&path);
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        assert_eq!(ran, ["1 + 1"]);
    }
}
