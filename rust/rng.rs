//! Counter-based random numbers (spec section 2).
//!
//! Every draw is a pure function of (seed, stream, a, b, index), so results do
//! not depend on thread count or call order, and the NumPy engine reproduces
//! them exactly. The mixing function is SplitMix64's finaliser.

use rayon::slice::ParallelSliceMut;

use crate::bucket_sort;
use crate::parallel::Par;

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
///
/// Sorted as single `u64`s, each draw's low bits replaced by its index: one
/// comparison per step instead of a pair's, which made the sort a tenth of a
/// 150-row fit. That order is the argsort's unless two draws share their
/// high bits, which is checked for (at 150 rows, odds of 1 in 10^13 per
/// epoch); then the pairs are sorted instead.
///
/// Orders of up to [`bucket_sort::MAX_KEYS`] rows are sorted by buckets on
/// the draws' top bits ([`bucket_sort`]), larger ones on `par`'s threads:
/// the keys are distinct, so any correct sort gives the same order.
pub fn shuffle_order(
    seed: u64,
    epoch: u64,
    order: &mut [usize],
    sort_keys: &mut Vec<u64>,
    par: Par,
) {
    let k = key(seed, SHUFFLE, epoch, 0);
    stable_argsort(|i| bits(k, i as u64), order, sort_keys, par);
}

/// Orders from which the shuffle's sort runs on all threads: sorting a
/// hundred thousand keys takes milliseconds, a serial stretch in each epoch.
const PARALLEL_SORT_MIN: usize = 1 << 14;

/// Fills `order` with the stable argsort of `draw(0..order.len())`.
fn stable_argsort(
    draw: impl Fn(usize) -> u64,
    order: &mut [usize],
    sort_keys: &mut Vec<u64>,
    par: Par,
) {
    let n = order.len();
    let index_bits = usize::BITS - n.saturating_sub(1).leading_zeros();
    let low = if index_bits >= 64 {
        u64::MAX
    } else {
        (1u64 << index_bits) - 1
    };
    sort_keys.clear();
    sort_keys.extend((0..n).map(|i| (draw(i) & !low) | i as u64));
    if par.threads > 1 && n >= PARALLEL_SORT_MIN && rayon::current_thread_index().is_some() {
        sort_keys.par_sort_unstable();
    } else if n <= bucket_sort::MAX_KEYS {
        bucket_sort::sort_spread(sort_keys, n);
    } else {
        sort_keys.sort_unstable();
    }
    let high_bits_tie = sort_keys.windows(2).any(|w| (w[0] & !low) == (w[1] & !low));
    if high_bits_tie || low == u64::MAX {
        let mut pairs: Vec<(u64, usize)> = (0..n).map(|i| (draw(i), i)).collect();
        // (draw, index) pairs are distinct, so an unstable sort gives the stable order.
        pairs.sort_unstable();
        for (slot, &(_, i)) in order.iter_mut().zip(&pairs) {
            *slot = i;
        }
        return;
    }
    for (slot, &packed) in order.iter_mut().zip(sort_keys.iter()) {
        *slot = (packed & low) as usize;
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

    /// The specification's order: the stable argsort of the draws.
    fn argsort_of_draws(seed: u64, epoch: u64, n: usize) -> Vec<usize> {
        let k = key(seed, SHUFFLE, epoch, 0);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by_key(|&i| bits(k, i as u64));
        idx
    }

    #[test]
    fn shuffle_order_is_the_stable_argsort_of_the_draws() {
        let mut scratch = Vec::new();
        for n in [0, 1, 2, 3, 150, 1000, 1025] {
            for epoch in 0..5 {
                let mut order = vec![0; n];
                shuffle_order(11, epoch, &mut order, &mut scratch, Par::SERIAL);
                assert_eq!(order, argsort_of_draws(11, epoch, n), "n = {n}");
            }
        }
    }

    #[test]
    fn a_large_order_sorted_on_several_threads_is_the_same() {
        let n = 3 * PARALLEL_SORT_MIN + 5;
        let mut serial = vec![0; n];
        shuffle_order(3, 2, &mut serial, &mut Vec::new(), Par::SERIAL);
        for threads in [2, 4] {
            let mut order = vec![0; n];
            crate::parallel::run_with_threads(threads, || {
                shuffle_order(3, 2, &mut order, &mut Vec::new(), Par { threads })
            })
            .unwrap();
            assert!(order == serial, "{threads} threads");
        }
        assert_eq!(serial, argsort_of_draws(3, 2, n));
    }

    #[test]
    fn draws_tied_in_their_high_bits_or_whole_keep_index_order() {
        // Five rows use the low 3 bits for the index: rows 0, 1 and 3 tie
        // above them, rows 1 and 3 tie entirely.
        let draws = [5 << 60 | 6, 5 << 60 | 1, 1 << 60, 5 << 60 | 1, 7 << 60];
        let mut order = vec![0; draws.len()];
        stable_argsort(|i| draws[i], &mut order, &mut Vec::new(), Par::SERIAL);
        assert_eq!(order, vec![2, 1, 3, 0, 4]);
    }

    #[test]
    fn shuffle_order_is_a_permutation_that_changes_per_epoch() {
        let mut a = vec![0; 50];
        let mut b = vec![0; 50];
        let mut scratch = Vec::new();
        shuffle_order(7, 0, &mut a, &mut scratch, Par::SERIAL);
        shuffle_order(7, 1, &mut b, &mut scratch, Par::SERIAL);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(a, b);
    }
}
