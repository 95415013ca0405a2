//! The few protobuf messages of remote read, by hand: encoding of `prometheus.ReadRequest` and a
//! zero-copy decoder of `prometheus.ChunkedReadResponse` (messages from Prometheus'
//! `prompb/remote.proto` and `prompb/types.proto`). Pure; no I/O.

/// Outcome of reading a base-128 varint from the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Varint {
    /// The value and how many bytes it took.
    Value(u64, usize),
    /// The buffer ends before the varint does.
    Incomplete,
    /// More than 10 bytes, or a 10th byte above 1: over 64 bits.
    Overflow,
}

/// Reads an unsigned varint (protobuf / Go `binary.Uvarint`) from the front of `buf`.
#[inline]
pub fn uvarint(buf: &[u8]) -> Varint {
    let mut x: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        if i == 9 && b > 1 {
            return Varint::Overflow;
        }
        x |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Varint::Value(x, i + 1);
        }
    }
    if buf.len() >= 10 { Varint::Overflow } else { Varint::Incomplete }
}

/// Appends `v` as an unsigned varint.
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Why a protobuf message could not be read; the caller adds the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtoError {
    pub message: &'static str,
    pub field: u32,
    pub reason: &'static str,
}

/// One field's payload, by wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over the fields of one encoded message, borrowing length-delimited payloads.
pub struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
    message: &'static str,
}

impl<'a> Fields<'a> {
    pub fn new(data: &'a [u8], message: &'static str) -> Self {
        Fields { data, pos: 0, message }
    }

    fn err(&mut self, field: u32, reason: &'static str) -> Option<Result<(u32, Value<'a>), ProtoError>> {
        self.pos = self.data.len();
        Some(Err(ProtoError { message: self.message, field, reason }))
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        match uvarint(rest) {
            Varint::Value(v, n) => {
                self.pos += n;
                Ok(v)
            }
            Varint::Incomplete => Err("truncated varint"),
            Varint::Overflow => Err("varint overflows 64 bits"),
        }
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.pos.checked_add(n)?;
        let bytes = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), ProtoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let key = match self.varint() {
            Ok(k) => k,
            Err(reason) => return self.err(0, reason),
        };
        let Ok(field) = u32::try_from(key >> 3) else {
            return self.err(0, "field number over 32 bits");
        };
        if field == 0 {
            return self.err(0, "field number 0");
        }
        let value = match key & 7 {
            0 => match self.varint() {
                Ok(v) => Value::Varint(v),
                Err(reason) => return self.err(field, reason),
            },
            1 => match self.take(8).and_then(|b| b.first_chunk::<8>()) {
                Some(b) => Value::Fixed64(u64::from_le_bytes(*b)),
                None => return self.err(field, "truncated fixed64"),
            },
            2 => {
                let len = match self.varint() {
                    Ok(v) => v,
                    Err(reason) => return self.err(field, reason),
                };
                match self.take(len) {
                    Some(b) => Value::Bytes(b),
                    None => return self.err(field, "length runs past the end of the message"),
                }
            }
            5 => match self.take(4).and_then(|b| b.first_chunk::<4>()) {
                Some(b) => Value::Fixed32(u32::from_le_bytes(*b)),
                None => return self.err(field, "truncated fixed32"),
            },
            _ => return self.err(field, "unsupported wire type (group or invalid)"),
        };
        Some(Ok((field, value)))
    }
}

/// One `prometheus.ChunkedReadResponse`, borrowing from the frame it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChunkedReadResponse<'a> {
    pub series: Vec<ChunkedSeries<'a>>,
    pub query_index: i64,
}

/// One `prometheus.ChunkedSeries`: labels as sent (Prometheus sorts them) and chunks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChunkedSeries<'a> {
    pub labels: Vec<(&'a str, &'a str)>,
    pub chunks: Vec<Chunk<'a>>,
}

/// One `prometheus.Chunk`. `encoding` is `prompb.Chunk.Encoding` (1 = XOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Chunk<'a> {
    pub min_time_ms: i64,
    pub max_time_ms: i64,
    pub encoding: u64,
    pub data: &'a [u8],
}

fn bytes<'a>(v: Value<'a>, message: &'static str, field: u32) -> Result<&'a [u8], ProtoError> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(ProtoError { message, field, reason: "wrong wire type, expected length-delimited" }),
    }
}

fn varint(v: Value<'_>, message: &'static str, field: u32) -> Result<u64, ProtoError> {
    match v {
        Value::Varint(x) => Ok(x),
        _ => Err(ProtoError { message, field, reason: "wrong wire type, expected varint" }),
    }
}

fn string<'a>(v: Value<'a>, message: &'static str, field: u32) -> Result<&'a str, ProtoError> {
    std::str::from_utf8(bytes(v, message, field)?).map_err(|_| ProtoError {
        message,
        field,
        reason: "string is not valid UTF-8",
    })
}

/// Decodes one frame's data. Unknown fields are skipped, as protobuf requires.
///
/// # Errors
/// A truncated or malformed field, a wrong wire type for a known field, or a label that is not
/// UTF-8.
pub fn decode_chunked_read_response(data: &[u8]) -> Result<ChunkedReadResponse<'_>, ProtoError> {
    const M: &str = "ChunkedReadResponse";
    let mut out = ChunkedReadResponse::default();
    for f in Fields::new(data, M) {
        match f? {
            (1, v) => out.series.push(decode_series(bytes(v, M, 1)?)?),
            (2, v) => out.query_index = varint(v, M, 2)? as i64,
            _ => {}
        }
    }
    Ok(out)
}

fn decode_series(data: &[u8]) -> Result<ChunkedSeries<'_>, ProtoError> {
    const M: &str = "ChunkedSeries";
    let mut out = ChunkedSeries::default();
    for f in Fields::new(data, M) {
        match f? {
            (1, v) => out.labels.push(decode_label(bytes(v, M, 1)?)?),
            (2, v) => out.chunks.push(decode_chunk(bytes(v, M, 2)?)?),
            _ => {}
        }
    }
    Ok(out)
}

fn decode_label(data: &[u8]) -> Result<(&str, &str), ProtoError> {
    const M: &str = "Label";
    let (mut name, mut value) = ("", "");
    for f in Fields::new(data, M) {
        match f? {
            (1, v) => name = string(v, M, 1)?,
            (2, v) => value = string(v, M, 2)?,
            _ => {}
        }
    }
    Ok((name, value))
}

fn decode_chunk(data: &[u8]) -> Result<Chunk<'_>, ProtoError> {
    const M: &str = "Chunk";
    let mut out = Chunk::default();
    for f in Fields::new(data, M) {
        match f? {
            (1, v) => out.min_time_ms = varint(v, M, 1)? as i64,
            (2, v) => out.max_time_ms = varint(v, M, 2)? as i64,
            (3, v) => out.encoding = varint(v, M, 3)?,
            (4, v) => out.data = bytes(v, M, 4)?,
            _ => {}
        }
    }
    Ok(out)
}

/// Appends protobuf fields. Proto3 defaults (0, empty) are left out, as Go's encoder does.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn key(&mut self, field: u32, wire: u8) {
        put_uvarint(&mut self.buf, (u64::from(field) << 3) | u64::from(wire));
    }

    /// An `int64`, `bool` or enum field.
    pub fn varint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, 0);
            put_uvarint(&mut self.buf, v);
        }
    }

    /// A `string` or `bytes` field.
    pub fn bytes(&mut self, field: u32, b: &[u8]) {
        if !b.is_empty() {
            self.bytes_always(field, b);
        }
    }

    /// A length-delimited field written even when empty (repeated strings, sub-messages).
    pub fn bytes_always(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        put_uvarint(&mut self.buf, b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// A sub-message, encoded by `f` into its own writer.
    pub fn message(&mut self, field: u32, f: impl FnOnce(&mut Writer)) {
        let mut sub = Writer::default();
        f(&mut sub);
        self.bytes_always(field, &sub.buf);
    }

    /// A packed repeated varint field (proto3's default for repeated enums).
    pub fn packed_varints(&mut self, field: u32, values: &[u64]) {
        if values.is_empty() {
            return;
        }
        let mut packed = Vec::new();
        for &v in values {
            put_uvarint(&mut packed, v);
        }
        self.bytes_always(field, &packed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_edges() {
        assert_eq!(uvarint(&[0]), Varint::Value(0, 1));
        assert_eq!(uvarint(&[0x96, 0x01]), Varint::Value(150, 2));
        assert_eq!(uvarint(&[0x96]), Varint::Incomplete);
        assert_eq!(uvarint(&[]), Varint::Incomplete);
        let mut max = Vec::new();
        put_uvarint(&mut max, u64::MAX);
        assert_eq!(max.len(), 10);
        assert_eq!(uvarint(&max), Varint::Value(u64::MAX, 10));
        assert_eq!(uvarint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]), Varint::Overflow);
        assert_eq!(uvarint(&[0x80; 11]), Varint::Overflow);
        for v in [1u64, 127, 128, 16_383, 16_384, 1 << 35, (1 << 63) + 5] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(uvarint(&b), Varint::Value(v, b.len()));
        }
    }

    #[test]
    fn decodes_a_hand_written_response() {
        // ChunkedReadResponse{chunked_series: [{labels: [{a, 1}], chunks: [{1, 2, XOR, [0,0]}]}],
        // query_index: 3}, with an unknown field 9 (fixed32) that must be skipped.
        let label = [0x0a, 1, b'a', 0x12, 1, b'1'];
        let chunk = [0x08, 1, 0x10, 2, 0x18, 1, 0x22, 2, 0, 0];
        let mut series = vec![0x0a, label.len() as u8];
        series.extend_from_slice(&label);
        series.extend_from_slice(&[0x12, chunk.len() as u8]);
        series.extend_from_slice(&chunk);
        let mut msg = vec![0x0a, series.len() as u8];
        msg.extend_from_slice(&series);
        msg.extend_from_slice(&[0x4d, 1, 2, 3, 4, 0x10, 3]);
        let r = decode_chunked_read_response(&msg).unwrap();
        assert_eq!(r.query_index, 3);
        assert_eq!(r.series.len(), 1);
        assert_eq!(r.series[0].labels, vec![("a", "1")]);
        assert_eq!(
            r.series[0].chunks,
            vec![Chunk { min_time_ms: 1, max_time_ms: 2, encoding: 1, data: &[0, 0] }]
        );
    }

    #[test]
    fn negative_int64_is_ten_bytes() {
        let mut w = Writer::default();
        w.varint(1, (-1i64) as u64);
        assert_eq!(w.buf, [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        // The same bytes as a Chunk (min_time_ms = -1) inside a series inside a response.
        let mut resp = Writer::default();
        resp.message(1, |series| series.bytes_always(2, &w.buf));
        let r = decode_chunked_read_response(&resp.buf).unwrap();
        assert_eq!(r.series[0].chunks[0].min_time_ms, -1);
    }

    #[test]
    fn malformed_fields_are_errors() {
        let cases: &[(&[u8], &str)] = &[
            (&[0x0a, 5, 1, 2], "length runs past the end of the message"),
            (&[0x10], "truncated varint"),
            (&[0x10, 0x80], "truncated varint"),
            (&[0x0b], "unsupported wire type (group or invalid)"),
            (&[0x00, 0x00], "field number 0"),
            (&[0x10 | 1, 1, 2], "truncated fixed64"),
            (&[0x08, 1], "wrong wire type, expected length-delimited"),
            (&[0x12, 0], "wrong wire type, expected varint"),
            // Label with a name that is not UTF-8.
            (&[0x0a, 6, 0x0a, 4, 0x0a, 2, 0x0a, 0xff], "string is not valid UTF-8"),
        ];
        for (msg, want) in cases {
            let e = decode_chunked_read_response(msg).unwrap_err();
            assert_eq!(e.reason, *want, "{msg:?}: {e:?}");
        }
    }
}
