//! Incremental decoding of Prometheus HTTP API answers (`/api/v1/query_range`): the body is
//! fed piece by piece as it arrives, each element of `data.result` is handed to a callback
//! as soon as its closing brace arrives, and only the envelope (`status`, `errorType`,
//! `error`, `resultType`, `warnings`) is kept to the end. Memory: one series, never the
//! whole answer (hundreds of MB of JSON at a few thousand containers). Pure; no I/O.

use std::borrow::Cow;

use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Where the scanner is in the JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

/// One open container, and for an object whether the next string is a key.
#[derive(Debug)]
struct Frame {
    kind: Container,
    /// The key this container is the value of (`None` at the root and in arrays).
    key: Option<Vec<u8>>,
    expect_key: bool,
}

/// Feeds on a body piece by piece; finds the elements of `data.result`.
#[derive(Debug, Default)]
pub struct ResultScanner {
    stack: Vec<Frame>,
    in_string: bool,
    escaped: bool,
    /// The key being read (in an object, expecting a key), and the last key read.
    reading_key: Option<Vec<u8>>,
    last_key: Option<Vec<u8>>,
    /// Stack depth of the element being captured (`Some` while inside one).
    capture_depth: Option<usize>,
    item: Vec<u8>,
    envelope: Vec<u8>,
    /// Bytes seen, for error messages.
    offset: u64,
    items: u64,
}

/// What the envelope of an answer says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Envelope {
    pub status: String,
    #[serde(rename = "errorType", default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub data: Option<EnvelopeData>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// `data` without its `result` elements.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct EnvelopeData {
    #[serde(rename = "resultType")]
    pub result_type: String,
}

impl ResultScanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the open containers are `{ "data": { "result": [` exactly.
    fn at_result_array(&self) -> bool {
        self.stack.len() == 3
            && self.stack[0].kind == Container::Object
            && self.stack[1].kind == Container::Object
            && self.stack[1].key.as_deref() == Some(b"data")
            && self.stack[2].kind == Container::Array
            && self.stack[2].key.as_deref() == Some(b"result")
    }

    /// Scans `bytes`; calls `on_item` with the complete JSON text of each `data.result`
    /// element.
    ///
    /// # Errors
    /// Unbalanced brackets, or the callback's error.
    pub fn push<E>(
        &mut self,
        bytes: &[u8],
        on_item: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), ScanError<E>> {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if self.in_string {
                // Fast path: copy the run of plain string bytes at once.
                let run = bytes[i..].iter().position(|&c| c == b'"' || c == b'\\').unwrap_or(bytes.len() - i);
                if run > 0 {
                    self.emit(&bytes[i..i + run]);
                    if let Some(k) = self.reading_key.as_mut() {
                        k.extend_from_slice(&bytes[i..i + run]);
                    }
                    i += run;
                    continue;
                }
                self.emit(&[b]);
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if let Some(k) = self.reading_key.take() {
                        self.last_key = Some(k);
                    }
                }
                if let (Some(k), true) = (self.reading_key.as_mut(), self.in_string) {
                    k.push(b);
                }
                i += 1;
                continue;
            }
            match b {
                b'"' => {
                    self.start_value_if_element();
                    self.emit(&[b]);
                    self.in_string = true;
                    if let Some(top) = self.stack.last_mut()
                        && top.kind == Container::Object
                        && top.expect_key
                    {
                        top.expect_key = false;
                        self.reading_key = Some(Vec::new());
                    }
                }
                b'{' | b'[' => {
                    self.start_value_if_element();
                    self.emit(&[b]);
                    let key = match self.stack.last() {
                        Some(f) if f.kind == Container::Object => self.last_key.take(),
                        _ => None,
                    };
                    let kind = if b == b'{' { Container::Object } else { Container::Array };
                    self.stack.push(Frame { kind, key, expect_key: kind == Container::Object });
                }
                b'}' | b']' => {
                    let want = if b == b'}' { Container::Object } else { Container::Array };
                    match self.stack.pop() {
                        Some(f) if f.kind == want => {}
                        _ => return Err(ScanError::Syntax { offset: self.offset + i as u64 }),
                    }
                    self.emit(&[b]);
                    self.end_value_if_element(on_item).map_err(ScanError::Callback)?;
                }
                b',' => {
                    if let Some(top) = self.stack.last_mut()
                        && top.kind == Container::Object
                    {
                        top.expect_key = true;
                    }
                    // Commas between result elements are dropped with the elements.
                    if !(self.capture_depth.is_none() && self.at_result_array()) {
                        self.emit(&[b]);
                    }
                    self.end_value_if_element(on_item).map_err(ScanError::Callback)?;
                }
                b' ' | b'\n' | b'\r' | b'\t' => {
                    if self.capture_depth.is_some() {
                        self.item.push(b);
                    }
                }
                _ => {
                    // A number, true/false/null or a colon.
                    if b != b':' {
                        self.start_value_if_element();
                    }
                    self.emit(&[b]);
                }
            }
            i += 1;
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// At the result array, a value starts an element: capture it.
    fn start_value_if_element(&mut self) {
        if self.capture_depth.is_none() && self.at_result_array() {
            self.capture_depth = Some(self.stack.len());
            self.item.clear();
        }
    }

    /// After a closing bracket or a comma: when the captured element is complete, hand it
    /// over. (A scalar element ends at the comma or bracket after it, which is not part
    /// of it.)
    fn end_value_if_element<E>(&mut self, on_item: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let Some(depth) = self.capture_depth else { return Ok(()) };
        if self.stack.len() > depth {
            return Ok(());
        }
        let last = self.item.last().copied();
        if self.stack.len() < depth {
            // The result array itself closed right after a scalar element: drop the `]`.
            self.item.pop();
            self.envelope.push(b']');
        } else if last == Some(b',') {
            self.item.pop();
        }
        self.capture_depth = None;
        self.items += 1;
        on_item(&self.item)
    }

    fn emit(&mut self, bytes: &[u8]) {
        if self.capture_depth.is_some() {
            self.item.extend_from_slice(bytes);
        } else {
            self.envelope.extend_from_slice(bytes);
        }
    }

    /// Number of result elements handed over.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Ends the body and decodes the envelope.
    ///
    /// # Errors
    /// The body ended inside a value, or the envelope is not Prometheus API JSON.
    pub fn finish(self) -> Result<Envelope, String> {
        if !self.stack.is_empty() || self.in_string {
            return Err(format!("the answer ended early, after {} bytes", self.offset));
        }
        serde_json::from_slice(&self.envelope).map_err(|e| {
            let start = String::from_utf8_lossy(&self.envelope[..self.envelope.len().min(300)]).into_owned();
            format!("not Prometheus API JSON ({e}): {start}")
        })
    }
}

/// A body the scanner could not follow, or the callback's own error.
#[derive(Debug)]
pub enum ScanError<E> {
    Syntax { offset: u64 },
    Callback(E),
}

/// One element of a matrix result: labels (with `__name__`) and its samples as Unix ms and
/// values.
#[derive(Debug, Default, PartialEq)]
pub struct MatrixSeries<'a> {
    pub metric: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// Decodes one matrix element (`{"metric":{...},"values":[[t,"v"],...]}`).
///
/// # Errors
/// The element is not a matrix series.
pub fn decode_matrix_series(text: &[u8]) -> Result<MatrixSeries<'_>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        metric: std::collections::BTreeMap<Cow<'a, str>, Cow<'a, str>>,
        #[serde(default)]
        values: Points,
    }
    let raw: Raw<'_> = serde_json::from_slice(text)?;
    Ok(MatrixSeries {
        metric: raw.metric.into_iter().collect(),
        timestamps: raw.values.0,
        values: raw.values.1,
    })
}

/// `[[t, "v"], ...]` straight into two vectors.
#[derive(Default)]
struct Points(Vec<i64>, Vec<f64>);

impl<'de> serde::Deserialize<'de> for Points {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Points;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of [timestamp, \"value\"] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Points, A::Error> {
                let n = seq.size_hint().unwrap_or(0);
                let mut p = Points(Vec::with_capacity(n), Vec::with_capacity(n));
                while let Some((t, v)) = seq.next_element::<(f64, Cow<'de, str>)>()? {
                    #[allow(clippy::cast_possible_truncation)]
                    p.0.push((t * 1000.0).round() as i64);
                    p.1.push(
                        parse_value(&v)
                            .ok_or_else(|| de::Error::custom(format!("bad sample value {v:?}")))?,
                    );
                }
                Ok(p)
            }
        }
        d.deserialize_seq(V)
    }
}

/// Prometheus sends sample values as strings (`"1.5"`, `"NaN"`, `"+Inf"`).
pub fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_pieces(body: &str, piece: usize) -> (Vec<String>, Result<Envelope, String>) {
        let mut s = ResultScanner::new();
        let mut items = Vec::new();
        for chunk in body.as_bytes().chunks(piece) {
            s.push(chunk, &mut |b: &[u8]| -> Result<(), ()> {
                items.push(String::from_utf8(b.to_vec()).unwrap());
                Ok(())
            })
            .unwrap();
        }
        (items, s.finish())
    }

    const BODY: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"m","pod":"a\"}],{"},"values":[[1700000000,"1.5"],[1700000060.5,"NaN"]]},
      {"metric":{"pod":"b"},"values":[[1700000000,"+Inf"]]}]},"warnings":["w1"]}"#;

    #[test]
    fn elements_are_found_whatever_the_piece_size() {
        for piece in [1, 2, 3, 7, 64, 10_000] {
            let (items, env) = scan_in_pieces(BODY, piece);
            assert_eq!(items.len(), 2, "piece {piece}");
            let env = env.unwrap();
            assert_eq!(env.status, "success");
            assert_eq!(env.data.unwrap().result_type, "matrix");
            assert_eq!(env.warnings, vec!["w1".to_string()]);
            let a = decode_matrix_series(items[0].as_bytes()).unwrap();
            assert_eq!(a.metric[1], (Cow::from("pod"), Cow::from("a\"}],{")));
            assert_eq!(a.timestamps, vec![1_700_000_000_000, 1_700_000_060_500]);
            assert_eq!(a.values[0], 1.5);
            assert!(a.values[1].is_nan());
            let b = decode_matrix_series(items[1].as_bytes()).unwrap();
            assert_eq!(b.values, vec![f64::INFINITY]);
        }
    }

    #[test]
    fn errors_and_empty_results() {
        let (items, env) = scan_in_pieces(
            r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}"#,
            5,
        );
        assert!(items.is_empty());
        let env = env.unwrap();
        assert_eq!(env.error_type.as_deref(), Some("execution"));
        assert!(env.error.unwrap().contains("too many samples"));
        let (items, env) =
            scan_in_pieces(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#, 4);
        assert!(items.is_empty());
        assert!(env.is_ok());
        // Cut short: an error, not a partial success.
        let (_, env) = scan_in_pieces(&BODY[..120], 16);
        assert!(env.unwrap_err().contains("ended early"));
        let mut s = ResultScanner::new();
        assert!(matches!(
            s.push(b"{]", &mut |_: &[u8]| -> Result<(), ()> { Ok(()) }),
            Err(ScanError::Syntax { .. })
        ));
        assert!(decode_matrix_series(br#"{"metric":{},"values":[[1,"x"]]}"#).is_err());
    }

    #[test]
    fn scalar_elements_of_other_result_types() {
        let (items, env) = scan_in_pieces(
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}}"#,
            3,
        );
        assert_eq!(items, vec!["1700000000".to_string(), "\"2\"".to_string()]);
        assert_eq!(env.unwrap().data.unwrap().result_type, "scalar");
    }
}
