//! Tests of the whole decoder: responses recorded from a real Prometheus 2.42 (fixtures in
//! `tests/fixtures/remote-read/`, see its README) compared sample by sample with the values
//! backfilled and with the JSON API's answer; synthetic responses built with a test-only XOR
//! encoder; damaged input (truncation at every byte, every bit flipped, mutated protobuf), and
//! `fetch_raw` against a loopback HTTP server. File reads happen at compile time
//! (`include_bytes!`); the only I/O is the loopback server.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use super::frame::encode_frame;
use super::proto::{Writer, decode_chunked_read_response};
use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/remote-read/", $name))
    };
}

const ALL_SMALL: &[u8] = fixture!("all-small.bin");
const ALL_DEFAULT: &[u8] = fixture!("all-default.bin");
const MULTI: &[u8] = fixture!("multi.bin");
const HEAD: &[u8] = fixture!("head.bin");
const BACKFILL_OM: &[u8] = fixture!("backfill.om");
const HEAD_OM: &[u8] = fixture!("head.om");
const ALL_JSON: &[u8] = fixture!("all.json");
const MULTI_Q0_JSON: &[u8] = fixture!("multi-q0.json");
const HEAD_JSON: &[u8] = fixture!("head.json");

/// Start of the backfilled data and of the remote-written head data, ms.
const T0: i64 = 1_793_000_000_000;
const H0: i64 = 1_796_643_056_000;

// ---------------------------------------------------------------------------------------------
// Expected values

/// What a sample's value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Bits(u64),
    /// An ordinary NaN (not the stale marker).
    NaN,
    Stale,
}

type Key = Vec<(String, String)>;
type Expected = BTreeMap<Key, Vec<(i64, Want)>>;

fn want_of(s: &str) -> Want {
    match s {
        "Stale" => Want::Stale,
        "NaN" => Want::NaN,
        _ => Want::Bits(s.parse::<f64>().unwrap_or_else(|_| panic!("value {s}")).to_bits()),
    }
}

/// Reads the OpenMetrics-style lines `name{a="1",b="2"} value seconds.millis`.
fn parse_om(text: &[u8]) -> Expected {
    let mut out = Expected::new();
    for line in std::str::from_utf8(text).unwrap().lines().filter(|l| !l.starts_with('#')) {
        let (name, rest) = line.split_once('{').unwrap();
        let (labels, rest) = rest.split_once('}').unwrap();
        let mut key = vec![("__name__".to_owned(), name.to_owned())];
        for pair in labels.split(',') {
            let (n, v) = pair.split_once('=').unwrap();
            key.push((n.to_owned(), v.trim_matches('"').to_owned()));
        }
        key.sort();
        let mut f = rest.split_whitespace();
        let value = want_of(f.next().unwrap());
        let (s, ms) = f.next().unwrap().split_once('.').unwrap();
        let t = s.parse::<i64>().unwrap() * 1000 + ms.parse::<i64>().unwrap();
        out.entry(key).or_default().push((t, value));
    }
    out
}

/// Reads a Prometheus JSON API matrix answer.
fn parse_json(text: &[u8]) -> Expected {
    let v: serde_json::Value = serde_json::from_slice(text).unwrap();
    assert_eq!(v["status"], "success");
    let mut out = Expected::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let mut key: Key = s["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        key.sort();
        let samples = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| ((p[0].as_f64().unwrap() * 1000.0).round() as i64, want_of(p[1].as_str().unwrap())))
            .collect();
        out.insert(key, samples);
    }
    out
}

fn filter(e: &Expected, keep: impl Fn(&Key) -> bool) -> Expected {
    e.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn label<'a>(k: &'a Key, name: &str) -> Option<&'a str> {
    k.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers

#[derive(Debug, Default)]
struct Decoded {
    /// Series in the order received: (query index, labels, samples).
    series: Vec<(usize, Key, Vec<Sample>)>,
    stats: DecodeStats,
}

impl Decoded {
    fn query(&self, q: usize) -> BTreeMap<Key, Vec<Sample>> {
        self.series.iter().filter(|s| s.0 == q).map(|(_, k, v)| (k.clone(), v.clone())).collect()
    }
}

fn decode(body: &[u8], opts: DecodeOptions) -> Result<Decoded, RemoteReadError> {
    let mut out = Decoded::default();
    out.stats = decode_response(body, opts, |s| {
        out.series.push((s.query_index, s.labels.to_vec(), s.samples.to_vec()));
        Ok(())
    })?;
    Ok(out)
}

fn decode_in_pieces(body: &[u8], piece: usize, opts: DecodeOptions) -> Result<Decoded, RemoteReadError> {
    let mut series = Vec::new();
    let mut d = ResponseDecoder::new(opts);
    let mut f = |s: Series<'_>| {
        series.push((s.query_index, s.labels.to_vec(), s.samples.to_vec()));
        Ok(())
    };
    for p in body.chunks(piece.max(1)) {
        d.push(p, &mut f)?;
    }
    let stats = d.finish(&mut f)?;
    Ok(Decoded { series, stats })
}

fn assert_matches(got: &BTreeMap<Key, Vec<Sample>>, want: &Expected, what: &str) {
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{what}: series");
    for (key, w) in want {
        let g = &got[key];
        assert_eq!(g.len(), w.len(), "{what}: {key:?}: sample count");
        for (i, (s, (t, v))) in g.iter().zip(w).enumerate() {
            assert_eq!(s.timestamp_ms, *t, "{what}: {key:?} sample {i}: timestamp");
            let ok = match v {
                Want::Bits(b) => s.value.to_bits() == *b,
                Want::NaN => s.value.is_nan() && !s.is_stale(),
                Want::Stale => s.is_stale(),
            };
            assert!(
                ok,
                "{what}: {key:?} sample {i} at {t}: got {:?} ({:#x}), want {v:?}",
                s.value,
                s.value.to_bits()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Real Prometheus fixtures

#[test]
fn backfill_small_frames_matches_every_backfilled_sample() {
    let d = decode(ALL_SMALL, DecodeOptions::default()).unwrap();
    let want = parse_om(BACKFILL_OM);
    assert_matches(&d.query(0), &want, "all-small.bin vs backfill.om");
    // 64-byte frames: one chunk per frame, so series span several frames and are merged.
    assert_eq!(d.stats.series, 9);
    assert_eq!(d.stats.frames, 23);
    assert_eq!(d.stats.chunks, 23);
    assert_eq!(d.stats.samples, 571);
    assert_eq!(d.stats.bytes, ALL_SMALL.len() as u64);
    // Series come sorted by labels, as Prometheus streams them.
    let keys: Vec<&Key> = d.series.iter().map(|s| &s.1).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    // Every series is in strictly increasing time order.
    assert!(d.series.iter().all(|s| s.2.windows(2).all(|w| w[0].timestamp_ms < w[1].timestamp_ms)));
}

#[test]
fn backfill_default_frames_gives_the_same_and_matches_the_json_api() {
    let small = decode(ALL_SMALL, DecodeOptions::default()).unwrap();
    let d = decode(ALL_DEFAULT, DecodeOptions::default()).unwrap();
    assert_eq!(d.stats.frames, 9, "one frame per series");
    assert_eq!(d.series.len(), small.series.len());
    for (a, b) in d.series.iter().zip(&small.series) {
        assert_eq!(a.1, b.1);
        assert_eq!(
            a.2.iter().map(|s| (s.timestamp_ms, s.value.to_bits())).collect::<Vec<_>>(),
            b.2.iter().map(|s| (s.timestamp_ms, s.value.to_bits())).collect::<Vec<_>>()
        );
    }
    assert_matches(&d.query(0), &parse_json(ALL_JSON), "all-default.bin vs all.json");
}

#[test]
fn two_queries_with_all_matcher_types() {
    let queries = multi_queries();
    let d = decode(MULTI, DecodeOptions::for_queries(&queries)).unwrap();
    let om = parse_om(BACKFILL_OM);
    // Query 0: rr_requests_total{code!="500"} over [T0+600s, T0+1200s], = the JSON range selector.
    assert_matches(&d.query(0), &parse_json(MULTI_Q0_JSON), "multi.bin q0 vs multi-q0.json");
    let q0: Expected = filter(&om, |k| label(k, "code") == Some("200"))
        .into_iter()
        .map(|(k, v)| {
            (k, v.into_iter().filter(|(t, _)| (T0 + 600_000..=T0 + 1_200_000).contains(t)).collect())
        })
        .collect();
    assert_matches(&d.query(0), &q0, "multi.bin q0 vs backfill.om");
    // Query 1: {__name__=~"rr_gauge", case!~"irr.*|special"}.
    let q1 = filter(&om, |k| {
        label(k, "__name__") == Some("rr_gauge") && matches!(label(k, "case"), Some("constant" | "negative"))
    });
    assert_matches(&d.query(1), &q1, "multi.bin q1 vs backfill.om");
    // Prometheus 2.42 already cut the chunks at the query range; nothing was left to clip.
    assert_eq!(d.stats.clipped, 0);
}

#[test]
fn head_chunks_with_stale_markers() {
    let d = decode(HEAD, DecodeOptions::default()).unwrap();
    let want = parse_om(HEAD_OM);
    assert_matches(&d.query(0), &want, "head.bin vs head.om");
    let stale: usize = d.series.iter().map(|s| s.2.iter().filter(|x| x.is_stale()).count()).sum();
    assert_eq!(stale, 5);
    // The JSON API hides stale markers: the rest must agree with it.
    let d = decode(HEAD, DecodeOptions { drop_stale_markers: true, ..DecodeOptions::default() }).unwrap();
    assert_eq!(d.stats.stale_dropped, 5);
    assert_matches(&d.query(0), &parse_json(HEAD_JSON), "head.bin without stale markers vs head.json");
    let want_no_stale: Expected =
        want.into_iter().map(|(k, v)| (k, v.into_iter().filter(|x| x.1 != Want::Stale).collect())).collect();
    assert_matches(&d.query(0), &want_no_stale, "head.bin vs head.om without stale markers");
}

fn multi_queries() -> Vec<Query> {
    vec![
        Query::new(
            T0 + 600_000,
            T0 + 1_200_000,
            vec![Matcher::name("rr_requests_total"), Matcher::neq("code", "500")],
        ),
        Query::new(
            T0 - 3_600_000,
            T0 + 86_400_000,
            vec![Matcher::re("__name__", "rr_gauge"), Matcher::nre("case", "irr.*|special")],
        ),
    ]
}

#[test]
fn our_requests_are_the_bytes_prometheus_answered() {
    let unsnappy = |b: &[u8]| snap::raw::Decoder::new().decompress_vec(b).unwrap();
    let all = [Query::new(
        T0 - 3_600_000,
        T0 + 86_400_000,
        vec![Matcher::re("__name__", "rr_requests_total|rr_gauge|rr_single|rr_bigint")],
    )];
    assert_eq!(read_request_body(&all).unwrap(), fixture!("all.req"));
    assert_eq!(encode_read_request(&all), unsnappy(fixture!("all.req")));
    assert_eq!(encode_read_request(&multi_queries()), unsnappy(fixture!("multi.req")));
    let head = [Query::new(H0 - 60_000, H0 + 3_600_000, vec![Matcher::name("rr_head")])];
    assert_eq!(encode_read_request(&head), unsnappy(fixture!("head.req")));
}

#[test]
fn pieces_of_any_size_decode_the_same() {
    for body in [ALL_SMALL, ALL_DEFAULT, MULTI, HEAD] {
        let whole = decode(body, DecodeOptions::default()).unwrap();
        for piece in [1, 2, 3, 5, 64, 1000, body.len()] {
            let d = decode_in_pieces(body, piece, DecodeOptions::default()).unwrap();
            assert_eq!(d.stats, whole.stats, "piece {piece}");
            assert_eq!(format!("{:?}", d.series), format!("{:?}", whole.series), "piece {piece}");
        }
    }
}

#[test]
fn limits() {
    let e =
        decode(ALL_DEFAULT, DecodeOptions { max_frame_bytes: 100, ..DecodeOptions::default() }).unwrap_err();
    assert!(matches!(e, RemoteReadError::FrameTooLarge { frame: 0, offset: 0, limit: 100, .. }), "{e}");
    let e =
        decode_in_pieces(ALL_DEFAULT, 7, DecodeOptions { max_frame_bytes: 100, ..DecodeOptions::default() })
            .unwrap_err();
    assert!(matches!(e, RemoteReadError::FrameTooLarge { .. }), "{e}");
    let e = decode(ALL_DEFAULT, DecodeOptions { max_series_samples: 200, ..DecodeOptions::default() })
        .unwrap_err();
    assert!(e.to_string().contains("more than 200 samples"), "{e}");
    // A response naming query 1 when only one query was sent.
    let e =
        decode(MULTI, DecodeOptions { ranges: vec![(0, i64::MAX)], ..DecodeOptions::default() }).unwrap_err();
    assert!(matches!(e, RemoteReadError::QueryIndex { index: 1, queries: 1, .. }), "{e}");
}

#[test]
fn empty_body_is_no_series() {
    let d = decode(&[], DecodeOptions::default()).unwrap();
    assert!(d.series.is_empty());
    assert_eq!(d.stats, DecodeStats::default());
}

// ---------------------------------------------------------------------------------------------
// Damaged input

/// Offsets at which a body may end cleanly.
fn frame_boundaries(body: &[u8]) -> Vec<usize> {
    let mut out = vec![0];
    let mut pos = 0;
    while pos < body.len() {
        let proto::Varint::Value(size, n) = proto::uvarint(&body[pos..]) else { panic!() };
        pos += n + 4 + size as usize;
        out.push(pos);
    }
    out
}

#[test]
fn truncation_at_every_byte_is_an_error_except_between_frames() {
    for body in [ALL_SMALL, ALL_DEFAULT, MULTI, HEAD] {
        let ok_cuts = frame_boundaries(body);
        for cut in 0..body.len() {
            let whole = decode(&body[..cut], DecodeOptions::default());
            let pieces = decode_in_pieces(&body[..cut], 97, DecodeOptions::default());
            if ok_cuts.contains(&cut) {
                assert!(whole.is_ok() && pieces.is_ok(), "cut at frame boundary {cut}");
            } else {
                assert!(
                    matches!(whole, Err(RemoteReadError::TruncatedStream { .. })),
                    "cut {cut}: {whole:?}"
                );
                assert!(matches!(pieces, Err(RemoteReadError::TruncatedStream { .. })), "cut {cut}");
            }
        }
    }
}

#[test]
fn every_flipped_bit_is_caught() {
    // Every bit of one body, every 7th bit of another (to keep the debug-build test quick).
    for (body, step) in [(HEAD, 1), (ALL_SMALL, 7)] {
        let mut b = body.to_vec();
        for i in (0..b.len() * 8).step_by(step) {
            b[i / 8] ^= 1 << (i % 8);
            let r = decode(&b, DecodeOptions::default());
            assert!(r.is_err(), "bit {i} flipped");
            b[i / 8] ^= 1 << (i % 8);
        }
    }
    // A flipped data bit is reported as a CRC mismatch of that frame.
    let mut b = ALL_DEFAULT.to_vec();
    let second = frame_boundaries(ALL_DEFAULT)[1];
    b[second + 20] ^= 0x10;
    let e = decode(&b, DecodeOptions::default()).unwrap_err();
    assert!(matches!(e, RemoteReadError::BadCrc { frame: 1, .. }), "{e}");
    assert!(e.to_string().starts_with(&format!("frame 1 at byte {second}: bad CRC32C")), "{e}");
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn frames_of(body: &[u8]) -> Vec<Vec<u8>> {
    Frames::new(body, DEFAULT_MAX_FRAME_BYTES).map(|f| f.unwrap().to_vec()).collect()
}

#[test]
fn mutated_frames_with_valid_crc_never_panic() {
    let mut rng = Rng(0x5EED);
    let frames: Vec<Vec<u8>> = [ALL_SMALL, MULTI, HEAD].iter().flat_map(|b| frames_of(b)).collect();
    let (mut ok, mut err) = (0, 0);
    for _ in 0..20_000 {
        let mut data = frames[rng.below(frames.len() as u64) as usize].clone();
        for _ in 0..=rng.below(4) {
            if data.is_empty() {
                break;
            }
            let i = rng.below(data.len() as u64) as usize;
            match rng.below(3) {
                0 => data[i] ^= 1 << rng.below(8),
                1 => data[i] = rng.next() as u8,
                _ => data.truncate(i),
            }
        }
        let mut body = Vec::new();
        encode_frame(&data, &mut body);
        match decode(&body, DecodeOptions::default()) {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
    }
    // Both outcomes occur: damage in chunk bits can decode to other numbers.
    assert!(ok > 100 && err > 100, "ok {ok}, err {err}");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for len in 0..2000 {
        let data: Vec<u8> = (0..len % 300).map(|_| rng.next() as u8).collect();
        let _ = decode(&data, DecodeOptions::default());
        let _ = decode_chunked_read_response(&data);
        if let Ok(it) = xor_samples(&data) {
            let _ = it.count();
        }
        let mut body = Vec::new();
        encode_frame(&data, &mut body);
        let _ = decode(&body, DecodeOptions::default());
    }
}

fn chunks_of(body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in frames_of(body) {
        for s in decode_chunked_read_response(&f).unwrap().series {
            out.extend(s.chunks.iter().map(|c| c.data.to_vec()));
        }
    }
    out
}

#[test]
fn every_truncated_real_chunk_is_an_error() {
    let chunks: Vec<Vec<u8>> = [ALL_SMALL, HEAD].iter().flat_map(|b| chunks_of(b)).collect();
    assert_eq!(chunks.len(), 27);
    let mut padded = 0;
    for c in &chunks {
        let full: Vec<Sample> = xor_samples(c).unwrap().collect::<Result<_, _>>().unwrap();
        let decodes =
            |len: usize| xor_samples(&c[..len]).and_then(|it| it.collect::<Result<Vec<Sample>, _>>());
        // Prometheus 2.42's bit writer leaves an empty byte after a byte-aligned write (a chunk
        // whose last value ends on a byte boundary): dropping that byte loses nothing. Any other
        // cut is an error.
        let last_byte_is_padding = decodes(c.len() - 1).is_ok();
        if last_byte_is_padding {
            padded += 1;
            assert_eq!(c[c.len() - 1], 0);
            assert_eq!(
                format!("{:?}", decodes(c.len() - 1)),
                format!("{:?}", Ok::<_, ChunkError>(full.clone()))
            );
        }
        let meaningful = c.len() - usize::from(last_byte_is_padding);
        for len in 0..meaningful {
            let r = decodes(len);
            assert!(r.is_err(), "chunk {c:02x?} cut to {len} decoded: {r:?}");
        }
    }
    assert!(padded >= 1, "the one-sample chunks end with a padding byte");
}

#[test]
fn corrupted_real_chunks_never_panic() {
    let chunks: Vec<Vec<u8>> = [ALL_SMALL, HEAD].iter().flat_map(|b| chunks_of(b)).collect();
    let mut rng = Rng(7);
    for _ in 0..20_000 {
        let mut c = chunks[rng.below(chunks.len() as u64) as usize].clone();
        for _ in 0..=rng.below(3) {
            let i = rng.below(c.len() as u64) as usize;
            c[i] ^= 1 << rng.below(8);
        }
        if let Ok(it) = xor_samples(&c) {
            let _ = it.count();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic responses (test-only XOR encoder, written from the format description)

struct BitWriter {
    bytes: Vec<u8>,
    used: u32,
}

impl BitWriter {
    fn bit(&mut self, b: bool) {
        if self.used.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if b {
            *self.bytes.last_mut().unwrap() |= 0x80 >> (self.used % 8);
        }
        self.used += 1;
    }
    fn bits(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }
    fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.bits((v & 0x7f) | 0x80, 8);
            v >>= 7;
        }
        self.bits(v, 8);
    }
}

/// An XOR chunk as Prometheus' appender writes it.
fn encode_xor(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut w = BitWriter { bytes: (samples.len() as u16).to_be_bytes().to_vec(), used: 16 };
    let (mut t, mut delta, mut v) = (0i64, 0u64, 0u64);
    let (mut leading, mut trailing) = (0xffu32, 0u32);
    for (i, &(ts, val)) in samples.iter().enumerate() {
        let bits = val.to_bits();
        match i {
            0 => {
                w.uvarint(((ts << 1) ^ (ts >> 63)) as u64);
                w.bits(bits, 64);
            }
            _ => {
                let d = ts.wrapping_sub(t) as u64;
                if i == 1 {
                    w.uvarint(d);
                } else {
                    let dod = d.wrapping_sub(delta) as i64;
                    let fits = |n: u32| -((1i64 << (n - 1)) - 1) <= dod && dod <= 1i64 << (n - 1);
                    if dod == 0 {
                        w.bit(false);
                    } else if fits(14) {
                        w.bits(0b10, 2);
                        w.bits(dod as u64 & 0x3fff, 14);
                    } else if fits(17) {
                        w.bits(0b110, 3);
                        w.bits(dod as u64 & 0x1_ffff, 17);
                    } else if fits(20) {
                        w.bits(0b1110, 4);
                        w.bits(dod as u64 & 0xf_ffff, 20);
                    } else {
                        w.bits(0b1111, 4);
                        w.bits(dod as u64, 64);
                    }
                }
                delta = d;
                let x = bits ^ v;
                if x == 0 {
                    w.bit(false);
                } else {
                    w.bit(true);
                    let (lz, tz) = (x.leading_zeros().min(31), x.trailing_zeros());
                    if leading != 0xff && lz >= leading && tz >= trailing {
                        w.bit(false);
                        w.bits(x >> trailing, 64 - leading - trailing);
                    } else {
                        (leading, trailing) = (lz, tz);
                        w.bit(true);
                        w.bits(u64::from(lz), 5);
                        w.bits(u64::from((64 - lz - tz) % 64), 6);
                        w.bits(x >> tz, 64 - lz - tz);
                    }
                }
            }
        }
        t = ts;
        v = bits;
    }
    w.bytes
}

/// Labels, and chunks as (encoding, data), of one series in a synthetic response.
type TestSeries<'a> = (&'a [(&'a str, &'a str)], Vec<(u64, Vec<u8>)>);

/// A `ChunkedReadResponse` frame's data.
fn response(query_index: i64, series: &[TestSeries<'_>]) -> Vec<u8> {
    let mut w = Writer::default();
    for (labels, chunks) in series {
        w.message(1, |s| {
            for (n, v) in *labels {
                s.message(1, |l| {
                    l.bytes(1, n.as_bytes());
                    l.bytes(2, v.as_bytes());
                });
            }
            for (enc, data) in chunks {
                s.message(2, |c| {
                    c.varint(3, *enc);
                    c.bytes(4, data);
                });
            }
        });
    }
    w.varint(2, query_index as u64);
    w.buf
}

fn body(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        encode_frame(f, &mut out);
    }
    out
}

fn random_series(rng: &mut Rng, n: usize) -> Vec<(i64, f64)> {
    let mut t = rng.next() as i64 >> rng.below(64);
    let mut v = 0.0f64;
    let mut out = Vec::with_capacity(n);
    let step = [1, 15_000, 60_000, 1_000_000][rng.below(4) as usize];
    for _ in 0..n {
        t = t.wrapping_add(match rng.below(10) {
            0 => rng.next() as i64,                    // anything, even backwards: 64-bit dod
            1 => rng.below(10_000_000) as i64,         // 17, 20 or 64-bit dod
            2 | 3 => step + rng.below(20) as i64 - 10, // jitter: 14-bit dod
            _ => step,                                 // dod 0
        });
        v = match rng.below(9) {
            0 => f64::from_bits(rng.next()),
            1 => f64::from_bits(STALE_NAN_BITS),
            2 => f64::NAN,
            3 => v + 1.0,
            4 => -v,
            5 => (rng.below(1000) as f64) / 8.0,
            6 => f64::from_bits(v.to_bits() ^ (1 << rng.below(64))),
            _ => v,
        };
        out.push((t, v));
    }
    out
}

#[test]
fn roundtrip_of_random_chunks_through_all_buckets() {
    let mut rng = Rng(18);
    for round in 0..2000 {
        let n = 1 + rng.below(if round % 10 == 0 { 2000 } else { 130 }) as usize;
        let samples = random_series(&mut rng, n);
        let chunk = encode_xor(&samples);
        let got: Vec<Sample> = xor_samples(&chunk).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), n);
        for (i, (g, (t, v))) in got.iter().zip(&samples).enumerate() {
            assert_eq!((g.timestamp_ms, g.value.to_bits()), (*t, v.to_bits()), "round {round} sample {i}");
        }
    }
}

#[test]
fn test_encoder_agrees_with_hand_computed_chunk() {
    // Same chunk as xor::tests::three_samples_new_window.
    let c = [0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x0f, 0x30, 0x97, 0xff, 0xc0];
    assert_eq!(encode_xor(&[(1000, 1.0), (1015, 1.0), (1030, 2.0)]), c);
}

#[test]
fn a_series_split_over_frames_is_merged_and_others_are_not() {
    let a: &[(&str, &str)] = &[("__name__", "a"), ("x", "1")];
    // The same labels in another order are the same series.
    let a_unsorted: &[(&str, &str)] = &[("x", "1"), ("__name__", "a")];
    let b: &[(&str, &str)] = &[("__name__", "b")];
    let c1 = encode_xor(&[(0, 1.0), (10, 2.0)]);
    let c2 = encode_xor(&[(20, 3.0), (30, 4.0)]);
    let c3 = encode_xor(&[(40, 5.0)]);
    let frames = vec![
        response(0, &[(a, vec![(1, c1.clone())])]),
        response(0, &[(a_unsorted, vec![(1, c2.clone())])]),
        response(0, &[(a, vec![(1, c3.clone())]), (b, vec![(1, c1.clone())])]),
        // Same labels, another query: another series.
        response(1, &[(b, vec![(1, c2.clone())])]),
    ];
    let d = decode(&body(&frames), DecodeOptions::default()).unwrap();
    let got: Vec<(usize, String, Vec<i64>)> = d
        .series
        .iter()
        .map(|(q, k, s)| (*q, k[0].1.clone(), s.iter().map(|x| x.timestamp_ms).collect()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "a".into(), vec![0, 10, 20, 30, 40]),
            (0, "b".into(), vec![0, 10]),
            (1, "b".into(), vec![20, 30]),
        ]
    );
    assert_eq!(
        d.series[0].1,
        vec![("__name__".to_owned(), "a".to_owned()), ("x".to_owned(), "1".to_owned())]
    );
    assert_eq!(d.stats.chunks, 5);
}

#[test]
fn overlapping_chunks_are_sorted_and_deduplicated() {
    let a: &[(&str, &str)] = &[("__name__", "a")];
    let first: Vec<(i64, f64)> = (0..=10).map(|i| (i * 10, 1.0)).collect(); // 0..=100
    let second: Vec<(i64, f64)> = (5..=15).map(|i| (i * 10, 2.0)).collect(); // 50..=150
    let f = response(0, &[(a, vec![(1, encode_xor(&first)), (1, encode_xor(&second))])]);
    let d = decode(&body(&[f]), DecodeOptions::default()).unwrap();
    let s = &d.series[0].2;
    assert_eq!(
        s.iter().map(|x| x.timestamp_ms).collect::<Vec<_>>(),
        (0..=15).map(|i| i * 10).collect::<Vec<_>>()
    );
    // The earlier chunk wins a tie.
    assert!(s[..=10].iter().all(|x| x.value == 1.0) && s[11..].iter().all(|x| x.value == 2.0));
    assert_eq!(d.stats.duplicates, 6);
}

#[test]
fn samples_are_clipped_to_the_query_range() {
    let a: &[(&str, &str)] = &[("__name__", "a")];
    let only_outside: &[(&str, &str)] = &[("__name__", "z")];
    let chunk = encode_xor(&(0..10).map(|i| (i * 100, i as f64)).collect::<Vec<_>>());
    let f0 = response(0, &[(a, vec![(1, chunk.clone())])]);
    let f1 =
        response(1, &[(a, vec![(1, chunk.clone())]), (only_outside, vec![(1, encode_xor(&[(5000, 1.0)]))])]);
    let opts = DecodeOptions { ranges: vec![(250, 600), (900, 900)], ..DecodeOptions::default() };
    let d = decode(&body(&[f0, f1]), opts).unwrap();
    let got: Vec<(usize, Vec<i64>)> =
        d.series.iter().map(|(q, _, s)| (*q, s.iter().map(|x| x.timestamp_ms).collect())).collect();
    // A series with nothing in range is not reported.
    assert_eq!(got, vec![(0, vec![300, 400, 500, 600]), (1, vec![900])]);
    assert_eq!(d.stats.clipped, 6 + 9 + 1);
    assert_eq!(d.stats.series, 2);
}

#[test]
fn histogram_chunks_are_refused_by_name() {
    let a: &[(&str, &str)] = &[("__name__", "h"), ("le", "1")];
    let f = response(0, &[(a, vec![(1, encode_xor(&[(1, 1.0)])), (2, vec![0, 1, 2, 3])])]);
    let e = decode(&body(&[f]), DecodeOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "frame 0, series {__name__=\"h\", le=\"1\"}, chunk 1: unknown or unsupported chunk encoding 2 \
         (HISTOGRAM); only XOR (1) is decoded"
    );
}

#[test]
fn malformed_protobuf_names_frame_and_field() {
    let mut b = body(&[response(0, &[]), vec![0x0a, 0x05, 0x01]]);
    let e = decode(&b, DecodeOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "frame 1: protobuf ChunkedReadResponse field 1 malformed: length runs past the end of the message"
    );
    b.clear();
    encode_frame(&[0x10, 0xff], &mut b);
    let e = decode(&b, DecodeOptions::default()).unwrap_err();
    assert!(e.to_string().contains("truncated varint"), "{e}");
}

#[test]
fn callback_errors_stop_the_decode() {
    let mut calls = 0;
    let e = decode_response(ALL_SMALL, DecodeOptions::default(), |s| {
        calls += 1;
        if s.metric_name() == Some("rr_gauge") {
            return Err(RemoteReadError::sink("enough"));
        }
        Ok(())
    })
    .unwrap_err();
    assert_eq!(e.to_string(), "series callback: enough");
    assert_eq!(calls, 2, "rr_bigint, then the first rr_gauge");
}

// ---------------------------------------------------------------------------------------------
// HTTP, against a loopback server

/// Serves one canned HTTP response per connection, in small pieces, and returns the requests.
fn serve(responses: Vec<Vec<u8>>) -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for resp in responses {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            let body_start = loop {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "client closed early");
                req.extend_from_slice(&buf[..n]);
                if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
            };
            let head = String::from_utf8_lossy(&req[..body_start]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while req.len() < body_start + len {
                let n = conn.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
            }
            // The client may hang up early (it reads only the start of an unwanted body).
            for piece in resp.chunks(200) {
                if conn.write_all(piece).and_then(|()| conn.flush()).is_err() {
                    break;
                }
            }
            requests.push(req);
        }
        requests
    });
    (url, handle)
}

/// A client, with the process-wide TLS provider installed as the binary does (kube and reqwest
/// link two rustls providers, and rustls would refuse to pick one).
fn client() -> reqwest::Client {
    crate::telemetry::install_crypto_provider();
    reqwest::Client::new()
}

fn http(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn http_chunked(body: &[u8]) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-streamed-protobuf; \
        proto=prometheus.ChunkedReadResponse\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    for piece in body.chunks(333) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[tokio::test]
async fn fetch_raw_streams_a_response_and_sends_the_right_request() {
    let (url, server) = serve(vec![http_chunked(MULTI)]);
    let client = client();
    let queries = multi_queries();
    let mut got = Vec::new();
    let stats = fetch_raw(&client, &format!("{url}/"), &queries, |s| {
        got.push((s.query_index, s.labels.to_vec(), s.samples.len()));
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(stats.series, 3);
    assert_eq!(stats.bytes, MULTI.len() as u64);
    assert_eq!(got.iter().map(|g| (g.0, g.2)).collect::<Vec<_>>(), vec![(0, 41), (1, 130), (1, 130)]);
    let req = server.join().unwrap().remove(0);
    let head_end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&req[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("post /api/v1/read http/1.1"), "{head}");
    for h in [
        "content-type: application/x-protobuf",
        "content-encoding: snappy",
        "x-prometheus-remote-read-version: 0.1.0",
    ] {
        assert!(head.contains(h), "{h} missing in {head}");
    }
    assert_eq!(&req[head_end + 4..], read_request_body(&queries).unwrap());
}

#[tokio::test]
async fn servers_without_remote_read_are_told_apart_from_failures() {
    let big_samples_answer = vec![0u8; 100_000];
    let (url, server) = serve(vec![
        http("404 Not Found", "text/plain; charset=utf-8", b"404 page not found\n"),
        http(
            "400 Bad Request",
            "application/json",
            br#"{"status":"error","errorType":"bad_data","error":"unsupported path requested: /api/v1/read"}"#,
        ),
        http("200 OK", "application/x-protobuf", &big_samples_answer),
        http("503 Service Unavailable", "text/plain", b"too many remote read queries"),
        http_chunked(&ALL_DEFAULT[..ALL_DEFAULT.len() - 3]),
        http_chunked(&[]),
        http("404 Not Found", "text/plain", b"404 page not found"),
    ]);
    let client = client();
    let q = [Query::new(0, 1, vec![Matcher::name("x")])];
    let run = || fetch_raw(&client, &url, &q, |_| Ok(()));
    let e = run().await.unwrap_err();
    assert!(e.is_unsupported(), "{e}");
    assert!(e.to_string().contains("HTTP 404"), "{e}");
    let e = run().await.unwrap_err();
    assert!(e.is_unsupported() && e.to_string().contains("unsupported path requested"), "{e}");
    let e = run().await.unwrap_err();
    match &e {
        RemoteReadError::Unsupported { status: 200, body, .. } => assert!(body.len() <= 1024),
        other => panic!("{other}"),
    }
    let e = run().await.unwrap_err();
    assert!(matches!(e, RemoteReadError::Status { status: 503, .. }), "{e}");
    let e = run().await.unwrap_err();
    assert!(matches!(e, RemoteReadError::TruncatedStream { .. }), "{e}");
    assert!(probe(&client, &url).await.unwrap());
    assert!(!probe(&client, &url).await.unwrap());
    server.join().unwrap();
}
