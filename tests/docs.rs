//! Help for people at the terminal: `aiops completions SHELL` and `aiops man`, generated
//! from the clap definitions (so they know every command and flag of this build; the bash
//! script completes in a real bash, `--out` writes one man page per command), and the hint
//! a command prints when no cluster is reachable and no flag named a source.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::process::Command;

fn aiops(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_aiops")).args(args).env_remove("RUST_LOG").output().unwrap();
    assert!(o.status.success(), "aiops {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn completions_know_every_command_and_complete_in_bash() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = aiops(&["completions", shell]);
        for word in ["report", "queue", "slo-period", "prometheus-only", "completions"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    // Source the bash script and ask it to complete `aiops rep` and `aiops report --slo-p`.
    let script = aiops(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aiops.bash");
    std::fs::write(&file, script).unwrap();
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let cmd = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; _aiops aiops '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display(),
            words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" "),
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let o = Command::new("bash").args(["-c", &cmd]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(complete("aiops rep").trim(), "report");
    assert!(complete("aiops report --slo-p").lines().any(|l| l == "--slo-period"));
}

#[test]
fn man_pages_cover_every_command() {
    let page = aiops(&["man"]);
    assert!(page.contains(".TH aiops 1"), "{page:.200}");
    for cmd in ["inventory", "sizing", "report", "queue", "serve", "completions", "man"] {
        assert!(
            page.contains(&format!("aiops\\-{cmd}(1)")),
            "no {cmd} in the SEE ALSO / subcommands:\n{page}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = aiops(&["man", "--out", dir.path().to_str().unwrap()]);
    for page in ["aiops.1", "aiops-report.1", "aiops-queue-approve.1", "aiops-snapshot-capture.1"] {
        assert!(dir.path().join(page).is_file(), "{page} missing; wrote:\n{out}");
    }
    let report = std::fs::read_to_string(dir.path().join("aiops-report.1")).unwrap();
    assert!(report.contains("slo\\-period"), "{report:.300}");
}

#[test]
fn no_cluster_and_no_source_flag_gets_a_hint() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("AIOPS_CONFIG")
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        String::from_utf8(o.stderr).unwrap()
    };
    let err = run(&["sizing", "--prometheus-url", "http://127.0.0.1:9"]);
    assert!(
        err.contains("not in a cluster")
            && err.contains("hint: no Kubernetes access? `aiops sizing --prometheus-only"),
        "{err}"
    );
    let err = run(&["hpa"]);
    assert!(err.contains("hint: name a cluster with --kubeconfig FILE or --context NAME"), "{err}");
    // A source was named: its own error says what is wrong, no hint.
    let err = run(&["hpa", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert!(err.contains("/nonexistent/kubeconfig") && !err.contains("hint:"), "{err}");
}
