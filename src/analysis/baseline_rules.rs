//! The baseline's helpers (sibling of `baseline.rs`): entry names and lines for error
//! messages, validation of matches, requirements and URLs, and the image and glob matching
//! its recognition uses. Pure.

use super::*;
use std::collections::HashMap;

pub(super) fn entry_name(index: usize, id: Option<&str>) -> String {
    match id {
        Some(id) if !id.is_empty() => format!("components[{index}] ({id})"),
        _ => format!("components[{index}]"),
    }
}

/// Names the component whose text holds `line` (1-based): a lenient second parse reads where
/// each entry starts and its `id`, ignoring every other field.
pub(super) fn entry_at_line(text: &str, line: u64) -> Option<String> {
    #[derive(Deserialize)]
    struct Heads {
        #[serde(default)]
        components: Vec<serde_saphyr::Spanned<Head>>,
    }
    #[derive(Deserialize)]
    struct Head {
        #[serde(default)]
        id: Option<String>,
    }
    let heads: Heads = serde_saphyr::from_str(text).ok()?;
    let (index, head) = heads
        .components
        .iter()
        .enumerate()
        .rfind(|(_, h)| h.defined.line() <= line && h.defined.line() > 0)?;
    Some(entry_name(index, head.value.id.as_deref()))
}

pub(super) fn validate_match(m: &Match, bad: &mut impl FnMut(&str, String)) {
    if m.images.is_empty() && m.labels.is_empty() {
        bad("match", "needs at least one image pattern or label set".into());
    }
    for (j, p) in m.images.iter().enumerate() {
        if pattern_segments(p).is_empty() {
            bad(&format!("match.images[{j}]"), format!("`{p}` is not an image repository pattern"));
        }
    }
    for (j, set) in m.labels.iter().enumerate() {
        if set.is_empty() {
            bad(&format!("match.labels[{j}]"), "an empty label set would match everything".into());
        }
    }
}

pub(super) fn validate_requirement(r: &Requirement, at: &str, bad: &mut impl FnMut(&str, String)) {
    if r.why.trim().is_empty() {
        bad(&format!("{at}.why"), "say why the function needs it".into());
    }
    check_url(&r.source, &format!("{at}.source"), bad);
    let rbac_fields = !r.verbs.is_empty() || !r.resources.is_empty() || r.scope.is_some();
    let mut only = |capability: bool, path: bool, port: bool, rbac: bool| {
        for (set, allowed, field) in [
            (r.capability.is_some(), capability, "capability"),
            (r.path.is_some(), path, "path"),
            (r.port.is_some(), port, "port"),
            (rbac_fields, rbac, "verbs"),
        ] {
            if set && !allowed {
                bad(&format!("{at}.{field}"), format!("does not apply to `need: {}`", r.need.as_str()));
            }
        }
    };
    match r.need {
        Need::Capability => {
            only(true, false, false, false);
            match r.capability.as_deref() {
                None => bad(&format!("{at}.capability"), "name the capability".into()),
                Some(c) => {
                    let n = normalise_capability(c);
                    if n.is_empty() || !n.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_') {
                        bad(&format!("{at}.capability"), format!("`{c}` is not a capability name"));
                    }
                }
            }
        }
        Need::HostPath => {
            only(false, true, false, false);
            if !r.path.as_deref().is_some_and(|p| p.starts_with('/')) {
                bad(&format!("{at}.path"), "give the absolute host path".into());
            }
        }
        Need::HostPort => only(false, false, true, false),
        Need::Rbac => {
            only(false, false, false, true);
            if r.verbs.is_empty() {
                bad(&format!("{at}.verbs"), "list the verbs".into());
            }
            if r.resources.is_empty() {
                bad(&format!("{at}.resources"), "list the resources".into());
            }
            if r.scope.is_none() {
                bad(&format!("{at}.scope"), "say `cluster` or `namespace`".into());
            }
        }
        _ => only(false, false, false, false),
    }
}

pub(super) fn check_url(url: &str, field: &str, bad: &mut impl FnMut(&str, String)) {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    if !rest.is_some_and(|r| r.contains('.') && !r.contains(char::is_whitespace)) {
        bad(field, format!("`{url}` is not a URL"));
    }
}

pub(super) fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

pub(super) fn normalise_capability(cap: &str) -> String {
    let up = cap.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_string).unwrap_or(up)
}

pub(super) fn normalise_path(path: &str) -> String {
    let trimmed = path.trim().trim_end_matches('/');
    if trimmed.is_empty() { "/".to_string() } else { trimmed.to_string() }
}

/// Strips tag and digest, lowercases, drops the registry host; an image with neither registry
/// nor namespace (or on Docker Hub with one segment) gets `library/`.
pub(super) fn image_path(image: &str) -> String {
    let lower = image.trim().to_ascii_lowercase();
    let no_digest = lower.split('@').next().unwrap_or("");
    let last_slash = no_digest.rfind('/');
    let repo = match no_digest.rfind(':') {
        Some(colon) if last_slash.is_none_or(|s| colon > s) => &no_digest[..colon],
        _ => no_digest,
    };
    let mut segments: Vec<&str> = repo.split('/').filter(|s| !s.is_empty()).collect();
    let registry =
        if segments.len() > 1 && is_registry(segments[0]) { Some(segments.remove(0)) } else { None };
    if segments.len() == 1
        && registry.is_none_or(|r| matches!(r, "docker.io" | "index.docker.io" | "registry-1.docker.io"))
    {
        segments.insert(0, "library");
    }
    segments.join("/")
}

pub(super) fn is_registry(segment: &str) -> bool {
    segment.contains('.') || segment.contains(':') || segment == "localhost"
}

/// A pattern's path segments: tag, digest and registry host dropped, leading `*` segments
/// dropped (the match is anchored at the end anyway).
pub(super) fn pattern_segments(pattern: &str) -> Vec<String> {
    let lower = pattern.trim().to_ascii_lowercase();
    segments_of(&lower).into_iter().map(str::to_string).collect()
}

/// [`pattern_segments`] of an already lower-cased, trimmed pattern, borrowed from it.
fn segments_of(lower: &str) -> Vec<&str> {
    let no_digest = lower.split('@').next().unwrap_or("");
    let last_slash = no_digest.rfind('/');
    let repo = match no_digest.rfind(':') {
        Some(colon) if last_slash.is_none_or(|s| colon > s) => &no_digest[..colon],
        _ => no_digest,
    };
    let mut segments: Vec<&str> = repo.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() > 1 && is_registry(segments[0]) {
        segments.remove(0);
    }
    let first = segments.iter().position(|s| *s != "*" && *s != "**").unwrap_or(segments.len());
    segments.drain(..first);
    segments
}

/// Whether an image path (see [`image_path`]) matches a pattern, anchored at the end: one
/// pattern at a time, the reference [`ImageIndex`] is tested against (recognition uses the
/// index).
#[cfg(test)]
pub(super) fn image_matches(pattern: &str, path: &str) -> bool {
    let lower = pattern.trim().to_ascii_lowercase();
    let want = segments_of(&lower);
    let have = path.split('/').count();
    !want.is_empty() && have >= want.len() && want.iter().rev().zip(path.rsplit('/')).all(|(p, s)| glob(p, s))
}

/// Every component's image patterns, split once: the patterns whose last segment is a plain
/// word are filed under it, so an image is compared only with the patterns that end like it
/// (a handful) instead of with all of them (hundreds), for every workload recognised.
#[derive(Debug, Clone, Default)]
pub(super) struct ImageIndex {
    /// Pattern segments (lower case, as [`segments_of`] gives them) with their component's
    /// index, by the pattern's last segment.
    by_last: HashMap<String, Vec<(usize, Vec<String>)>>,
    /// Patterns whose last segment holds `*` or `?`.
    wild: Vec<(usize, Vec<String>)>,
    /// How many patterns the index was built from, to notice components changed after.
    patterns: usize,
}

impl ImageIndex {
    pub(super) fn build(components: &[Component]) -> ImageIndex {
        let mut index = ImageIndex { patterns: pattern_count(components), ..ImageIndex::default() };
        for (ci, c) in components.iter().enumerate() {
            for p in &c.matcher.images {
                let lower = p.trim().to_ascii_lowercase();
                let segs: Vec<String> = segments_of(&lower).into_iter().map(str::to_string).collect();
                let Some(last) = segs.last() else { continue }; // matches nothing
                if last.contains(['*', '?']) {
                    index.wild.push((ci, segs));
                } else {
                    index.by_last.entry(last.clone()).or_default().push((ci, segs));
                }
            }
        }
        index
    }

    /// For each of `components` components, the index of the first of `paths` (image paths,
    /// see [`image_path`]) that one of its patterns matches; the same answer as trying
    /// `image_matches` with every pattern.
    pub(super) fn first_matches(&self, paths: &[String], components: usize) -> Vec<Option<usize>> {
        let mut first = vec![None; components];
        for (i, path) in paths.iter().enumerate() {
            let last = path.rsplit('/').next().unwrap_or("");
            let have = path.split('/').count();
            let literal = self.by_last.get(last).into_iter().flatten();
            for (ci, segs) in literal.chain(&self.wild) {
                if first[*ci].is_none()
                    && have >= segs.len()
                    && segs.iter().rev().zip(path.rsplit('/')).all(|(p, s)| glob(p, s))
                {
                    first[*ci] = Some(i);
                }
            }
        }
        first
    }
}

fn pattern_count(components: &[Component]) -> usize {
    components.iter().map(|c| c.matcher.images.len()).sum()
}

/// The lazily built [`ImageIndex`] a [`Baseline`] carries. Cloning gives an empty cell and any
/// two cells are equal, so the cache never shows in a baseline's value.
#[derive(Default)]
pub(super) struct ImageIndexCell(OnceLock<ImageIndex>);

impl ImageIndexCell {
    /// The index of `components`, built on first use. A baseline is not edited after it is
    /// used (overrides make a new one, [`Baseline::merged`]); should patterns be added to or
    /// removed from one in place all the same, each call builds a fresh index instead of
    /// using a stale one.
    pub(super) fn get(&self, components: &[Component]) -> std::borrow::Cow<'_, ImageIndex> {
        let index = self.0.get_or_init(|| ImageIndex::build(components));
        if index.patterns == pattern_count(components) {
            std::borrow::Cow::Borrowed(index)
        } else {
            std::borrow::Cow::Owned(ImageIndex::build(components))
        }
    }
}

impl Clone for ImageIndexCell {
    fn clone(&self) -> Self {
        ImageIndexCell::default()
    }
}

impl PartialEq for ImageIndexCell {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ImageIndexCell {}

impl fmt::Debug for ImageIndexCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImageIndexCell")
    }
}

/// `*` (any run) and `?` (one character) glob.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        return glob_units(pattern.as_bytes(), text.as_bytes());
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    glob_units(&p, &t)
}

/// [`glob`] over bytes (ASCII) or characters.
fn glob_units<C: Copy + PartialEq + From<u8>>(p: &[C], t: &[C]) -> bool {
    let (any, one) = (C::from(b'*'), C::from(b'?'));
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == one || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == any {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == any)
}
