//! A plain PromQL vector selector (`metric{label="v",other!~"re"}`) read into remote-read
//! label matchers, so the remote-read path asks for exactly the series the query file's
//! JSON query would return. Anything else (functions, operators, ranges) is refused: those
//! queries go through the JSON API. Pure; no I/O.

use super::remote_read::{MatchType, Matcher};

/// Parses `text` as one vector selector.
///
/// # Errors
/// A sentence saying where the text stops being a plain selector.
pub fn selector_matchers(text: &str) -> Result<Vec<Matcher>, String> {
    let s = text.trim();
    let name_end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(s.len());
    let (name, rest) = s.split_at(name_end);
    let mut out = Vec::new();
    if !name.is_empty() {
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("`{s}` is not a vector selector"));
        }
        out.push(Matcher::name(name));
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return if out.is_empty() { Err("empty selector".into()) } else { Ok(out) };
    }
    let Some(body) = rest.strip_prefix('{') else {
        return Err(format!("`{s}` is not a plain vector selector (at `{rest}`)"));
    };
    let mut chars = body.char_indices().peekable();
    loop {
        // Skip blanks and commas between matchers.
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() || c == ',' {
                chars.next();
            } else {
                break;
            }
        }
        let Some(&(i, c)) = chars.peek() else {
            return Err(format!("`{s}`: unclosed `{{`"));
        };
        if c == '}' {
            let tail = body[i + 1..].trim();
            if !tail.is_empty() {
                return Err(format!("`{s}` is not a plain vector selector (at `{tail}`)"));
            }
            break;
        }
        // Label name.
        let mut label = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                label.push(c);
                chars.next();
            } else {
                break;
            }
        }
        while chars.peek().is_some_and(|&(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let mut op = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if matches!(c, '=' | '!' | '~') {
                op.push(c);
                chars.next();
            } else {
                break;
            }
        }
        let kind = match op.as_str() {
            "=" => MatchType::Eq,
            "!=" => MatchType::Neq,
            "=~" => MatchType::Re,
            "!~" => MatchType::Nre,
            _ => return Err(format!("`{s}`: expected a matcher operator after `{label}`")),
        };
        if label.is_empty() {
            return Err(format!("`{s}`: a matcher without a label name"));
        }
        while chars.peek().is_some_and(|&(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let quote = match chars.next() {
            Some((_, q @ ('"' | '\'' | '`'))) => q,
            _ => return Err(format!("`{s}`: expected a quoted value for `{label}`")),
        };
        let mut value = String::new();
        loop {
            match chars.next() {
                None => return Err(format!("`{s}`: unclosed string")),
                Some((_, c)) if c == quote => break,
                Some((_, '\\')) if quote != '`' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("`{s}`: unclosed string")),
                },
                Some((_, c)) => value.push(c),
            }
        }
        if label == "__name__" && kind == MatchType::Eq && !out.is_empty() {
            return Err(format!("`{s}`: the metric name is given twice"));
        }
        out.push(Matcher::new(kind, label, value));
    }
    if out.is_empty() {
        return Err(format!("`{s}`: a selector needs at least one matcher"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_selectors_become_matchers() {
        let m = selector_matchers(r#"container_cpu_usage_seconds_total{container!="",container!="POD",namespace="we\"ird\\ns",pod=~"[a-f].*"}"#).unwrap();
        assert_eq!(
            m,
            vec![
                Matcher::name("container_cpu_usage_seconds_total"),
                Matcher::neq("container", ""),
                Matcher::neq("container", "POD"),
                Matcher::eq("namespace", "we\"ird\\ns"),
                Matcher::re("pod", "[a-f].*"),
            ]
        );
        assert_eq!(selector_matchers(" up ").unwrap(), vec![Matcher::name("up")]);
        assert_eq!(selector_matchers("{__name__=\"up\", job !~ 'x'}").unwrap().len(), 2);
    }

    #[test]
    fn anything_else_is_refused() {
        for q in [
            "rate(x[5m])",
            "x{a=\"b\"}[5m]",
            "x + 1",
            "x{a=\"b\"",
            "x{a}",
            "x{a=b}",
            "sum by (a) (x)",
            "1",
            "{}",
            "",
        ] {
            assert!(selector_matchers(q).is_err(), "{q}");
        }
    }
}
