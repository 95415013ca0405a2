//! Deterministic randomness for the demo generator: a splitmix64 generator, stable hashing
//! of names, and the identifier shapes Kubernetes uses (UUIDs, pod-template hashes, name
//! suffixes, container ids). Pure; no I/O.

use std::fmt::Write as _;

/// splitmix64: tiny, fast and good enough for simulated noise.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub(super) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// One element of a non-empty slice.
    pub(super) fn pick<T: Copy>(&mut self, items: &[T], fallback: T) -> T {
        items.get(self.below(items.len() as u64) as usize).copied().unwrap_or(fallback)
    }
}

/// The splitmix64 finaliser: a good 64-bit mixing function.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over the parts (each followed by a separator byte), mixed with `seed`.
pub(super) fn hash(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    mix(h ^ mix(seed))
}

/// A version-4-shaped UUID derived from `h`.
pub(super) fn uuid(h: u64) -> String {
    let a = mix(h);
    let b = mix(h ^ 0x5555_5555_5555_5555);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// The alphabet of `k8s.io/apimachinery/pkg/util/rand` (no vowels, no confusable digits).
const SAFE: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// A `pod-template-hash` / `controller-revision-hash`: `SafeEncodeString` of the decimal
/// form of a 32-bit hash, as the controllers compute it (hence the `4-9bcdf` look).
pub(super) fn template_hash(h: u64) -> String {
    let n = ((h & 0xffff_ffff) as u32) | 0x4000_0000;
    n.to_string().bytes().map(|b| SAFE[usize::from(b) % SAFE.len()] as char).collect()
}

/// A random name suffix (`generateName`), `len` characters of the safe alphabet.
pub(super) fn suffix(h: u64, len: usize) -> String {
    let mut x = mix(h);
    (0..len)
        .map(|_| {
            let c = SAFE[(x % 27) as usize] as char;
            x /= 27;
            c
        })
        .collect()
}

/// `len` lowercase hex digits derived from `h`.
pub(super) fn hex(h: u64, len: usize) -> String {
    let mut s = String::with_capacity(len + 16);
    let mut x = h;
    while s.len() < len {
        x = mix(x.wrapping_add(0x9E37_79B9_7F4A_7C15));
        let _ = write!(s, "{x:016x}");
    }
    s.truncate(len);
    s
}
