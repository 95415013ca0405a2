//! Manifest files for `aiops audit -f`: reads files and directories (YAML, multi-document,
//! JSON, `List`s, `kubectl`/Helm-rendered output; `-` is standard input) into a snapshot,
//! keeping where each object came from so a finding's field can be pointed at by file and
//! line (SARIF). Also reads trivy-operator `VulnerabilityReport`s, which the snapshot does
//! not model, from manifests and snapshot directories. Does file I/O.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::Value;

use super::error::{CollectError, Result};
use crate::model::manifest::{add_document, parse_documents};
use crate::model::snapshot::{ClusterSnapshot, SourceKind};
use crate::model::vulns::VulnerabilityReport;

/// Where a finding points: a file and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceLocation {
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Clone)]
struct DocLoc {
    file: usize,
    /// Byte range of the document in the file's text.
    start: usize,
    end: usize,
    /// 1-based line of `start`.
    line: usize,
    json: bool,
    /// Path of the object inside the document (`items[3]` for a List item).
    prefix: Vec<Seg>,
}

/// Where each object of a manifest set was read.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<(PathBuf, String)>,
    objects: HashMap<(String, String, String), DocLoc>,
}

/// What `-f` read.
#[derive(Debug)]
pub struct ManifestSet {
    pub snapshot: ClusterSnapshot,
    pub sources: SourceMap,
    pub vulnerability_reports: Vec<VulnerabilityReport>,
    pub files: usize,
    pub documents: usize,
}

/// Reads a text file.
///
/// # Errors
/// The file cannot be read or is not UTF-8.
pub fn read_text(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .take(super::files::MAX_OBJECT_FILE_BYTES)
            .read_to_string(&mut s)
            .map_err(|source| CollectError::Io { path: path.into(), source })?;
        return Ok(s);
    }
    super::files::read_named_text(path, super::files::MAX_OBJECT_FILE_BYTES)
}

fn is_manifest(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "json" | "yaml" | "yml"))
}

/// The files `paths` name: files as given (any extension), directories walked for
/// `*.yaml`, `*.yml`, `*.json`, sorted.
///
/// # Errors
/// A path that does not exist or a directory that cannot be read.
pub fn list_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p == Path::new("-") || p.is_file() {
            files.push(p.clone());
        } else if p.is_dir() {
            files.extend(super::files::walk_inside(p, p, &is_manifest)?);
        } else {
            return Err(CollectError::Invalid {
                path: p.clone(),
                reason: "no such file or directory".into(),
            });
        }
    }
    Ok(files)
}

fn shift_syntax(e: CollectError, line_offset: usize) -> CollectError {
    match e {
        CollectError::Syntax { path, position, reason } => {
            let position = match position.split_once(':') {
                Some((l, c)) => match l.parse::<usize>() {
                    Ok(l) => format!("{}:{c}", l + line_offset),
                    Err(_) => position,
                },
                None => position,
            };
            CollectError::Syntax { path, position, reason }
        }
        other => other,
    }
}

/// Byte ranges (start, end, 1-based first line) of the YAML documents of a text.
fn yaml_documents(text: &str) -> Vec<(usize, usize, usize)> {
    let mut docs = Vec::new();
    let (mut start, mut start_line) = (0, 1);
    let mut pos = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let t = line.trim_end();
        let marker = t == "---" || t.starts_with("--- ") || t == "...";
        if marker {
            docs.push((start, pos, start_line));
            start = pos + line.len();
            start_line = i + 2;
        }
        pos += line.len();
    }
    docs.push((start, text.len(), start_line));
    docs
}

fn meta_key(v: &Value, kind_fallback: Option<&str>) -> Option<(String, String, String)> {
    let kind = v.get("kind").and_then(Value::as_str).or(kind_fallback)?;
    let m = v.get("metadata")?;
    let name = m.get("name").and_then(Value::as_str)?;
    let ns = m.get("namespace").and_then(Value::as_str).unwrap_or("");
    Some((kind.to_string(), ns.to_string(), name.to_string()))
}

fn is_vuln_report(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("VulnerabilityReport")
        && v.get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("aquasecurity.github.io/"))
}

fn vuln_report(path: &Path, doc_index: usize, v: Value) -> Result<VulnerabilityReport> {
    serde_path_to_error::deserialize::<_, VulnerabilityReport>(v).map_err(|e| CollectError::Decode {
        path: path.to_path_buf(),
        item: format!("document {doc_index} (VulnerabilityReport)"),
        field: e.path().to_string(),
        reason: e.into_inner().to_string(),
    })
}

/// One file read and parsed: its text and its documents as `(start, end, line, value)`.
struct ParsedFile {
    text: String,
    json: bool,
    docs: Vec<(usize, usize, usize, Value)>,
}

/// Reads and parses one file (syntax errors with file:line).
fn parse_file(path: &Path) -> Result<ParsedFile> {
    let text = read_text(path)?;
    let json = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let mut docs: Vec<(usize, usize, usize, Value)> = Vec::new();
    if json {
        let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
        let mut prev = 0;
        let mut line = 1;
        while let Some(item) = stream.next() {
            let v = item.map_err(|e| CollectError::Syntax {
                path: path.to_path_buf(),
                position: format!("{}:{}", e.line(), e.column()),
                reason: e.to_string(),
            })?;
            let end = stream.byte_offset();
            let start = prev + text[prev..end].len() - text[prev..end].trim_start().len();
            line += text[prev..start].matches('\n').count();
            docs.push((start, end, line, v));
            line += text[start..end].matches('\n').count();
            prev = end;
        }
    } else {
        for (start, end, line) in yaml_documents(&text) {
            let chunk = &text[start..end];
            if chunk.trim().is_empty() {
                continue;
            }
            let parsed = parse_documents(path, chunk).map_err(|e| shift_syntax(e.into(), line - 1))?;
            for v in parsed {
                docs.push((start, end, line, v));
            }
        }
    }
    Ok(ParsedFile { text, json, docs })
}

/// [`parse_file`] of every file, on all cores; the results in file order.
fn parse_files(files: &[PathBuf]) -> Vec<Result<ParsedFile>> {
    let threads =
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).min(files.len());
    if threads <= 1 || files.iter().any(|f| f == Path::new("-")) {
        return files.iter().map(|f| parse_file(f)).collect();
    }
    let per = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(per)
            .map(|chunk| scope.spawn(move || chunk.iter().map(|f| parse_file(f)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .zip(files.chunks(per))
            .flat_map(|(h, chunk)| {
                h.join().unwrap_or_else(|_| {
                    chunk
                        .iter()
                        .map(|f| {
                            Err(CollectError::Invalid {
                                path: f.clone(),
                                reason: "reader thread panicked".into(),
                            })
                        })
                        .collect()
                })
            })
            .collect()
    })
}

/// Reads manifests into a snapshot stamped `as_of`, with their source locations. Files are
/// read and parsed on all cores; objects are decoded in file order.
///
/// # Errors
/// Unreadable files, syntax errors (with file:line) and objects whose fields do not decode
/// (with file, document and field path).
pub fn load_manifests(paths: &[PathBuf], as_of: Timestamp) -> Result<ManifestSet> {
    let files = list_files(paths)?;
    let mut snap = ClusterSnapshot::new(SourceKind::Snapshot, as_of);
    let mut sources = SourceMap::default();
    let mut reports = Vec::new();
    let mut documents = 0;
    for (path, parsed) in files.iter().zip(parse_files(&files)) {
        let ParsedFile { text, json, docs } = parsed?;
        let file = sources.files.len();
        for (doc_in_file, (start, end, line, mut v)) in docs.into_iter().enumerate() {
            documents += 1;
            let doc_index = doc_in_file + 1;
            let loc = |prefix: Vec<Seg>| DocLoc { file, start, end, line, json, prefix };
            if is_vuln_report(&v) {
                reports.push(vuln_report(path, doc_index, v)?);
                continue;
            }
            let list_kind =
                v.get("kind").and_then(Value::as_str).filter(|k| k.ends_with("List")).map(str::to_string);
            if let (Some(lk), Some(items)) = (list_kind, v.get_mut("items").and_then(Value::as_array_mut)) {
                let item_kind = lk.strip_suffix("List").filter(|k| !k.is_empty()).map(str::to_string);
                for (i, item) in items.iter().enumerate() {
                    if let Some(k) = meta_key(item, item_kind.as_deref()) {
                        sources
                            .objects
                            .entry(k)
                            .or_insert_with(|| loc(vec![Seg::Key("items".into()), Seg::Index(i)]));
                    }
                }
                let (vr, rest): (Vec<Value>, Vec<Value>) =
                    std::mem::take(items).into_iter().partition(is_vuln_report);
                *items = rest;
                for r in vr {
                    reports.push(vuln_report(path, doc_index, r)?);
                }
            } else if let Some(k) = meta_key(&v, None) {
                sources.objects.entry(k).or_insert_with(|| loc(Vec::new()));
            }
            add_document(&mut snap, path, doc_index, v)?;
        }
        sources.files.push((path.clone(), text));
    }
    snap.objects_mut().sort();
    tracing::debug!(files = files.len(), documents, objects = sources.objects.len(), "Read the manifests.");
    Ok(ManifestSet { snapshot: snap, sources, vulnerability_reports: reports, files: files.len(), documents })
}

/// Reads every `VulnerabilityReport` under a snapshot directory's `objects/` (files that do
/// not mention the kind are not parsed).
///
/// # Errors
/// Unreadable or malformed files that hold reports.
pub fn read_vulnerability_reports(snapshot_dir: &Path) -> Result<Vec<VulnerabilityReport>> {
    let dir = snapshot_dir.join("objects");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let files = super::files::walk_inside(snapshot_dir, &dir, &is_manifest)?;
    let mut out = Vec::new();
    for f in files {
        let text = read_text(&f)?;
        if !text.contains("VulnerabilityReport") {
            continue;
        }
        for (i, mut v) in parse_documents(&f, &text)?.into_iter().enumerate() {
            if is_vuln_report(&v) {
                out.push(vuln_report(&f, i + 1, v)?);
            } else if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
                for item in std::mem::take(items).into_iter().filter(is_vuln_report) {
                    out.push(vuln_report(&f, i + 1, item)?);
                }
            }
        }
    }
    Ok(out)
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Splits `spec.containers[0].env[2].value` or `metadata.labels[a.b/c]` into steps.
pub fn parse_field(field: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !cur.is_empty() {
                    out.push(Seg::Key(std::mem::take(&mut cur)));
                }
            }
            '[' => {
                if !cur.is_empty() {
                    out.push(Seg::Key(std::mem::take(&mut cur)));
                }
                let mut inner = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    inner.push(d);
                }
                match inner.parse::<usize>() {
                    Ok(i) => out.push(Seg::Index(i)),
                    Err(_) => out.push(Seg::Key(inner)),
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(Seg::Key(cur));
    }
    out
}

impl SourceMap {
    /// The file and line of a field of an object: the field's own line, or the line of its
    /// deepest ancestor present in the file (a field that is not set points at its parent).
    pub fn locate(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        field: &str,
    ) -> Option<SourceLocation> {
        let loc =
            self.objects.get(&(kind.to_string(), namespace.unwrap_or("").to_string(), name.to_string()))?;
        let (path, text) = self.files.get(loc.file)?;
        let doc = text.get(loc.start..loc.end)?;
        let mut segs = loc.prefix.clone();
        segs.extend(parse_field(field));
        let line = if loc.json { json_line(doc, &segs) } else { yaml_line(doc, &segs) };
        Some(SourceLocation { file: path.clone(), line: loc.line + line })
    }

    /// Number of objects located.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// True when no object was located.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t == "---"
}

/// The 0-based line (within the document) of the deepest step of `segs` found, by YAML
/// block indentation. Flow collections (`{...}`, `[...]`) end the walk at their line.
fn yaml_line(doc: &str, segs: &[Seg]) -> usize {
    let lines: Vec<&str> = doc.lines().collect();
    let Some(first) = (0..lines.len()).find(|&i| !blank(lines[i])) else { return 0 };
    // Current node: lines lo..hi, content at column col (line lo may have "- " before col).
    let (mut lo, mut hi, mut col) = (first, lines.len(), indent(lines[first]));
    let mut found = first;
    fn content<'d>(lines: &[&'d str], l: usize, lo: usize, col: usize) -> Option<&'d str> {
        let line = lines[l];
        if l == lo || indent(line) == col { line.get(col..) } else { None }
    }
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                let mut hit = None;
                for l in lo..hi {
                    if blank(lines[l]) {
                        continue;
                    }
                    if l != lo && indent(lines[l]) < col {
                        break;
                    }
                    let Some(text) = content(&lines, l, lo, col) else { continue };
                    let key_len = if text.starts_with(k.as_str()) && text[k.len()..].starts_with(':') {
                        Some(k.len())
                    } else if (text.starts_with('"') || text.starts_with('\''))
                        && text[1..].starts_with(k.as_str())
                        && text[1 + k.len()..].get(1..2) == Some(":")
                    {
                        Some(k.len() + 2)
                    } else {
                        None
                    };
                    if let Some(n) = key_len {
                        hit = Some((l, text[n + 1..].trim()));
                        break;
                    }
                }
                let Some((l, rest)) = hit else { return found };
                found = l;
                if !rest.is_empty()
                    && !rest.starts_with('#')
                    && !rest.starts_with('|')
                    && !rest.starts_with('>')
                {
                    return found;
                }
                let Some(m) = (l + 1..hi).find(|&i| !blank(lines[i])) else { return found };
                let ci = indent(lines[m]);
                let seq_same_col = ci == col && lines[m][ci..].starts_with('-');
                if ci < col || (ci == col && !seq_same_col) {
                    return found;
                }
                let end = (m + 1..hi)
                    .find(|&i| {
                        !blank(lines[i])
                            && (indent(lines[i]) < ci
                                || (seq_same_col
                                    && indent(lines[i]) == ci
                                    && !lines[i][indent(lines[i])..].starts_with('-')))
                    })
                    .unwrap_or(hi);
                (lo, hi, col) = (m, end, ci);
            }
            Seg::Index(want) => {
                let items: Vec<usize> = (lo..hi)
                    .filter(|&l| !blank(lines[l]))
                    .filter(|&l| content(&lines, l, lo, col).is_some_and(|t| t.starts_with("- ") || t == "-"))
                    .collect();
                let Some(&t) = items.get(*want) else { return found };
                found = t;
                let end = items.get(want + 1).copied().unwrap_or(hi);
                let after = &lines[t][col + 1..];
                let pad = after.len() - after.trim_start().len();
                if after.trim().is_empty() {
                    let Some(m) = (t + 1..end).find(|&i| !blank(lines[i])) else { return found };
                    (lo, hi, col) = (m, end, indent(lines[m]));
                } else if after.trim_start().starts_with('{') || after.trim_start().starts_with('[') {
                    return found;
                } else {
                    (lo, hi, col) = (t, end, col + 1 + pad);
                }
            }
        }
    }
    found
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            j
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace() {
                j += 1;
            }
            j
        }
    }
}

/// The 0-based line (within the document) of the deepest step of `segs` found in JSON.
fn json_line(doc: &str, segs: &[Seg]) -> usize {
    let b = doc.as_bytes();
    let mut pos = skip_ws(b, 0);
    let mut found = pos;
    'segs: for seg in segs {
        match seg {
            Seg::Key(k) => {
                if b.get(pos) != Some(&b'{') {
                    break;
                }
                pos += 1;
                loop {
                    pos = skip_ws(b, pos);
                    if b.get(pos) != Some(&b'"') {
                        break 'segs;
                    }
                    let key_start = pos;
                    let key_end = skip_string(b, pos);
                    let key = doc.get(key_start + 1..key_end.saturating_sub(1)).unwrap_or("");
                    pos = skip_ws(b, key_end);
                    if b.get(pos) != Some(&b':') {
                        break 'segs;
                    }
                    pos = skip_ws(b, pos + 1);
                    if key == k {
                        found = key_start;
                        continue 'segs;
                    }
                    pos = skip_ws(b, skip_value(b, pos));
                    if b.get(pos) != Some(&b',') {
                        break 'segs;
                    }
                    pos += 1;
                }
            }
            Seg::Index(want) => {
                if b.get(pos) != Some(&b'[') {
                    break;
                }
                pos += 1;
                let mut j = 0;
                loop {
                    pos = skip_ws(b, pos);
                    if b.get(pos) == Some(&b']') || pos >= b.len() {
                        break 'segs;
                    }
                    if j == *want {
                        found = pos;
                        continue 'segs;
                    }
                    pos = skip_ws(b, skip_value(b, pos));
                    if b.get(pos) != Some(&b',') {
                        break 'segs;
                    }
                    pos += 1;
                    j += 1;
                }
            }
        }
    }
    doc[..found.min(doc.len())].matches('\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    aiops.io/ignore: host-pid
spec:
  template:
    spec:
      hostPID: true
      containers:
      - name: a
        image: nginx
      - name: b
        image: redis
        securityContext:
          privileged: true
        env:
          - name: X
            value: y
";

    #[test]
    fn yaml_fields_are_found_by_indentation() {
        let line = |f: &str| yaml_line(DOC, &parse_field(f)) + 1;
        assert_eq!(line("spec.template.spec.hostPID"), 10);
        assert_eq!(line("spec.template.spec.containers[1].securityContext.privileged"), 17);
        assert_eq!(line("spec.template.spec.containers[1].image"), 15);
        assert_eq!(line("spec.template.spec.containers[0].image"), 13);
        assert_eq!(line("spec.template.spec.containers[1].env[0].value"), 20);
        // Not set: the deepest ancestor.
        assert_eq!(line("spec.template.spec.containers[0].securityContext.runAsNonRoot"), 12);
        assert_eq!(line("metadata.annotations[aiops.io/ignore]"), 6);
        let same_col = "spec:\n  containers:\n  - name: a\n    image: x\n    securityContext:\n      privileged: true\n  volumes: []\n";
        assert_eq!(yaml_line(same_col, &parse_field("spec.containers[0].securityContext.privileged")) + 1, 6);
        assert_eq!(yaml_line(same_col, &parse_field("spec.volumes")) + 1, 7);
    }

    #[test]
    fn json_fields_are_found() {
        let doc = "{\n \"kind\": \"Pod\",\n \"spec\": {\n  \"containers\": [\n   {\"name\": \"a\"},\n   {\n    \"name\": \"b\",\n    \"image\": \"x\"\n   }\n  ]\n }\n}";
        let line = |f: &str| json_line(doc, &parse_field(f)) + 1;
        assert_eq!(line("spec.containers[1].image"), 8);
        assert_eq!(line("spec.containers[0].name"), 5);
        assert_eq!(line("spec.hostPID"), 3);
    }

    #[test]
    fn documents_and_their_lines() {
        let t = "a: 1\n---\nb: 2\n--- \nc: 3\n";
        let d = yaml_documents(t);
        assert_eq!(d.iter().map(|x| x.2).collect::<Vec<_>>(), [1, 3, 5]);
        assert_eq!(&t[d[1].0..d[1].1], "b: 2\n");
    }
}
