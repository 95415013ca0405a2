//! Webhook notification: a short summary with the critical findings, posted as a
//! Slack-compatible JSON body (`{"text": ...}`). Network I/O; failures are returned for the
//! caller to report, never to abort a report.

use std::time::Duration;

use serde::Serialize;

/// What the notification says.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub cluster: String,
    pub date: String,
    /// One line per report (`health: CRITICAL ...`).
    pub headlines: Vec<String>,
    /// Critical findings, one line each (at most 20 are listed).
    pub critical: Vec<String>,
    /// Files written.
    pub files: Vec<String>,
}

/// The Slack-compatible body: `{"text": "<markdown>"}`.
///
/// # Errors
/// The template fails.
pub fn notice_body(n: &Notice) -> Result<serde_json::Value, String> {
    #[derive(Serialize)]
    struct Ctx<'a> {
        n: &'a Notice,
        shown: &'a [String],
        more: usize,
    }
    let shown = &n.critical[..n.critical.len().min(20)];
    let text =
        super::templates::render("notify.md", &Ctx { n, shown, more: n.critical.len() - shown.len() })?;
    Ok(serde_json::json!({ "text": text.trim_end() }))
}

/// An error and its causes, `outer: inner: innermost` (reqwest's own text is only "error
/// sending request"; the cause says DNS, refused or timed out), redacted.
fn causes(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    crate::redact::redact(&parts.join(": ")).into_owned()
}

/// Posts the notice; any failure (connection, timeout, non-2xx status) is an `Err` with a
/// sentence naming the webhook's host only (its path holds the webhook's secret). The body
/// passes redaction.
///
/// # Errors
/// See above.
pub async fn post_notice(url: &str, n: &Notice, timeout: Duration) -> Result<(), String> {
    let body = notice_body(n)?;
    match &body["text"] {
        serde_json::Value::String(t) => post_text(url, t, timeout).await,
        _ => post_json(url, &body, timeout).await,
    }
}

/// Posts one line of text as `{"text": ...}` (redacted), e.g. a maintenance-window
/// announcement.
///
/// # Errors
/// As [`post_notice`].
pub async fn post_text(url: &str, text: &str, timeout: Duration) -> Result<(), String> {
    post_json(url, &serde_json::json!({"text": crate::redact::redact(text)}), timeout).await
}

/// Posts a JSON body as it is (the caller redacted its words).
///
/// # Errors
/// As [`post_notice`].
pub async fn post_body(url: &str, body: &serde_json::Value, timeout: Duration) -> Result<(), String> {
    post_json(url, body, timeout).await
}

async fn post_json(url: &str, body: &serde_json::Value, timeout: Duration) -> Result<(), String> {
    let host = webhook_host(url);
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))?;
    let resp = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("posting to the webhook at {host}: {}", causes(&e.without_url())))?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        return Err(format!(
            "the webhook at {host} answered HTTP {status}: {}",
            crate::redact::redact(&text)
        ));
    }
    Ok(())
}

/// The host (and port) of a webhook URL, the only part safe to show.
#[must_use]
pub fn webhook_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() { "(no host)".into() } else { host.to_string() }
}
