//! Message helpers for diagnosis: strip runtime prefixes, pull quoted names out of kubelet
//! and scheduler messages, and find the nearest existing name ("did you mean"). Pure.

/// Drops the `rpc error: code = X desc = ` prefixes runtimes and older kubelets put in
/// front of the real message (possibly several, nested).
pub fn strip_rpc(msg: &str) -> &str {
    let mut m = msg.trim();
    loop {
        let Some(i) = m.find("rpc error: code = ") else { return m };
        let rest = &m[i..];
        match rest.find(" desc = ") {
            Some(j) => m = rest[j + 8..].trim(),
            None => return m,
        }
    }
}

/// The text between the first pair of double quotes after `after` (`secret "x" not found`
/// with `after = "secret "` gives `x`).
pub fn quoted_after<'a>(msg: &'a str, after: &str) -> Option<&'a str> {
    let i = msg.find(after)? + after.len();
    let rest = &msg[i..];
    let start = rest.find('"')? + 1;
    let end = rest[start..].find('"')? + start;
    Some(&rest[start..end])
}

/// Every `"..."`-quoted string in a message, in order.
pub fn quoted(msg: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = msg;
    while let Some(s) = rest.find('"') {
        let after = &rest[s + 1..];
        let Some(e) = after.find('"') else { break };
        out.push(&after[..e]);
        rest = &after[e + 1..];
    }
    out
}

/// Edit distance (Levenshtein) between two short strings.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The existing name nearest to `wanted`, when it is close enough to be a likely typo or
/// variant: an edit distance of at most a third of the length (at least 2), or one name
/// containing the other.
pub fn did_you_mean<'a, I: IntoIterator<Item = &'a str>>(wanted: &str, existing: I) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for name in existing {
        if name == wanted {
            continue;
        }
        let d = edit_distance(wanted, name);
        let limit = (wanted.chars().count() / 3).max(2);
        let contains =
            name.len() >= 3 && wanted.len() >= 3 && (name.contains(wanted) || wanted.contains(name));
        if (d <= limit || contains) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, name));
        }
    }
    best.map(|(_, n)| n)
}

/// A list of strings as JSON (`["a", "b"]`), for commands and args in evidence; `(none)`
/// when empty.
pub fn json_list(v: &[String]) -> String {
    if v.is_empty() {
        return "(none)".to_string();
    }
    serde_json::to_string(v).unwrap_or_default()
}

/// `command ["x"] args ["y"]` of a container (`(image default)` for an unset command).
pub fn command_text(c: &k8s_openapi::api::core::v1::Container) -> String {
    let cmd = c.command.clone().unwrap_or_default();
    let args = c.args.clone().unwrap_or_default();
    format!(
        "command {} args {}",
        if cmd.is_empty() { "(image default)".to_string() } else { json_list(&cmd) },
        if args.is_empty() { "(image default)".to_string() } else { json_list(&args) }
    )
}

/// Shortens a verbatim text for a one-line summary (on a char boundary).
pub fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// The number right after `prefix` (`Insufficient cpu` counts, exit codes, ports).
pub fn number_after(msg: &str, prefix: &str) -> Option<u64> {
    let i = msg.find(prefix)? + prefix.len();
    let digits: String = msg[i..].trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_nested_rpc_prefixes() {
        assert_eq!(
            strip_rpc("rpc error: code = Unknown desc = failed to pull and unpack image \"x\": not found"),
            "failed to pull and unpack image \"x\": not found"
        );
        assert_eq!(strip_rpc("rpc error: code = NotFound desc = rpc error: code = X desc = inner"), "inner");
        assert_eq!(strip_rpc("plain"), "plain");
    }

    #[test]
    fn quotes_and_names() {
        assert_eq!(quoted_after("secret \"db-creds\" not found", "secret "), Some("db-creds"));
        assert_eq!(quoted("a \"b\" c \"d\""), vec!["b", "d"]);
        assert_eq!(did_you_mean("db-credentials", ["db-credential", "other"]), Some("db-credential"));
        assert_eq!(did_you_mean("redis-cofig", ["redis-config", "nginx"]), Some("redis-config"));
        assert_eq!(did_you_mean("abc", ["zzzzzz"]), None);
        assert_eq!(number_after("exit code 137 now", "exit code"), Some(137));
    }
}
