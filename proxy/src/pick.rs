//! The weighted pick: per request, random by u32 weight. Weight 0 means never.

/// Cumulative weights of a route's backends, in route order.
#[derive(Clone, Debug, Default)]
pub struct WeightedPick {
    cumulative: Vec<u64>,
}

impl WeightedPick {
    pub fn new(weights: impl IntoIterator<Item = u32>) -> Self {
        let mut total = 0u64;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += u64::from(w);
                total
            })
            .collect();
        WeightedPick { cumulative }
    }

    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The backend whose range holds `r`, for `r` in `0..total()`. A zero-weight backend
    /// has an empty range, so it is never returned.
    pub fn at(&self, r: u64) -> Option<usize> {
        if r >= self.total() {
            return None;
        }
        Some(self.cumulative.partition_point(|&c| c <= r))
    }

    /// A random pick, or `None` when every weight is 0.
    pub fn pick(&self) -> Option<usize> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        self.at(fastrand::u64(..total))
    }

    /// A random pick among the backends `usable` accepts, by their weights; used to
    /// spill away from a backend with no live endpoint.
    pub fn pick_among(&self, weights: &[u32], usable: impl Fn(usize) -> bool) -> Option<usize> {
        let total: u64 = weights
            .iter()
            .enumerate()
            .filter(|(i, _)| usable(*i))
            .map(|(_, w)| u64::from(*w))
            .sum();
        if total == 0 {
            return None;
        }
        let mut r = fastrand::u64(..total);
        for (i, w) in weights.iter().enumerate() {
            if !usable(i) {
                continue;
            }
            let w = u64::from(*w);
            if r < w {
                return Some(i);
            }
            r -= w;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_weights_and_zero_is_never_picked() {
        let p = WeightedPick::new([70, 30, 0]);
        assert_eq!(p.total(), 100);
        assert_eq!(p.at(0), Some(0));
        assert_eq!(p.at(69), Some(0));
        assert_eq!(p.at(70), Some(1));
        assert_eq!(p.at(99), Some(1));
        assert_eq!(p.at(100), None);
        let p = WeightedPick::new([0, 5, 0, 5]);
        let picked: Vec<_> = (0..10).map(|r| p.at(r).unwrap()).collect();
        assert_eq!(picked, [1, 1, 1, 1, 1, 3, 3, 3, 3, 3]);
    }

    #[test]
    fn all_zero_picks_nothing() {
        assert_eq!(WeightedPick::new([0, 0]).pick(), None);
        assert_eq!(WeightedPick::new([]).pick(), None);
    }

    #[test]
    fn pick_among_skips_unusable_and_zero_weight() {
        let weights = [90, 10, 0];
        let p = WeightedPick::new(weights);
        for _ in 0..1000 {
            assert_eq!(p.pick_among(&weights, |i| i != 1), Some(0));
        }
        assert_eq!(p.pick_among(&weights, |i| i == 2), None);
    }
}
