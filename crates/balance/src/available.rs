//! The set of targets a picker may choose from right now.

/// Which targets of a pool are available (healthy, not ejected), as a bitset.
///
/// Indices at or beyond [`Available::len`] count as unavailable, so a set that
/// is shorter than the pool never makes a picker index out of bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    words: Vec<u64>,
    len: usize,
}

impl Available {
    /// All `len` targets available.
    pub fn all(len: usize) -> Self {
        let mut words = vec![u64::MAX; len.div_ceil(64)];
        if let Some(last) = words.last_mut() {
            let used = len % 64;
            if used != 0 {
                *last = (1u64 << used) - 1;
            }
        }
        Self { words, len }
    }

    /// None of the `len` targets available.
    pub fn none(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// Target `i` is available when `flags[i]` is true.
    pub fn from_bools(flags: &[bool]) -> Self {
        flags.iter().copied().collect()
    }

    /// How many targets the set describes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set describes no targets at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether target `i` is available (false beyond the set's length).
    pub fn contains(&self, i: usize) -> bool {
        match self.words.get(i / 64) {
            Some(w) if i < self.len => w & (1u64 << (i % 64)) != 0,
            _ => false,
        }
    }

    /// Marks target `i` available or not; ignored beyond the set's length.
    pub fn set(&mut self, i: usize, available: bool) {
        if i >= self.len {
            return;
        }
        if let Some(w) = self.words.get_mut(i / 64) {
            let bit = 1u64 << (i % 64);
            if available {
                *w |= bit;
            } else {
                *w &= !bit;
            }
        }
    }

    /// How many targets are available.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The indices of the available targets, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len).filter(|&i| self.contains(i))
    }

    /// How many targets below `limit` are available (a picker over `limit`
    /// targets ignores the rest of a longer set).
    pub(crate) fn count_below(&self, limit: usize) -> usize {
        let limit = limit.min(self.len);
        let full = limit / 64;
        let mut n: usize = self
            .words
            .iter()
            .take(full)
            .map(|w| w.count_ones() as usize)
            .sum();
        let rest = limit % 64;
        if rest != 0 {
            if let Some(w) = self.words.get(full) {
                n += (w & ((1u64 << rest) - 1)).count_ones() as usize;
            }
        }
        n
    }

    /// The index of the `k`-th available target (counting from 0), in
    /// O(len / 64) using word popcounts.
    pub(crate) fn nth(&self, mut k: usize) -> Option<usize> {
        for (wi, &w) in self.words.iter().enumerate() {
            let ones = w.count_ones() as usize;
            if k < ones {
                let mut w = w;
                for _ in 0..k {
                    w &= w - 1; // clear the lowest set bit
                }
                return Some(wi * 64 + w.trailing_zeros() as usize);
            }
            k -= ones;
        }
        None
    }
}

impl FromIterator<bool> for Available {
    fn from_iter<I: IntoIterator<Item = bool>>(iter: I) -> Self {
        let mut words = Vec::new();
        let mut len = 0;
        for flag in iter {
            if len % 64 == 0 {
                words.push(0);
            }
            if flag {
                if let Some(w) = words.last_mut() {
                    *w |= 1u64 << (len % 64);
                }
            }
            len += 1;
        }
        Self { words, len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_and_none() {
        for len in [0, 1, 63, 64, 65, 130] {
            let all = Available::all(len);
            assert_eq!(all.count(), len);
            assert_eq!(all.iter().count(), len);
            assert!(!all.contains(len));
            assert_eq!(Available::none(len).count(), 0);
        }
    }

    #[test]
    fn set_contains_and_out_of_range() {
        let mut a = Available::none(70);
        a.set(3, true);
        a.set(68, true);
        a.set(70, true); // beyond the length: ignored
        a.set(usize::MAX, true);
        assert!(a.contains(3) && a.contains(68));
        assert!(!a.contains(70) && !a.contains(usize::MAX));
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![3, 68]);
        a.set(3, false);
        assert_eq!(a.count(), 1);
    }

    #[test]
    fn from_bools_and_rank_queries() {
        let flags: Vec<bool> = (0..150).map(|i| i % 3 == 0).collect();
        let a = Available::from_bools(&flags);
        assert_eq!(a.len(), 150);
        assert_eq!(a.count(), 50);
        assert_eq!(a.count_below(64), 22);
        assert_eq!(a.count_below(1000), 50);
        assert_eq!(a.count_below(0), 0);
        for k in 0..50 {
            assert_eq!(a.nth(k), Some(3 * k));
        }
        assert_eq!(a.nth(50), None);
    }
}
