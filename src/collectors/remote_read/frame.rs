//! Framing of a streamed remote-read body: each frame is a uvarint length, a big-endian CRC-32C
//! of the data, then the data (one `ChunkedReadResponse`). [`FrameDecoder`] is fed the body in
//! whatever pieces the network delivers and yields whole, checksum-verified frames; [`Frames`]
//! walks a body already in memory without copying. Pure; no I/O.

use super::crc32c::crc32c;
use super::error::RemoteReadError;
use super::proto::{Varint, uvarint};

/// Default limit on one frame's data: 50 MiB. Prometheus cuts frames at about 1 MiB
/// (`--storage.remote.read-max-bytes-in-frame`), overshooting by at most one chunk.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 50 << 20;

/// Where the next frame lies in a buffer, once its header is complete.
enum Parsed {
    /// Need more bytes.
    Incomplete,
    /// Header length and data length; the frame is `header + 4 + data` bytes.
    Frame { header: usize, size: usize },
}

/// Reads a frame header at the front of `buf`. `frame`/`offset` only label errors.
fn parse_header(buf: &[u8], max: usize, frame: u64, offset: u64) -> Result<Parsed, RemoteReadError> {
    match uvarint(buf) {
        Varint::Incomplete => Ok(Parsed::Incomplete),
        Varint::Overflow => Err(RemoteReadError::FrameLength { frame, offset }),
        Varint::Value(size, header) => match usize::try_from(size) {
            Ok(s) if s <= max => Ok(Parsed::Frame { header, size: s }),
            _ => Err(RemoteReadError::FrameTooLarge { frame, offset, size, limit: max }),
        },
    }
}

/// Checks the CRC of a complete frame at the front of `buf` and returns the data's range.
fn verify(
    buf: &[u8],
    header: usize,
    size: usize,
    frame: u64,
    offset: u64,
) -> Result<Option<std::ops::Range<usize>>, RemoteReadError> {
    let data_start = header + 4;
    let Some(crc) = buf.get(header..data_start).and_then(|b| b.first_chunk::<4>()) else {
        return Ok(None);
    };
    let Some(data_end) = data_start.checked_add(size) else {
        return Ok(None);
    };
    let Some(data) = buf.get(data_start..data_end) else {
        return Ok(None);
    };
    let expected = u32::from_be_bytes(*crc);
    let actual = crc32c(data);
    if expected != actual {
        return Err(RemoteReadError::BadCrc { frame, offset, expected, actual });
    }
    Ok(Some(data_start..data_end))
}

/// Incremental frame decoder: [`push`](Self::push) bytes as they arrive, then take frames with
/// [`next_frame`](Self::next_frame) until it returns `None`; call [`finish`](Self::finish) at the
/// end of the body. Holds at most one partial frame plus the last pushed piece. After an error
/// the stream is unusable; drop the decoder.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    frames: u64,
    max: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_BYTES)
    }
}

impl FrameDecoder {
    /// A decoder that refuses frames whose data exceeds `max_frame_bytes`.
    pub fn new(max_frame_bytes: usize) -> Self {
        FrameDecoder { buf: Vec::new(), start: 0, base: 0, frames: 0, max: max_frame_bytes }
    }

    /// Appends the next piece of the body.
    pub fn push(&mut self, bytes: &[u8]) {
        // Drop consumed bytes once they outweigh the rest, so a frame arriving in many pieces is
        // appended to, not moved, and the buffer never holds more than about twice a frame.
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame's data, checksum verified; `None` until more bytes are pushed.
    /// The slice is valid until the next call on the decoder.
    ///
    /// # Errors
    /// A malformed length prefix, a frame over the size limit (reported as soon as its length
    /// prefix arrives), or a CRC mismatch.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, RemoteReadError> {
        let rest = self.buf.get(self.start..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        let offset = self.base + self.start as u64;
        let Parsed::Frame { header, size } = parse_header(rest, self.max, self.frames, offset)? else {
            return Ok(None);
        };
        let Some(range) = verify(rest, header, size, self.frames, offset)? else {
            // Reserve the whole frame once rather than growing step by step (if memory allows;
            // otherwise the buffer grows as bytes come).
            let need = size.saturating_add(header + 4);
            let _ = self.buf.try_reserve(need.saturating_sub(rest.len()));
            return Ok(None);
        };
        let (from, to) = (self.start + range.start, self.start + range.end);
        self.start = to;
        self.frames += 1;
        Ok(self.buf.get(from..to))
    }

    /// Call after the last byte: an error if the body stopped inside a frame.
    ///
    /// # Errors
    /// [`RemoteReadError::TruncatedStream`] when bytes of an incomplete frame remain.
    pub fn finish(&self) -> Result<(), RemoteReadError> {
        let have = self.buf.len() - self.start;
        if have == 0 {
            return Ok(());
        }
        Err(RemoteReadError::TruncatedStream {
            frame: self.frames,
            offset: self.base + self.start as u64,
            have,
        })
    }

    /// How many frames were returned so far (the index of the next one).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes held for an incomplete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// The frames of a complete body in memory, without copying; stops after the first error.
#[derive(Debug)]
pub struct Frames<'a> {
    body: &'a [u8],
    pos: usize,
    frames: u64,
    max: usize,
    failed: bool,
}

impl<'a> Frames<'a> {
    pub fn new(body: &'a [u8], max_frame_bytes: usize) -> Self {
        Frames { body, pos: 0, frames: 0, max: max_frame_bytes, failed: false }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<&'a [u8], RemoteReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.body.get(self.pos..).unwrap_or_default();
        if self.failed || rest.is_empty() {
            return None;
        }
        let (frame, offset) = (self.frames, self.pos as u64);
        let truncated = RemoteReadError::TruncatedStream { frame, offset, have: rest.len() };
        let result = match parse_header(rest, self.max, frame, offset) {
            Ok(Parsed::Incomplete) => Err(truncated),
            Ok(Parsed::Frame { header, size }) => match verify(rest, header, size, frame, offset) {
                Ok(Some(range)) => {
                    self.pos += range.end;
                    self.frames += 1;
                    Ok(rest.get(range).unwrap_or_default())
                }
                Ok(None) => Err(truncated),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        self.failed = result.is_err();
        Some(result)
    }
}

/// Wraps `data` in one frame, as Prometheus' `ChunkedWriter` does (tests, fixtures, servers).
pub fn encode_frame(data: &[u8], out: &mut Vec<u8>) {
    super::proto::put_uvarint(out, data.len() as u64);
    out.extend_from_slice(&crc32c(data).to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frames: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in frames {
            encode_frame(f, &mut out);
        }
        out
    }

    fn drain(d: &mut FrameDecoder) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            out.push(f.to_vec());
        }
        out
    }

    #[test]
    fn frame_bytes_by_hand() {
        // "123456789" has CRC-32C 0xe3069283.
        assert_eq!(body(&[b"123456789"]), b"\x09\xe3\x06\x92\x83123456789");
    }

    #[test]
    fn byte_by_byte_and_in_one_piece_agree() {
        let big = vec![7u8; 300]; // two-byte length prefix
        let frames: [&[u8]; 4] = [b"a", &big, b"", b"xyz"];
        let b = body(&frames);
        let whole: Vec<Vec<u8>> = Frames::new(&b, 1000).map(|f| f.unwrap().to_vec()).collect();
        assert_eq!(whole, frames.iter().map(|f| f.to_vec()).collect::<Vec<_>>());
        for piece in [1, 2, 3, 7, 64, 1000] {
            let mut d = FrameDecoder::new(1000);
            let mut got = Vec::new();
            for p in b.chunks(piece) {
                d.push(p);
                got.extend(drain(&mut d));
            }
            d.finish().unwrap();
            assert_eq!(got, whole, "pieces of {piece}");
            assert_eq!(d.frames(), 4);
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn too_large_is_refused_from_the_length_alone() {
        let mut d = FrameDecoder::new(10);
        d.push(&[11]); // length 11, nothing else yet
        match d.next_frame() {
            Err(RemoteReadError::FrameTooLarge { frame: 0, offset: 0, size: 11, limit: 10 }) => {}
            other => panic!("{other:?}"),
        }
        let mut d = FrameDecoder::new(10);
        d.push(&body(&[b"0123456789"]));
        assert_eq!(drain(&mut d).len(), 1);
    }

    #[test]
    fn bad_crc_names_the_frame() {
        let mut b = body(&[b"first", b"second"]);
        let last = b.len() - 1;
        b[last] ^= 0x01;
        let mut d = FrameDecoder::default();
        d.push(&b);
        assert_eq!(d.next_frame().unwrap(), Some(&b"first"[..]));
        match d.next_frame() {
            Err(RemoteReadError::BadCrc { frame: 1, offset: 10, .. }) => {}
            other => panic!("{other:?}"),
        }
        let mut it = Frames::new(&b, 100);
        assert!(it.next().unwrap().is_ok());
        assert!(matches!(it.next(), Some(Err(RemoteReadError::BadCrc { frame: 1, .. }))));
        assert!(it.next().is_none());
    }

    #[test]
    fn truncation_anywhere_inside_a_frame_is_reported() {
        let b = body(&[b"hello", b"world!"]);
        let boundaries = [0, 10, b.len()];
        for cut in 0..=b.len() {
            let mut d = FrameDecoder::default();
            d.push(&b[..cut]);
            let n = drain(&mut d).len();
            let whole: Result<Vec<_>, _> = Frames::new(&b[..cut], 100).collect();
            if boundaries.contains(&cut) {
                d.finish().unwrap();
                assert_eq!(whole.unwrap().len(), n);
            } else {
                assert!(matches!(d.finish(), Err(RemoteReadError::TruncatedStream { .. })), "cut {cut}");
                assert!(matches!(whole, Err(RemoteReadError::TruncatedStream { .. })), "cut {cut}");
            }
        }
    }

    #[test]
    fn huge_length_under_an_unbounded_limit_waits_without_overflow() {
        let mut out = Vec::new();
        super::super::proto::put_uvarint(&mut out, u64::MAX);
        out.extend_from_slice(&[0, 0, 0, 0, 1, 2, 3]);
        let mut d = FrameDecoder::new(usize::MAX);
        d.push(&out);
        assert_eq!(d.next_frame().unwrap(), None);
        assert!(matches!(d.finish(), Err(RemoteReadError::TruncatedStream { .. })));
        assert!(matches!(
            Frames::new(&out, usize::MAX).next(),
            Some(Err(RemoteReadError::TruncatedStream { .. }))
        ));
    }

    #[test]
    fn overlong_length_prefix() {
        let mut d = FrameDecoder::default();
        d.push(&[0xff; 11]);
        assert!(matches!(d.next_frame(), Err(RemoteReadError::FrameLength { frame: 0, offset: 0 })));
    }
}
