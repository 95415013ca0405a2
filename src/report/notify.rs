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

/// Posts the notice; any failure (connection, timeout, non-2xx status) is an `Err` with
/// a sentence naming the URL.
///
/// # Errors
/// See above.
pub async fn post_notice(url: &str, n: &Notice, timeout: Duration) -> Result<(), String> {
    let body = notice_body(n)?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))?;
    let resp = client.post(url).json(&body).send().await.map_err(|e| format!("POST {url}: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        return Err(format!("POST {url}: HTTP {status}: {text}"));
    }
    Ok(())
}
