//! Turns verified frames into whole series: decodes each `ChunkedReadResponse`, merges
//! consecutive frames of one series (Prometheus splits a series over frames of about 1 MiB),
//! decodes its XOR chunks, puts the samples in time order without duplicates, clips them to the
//! query's range and hands each finished series to a callback. [`ResponseDecoder`] is fed the body
//! piece by piece; [`decode_response`] takes a body in memory. Pure; no I/O.

use super::error::{ChunkError, RemoteReadError};
use super::frame::{DEFAULT_MAX_FRAME_BYTES, FrameDecoder, Frames};
use super::proto::decode_chunked_read_response;
use super::request::Query;
use super::xor::{Sample, decode_chunk};

/// Limits and choices of a decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Largest frame accepted (its data, in bytes). Default 50 MiB.
    pub max_frame_bytes: usize,
    /// Largest series accepted, in samples held (checked before each chunk is decoded).
    /// Default 10 million (160 MB; 115 days at one sample a second).
    pub max_series_samples: usize,
    /// Per query index, the inclusive `[start_ms, end_ms]` to keep: Prometheus sends whole
    /// chunks, which may reach outside the query's range. Empty: keep everything, accept any
    /// query index.
    pub ranges: Vec<(i64, i64)>,
    /// Leave out stale markers (see [`Sample::is_stale`]).
    pub drop_stale_markers: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_series_samples: 10_000_000,
            ranges: Vec::new(),
            drop_stale_markers: false,
        }
    }
}

impl DecodeOptions {
    /// Defaults, clipping each query's series to that query's range.
    pub fn for_queries(queries: &[Query]) -> Self {
        DecodeOptions { ranges: queries.iter().map(|q| (q.start_ms, q.end_ms)).collect(), ..Self::default() }
    }
}

/// One finished series, lent to the callback: copy what you keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Series<'a> {
    /// Index of the query (in the request) that selected it.
    pub query_index: usize,
    /// Label pairs sorted by name, `__name__` included.
    pub labels: &'a [(String, String)],
    /// Samples in strictly increasing time order.
    pub samples: &'a [Sample],
}

impl<'a> Series<'a> {
    /// The value of label `name`.
    pub fn label(&self, name: &str) -> Option<&'a str> {
        self.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The metric name (`__name__`).
    pub fn metric_name(&self) -> Option<&'a str> {
        self.label("__name__")
    }
}

/// Counts of one decode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Body bytes pushed.
    pub bytes: u64,
    pub frames: u64,
    /// Series handed to the callback (series left empty by clipping are not).
    pub series: u64,
    pub chunks: u64,
    /// Samples handed to the callback.
    pub samples: u64,
    /// Samples outside their query's range.
    pub clipped: u64,
    /// Samples dropped because an earlier chunk of the series had the same timestamp.
    pub duplicates: u64,
    /// Stale markers left out (with [`DecodeOptions::drop_stale_markers`]).
    pub stale_dropped: u64,
}

/// `{a="1", b="2"}` for error messages.
fn label_text<'s>(labels: impl IntoIterator<Item = (&'s str, &'s str)>) -> String {
    let parts: Vec<String> = labels.into_iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The series being assembled, and everything but the framing.
#[derive(Debug)]
struct Assembler {
    opts: DecodeOptions,
    /// Query index and sorted labels of the open series.
    current: Option<(usize, Vec<(String, String)>)>,
    samples: Vec<Sample>,
    /// False once a sample did not come after the previous one.
    in_order: bool,
    stats: DecodeStats,
}

impl Assembler {
    fn frame<F>(&mut self, frame: u64, data: &[u8], on_series: &mut F) -> Result<(), RemoteReadError>
    where
        F: FnMut(Series<'_>) -> Result<(), RemoteReadError>,
    {
        self.stats.frames += 1;
        let resp = decode_chunked_read_response(data).map_err(|e| RemoteReadError::Protobuf {
            frame,
            message: e.message,
            field: e.field,
            reason: e.reason,
        })?;
        let bad_index = || RemoteReadError::QueryIndex {
            frame,
            index: resp.query_index,
            queries: self.opts.ranges.len(),
        };
        let query_index = usize::try_from(resp.query_index).map_err(|_| bad_index())?;
        let range = if self.opts.ranges.is_empty() {
            (i64::MIN, i64::MAX)
        } else {
            *self.opts.ranges.get(query_index).ok_or_else(bad_index)?
        };
        for mut series in resp.series {
            series.labels.sort_unstable();
            let same = matches!(&self.current, Some((q, labels)) if *q == query_index
                && labels.len() == series.labels.len()
                && labels.iter().zip(&series.labels).all(|((n, v), (n2, v2))| n == n2 && v == v2));
            if !same {
                self.flush(on_series)?;
                let owned = series.labels.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
                self.current = Some((query_index, owned));
            }
            for (i, chunk) in series.chunks.iter().enumerate() {
                let chunk_err = |source: ChunkError| RemoteReadError::Chunk {
                    frame,
                    series: label_text(series.labels.iter().copied()),
                    chunk: i,
                    source,
                };
                let it = decode_chunk(chunk.encoding, chunk.data).map_err(chunk_err)?;
                self.stats.chunks += 1;
                if self.samples.len() + usize::from(it.total()) > self.opts.max_series_samples {
                    return Err(RemoteReadError::SeriesTooLarge {
                        series: label_text(series.labels.iter().copied()),
                        limit: self.opts.max_series_samples,
                    });
                }
                let start = self.samples.len();
                it.decode_into(&mut self.samples).map_err(chunk_err)?;
                self.keep(start, range);
            }
        }
        Ok(())
    }

    /// Filters the samples appended from `start` on (range, stale markers) and notes whether
    /// they continue the series in time order.
    fn keep(&mut self, start: usize, (lo, hi): (i64, i64)) {
        let drop_stale = self.opts.drop_stale_markers;
        let mut last = start.checked_sub(1).and_then(|i| self.samples.get(i)).map(|s| s.timestamp_ms);
        let mut write = start;
        for read in start..self.samples.len() {
            let s = self.samples[read];
            if s.timestamp_ms < lo || s.timestamp_ms > hi {
                self.stats.clipped += 1;
                continue;
            }
            if drop_stale && s.is_stale() {
                self.stats.stale_dropped += 1;
                continue;
            }
            if last.is_some_and(|l| s.timestamp_ms <= l) {
                self.in_order = false;
            }
            last = Some(s.timestamp_ms);
            self.samples[write] = s;
            write += 1;
        }
        self.samples.truncate(write);
    }

    /// Hands the open series to the callback.
    fn flush<F>(&mut self, on_series: &mut F) -> Result<(), RemoteReadError>
    where
        F: FnMut(Series<'_>) -> Result<(), RemoteReadError>,
    {
        let Some((query_index, labels)) = self.current.take() else { return Ok(()) };
        if !self.in_order {
            // Overlapping chunks: a stable sort keeps the earlier chunk's sample first, and that
            // one is kept.
            self.samples.sort_by_key(|s| s.timestamp_ms);
            let before = self.samples.len();
            self.samples.dedup_by_key(|s| s.timestamp_ms);
            self.stats.duplicates += (before - self.samples.len()) as u64;
            self.in_order = true;
        }
        if self.samples.is_empty() {
            return Ok(());
        }
        self.stats.series += 1;
        self.stats.samples += self.samples.len() as u64;
        let result = on_series(Series { query_index, labels: &labels, samples: &self.samples });
        self.samples.clear();
        result
    }
}

/// Incremental decoder of a streamed remote-read body: [`push`](Self::push) the body's pieces as
/// they arrive, then [`finish`](Self::finish). `on_series` is called once per series, in the
/// order the server sent them, as soon as the next series starts (or at the end). Memory: one
/// partial frame plus one series' samples.
#[derive(Debug)]
pub struct ResponseDecoder {
    frames: FrameDecoder,
    asm: Assembler,
}

impl ResponseDecoder {
    pub fn new(opts: DecodeOptions) -> Self {
        ResponseDecoder {
            frames: FrameDecoder::new(opts.max_frame_bytes),
            asm: Assembler {
                opts,
                current: None,
                samples: Vec::new(),
                in_order: true,
                stats: DecodeStats::default(),
            },
        }
    }

    /// Decodes what `bytes` completes; may call `on_series` for series that are finished.
    ///
    /// # Errors
    /// Framing, protobuf or chunk errors, or the callback's own error. The decoder is unusable
    /// afterwards.
    pub fn push<F>(&mut self, bytes: &[u8], on_series: &mut F) -> Result<(), RemoteReadError>
    where
        F: FnMut(Series<'_>) -> Result<(), RemoteReadError>,
    {
        self.asm.stats.bytes += bytes.len() as u64;
        self.frames.push(bytes);
        loop {
            let index = self.frames.frames();
            let Some(frame) = self.frames.next_frame()? else { return Ok(()) };
            self.asm.frame(index, frame, on_series)?;
        }
    }

    /// Ends the body: hands over the last series and returns the counts.
    ///
    /// # Errors
    /// The body stopped inside a frame, or the callback's error.
    pub fn finish<F>(mut self, on_series: &mut F) -> Result<DecodeStats, RemoteReadError>
    where
        F: FnMut(Series<'_>) -> Result<(), RemoteReadError>,
    {
        self.frames.finish()?;
        self.asm.flush(on_series)?;
        Ok(self.asm.stats)
    }

    /// Counts so far.
    pub fn stats(&self) -> DecodeStats {
        self.asm.stats
    }
}

/// Decodes a whole streamed body in memory (no copy of the frames).
///
/// # Errors
/// As [`ResponseDecoder::push`] and [`ResponseDecoder::finish`].
pub fn decode_response<F>(
    body: &[u8],
    opts: DecodeOptions,
    mut on_series: F,
) -> Result<DecodeStats, RemoteReadError>
where
    F: FnMut(Series<'_>) -> Result<(), RemoteReadError>,
{
    let mut asm =
        Assembler { current: None, samples: Vec::new(), in_order: true, stats: DecodeStats::default(), opts };
    asm.stats.bytes = body.len() as u64;
    for (index, frame) in Frames::new(body, asm.opts.max_frame_bytes).enumerate() {
        asm.frame(index as u64, frame?, &mut on_series)?;
    }
    asm.flush(&mut on_series)?;
    Ok(asm.stats)
}
