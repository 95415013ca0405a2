//! The remote-read request: queries (time range, label matchers, optional hints) encoded as a
//! `prometheus.ReadRequest` asking for `STREAMED_XOR_CHUNKS`, snappy block-compressed, plus the
//! path and headers to POST it with. Pure; no I/O.

use super::error::RemoteReadError;
use super::proto::Writer;

/// Path of the remote-read endpoint, relative to the Prometheus base URL.
pub const READ_PATH: &str = "/api/v1/read";

/// Headers of the POST request.
pub const REQUEST_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Read-Version", "0.1.0"),
];

/// `Content-Type` of a streamed-chunks response (its media type; Prometheus adds
/// `; proto=prometheus.ChunkedReadResponse`).
pub const STREAMED_MEDIA_TYPE: &str = "application/x-streamed-protobuf";

/// `ReadRequest.ResponseType.STREAMED_XOR_CHUNKS`.
const STREAMED_XOR_CHUNKS: u64 = 1;

/// How a [`Matcher`] compares (`prometheus.LabelMatcher.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`
    Eq = 0,
    /// `!=`
    Neq = 1,
    /// `=~` (the server anchors the regular expression)
    Re = 2,
    /// `!~`
    Nre = 3,
}

/// One label matcher, as in a PromQL selector: `{name="value"}`, `!=`, `=~`, `!~`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Matcher {
    pub kind: MatchType,
    pub name: String,
    pub value: String,
}

impl Matcher {
    pub fn new(kind: MatchType, name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher { kind, name: name.into(), value: value.into() }
    }
    /// `name="value"`
    pub fn eq(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(MatchType::Eq, name, value)
    }
    /// `name!="value"`
    pub fn neq(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(MatchType::Neq, name, value)
    }
    /// `name=~"regex"`
    pub fn re(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(MatchType::Re, name, value)
    }
    /// `name!~"regex"`
    pub fn nre(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(MatchType::Nre, name, value)
    }
    /// The metric name matcher `__name__="name"`.
    pub fn name(name: impl Into<String>) -> Self {
        Self::eq("__name__", name)
    }
}

/// `prometheus.ReadHints`: what the caller will do with the data. Prometheus' own storage ignores
/// most of it; other servers may use it to downsample or push work down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadHints {
    pub step_ms: i64,
    pub func: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub grouping: Vec<String>,
    pub by: bool,
    pub range_ms: i64,
}

/// One query: every series matching all `matchers`, raw samples in `[start_ms, end_ms]`
/// (inclusive, milliseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub start_ms: i64,
    pub end_ms: i64,
    pub matchers: Vec<Matcher>,
    pub hints: Option<ReadHints>,
}

impl Query {
    pub fn new(start_ms: i64, end_ms: i64, matchers: Vec<Matcher>) -> Self {
        Query { start_ms, end_ms, matchers, hints: None }
    }
}

/// The `prometheus.ReadRequest` protobuf for `queries`, accepting only streamed XOR chunks.
pub fn encode_read_request(queries: &[Query]) -> Vec<u8> {
    let mut w = Writer::default();
    for q in queries {
        w.message(1, |qw| {
            qw.varint(1, q.start_ms as u64);
            qw.varint(2, q.end_ms as u64);
            for m in &q.matchers {
                qw.message(3, |mw| {
                    mw.varint(1, m.kind as u64);
                    mw.bytes(2, m.name.as_bytes());
                    mw.bytes(3, m.value.as_bytes());
                });
            }
            if let Some(h) = &q.hints {
                qw.message(4, |hw| {
                    hw.varint(1, h.step_ms as u64);
                    hw.bytes(2, h.func.as_bytes());
                    hw.varint(3, h.start_ms as u64);
                    hw.varint(4, h.end_ms as u64);
                    for g in &h.grouping {
                        hw.bytes_always(5, g.as_bytes());
                    }
                    hw.varint(6, u64::from(h.by));
                    hw.varint(7, h.range_ms as u64);
                });
            }
        });
    }
    w.packed_varints(2, &[STREAMED_XOR_CHUNKS]);
    w.buf
}

/// The request body to POST: [`encode_read_request`] snappy block-compressed.
///
/// # Errors
/// Only if the request is too large for snappy (over 4 GiB).
pub fn read_request_body(queries: &[Query]) -> Result<Vec<u8>, RemoteReadError> {
    Ok(snap::raw::Encoder::new().compress_vec(&encode_read_request(queries))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes_by_hand() {
        // Query{start 1000, end 2000, matchers [__name__="up", job!~"a.*"]}
        let q = Query::new(1000, 2000, vec![Matcher::name("up"), Matcher::nre("job", "a.*")]);
        let got = encode_read_request(&[q]);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0x0a, 36,                       // queries (field 1, LEN), 36 bytes
              0x08, 0xe8, 0x07,             // start_timestamp_ms = 1000
              0x10, 0xd0, 0x0f,             // end_timestamp_ms = 2000
              0x1a, 14,                     // matchers[0], 14 bytes
                0x12, 8, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_',   // name (type EQ = 0 omitted)
                0x1a, 2, b'u', b'p',        // value
              0x1a, 12,                     // matchers[1], 12 bytes
                0x08, 3,                    // type NRE
                0x12, 3, b'j', b'o', b'b',
                0x1a, 3, b'a', b'.', b'*',
            0x12, 1, 0x01,                  // accepted_response_types (packed) = [STREAMED_XOR_CHUNKS]
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn hints_and_negative_times() {
        let q = Query {
            start_ms: -5,
            end_ms: 0,
            matchers: vec![Matcher::re("a", "b")],
            hints: Some(ReadHints {
                step_ms: 60_000,
                func: "rate".into(),
                grouping: vec!["pod".into(), String::new()],
                by: true,
                ..ReadHints::default()
            }),
        };
        let got = encode_read_request(&[q]);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0x0a, 42,
              0x08, 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,   // start = -5
              0x1a, 8, 0x08, 2, 0x12, 1, b'a', 0x1a, 1, b'b',
              0x22, 19,                     // hints
                0x08, 0xe0, 0xd4, 0x03,     // step_ms = 60000
                0x12, 4, b'r', b'a', b't', b'e',
                0x2a, 3, b'p', b'o', b'd',  // grouping
                0x2a, 0,                    // an empty grouping entry is still an entry
                0x30, 1,                    // by = true
            0x12, 1, 0x01,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn body_is_snappy_of_the_protobuf() {
        let q = [Query::new(1, 2, vec![Matcher::name("x")])];
        let body = read_request_body(&q).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        assert_eq!(raw, encode_read_request(&q));
    }
}
