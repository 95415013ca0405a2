//! The network side of remote read (this module does I/O; the rest of `remote_read` does not):
//! POSTs a request to `<base>/api/v1/read` with reqwest and feeds the streamed body, piece by
//! piece as it arrives, to a [`ResponseDecoder`]. Also tells a server that does not speak
//! streamed remote read (VictoriaMetrics, Thanos Query, a proxy) from one that failed, so the
//! caller can fall back to the JSON API.

use super::error::RemoteReadError;
use super::request::{Matcher, Query, READ_PATH, REQUEST_HEADERS, STREAMED_MEDIA_TYPE, read_request_body};
use super::series::{DecodeOptions, DecodeStats, ResponseDecoder, Series};

/// What an answer's status and `Content-Type` say, before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A streamed-chunks body follows.
    Streamed,
    /// The server has no streamed remote read: fall back to the JSON API.
    Unsupported,
    /// The server speaks remote read but failed (5xx, auth, rate limit...).
    Failed,
}

/// Classifies an answer to a remote-read POST.
///
/// Unsupported: a 2xx that is not `application/x-streamed-protobuf` for
/// `prometheus.ChunkedReadResponse` (an old server answering with the `SAMPLES` type, an HTML
/// page), 400/404/405/406/415/501 (no such route, or a request it cannot parse), or any 4xx
/// with a JSON body (VictoriaMetrics, Thanos Query). Everything else that is not 2xx is a
/// failure.
pub fn classify(status: u16, content_type: &str) -> Answer {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let proto_ok = parts
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("proto"))
        .all(|(_, v)| v.trim().trim_matches('"') == "prometheus.ChunkedReadResponse");
    match status {
        200..=299 if media == STREAMED_MEDIA_TYPE && proto_ok => Answer::Streamed,
        200..=299 | 400 | 404 | 405 | 406 | 415 | 501 => Answer::Unsupported,
        400..=499 if media == "application/json" => Answer::Unsupported,
        _ => Answer::Failed,
    }
}

/// The start of an unwanted body, for the error message; never reads more than 1 KiB.
async fn preview(mut resp: reqwest::Response) -> String {
    let mut out = Vec::new();
    while out.len() < 1024 {
        match resp.chunk().await {
            Ok(Some(c)) => out.extend_from_slice(&c),
            _ => break,
        }
    }
    out.truncate(1024);
    String::from_utf8_lossy(&out).trim().to_owned()
}

/// Reads raw samples of `queries` by remote read, handing each series to `on_series` as it is
/// complete; samples are clipped to their query's range. Only one series is held in memory.
///
/// # Errors
/// [`RemoteReadError::Unsupported`] (see [`RemoteReadError::is_unsupported`]) when the server
/// does not offer streamed remote read; transport, status, framing, protobuf and chunk errors
/// otherwise.
pub async fn fetch_raw<F>(
    client: &reqwest::Client,
    base_url: &str,
    queries: &[Query],
    on_series: F,
) -> Result<DecodeStats, RemoteReadError>
where
    F: FnMut(Series<'_>) -> Result<(), RemoteReadError>,
{
    fetch_raw_with(client, base_url, queries, DecodeOptions::for_queries(queries), on_series).await
}

/// [`fetch_raw`] with explicit limits and clipping.
///
/// # Errors
/// As [`fetch_raw`].
pub async fn fetch_raw_with<F>(
    client: &reqwest::Client,
    base_url: &str,
    queries: &[Query],
    opts: DecodeOptions,
    mut on_series: F,
) -> Result<DecodeStats, RemoteReadError>
where
    F: FnMut(Series<'_>) -> Result<(), RemoteReadError>,
{
    let url = format!("{}{READ_PATH}", base_url.trim_end_matches('/'));
    let http = |source| RemoteReadError::Http { url: url.clone(), source };
    let mut req = client.post(&url).body(read_request_body(queries)?);
    for (name, value) in REQUEST_HEADERS {
        req = req.header(name, value);
    }
    let mut resp = req.send().await.map_err(http)?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match classify(status, &content_type) {
        Answer::Streamed => {}
        Answer::Unsupported => {
            let body = preview(resp).await;
            return Err(RemoteReadError::Unsupported { url, status, content_type, body });
        }
        Answer::Failed => {
            let body = preview(resp).await;
            return Err(RemoteReadError::Status { url, status, body });
        }
    }
    let mut decoder = ResponseDecoder::new(opts);
    while let Some(piece) = resp.chunk().await.map_err(http)? {
        decoder.push(&piece, &mut on_series)?;
    }
    decoder.finish(&mut on_series)
}

/// Whether the server at `base_url` answers streamed remote read: `Ok(false)` means use the
/// JSON API. Sends one query for a metric that does not exist over the first millisecond of
/// 1970.
///
/// # Errors
/// Transport errors and failures that say nothing about support (5xx, 401, 403...).
pub async fn probe(client: &reqwest::Client, base_url: &str) -> Result<bool, RemoteReadError> {
    let q = [Query::new(0, 1, vec![Matcher::name("aiops_remote_read_probe")])];
    match fetch_raw(client, base_url, &q, |_| Ok(())).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_unsupported() => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::{Answer, classify};

    #[test]
    fn classifies_answers() {
        let streamed = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
        assert_eq!(classify(200, streamed), Answer::Streamed);
        assert_eq!(classify(200, "application/x-streamed-protobuf"), Answer::Streamed);
        assert_eq!(
            classify(200, "Application/X-Streamed-Protobuf;proto=\"prometheus.ChunkedReadResponse\""),
            Answer::Streamed
        );
        assert_eq!(
            classify(200, "application/x-streamed-protobuf; proto=other.Message"),
            Answer::Unsupported
        );
        // An old Prometheus answers the SAMPLES type whatever was asked.
        assert_eq!(classify(200, "application/x-protobuf"), Answer::Unsupported);
        assert_eq!(classify(200, "text/html"), Answer::Unsupported);
        assert_eq!(classify(404, "text/plain; charset=utf-8"), Answer::Unsupported);
        assert_eq!(classify(400, "text/plain"), Answer::Unsupported);
        assert_eq!(classify(415, ""), Answer::Unsupported);
        assert_eq!(classify(422, "application/json"), Answer::Unsupported);
        assert_eq!(classify(500, "text/plain"), Answer::Failed);
        assert_eq!(classify(503, "application/json"), Answer::Failed);
        assert_eq!(classify(401, "text/plain"), Answer::Failed);
        assert_eq!(classify(429, ""), Answer::Failed);
    }
}
