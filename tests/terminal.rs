//! The interactive REPL tested as a person uses it: in a real terminal
//! (tmux), typing a multi-line function, redefining it, using history,
//! interrupting `while true {}` with Ctrl-C, and quitting with Ctrl-D.
//! `.ci/run` installs tmux.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    name: String,
}

impl Tmux {
    fn start(cmd: &str) -> Tmux {
        let name = format!("strata-test-{}", std::process::id());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "120", "-y", "50", cmd])
            .status()
            .expect("tmux must be installed (.ci/run installs it)");
        assert!(ok.success(), "tmux could not start a session");
        Tmux { name }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().expect("tmux").success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.name]).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (polling the screen, bounded) until `pred` holds.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; the screen shows:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alive(&self) -> bool {
        Command::new("tmux").args(["has-session", "-t", &self.name]).status().is_ok_and(|s| s.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.name]).status();
    }
}

fn count(s: &str, needle: &str) -> usize {
    s.matches(needle).count()
}

#[test]
fn a_person_at_the_repl() {
    let home = std::env::temp_dir().join(format!("strata-term-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("temp home");
    let cmd = format!("env HOME={} XDG_DATA_HOME= {}", home.display(), env!("CARGO_BIN_EXE_strata"));
    let t = Tmux::start(&cmd);
    t.wait_for("the prompt", |s| s.contains("strata>"));

    // A multi-line function: the REPL keeps reading while the brace is open.
    t.keys(&["fn twice(x: int) -> int {", "Enter"]);
    t.keys(&["  x * 2", "Enter"]);
    t.keys(&["}", "Enter"]);
    t.wait_for("the acknowledgement", |s| s.contains("world 2: twice v1"));
    t.keys(&["twice(21)", "Enter"]);
    t.wait_for("42", |s| s.lines().any(|l| l.trim() == "42"));

    // Redefine it; new calls see the new version.
    t.keys(&["fn twice(x: int) -> int { x * 3 }", "Enter"]);
    t.wait_for("the second version", |s| s.contains("world 3: twice v2"));

    // History: Up brings back `twice(21)`.
    t.keys(&["Up", "Up", "Enter"]);
    t.wait_for("63", |s| s.lines().any(|l| l.trim() == "63"));

    // Ctrl-C interrupts a running loop and the prompt comes back.
    t.keys(&["while true {}", "Enter"]);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["C-c"]);
    t.wait_for("interrupted", |s| s.contains("error: interrupted"));
    let before = count(&t.screen(), "strata>");
    t.keys(&["twice(1)", "Enter"]);
    t.wait_for("a working prompt", |s| s.lines().any(|l| l.trim() == "3") && count(s, "strata>") > before);

    // Ctrl-D quits; the history file was written.
    t.keys(&["C-d"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!t.alive(), "the REPL did not quit on Ctrl-D");
    let history = std::fs::read_to_string(home.join(".local/share/strata/history")).expect("history file");
    assert!(history.contains("twice(21)"), "history: {history}");
    let _ = std::fs::remove_dir_all(&home);
}
