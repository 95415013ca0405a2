//! The remote-read error types: every variant says which step failed (HTTP, framing, protobuf,
//! XOR chunk) and where (frame index, byte offset, field, sample). Pure data; no I/O.

/// What is wrong with one chunk's data. Carried by [`RemoteReadError::Chunk`], which adds the
/// frame, series and chunk position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// A chunk encoding other than XOR (1): native histograms, XOR2 (Prometheus 3.x opt-in) or
    /// something newer.
    #[error(
        "unknown or unsupported chunk encoding {encoding} ({}); only XOR (1) is decoded",
        encoding_name(*encoding)
    )]
    UnsupportedEncoding { encoding: u64 },
    /// Fewer than 2 bytes: not even the sample count is there.
    #[error("XOR chunk of {len} bytes is shorter than its 2-byte sample count")]
    MissingHeader { len: usize },
    /// The bit stream ends before the sample count says it should (truncated varint, value or
    /// timestamp bits).
    #[error("XOR chunk data ends inside sample {sample} of {total} (truncated varint or bits)")]
    Truncated { sample: u16, total: u16 },
    /// A varint (first timestamp or first delta) longer than 10 bytes or above 64 bits.
    #[error("XOR chunk sample {sample}: varint overflows 64 bits")]
    VarintOverflow { sample: u16 },
    /// An XOR value whose leading zeros plus significant bits do not fit in 64 bits.
    #[error("XOR chunk sample {sample}: {leading} leading zeros + {significant} significant bits exceed 64")]
    BadWidth { sample: u16, leading: u8, significant: u8 },
}

/// The name Prometheus gives a chunk encoding number (`prompb.Chunk.Encoding`).
pub fn encoding_name(encoding: u64) -> &'static str {
    match encoding {
        0 => "UNKNOWN",
        1 => "XOR",
        2 => "HISTOGRAM",
        3 => "FLOAT_HISTOGRAM",
        4 => "XOR2",
        5 => "HISTOGRAM_ST",
        6 => "FLOAT_HISTOGRAM_ST",
        _ => "not known to this decoder",
    }
}

/// What went wrong while requesting or decoding a remote-read response.
#[derive(Debug, thiserror::Error)]
pub enum RemoteReadError {
    /// The length prefix of a frame is not a valid uvarint (more than 10 bytes, or over 64 bits).
    #[error("frame {frame} at byte {offset}: malformed length prefix (varint overflows 64 bits)")]
    FrameLength { frame: u64, offset: u64 },
    /// A frame longer than the configured limit; refused before its data is buffered.
    #[error("frame {frame} at byte {offset}: {size} bytes is over the limit of {limit} bytes")]
    FrameTooLarge { frame: u64, offset: u64, size: u64, limit: usize },
    /// The CRC-32C in the frame header does not match its data.
    #[error(
        "frame {frame} at byte {offset}: bad CRC32C: header says {expected:#010x}, data has {actual:#010x}"
    )]
    BadCrc { frame: u64, offset: u64, expected: u32, actual: u32 },
    /// The body ended in the middle of a frame (length prefix, checksum or data).
    #[error("stream ends inside frame {frame} (starting at byte {offset}): only {have} bytes of it arrived")]
    TruncatedStream { frame: u64, offset: u64, have: usize },
    /// A frame's data is not a valid `prometheus.ChunkedReadResponse`.
    #[error("frame {frame}: protobuf {message} field {field} malformed: {reason}")]
    Protobuf { frame: u64, message: &'static str, field: u32, reason: &'static str },
    /// A frame names a query the request did not have.
    #[error("frame {frame}: query_index {index}, but the request had {queries} queries")]
    QueryIndex { frame: u64, index: i64, queries: usize },
    /// A chunk could not be decoded.
    #[error("frame {frame}, series {series}, chunk {chunk}: {source}")]
    Chunk {
        frame: u64,
        /// The series' labels, `{a="1", b="2"}`.
        series: String,
        /// Position of the chunk in its frame's series.
        chunk: usize,
        #[source]
        source: ChunkError,
    },
    /// One series holds more samples than the configured limit.
    #[error("series {series}: more than {limit} samples")]
    SeriesTooLarge { series: String, limit: usize },
    /// Snappy compression of the request failed.
    #[error("snappy-compressing the request: {0}")]
    Snappy(#[from] snap::Error),
    /// The request could not be sent or the body could not be read.
    #[error("remote read {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server does not speak remote read with streamed XOR chunks (no such endpoint, a JSON
    /// error, another response type...). The caller should fall back to the JSON query API.
    #[error(
        "remote read {url}: not supported by this server (HTTP {status}, Content-Type {content_type:?}): {body}"
    )]
    Unsupported { url: String, status: u16, content_type: String, body: String },
    /// The server speaks remote read but answered with an error (5xx, 401/403, 429...).
    #[error("remote read {url}: HTTP {status}: {body}")]
    Status { url: String, status: u16, body: String },
    /// The series callback returned an error; decoding stopped there.
    #[error("series callback: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl RemoteReadError {
    /// Wraps an error of the series callback.
    pub fn sink(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        RemoteReadError::Sink(e.into())
    }

    /// True when the server does not offer streamed remote read and the JSON API should be
    /// used instead.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, RemoteReadError::Unsupported { .. })
    }
}
