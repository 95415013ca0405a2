//! Kubernetes resource quantities as typed units (`Millicores`, `Bytes`); pure parsing, no I/O.
//!
//! The grammar is the one of `k8s.io/apimachinery/pkg/api/resource`:
//! `<sign?><digits>[.<digits>]<suffix>` where the suffix is a binary SI suffix
//! (`Ki Mi Gi Ti Pi Ei`, powers of 1024), a decimal SI suffix (`n u m "" k M G T P E`,
//! powers of 1000) or a decimal exponent (`e3`, `E-2`). Values are kept exact (a mantissa
//! and exponents) until they are converted to a unit, where fractions are rounded up as
//! Kubernetes does (`MilliValue`, `Value`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a quantity string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("empty quantity")]
    Empty,
    #[error("invalid quantity {input:?}: {reason}")]
    Invalid { input: String, reason: &'static str },
    #[error("quantity {input:?} is out of range")]
    OutOfRange { input: String },
    #[error("quantity {input:?} is negative, a resource amount cannot be")]
    Negative { input: String },
}

/// A parsed quantity: `sign × mantissa × 10^exp10 × 1024^exp1024`, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    negative: bool,
    mantissa: u128,
    exp10: i32,
    exp1024: u32,
}

const MAX_MANTISSA_DIGITS: usize = 36;

impl Quantity {
    /// Parses any Kubernetes quantity form: `100m`, `0.5`, `1Gi`, `1G`, `1e3`, `512Ki`, `.5`, `+2`.
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(QuantityError::Empty);
        }
        let invalid = |reason: &'static str| QuantityError::Invalid { input: input.to_string(), reason };
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if bytes[0] == b'+' || bytes[0] == b'-' {
            negative = bytes[0] == b'-';
            i = 1;
        }
        let mut mantissa: u128 = 0;
        let mut digits = 0usize;
        let mut frac_digits: i32 = 0;
        let mut seen_point = false;
        let mut any_digit = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_digit() {
                any_digit = true;
                // Leading zeros do not count towards the precision limit.
                if mantissa != 0 || c != b'0' {
                    digits += 1;
                }
                if digits > MAX_MANTISSA_DIGITS {
                    return Err(QuantityError::OutOfRange { input: input.to_string() });
                }
                mantissa = mantissa * 10 + u128::from(c - b'0');
                if seen_point {
                    frac_digits += 1;
                }
            } else if c == b'.' {
                if seen_point {
                    return Err(invalid("more than one decimal point"));
                }
                seen_point = true;
            } else {
                break;
            }
            i += 1;
        }
        if !any_digit {
            return Err(invalid("no digits before the suffix"));
        }
        let suffix = &s[i..];
        let (exp10, exp1024) = match suffix {
            "" => (0, 0),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            "Ki" => (0, 1),
            "Mi" => (0, 2),
            "Gi" => (0, 3),
            "Ti" => (0, 4),
            "Pi" => (0, 5),
            "Ei" => (0, 6),
            other => {
                let rest = other
                    .strip_prefix('e')
                    .or_else(|| other.strip_prefix('E'))
                    .ok_or_else(|| invalid("unknown suffix (expected one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or an exponent like e3)"))?;
                let (neg, num) = match rest.as_bytes().first() {
                    Some(b'+') => (false, &rest[1..]),
                    Some(b'-') => (true, &rest[1..]),
                    _ => (false, rest),
                };
                if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid("exponent must be an integer"));
                }
                let e: i32 =
                    num.parse().map_err(|_| QuantityError::OutOfRange { input: input.to_string() })?;
                if e > 60 {
                    return Err(QuantityError::OutOfRange { input: input.to_string() });
                }
                (if neg { -e } else { e }, 0)
            }
        };
        Ok(Quantity { negative: negative && mantissa != 0, mantissa, exp10: exp10 - frac_digits, exp1024 })
    }

    /// True when the quantity is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The value scaled by `10^scale` and rounded up (towards +∞ for positive values), as an
    /// unsigned integer; `None` when it does not fit. `scale = 3` gives milli-units.
    fn scaled_ceil(&self, scale: i32) -> Option<u128> {
        let mut value = self.mantissa;
        for _ in 0..self.exp1024 {
            value = value.checked_mul(1024)?;
        }
        let e = self.exp10 + scale;
        if e >= 0 {
            for _ in 0..e {
                value = value.checked_mul(10)?;
            }
            Some(value)
        } else {
            let mut div: u128 = 1;
            for _ in 0..(-e) {
                div = match div.checked_mul(10) {
                    Some(d) => d,
                    // Divisor larger than any u128 value: the result is 0 or 1.
                    None => return Some(u128::from(value > 0)),
                };
            }
            Some(value.div_ceil(div))
        }
    }

    /// The value as `f64` (approximate for very large or very precise values).
    pub fn as_f64(&self) -> f64 {
        // Mantissa has at most 36 digits, well inside f64's range.
        #[allow(clippy::cast_precision_loss)]
        let m = self.mantissa as f64;
        let v = m * 10f64.powi(self.exp10) * 1024f64.powi(self.exp1024 as i32);
        if self.negative { -v } else { v }
    }
}

/// CPU in thousandths of a core. `Millicores(1500)` is 1.5 cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millicores(pub u64);

/// Memory or storage in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub u64);

impl Millicores {
    /// Parses a CPU quantity; fractions of a millicore round up (`0.0001` → `1m`), as the kubelet does.
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let q = Quantity::parse(input)?;
        if q.negative {
            return Err(QuantityError::Negative { input: input.to_string() });
        }
        q.scaled_ceil(3)
            .and_then(|v| u64::try_from(v).ok())
            .map(Millicores)
            .ok_or_else(|| QuantityError::OutOfRange { input: input.to_string() })
    }

    /// Cores as a float: `millicores / 1000`.
    pub fn cores(self) -> f64 {
        // Realistic CPU amounts are far below 2^53 millicores.
        #[allow(clippy::cast_precision_loss)]
        let v = self.0 as f64;
        v / 1000.0
    }

    /// Rounds a number of cores up to whole millicores (negative and NaN become 0).
    pub fn from_cores(cores: f64) -> Self {
        if cores.is_nan() || cores <= 0.0 {
            return Millicores(0);
        }
        // Saturating float→int conversion is the intent here.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = (cores * 1000.0 - 1e-9).ceil() as u64;
        Millicores(v)
    }
}

impl Bytes {
    /// Parses a memory/storage quantity; fractional bytes round up (`1.5` → `2`).
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let q = Quantity::parse(input)?;
        if q.negative {
            return Err(QuantityError::Negative { input: input.to_string() });
        }
        q.scaled_ceil(0)
            .and_then(|v| u64::try_from(v).ok())
            .map(Bytes)
            .ok_or_else(|| QuantityError::OutOfRange { input: input.to_string() })
    }

    /// Bytes as a float.
    pub fn as_f64(self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let v = self.0 as f64;
        v
    }

    /// Mebibytes (2^20 bytes) as a float.
    pub fn mib(self) -> f64 {
        self.as_f64() / 1_048_576.0
    }

    /// GiB (2^30 bytes) as a float.
    pub fn gib(self) -> f64 {
        self.as_f64() / 1_073_741_824.0
    }
}

impl fmt::Display for Millicores {
    /// Canonical Kubernetes form: whole cores without a suffix (`2`), otherwise millicores (`250m`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) { write!(f, "{}", self.0 / 1000) } else { write!(f, "{}m", self.0) }
    }
}

impl fmt::Display for Bytes {
    /// Canonical Kubernetes form: the largest binary suffix that divides exactly (`512Mi`), else plain bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SUFFIXES: [&str; 6] = ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"];
        if self.0 != 0 {
            for (i, suffix) in SUFFIXES.iter().enumerate() {
                let unit = 1u64 << (10 * (6 - i));
                if self.0.is_multiple_of(unit) {
                    return write!(f, "{}{}", self.0 / unit, suffix);
                }
            }
        }
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for Millicores {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Millicores::parse(s)
    }
}

impl std::str::FromStr for Bytes {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bytes::parse(s)
    }
}

impl std::ops::Add for Millicores {
    type Output = Millicores;
    fn add(self, rhs: Self) -> Self {
        Millicores(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::AddAssign for Millicores {
    fn add_assign(&mut self, rhs: Self) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl std::ops::Add for Bytes {
    type Output = Bytes;
    fn add(self, rhs: Self) -> Self {
        Bytes(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::AddAssign for Bytes {
    fn add_assign(&mut self, rhs: Self) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl std::iter::Sum for Millicores {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Millicores(0), |a, b| a + b)
    }
}

impl std::iter::Sum for Bytes {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Bytes(0), |a, b| a + b)
    }
}

/// JSON form: CPU as cores (a number), so `-o json` consumers get plain units.
impl Serialize for Millicores {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.cores())
    }
}

/// JSON form: bytes as an integer.
impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Millicores {
    /// Accepts a Kubernetes quantity string (`"250m"`) or a number of cores (`0.25`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(Millicores::from_cores(n)),
            Raw::Str(s) => Millicores::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    /// Accepts a Kubernetes quantity string (`"512Mi"`) or a number of bytes.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(Bytes(n)),
            Raw::Str(s) => Bytes::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        let cases = [
            ("100m", 100),
            ("0.5", 500),
            (".5", 500),
            ("1", 1000),
            ("+2", 2000),
            ("2.", 2000),
            ("1e3", 1_000_000),
            ("1E3", 1_000_000),
            ("1e-3", 1),
            ("1.5k", 1_500_000),
            ("250000u", 250),
            ("1n", 1),
            ("0.0001", 1),
            ("0", 0),
            ("-0", 0),
            ("1Ki", 1_024_000),
            (" 250m ", 250),
        ];
        for (input, want) in cases {
            assert_eq!(Millicores::parse(input), Ok(Millicores(want)), "{input}");
        }
    }

    #[test]
    fn memory_forms() {
        let cases = [
            ("1Gi", 1u64 << 30),
            ("1G", 1_000_000_000),
            ("512Ki", 512 * 1024),
            ("128974848", 128_974_848),
            ("129e6", 129_000_000),
            ("129M", 129_000_000),
            ("123Mi", 123 * 1024 * 1024),
            ("1.5Gi", 3 << 29),
            ("0.5", 1),
            ("1500m", 2),
            ("1Ei", 1u64 << 60),
            ("8E", 8_000_000_000_000_000_000),
            ("1e0", 1),
            ("1E+2", 100),
        ];
        for (input, want) in cases {
            assert_eq!(Bytes::parse(input), Ok(Bytes(want)), "{input}");
        }
    }

    #[test]
    fn invalid_forms_are_rejected_with_a_reason() {
        for input in ["", "abc", "1.2.3", "1Xi", "Mi", "1 Gi", "1e", "1e+", "1ee3", "--1", "1Gb", "0x10"] {
            assert!(Quantity::parse(input).is_err(), "{input:?} should fail");
        }
        assert!(matches!(Bytes::parse("-1Gi"), Err(QuantityError::Negative { .. })));
        assert!(matches!(Bytes::parse("100Ei"), Err(QuantityError::OutOfRange { .. })));
        let err = Quantity::parse("12q").unwrap_err().to_string();
        assert!(err.contains("12q") && err.contains("suffix"), "{err}");
    }

    #[test]
    fn display_round_trips() {
        for m in [0u64, 1, 5, 100, 250, 999, 1000, 1001, 2000, 123_456] {
            let s = Millicores(m).to_string();
            assert_eq!(Millicores::parse(&s), Ok(Millicores(m)), "{s}");
        }
        for b in [0u64, 1, 1000, 1024, 1536, 512 * 1024, 1 << 20, 3 << 29, 1 << 30, (1 << 30) + 1, u64::MAX] {
            let s = Bytes(b).to_string();
            assert_eq!(Bytes::parse(&s), Ok(Bytes(b)), "{s}");
        }
        assert_eq!(Bytes(512 * 1024 * 1024).to_string(), "512Mi");
        assert_eq!(Millicores(2000).to_string(), "2");
        assert_eq!(Millicores(250).to_string(), "250m");
    }

    #[test]
    fn serde_accepts_strings_and_numbers() {
        let m: Millicores = serde_json::from_str("\"250m\"").unwrap();
        assert_eq!(m, Millicores(250));
        let m: Millicores = serde_json::from_str("0.25").unwrap();
        assert_eq!(m, Millicores(250));
        let b: Bytes = serde_json::from_str("\"1Ki\"").unwrap();
        assert_eq!(b, Bytes(1024));
        assert_eq!(serde_json::to_string(&Millicores(1500)).unwrap(), "1.5");
    }

    #[test]
    fn from_cores_rounds_up() {
        assert_eq!(Millicores::from_cores(0.2501), Millicores(251));
        assert_eq!(Millicores::from_cores(0.25), Millicores(250));
        assert_eq!(Millicores::from_cores(f64::NAN), Millicores(0));
    }
}
