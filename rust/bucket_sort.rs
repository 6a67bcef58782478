//! Sorting `u64` keys whose top bits are spread evenly, in about linear time.
//!
//! The shuffle sorts one random draw per row every epoch. A comparison sort
//! takes `n log n` steps; here one pass counts the keys by their top bits,
//! one places them in those buckets (about one key each), and an insertion
//! sort puts the few keys that share a bucket in order. Any keys come out
//! sorted: keys that are not spread (all in a few buckets) end in a
//! comparison sort once the insertion sort has moved too many.

/// The most keys sorted by buckets: beyond it the placing pass writes all
/// over more memory than a core's caches hold (measured up to 50,000 keys;
/// see BENCHMARKS.md, "Measurements behind the code's constants").
pub const MAX_KEYS: usize = 1 << 16;

/// Sorts the first `n` values of `buf` (at most [`MAX_KEYS`] for speed; any
/// `n` is correct) ascending, with the rest of `buf`, grown as needed, as
/// scratch; `buf` is left holding the `n` sorted keys.
pub fn sort_spread(buf: &mut Vec<u64>, n: usize) {
    if n < 2 {
        buf.truncate(n);
        return;
    }
    // About one bucket per key, so that most buckets hold zero to two.
    let bits = (usize::BITS - (n - 1).leading_zeros()).min(MAX_KEYS.ilog2());
    let shift = u64::BITS - bits;
    let buckets = 1usize << bits;
    buf.resize(2 * n + buckets + 1, 0);
    let (keys, rest) = buf.split_at_mut(n);
    let (placed, starts) = rest.split_at_mut(n);
    starts.fill(0);
    let bucket = |k: u64| (k >> shift) as usize;
    for &k in keys.iter() {
        starts[bucket(k) + 1] += 1;
    }
    for b in 0..buckets {
        starts[b + 1] += starts[b];
    }
    for &k in keys.iter() {
        let slot = &mut starts[bucket(k)];
        placed[*slot as usize] = k;
        *slot += 1;
    }
    insertion_sort_or_give_up(placed);
    keys.copy_from_slice(placed);
    buf.truncate(n);
}

/// Sorts nearly sorted `keys` by insertion; once that has moved more than a
/// few keys per key, finishes with a comparison sort instead.
fn insertion_sort_or_give_up(keys: &mut [u64]) {
    let budget = 8 * keys.len();
    let mut moved = 0;
    for i in 1..keys.len() {
        let k = keys[i];
        let mut j = i;
        while j > 0 && keys[j - 1] > k {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = k;
        moved += i - j;
        if moved > budget {
            keys.sort_unstable();
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::bits;

    fn check(keys: Vec<u64>) {
        let mut expected = keys.clone();
        expected.sort_unstable();
        let n = keys.len();
        let mut buf = keys;
        sort_spread(&mut buf, n);
        assert!(buf == expected, "{n} keys");
    }

    #[test]
    fn random_keys_of_any_count_come_out_sorted() {
        for n in (0..300).chain([1000, 4097, MAX_KEYS, MAX_KEYS + 5]) {
            check((0..n as u64).map(|i| bits(17, i)).collect());
        }
    }

    #[test]
    fn keys_in_few_buckets_or_reversed_come_out_sorted() {
        // All in bucket 0 (the insertion sort gives up), repeated values,
        // descending, and all in the top bucket.
        check((0..5000).collect());
        check((0..3000).map(|i| i % 7).collect());
        check((0..3000).rev().map(|i| i << 40).collect());
        check((0..3000).map(|i| u64::MAX - i).collect());
    }
}
