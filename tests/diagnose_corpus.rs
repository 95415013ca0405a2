//! Scores `aiops diagnose` on the corpus of real incidents in tests/fixtures/diagnose-corpus/ by
//! running the real binary on every case, and prints one table: per family and overall, class
//! accuracy, evidence-token and fix-token hit rates, healthy controls flagged.
//!
//! A case is a snapshot directory (`snapshot.json`, `objects/`, `logs/`) plus `case.yaml`: `id`
//! (the directory name), `family`, `target` (`pod/NAME`, `deploy/NAME`, ...), `namespace`,
//! `expected_class` (a class id), optional `wanted_class` (a class the vocabulary lacks),
//! `decisive.evidence` / `decisive.fix` (case-insensitive substrings every one of which must appear
//! in the evidence texts or root cause, resp. the remediation lines), `source` (url, title, kind),
//! `verbatim`, `added`, `notes`; and for cases whose evidence could not be read, `gaps` (what,
//! reason, detail) with `expected_unknown: true`: the same gaps are in the case's `snapshot.json`
//! (as `aiops snapshot capture` records what it could not read), and either the expected class
//! or `cause-unknown` (the engine saying which evidence it could not read) counts as right.
//!
//! It fails when
//! - a case directory does not load or the binary exits non-zero on it;
//! - a `case.yaml` is malformed (unknown class, id other than its directory name, ...);
//! - a case listed in `PASSING.txt` is no longer diagnosed right (a regression);
//! - any healthy control (`expected_class: healthy`) is flagged;
//! - a case with `expected_unknown` has no gaps in its `snapshot.json`;
//! - the corpus has fewer than [`MIN_CASES`] cases;
//! - `CORPUS.md` does not list a case with its source URL, or a class has no case.
//!
//! Cases that now get their class but are not listed in `PASSING.txt` are printed: add them.
//! Accuracy below 100 % is not a failure; the table is the measurement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods, clippy::disallowed_macros)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// The corpus must hold at least this many cases. Issue 19 asks for 150 or more from its two
/// parts together; part A alone has 88, so on a branch with only one part this check fails until
/// the other part is merged. Lower it only to run one part on its own.
const MIN_CASES: usize = 150;

/// The root-cause class ids `expected_class` may use (src/analysis/diagnose/class.rs).
fn class_ids() -> BTreeSet<&'static str> {
    aiops::analysis::diagnose::Class::ALL.iter().map(|c| c.id()).collect()
}

#[derive(Debug, Deserialize)]
struct Decisive {
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    fix: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Source {
    url: String,
    #[allow(dead_code)]
    title: String,
    #[allow(dead_code)]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct Gap {
    what: String,
    reason: String,
    #[allow(dead_code)]
    detail: String,
}

/// `case.yaml`. Fields only people read (`verbatim`, `added`, `notes`, `wanted_class`) are
/// accepted and ignored.
#[derive(Debug, Deserialize)]
struct CaseSpec {
    id: String,
    family: String,
    target: String,
    namespace: String,
    expected_class: String,
    /// The evidence the engine needs could not be read (`gaps`): the engine must say the cause
    /// is unknown, never healthy. Either the expected class or an explicit "unknown" counts.
    #[serde(default)]
    expected_unknown: bool,
    decisive: Decisive,
    source: Source,
    #[serde(default)]
    gaps: Vec<Gap>,
    /// Written after the engine changes it might have shaped (part C): reported apart too.
    #[serde(default)]
    held_out: bool,
}

/// What the binary said about one case.
struct Outcome {
    spec: CaseSpec,
    class: String,
    /// Class right (or, for `expected_unknown`, an explicit "cause unknown" that is not healthy).
    correct: bool,
    evidence_hits: usize,
    fix_hits: usize,
    /// Decisive tokens the diagnosis missed, for the listing.
    missed: Vec<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose-corpus")
}

fn case_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.yaml").is_file())
        .collect();
    out.sort();
    out
}

fn passing_list(root: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root.join("PASSING.txt")).unwrap_or_default();
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

fn lower_has(hay: &str, token: &str) -> bool {
    hay.to_lowercase().contains(&token.to_lowercase())
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
}

/// Runs the binary on one case directory: Ok(diagnosis JSON) or Err(why it did not load).
fn run_case(dir: &Path, spec: &CaseSpec) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aiops"));
    cmd.arg("diagnose")
        .arg("--snapshot")
        .arg(dir)
        .arg(&spec.target)
        .args(["-n", &spec.namespace, "-o", "json"])
        .env_remove("RUST_LOG")
        .env("KUBECONFIG", "/nonexistent/kubeconfig");
    // No configuration from the environment of whoever runs the tests (Prometheus URL, ...).
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AIOPS_") {
            cmd.env_remove(k);
        }
    }
    let o = cmd.output().map_err(|e| format!("cannot run aiops: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "exit {}: {}",
            o.status.code().map_or_else(|| "by signal".to_string(), |c| c.to_string()),
            String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("").trim()
        ));
    }
    serde_json::from_slice(&o.stdout).map_err(|e| format!("output is not JSON: {e}"))
}

fn score(spec: CaseSpec, d: &serde_json::Value) -> Outcome {
    let class = d["class"].as_str().unwrap_or("").to_string();
    let root_cause = d["root_cause"].as_str().unwrap_or("");
    let summary = d["summary"].as_str().unwrap_or("");
    let evidence: Vec<String> = d["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{} {}", e["source"].as_str().unwrap_or(""), e["text"].as_str().unwrap_or("")))
        .collect();
    let evidence_text = format!("{root_cause}\n{}", evidence.join("\n"));
    let fix_text = strings(&d["remediation"]).join("\n");
    let correct = if spec.expected_unknown {
        // The cause cannot be proven without the unread evidence: the expected class, or
        // `cause-unknown` saying so (in the summary: "cause unknown: events not readable").
        class == spec.expected_class || (class == "cause-unknown" && lower_has(summary, "not readable"))
    } else {
        class == spec.expected_class
    };
    let mut missed = Vec::new();
    let mut evidence_hits = 0;
    for t in &spec.decisive.evidence {
        if lower_has(&evidence_text, t) {
            evidence_hits += 1;
        } else {
            missed.push(format!("evidence:{t}"));
        }
    }
    let mut fix_hits = 0;
    for t in &spec.decisive.fix {
        if lower_has(&fix_text, t) {
            fix_hits += 1;
        } else {
            missed.push(format!("fix:{t}"));
        }
    }
    Outcome { spec, class, correct, evidence_hits, fix_hits, missed }
}

#[derive(Default)]
struct Tally {
    cases: usize,
    correct: usize,
    evidence_hits: usize,
    evidence_total: usize,
    fix_hits: usize,
    fix_total: usize,
    healthy: usize,
    healthy_flagged: usize,
}

impl Tally {
    fn add(&mut self, o: &Outcome) {
        self.cases += 1;
        self.correct += usize::from(o.correct);
        self.evidence_hits += o.evidence_hits;
        self.evidence_total += o.spec.decisive.evidence.len();
        self.fix_hits += o.fix_hits;
        self.fix_total += o.spec.decisive.fix.len();
        if o.spec.expected_class == "healthy" {
            self.healthy += 1;
            self.healthy_flagged += usize::from(o.class != "healthy");
        }
    }

    fn row(&self, name: &str) -> String {
        let pct = |a: usize, b: usize| {
            if b == 0 { "     -".to_string() } else { format!("{:5.1}%", 100.0 * a as f64 / b as f64) }
        };
        let flagged = if self.healthy == 0 {
            "-".to_string()
        } else {
            format!("{}/{}", self.healthy_flagged, self.healthy)
        };
        format!(
            "{name:<22} {:>5} {:>4}/{:<4} {}  {:>4}/{:<4} {}  {:>4}/{:<4} {}  {flagged:>7}",
            self.cases,
            self.correct,
            self.cases,
            pct(self.correct, self.cases),
            self.evidence_hits,
            self.evidence_total,
            pct(self.evidence_hits, self.evidence_total),
            self.fix_hits,
            self.fix_total,
            pct(self.fix_hits, self.fix_total),
        )
    }
}

/// Loads every `case.yaml`; a malformed one is a failure (collected, not a panic).
fn load_specs(root: &Path, failures: &mut Vec<String>) -> Vec<(PathBuf, CaseSpec)> {
    let classes = class_ids();
    let mut out = Vec::new();
    for dir in case_dirs(root) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(dir.join("case.yaml")).unwrap();
        let spec: CaseSpec = match serde_saphyr::from_str(&text) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: case.yaml does not parse: {e}"));
                continue;
            }
        };
        let mut bad = Vec::new();
        if spec.id != name {
            bad.push(format!("id {:?} is not the directory name", spec.id));
        }
        if !classes.contains(spec.expected_class.as_str()) {
            bad.push(format!("expected_class {:?} is not a class id", spec.expected_class));
        }
        if spec.family.is_empty() || spec.source.url.is_empty() {
            bad.push("family and source.url must be set".to_string());
        }
        if spec.target.split_once('/').is_none_or(|(k, n)| k.is_empty() || n.is_empty()) {
            bad.push(format!("target {:?} is not KIND/NAME", spec.target));
        }
        if spec.expected_class != "healthy" && spec.decisive.evidence.is_empty() && !spec.expected_unknown {
            bad.push("a failure case needs at least one decisive evidence token".to_string());
        }
        if spec.expected_unknown && spec.gaps.is_empty() {
            bad.push("expected_unknown without gaps".to_string());
        }
        for g in &spec.gaps {
            if g.what.is_empty() || g.reason.is_empty() {
                bad.push("a gap needs what and reason".to_string());
            }
        }
        if !dir.join("snapshot.json").is_file() || !dir.join("objects").is_dir() {
            bad.push("no snapshot.json or objects/".to_string());
        } else if spec.expected_unknown {
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("snapshot.json")).unwrap())
                    .unwrap_or_default();
            if meta["gaps"].as_array().is_none_or(Vec::is_empty) {
                bad.push("expected_unknown but snapshot.json records no gaps".to_string());
            }
        }
        if bad.is_empty() {
            out.push((dir, spec));
        } else {
            failures.push(format!("{name}: {}", bad.join("; ")));
        }
    }
    out
}

/// The ids of a part's `BASELINE-X.tsv` (`id<TAB>expected<TAB>got`, the classes the engine gave
/// before the issue-19 changes), with how many of them that engine got right.
fn baseline(root: &Path, part: &str) -> (BTreeSet<String>, usize) {
    let text = std::fs::read_to_string(root.join(format!("BASELINE-{part}.tsv"))).unwrap_or_default();
    let mut ids = BTreeSet::new();
    let mut right = 0;
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if let [id, expected, got] = cols[..] {
            ids.insert(id.to_string());
            right += usize::from(expected == got);
        }
    }
    (ids, right)
}

/// One row per part: A and B (their cases shaped the engine; membership from `BASELINE-A.tsv` and
/// `BASELINE-B.tsv`, with the class count the engine had before the changes) and C (held-out).
fn print_parts(root: &Path, outcomes: &[Outcome], held_out: &Tally) {
    println!();
    let mut before = Vec::new();
    for part in ["A", "B"] {
        let (ids, right) = baseline(root, part);
        let mut t = Tally::default();
        for o in outcomes.iter().filter(|o| ids.contains(&o.spec.id) && !o.spec.held_out) {
            t.add(o);
        }
        if t.cases > 0 {
            println!("{}", t.row(&format!("part {part}")));
            before.push(format!("part {part} {right}/{}", ids.len()));
        }
    }
    if held_out.cases > 0 {
        println!("{}", held_out.row("part C (held-out)"));
    }
    if !before.is_empty() {
        println!("class before the issue-19 engine changes (BASELINE-*.tsv): {}", before.join(", "));
    }
}

#[test]
fn the_diagnosis_corpus_is_scored_and_does_not_regress() {
    let root = corpus_dir();
    let mut failures: Vec<String> = Vec::new();
    let specs = load_specs(&root, &mut failures);
    let total_dirs = case_dirs(&root).len();

    // One process per case; run them on all cores.
    let threads = std::thread::available_parallelism().map_or(4, std::num::NonZeroUsize::get).clamp(1, 16);
    let chunk = specs.len().div_ceil(threads).max(1);
    let runs: Vec<Result<serde_json::Value, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || part.iter().map(|(dir, spec)| run_case(dir, spec)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let results: Vec<(CaseSpec, Result<serde_json::Value, String>)> =
        specs.into_iter().map(|(_, spec)| spec).zip(runs).collect();

    let mut outcomes = Vec::new();
    for (spec, r) in results {
        match r {
            Ok(d) => outcomes.push(score(spec, &d)),
            Err(e) => failures.push(format!("{}: does not load: {e}", spec.id)),
        }
    }

    let mut by_family: BTreeMap<String, Tally> = BTreeMap::new();
    let mut overall = Tally::default();
    let mut held_out = Tally::default();
    for o in &outcomes {
        by_family.entry(o.spec.family.clone()).or_default().add(o);
        overall.add(o);
        if o.spec.held_out {
            held_out.add(o);
        }
    }
    println!("\ndiagnosis corpus: {} cases ({} directories)\n", outcomes.len(), total_dirs);
    println!(
        "{:<22} {:>5} {:>16}  {:>16}  {:>16}  {:>7}",
        "family", "cases", "class", "evidence tokens", "fix tokens", "healthy"
    );
    for (f, t) in &by_family {
        println!("{}", t.row(f));
    }
    println!("{}", overall.row("OVERALL"));
    print_parts(&root, &outcomes, &held_out);

    let mut wrong: Vec<&Outcome> = outcomes.iter().filter(|o| !o.correct).collect();
    wrong.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
    if !wrong.is_empty() {
        println!("\nwrong class ({}):", wrong.len());
        for o in &wrong {
            println!("  {:<52} want {:<30} got {}", o.spec.id, o.spec.expected_class, o.class);
        }
    }
    let partial: Vec<&Outcome> = outcomes.iter().filter(|o| o.correct && !o.missed.is_empty()).collect();
    if !partial.is_empty() {
        println!("\nright class, decisive tokens missed ({}):", partial.len());
        for o in &partial {
            println!("  {:<52} {}", o.spec.id, o.missed.join(", "));
        }
    }

    // Regressions against PASSING.txt, and newly passing cases to add there.
    let passing = passing_list(&root);
    let by_id: BTreeMap<&str, &Outcome> = outcomes.iter().map(|o| (o.spec.id.as_str(), o)).collect();
    for id in &passing {
        match by_id.get(id.as_str()) {
            Some(o) if !o.correct => failures.push(format!(
                "{id}: listed in PASSING.txt, now gets {} instead of {}",
                o.class, o.spec.expected_class
            )),
            Some(_) => {}
            None if failures.iter().any(|f| f.starts_with(&format!("{id}:"))) => {}
            None => failures.push(format!("{id}: listed in PASSING.txt but there is no such case")),
        }
    }
    let newly: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.correct && !passing.contains(&o.spec.id))
        .map(|o| o.spec.id.as_str())
        .collect();
    if !newly.is_empty() {
        println!("\nnow passing, not yet in PASSING.txt ({}): add them:", newly.len());
        for id in &newly {
            println!("  {id}");
        }
    }

    for o in &outcomes {
        if o.spec.expected_class == "healthy" && o.class != "healthy" {
            failures.push(format!("{}: healthy control flagged as {}", o.spec.id, o.class));
        }
    }
    // Every class has a case (cause-unknown: the cases whose evidence was unreadable).
    for class in class_ids() {
        let covered = outcomes
            .iter()
            .any(|o| o.spec.expected_class == class || (class == "cause-unknown" && o.spec.expected_unknown));
        if !covered {
            failures.push(format!("class {class} has no case"));
        }
    }
    // CORPUS.md lists every case with its source (python3 corpus_table.py rewrites it).
    let table = std::fs::read_to_string(root.join("CORPUS.md")).unwrap_or_default();
    for o in &outcomes {
        if !table.contains(&format!("`{}`", o.spec.id)) || !table.contains(&o.spec.source.url) {
            failures.push(format!("{}: not in CORPUS.md with its source (run corpus_table.py)", o.spec.id));
        }
    }
    if total_dirs < MIN_CASES {
        failures.push(format!(
            "the corpus has {total_dirs} cases, fewer than MIN_CASES = {MIN_CASES} (tests/diagnose_corpus.rs)"
        ));
    }

    assert!(failures.is_empty(), "{} corpus failures:\n{}", failures.len(), failures.join("\n"));
}
