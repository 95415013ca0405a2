//! PHR records (Prompt/Proposal History Records, PRODUCT.md): one Markdown file with YAML
//! front matter per recommendation, under `history/prompts/<feature>/`. The text functions
//! are pure ([`phr_relative_path`], [`render_phr`], [`replace_section`], [`section_body`],
//! [`front_matter_id`]); [`find_phr`] and [`write_phr`] read and write files.
//!
//! The approval queue builds on this API: it fills "Architect Decision" and "Post-Action
//! Validation" with [`replace_section`], which leaves every other byte of the file as it was.
//! A rerun of a report calls [`write_phr`]: a PHR whose recommendation id already exists is
//! found by id and only its evidence sections ("AI Recommendation", "Pre-Action Metrics",
//! "Rollback Plan") are replaced; the decision and validation are kept.
//!
//! Format (front matter exactly as PRODUCT.md):
//! ```text
//! ---
//! id: <stable id>
//! title: <operation title>
//! stage: operational
//! date: <YYYY-MM-DD>
//! feature: <sizing|hpa|diagnosis|security|rollout>
//! labels: ["<feature>", "operational", "<approval the tier needs>"]
//! ---
//! ## AI Recommendation
//! ## Pre-Action Metrics
//! ## Architect Decision
//! ## Post-Action Validation
//! ## Rollback Plan
//! ```

use std::path::{Path, PathBuf};

use jiff::civil::Date;
use serde::Serialize;

use crate::model::recommendation::{Recommendation, RiskTier};

/// The five sections, in order.
pub const SECTIONS: [&str; 5] = [
    "AI Recommendation",
    "Pre-Action Metrics",
    "Architect Decision",
    "Post-Action Validation",
    "Rollback Plan",
];

/// Sections a rerun refreshes; the others belong to the approval queue.
pub const EVIDENCE_SECTIONS: [&str; 3] = ["AI Recommendation", "Pre-Action Metrics", "Rollback Plan"];

pub use crate::model::recommendation::Feature;

/// The approval a risk tier needs, as a PHR label.
pub fn approval_label(tier: RiskTier) -> &'static str {
    match tier {
        RiskTier::Trivial => "no-approval",
        RiskTier::Low => "review",
        RiskTier::Medium => "approval",
        RiskTier::Critical => "security-approval",
    }
}

/// A failure reading or writing PHRs.
#[derive(Debug, thiserror::Error)]
pub enum PhrError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: no `## {section}` section")]
    MissingSection { path: PathBuf, section: String },
    #[error("PHR text has no `## {0}` section")]
    NoSection(String),
    #[error("rendering the PHR template: {0}")]
    Template(String),
}

/// One row of a PHR's "Pre-Action Metrics": the figure, its value before the change, and
/// where it comes from (a field path, a metric, the analysis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreActionRow {
    pub figure: String,
    pub value: String,
    pub source: String,
}

impl PreActionRow {
    #[must_use]
    pub fn new(figure: &str, value: String, source: &str) -> PreActionRow {
        PreActionRow { figure: figure.to_string(), value, source: source.to_string() }
    }
}

/// What goes into a new PHR besides the recommendation.
#[derive(Debug, Clone)]
pub struct PhrInput<'a> {
    pub recommendation: &'a Recommendation,
    pub feature: Feature,
    /// The report date (`as_of`, UTC).
    pub date: Date,
    /// `operational` for report-generated PHRs.
    pub stage: &'a str,
    /// Figures measured before the change.
    pub pre_action: Vec<PreActionRow>,
}

/// Lower-case ASCII letters and digits, other runs as one `-`, at most 60 characters.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for ch in title.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut s: String = out.chars().take(60).collect();
    while s.ends_with('-') {
        s.pop();
    }
    if s.is_empty() { "recommendation".into() } else { s }
}

/// The PHR's path relative to the PHR root:
/// `history/prompts/<feature>/<date>-<id>-<slug>.md`.
pub fn phr_relative_path(feature: Feature, date: Date, rec: &Recommendation) -> PathBuf {
    PathBuf::from("history").join("prompts").join(feature.as_str()).join(format!(
        "{date}-{}-{}.md",
        rec.id,
        slug(&rec.title)
    ))
}

/// A YAML scalar: plain when that is safe, else double-quoted (JSON escapes are YAML).
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`~ ".contains(c))
        && !s.chars().any(char::is_control)
        && !matches!(s.to_ascii_lowercase().as_str(), "true" | "false" | "null" | "yes" | "no" | "~");
    if plain { s.to_string() } else { serde_json::Value::String(s.to_string()).to_string() }
}

#[derive(Serialize)]
struct PhrContext<'a> {
    id: &'a str,
    title: String,
    stage: &'a str,
    date: String,
    feature: &'a str,
    labels: String,
    rec: &'a Recommendation,
    tier: &'a str,
    target: String,
    kubectl_target: String,
    namespace_flag: String,
    patch: Option<String>,
    rollback: Option<String>,
    pre_action: &'a [PreActionRow],
}

fn kubectl_resource(kind: &str) -> String {
    kind.to_ascii_lowercase()
}

/// Renders a new PHR: front matter and the five sections, decision and validation empty.
///
/// # Errors
/// The template fails to render (a defect; the templates are compiled in).
pub fn render_phr(input: &PhrInput<'_>) -> Result<String, PhrError> {
    let rec = input.recommendation;
    let feature = input.feature.as_str();
    let labels = [feature, input.stage, approval_label(rec.tier)]
        .iter()
        .map(|l| serde_json::Value::String((*l).to_string()).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let json = |v: &serde_json::Value| (!v.is_null()).then(|| v.to_string());
    let tier = rec.tier.as_str();
    let ctx = PhrContext {
        id: &rec.id,
        title: yaml_scalar(&rec.title),
        stage: input.stage,
        date: input.date.to_string(),
        feature,
        labels: format!("[{labels}]"),
        rec,
        tier,
        target: rec.target.to_string(),
        kubectl_target: format!("{}/{}", kubectl_resource(rec.target.kind.as_str()), rec.target.name),
        namespace_flag: rec.target.namespace.as_deref().map(|n| format!(" -n {n}")).unwrap_or_default(),
        patch: json(&rec.patch),
        rollback: json(&rec.rollback),
        pre_action: &input.pre_action,
    };
    super::templates::render("phr.md", &ctx).map_err(|e| PhrError::Template(e.to_string()))
}

/// The line range of a section's body: (start of body, end of body) in bytes.
fn section_span(text: &str, section: &str) -> Option<(usize, usize)> {
    let heading = format!("## {section}");
    let mut pos = 0;
    let mut body_start = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        let next = pos + line.len();
        if let Some(start) = body_start {
            if SECTIONS.iter().any(|s| bare == format!("## {s}")) {
                return Some((start, pos));
            }
        } else if bare == heading {
            body_start = Some(next);
        }
        pos = next;
    }
    body_start.map(|s| (s, text.len()))
}

/// The body of a section (between its heading line and the next section heading).
pub fn section_body<'a>(text: &'a str, section: &str) -> Option<&'a str> {
    section_span(text, section).map(|(a, b)| &text[a..b])
}

/// Replaces the body of one section; every byte outside that body stays as it was. The
/// new body is written as a blank line, `body` without trailing newlines, and a blank line
/// (no trailing blank line at the end of the file).
///
/// # Errors
/// The text has no such section.
pub fn replace_section(text: &str, section: &str, body: &str) -> Result<String, PhrError> {
    let (a, b) = section_span(text, section).ok_or_else(|| PhrError::NoSection(section.to_string()))?;
    let mut out = String::with_capacity(text.len() + body.len());
    out.push_str(&text[..a]);
    out.push('\n');
    out.push_str(body.trim_matches('\n'));
    out.push('\n');
    if b < text.len() {
        out.push('\n');
    }
    out.push_str(&text[b..]);
    Ok(out)
}

/// The `id:` of the front matter.
pub fn front_matter_id(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---")?;
    rest[..end].lines().find_map(|l| l.strip_prefix("id: ")).map(str::trim)
}

/// Finds the PHR of a recommendation id under `root/history/prompts/<feature>/`: a file
/// whose name contains `-<id>-` and whose front matter has that id.
///
/// # Errors
/// The folder exists but cannot be read.
pub fn find_phr(root: &Path, feature: Feature, id: &str) -> Result<Option<PathBuf>, PhrError> {
    let dir = root.join("history").join("prompts").join(feature.as_str());
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(PhrError::Io { path: dir, source }),
    };
    let needle = format!("-{id}-");
    let mut found: Vec<PathBuf> = Vec::new();
    for e in entries {
        let e = e.map_err(|source| PhrError::Io { path: dir.clone(), source })?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && name.contains(&needle) {
            let path = e.path();
            let text = std::fs::read_to_string(&path)
                .map_err(|source| PhrError::Io { path: path.clone(), source })?;
            if front_matter_id(&text) == Some(id) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found.into_iter().next())
}

/// Existing PHRs of a feature by recommendation id (front matter `id:`), read once so a
/// run writing thousands of PHRs does not rescan the folder for each.
///
/// # Errors
/// The folder exists but cannot be read.
pub fn index_phrs(
    root: &Path,
    feature: Feature,
) -> Result<std::collections::HashMap<String, PathBuf>, PhrError> {
    let dir = root.join("history").join("prompts").join(feature.as_str());
    let mut out = std::collections::HashMap::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(source) => return Err(PhrError::Io { path: dir, source }),
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for e in entries {
        let e = e.map_err(|source| PhrError::Io { path: dir.clone(), source })?;
        if e.file_name().to_string_lossy().ends_with(".md") {
            paths.push(e.path());
        }
    }
    paths.sort();
    for path in paths {
        let text =
            std::fs::read_to_string(&path).map_err(|source| PhrError::Io { path: path.clone(), source })?;
        if let Some(id) = front_matter_id(&text) {
            out.entry(id.to_string()).or_insert(path);
        }
    }
    Ok(out)
}

/// What [`write_phr`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhrOutcome {
    Created,
    Updated,
    Unchanged,
}

/// Writes the PHR of a recommendation under `root`: a new file, or, when one with the same
/// id exists, its evidence sections replaced and everything else kept.
///
/// # Errors
/// Files cannot be read or written; an existing PHR lacks an evidence section.
pub fn write_phr(root: &Path, input: &PhrInput<'_>) -> Result<(PathBuf, PhrOutcome), PhrError> {
    let existing = find_phr(root, input.feature, &input.recommendation.id)?;
    write_phr_at(root, input, existing)
}

/// [`write_phr`] with the existing file already looked up (see [`index_phrs`]).
///
/// # Errors
/// As [`write_phr`].
pub fn write_phr_at(
    root: &Path,
    input: &PhrInput<'_>,
    existing: Option<PathBuf>,
) -> Result<(PathBuf, PhrOutcome), PhrError> {
    prepare_phr(root, input, existing)?.commit(None)
}

/// A PHR rendered and redacted, not yet written.
struct PreparedPhr {
    path: PathBuf,
    outcome: PhrOutcome,
    /// The text to write (`None`: unchanged).
    text: Option<String>,
}

/// Renders a PHR and, for an existing file, merges the fresh evidence sections into it.
fn prepare_phr(
    root: &Path,
    input: &PhrInput<'_>,
    existing: Option<PathBuf>,
) -> Result<PreparedPhr, PhrError> {
    let fresh = render_phr(input)?;
    if let Some(path) = existing {
        let old =
            std::fs::read_to_string(&path).map_err(|source| PhrError::Io { path: path.clone(), source })?;
        let mut text = old.clone();
        for s in EVIDENCE_SECTIONS {
            let body = section_body(&fresh, s).unwrap_or("");
            text = replace_section(&text, s, body)
                .map_err(|_| PhrError::MissingSection { path: path.clone(), section: s.to_string() })?;
        }
        if text == old {
            return Ok(PreparedPhr { path, outcome: PhrOutcome::Unchanged, text: None });
        }
        let text = crate::redact::redact(&text).into_owned();
        return Ok(PreparedPhr { path, outcome: PhrOutcome::Updated, text: Some(text) });
    }
    let path = root.join(phr_relative_path(input.feature, input.date, input.recommendation));
    let text = crate::redact::redact(&fresh).into_owned();
    Ok(PreparedPhr { path, outcome: PhrOutcome::Created, text: Some(text) })
}

impl PreparedPhr {
    /// Writes the file (creating its folder), holding `serial` if given: threads that
    /// render PHRs side by side create their files one at a time, since creating files in
    /// one folder at once only makes them wait on the folder's lock.
    fn commit(self, serial: Option<&std::sync::Mutex<()>>) -> Result<(PathBuf, PhrOutcome), PhrError> {
        let PreparedPhr { path, outcome, text } = self;
        let Some(text) = text else { return Ok((path, outcome)) };
        let _held = serial.map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if outcome == PhrOutcome::Created
            && let Some(dir) = path.parent()
        {
            std::fs::create_dir_all(dir)
                .map_err(|source| PhrError::Io { path: dir.to_path_buf(), source })?;
        }
        std::fs::write(&path, text.as_bytes())
            .map_err(|source| PhrError::Io { path: path.clone(), source })?;
        Ok((path, outcome))
    }
}

/// Writes the PHRs of one report run under one root: each recommendation once (pods of one
/// controller failing alike propose one), in the folder of its feature, updating the file
/// an earlier run wrote for the same id; counts what it did.
#[derive(Debug)]
pub struct PhrBatch {
    root: PathBuf,
    date: Date,
    index: std::collections::HashMap<Feature, std::collections::HashMap<String, PathBuf>>,
}

impl PhrBatch {
    #[must_use]
    pub fn new(root: PathBuf, date: Date) -> PhrBatch {
        PhrBatch { root, date, index: std::collections::HashMap::new() }
    }

    /// The PHR root.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes the PHRs of `items` (recommendation and pre-action rows).
    ///
    /// # Errors
    /// Files cannot be read or written.
    pub fn write(
        &mut self,
        items: &[(Recommendation, Vec<PreActionRow>)],
    ) -> Result<super::PhrStats, PhrError> {
        let mut stats =
            super::PhrStats { root: self.root.display().to_string(), ..super::PhrStats::default() };
        // Which items to write (each id once) and the file an earlier run wrote for each.
        let mut seen = std::collections::HashSet::new();
        let mut todo: Vec<(&Recommendation, &Vec<PreActionRow>, Option<PathBuf>)> = Vec::new();
        for (rec, pre) in items {
            if !seen.insert(rec.id.clone()) {
                continue;
            }
            let feature = rec.feature;
            if !self.index.contains_key(&feature) {
                let idx = index_phrs(&self.root, feature)?;
                self.index.insert(feature, idx);
            }
            let existing = self.index.get(&feature).and_then(|m| m.get(&rec.id)).cloned();
            todo.push((rec, pre, existing));
        }
        // Each PHR is its own file: they are rendered and redacted on all cores (10,000 of
        // them in a large cluster's health report) and written one at a time, then counted
        // in item order.
        let (root, date) = (&self.root, self.date);
        let serial = std::sync::Mutex::new(());
        let write_one = |(rec, pre, existing): &(&Recommendation, &Vec<PreActionRow>, Option<PathBuf>)| {
            let input = PhrInput {
                recommendation: rec,
                feature: rec.feature,
                date,
                stage: "operational",
                pre_action: (*pre).clone(),
            };
            prepare_phr(root, &input, existing.clone())?.commit(Some(&serial))
        };
        // A few PHRs (a security report's) are not worth the threads.
        let threads = if todo.len() < 64 { 1 } else { crate::analysis::par::threads() };
        let results: Vec<Result<(PathBuf, PhrOutcome), PhrError>> =
            crate::analysis::par::map(&todo, threads, write_one);
        for ((rec, _, _), r) in todo.iter().zip(results) {
            let (path, outcome) = r?;
            let feature = rec.feature;
            self.index.entry(feature).or_default().insert(rec.id.clone(), path);
            stats.recommendations += 1;
            stats.written += 1;
            match outcome {
                PhrOutcome::Created => stats.created += 1,
                PhrOutcome::Updated => stats.updated += 1,
                PhrOutcome::Unchanged => stats.unchanged += 1,
            }
            *stats.by_feature.entry(feature.as_str().to_string()).or_default() += 1;
        }
        stats.features =
            stats.by_feature.iter().map(|(f, n)| format!("{f} {n}")).collect::<Vec<_>>().join(", ");
        Ok(stats)
    }

    /// Every PHR path known to the batch (written, or found by an earlier write), by
    /// recommendation id.
    #[must_use]
    pub fn paths(&self) -> std::collections::HashMap<String, String> {
        self.index
            .values()
            .flat_map(|m| m.iter().map(|(id, p)| (id.clone(), p.display().to_string())))
            .collect()
    }

    /// Takes in what another batch under the same root wrote or found (a batch written on
    /// another thread, for other features).
    pub fn absorb(&mut self, other: PhrBatch) {
        for (feature, paths) in other.index {
            self.index.entry(feature).or_default().extend(paths);
        }
    }

    /// How many PHRs the batch knows.
    #[must_use]
    pub fn count(&self) -> usize {
        self.index.values().map(std::collections::HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectRef;

    fn rec() -> Recommendation {
        Recommendation {
            id: "resize-requests-limits-00000000000000aa".into(),
            code: "resize-requests-limits".into(),
            feature: crate::model::recommendation::Feature::Sizing,
            target: ObjectRef {
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: "web".into(),
                uid: None,
            },
            container: Some("app".into()),
            tier: RiskTier::Medium,
            title: "Resize Deployment/web container app".into(),
            summary: "requests cpu 500m → 200m".into(),
            evidence: vec![crate::model::recommendation::Evidence {
                source: "metric container_cpu_usage_seconds_total".into(),
                text: "p95 0.120".into(),
            }],
            patch: serde_json::json!({"spec": {"replicas": 2}}),
            rollback: serde_json::json!({"spec": {"replicas": 3}}),
        }
    }

    fn input(r: &Recommendation) -> PhrInput<'_> {
        PhrInput {
            recommendation: r,
            feature: Feature::Sizing,
            date: jiff::civil::date(2026, 11, 23),
            stage: "operational",
            pre_action: vec![PreActionRow::new("replicas", "3".into(), "Deployment spec.replicas")],
        }
    }

    #[test]
    fn path_and_front_matter() {
        let r = rec();
        assert_eq!(
            phr_relative_path(Feature::Sizing, jiff::civil::date(2026, 11, 23), &r),
            PathBuf::from(
                "history/prompts/sizing/2026-11-23-resize-requests-limits-00000000000000aa-resize-deployment-web-container-app.md"
            )
        );
        let text = render_phr(&input(&r)).unwrap();
        assert!(text.starts_with(
            "---\nid: resize-requests-limits-00000000000000aa\ntitle: Resize Deployment/web container app\nstage: operational\ndate: 2026-11-23\nfeature: sizing\nlabels: [\"sizing\", \"operational\", \"approval\"]\n---\n"
        ), "{text}");
        let heads: Vec<&str> = text.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(heads, SECTIONS.iter().map(|s| format!("## {s}")).collect::<Vec<_>>());
        assert_eq!(front_matter_id(&text), Some("resize-requests-limits-00000000000000aa"));
    }

    #[test]
    fn replace_section_keeps_other_bytes() {
        let r = rec();
        let text = render_phr(&input(&r)).unwrap();
        let out = replace_section(&text, "Architect Decision", "decision: approve\n").unwrap();
        assert_eq!(section_body(&out, "Architect Decision").unwrap(), "\ndecision: approve\n\n");
        for s in SECTIONS.iter().filter(|s| **s != "Architect Decision") {
            assert_eq!(section_body(&out, s), section_body(&text, s), "{s}");
        }
        let (a, b) = section_span(&text, "Architect Decision").unwrap();
        let (a2, b2) = section_span(&out, "Architect Decision").unwrap();
        assert_eq!(&text[..a], &out[..a2]);
        assert_eq!(&text[b..], &out[b2..]);
        // Last section, no trailing blank line.
        let out = replace_section(&text, "Rollback Plan", "x").unwrap();
        assert!(out.ends_with("## Rollback Plan\n\nx\n"), "{out}");
        assert!(matches!(replace_section(&text, "Nope", "x"), Err(PhrError::NoSection(_))));
    }

    #[test]
    fn yaml_titles_quote_when_needed() {
        assert_eq!(yaml_scalar("Resize a/b"), "Resize a/b");
        assert_eq!(yaml_scalar("Fix: this"), "\"Fix: this\"");
        assert_eq!(yaml_scalar("#x"), "\"#x\"");
        assert_eq!(slug("Resize Deployment/web -- app!"), "resize-deployment-web-app");
    }
}
