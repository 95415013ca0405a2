//! `aiops watch -o json` as a child process, its events read line by line, for the tests of
//! the watcher and its remediations.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Watcher {
    pub child: Child,
    pub lines: Receiver<Value>,
    pub seen: Vec<Value>,
}

impl Watcher {
    pub fn start(dir: &Path, kubeconfig: &Path, args: &[&str]) -> Watcher {
        Watcher::start_on(dir, &dir.join("queue.db"), kubeconfig, args)
    }

    pub fn start_on(dir: &Path, db: &Path, kubeconfig: &Path, args: &[&str]) -> Watcher {
        Watcher::start_env(dir, db, kubeconfig, args, &[])
    }

    /// Started with extra environment variables (e.g. `AIOPS_CLUSTER_NAME`).
    pub fn start_env(
        dir: &Path,
        db: &Path,
        kubeconfig: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Watcher {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["watch", "-o", "json", "--settle", "2s"])
            .args(args)
            .arg("--db")
            .arg(db)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "warn")
            .env_remove("AIOPS_CONFIG")
            .env_remove("AIOPS_DB")
            .env_remove("AIOPS_CLUSTER_NAME")
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        Watcher { child, lines, seen: Vec::new() }
    }

    /// Waits for an event matching `pred` (events seen before count); panics after `timeout`.
    pub fn wait(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("no {what} within {timeout:?}; events: {:#?}", self.seen),
            }
        }
    }

    pub fn count(&self, pred: impl Fn(&Value) -> bool) -> usize {
        self.seen.iter().filter(|v| pred(v)).count()
    }

    /// Collects what arrives within `d`.
    pub fn drain(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Ok(v) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(v);
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
