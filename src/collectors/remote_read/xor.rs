//! Decoder of Prometheus' XOR chunk encoding (TSDB chunk encoding 1, the Gorilla scheme with
//! millisecond timestamps): a 2-byte big-endian sample count, the first timestamp as a varint and
//! value as 8 bytes, the second as a uvarint delta and an XOR'd value, then delta-of-delta
//! timestamps (`0`, `10`+14, `110`+17, `1110`+20, `1111`+64 bits) and XOR'd values (`0` same
//! value, `10` reuse the previous window, `11` + 5-bit leading zeros + 6-bit length (0 means 64)
//! + bits). See `tsdb/docs/format/chunks.md` in Prometheus. Pure; no I/O.

use super::error::ChunkError;

/// The bit pattern of Prometheus' stale marker, a NaN that no arithmetic produces.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// True for Prometheus' stale marker (and only it: other NaNs are ordinary values).
#[inline]
pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// `prompb.Chunk.Encoding` of XOR chunks.
pub const ENCODING_XOR: u64 = 1;

/// One raw sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The value bits as stored; NaN payloads (the stale marker) are kept.
    pub value: f64,
}

impl Sample {
    /// True if this sample is a stale marker (the series ended or a target vanished).
    #[inline]
    pub fn is_stale(&self) -> bool {
        is_stale_marker(self.value)
    }
}

/// Reads bits most-significant first. `buf` holds `avail` valid bits at its top; the bits below
/// them are zero or the stream's next bits, so refilling may OR the same bits in again.
#[derive(Debug, Clone)]
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    avail: u32,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0, buf: 0, avail: 0 }
    }

    #[inline(always)]
    fn refill(&mut self) {
        if let Some(word) = self.data.get(self.pos..).and_then(|r| r.first_chunk::<8>()) {
            // Load 8 bytes at once; whole bytes that fit are accounted for.
            self.buf |= u64::from_be_bytes(*word) >> self.avail;
            let bytes = (63 - self.avail) >> 3;
            self.pos += bytes as usize;
            self.avail += bytes * 8;
        } else {
            while self.avail <= 56 {
                let Some(&b) = self.data.get(self.pos) else { break };
                self.buf |= u64::from(b) << (56 - self.avail);
                self.pos += 1;
                self.avail += 8;
            }
        }
    }

    /// `n` bits, 1 ≤ n ≤ 56; `None` at the end of the data.
    #[inline(always)]
    fn bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!((1..=56).contains(&n));
        if self.avail < n {
            self.refill();
            if self.avail < n {
                return None;
            }
        }
        let v = self.buf >> (64 - n);
        self.buf <<= n;
        self.avail -= n;
        Some(v)
    }

    /// `n` bits, 0 ≤ n ≤ 64.
    #[inline(always)]
    fn bits_wide(&mut self, n: u32) -> Option<u64> {
        match n {
            0 => Some(0),
            1..=56 => self.bits(n),
            _ => {
                let hi = self.bits(n - 32)?;
                let lo = self.bits(32)?;
                Some((hi << 32) | lo)
            }
        }
    }

    #[inline(always)]
    fn bit(&mut self) -> Option<bool> {
        self.bits(1).map(|b| b == 1)
    }

    /// The next `n` bits (1 ≤ n ≤ 56) without consuming them, if that many remain.
    #[inline(always)]
    fn peek(&mut self, n: u32) -> Option<u64> {
        if self.avail < n {
            self.refill();
            if self.avail < n {
                return None;
            }
        }
        Some(self.buf >> (64 - n))
    }

    /// Consumes `n` bits that [`peek`](Self::peek) showed.
    #[inline(always)]
    fn skip(&mut self, n: u32) {
        debug_assert!(n <= self.avail && n <= 56);
        self.buf <<= n;
        self.avail -= n;
    }

    /// A base-128 varint read as whole bytes from the bit stream.
    fn uvarint(&mut self) -> Result<Option<u64>, ()> {
        let mut x = 0u64;
        for i in 0..10 {
            let Some(b) = self.bits(8) else { return Ok(None) };
            if i == 9 && b > 1 {
                return Err(());
            }
            x |= (b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(Some(x));
            }
        }
        Err(())
    }
}

/// Iterator over the samples of one XOR chunk, in the order stored (time order for chunks
/// Prometheus wrote). Yields an error at most once, then ends.
#[derive(Debug, Clone)]
pub struct XorSamples<'a> {
    br: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    delta: u64,
    v: u64,
    leading: u8,
    trailing: u8,
}

/// Samples of a chunk of the given `prompb.Chunk.Encoding`; anything but XOR is refused.
///
/// # Errors
/// [`ChunkError::UnsupportedEncoding`] naming the encoding, or [`ChunkError::MissingHeader`].
pub fn decode_chunk(encoding: u64, data: &[u8]) -> Result<XorSamples<'_>, ChunkError> {
    if encoding != ENCODING_XOR {
        return Err(ChunkError::UnsupportedEncoding { encoding });
    }
    xor_samples(data)
}

/// Samples of an XOR chunk's bytes (as in `prompb.Chunk.data`).
///
/// # Errors
/// [`ChunkError::MissingHeader`] if `data` is shorter than the 2-byte sample count.
pub fn xor_samples(data: &[u8]) -> Result<XorSamples<'_>, ChunkError> {
    let Some((count, rest)) = data.split_first_chunk::<2>() else {
        return Err(ChunkError::MissingHeader { len: data.len() });
    };
    Ok(XorSamples {
        br: BitReader::new(rest),
        total: u16::from_be_bytes(*count),
        read: 0,
        t: 0,
        delta: 0,
        v: 0,
        leading: 0,
        trailing: 0,
    })
}

impl XorSamples<'_> {
    /// Appends the remaining samples to `out`; faster than iterating. On error, `out` holds the
    /// samples before the bad one.
    ///
    /// # Errors
    /// As the iterator's items.
    pub fn decode_into(mut self, out: &mut Vec<Sample>) -> Result<(), ChunkError> {
        out.reserve(usize::from(self.total - self.read));
        while self.read < self.total {
            let s = self.read_sample()?;
            self.read += 1;
            out.push(s);
        }
        Ok(())
    }

    /// The sample count from the chunk header.
    pub fn total(&self) -> u16 {
        self.total
    }

    #[cold]
    fn truncated(&self) -> ChunkError {
        ChunkError::Truncated { sample: self.read, total: self.total }
    }

    #[inline(always)]
    fn read_sample(&mut self) -> Result<Sample, ChunkError> {
        match self.read {
            0 => {
                let ux = self
                    .br
                    .uvarint()
                    .map_err(|()| ChunkError::VarintOverflow { sample: 0 })?
                    .ok_or_else(|| self.truncated())?;
                // Zig-zag, as Go's binary.PutVarint.
                self.t = ((ux >> 1) as i64) ^ -((ux & 1) as i64);
                self.v = self.br.bits_wide(64).ok_or_else(|| self.truncated())?;
            }
            1 => {
                self.delta = self
                    .br
                    .uvarint()
                    .map_err(|()| ChunkError::VarintOverflow { sample: 1 })?
                    .ok_or_else(|| self.truncated())?;
                self.t = self.t.wrapping_add(self.delta as i64);
                self.read_value()?;
            }
            _ => {
                // The common case, a regular interval and an unchanged value, is two 0 bits.
                if self.br.peek(2) == Some(0) {
                    self.br.skip(2);
                    self.t = self.t.wrapping_add(self.delta as i64);
                    return Ok(Sample { timestamp_ms: self.t, value: f64::from_bits(self.v) });
                }
                let dod = self.read_dod().ok_or_else(|| self.truncated())?;
                self.delta = self.delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.delta as i64);
                self.read_value()?;
            }
        }
        Ok(Sample { timestamp_ms: self.t, value: f64::from_bits(self.v) })
    }

    /// Delta of delta: `0`, or `10`, `110`, `1110` followed by a 14, 17 or 20-bit signed number,
    /// or `1111` followed by 64 bits.
    #[inline(always)]
    fn read_dod(&mut self) -> Option<i64> {
        let prefix = if let Some(top) = self.br.peek(4) {
            // Count the leading ones of the 4-bit prefix; a zero ends it.
            let ones = ((top as u32) << 28).leading_ones();
            self.br.skip(if ones == 4 { 4 } else { ones + 1 });
            ones
        } else {
            let mut ones = 0u32;
            while ones < 4 {
                if !self.br.bit()? {
                    break;
                }
                ones += 1;
            }
            ones
        };
        let size = match prefix {
            0 => return Some(0),
            1 => 14,
            2 => 17,
            3 => 20,
            _ => return self.br.bits_wide(64).map(|b| b as i64),
        };
        let bits = self.br.bits(size)?;
        // The encoder's range is -(2^(n-1) - 1) ..= 2^(n-1): a value above 2^(n-1) is negative.
        Some(if bits > 1 << (size - 1) { bits as i64 - (1i64 << size) } else { bits as i64 })
    }

    /// `0`: same value; `10`: XOR bits in the previous leading/trailing window; `11`: 5 bits of
    /// leading zeros, 6 bits of length (0 means 64), then the XOR bits.
    #[inline(always)]
    fn read_value(&mut self) -> Result<(), ChunkError> {
        if !self.br.bit().ok_or_else(|| self.truncated())? {
            return Ok(());
        }
        if self.br.bit().ok_or_else(|| self.truncated())? {
            let leading = self.br.bits(5).ok_or_else(|| self.truncated())? as u8;
            let mut significant = self.br.bits(6).ok_or_else(|| self.truncated())? as u8;
            if significant == 0 {
                significant = 64;
            }
            if u32::from(leading) + u32::from(significant) > 64 {
                return Err(ChunkError::BadWidth { sample: self.read, leading, significant });
            }
            self.leading = leading;
            self.trailing = 64 - leading - significant;
        }
        // Before any `11` the window is 0/0, i.e. 64 bits, as in Prometheus' reader.
        let significant = 64 - u32::from(self.leading) - u32::from(self.trailing);
        let bits = self.br.bits_wide(significant).ok_or_else(|| self.truncated())?;
        // significant ≥ 1, so trailing ≤ 63.
        self.v ^= bits << self.trailing;
        Ok(())
    }
}

impl Iterator for XorSamples<'_> {
    type Item = Result<Sample, ChunkError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.read >= self.total {
            return None;
        }
        match self.read_sample() {
            Ok(s) => {
                self.read += 1;
                Some(Ok(s))
            }
            Err(e) => {
                self.read = self.total;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::from(self.total - self.read);
        (0, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(data: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
        xor_samples(data)?.map(|s| s.map(|s| (s.timestamp_ms, s.value))).collect()
    }

    // Chunks below are worked out bit by bit from the format description.

    #[test]
    fn one_sample() {
        // count 1 | varint zig-zag(1000) = 2000 = d0 0f | 1.0
        let c = [0x00, 0x01, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0];
        assert_eq!(all(&c).unwrap(), vec![(1000, 1.0)]);
        // Negative first timestamp: zig-zag(-3) = 5.
        let c = [0x00, 0x01, 0x05, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0];
        assert_eq!(all(&c).unwrap(), vec![(-3, -1.0)]);
    }

    #[test]
    fn two_samples_same_value() {
        // ... | uvarint delta 15 | '0' (same value), padded
        let c = [0x00, 0x02, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x0f, 0x00];
        assert_eq!(all(&c).unwrap(), vec![(1000, 1.0), (1015, 1.0)]);
    }

    #[test]
    fn three_samples_new_window() {
        // sample 1: '0'; sample 2: dod '0', value 2.0: 1.0 ^ 2.0 = 0x7ff0_0000_0000_0000, 1
        // leading zero, 11 significant bits: '11' '00001' '001011' '11111111111'.
        // Bits: 0 0 11 00001 001011 11111111111 -> 0x30 0x97 0xff 0xc0
        let c = [0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x0f, 0x30, 0x97, 0xff, 0xc0];
        assert_eq!(all(&c).unwrap(), vec![(1000, 1.0), (1015, 1.0), (1030, 2.0)]);
    }

    #[test]
    fn delta_of_delta_minus_one() {
        // t 0, 10, 20, 29 (dod 0 then -1: '10' + 14 ones), value 0.0 throughout.
        // Bits: 0 | 0 0 | 10 11111111111111 0 -> 0x17 0xff 0xe0
        let c = [0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x17, 0xff, 0xe0];
        assert_eq!(all(&c).unwrap(), vec![(0, 0.0), (10, 0.0), (20, 0.0), (29, 0.0)]);
    }

    #[test]
    fn reuse_window_and_64_significant_bits() {
        // Values 1.0, -1.0000000000000002 (XOR 0x8000_0000_0000_0001: 0 leading, 64 bits,
        // written as length 0), then 1.0 again in the same window ('10' + 64 bits).
        // t 0, 1, 2. After 0x00 | 1.0 | delta 0x01:
        // '11' '00000' '000000' 1 0*62 1 | '0' (dod) '10' 1 0*62 1
        let mut bits = String::from("1100000000000");
        bits += &format!("1{}1", "0".repeat(62));
        bits += &format!("010{}{}", "1", "0".repeat(62) + "1");
        while bits.len() % 8 != 0 {
            bits.push('0');
        }
        let mut c = vec![0x00, 0x03, 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x01];
        for i in (0..bits.len()).step_by(8) {
            c.push(u8::from_str_radix(&bits[i..i + 8], 2).unwrap());
        }
        assert_eq!(all(&c).unwrap(), vec![(0, 1.0), (1, -1.000_000_000_000_000_2), (2, 1.0)]);
    }

    #[test]
    fn stale_marker_is_recognised() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        assert!(is_stale_marker(stale));
        assert!(!is_stale_marker(f64::NAN));
        assert!(!is_stale_marker(f64::from_bits(0x7ff8_0000_0000_0001))); // Go's math.NaN()
        let mut c = vec![0x00, 0x01, 0x00];
        c.extend_from_slice(&STALE_NAN_BITS.to_be_bytes());
        let s = xor_samples(&c).unwrap().next().unwrap().unwrap();
        assert!(s.is_stale());
        assert_eq!(s.value.to_bits(), STALE_NAN_BITS);
    }

    #[test]
    fn errors() {
        assert_eq!(xor_samples(&[0x00]).err(), Some(ChunkError::MissingHeader { len: 1 }));
        assert_eq!(all(&[0x00, 0x00]).unwrap(), vec![]);
        // Count 2 but only one sample's bytes.
        let c = [0x00, 0x02, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0];
        assert_eq!(all(&c), Err(ChunkError::Truncated { sample: 1, total: 2 }));
        // First timestamp varint never ends.
        let mut c = vec![0x00, 0x01];
        c.extend_from_slice(&[0xff; 12]);
        assert_eq!(all(&c), Err(ChunkError::VarintOverflow { sample: 0 }));
        // '11', 31 leading zeros, 40 significant bits: 71 > 64.
        let c = [0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0b1111_1111, 0b0100_0000, 0, 0, 0, 0, 0, 0];
        assert_eq!(all(&c), Err(ChunkError::BadWidth { sample: 1, leading: 31, significant: 40 }));
        let e = decode_chunk(2, &[0, 0]).err().unwrap();
        assert_eq!(e, ChunkError::UnsupportedEncoding { encoding: 2 });
        assert!(e.to_string().contains("chunk encoding 2 (HISTOGRAM)"), "{e}");
        let e = decode_chunk(4, &[0, 0]).err().unwrap();
        assert!(e.to_string().contains("4 (XOR2)"), "{e}");
    }
}
