//! `chord serve` and signals: SIGTERM or SIGINT while the model loads ends the process cleanly
//! (status 0, a clear stderr line, no panic, the listener gone) instead of the signal's default
//! action; after the load they take the graceful-shutdown path.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const LOADING: &str = "shutdown requested during model load";
const SERVING: &str = "shutting down";

struct Serve {
    child: Child,
    /// stderr lines as they come; the channel closes when the process closes stderr.
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Serve {
    fn start(model: &str) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chord"))
            .args(["serve", "-m", model, "--port", "0", "-t", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chord serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serve {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads stderr up to the first line starting with `prefix`; returns it.
    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    panic!("no {prefix:?} line ({e}); stderr so far: {:?}", self.seen);
                }
            }
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits (bounded) for the exit; returns the status and the whole stderr.
    fn finish(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        // The reader thread ends the channel at EOF, i.e. when the process has exited.
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, self.seen.join("\n"));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("chord serve did not exit; stderr: {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn addr_of(listening: &str) -> String {
    listening
        .trim_start_matches("listening on http://")
        .trim()
        .to_string()
}

/// The 1.5B model takes about a second to load here, so a signal sent as soon as the socket is
/// bound lands during the load. Should the load win the race on some machine, the graceful path
/// must hold instead (and the test says which one it saw).
#[test]
fn signal_during_model_load_exits_cleanly() {
    for sig in ["TERM", "INT"] {
        let mut serve = Serve::start("qwen2.5-coder-1.5b");
        let addr = addr_of(&serve.wait_line("listening on "));
        serve.signal(sig);
        let (status, stderr) = serve.finish();
        assert_eq!(
            status.code(),
            Some(0),
            "SIG{sig}: {status}; stderr:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "SIG{sig}: a panic:\n{stderr}");
        if stderr.contains("ready:") {
            eprintln!("SIG{sig}: the load finished first; the graceful path ran");
            assert!(stderr.contains(SERVING), "SIG{sig}: {stderr}");
        } else {
            assert!(stderr.contains(LOADING), "SIG{sig}: {stderr}");
            assert!(!stderr.contains(SERVING), "SIG{sig}: {stderr}");
        }
        assert!(
            TcpStream::connect(&addr).is_err(),
            "SIG{sig}: {addr} still accepts connections"
        );
    }
}

#[test]
fn sigterm_after_load_shuts_down_gracefully() {
    let mut serve = Serve::start("gemma3-270m");
    let addr = addr_of(&serve.wait_line("listening on "));
    serve.wait_line("ready:");
    assert!(TcpStream::connect(&addr).is_ok(), "{addr} not accepting");
    serve.signal("TERM");
    let (status, stderr) = serve.finish();
    assert_eq!(status.code(), Some(0), "{status}; stderr:\n{stderr}");
    assert!(stderr.contains(SERVING), "{stderr}");
    assert!(!stderr.contains(LOADING), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(TcpStream::connect(&addr).is_err(), "{addr} still open");
}
