//! Counter-based random numbers (spec section 2).
//!
//! Every draw is a pure function of (seed, stream, a, b, index), so results do
//! not depend on thread count or call order, and the NumPy engine reproduces
//! them exactly. The mixing function is SplitMix64's finaliser.

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Stream of the initial weights (a = layer, b = 0 weights / 1 biases).
pub const INIT: u64 = 1;
/// Stream of the per-epoch visiting order (a = epoch).
pub const SHUFFLE: u64 = 2;
/// Stream of dropout masks (a = optimizer step, b = hidden layer).
pub const DROPOUT: u64 = 3;
/// Stream of the validation split (used by the estimators).
pub const SPLIT: u64 = 4;

/// SplitMix64's output function: a bijective avalanche of 64 bits.
#[inline(always)]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline(always)]
fn fold(k: u64, w: u64) -> u64 {
    mix(k.wrapping_add(GAMMA.wrapping_mul(w.wrapping_add(1))))
}

/// The key of one independent sequence.
#[inline]
pub fn key(seed: u64, stream: u64, a: u64, b: u64) -> u64 {
    fold(fold(fold(seed, stream), a), b)
}

/// The `i`-th 64 random bits of sequence `key`.
#[inline(always)]
pub fn bits(key: u64, i: u64) -> u64 {
    mix(key.wrapping_add(GAMMA.wrapping_mul(i.wrapping_add(1))))
}

/// The `i`-th uniform draw of sequence `key`, in [0, 1) with 53 random bits.
#[inline(always)]
pub fn uniform(key: u64, i: u64) -> f64 {
    (bits(key, i) >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// Fills `order` with the visiting order of `epoch`: the stable argsort of the
/// sequence's bits (ties keep index order).
pub fn shuffle_order(
    seed: u64,
    epoch: u64,
    order: &mut [usize],
    sort_keys: &mut Vec<(u64, usize)>,
) {
    let k = key(seed, SHUFFLE, epoch, 0);
    sort_keys.clear();
    sort_keys.extend((0..order.len()).map(|i| (bits(k, i as u64), i)));
    // (bits, index) pairs are distinct, so an unstable sort gives the stable order.
    sort_keys.sort_unstable();
    for (slot, &(_, i)) in order.iter_mut().zip(sort_keys.iter()) {
        *slot = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_matches_splitmix64_reference_output() {
        // SplitMix64 seeded with 0 yields mix(GAMMA) first: 0xE220A8397B1DCDAF.
        assert_eq!(mix(GAMMA), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn uniform_stays_in_unit_interval_and_varies() {
        let k = key(42, DROPOUT, 3, 1);
        let draws: Vec<f64> = (0..1000).map(|i| uniform(k, i)).collect();
        assert!(draws.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = draws.iter().sum::<f64>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05, "mean {mean}");
    }

    #[test]
    fn shuffle_order_is_a_permutation_that_changes_per_epoch() {
        let mut a = vec![0; 50];
        let mut b = vec![0; 50];
        let mut scratch = Vec::new();
        shuffle_order(7, 0, &mut a, &mut scratch);
        shuffle_order(7, 1, &mut b, &mut scratch);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(a, b);
    }
}
