//! numpy's legacy `RandomState`, bit for bit: the reference envs draw their task lists and reset
//! noise from it (`np.random.seed(1337); np.random.uniform(0, 3, size=(n,))` in oyster,
//! Meta-World's ML1 goals), so the same seed must give the same floats here.
//!
//! MT19937 (Matsumoto & Nishimura 1998) with numpy's seeding (`seed(int)` = init_genrand,
//! `seed(array)` = init_by_array), 53-bit doubles, the polar Box-Muller `gauss` with its cached
//! second value, and the masked rejection sampling of the legacy `randint`.

const N: usize = 624;
const M: usize = 397;

#[derive(Clone)]
pub struct RandomState {
    key: [u32; N],
    pos: usize,
    /// The second normal of the last polar Box-Muller pair, returned by the next `standard_normal`.
    gauss: Option<f64>,
}

impl std::fmt::Debug for RandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomState").field("pos", &self.pos).field("gauss", &self.gauss).finish_non_exhaustive()
    }
}

impl RandomState {
    /// `np.random.RandomState(seed)` / `np.random.seed(seed)` for an integer seed.
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; N];
        key[0] = seed;
        for i in 1..N {
            key[i] = 1812433253u32.wrapping_mul(key[i - 1] ^ (key[i - 1] >> 30)).wrapping_add(i as u32);
        }
        RandomState { key, pos: N, gauss: None }
    }

    /// `np.random.RandomState([k0, k1, ...])`: MT19937's init_by_array.
    pub fn from_key(init_key: &[u32]) -> Self {
        let mut rs = RandomState::new(19650218);
        let mt = &mut rs.key;
        let (mut i, mut j) = (1usize, 0usize);
        let len = init_key.len().max(1);
        for _ in 0..N.max(init_key.len()) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            let k = init_key.get(j).copied().unwrap_or(0);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1664525)).wrapping_add(k).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1566083941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        rs
    }

    fn regenerate(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for i in 0..N {
            let y = (self.key[i] & UPPER) | (self.key[(i + 1) % N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.key[i] = self.key[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.pos = 0;
    }

    /// The next raw 32-bit output (tempered).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == N {
            self.regenerate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn next_u64(&mut self) -> u64 {
        let high = self.next_u32() as u64;
        (high << 32) | self.next_u32() as u64
    }

    /// `random_sample()` / `random()`: a double in [0, 1) from 53 random bits.
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67108864.0 + b) / 9007199254740992.0
    }

    /// `uniform(low, high)`: low + (high - low) · U, as numpy computes it.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// `standard_normal()` / `randn()`: legacy polar Box-Muller.
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(cached) = self.gauss.take() {
            return cached;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// `normal(loc, scale)`.
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.standard_normal()
    }

    /// `randint(low, high)` (high exclusive, default int64 dtype): masked rejection sampling.
    /// Panics if `high <= low`, which numpy rejects with ValueError.
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        assert!(high > low, "randint: high ({high}) must exceed low ({low})");
        let range = (high - low - 1) as u64;
        low.wrapping_add(self.bounded(range) as i64)
    }

    /// A uniform integer in [0, max] by masking to the next power of two and rejecting.
    fn bounded(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u32::MAX as u64 {
            loop {
                let v = (self.next_u32() as u64) & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `shuffle(x)` of a 1-d sequence: Fisher-Yates from the end with legacy `random_interval`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.bounded(i as u64) as usize;
            items.swap(i, j);
        }
    }

    /// `permutation(n)`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut items: Vec<usize> = (0..n).collect();
        self.shuffle(&mut items);
        items
    }

    /// `size` draws of `uniform(low, high)`, in numpy's C order.
    pub fn uniform_n(&mut self, low: f64, high: f64, size: usize) -> Vec<f64> {
        (0..size).map(|_| self.uniform(low, high)).collect()
    }
}
