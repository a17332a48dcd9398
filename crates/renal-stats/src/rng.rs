//! A small, portable, seedable random generator (xoshiro256++ seeded through splitmix64), so
//! results depend only on the seed, never on the platform, the thread count or a global state.
//!
//! # References
//! Blackman D, Vigna S (2021). Scrambled linear pseudorandom number generators. ACM TOMS 47(4).

/// xoshiro256++.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        Rng {
            s: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    /// An independent stream for a sub-task (fold, tree, bootstrap replicate): the child's seed
    /// mixes the parent seed with the index, so it does not depend on scheduling order.
    pub fn derive(seed: u64, index: u64) -> Self {
        let mut x = seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let a = splitmix64(&mut x);
        Rng::new(a ^ index)
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = (self.s[0].wrapping_add(self.s[3]))
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (n > 0), without modulo bias (Lemire's method). A draw is kept
    /// when the low half of its product is at least `2^64 mod n`; that bound is below `n`, so it
    /// is computed (a 64-bit division) only when the low half is below `n`, which is rare: the
    /// same draws kept and rejected as dividing every time.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            let low = m as u64;
            if low >= n || low >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_roughly_uniform() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut counts = [0usize; 10];
        for _ in 0..100_000 {
            counts[a.below(10)] += 1;
        }
        for c in counts {
            assert!((c as f64 - 10_000.0).abs() < 500.0, "{counts:?}");
        }
        let m: f64 = (0..100_000).map(|_| a.f64()).sum::<f64>() / 100_000.0;
        assert!((m - 0.5).abs() < 0.01);
        assert_ne!(Rng::derive(1, 0).next_u64(), Rng::derive(1, 1).next_u64());
    }

    /// `below` keeps and rejects the draws that Lemire's method with the bound computed every
    /// time keeps and rejects (the same stream), for small bounds and for bounds near 2^63,
    /// where a third of the draws are rejected.
    #[test]
    fn below_skips_the_division_without_changing_a_draw() {
        fn always_divide(r: &mut Rng, n: usize) -> usize {
            let n = n as u64;
            loop {
                let m = (r.next_u64() as u128) * (n as u128);
                if m as u64 >= n.wrapping_neg() % n {
                    return (m >> 64) as usize;
                }
            }
        }
        let (mut a, mut b) = (Rng::new(3), Rng::new(3));
        for n in [
            1usize,
            2,
            3,
            7,
            512,
            1 << 20,
            (1 << 62) + 1,
            (1 << 63) + (1 << 61),
        ] {
            for _ in 0..20_000 {
                assert_eq!(a.below(n), always_divide(&mut b, n), "bound {n}");
            }
        }
        assert_eq!(a, b);
    }
}
