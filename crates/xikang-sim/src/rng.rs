//! Seeded randomness. Every stream is a ChaCha8 generator keyed by (seed, purpose, index),
//! so that the city, each simulated day and each chunk of people draw from independent
//! streams: a day can be generated alone, in any order or in parallel, and adding a new
//! purpose later (pings, drills) never shifts the numbers an existing one sees.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// What a stream is used for. The discriminants are part of the output: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Purpose {
    Areas = 1,
    People = 2,
    Schools = 3,
    Work = 4,
    Venues = 5,
    Favourites = 6,
    Day = 7,
    Screening = 8,
    Epidemic = 9,
}

/// A seeded generator with the few sampling helpers the simulation needs (rand_core only
/// offers raw words; pulling in `rand` for ranges would add a dependency for ten lines).
#[derive(Debug, Clone)]
pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    /// The stream for `(seed, purpose, index)`.
    pub fn new(seed: u64, purpose: Purpose, index: u64) -> Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
        key[16..24].copy_from_slice(&index.to_le_bytes());
        key[24..].copy_from_slice(b"xikang-1");
        Rng(ChaCha8Rng::from_seed(key))
    }

    /// A uniform 32-bit word.
    pub fn u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// A uniform 64-bit word.
    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0). Multiply-shift: the bias is below 2^-32·n,
    /// irrelevant for a simulation and cheaper than rejection.
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.u32()) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        f64::from(self.u32()) < p * 4_294_967_296.0
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        f64::from(self.u32()) / 4_294_967_296.0
    }

    /// An element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u32) as usize)
    }

    /// An index drawn with the given weights (0 if all are zero).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return 0;
        }
        let mut x = ((u128::from(self.u64()) * u128::from(total)) >> 64) as u64;
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u32 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// SplitMix64 finaliser: a cheap stateless hash for decisions that several people must
/// agree on without sharing a stream (a household's weekend outing).
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Splits `total` into parts proportional to `weights` (largest remainder), so the parts
/// always add up exactly.
pub(crate) fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u64 = weights.iter().sum();
    if sum == 0 || weights.is_empty() {
        let mut v = vec![0; weights.len()];
        if let Some(first) = v.first_mut() {
            *first = total;
        }
        return v;
    }
    let mut parts: Vec<u64> = Vec::with_capacity(weights.len());
    let mut rems: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = u128::from(total) * u128::from(w);
        parts.push((exact / u128::from(sum)) as u64);
        rems.push((exact % u128::from(sum), i));
    }
    let left = total - parts.iter().sum::<u64>();
    // Largest remainders first; ties by index so the split is deterministic.
    rems.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rems.iter().take(left as usize) {
        parts[i] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_purpose_and_index() {
        let a = Rng::new(1, Purpose::Day, 0).u64();
        assert_eq!(a, Rng::new(1, Purpose::Day, 0).u64());
        assert_ne!(a, Rng::new(2, Purpose::Day, 0).u64());
        assert_ne!(a, Rng::new(1, Purpose::People, 0).u64());
        assert_ne!(a, Rng::new(1, Purpose::Day, 1).u64());
    }

    #[test]
    fn below_and_range_stay_in_bounds() {
        let mut r = Rng::new(7, Purpose::Areas, 0);
        for _ in 0..10_000 {
            assert!(r.below(13) < 13);
            let x = r.range(5, 9);
            assert!((5..=9).contains(&x));
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn apportion_adds_up_and_follows_the_weights() {
        let parts = apportion(1000, &[1, 2, 7]);
        assert_eq!(parts, vec![100, 200, 700]);
        let parts = apportion(10, &[1, 1, 1]);
        assert_eq!(parts.iter().sum::<u64>(), 10);
        assert_eq!(parts, vec![4, 3, 3]);
        assert_eq!(apportion(5, &[0, 0]), vec![5, 0]);
    }

    #[test]
    fn weighted_never_picks_a_zero_weight() {
        let mut r = Rng::new(3, Purpose::Areas, 0);
        for _ in 0..1000 {
            assert_eq!(r.weighted(&[0, 5, 0]), 1);
        }
    }
}
